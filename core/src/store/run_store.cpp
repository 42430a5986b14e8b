#include "losslab/store/run_store.h"

#include <pwd.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <exception>
#include <filesystem>
#include <future>
#include <iostream>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <utility>

#include "losslab/error.h"
#include "sqlite_db.h"

namespace losslab {
namespace {

namespace fs = std::filesystem;
using sqlite::Database;
using sqlite::Statement;

// Absorbs bursts of per-step metrics from several workers; beyond it producers wait
// (back-pressure) instead of growing an unbounded backlog in memory.
constexpr std::size_t kQueueCapacity = 4096;
constexpr int kBusyTimeoutMs = 10000;
constexpr const char* kApplication = "losslab";
// A foreign file may have hundreds of tables; a few are enough to recognise it.
constexpr std::size_t kTablesListed = 8;

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta(
    key TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE experiments(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    task TEXT,
    spec_yaml TEXT,
    source_path TEXT,
    created_at TEXT
);
CREATE TABLE runs(
    id INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    task TEXT,
    loss_name TEXT,
    loss TEXT,
    k REAL,
    M REAL,
    lr REAL,
    protocol TEXT,
    seed INTEGER,
    device TEXT,
    status TEXT NOT NULL,
    epochs INTEGER NOT NULL DEFAULT 0,
    best_epoch INTEGER NOT NULL DEFAULT 0,
    target_epochs INTEGER NOT NULL DEFAULT 0,
    depends_on INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    spec_yaml TEXT,
    error TEXT,
    created_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    wall_seconds REAL NOT NULL DEFAULT 0,
    checkpoint_path TEXT,
    tags TEXT,
    notes TEXT,
    pid INTEGER,
    host TEXT
);
CREATE INDEX runs_experiment_id ON runs(experiment_id);
CREATE INDEX runs_status ON runs(status);
-- Without it, deleting runs scans the whole table once per row for the depends_on key.
CREATE INDEX runs_depends_on ON runs(depends_on);
CREATE TABLE epoch_metrics(
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    split TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    PRIMARY KEY(run_id, epoch, split, metric)
) WITHOUT ROWID;
CREATE TABLE step_metrics(
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    PRIMARY KEY(run_id, step, metric)
) WITHOUT ROWID;
)sql";

struct Migration {
    int toVersion;
    const char* sql;
};

// Each entry takes the schema from toVersion - 1 to toVersion. Append; never edit a
// released entry, since existing files were built by it.
constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
};

static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "every schema version needs exactly one migration");

std::string utcNow() {
    const std::time_t now = std::time(nullptr);
    std::tm parts{};
    gmtime_r(&now, &parts);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
    return text;
}

std::string thisHost() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return "localhost";
    return name;
}

// True only when the OS says the process does not exist: EPERM means it exists but belongs
// to someone else, which must not be mistaken for an orphan.
bool processIsGone(std::int64_t pid) {
    if (pid > std::numeric_limits<pid_t>::max()) return true;
    return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

bool parseVersion(const std::string& text, int& out) {
    if (text.empty()) return false;
    errno = 0;
    char* end = nullptr;
    const long value = std::strtol(text.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || value < 1 || value > std::numeric_limits<int>::max()) {
        return false;
    }
    out = static_cast<int>(value);
    return true;
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

struct FileState {
    bool empty = true; // no tables at all: a new file, ours to set up
    int version = 0;
};

// Reads what the file holds without changing anything, so a file that is refused stays
// exactly as it was.
FileState inspect(Database& db) {
    const std::string& path = db.path();
    std::vector<std::string> tables;
    try {
        Statement list(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
        while (list.step()) tables.push_back(list.text(0));
    } catch (const Error&) {
        if (db.lastFailureCode() == SQLITE_NOTADB) throw Error(path + " is not an SQLite database");
        throw;
    }
    FileState state;
    if (tables.empty()) return state;
    state.empty = false;

    bool ours = false;
    for (const std::string& table : tables) {
        if (table != "meta") continue;
        try {
            // A foreign "meta" table may have other columns; that only means "not ours".
            Statement application(db, "SELECT value FROM meta WHERE key = 'application'");
            ours = application.step() && application.text(0) == kApplication;
        } catch (const Error&) {
            ours = false;
        }
    }
    if (!ours) {
        std::string listed;
        for (std::size_t i = 0; i < tables.size() && i < kTablesListed; ++i) {
            if (i > 0) listed += ", ";
            listed += tables[i];
        }
        if (tables.size() > kTablesListed) listed += ", ...";
        throw Error(path + " is not a LossLab database (it has tables: " + listed +
                    "); choose another file with --db");
    }

    const std::string versionText =
        db.queryText("SELECT value FROM meta WHERE key = 'schema_version'");
    if (!parseVersion(versionText, state.version)) {
        throw Error(path + " is a LossLab database without a valid schema_version in its meta "
                    "table (found '" + versionText + "'); it may be damaged");
    }
    if (state.version > kSchemaVersion) {
        throw Error(path + " has schema version " + std::to_string(state.version) +
                    ", newer than this LossLab (knows up to " + std::to_string(kSchemaVersion) +
                    "); upgrade LossLab");
    }
    return state;
}

void applyConnectionSettings(Database& db) {
    sqlite3_busy_timeout(db.handle(), kBusyTimeoutMs);
    // journal_mode answers with the mode in effect; a file system without shared memory
    // keeps the old mode, which is slower but still correct, so the answer is not checked.
    db.queryText("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
}

void migrate(Database& db) {
    db.exec("BEGIN IMMEDIATE");
    try {
        // Checked again under the write lock: another process may have set the file up (or
        // put something else there) between the read-only look and this transaction.
        const FileState state = inspect(db);
        if (state.version < kSchemaVersion) {
            for (const Migration& migration : kMigrations) {
                if (migration.toVersion > state.version) db.exec(migration.sql);
            }
            Statement meta(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
            meta.bindText(1, "application");
            meta.bindText(2, kApplication);
            meta.run();
            meta.reset();
            meta.bindText(1, "schema_version");
            meta.bindText(2, std::to_string(kSchemaVersion));
            meta.run();
            db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
        }
        db.exec("COMMIT");
    } catch (...) {
        db.execQuietly("ROLLBACK");
        throw;
    }
}

Database openWriteConnection(const std::string& path) {
    if (path.empty()) throw Error("the database path is empty; choose a file with --db");
    if (path == ":memory:") {
        // The writer and reader need to share one file; two in-memory databases would not.
        throw Error("':memory:' cannot hold a LossLab database; choose a file with --db");
    }
    const fs::path file(path);
    const fs::path folder = file.parent_path();
    if (!folder.empty()) {
        std::error_code ec;
        fs::create_directories(folder, ec);
        if (ec) {
            throw Error("cannot create folder " + folder.string() + " for the database: " +
                        ec.message());
        }
    }

    std::error_code ec;
    const fs::file_status status = fs::status(file, ec);
    if (fs::is_directory(status)) {
        throw Error(path + " is a folder; the database must be a file (choose one with --db)");
    }
    if (fs::exists(status)) {
        // A read-only look first: nothing, not even the journal mode, may change in a file
        // that turns out to be foreign or too new.
        Database probe;
        std::string message;
        if (probe.open(path, SQLITE_OPEN_READONLY, message) != SQLITE_OK) {
            throw Error("cannot read " + path + ": " + message);
        }
        sqlite3_busy_timeout(probe.handle(), kBusyTimeoutMs);
        inspect(probe);
    }

    Database db;
    std::string message;
    if (db.open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, message) != SQLITE_OK) {
        throw Error(path + " cannot be written: " + message);
    }
    sqlite3_busy_timeout(db.handle(), kBusyTimeoutMs);
    // Taking the write lock is the only reliable test: permission bits say nothing for root
    // or read-only mounts, and SQLite quietly opens an unwritable file read-only.
    if (sqlite3_db_readonly(db.handle(), "main") == 1) {
        throw Error(path + " cannot be written: the file or its folder is read-only");
    }
    if (sqlite3_exec(db.handle(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
        throw Error(path + " cannot be written: " + sqlite3_errmsg(db.handle()));
    }
    db.execQuietly("ROLLBACK");

    try {
        applyConnectionSettings(db);
        migrate(db);
    } catch (const Error& e) {
        const int code = db.lastFailureCode();
        if (code == SQLITE_READONLY || code == SQLITE_CANTOPEN || code == SQLITE_IOERR ||
            code == SQLITE_PERM) {
            throw Error(path + " cannot be written: " + e.what());
        }
        throw;
    }
    return db;
}

Database openReadConnection(const std::string& path) {
    Database db;
    std::string message;
    if (db.open(path, SQLITE_OPEN_READWRITE, message) != SQLITE_OK) {
        throw Error("cannot read " + path + ": " + message);
    }
    applyConnectionSettings(db);
    return db;
}

// Placeholders "?, ?, ?" for an IN list.
std::string placeholders(std::size_t count) {
    std::string text;
    for (std::size_t i = 0; i < count; ++i) text += i == 0 ? "?" : ", ?";
    return text;
}

} // namespace

struct RunStore::Impl {
    struct Task {
        std::function<void(Database&)> work; // runs inside the writer's batch transaction
        // Called after the batch commits (no error) or fails; empty for writes nobody
        // waits on, whose failures are reported by the next flush().
        std::function<void(const std::optional<std::string>& error)> done;
    };

    template <typename T>
    struct Outcome {
        T value{};
        std::optional<std::string> error;
    };

    std::string m_path;
    std::string m_host;
    std::int64_t m_pid = 0;
    // Declared before m_readDb so that the reader closes first and the writer, closing
    // last, can checkpoint the WAL back into the file.
    Database m_writeDb;
    Database m_readDb;
    mutable std::mutex m_readMutex;

    std::mutex m_queueMutex;
    std::condition_variable m_queueNotEmpty;
    std::condition_variable m_queueNotFull;
    std::deque<Task> m_queue;
    bool m_stopping = false;

    std::mutex m_errorMutex;
    std::string m_pendingError; // first failed unawaited write since the last flush

    std::thread m_writer;

    ~Impl() { shutdown(); }

    void shutdown() {
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

    void push(Task task) {
        {
            std::unique_lock<std::mutex> lock(m_queueMutex);
            m_queueNotFull.wait(lock, [this] { return m_queue.size() < kQueueCapacity; });
            m_queue.push_back(std::move(task));
        }
        m_queueNotEmpty.notify_one();
    }

    void pushWrite(std::function<void(Database&)> work) { push(Task{std::move(work), {}}); }

    // Queues `work` and waits for its batch to commit; a writer-side failure is thrown to
    // the caller as an Error with the same message.
    template <typename T>
    T call(std::function<void(Database&, T&)> work) {
        auto result = std::make_shared<T>();
        auto promise = std::make_shared<std::promise<Outcome<T>>>();
        std::future<Outcome<T>> future = promise->get_future();
        push(Task{[work = std::move(work), result](Database& db) { work(db, *result); },
                  [promise, result](const std::optional<std::string>& error) {
                      Outcome<T> outcome;
                      if (error) {
                          outcome.error = error;
                      } else {
                          outcome.value = std::move(*result);
                      }
                      promise->set_value(std::move(outcome));
                  }});
        Outcome<T> outcome = future.get();
        if (outcome.error) throw Error(*outcome.error);
        return std::move(outcome.value);
    }

    void recordAsyncError(const std::string& message) {
        std::lock_guard<std::mutex> lock(m_errorMutex);
        if (!m_pendingError.empty()) return;
        m_pendingError = message;
        // Once per flush period: a failing loop must not flood the terminal.
        std::cerr << "losslab: a write to the run database failed: " << message << '\n';
    }

    std::string takePendingError() {
        std::lock_guard<std::mutex> lock(m_errorMutex);
        return std::exchange(m_pendingError, std::string());
    }

    void writerLoop() {
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
                recordAsyncError(currentMessage());
            }
        }
    }

    // One transaction per batch (the point of batching: one fsync for many small writes);
    // a savepoint per task keeps one failing task from undoing the others.
    void runBatch(std::vector<Task>& batch) {
        std::vector<std::optional<std::string>> outcomes(batch.size());
        std::optional<std::string> batchError;
        try {
            m_writeDb.exec("BEGIN IMMEDIATE");
        } catch (...) {
            batchError = currentMessage();
        }
        for (std::size_t i = 0; i < batch.size() && !batchError; ++i) {
            try {
                m_writeDb.exec("SAVEPOINT task");
                batch[i].work(m_writeDb);
                m_writeDb.exec("RELEASE task");
            } catch (...) {
                outcomes[i] = currentMessage();
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
                recordAsyncError(*outcome);
            }
        }
    }

    RunRecord readRun(const Statement& row) const {
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
        return run;
    }

    // How many values one statement may bind; longer id lists are filtered here instead.
    std::size_t variableLimit() const {
        return static_cast<std::size_t>(
            sqlite3_limit(m_readDb.handle(), SQLITE_LIMIT_VARIABLE_NUMBER, -1));
    }
};

RunStore::RunStore(const std::string& path) : m_impl(std::make_unique<Impl>()) {
    m_impl->m_path = path;
    m_impl->m_host = thisHost();
    m_impl->m_pid = static_cast<std::int64_t>(getpid());
    m_impl->m_writeDb = openWriteConnection(path);
    // Opened only now: the writer has created the schema the reader relies on.
    m_impl->m_readDb = openReadConnection(path);
    m_impl->m_writer = std::thread([impl = m_impl.get()] { impl->writerLoop(); });
}

RunStore::~RunStore() {
    if (m_impl) m_impl->shutdown();
}

const std::string& RunStore::path() const {
    return m_impl->m_path;
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
        Statement insert(db,
                         "INSERT INTO experiments(name, description, task, spec_yaml, "
                         "source_path, created_at) VALUES(?, ?, ?, ?, ?, ?)");
        insert.bindText(1, experiment.name);
        insert.bindTextOrNull(2, experiment.description);
        insert.bindTextOrNull(3, experiment.taskId);
        insert.bindTextOrNull(4, experiment.specYaml);
        insert.bindTextOrNull(5, experiment.sourcePath);
        insert.bindText(6, createdAt);
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
    return m_impl->call<std::vector<std::int64_t>>(
        [experimentId, runs, now](Database& db, std::vector<std::int64_t>& ids) {
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
                "started_at, finished_at, wall_seconds, checkpoint_path, tags, notes) "
                "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
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

namespace {

// For fire-and-forget updates: a missing run is reported by the next flush().
void requireChanged(Database& db, std::int64_t runId, const char* what) {
    if (db.changes() == 0) {
        throw Error(db.path() + ": cannot " + what + " run " + std::to_string(runId) +
                    ": it does not exist");
    }
}

} // namespace

void RunStore::markStarted(std::int64_t runId, const std::string& device, int targetEpochs) {
    const std::string now = utcNow();
    const std::int64_t pid = m_impl->m_pid;
    const std::string host = m_impl->m_host;
    m_impl->pushWrite([=](Database& db) {
        // A resumed run is running again: the end time and error of its last attempt no
        // longer describe it.
        Statement update(db,
                         "UPDATE runs SET status = ?, device = ?, target_epochs = ?, "
                         "started_at = ?, finished_at = NULL, error = NULL, pid = ?, host = ? "
                         "WHERE id = ?");
        update.bindText(1, runStatusName(RunStatus::Running));
        update.bindTextOrNull(2, device);
        update.bindInt64(3, targetEpochs);
        update.bindText(4, now);
        update.bindInt64(5, pid);
        update.bindText(6, host);
        update.bindInt64(7, runId);
        update.run();
        requireChanged(db, runId, "start");
    });
}

void RunStore::appendEpoch(std::int64_t runId, int epoch, const std::vector<MetricValue>& metrics) {
    if (metrics.empty()) return;
    m_impl->pushWrite([runId, epoch, metrics](Database& db) {
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
    });
}

void RunStore::appendSteps(const std::vector<StepMetricRow>& rows) {
    if (rows.empty()) return;
    m_impl->pushWrite([rows](Database& db) {
        Statement insert(db,
                         "INSERT OR REPLACE INTO step_metrics(run_id, step, epoch, metric, value) "
                         "VALUES(?, ?, ?, ?, ?)");
        for (const StepMetricRow& row : rows) {
            insert.reset();
            insert.bindInt64(1, row.runId);
            insert.bindInt64(2, row.step);
            insert.bindInt64(3, row.epoch);
            insert.bindText(4, row.metric);
            insert.bindDouble(5, row.value);
            insert.run();
        }
    });
}

void RunStore::finishRun(std::int64_t runId, RunStatus status, int epochs, int bestEpoch,
                         double wallSeconds, const std::string& error) {
    const std::string now = utcNow();
    m_impl->pushWrite([=](Database& db) {
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
    m_impl->pushWrite([=](Database& db) {
        Statement update(db, "UPDATE runs SET checkpoint_path = ? WHERE id = ?");
        update.bindTextOrNull(1, path);
        update.bindInt64(2, runId);
        update.run();
        requireChanged(db, runId, "set the checkpoint of");
    });
}

void RunStore::setTargetEpochs(std::int64_t runId, int targetEpochs) {
    m_impl->pushWrite([=](Database& db) {
        Statement update(db, "UPDATE runs SET target_epochs = ? WHERE id = ?");
        update.bindInt64(1, targetEpochs);
        update.bindInt64(2, runId);
        update.run();
        requireChanged(db, runId, "set the target epochs of");
    });
}

int RunStore::markOrphansInterrupted() {
    const std::string host = m_impl->m_host;
    return m_impl->call<int>([host](Database& db, int& count) {
        std::vector<std::int64_t> orphans;
        Statement running(db, "SELECT id, pid, host FROM runs WHERE status = ?");
        running.bindText(1, runStatusName(RunStatus::Running));
        while (running.step()) {
            // pid 0 or below would make kill() signal a process group, not test one process.
            const bool noPid = running.isNull(1) || running.int64(1) <= 0;
            if (noPid || (running.text(2) == host && processIsGone(running.int64(1)))) {
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

void RunStore::flush() {
    Impl* impl = m_impl.get();
    auto promise = std::make_shared<std::promise<std::optional<std::string>>>();
    std::future<std::optional<std::string>> done = promise->get_future();
    // The marker's callback runs after every earlier task has finished, so the pending
    // error it collects covers exactly the writes queued before this call.
    impl->push(Impl::Task{[](Database&) {},
                          [impl, promise](const std::optional<std::string>& error) {
                              const std::string pending = impl->takePendingError();
                              if (!pending.empty()) {
                                  promise->set_value(
                                      "a queued write to the run database failed: " + pending);
                              } else {
                                  promise->set_value(error);
                              }
                          }});
    if (const std::optional<std::string> error = done.get()) throw Error(*error);
}

std::vector<ExperimentRecord> RunStore::experiments() const {
    std::lock_guard<std::mutex> lock(m_impl->m_readMutex);
    Statement select(m_impl->m_readDb,
                     "SELECT id, name, description, task, spec_yaml, source_path, created_at "
                     "FROM experiments ORDER BY id");
    std::vector<ExperimentRecord> result;
    while (select.step()) {
        ExperimentRecord experiment;
        experiment.id = select.int64(0);
        experiment.name = select.text(1);
        experiment.description = select.text(2);
        experiment.taskId = select.text(3);
        experiment.specYaml = select.text(4);
        experiment.sourcePath = select.text(5);
        experiment.createdAt = select.text(6);
        result.push_back(std::move(experiment));
    }
    return result;
}

std::vector<RunRecord> RunStore::runs(const RunFilter& filter) const {
    // Validates the name before any query, so a typo reports the valid names.
    const std::string status =
        filter.status.empty() ? std::string() : runStatusName(parseRunStatus(filter.status));

    std::lock_guard<std::mutex> lock(m_impl->m_readMutex);
    const bool bindLists =
        filter.experiments.size() + filter.runIds.size() + 1 <= m_impl->variableLimit();
    // The reported accuracies come from the same query: one pass instead of one per run.
    std::string sql =
        "SELECT r.id, r.experiment_id, e.name, r.task, r.loss_name, r.loss, r.k, r.M, r.lr, "
        "r.protocol, r.seed, r.device, r.status, r.epochs, r.best_epoch, r.target_epochs, "
        "r.depends_on, r.spec_yaml, r.error, r.created_at, r.started_at, r.finished_at, "
        "r.wall_seconds, r.checkpoint_path, r.tags, r.notes, va.value, ta.value "
        "FROM runs r JOIN experiments e ON e.id = r.experiment_id "
        "LEFT JOIN epoch_metrics va ON va.run_id = r.id AND va.epoch = r.best_epoch "
        "AND va.split = 'val' AND va.metric = 'acc' "
        "LEFT JOIN epoch_metrics ta ON ta.run_id = r.id AND ta.epoch = r.best_epoch "
        "AND ta.split = 'test' AND ta.metric = 'acc' "
        "WHERE 1";
    if (bindLists && !filter.experiments.empty()) {
        sql += " AND e.name IN (" + placeholders(filter.experiments.size()) + ")";
    }
    if (bindLists && !filter.runIds.empty()) {
        sql += " AND r.id IN (" + placeholders(filter.runIds.size()) + ")";
    }
    if (!status.empty()) sql += " AND r.status = ?";
    sql += " ORDER BY r.id";

    Statement select(m_impl->m_readDb, sql);
    int index = 1;
    if (bindLists) {
        for (const std::string& name : filter.experiments) select.bindText(index++, name);
        for (std::int64_t id : filter.runIds) select.bindInt64(index++, id);
    }
    if (!status.empty()) select.bindText(index++, status);

    const std::unordered_set<std::string> names(filter.experiments.begin(),
                                                filter.experiments.end());
    const std::unordered_set<std::int64_t> ids(filter.runIds.begin(), filter.runIds.end());
    std::vector<RunRecord> result;
    while (select.step()) {
        RunRecord run = m_impl->readRun(select);
        if (!bindLists) {
            if (!names.empty() && names.count(run.experiment) == 0) continue;
            if (!ids.empty() && ids.count(run.id) == 0) continue;
        }
        result.push_back(std::move(run));
    }
    return result;
}

std::vector<EpochMetricRow> RunStore::epochMetrics(const std::vector<std::int64_t>& runIds) const {
    std::lock_guard<std::mutex> lock(m_impl->m_readMutex);
    const bool bindList = !runIds.empty() && runIds.size() <= m_impl->variableLimit();
    std::string sql = "SELECT run_id, epoch, split, metric, value FROM epoch_metrics";
    if (bindList) sql += " WHERE run_id IN (" + placeholders(runIds.size()) + ")";
    sql += " ORDER BY run_id, epoch, split, metric";

    Statement select(m_impl->m_readDb, sql);
    if (bindList) {
        int index = 1;
        for (std::int64_t id : runIds) select.bindInt64(index++, id);
    }
    const std::unordered_set<std::int64_t> wanted(runIds.begin(), runIds.end());
    std::vector<EpochMetricRow> result;
    while (select.step()) {
        EpochMetricRow row;
        row.runId = select.int64(0);
        if (!bindList && !wanted.empty() && wanted.count(row.runId) == 0) continue;
        row.epoch = select.int32(1);
        row.value.split = select.text(2);
        row.value.metric = select.text(3);
        row.value.value = select.real(4);
        result.push_back(std::move(row));
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
    if (!parseVersion(text, version)) {
        throw Error(m_impl->m_path + " has no valid schema_version in its meta table (found '" +
                    text + "')");
    }
    return version;
}

} // namespace losslab
