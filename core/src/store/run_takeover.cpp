#include "losslab/store/run_takeover.h"

#include "losslab/error.h"
#include "losslab/store/records.h"
#include "journal_mode.h"
#include "recorder_process.h"
#include "run_store_impl.h"
#include "sqlite_db.h"
#include "store_schema.h"

namespace losslab {
namespace {

using sqlite::Database;
using sqlite::Statement;

std::vector<HeldRun> findUnfinished(Database& db, const std::vector<std::int64_t>& runIds,
                                          const Internal::RecorderProcess& self) {
    Statement find(db, std::string("SELECT status, ") + Internal::kRecorderColumns + " FROM runs WHERE id = ?");
    std::vector<HeldRun> found;
    for (const std::int64_t id : runIds) {
        find.reset();
        find.bindInt64(1, id);
        if (!find.step()) continue;
        const RunStatus stored = parseRunStatus(find.text(0));
        const Internal::RecorderProcess recorder = Internal::readRecorder(find, 1);
        if (Internal::effectiveStatus(stored, recorder, self) != stored) continue; // its process has ended
        if (stored != RunStatus::Queued && stored != RunStatus::Running) continue;
        HeldRun run;
        run.id = id;
        run.status = runStatusName(stored);
        run.host = recorder.host;
        run.pid = recorder.pid;
        run.aliveHere = recorder.host == self.host;
        found.push_back(std::move(run));
    }
    return found;
}

} // namespace

std::vector<HeldRun> heldRuns(const std::string& path, const std::vector<std::int64_t>& runIds) {
    int version = 0;
    Database db = Internal::openReadOnlyConnection(path, version, false);
    return findUnfinished(db, runIds, Internal::currentProcess());
}

std::vector<HeldRun> takeOverRuns(const std::string& path, const std::vector<std::int64_t>& runIds) {
    const Internal::RecorderProcess self = Internal::currentProcess();
    Database db = Internal::openWriteConnection(path, Internal::chooseJournal(path));
    db.exec("BEGIN IMMEDIATE");
    try {
        const std::vector<HeldRun> found = findUnfinished(db, runIds, self);
        for (const HeldRun& run : found)
            if (run.aliveHere)
                throw Error(path + ": run " + std::to_string(run.id) + " is " + run.status + " in process " +
                            (run.pid ? std::to_string(*run.pid) : std::string("?")) +
                            " on this host, which is still alive: it cannot be taken over");
        Statement update(db, "UPDATE runs SET status = ? WHERE id = ? AND status = ?");
        for (const HeldRun& run : found) {
            update.reset();
            update.bindText(1, runStatusName(RunStatus::Interrupted));
            update.bindInt64(2, run.id);
            update.bindText(3, run.status);
            update.run();
        }
        db.exec("COMMIT");
        return found;
    } catch (...) {
        db.execQuietly("ROLLBACK");
        throw;
    }
}

} // namespace losslab
