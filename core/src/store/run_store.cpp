// RunStore: opening, the writer thread and the writes. Schema and file checks are in
// store_schema.cpp, the reads in run_store_reads.cpp.
#include "losslab/store/run_store.h"

#include <pwd.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <limits>
#include <set>

#include "losslab/error.h"
#include "run_store_impl.h"
#include "store_files.h"
#include "store_schema.h"

namespace losslab {
namespace {

namespace fs = std::filesystem;
using sqlite::Database;
using sqlite::Statement;

// Absorbs bursts of per-step metrics from several workers; beyond it producers wait
// (back-pressure) instead of growing an unbounded backlog in memory.
constexpr std::size_t kQueueCapacity = 4096;

std::string utcNow() {
    const std::time_t now = std::time(nullptr);
    std::tm parts{};
    gmtime_r(&now, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return text;
}

// Binds this process as a run's recorder to four consecutive parameters from `first` on,
// in the order of Internal::kRecorderColumns.
void bindRecorder(Statement& statement, int first, const Internal::RecorderProcess& self) {
    statement.bindInt64(first, self.pid.value_or(0));
    statement.bindText(first + 1, self.host);
    if (self.startTicks) {
        statement.bindInt64(first + 2, *self.startTicks);
    } else {
        statement.bindNull(first + 2);
    }
    statement.bindTextOrNull(first + 3, self.bootId);
}

// The message of the exception being handled. Only messages cross to the waiting thread,
// which throws its own Error: an exception object shared by two threads would be freed by
// whichever drops it last, and thread checkers cannot see that libstdc++ makes that safe.
std::string currentMessage() {
    try {
        throw;
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown error in the database writer";
    }
}

// SQLite failures that say the file cannot take writes at all (as opposed to a write that is
// refused for what it asks, such as a constraint): after one, every later write fails too.
bool isStorageFailure(int code) {
    switch (code) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return true;
    default:
        return false;
    }
}

// For fire-and-forget updates: a missing run is reported by the next flush() and by the
// run's flushRun().
void requireChanged(Database& db, std::int64_t runId, const char* what) {
    if (db.changes() == 0) {
        throw Error(db.path() + ": cannot " + what + " run " + std::to_string(runId) +
                    ": it does not exist");
    }
}

// Replaces the stored bins of each split in `calibration` at `epoch`: a bin that held examples
// before but not now must not survive.
void writeCalibration(Database& db, std::int64_t runId, int epoch, const std::vector<CalibrationBins>& calibration) {
    Statement remove(db, "DELETE FROM calibration_bins WHERE run_id = ? AND epoch = ? AND split = ?");
    Statement insert(db,
                     "INSERT INTO calibration_bins(run_id, epoch, split, bins, bin, count, confidence_sum, correct) "
                     "VALUES(?, ?, ?, ?, ?, ?, ?, ?)");
    for (const CalibrationBins& bins : calibration) {
        remove.reset();
        remove.bindInt64(1, runId);
        remove.bindInt64(2, epoch);
        remove.bindText(3, bins.split);
        remove.run();
        for (int b = 0; b < kCalibrationBins; ++b) {
            const auto i = static_cast<std::size_t>(b);
            if (!(bins.count[i] > 0)) continue;
            insert.reset();
            insert.bindInt64(1, runId);
            insert.bindInt64(2, epoch);
            insert.bindText(3, bins.split);
            insert.bindInt64(4, kCalibrationBins);
            insert.bindInt64(5, b);
            insert.bindDouble(6, bins.count[i]);
            insert.bindDouble(7, bins.confidence[i]);
            insert.bindDouble(8, bins.correct[i]);
            insert.run();
        }
    }
}

} // namespace

void RunStore::Impl::shutdown() {
    if (!m_writer.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(m_queueMutex);
        m_stopping = true;
    }
    m_queueNotEmpty.notify_one();
    m_writer.join();
    m_readDb.close();
    m_writeDb.close();
}

void RunStore::Impl::push(Task task) {
    if (m_readOnly) throw Error(m_path + " is open read-only: nothing can be stored in it");
    {
        std::unique_lock<std::mutex> lock(m_queueMutex);
        m_queueNotFull.wait(lock, [this] { return m_queue.size() < kQueueCapacity; });
        m_queue.push_back(std::move(task));
    }
    m_queueNotEmpty.notify_one();
}

void RunStore::Impl::recordAsyncError(std::int64_t runId, const std::string& message, bool storeWide) {
    std::lock_guard<std::mutex> lock(m_errorMutex);
    if (storeWide && m_firstFailure.empty()) m_firstFailure = message;
    for (const auto& pending : m_pendingErrors) {
        if (pending.first == runId) return;
    }
    m_pendingErrors.emplace_back(runId, message);
    // Once per run and flush period: a failing loop must not flood the terminal.
    std::cerr << "losslab: a write to the run database failed"
              << (runId == kNoRun ? std::string() : " (run " + std::to_string(runId) + ")") << ": " << message
              << '\n';
}

std::string RunStore::Impl::takePendingErrors() {
    std::lock_guard<std::mutex> lock(m_errorMutex);
    std::string first = m_pendingErrors.empty() ? std::string() : m_pendingErrors.front().second;
    m_pendingErrors.clear();
    return first;
}

std::string RunStore::Impl::takePendingError(std::int64_t runId) {
    std::lock_guard<std::mutex> lock(m_errorMutex);
    for (auto it = m_pendingErrors.begin(); it != m_pendingErrors.end(); ++it) {
        if (it->first != runId) continue;
        std::string message = std::move(it->second);
        m_pendingErrors.erase(it);
        return message;
    }
    return {};
}

std::optional<std::string> RunStore::Impl::waitForQueued(
    std::function<std::optional<std::string>(const std::optional<std::string>& markerError)> collect) {
    auto promise = std::make_shared<std::promise<std::optional<std::string>>>();
    std::future<std::optional<std::string>> done = promise->get_future();
    // The marker's callback runs after every earlier task has finished (and recorded its
    // failure), so what it collects covers exactly the writes queued before this call.
    push(Task{[](Database&) {},
              [promise, collect = std::move(collect)](const std::optional<std::string>& error) {
                  promise->set_value(collect(error));
              }});
    return done.get();
}

void RunStore::Impl::writerLoop() {
    for (;;) {
        std::vector<Task> batch;
        {
            std::unique_lock<std::mutex> lock(m_queueMutex);
            m_queueNotEmpty.wait(lock, [this] { return m_stopping || !m_queue.empty(); });
            if (m_queue.empty()) return; // stopping, and everything queued is written
            batch.assign(std::make_move_iterator(m_queue.begin()),
                         std::make_move_iterator(m_queue.end()));
            m_queue.clear();
        }
        m_queueNotFull.notify_all();
        try {
            runBatch(batch);
        } catch (...) {
            // The thread must outlive any one batch, or every later write would hang.
            recordAsyncError(kNoRun, currentMessage(), true);
        }
    }
}

// One transaction per batch (the point of batching: one fsync for many small writes);
// a savepoint per task keeps one failing task from undoing the others.
void RunStore::Impl::runBatch(std::vector<Task>& batch) {
    std::vector<std::optional<std::string>> outcomes(batch.size());
    std::vector<bool> storeWide(batch.size(), false);
    std::optional<std::string> batchError;
    try {
        m_writeDb.exec("BEGIN IMMEDIATE");
    } catch (...) {
        batchError = currentMessage();
    }
    for (std::size_t i = 0; i < batch.size() && !batchError; ++i) {
        try {
            m_writeDb.clearLastFailure();
            m_writeDb.exec("SAVEPOINT task");
            batch[i].work(m_writeDb);
            m_writeDb.exec("RELEASE task");
        } catch (...) {
            outcomes[i] = currentMessage();
            storeWide[i] = isStorageFailure(m_writeDb.lastFailureCode());
            if (sqlite3_get_autocommit(m_writeDb.handle())) {
                // SQLite rolled the whole transaction back (disk full, I/O error): the
                // earlier tasks are lost as well, and later ones must not run unbatched.
                batchError = outcomes[i];
            } else {
                m_writeDb.execQuietly("ROLLBACK TO task");
                m_writeDb.execQuietly("RELEASE task");
            }
        }
    }
    if (!batchError) {
        try {
            m_writeDb.exec("COMMIT");
        } catch (...) {
            batchError = currentMessage();
        }
    }
    if (batchError && !sqlite3_get_autocommit(m_writeDb.handle())) {
        m_writeDb.execQuietly("ROLLBACK");
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const std::optional<std::string>& outcome = batchError ? batchError : outcomes[i];
        if (batch[i].done) {
            batch[i].done(outcome);
        } else if (outcome) {
            // A lost transaction lost every write in it: each is charged to its own run.
            recordAsyncError(batch[i].runId, *outcome, batchError.has_value() || storeWide[i]);
        }
    }
}

RunStore::RunStore(const std::string& path, StoreAccess access) : m_impl(std::make_unique<Impl>()) {
    m_impl->m_path = path;
    m_impl->m_self = Internal::currentProcess();
    if (access == StoreAccess::ReadOnly) {
        m_impl->m_readOnly = true;
        int version = 0;
        m_impl->m_readDb = Internal::openReadOnlyConnection(path, version, false);
        if (version < kSchemaVersion) {
            throw Error(path + " has schema version " + std::to_string(version) + ", older than this LossLab's " +
                        std::to_string(kSchemaVersion) + "; it is brought forward when opened where it can be "
                        "written (any losslab-cli command by its owner)");
        }
        return;
    }
    const Internal::JournalChoice journal = Internal::chooseJournal(path);
    m_impl->m_journalNote = journal.note;
    m_impl->m_writeDb = Internal::openWriteConnection(path, journal);
    // Opened only now: the writer has created the schema the reader relies on.
    m_impl->m_readDb = Internal::openReadConnection(path, journal);
    m_impl->m_writer = std::thread([impl = m_impl.get()] { impl->writerLoop(); });
}

RunStore::~RunStore() {
    if (m_impl) m_impl->shutdown();
}

std::unique_ptr<RunStore> RunStore::openForReading(const std::string& path) {
    int version = 0;
    {
        // A look first: a missing, empty, foreign or newer file is refused unchanged.
        const sqlite::Database probe = Internal::openReadOnlyConnection(path, version, false);
    }
    // Where it can be written, as a run opens it: an older schema is brought forward, and the
    // last connection to close tidies FILE-wal and FILE-shm away (a read-only one cannot).
    const std::string folder = fs::path(path).parent_path().string();
    if (::access(path.c_str(), W_OK) == 0 && ::access(folder.empty() ? "." : folder.c_str(), W_OK) == 0) {
        try {
            return std::make_unique<RunStore>(path, StoreAccess::ReadWrite);
        } catch (const Error&) {
            if (version < kSchemaVersion) throw;
        }
    }
    return std::make_unique<RunStore>(path, StoreAccess::ReadOnly);
}

bool RunStore::readOnly() const {
    return m_impl->m_readOnly;
}

std::string RunStore::checkpointPathFor(std::int64_t runId) const {
    return Internal::checkpointFileOf(m_impl->m_path, runId, ".pt");
}

std::string RunStore::resumePathFor(std::int64_t runId) const {
    return Internal::checkpointFileOf(m_impl->m_path, runId, ".resume.pt");
}

std::string RunStore::dataCacheDir() const {
    const std::filesystem::path db(m_impl->m_path);
    return (db.parent_path() / (db.stem().string() + "-cache")).string();
}

const std::string& RunStore::path() const {
    return m_impl->m_path;
}

std::string RunStore::journalNote() const {
    return m_impl->m_journalNote;
}

std::string RunStore::journalNoteFor(const std::string& path) {
    return Internal::chooseJournal(path).note;
}

std::string RunStore::defaultPath() {
    const char* dataHome = std::getenv("XDG_DATA_HOME");
    if (dataHome && *dataHome) return (fs::path(dataHome) / "losslab" / "runs.sqlite").string();
    std::string home;
    if (const char* env = std::getenv("HOME"); env && *env) {
        home = env;
    } else if (const passwd* user = getpwuid(getuid()); user && user->pw_dir) {
        home = user->pw_dir;
    }
    if (home.empty()) {
        throw Error("cannot find a place for the run database: neither XDG_DATA_HOME nor HOME "
                    "is set; choose a file with --db");
    }
    return (fs::path(home) / ".local" / "share" / "losslab" / "runs.sqlite").string();
}

std::int64_t RunStore::addExperiment(const ExperimentRecord& experiment) {
    if (experiment.name.empty()) throw Error("an experiment needs a name to be stored");
    const std::string createdAt = experiment.createdAt.empty() ? utcNow() : experiment.createdAt;
    return m_impl->call<std::int64_t>([experiment, createdAt](Database& db, std::int64_t& id) {
        if (!experiment.uid.empty()) {
            Statement taken(db, "SELECT id, name FROM experiments WHERE uid = ?");
            taken.bindText(1, experiment.uid);
            if (taken.step()) {
                throw Error(db.path() + " already holds an experiment with uid " + experiment.uid + " (#" +
                            std::to_string(taken.int64(0)) + " '" + taken.text(1) + "')");
            }
        }
        // An empty uid becomes NULL, which coalesce() replaces by a new random one, as the
        // schema 4 migration does for old rows.
        Statement insert(db,
                         "INSERT INTO experiments(name, description, task, spec_yaml, "
                         "source_path, created_at, uid) VALUES(?, ?, ?, ?, ?, ?, "
                         "coalesce(?, lower(hex(randomblob(16)))))");
        insert.bindText(1, experiment.name);
        insert.bindTextOrNull(2, experiment.description);
        insert.bindTextOrNull(3, experiment.taskId);
        insert.bindTextOrNull(4, experiment.specYaml);
        insert.bindTextOrNull(5, experiment.sourcePath);
        insert.bindText(6, createdAt);
        insert.bindTextOrNull(7, experiment.uid);
        insert.run();
        id = db.lastInsertId();
    });
}

std::vector<std::int64_t> RunStore::addRuns(std::int64_t experimentId,
                                            const std::vector<RunRecord>& runs) {
    for (std::size_t i = 0; i < runs.size(); ++i) {
        if (!runs[i].dependsOn) continue;
        const std::int64_t index = *runs[i].dependsOn;
        if (index < 0 || static_cast<std::size_t>(index) >= runs.size() ||
            static_cast<std::size_t>(index) == i) {
            throw Error("run " + std::to_string(i) + " of the " + std::to_string(runs.size()) +
                        " runs to store depends on index " + std::to_string(index) +
                        ", which is not another run of the same list");
        }
    }
    if (runs.empty()) return {};
    const std::string now = utcNow();
    // Queued runs carry the process that will run them, so that runs a dead process left
    // queued are found too (markOrphansInterrupted).
    const Internal::RecorderProcess self = m_impl->m_self;
    return m_impl->call<std::vector<std::int64_t>>(
        [experimentId, runs, now, self](Database& db, std::vector<std::int64_t>& ids) {
            Statement experiment(db, "SELECT 1 FROM experiments WHERE id = ?");
            experiment.bindInt64(1, experimentId);
            if (!experiment.step()) {
                throw Error(db.path() + ": cannot add runs to experiment " +
                            std::to_string(experimentId) + ": it does not exist");
            }
            // Dependencies may point forward in the list, so every run gets its id first.
            Statement insert(
                db,
                "INSERT INTO runs(experiment_id, task, loss_name, loss, k, M, lr, protocol, seed, "
                "device, status, epochs, best_epoch, target_epochs, spec_yaml, error, created_at, "
                "started_at, finished_at, wall_seconds, checkpoint_path, tags, notes, " +
                    std::string(Internal::kRecorderColumns) +
                    ", uid) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                    "coalesce(?, lower(hex(randomblob(16)))))");
            Statement taken(db, "SELECT id FROM runs WHERE uid = ?");
            ids.clear();
            ids.reserve(runs.size());
            for (const RunRecord& run : runs) {
                insert.reset();
                insert.bindInt64(1, experimentId);
                insert.bindTextOrNull(2, run.taskId);
                insert.bindTextOrNull(3, run.lossName);
                insert.bindTextOrNull(4, run.loss);
                insert.bindDouble(5, run.k);
                insert.bindDouble(6, run.M);
                insert.bindDouble(7, run.lr);
                insert.bindTextOrNull(8, run.protocol);
                insert.bindInt64(9, run.seed);
                insert.bindTextOrNull(10, run.device);
                insert.bindText(11, runStatusName(run.status));
                insert.bindInt64(12, run.epochs);
                insert.bindInt64(13, run.bestEpoch);
                insert.bindInt64(14, run.targetEpochs);
                insert.bindTextOrNull(15, run.specYaml);
                insert.bindTextOrNull(16, run.error);
                insert.bindText(17, run.createdAt.empty() ? now : run.createdAt);
                insert.bindTextOrNull(18, run.startedAt);
                insert.bindTextOrNull(19, run.finishedAt);
                insert.bindDouble(20, run.wallSeconds);
                insert.bindTextOrNull(21, run.checkpointPath);
                insert.bindTextOrNull(22, run.tags);
                insert.bindTextOrNull(23, run.notes);
                bindRecorder(insert, 24, self);
                insert.bindTextOrNull(28, run.uid);
                if (!run.uid.empty()) {
                    taken.reset();
                    taken.bindText(1, run.uid);
                    if (taken.step()) {
                        throw Error(db.path() + " already holds a run with uid " + run.uid + " (run " +
                                    std::to_string(taken.int64(0)) + ")");
                    }
                }
                insert.run();
                ids.push_back(db.lastInsertId());
            }
            Statement link(db, "UPDATE runs SET depends_on = ? WHERE id = ?");
            for (std::size_t i = 0; i < runs.size(); ++i) {
                if (!runs[i].dependsOn) continue;
                link.reset();
                link.bindInt64(1, ids[static_cast<std::size_t>(*runs[i].dependsOn)]);
                link.bindInt64(2, ids[i]);
                link.run();
            }
        });
}

void RunStore::markStarted(std::int64_t runId, const std::string& device, int targetEpochs,
                           const std::string& library, int threads) {
    const std::string now = utcNow();
    const Internal::RecorderProcess self = m_impl->m_self;
    m_impl->pushWrite(runId, [=](Database& db) {
        // A resumed run is running again: the end time and error of its last attempt no
        // longer describe it.
        Statement update(db,
                         "UPDATE runs SET status = ?, device = ?, target_epochs = ?, "
                         "started_at = ?, finished_at = NULL, error = NULL, pid = ?, host = ?, "
                         "pid_start = ?, boot_id = ?, library = ?, threads = ? WHERE id = ?");
        update.bindText(1, runStatusName(RunStatus::Running));
        update.bindTextOrNull(2, device);
        update.bindInt64(3, targetEpochs);
        update.bindText(4, now);
        bindRecorder(update, 5, self);
        update.bindTextOrNull(9, library);
        if (threads > 0) {
            update.bindInt64(10, threads);
        } else {
            update.bindNull(10);
        }
        update.bindInt64(11, runId);
        update.run();
        requireChanged(db, runId, "start");
    });
}

void RunStore::appendEpoch(std::int64_t runId, int epoch, const std::vector<MetricValue>& metrics,
                           const std::vector<CalibrationBins>& calibration) {
    if (metrics.empty() && calibration.empty()) return;
    m_impl->pushWrite(runId, [runId, epoch, metrics, calibration](Database& db) {
        // REPLACE: an epoch written again after a resume overwrites instead of duplicating.
        Statement insert(db,
                         "INSERT OR REPLACE INTO epoch_metrics(run_id, epoch, split, metric, "
                         "value) VALUES(?, ?, ?, ?, ?)");
        for (const MetricValue& metric : metrics) {
            insert.reset();
            insert.bindInt64(1, runId);
            insert.bindInt64(2, epoch);
            insert.bindText(3, metric.split);
            insert.bindText(4, metric.metric);
            insert.bindDouble(5, metric.value);
            insert.run();
        }
        if (!calibration.empty()) writeCalibration(db, runId, epoch, calibration);
        // The run's epoch count follows what is stored, so that a run whose process dies
        // (interrupted) shows how far it got; finishRun() sets the final counts.
        Statement progress(db, "UPDATE runs SET epochs = ? WHERE id = ? AND epochs < ?");
        progress.bindInt64(1, epoch);
        progress.bindInt64(2, runId);
        progress.bindInt64(3, epoch);
        progress.run();
    });
}

void RunStore::appendSteps(const std::vector<StepMetricRow>& rows) {
    // One write per run, so that a failure is charged to the run whose rows failed.
    for (std::size_t begin = 0; begin < rows.size();) {
        std::size_t end = begin + 1;
        while (end < rows.size() && rows[end].runId == rows[begin].runId) ++end;
        std::vector<StepMetricRow> ofRun(rows.begin() + static_cast<std::ptrdiff_t>(begin),
                                         rows.begin() + static_cast<std::ptrdiff_t>(end));
        m_impl->pushWrite(rows[begin].runId, [ofRun = std::move(ofRun)](Database& db) {
            Statement insert(db,
                             "INSERT OR REPLACE INTO step_metrics(run_id, step, epoch, metric, value) "
                             "VALUES(?, ?, ?, ?, ?)");
            for (const StepMetricRow& row : ofRun) {
                insert.reset();
                insert.bindInt64(1, row.runId);
                insert.bindInt64(2, row.step);
                insert.bindInt64(3, row.epoch);
                insert.bindText(4, row.metric);
                insert.bindDouble(5, row.value);
                insert.run();
            }
        });
        begin = end;
    }
}

void RunStore::finishRun(std::int64_t runId, RunStatus status, int epochs, int bestEpoch,
                         double wallSeconds, const std::string& error) {
    const std::string now = utcNow();
    m_impl->pushWrite(runId, [=](Database& db) {
        Statement update(db,
                         "UPDATE runs SET status = ?, epochs = ?, best_epoch = ?, "
                         "wall_seconds = ?, error = ?, finished_at = ? WHERE id = ?");
        update.bindText(1, runStatusName(status));
        update.bindInt64(2, epochs);
        update.bindInt64(3, bestEpoch);
        update.bindDouble(4, wallSeconds);
        update.bindTextOrNull(5, error);
        update.bindText(6, now);
        update.bindInt64(7, runId);
        update.run();
        requireChanged(db, runId, "finish");
    });
}

void RunStore::setCheckpoint(std::int64_t runId, const std::string& path) {
    m_impl->pushWrite(runId, [=](Database& db) {
        Statement update(db, "UPDATE runs SET checkpoint_path = ? WHERE id = ?");
        update.bindTextOrNull(1, path);
        update.bindInt64(2, runId);
        update.run();
        requireChanged(db, runId, "set the checkpoint of");
    });
}

void RunStore::setTargetEpochs(std::int64_t runId, int targetEpochs) {
    m_impl->pushWrite(runId, [=](Database& db) {
        Statement update(db, "UPDATE runs SET target_epochs = ? WHERE id = ?");
        update.bindInt64(1, targetEpochs);
        update.bindInt64(2, runId);
        update.run();
        requireChanged(db, runId, "set the target epochs of");
    });
}

void RunStore::copyRunPrefix(std::int64_t fromRunId, std::int64_t toRunId, int epochs) {
    m_impl->pushWrite(toRunId, [=](Database& db) {
        for (const char* table : {"epoch_metrics", "step_metrics", "calibration_bins"}) {
            const std::string name = table;
            const std::string columns = name == "epoch_metrics"  ? "epoch, split, metric, value"
                                        : name == "step_metrics" ? "step, epoch, metric, value"
                                                                 : "epoch, split, bins, bin, count, confidence_sum, correct";
            // A resumed run's own first epochs give way to the copy (one savepoint: all or none).
            Statement clear(db, std::string("DELETE FROM ") + table + " WHERE run_id = ?");
            clear.bindInt64(1, toRunId);
            clear.run();
            Statement copy(db, std::string("INSERT OR REPLACE INTO ") + table + "(run_id, " + columns + ") SELECT ?, " +
                                   columns + " FROM " + table + " WHERE run_id = ? AND epoch <= ?");
            copy.bindInt64(1, toRunId);
            copy.bindInt64(2, fromRunId);
            copy.bindInt64(3, epochs);
            copy.run();
        }
        Statement update(db, "UPDATE runs SET reused_from = (SELECT uid FROM runs WHERE id = ?), epochs = ? WHERE id = ?");
        update.bindInt64(1, fromRunId);
        update.bindInt64(2, epochs);
        update.bindInt64(3, toRunId);
        update.run();
        requireChanged(db, toRunId, "record the reused epochs of");
    });
}

void RunStore::discardMetricsAfter(std::int64_t runId, int epoch) {
    m_impl->call<bool>([runId, epoch](Database& db, bool&) {
        for (const char* table : {"epoch_metrics", "step_metrics", "calibration_bins"}) {
            Statement remove(db, std::string("DELETE FROM ") + table + " WHERE run_id = ? AND epoch > ?");
            remove.bindInt64(1, runId);
            remove.bindInt64(2, epoch);
            remove.run();
        }
        Statement progress(db, "UPDATE runs SET epochs = min(epochs, ?) WHERE id = ?");
        progress.bindInt64(1, epoch);
        progress.bindInt64(2, runId);
        progress.run();
    });
}

int RunStore::markOrphansInterrupted() {
    const Internal::RecorderProcess self = m_impl->m_self;
    return m_impl->call<int>([self](Database& db, int& count) {
        std::vector<std::int64_t> orphans;
        // Running or still queued: both were owned by a process; when it is gone they will
        // never finish on their own. The rule is the one reads apply (Internal::recorderIsGone).
        Statement running(db, std::string("SELECT id, ") + Internal::kRecorderColumns +
                                  " FROM runs WHERE status IN (?, ?)");
        running.bindText(1, runStatusName(RunStatus::Running));
        running.bindText(2, runStatusName(RunStatus::Queued));
        while (running.step()) {
            if (Internal::recorderIsGone(Internal::readRecorder(running, 1), self)) {
                orphans.push_back(running.int64(0));
            }
        }
        Statement update(db, "UPDATE runs SET status = ? WHERE id = ?");
        for (std::int64_t id : orphans) {
            update.reset();
            update.bindText(1, runStatusName(RunStatus::Interrupted));
            update.bindInt64(2, id);
            update.run();
        }
        count = static_cast<int>(orphans.size());
    });
}

std::string normalizeTags(const std::string& tags) {
    std::vector<std::string> kept;
    std::size_t begin = 0;
    while (begin <= tags.size()) {
        std::size_t end = tags.find(',', begin);
        if (end == std::string::npos) end = tags.size();
        std::string item = tags.substr(begin, end - begin);
        const auto first = item.find_first_not_of(" \t\r\n");
        const auto last = item.find_last_not_of(" \t\r\n");
        item = first == std::string::npos ? std::string() : item.substr(first, last - first + 1);
        if (!item.empty() && std::find(kept.begin(), kept.end(), item) == kept.end()) {
            kept.push_back(std::move(item));
        }
        begin = end + 1;
    }
    std::string joined;
    for (const std::string& item : kept) joined += (joined.empty() ? "" : ",") + item;
    return joined;
}

void RunStore::setRunText(const char* sql, std::int64_t runId, const std::string& text, WriteDone done) {
    auto work = [sql, runId, text](Database& db) {
        Statement update(db, sql);
        update.bindTextOrNull(1, text);
        update.bindInt64(2, runId);
        update.run(); // a run deleted meanwhile is left alone
    };
    if (!done) {
        m_impl->pushWrite(Impl::kNoRun, std::move(work));
        return;
    }
    m_impl->push(Impl::Task{std::move(work),
                            [done = std::move(done)](const std::optional<std::string>& error) {
                                done(error ? *error : std::string());
                            },
                            Impl::kNoRun});
}

void RunStore::setRunTags(std::int64_t runId, const std::string& tags, WriteDone done) {
    setRunText("UPDATE runs SET tags = ? WHERE id = ?", runId, normalizeTags(tags), std::move(done));
}

void RunStore::setRunNotes(std::int64_t runId, const std::string& notes, WriteDone done) {
    setRunText("UPDATE runs SET notes = ? WHERE id = ?", runId, notes, std::move(done));
}

void RunStore::claimForResume(const std::vector<std::int64_t>& runIds) {
    const Internal::RecorderProcess self = m_impl->m_self;
    const std::string path = m_impl->m_path;
    m_impl->call<bool>([runIds, self, path](Database& db, bool&) {
        // Checked and changed in one write transaction: of two processes resuming the same run,
        // the second sees it queued by the first.
        Statement find(db, std::string("SELECT status, ") + Internal::kRecorderColumns + " FROM runs WHERE id = ?");
        for (std::int64_t id : runIds) {
            find.reset();
            find.bindInt64(1, id);
            if (!find.step()) throw Error("no run #" + std::to_string(id) + " in " + path);
            const Internal::RecorderProcess recorder = Internal::readRecorder(find, 1);
            const RunStatus status = Internal::effectiveStatus(parseRunStatus(find.text(0)), recorder, self);
            if (status == RunStatus::Interrupted || status == RunStatus::Cancelled) continue;
            std::string message = "run #" + std::to_string(id) + " is " + runStatusName(status);
            if ((status == RunStatus::Queued || status == RunStatus::Running) && recorder.pid) {
                message += " in process " + std::to_string(*recorder.pid) + " on host " + recorder.host +
                           (recorder.host == self.host && recorder.pid == self.pid ? " (this one)" : "") +
                           ", which is training or resuming it";
            }
            throw Error(message + "; only interrupted or cancelled runs can be resumed");
        }
        Statement update(db, std::string("UPDATE runs SET status = ?, pid = ?, host = ?, pid_start = ?, boot_id = ? "
                                         "WHERE id = ?"));
        for (std::int64_t id : runIds) {
            update.reset();
            update.bindText(1, runStatusName(RunStatus::Queued));
            bindRecorder(update, 2, self);
            update.bindInt64(6, id);
            update.run();
        }
    });
}

int RunStore::deleteRuns(const std::vector<std::int64_t>& runIds) {
    struct Deleted {
        int count = 0;
        std::vector<std::string> checkpoints;
    };
    auto resumeFile = [this](std::int64_t id) { return resumePathFor(id); };
    const Internal::RecorderProcess self = m_impl->m_self;
    Deleted deleted = m_impl->call<Deleted>([runIds, resumeFile, self](Database& db, Deleted& out) {
        Statement find(db, std::string("SELECT status, checkpoint_path, experiment_id, ") + Internal::kRecorderColumns +
                               " FROM runs WHERE id = ?");
        std::set<std::int64_t> experiments; // of the deleted runs
        for (std::int64_t id : runIds) {
            find.reset();
            find.bindInt64(1, id);
            if (!find.step()) throw Error("cannot delete run " + std::to_string(id) + ": there is no such run");
            // A run left running by a process that is gone is interrupted, as every read shows it.
            const RunStatus status = Internal::effectiveStatus(parseRunStatus(find.text(0)),
                                                               Internal::readRecorder(find, 3), self);
            if (!isFinal(status)) {
                throw Error("cannot delete run " + std::to_string(id) + ": it is " +
                            runStatusName(status) + "; cancel it first");
            }
            if (!find.text(1).empty()) out.checkpoints.push_back(find.text(1));
            out.checkpoints.push_back(resumeFile(id));
            experiments.insert(find.int64(2));
        }
        // The batch transaction makes this all or nothing: a throw above rolls back.
        Statement remove(db, "DELETE FROM runs WHERE id = ?");
        for (std::int64_t id : runIds) {
            remove.reset();
            remove.bindInt64(1, id);
            remove.run();
            out.count += sqlite3_changes(db.handle());
        }
        // Only experiments this left empty: one another process has just added, whose runs
        // are not stored yet, stays.
        Statement drop(db, "DELETE FROM experiments WHERE id = ? AND NOT EXISTS (SELECT 1 FROM runs WHERE experiment_id = ?)");
        for (const std::int64_t e : experiments) {
            drop.reset();
            drop.bindInt64(1, e);
            drop.bindInt64(2, e);
            drop.run();
        }
    });
    // Files after the commit: a failed delete leaves the checkpoints in place.
    for (const std::string& path : deleted.checkpoints) {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
    }
    return deleted.count;
}

void RunStore::flush() {
    Impl* impl = m_impl.get();
    if (impl->m_readOnly) return; // nothing was queued
    const std::optional<std::string> error =
        impl->waitForQueued([impl](const std::optional<std::string>& markerError) -> std::optional<std::string> {
            const std::string pending = impl->takePendingErrors();
            if (!pending.empty()) return "a queued write to the run database failed: " + pending;
            return markerError;
        });
    if (error) throw Error(*error);
}

void RunStore::flushRun(std::int64_t runId) {
    Impl* impl = m_impl.get();
    if (impl->m_readOnly) return;
    // The marker's own batch failing says nothing about this run: its writes came earlier
    // and recorded their own outcome.
    const std::optional<std::string> error =
        impl->waitForQueued([impl, runId](const std::optional<std::string>&) -> std::optional<std::string> {
            const std::string pending = impl->takePendingError(runId);
            if (pending.empty()) return std::nullopt;
            return "a write of run " + std::to_string(runId) + " to the run database failed: " + pending;
        });
    if (error) throw Error(*error);
}

} // namespace losslab

namespace losslab {

std::string RunStore::writeFailure() const {
    std::lock_guard<std::mutex> lock(m_impl->m_errorMutex);
    return m_impl->m_firstFailure;
}

} // namespace losslab
