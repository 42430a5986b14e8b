#pragma once
// RunStore: every experiment, run and metric in one SQLite file (WAL mode on local disks, the
// rollback journal on network file systems; versioned schema).
//
// Thread rules: writes go through one writer thread fed by a bounded queue (a full queue
// blocks the caller: back-pressure, never an unbounded backlog); calls returning ids wait
// for the writer. Reads use a separate connection guarded by a mutex. All methods may be
// called from any thread. Torch-free.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "losslab/store/records.h"

namespace losslab {

constexpr int kSchemaVersion = 7;

// "b, a,,b , c" -> "b,a,c": trimmed, empty items and repeats dropped, first order kept.
std::string normalizeTags(const std::string& tags);

// Which runs runs() returns: a run must pass every non-empty field.
struct RunFilter {
    std::vector<std::string> experiments;    // names; empty = all
    std::vector<std::int64_t> runIds;        // empty = all
    std::string status;                      // empty = all
    std::vector<std::int64_t> experimentIds; // empty = all
};

enum class StoreAccess {
    ReadWrite, // opens or creates, and migrates an older schema
    ReadOnly,  // an existing database of the current schema; changes nothing; writes throw
};

class RunStore {
public:
    // ReadWrite: opens or creates the database (and its folder). Throws Error with the path
    // and the reason when it cannot be created or written, is not a LossLab database, or has a
    // newer schema; an existing file is never changed in those cases.
    // ReadOnly: opens an existing LossLab database without changing it, also where it cannot
    // be written (a read-only file, folder or mount; docs/database.md#read-only-files). Throws
    // Error naming the path when it is missing, empty, foreign, older or newer than
    // kSchemaVersion. Every write throws Error; flush() and flushRun() have nothing to wait for.
    explicit RunStore(const std::string& path, StoreAccess access = StoreAccess::ReadWrite);
    // For commands that only read (list, report, export): ReadOnly, except that a file of an
    // older schema is brought forward first when it can be written (ReadWrite), as opening it
    // for a run would. Throws as the constructor.
    static std::unique_ptr<RunStore> openForReading(const std::string& path);
    bool readOnly() const;
    ~RunStore(); // drains the writer queue
    RunStore(const RunStore&) = delete;
    RunStore& operator=(const RunStore&) = delete;

    const std::string& path() const;
    // One line for the user when the database does not use WAL (its folder is on a network
    // file system, or LOSSLAB_STORE_JOURNAL=delete) or uses it against the file system's
    // advice (LOSSLAB_STORE_JOURNAL=wal there); "" for WAL on a local disk. The CLI prints it
    // to stderr once. docs/database.md#network-file-systems.
    std::string journalNote() const;
    // The note a store opened at `path` now would give, without opening anything. Throws Error
    // when LOSSLAB_STORE_JOURNAL holds anything but "wal" or "delete".
    static std::string journalNoteFor(const std::string& path);
    // Where a run's weights go: <db folder>/<db name>-checkpoints/run-<id>.pt (the final
    // weights) and run-<id>.resume.pt (the state to resume from, kept while it may resume).
    std::string checkpointPathFor(std::int64_t runId) const;
    std::string resumePathFor(std::int64_t runId) const;
    // A folder for files derived from a data set and shared by its runs (the speech tasks'
    // feature cache): <db folder>/<db name>-cache. Not created here.
    std::string dataCacheDir() const;
    static std::string defaultPath(); // ${XDG_DATA_HOME:-~/.local/share}/losslab/runs.sqlite

    // --- writes (through the writer thread) ---
    // Waits; returns the id. An empty `uid` gets a new random one; a given one is kept (the
    // array tasks of one plan store one experiment uid, so their parts merge into one
    // experiment): Error when the database already holds an experiment with it.
    std::int64_t addExperiment(const ExperimentRecord& experiment);
    // Inserts the runs in one transaction; `dependsOn` of each record holds an index into
    // `runs` (or nothing) and is translated to the new ids. A run's empty `uid` gets a new
    // random one; a given one is kept (Error when taken). Waits; returns ids in order.
    std::vector<std::int64_t> addRuns(std::int64_t experimentId, const std::vector<RunRecord>& runs);
    // `library` names what trains the run ("LibTorch 2.6.0"): the same seed gives other
    // numbers under another library version, so it is kept with the run. `threads` is the
    // intra-op CPU thread count it computes with (0: not known, stored as NULL); on the CPU the
    // order of floating-point sums, and so a seed's numbers, can depend on it.
    void markStarted(std::int64_t runId, const std::string& device, int targetEpochs,
                     const std::string& library = {}, int threads = 0);
    // Stores an epoch's metrics, and the ECE bins of its evaluated splits (bins without
    // examples are not stored), and raises the run's `epochs` to `epoch` (so an interrupted run
    // shows how far it got). Bins stored again for a split of that epoch replace the old ones.
    void appendEpoch(std::int64_t runId, int epoch, const std::vector<MetricValue>& metrics,
                     const std::vector<CalibrationBins>& calibration = {});
    void appendSteps(const std::vector<StepMetricRow>& rows);
    // Final state of a run: status, epochs trained, reported epoch, wall time, error text.
    void finishRun(std::int64_t runId, RunStatus status, int epochs, int bestEpoch,
                   double wallSeconds, const std::string& error);
    void setCheckpoint(std::int64_t runId, const std::string& path);
    void setTargetEpochs(std::int64_t runId, int targetEpochs);
    // runner.reuse_prefix: stores epochs 1..`epochs` of run `fromRunId` (epoch and step
    // metrics and ECE bins) as run `toRunId`'s own, in place of any it stored (a resumed run's own
    // first epochs), and records where they came from (RunRecord::reusedFrom).
    // The source run's rows must be committed (flushRun) first.
    void copyRunPrefix(std::int64_t fromRunId, std::int64_t toRunId, int epochs);
    // Deletes the run's epoch rows and step rows of epochs after `epoch` (0: all of them),
    // and lowers its `epochs` to at most `epoch`, for a run that trains again from an earlier point. Waits; throws Error when the
    // delete fails.
    void discardMetricsAfter(std::int64_t runId, int epoch);
    // Stores `interrupted` for the runs that every read already reports so: those left
    // `running` or `queued` by a process that is gone (see runs()). Returns how many were
    // changed. Waits.
    int markOrphansInterrupted();
    // Takes interrupted or cancelled runs for this process to resume: stores them `queued`,
    // recorded by this process, in one transaction, so that another process (a second resume,
    // the window) sees them queued by a live process and refuses them instead of training them
    // twice. Throws Error naming the first run that is not interrupted or cancelled (as reads
    // show it) and the process that holds it; nothing is changed then. Waits.
    void claimForResume(const std::vector<std::int64_t>& runIds);
    // Tags: comma-separated labels; normalizeTags() is applied (trimmed, empty ones and
    // repeats dropped). Notes: free text. Neither waits; a run that no longer exists is left
    // alone. A failed write shows in flush(), or, given `done`, only there: `done` is called on
    // the writer thread once the write is committed ("") or has failed (why). It must not
    // throw or wait for the store.
    using WriteDone = std::function<void(const std::string& error)>;
    void setRunTags(std::int64_t runId, const std::string& tags, WriteDone done = {});
    void setRunNotes(std::int64_t runId, const std::string& notes, WriteDone done = {});
    // Deletes finished runs with their metrics (and their checkpoint and resume files). Throws Error
    // naming the run, and deletes nothing, when one is unknown or still queued / running.
    // Empty experiments left behind are deleted too. Waits; returns how many runs went.
    int deleteRuns(const std::vector<std::int64_t>& runIds);
    // Waits until everything queued so far is committed. Throws Error for the first queued
    // write (of any run) that failed since the last flush() and was not yet reported by
    // flushRun(); each failure is reported once.
    void flush();
    // Waits like flush(), but throws Error only when a queued write of `runId` failed (since
    // that failure was last reported); other runs' failures stay for their own flushRun()
    // and for flush().
    void flushRun(std::int64_t runId);
    // The first write that failed because the database could not take writes (disk full,
    // file-size limit, I/O error), or "" while it could. Sticky: a runner stops on it. A
    // write refused for its content (e.g. a run that does not exist) fails only its run.
    std::string writeFailure() const;

    // --- reads (own connection, one read at a time; see only committed writes) ---
    std::vector<ExperimentRecord> experiments() const; // ordered by id
    // Experiments whose name is exactly `name`, ordered by id; empty when there is none.
    std::vector<ExperimentRecord> experimentsNamed(const std::string& name) const;
    // By id; with valAcc/testAcc. A run stored as `queued` or `running` whose recording
    // process is gone (killed, crashed, rebooted; judged by pid, its start time and the boot
    // id) reads as `interrupted`, also for `filter.status`; so does one with no process
    // recorded. A run recorded on another host keeps its stored status: it cannot be checked.
    std::vector<RunRecord> runs(const RunFilter& filter = {}) const;
    // Rows of `runIds` (empty = all runs), ordered by run, epoch, split, metric.
    std::vector<EpochMetricRow> epochMetrics(const std::vector<std::int64_t>& runIds) const;
    // The rows epochMetrics() would return, in the same order, restricted to `metrics`
    // (names of the metric column, e.g. {"acc"}; empty = all), passed to `visit` one at a time
    // without collecting them; the row is valid only during the call. Holds the read lock for
    // the whole scan, so `visit` must not call this store's reads; an exception from `visit`
    // ends the scan and propagates.
    void forEachEpochMetric(const std::vector<std::int64_t>& runIds,
                            const std::function<void(const EpochMetricRow&)>& visit,
                            const std::vector<std::string>& metrics = {}) const;
    // Every row of each run in `runIds` (empty = all runs) at its bestEpoch, the epoch its
    // protocol reports, ordered by run, split, metric; a run with bestEpoch 0 gives none.
    std::vector<EpochMetricRow> reportedMetrics(const std::vector<std::int64_t>& runIds) const;
    std::vector<StepMetricRow> stepMetrics(std::int64_t runId) const; // by step, metric
    // The ECE bins of `split` of each run in `runIds` (empty = all runs) at its bestEpoch,
    // ordered by run; a run with bestEpoch 0, or without stored bins (trained before schema 7,
    // or a split it did not evaluate at that epoch), gives none.
    std::vector<CalibrationRow> reportedCalibration(const std::vector<std::int64_t>& runIds,
                                                    const std::string& split) const;
    int schemaVersion() const;

private:
    // A write of one text column of a run (tags, notes), reported to `done` when given.
    void setRunText(const char* sql, std::int64_t runId, const std::string& text, WriteDone done);

    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace losslab
