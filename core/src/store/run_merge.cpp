// mergeRunStores: parts of a Slurm job array into one database. Every part is checked first
// (read-only); then each is ATTACHed read-only to the target's connection and copied with
// INSERT ... SELECT in one transaction, runs mapped from the part's ids to the target's through
// a temporary table.
#include "losslab/store/run_merge.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "losslab/error.h"
#include "losslab/store/records.h"
#include "losslab/store/run_store.h"
#include "recorder_process.h"
#include "sqlite_db.h"
#include "store_files.h"
#include "store_schema.h"

namespace losslab {
namespace {

namespace fs = std::filesystem;
using Internal::RecorderProcess;
using sqlite::Database;
using sqlite::Statement;

// The attached part's schema name in SQL.
constexpr const char* kPart = "part";

std::vector<std::string> tableColumns(Database& db, const std::string& schema, const std::string& table) {
    Statement info(db, "PRAGMA " + schema + ".table_info(" + table + ")");
    std::vector<std::string> columns;
    while (info.step()) columns.push_back(info.text(1));
    return columns;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

std::string joined(const std::vector<std::string>& items, const std::string& prefix = {}) {
    std::string text;
    for (const std::string& item : items) text += (text.empty() ? "" : ", ") + prefix + item;
    return text;
}

// A run stored as queued or running whose recording process is not known to be gone: the part
// holding it may still be written.
struct UnfinishedRun {
    std::int64_t id = 0;
    std::string status;
    RecorderProcess recorder;
};

std::vector<UnfinishedRun> unfinishedRuns(Database& db, const std::string& schema, const RecorderProcess& self) {
    // Files of schema 1 lack the recorder's start time and boot id.
    const std::vector<std::string> columns = tableColumns(db, schema, "runs");
    const std::string start = contains(columns, "pid_start") ? "pid_start" : "NULL";
    const std::string boot = contains(columns, "boot_id") ? "boot_id" : "NULL";
    Statement select(db, "SELECT id, status, pid, host, " + start + ", " + boot + " FROM " + schema +
                             ".runs WHERE status IN (?, ?) ORDER BY id");
    select.bindText(1, runStatusName(RunStatus::Queued));
    select.bindText(2, runStatusName(RunStatus::Running));
    std::vector<UnfinishedRun> result;
    while (select.step()) {
        UnfinishedRun run;
        run.id = select.int64(0);
        run.status = select.text(1);
        if (!select.isNull(2)) run.recorder.pid = select.int64(2);
        run.recorder.host = select.text(3);
        if (!select.isNull(4)) run.recorder.startTicks = select.int64(4);
        run.recorder.bootId = select.text(5);
        if (!Internal::recorderIsGone(run.recorder, self)) result.push_back(std::move(run));
    }
    return result;
}

std::string unfinishedMessage(const std::string& part, const std::vector<UnfinishedRun>& runs,
                              const RecorderProcess& self) {
    const UnfinishedRun& run = runs.front();
    const std::string pid = run.recorder.pid ? std::to_string(*run.recorder.pid) : std::string("?");
    std::string message = part + ": run " + std::to_string(run.id) + " is " + run.status;
    if (run.recorder.host != self.host) {
        message += ", recorded on host " + run.recorder.host + ", pid " + pid +
                   ", which cannot be checked from here: the part may still be written; wait for its array "
                   "task to end (squeue), or pass --allow-unfinished if it was killed (its unfinished runs are "
                   "then merged as interrupted)";
    } else {
        message += " in process " + pid + " on this host, which is still alive: the part is still being "
                   "written; wait for it to end, or pass --allow-unfinished to merge its unfinished runs as "
                   "interrupted";
    }
    if (runs.size() > 1) message += " (" + std::to_string(runs.size() - 1) + " more unfinished run(s) in it)";
    return message;
}

// --allow-unfinished over runs whose process may still write them: merged as interrupted, as
// asked, but what that process stores afterwards stays in the part, and a resume in the target
// would train the run a second time beside it.
std::string allowedUnfinishedWarning(const std::string& part, const std::vector<UnfinishedRun>& runs,
                                     const RecorderProcess& self) {
    const UnfinishedRun& run = runs.front();
    const std::string pid = run.recorder.pid ? std::to_string(*run.recorder.pid) : std::string("?");
    const bool here = run.recorder.host == self.host;
    return part + ": " + std::to_string(runs.size()) + " unfinished run(s) merged as interrupted (--allow-unfinished), " +
           "though run " + std::to_string(run.id) + "'s process " + pid +
           (here ? " is still alive on this host" : " on host " + run.recorder.host + " cannot be checked from here") +
           ": if it still trains, what it stores from now on stays in the part, and resuming the run in the target "
           "trains it a second time beside it";
}

bool samePath(const std::string& a, const std::string& b) {
    std::error_code ec;
    if (fs::exists(a, ec) && fs::exists(b, ec)) {
        const bool same = fs::equivalent(a, b, ec);
        if (!ec) return same;
    }
    std::error_code ecA, ecB;
    const fs::path canonicalA = fs::weakly_canonical(a, ecA);
    const fs::path canonicalB = fs::weakly_canonical(b, ecB);
    return !ecA && !ecB && canonicalA == canonicalB;
}

// What the checks found about one part.
struct PartCheck {
    int version = 0;
    bool missingUids = false; // rows without a uid (added outside LossLab): given one before merging
};

PartCheck checkPart(const std::string& part, const std::string& target, bool allowUnfinished,
                    const RecorderProcess& self) {
    if (part.empty()) throw Error("merge: a part's path is empty");
    if (samePath(part, target)) {
        throw Error(part + " is the target database itself (--db " + target + "); a part cannot be merged into itself");
    }
    std::error_code ec;
    if (!fs::exists(part, ec)) {
        throw Error(part + ": no such file" +
                    (part.find_first_of("*?[") != std::string::npos
                         ? std::string(" (a pattern that matches no file is passed on as it is: did the array tasks run?)")
                         : std::string()));
    }
    PartCheck check;
    Database db = Internal::openReadOnlyConnection(part, check.version, false);
    if (!allowUnfinished) {
        const std::vector<UnfinishedRun> unfinished = unfinishedRuns(db, "main", self);
        if (!unfinished.empty()) throw Error(unfinishedMessage(part, unfinished, self) + "; nothing was merged");
    }
    if (check.version >= 4) {
        check.missingUids = !db.queryText("SELECT 1 FROM experiments WHERE uid IS NULL UNION ALL "
                                          "SELECT 1 FROM runs WHERE uid IS NULL LIMIT 1")
                                 .empty();
    }
    return check;
}

// Brings an older part to the current schema (it gains uids), and gives rows added outside
// LossLab the uid they lack, so that merging it again finds the same uids.
void upgradePart(const std::string& part, const PartCheck& check) {
    try {
        Database db = Internal::openWriteConnection(part, Internal::chooseJournal(part));
        db.exec("UPDATE experiments SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL");
        db.exec("UPDATE runs SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL");
    } catch (const Error& e) {
        throw Error(part + " must be upgraded before merging (schema version " + std::to_string(check.version) +
                    " to " + std::to_string(kSchemaVersion) + ", giving its runs uids), which failed: " + e.what() +
                    "; nothing was merged");
    }
}

// A file of the part at its place in the target: a hard link when both are on one file system
// (files are never changed in place, only replaced by rename, so sharing them is safe), else a
// copy, written beside and renamed so that a .pt file is always complete.
void placeFile(const std::string& from, const std::string& to, MergePartResult& counts,
               std::vector<std::string>& created) {
    std::error_code ec;
    fs::create_directories(fs::path(to).parent_path(), ec);
    if (ec) throw Error("cannot create folder " + fs::path(to).parent_path().string() + ": " + ec.message());
    fs::remove(to, ec); // left by a run deleted outside LossLab: the id is the new run's now
    fs::create_hard_link(from, to, ec);
    if (!ec) {
        created.push_back(to);
        ++counts.filesCopied;
        ++counts.filesLinked;
        return;
    }
    const std::string temporary = to + ".tmp";
    fs::copy_file(from, temporary, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(temporary, to, ec);
    if (ec) {
        std::error_code ignored;
        fs::remove(temporary, ignored);
        throw Error("cannot copy " + from + " to " + to + ": " + ec.message());
    }
    created.push_back(to);
    ++counts.filesCopied;
}

bool finishedStatus(const std::string& status) {
    return status == runStatusName(RunStatus::Completed) || status == runStatusName(RunStatus::Diverged) ||
           status == runStatusName(RunStatus::Failed);
}

// A target's copy that no process trains and that a finished copy of the part replaces.
// Queued or running is left alone: a `resume` on the target may be training it.
bool replaceableStatus(const std::string& status) {
    return status == runStatusName(RunStatus::Interrupted) || status == runStatusName(RunStatus::Cancelled);
}

class PartMerger {
public:
    PartMerger(Database& db, std::string target, const MergeOptions& options, RecorderProcess self,
               std::vector<std::string>& warnings)
        : m_db(db), m_target(std::move(target)), m_options(options), m_self(std::move(self)), m_warnings(warnings) {
        // Copied as they are: everything but the keys, the links and what the merge sets.
        for (const std::string& column : tableColumns(m_db, "main", "experiments"))
            if (column != "id") m_experimentColumns.push_back(column);
        for (const std::string& column : tableColumns(m_db, "main", "runs")) {
            if (column != "id" && column != "experiment_id" && column != "depends_on" && column != "status" &&
                column != "checkpoint_path")
                m_runColumns.push_back(column);
        }
        m_db.exec("PRAGMA temp_store = MEMORY");
        m_db.exec("CREATE TEMP TABLE IF NOT EXISTS merge_runs(old_id INTEGER PRIMARY KEY, new_id INTEGER NOT NULL, "
                  "added INTEGER NOT NULL)");
    }

    MergePartResult merge(const std::string& part) {
        const auto started = std::chrono::steady_clock::now();
        MergePartResult counts;
        counts.path = part;
        {
            Statement attach(m_db, "ATTACH DATABASE ? AS part");
            attach.bindText(1, Internal::fileUri(part, "mode=ro"));
            attach.run();
        }
        std::vector<std::string> created;
        try {
            m_db.exec("BEGIN IMMEDIATE");
            copyPart(part, counts, created);
            m_db.exec("COMMIT");
            settleSetAside(true);
        } catch (const std::exception& e) {
            if (!sqlite3_get_autocommit(m_db.handle())) m_db.execQuietly("ROLLBACK");
            for (const std::string& file : created) {
                std::error_code ignored;
                fs::remove(file, ignored);
            }
            settleSetAside(false);
            m_db.execQuietly("DETACH DATABASE part");
            throw Error(std::string(e.what()) + " (while merging " + part + " into " + m_target +
                        ": nothing of this part was merged)");
        }
        m_db.execQuietly("DETACH DATABASE part");
        counts.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        return counts;
    }

private:
    void copyPart(const std::string& part, MergePartResult& counts, std::vector<std::string>& created) {
        int version = 0;
        const std::string versionText = m_db.queryText("SELECT value FROM part.meta WHERE key = 'schema_version'");
        if (!Internal::parseVersion(versionText, version) || version != kSchemaVersion) {
            throw Error(part + " changed since it was checked: schema version '" + versionText + "', expected " +
                        std::to_string(kSchemaVersion));
        }
        // Checked again on what is copied: a requeued array task may have started meanwhile.
        const std::vector<UnfinishedRun> unfinished = unfinishedRuns(m_db, kPart, m_self);
        if (!unfinished.empty() && !m_options.allowUnfinished) throw Error(unfinishedMessage(part, unfinished, m_self));
        if (!unfinished.empty()) m_warnings.push_back(allowedUnfinishedWarning(part, unfinished, m_self));

        const std::unordered_map<std::int64_t, std::int64_t> experiments = copyExperiments(counts);
        copyRuns(part, experiments, counts);

        // Rows left under the new ids by runs deleted without foreign keys (the sqlite3 shell)
        // would collide with the copied ones.
        for (const char* table : {"epoch_metrics", "step_metrics", "calibration_bins"}) {
            m_db.exec(std::string("DELETE FROM main.") + table +
                      " WHERE run_id IN (SELECT new_id FROM temp.merge_runs WHERE added)");
        }
        // The temporary table is walked in the part's id order and each run's rows are sought
        // through the part's primary key, so rows arrive in the target's key order: appended.
        m_db.exec("INSERT INTO main.epoch_metrics(run_id, epoch, split, metric, value) "
                  "SELECT m.new_id, e.epoch, e.split, e.metric, e.value "
                  "FROM temp.merge_runs m CROSS JOIN part.epoch_metrics e ON e.run_id = m.old_id WHERE m.added");
        counts.epochRows = m_db.changes();
        m_db.exec("INSERT INTO main.step_metrics(run_id, step, epoch, metric, value) "
                  "SELECT m.new_id, s.step, s.epoch, s.metric, s.value "
                  "FROM temp.merge_runs m CROSS JOIN part.step_metrics s ON s.run_id = m.old_id WHERE m.added");
        counts.stepRows = m_db.changes();
        m_db.exec("INSERT INTO main.calibration_bins(run_id, epoch, split, bins, bin, count, confidence_sum, correct) "
                  "SELECT m.new_id, c.epoch, c.split, c.bins, c.bin, c.count, c.confidence_sum, c.correct "
                  "FROM temp.merge_runs m CROSS JOIN part.calibration_bins c ON c.run_id = m.old_id WHERE m.added");
        copyFiles(part, counts, created);
    }

    std::unordered_map<std::int64_t, std::int64_t> copyExperiments(MergePartResult& counts) {
        std::unordered_map<std::int64_t, std::int64_t> ids; // part's id -> target's
        Statement find(m_db, "SELECT id FROM main.experiments WHERE uid = ?");
        Statement insert(m_db, "INSERT INTO main.experiments(" + joined(m_experimentColumns) + ") SELECT " +
                                   joined(m_experimentColumns) + " FROM part.experiments WHERE id = ?");
        Statement list(m_db, "SELECT id, uid FROM part.experiments ORDER BY id");
        while (list.step()) {
            const std::int64_t partId = list.int64(0);
            find.reset();
            find.bindText(1, list.text(1));
            if (find.step()) {
                ids[partId] = find.int64(0);
                ++counts.experimentsPresent;
                continue;
            }
            insert.reset();
            insert.bindInt64(1, partId);
            insert.run();
            ids[partId] = m_db.lastInsertId();
            ++counts.experimentsAdded;
        }
        return ids;
    }

    void copyRuns(const std::string& part, const std::unordered_map<std::int64_t, std::int64_t>& experiments,
                  MergePartResult& counts) {
        m_db.exec("DELETE FROM temp.merge_runs");
        m_added.clear();
        Statement find(m_db, "SELECT id, status FROM main.runs WHERE uid = ?");
        Statement insert(m_db, "INSERT INTO main.runs(experiment_id, status, " + joined(m_runColumns) + ") SELECT ?, ?, " +
                                   joined(m_runColumns) + " FROM part.runs WHERE id = ?");
        // Tags and notes written on the target's copy (after the first merge) are kept; the
        // part's fill in where it has none.
        std::vector<std::string> replaced;
        for (const std::string& column : m_runColumns)
            if (column != "tags" && column != "notes") replaced.push_back(column);
        Statement replace(m_db, "UPDATE main.runs SET status = ?1, depends_on = NULL, checkpoint_path = NULL, "
                                "tags = COALESCE(NULLIF(tags, ''), (SELECT tags FROM part.runs WHERE id = ?2)), "
                                "notes = COALESCE(NULLIF(notes, ''), (SELECT notes FROM part.runs WHERE id = ?2)), (" +
                                    joined(replaced) + ") = (SELECT " + joined(replaced) + " FROM part.runs WHERE id = ?2) WHERE id = ?3");
        Statement map(m_db, "INSERT INTO temp.merge_runs(old_id, new_id, added) VALUES(?, ?, ?)");
        Statement list(m_db, "SELECT id, uid, experiment_id, status, depends_on, checkpoint_path "
                             "FROM part.runs ORDER BY id");
        std::unordered_map<std::int64_t, std::int64_t> ids; // part's id -> target's
        std::vector<std::pair<std::int64_t, std::int64_t>> links; // target's id -> part's depends_on
        while (list.step()) {
            const std::int64_t partId = list.int64(0);
            const std::string uid = list.text(1);
            std::string status = list.text(3);
            find.reset();
            find.bindText(1, uid);
            std::int64_t targetId = 0;
            bool added = false;
            if (find.step()) {
                targetId = find.int64(0);
                const std::string held = find.text(1);
                if (finishedStatus(status) && replaceableStatus(held)) {
                    // Merged while its array task had stopped it, finished there since (a
                    // requeued task): the part's copy replaces it under the same id, so runs
                    // that name it keep doing so; its rows and files are copied below.
                    replace.reset();
                    replace.bindText(1, status);
                    replace.bindInt64(2, partId);
                    replace.bindInt64(3, targetId);
                    replace.run();
                    added = true;
                    ++counts.runsReplaced;
                    if (!list.isNull(4)) links.emplace_back(targetId, list.int64(4));
                    m_added.push_back({partId, targetId, list.text(5), true});
                } else {
                    ++counts.runsPresent;
                    if (finishedStatus(status) && !finishedStatus(held) && held != status) {
                        m_warnings.push_back("run " + std::to_string(targetId) + " of " + m_target + " is " + held +
                                             ", but " + status + " in " + part + " (run " + std::to_string(partId) +
                                             "); the target's copy is kept, since a process may be training it there "
                                             "(once it has stopped, merge again to take the part's)");
                    }
                }
            } else {
                const auto experiment = experiments.find(list.int64(2));
                if (experiment == experiments.end()) {
                    throw Error(part + ": run " + std::to_string(partId) + " belongs to experiment " +
                                std::to_string(list.int64(2)) + ", which the part does not hold");
                }
                const bool wasUnfinished = status == runStatusName(RunStatus::Queued) ||
                                           status == runStatusName(RunStatus::Running);
                if (wasUnfinished) {
                    // Its process is gone, or the user said it was killed (allowUnfinished):
                    // nothing will finish it where it was, and `resume` continues it here.
                    status = runStatusName(RunStatus::Interrupted);
                    ++counts.runsInterrupted;
                }
                insert.reset();
                insert.bindInt64(1, experiment->second);
                insert.bindText(2, status);
                insert.bindInt64(3, partId);
                insert.run();
                targetId = m_db.lastInsertId();
                added = true;
                ++counts.runsAdded;
                if (!list.isNull(4)) links.emplace_back(targetId, list.int64(4));
                m_added.push_back({partId, targetId, list.text(5), false});
            }
            ids[partId] = targetId;
            map.reset();
            map.bindInt64(1, partId);
            map.bindInt64(2, targetId);
            map.bindInt64(3, added ? 1 : 0);
            map.run();
        }
        // A dependency is another run of the part: new, or already in the target by its uid.
        Statement link(m_db, "UPDATE main.runs SET depends_on = ? WHERE id = ?");
        for (const auto& [targetId, partDependency] : links) {
            const auto dependency = ids.find(partDependency);
            link.reset();
            if (dependency == ids.end()) {
                link.bindNull(1);
            } else {
                link.bindInt64(1, dependency->second);
            }
            link.bindInt64(2, targetId);
            link.run();
        }
    }

    void copyFiles(const std::string& part, MergePartResult& counts, std::vector<std::string>& created) {
        Statement update(m_db, "UPDATE main.runs SET checkpoint_path = ? WHERE id = ?");
        for (const AddedRun& run : m_added) {
            // A replaced run's own files (its resume state above all) are set aside, put back
            // if this part's merge fails and removed once it is committed.
            if (run.replaced) {
                for (const char* suffix : {".pt", ".resume.pt"}) setAside(Internal::checkpointFileOf(m_target, run.targetId, suffix));
            }
            // The part's folder first: a part's stored path is relative to where its array task
            // ran, which need not be where the merge runs.
            std::string weights = Internal::checkpointFileOf(part, run.partId, ".pt");
            std::error_code ec;
            if (!fs::exists(weights, ec)) {
                weights = !run.checkpointPath.empty() && fs::exists(run.checkpointPath, ec) ? run.checkpointPath : "";
            }
            if (!weights.empty()) {
                const std::string to = Internal::checkpointFileOf(m_target, run.targetId, ".pt");
                placeFile(weights, to, counts, created);
                update.reset();
                update.bindText(1, to);
                update.bindInt64(2, run.targetId);
                update.run();
            } else if (!run.checkpointPath.empty()) {
                m_warnings.push_back(part + ": run " + std::to_string(run.partId) + " names the checkpoint " +
                                     run.checkpointPath + ", which is missing (also in " +
                                     fs::path(Internal::checkpointFileOf(part, run.partId, ".pt")).parent_path().string() +
                                     "); run " + std::to_string(run.targetId) + " of " + m_target +
                                     " keeps the name, without a file");
            }
            const std::string resume = Internal::checkpointFileOf(part, run.partId, ".resume.pt");
            if (fs::exists(resume, ec)) {
                placeFile(resume, Internal::checkpointFileOf(m_target, run.targetId, ".resume.pt"), counts, created);
            }
        }
    }

    struct AddedRun {
        std::int64_t partId;
        std::int64_t targetId;
        std::string checkpointPath; // as the part stores it
        bool replaced;              // the target held it unfinished
    };

    void setAside(const std::string& file) {
        std::error_code ec;
        if (!fs::exists(file, ec)) return;
        const std::string aside = file + ".replaced";
        fs::rename(file, aside, ec);
        if (ec) throw Error("cannot move " + file + " aside to replace its run: " + ec.message());
        m_setAside.push_back(file);
    }

    // After the part's transaction: drop what was set aside, or (failed) put it back.
    void settleSetAside(bool committed) {
        for (const std::string& file : m_setAside) {
            std::error_code ignored;
            if (committed) {
                fs::remove(file + ".replaced", ignored);
            } else {
                fs::rename(file + ".replaced", file, ignored);
            }
        }
        m_setAside.clear();
    }

    Database& m_db;
    std::string m_target;
    const MergeOptions& m_options;
    RecorderProcess m_self;
    std::vector<std::string>& m_warnings;
    std::vector<std::string> m_experimentColumns;
    std::vector<std::string> m_runColumns;
    std::vector<AddedRun> m_added;
    std::vector<std::string> m_setAside; // files of replaced runs, moved to FILE.replaced
};

void addTo(MergePartResult& total, const MergePartResult& part) {
    total.experimentsAdded += part.experimentsAdded;
    total.experimentsPresent += part.experimentsPresent;
    total.runsAdded += part.runsAdded;
    total.runsPresent += part.runsPresent;
    total.runsReplaced += part.runsReplaced;
    total.runsInterrupted += part.runsInterrupted;
    total.epochRows += part.epochRows;
    total.stepRows += part.stepRows;
    total.filesCopied += part.filesCopied;
    total.filesLinked += part.filesLinked;
    total.seconds += part.seconds;
}

} // namespace

MergeResult mergeRunStores(const std::vector<std::string>& parts, const std::string& target,
                           const MergeOptions& options) {
    if (parts.empty()) throw Error("merge: no parts given; name the part databases to merge into " + target);
    if (target.empty()) throw Error("merge: the target database path is empty; choose one with --db");
    std::error_code ec;
    if (fs::is_directory(target, ec)) throw Error(target + " is a folder; the target database must be a file");
    const RecorderProcess self = Internal::currentProcess();
    const Internal::JournalChoice journal = Internal::chooseJournal(target); // a bad setting refuses early

    // Everything is checked before anything is written.
    std::vector<PartCheck> checks;
    checks.reserve(parts.size());
    for (const std::string& part : parts) checks.push_back(checkPart(part, target, options.allowUnfinished, self));
    if (fs::exists(target, ec)) {
        int version = 0;
        Internal::openReadOnlyConnection(target, version, true); // foreign or newer: refused unchanged
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (checks[i].version < kSchemaVersion || checks[i].missingUids) upgradePart(parts[i], checks[i]);
    }

    // A URI-enabled connection, for ATTACH of a part read-only. A relative path that begins
    // with "file:" would be taken for a URI itself.
    const std::string openPath = target.rfind("file:", 0) == 0 ? "./" + target : target;
    Database db = Internal::openWriteConnection(openPath, journal, SQLITE_OPEN_URI);
    MergeResult result;
    PartMerger merger(db, target, options, self, result.warnings);
    if (options.checked) options.checked();
    for (std::size_t i = 0; i < parts.size(); ++i) {
        MergePartResult part;
        try {
            part = merger.merge(parts[i]);
        } catch (const Error& e) {
            if (i == 0) throw;
            throw Error(std::string(e.what()) + "; the " + std::to_string(i) + " part(s) before it are merged");
        }
        addTo(result.total, part);
        result.parts.push_back(std::move(part));
        if (options.progress && !options.progress(result.parts.back(), i, parts.size()) && i + 1 < parts.size()) {
            result.stopped = true;
            break;
        }
    }
    return result;
}

} // namespace losslab
