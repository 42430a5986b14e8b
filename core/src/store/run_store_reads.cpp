// RunStore's reads. All go through the read connection under m_readMutex, so they never
// wait for the writer thread; WAL lets them run while it commits.
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>

#include "losslab/error.h"
#include "run_store_impl.h"
#include "store_schema.h"

namespace losslab {
namespace {

using sqlite::Statement;

// Placeholders "?, ?, ?" for an IN list.
std::string placeholders(std::size_t count) {
    std::string text;
    for (std::size_t i = 0; i < count; ++i) text += i == 0 ? "?" : ", ?";
    return text;
}

void bindValue(Statement& statement, int index, std::int64_t value) { statement.bindInt64(index, value); }
void bindValue(Statement& statement, int index, const std::string& value) { statement.bindText(index, value); }

// "column IN (list)" for a read: bound in the SQL while the list fits in the statement's
// bound variables still free (`budget`, reduced by what it takes), else tested on each row
// in C++. An empty list selects everything.
template <typename T>
class InListFilter {
public:
    InListFilter(const std::vector<T>& values, std::string column, std::size_t& budget)
        : m_values(values), m_column(std::move(column)), m_bound(!values.empty() && values.size() <= budget) {
        if (m_bound) {
            budget -= values.size();
        } else {
            m_wanted.insert(values.begin(), values.end());
        }
    }
    void appendSql(std::string& sql) const {
        if (m_bound) sql += " AND " + m_column + " IN (" + placeholders(m_values.size()) + ")";
    }
    void bind(Statement& statement, int& index) const {
        if (!m_bound) return;
        for (const T& value : m_values) bindValue(statement, index++, value);
    }
    bool accepts(const T& value) const { return m_wanted.empty() || m_wanted.count(value) > 0; }

private:
    const std::vector<T>& m_values;
    std::string m_column;
    bool m_bound;
    std::unordered_set<T> m_wanted; // the list, when it is not bound
};

constexpr const char* kExperimentColumns =
    "SELECT id, name, description, task, spec_yaml, source_path, created_at, uid FROM experiments";

ExperimentRecord readExperiment(const Statement& row) {
    ExperimentRecord experiment;
    experiment.id = row.int64(0);
    experiment.name = row.text(1);
    experiment.description = row.text(2);
    experiment.taskId = row.text(3);
    experiment.specYaml = row.text(4);
    experiment.sourcePath = row.text(5);
    experiment.createdAt = row.text(6);
    experiment.uid = row.text(7);
    return experiment;
}

// Columns run_id, epoch, split, metric, value, in that order.
void readEpochMetric(const Statement& row, EpochMetricRow& out) {
    out.runId = row.int64(0);
    out.epoch = row.int32(1);
    out.value.split = row.text(2);
    out.value.metric = row.text(3);
    out.value.value = row.real(4);
}

} // namespace

RunRecord RunStore::Impl::readRun(const Statement& row) const {
    RunRecord run;
    run.id = row.int64(0);
    run.experimentId = row.int64(1);
    run.experiment = row.text(2);
    run.taskId = row.text(3);
    run.lossName = row.text(4);
    run.loss = row.text(5);
    run.k = row.real(6, 1.0);
    run.M = row.real(7, 1.0);
    run.lr = row.real(8, 0.0);
    run.protocol = row.text(9);
    run.seed = row.int64(10);
    run.device = row.text(11);
    try {
        run.status = parseRunStatus(row.text(12));
    } catch (const Error& e) {
        throw Error(m_path + ": run " + std::to_string(run.id) + ": " + e.what());
    }
    run.epochs = row.int32(13);
    run.bestEpoch = row.int32(14);
    run.targetEpochs = row.int32(15);
    if (!row.isNull(16)) run.dependsOn = row.int64(16);
    run.specYaml = row.text(17);
    run.error = row.text(18);
    run.createdAt = row.text(19);
    run.startedAt = row.text(20);
    run.finishedAt = row.text(21);
    run.wallSeconds = row.real(22, 0.0);
    run.checkpointPath = row.text(23);
    run.tags = row.text(24);
    run.notes = row.text(25);
    run.valAcc = row.real(26);
    run.testAcc = row.real(27);
    run.status = Internal::effectiveStatus(run.status, Internal::readRecorder(row, 28), m_self);
    run.library = row.text(32);
    run.uid = row.text(33);
    run.reusedFrom = row.text(34);
    run.threads = row.isNull(35) ? 0 : row.int32(35);
    return run;
}

std::size_t RunStore::Impl::variableLimit() const {
    return static_cast<std::size_t>(
        sqlite3_limit(m_readDb.handle(), SQLITE_LIMIT_VARIABLE_NUMBER, -1));
}

std::vector<ExperimentRecord> RunStore::experiments() const {
    std::lock_guard<std::mutex> lock(m_impl->m_readMutex);
    Statement select(m_impl->m_readDb, std::string(kExperimentColumns) + " ORDER BY id");
    std::vector<ExperimentRecord> result;
    while (select.step()) result.push_back(readExperiment(select));
    return result;
}

std::vector<ExperimentRecord> RunStore::experimentsNamed(const std::string& name) const {
    std::lock_guard<std::mutex> lock(m_impl->m_readMutex);
    Statement select(m_impl->m_readDb,
                     std::string(kExperimentColumns) + " WHERE name = ? ORDER BY id");
    select.bindText(1, name);
    std::vector<ExperimentRecord> result;
    while (select.step()) result.push_back(readExperiment(select));
    return result;
}

std::vector<RunRecord> RunStore::runs(const RunFilter& filter) const {
    // Validates the name before any query, so a typo reports the valid names.
    std::optional<RunStatus> wantedStatus;
    if (!filter.status.empty()) wantedStatus = parseRunStatus(filter.status);
    // The stored statuses that may read as the wanted one: an interrupted run may still be
    // stored as queued or running. The rest of the filter is applied to the status as read.
    std::vector<std::string> stored;
    if (wantedStatus) {
        stored.push_back(runStatusName(*wantedStatus));
        if (*wantedStatus == RunStatus::Interrupted) {
            stored.push_back(runStatusName(RunStatus::Queued));
            stored.push_back(runStatusName(RunStatus::Running));
        }
    }

    std::lock_guard<std::mutex> lock(m_impl->m_readMutex);
    std::size_t budget = m_impl->variableLimit() - stored.size();
    const InListFilter<std::string> names(filter.experiments, "e.name", budget);
    const InListFilter<std::int64_t> ids(filter.runIds, "r.id", budget);
    const InListFilter<std::int64_t> experimentIds(filter.experimentIds, "r.experiment_id", budget);
    // The reported accuracies come from the same query: one pass instead of one per run.
    std::string sql =
        "SELECT r.id, r.experiment_id, e.name, r.task, r.loss_name, r.loss, r.k, r.M, r.lr, "
        "r.protocol, r.seed, r.device, r.status, r.epochs, r.best_epoch, r.target_epochs, "
        "r.depends_on, r.spec_yaml, r.error, r.created_at, r.started_at, r.finished_at, "
        "r.wall_seconds, r.checkpoint_path, r.tags, r.notes, va.value, ta.value, "
        "r.pid, r.host, r.pid_start, r.boot_id, r.library, r.uid, r.reused_from, r.threads "
        "FROM runs r JOIN experiments e ON e.id = r.experiment_id "
        "LEFT JOIN epoch_metrics va ON va.run_id = r.id AND va.epoch = r.best_epoch "
        "AND va.split = 'val' AND va.metric = 'acc' "
        "LEFT JOIN epoch_metrics ta ON ta.run_id = r.id AND ta.epoch = r.best_epoch "
        "AND ta.split = 'test' AND ta.metric = 'acc' "
        "WHERE 1";
    names.appendSql(sql);
    ids.appendSql(sql);
    experimentIds.appendSql(sql);
    if (!stored.empty()) sql += " AND r.status IN (" + placeholders(stored.size()) + ")";
    sql += " ORDER BY r.id";

    Statement select(m_impl->m_readDb, sql);
    int index = 1;
    names.bind(select, index);
    ids.bind(select, index);
    experimentIds.bind(select, index);
    for (const std::string& name : stored) select.bindText(index++, name);

    std::vector<RunRecord> result;
    while (select.step()) {
        RunRecord run = m_impl->readRun(select);
        if (wantedStatus && run.status != *wantedStatus) continue;
        if (names.accepts(run.experiment) && ids.accepts(run.id) && experimentIds.accepts(run.experimentId)) {
            result.push_back(std::move(run));
        }
    }
    return result;
}

std::vector<EpochMetricRow> RunStore::epochMetrics(const std::vector<std::int64_t>& runIds) const {
    std::vector<EpochMetricRow> result;
    forEachEpochMetric(runIds, [&result](const EpochMetricRow& row) { result.push_back(row); });
    return result;
}

void RunStore::forEachEpochMetric(const std::vector<std::int64_t>& runIds,
                                  const std::function<void(const EpochMetricRow&)>& visit,
                                  const std::vector<std::string>& metrics) const {
    std::lock_guard<std::mutex> lock(m_impl->m_readMutex);
    std::size_t budget = m_impl->variableLimit();
    // Metrics first: a short list that narrows every run's rows.
    const InListFilter<std::string> wantedMetrics(metrics, "metric", budget);
    const InListFilter<std::int64_t> wantedRuns(runIds, "run_id", budget);
    // The ORDER BY is the primary key's order, so SQLite walks the key (seeking to each
    // listed run) and neither sorts nor buffers: rows reach `visit` as they are read.
    std::string sql = "SELECT run_id, epoch, split, metric, value FROM epoch_metrics WHERE 1";
    wantedRuns.appendSql(sql);
    wantedMetrics.appendSql(sql);
    sql += " ORDER BY run_id, epoch, split, metric";

    Statement select(m_impl->m_readDb, sql);
    int index = 1;
    wantedRuns.bind(select, index);
    wantedMetrics.bind(select, index);

    EpochMetricRow row; // one object for the whole scan: `visit` copies what it keeps
    while (select.step()) {
        if (!wantedRuns.accepts(select.int64(0))) continue;
        readEpochMetric(select, row);
        if (!wantedMetrics.accepts(row.value.metric)) continue;
        visit(row);
    }
}

std::vector<EpochMetricRow> RunStore::reportedMetrics(const std::vector<std::int64_t>& runIds) const {
    std::lock_guard<std::mutex> lock(m_impl->m_readMutex);
    std::size_t budget = m_impl->variableLimit();
    const InListFilter<std::int64_t> wanted(runIds, "r.id", budget);
    // One pass, runs outside, each run's best epoch sought through the primary key
    // (run_id, epoch), so rows come out already in order. CROSS JOIN fixes that loop order:
    // without statistics SQLite would rather scan all of epoch_metrics. The unary + keeps
    // "best_epoch > 0" from being copied onto m.epoch as a range that displaces the equality.
    std::string sql =
        "SELECT m.run_id, m.epoch, m.split, m.metric, m.value "
        "FROM runs r CROSS JOIN epoch_metrics m ON m.run_id = r.id AND m.epoch = r.best_epoch "
        "WHERE +r.best_epoch > 0";
    wanted.appendSql(sql);
    sql += " ORDER BY r.id, m.split, m.metric";

    Statement select(m_impl->m_readDb, sql);
    int index = 1;
    wanted.bind(select, index);
    std::vector<EpochMetricRow> result;
    while (select.step()) {
        if (!wanted.accepts(select.int64(0))) continue;
        EpochMetricRow row;
        readEpochMetric(select, row);
        result.push_back(std::move(row));
    }
    return result;
}

std::vector<CalibrationRow> RunStore::reportedCalibration(const std::vector<std::int64_t>& runIds,
                                                          const std::string& split) const {
    std::lock_guard<std::mutex> lock(m_impl->m_readMutex);
    std::size_t budget = m_impl->variableLimit() - 1;
    const InListFilter<std::int64_t> wanted(runIds, "r.id", budget);
    // As reportedMetrics: runs outside, each run's rows sought through the primary key.
    std::string sql =
        "SELECT c.run_id, c.epoch, c.bins, c.bin, c.count, c.confidence_sum, c.correct "
        "FROM runs r CROSS JOIN calibration_bins c ON c.run_id = r.id AND c.epoch = r.best_epoch AND c.split = ? "
        "WHERE +r.best_epoch > 0";
    wanted.appendSql(sql);
    sql += " ORDER BY r.id, c.bin";

    Statement select(m_impl->m_readDb, sql);
    select.bindText(1, split);
    int index = 2;
    wanted.bind(select, index);
    std::vector<CalibrationRow> result;
    while (select.step()) {
        const std::int64_t runId = select.int64(0);
        if (!wanted.accepts(runId)) continue;
        // Rows of another bin count (a file edited by hand) cannot be pooled with these.
        const std::int64_t bins = select.int64(2), bin = select.int64(3);
        if (bins != kCalibrationBins || bin < 0 || bin >= kCalibrationBins) continue;
        if (result.empty() || result.back().runId != runId) {
            CalibrationRow row;
            row.runId = runId;
            row.epoch = select.int32(1);
            row.bins.split = split;
            result.push_back(std::move(row));
        }
        CalibrationBins& out = result.back().bins;
        const auto i = static_cast<std::size_t>(bin);
        out.count[i] = select.real(4);
        out.confidence[i] = select.real(5);
        out.correct[i] = select.real(6);
    }
    return result;
}

std::vector<StepMetricRow> RunStore::stepMetrics(std::int64_t runId) const {
    std::lock_guard<std::mutex> lock(m_impl->m_readMutex);
    Statement select(m_impl->m_readDb,
                     "SELECT run_id, step, epoch, metric, value FROM step_metrics "
                     "WHERE run_id = ? ORDER BY step, metric");
    select.bindInt64(1, runId);
    std::vector<StepMetricRow> result;
    while (select.step()) {
        StepMetricRow row;
        row.runId = select.int64(0);
        row.step = select.int64(1);
        row.epoch = select.int32(2);
        row.metric = select.text(3);
        row.value = select.real(4);
        result.push_back(std::move(row));
    }
    return result;
}

int RunStore::schemaVersion() const {
    std::lock_guard<std::mutex> lock(m_impl->m_readMutex);
    const std::string text =
        m_impl->m_readDb.queryText("SELECT value FROM meta WHERE key = 'schema_version'");
    int version = 0;
    if (!Internal::parseVersion(text, version)) {
        throw Error(m_impl->m_path + " has no valid schema_version in its meta table (found '" +
                    text + "')");
    }
    return version;
}

} // namespace losslab
