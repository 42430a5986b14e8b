#include "run_queue_model.h"

#include <QBrush>
#include <QColor>

#include <algorithm>
#include <cmath>
#include <functional>

namespace losslab {

namespace {

QString formatDuration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return QStringLiteral("–");
    const auto total = static_cast<qint64>(std::llround(seconds));
    const qint64 h = total / 3600, m = (total / 60) % 60, s = total % 60;
    if (h > 0) return QStringLiteral("%1:%2:%3").arg(h).arg(m, 2, 10, QChar('0')).arg(s, 2, 10, QChar('0'));
    return QStringLiteral("%1:%2").arg(m).arg(s, 2, 10, QChar('0'));
}

QString protocolText(const std::string& protocol) {
    if (protocol == "early_stopping") return QObject::tr("early stopping");
    if (protocol == "same_epochs_as_ce") return QObject::tr("same epochs as CE");
    if (protocol == "fixed_epochs") return QObject::tr("fixed epochs");
    return QString::fromStdString(protocol);
}

} // namespace

RunQueueModel::RunQueueModel(QObject* parent) : QAbstractTableModel(parent) {}

QString RunQueueModel::durationText(double seconds) { return formatDuration(seconds); }

void RunQueueModel::addRuns(const std::vector<RunRecord>& runs) {
    std::vector<RunRecord> fresh;
    for (const RunRecord& run : runs) {
        auto it = m_index.find(run.id);
        if (it == m_index.end()) {
            fresh.push_back(run);
        } else {
            // A resumed run comes back: same row, new attempt.
            Row& row = m_rows[static_cast<std::size_t>(it->second)];
            row.run = run;
            row.waiting = false;
            row.message.clear();
            emit dataChanged(index(it->second, 0), index(it->second, ColumnCount - 1));
        }
    }
    if (fresh.empty()) return;
    const int first = static_cast<int>(m_rows.size());
    beginInsertRows({}, first, first + static_cast<int>(fresh.size()) - 1);
    for (RunRecord& run : fresh) {
        Row row;
        row.run = std::move(run);
        row.epoch = row.run.epochs;
        row.maxEpochs = row.run.targetEpochs;
        m_index[row.run.id] = static_cast<int>(m_rows.size());
        m_rows.push_back(std::move(row));
    }
    endInsertRows();
}

void RunQueueModel::apply(Row& row, const RunEvent& event) {
    switch (event.kind) {
    case RunEvent::Kind::Waiting:
        row.waiting = true;
        break;
    case RunEvent::Kind::Started:
        row.waiting = false;
        row.run.status = RunStatus::Running;
        row.run.device = event.message;
        row.maxEpochs = event.maxEpochs;
        // A resumed run goes on from the epochs it stored (its record's count).
        if (event.epoch > 0) row.epoch = event.epoch - 1;
        row.clock.start();
        break;
    case RunEvent::Kind::Step:
        row.step = event.step;
        row.stepsPerEpoch = event.stepsPerEpoch;
        row.maxEpochs = event.maxEpochs > 0 ? event.maxEpochs : row.maxEpochs;
        break;
    case RunEvent::Kind::Epoch:
        row.epoch = event.epoch;
        row.step = event.step;
        row.stepsPerEpoch = event.stepsPerEpoch;
        row.maxEpochs = event.maxEpochs > 0 ? event.maxEpochs : row.maxEpochs;
        row.run.bestEpoch = event.bestEpoch;
        break;
    case RunEvent::Kind::Note: // shown until the run ends (then its outcome is)
        row.message = QString::fromStdString(event.message);
        break;
    case RunEvent::Kind::Finished:
        if (row.clock.isValid() && event.status == RunStatus::Completed) row.seconds = row.clock.elapsed() / 1000.0;
        row.run.status = event.status;
        row.run.bestEpoch = event.bestEpoch;
        row.message = QString::fromStdString(event.message);
        if (event.epoch > 0) row.epoch = event.epoch;
        break;
    }
    if (row.run.status == RunStatus::Completed) {
        row.progress = 1.0;
    } else if (row.maxEpochs > 0) {
        double done = row.epoch;
        if (row.stepsPerEpoch > 0 && event.kind == RunEvent::Kind::Step) {
            const double inEpoch = static_cast<double>(row.step % row.stepsPerEpoch) / row.stepsPerEpoch;
            done = row.epoch + inEpoch;
        }
        row.progress = std::clamp(done / row.maxEpochs, 0.0, 1.0);
    }
}

void RunQueueModel::applyEvents(const std::vector<RunEvent>& events) {
    int low = -1, high = -1;
    for (const RunEvent& event : events) {
        auto it = m_index.find(event.runId);
        if (it == m_index.end()) continue; // a run of another session's batch
        apply(m_rows[static_cast<std::size_t>(it->second)], event);
        low = low < 0 ? it->second : std::min(low, it->second);
        high = std::max(high, it->second);
    }
    if (low >= 0) emit dataChanged(index(low, 0), index(high, ColumnCount - 1));
}

void RunQueueModel::clearFinished() {
    beginResetModel();
    std::vector<Row> kept;
    for (Row& row : m_rows)
        if (!isFinal(row.run.status)) kept.push_back(std::move(row));
    m_rows = std::move(kept);
    m_index.clear();
    for (std::size_t i = 0; i < m_rows.size(); ++i) m_index[m_rows[i].run.id] = static_cast<int>(i);
    endResetModel();
}

void RunQueueModel::removeRuns(const std::vector<std::int64_t>& runIds) {
    std::vector<int> rows;
    for (std::int64_t id : runIds)
        if (auto it = m_index.find(id); it != m_index.end()) rows.push_back(it->second);
    if (rows.empty()) return;
    std::sort(rows.begin(), rows.end(), std::greater<int>());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    for (int row : rows) { // from the last: the rows before keep their numbers
        beginRemoveRows({}, row, row);
        m_rows.erase(m_rows.begin() + row);
        endRemoveRows();
    }
    m_index.clear();
    for (std::size_t i = 0; i < m_rows.size(); ++i) m_index[m_rows[i].run.id] = static_cast<int>(i);
}

std::int64_t RunQueueModel::runIdAt(int row) const {
    return row >= 0 && row < static_cast<int>(m_rows.size()) ? m_rows[static_cast<std::size_t>(row)].run.id : 0;
}

int RunQueueModel::rowOf(std::int64_t runId) const {
    auto it = m_index.find(runId);
    return it == m_index.end() ? -1 : it->second;
}

RunStatus RunQueueModel::statusOf(std::int64_t runId) const {
    const int row = rowOf(runId);
    return row < 0 ? RunStatus::Queued : m_rows[static_cast<std::size_t>(row)].run.status;
}

double RunQueueModel::progressOf(std::int64_t runId) const {
    const int row = rowOf(runId);
    return row < 0 ? 0.0 : m_rows[static_cast<std::size_t>(row)].progress;
}

int RunQueueModel::countWithStatus(RunStatus status) const {
    return static_cast<int>(std::count_if(m_rows.begin(), m_rows.end(),
                                          [status](const Row& row) { return row.run.status == status; }));
}

bool RunQueueModel::hasActiveRuns() const {
    return std::any_of(m_rows.begin(), m_rows.end(), [](const Row& row) { return !isFinal(row.run.status); });
}

double RunQueueModel::estimateQueueSeconds(const std::vector<double>& runningLeft, const std::vector<double>& runningTotal,
                                           const std::vector<double>& finishedLengths, int queued) {
    const auto mean = [](const std::vector<double>& v) {
        double sum = 0;
        for (double x : v) sum += x;
        return v.empty() ? -1.0 : sum / static_cast<double>(v.size());
    };
    if (runningLeft.empty() && (queued == 0 || finishedLengths.empty())) return queued == 0 && runningLeft.empty() ? 0.0 : -1.0;
    const double length = !finishedLengths.empty() ? mean(finishedLengths) : mean(runningTotal);
    if (queued > 0 && length < 0) return -1.0;
    const double parallel = std::max<double>(1.0, static_cast<double>(runningLeft.size()));
    double left = 0;
    for (double s : runningLeft) left += s;
    return (left + queued * std::max(0.0, length)) / parallel;
}

double RunQueueModel::queueEtaSeconds() const {
    std::vector<double> runningLeft, runningTotal, finished;
    int queued = 0;
    for (const Row& row : m_rows) {
        if (row.run.status == RunStatus::Running) {
            const double left = etaSeconds(row);
            if (left < 0) return -1.0; // a run without progress yet: no estimate
            runningLeft.push_back(left);
            runningTotal.push_back(row.clock.elapsed() / 1000.0 + left);
        } else if (row.run.status == RunStatus::Queued) {
            ++queued;
        } else if (row.seconds >= 0) {
            finished.push_back(row.seconds);
        }
    }
    return estimateQueueSeconds(runningLeft, runningTotal, finished, queued);
}

double RunQueueModel::etaSeconds(const Row& row) const {
    if (row.run.status != RunStatus::Running || !row.clock.isValid() || row.progress <= 0.0) return -1.0;
    const double elapsed = row.clock.elapsed() / 1000.0;
    return elapsed / row.progress * (1.0 - row.progress);
}

int RunQueueModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int RunQueueModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant RunQueueModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= static_cast<int>(m_rows.size())) return {};
    const Row& row = m_rows[static_cast<std::size_t>(index.row())];
    const RunRecord& run = row.run;
    if (role == RunIdRole) return QVariant::fromValue<qint64>(run.id);
    if (role == ProgressRole) return row.progress;
    if (role == Qt::ToolTipRole) {
        if (!row.message.isEmpty()) return row.message;
        return QString::fromStdString(run.experiment.empty() ? run.taskId : run.experiment + ": " + run.taskId);
    }
    if (role == Qt::ForegroundRole && index.column() == Status) {
        switch (run.status) {
        case RunStatus::Failed:
        case RunStatus::Diverged: return QBrush(QColor(190, 30, 30));
        case RunStatus::Interrupted:
        case RunStatus::Cancelled: return QBrush(QColor(170, 110, 0));
        case RunStatus::Running: return QBrush(QColor(20, 90, 190));
        default: return {};
        }
    }
    if (role == Qt::TextAlignmentRole) {
        switch (index.column()) {
        case Id:
        case Seed:
        case Epoch:
        case Eta: return int(Qt::AlignRight | Qt::AlignVCenter);
        default: return {};
        }
    }
    if (role != Qt::DisplayRole) return {};
    switch (index.column()) {
    case Id: return QVariant::fromValue<qint64>(run.id);
    case Task: return QString::fromStdString(run.taskId);
    case Loss: return QString::fromStdString(run.lossName);
    case Protocol: return protocolText(run.protocol);
    case Seed: return QVariant::fromValue<qint64>(run.seed);
    case Device: return QString::fromStdString(run.device);
    case Status:
        if (row.waiting && run.status == RunStatus::Queued) {
            return run.dependsOn ? tr("waiting for CE run %1").arg(*run.dependsOn) : tr("waiting for CE run");
        }
        return QString::fromLatin1(runStatusName(run.status));
    case Epoch:
        if (row.maxEpochs > 0) return QStringLiteral("%1 / %2").arg(row.epoch).arg(row.maxEpochs);
        return row.epoch > 0 ? QString::number(row.epoch) : QString();
    case Progress: return QStringLiteral("%1 %").arg(qRound(row.progress * 100));
    case Eta: return run.status == RunStatus::Running ? formatDuration(etaSeconds(row)) : QString();
    default: return {};
    }
}

QVariant RunQueueModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    switch (section) {
    case Id: return tr("Run");
    case Task: return tr("Task");
    case Loss: return tr("Loss");
    case Protocol: return tr("Protocol");
    case Seed: return tr("Seed");
    case Device: return tr("Device");
    case Status: return tr("Status");
    case Epoch: return tr("Epoch");
    case Progress: return tr("Progress");
    case Eta: return tr("ETA");
    default: return {};
    }
}

} // namespace losslab
