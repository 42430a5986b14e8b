#include "store_schema.h"

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <system_error>
#include <vector>

#include "losslab/error.h"
#include "losslab/store/run_store.h"

namespace losslab::Internal {
namespace {

namespace fs = std::filesystem;
using sqlite::Database;
using sqlite::Statement;

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

// Who recorded a run, precisely enough to survive pid reuse and reboots: the recording
// process's start time (clock ticks since boot, field 22 of /proc/<pid>/stat) and the boot id.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE runs ADD COLUMN pid_start INTEGER;
ALTER TABLE runs ADD COLUMN boot_id TEXT;
)sql";

// What trained a run ("LibTorch 2.6.0"): cross-entropy's last bits differ between LibTorch
// versions, so results of one seed are reproducible within a version (docs/debian13.md).
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE runs ADD COLUMN library TEXT;
)sql";

// A globally unique id per experiment and run (128 random bits as 32 lowercase hex digits), so
// that databases written apart (the parts of a Slurm job array) merge without mixing runs up:
// `losslab-cli merge` matches experiments and runs by it. randomblob() runs once per row.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE experiments ADD COLUMN uid TEXT;
ALTER TABLE runs ADD COLUMN uid TEXT;
UPDATE experiments SET uid = lower(hex(randomblob(16)));
UPDATE runs SET uid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX experiments_uid ON experiments(uid);
CREATE UNIQUE INDEX runs_uid ON runs(uid);
)sql";

// runner.reuse_prefix: a square loss's same_epochs_as_ce run whose metrics are the first
// epochs of the early-stopping run of its seed (copied, not trained) names that run by uid,
// which survives merges.
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE runs ADD COLUMN reused_from TEXT;
)sql";

// How many intra-op CPU threads a run computed with (runner.threads, or its default): on the
// CPU the thread count can change the order of floating-point sums, so a seed's numbers are
// reproducible at the same count (docs/losses-and-metrics.md). NULL before the run started.
constexpr const char* kSchemaV6 = R"sql(
ALTER TABLE runs ADD COLUMN threads INTEGER;
)sql";

// The ECE bins of each evaluated split per epoch (CalibrationBins, records.h), for reliability
// diagrams. Only bins holding examples have a row; `bins` is how many equal-width bins split
// [0, 1], and `bin` counts from 0 at the lowest confidences. A run's bins of an epoch are
// written with its metrics of that epoch.
constexpr const char* kSchemaV7 = R"sql(
CREATE TABLE calibration_bins(
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    split TEXT NOT NULL,
    bins INTEGER NOT NULL,
    bin INTEGER NOT NULL,
    count REAL NOT NULL,
    confidence_sum REAL NOT NULL,
    correct REAL NOT NULL,
    PRIMARY KEY(run_id, epoch, split, bin)
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
    {2, kSchemaV2},
    {3, kSchemaV3},
    {4, kSchemaV4},
    {5, kSchemaV5},
    {6, kSchemaV6},
    {7, kSchemaV7},
};

static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "every schema version needs exactly one migration");

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

void applyConnectionSettings(Database& db, const JournalChoice& journal) {
    sqlite3_busy_timeout(db.handle(), kBusyTimeoutMs);
    if (journal.wal) {
        // journal_mode answers with the mode in effect; a file system without shared memory
        // keeps the old mode, which is slower but still correct, so the answer is not checked.
        db.queryText("PRAGMA journal_mode = WAL");
        db.exec("PRAGMA synchronous = NORMAL");
    } else {
        // Leaving WAL needs the file to itself; while another program holds it open in WAL the
        // change waits for the busy timeout and fails, and the file stays in WAL, which still
        // works on this host.
        try {
            db.queryText("PRAGMA journal_mode = DELETE");
        } catch (const Error&) {
        }
        // Without WAL, NORMAL could lose the last commits and, on old file systems, more on a
        // power cut: FULL syncs the rollback journal before each commit.
        db.exec("PRAGMA synchronous = FULL");
    }
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

} // namespace

std::string fileUri(const std::string& path, const std::string& query) {
    const std::string absolute = fs::absolute(path).lexically_normal().string();
    std::string uri = "file:";
    for (const unsigned char c : absolute) {
        if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
            uri += static_cast<char>(c);
        } else {
            char escaped[4];
            std::snprintf(escaped, sizeof escaped, "%%%02X", c);
            uri += escaped;
        }
    }
    return uri + "?" + query;
}

Database openReadOnlyConnection(const std::string& path, int& version, bool allowEmpty) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (!fs::exists(status)) throw Error(path + ": no such file");
    if (fs::is_directory(status)) throw Error(path + " is a folder, not a LossLab database");
    Database db;
    std::string message;
    if (db.open(path, SQLITE_OPEN_READONLY, message) != SQLITE_OK) {
        throw Error("cannot read " + path + ": " + message);
    }
    sqlite3_busy_timeout(db.handle(), kBusyTimeoutMs);
    FileState state;
    try {
        state = inspect(db);
    } catch (const Error&) {
        // A WAL-mode file whose reader cannot create FILE-shm (a read-only folder or mount):
        // SQLite says "attempt to write a readonly database" without FILE-wal, "unable to open
        // database file" with one, "locking protocol" where FILE-shm is not a file.
        const int code = db.lastFailureCode();
        if (code != SQLITE_CANTOPEN && code != SQLITE_READONLY && code != SQLITE_PROTOCOL) throw;
        const fs::path wal = path + "-wal";
        std::error_code walError;
        const bool walExists = fs::exists(wal, walError);
        const std::uintmax_t walBytes = walExists ? fs::file_size(wal, walError) : 0;
        if (walExists && (walError || walBytes > 0)) {
            throw Error("cannot read " + path + " here: its latest commits are in " + wal.string() +
                        ", and reading them needs to create " + path + "-shm, which its folder does not "
                        "allow; open the database once where it can be written (any losslab-cli command "
                        "by its owner) to fold them into the file");
        }
        if (db.open(fileUri(path, "immutable=1"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, message, path) != SQLITE_OK) {
            throw Error("cannot read " + path + ": " + message);
        }
        state = inspect(db);
    }
    if (state.empty && !allowEmpty) throw Error(path + " is empty: not a LossLab database");
    version = state.version;
    return db;
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

Database openWriteConnection(const std::string& path, const JournalChoice& journal, int extraOpenFlags) {
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
        int version = 0;
        openReadOnlyConnection(path, version, true);
    }

    Database db;
    std::string message;
    if (db.open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | extraOpenFlags, message) != SQLITE_OK) {
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
        applyConnectionSettings(db, journal);
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

Database openReadConnection(const std::string& path, const JournalChoice& journal) {
    Database db;
    std::string message;
    if (db.open(path, SQLITE_OPEN_READWRITE, message) != SQLITE_OK) {
        throw Error("cannot read " + path + ": " + message);
    }
    applyConnectionSettings(db, journal);
    return db;
}

} // namespace losslab::Internal
