#pragma once
// RunStore: every experiment, run and metric in one SQLite file (WAL mode, versioned schema).
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

constexpr int kSchemaVersion = 1;

struct RunFilter {
    std::vector<std::string> experiments; // names; empty = all
    std::vector<std::int64_t> runIds;     // empty = all
    std::string status;                   // empty = all
};

class RunStore {
public:
    // Opens or creates the database (and its folder). Throws Error with the path and the
    // reason when it cannot be created or written, is not a LossLab database, or has a newer
    // schema; an existing file is never changed in those cases.
    explicit RunStore(const std::string& path);
    ~RunStore(); // drains the writer queue
    RunStore(const RunStore&) = delete;
    RunStore& operator=(const RunStore&) = delete;

    const std::string& path() const;
    static std::string defaultPath(); // ${XDG_DATA_HOME:-~/.local/share}/losslab/runs.sqlite

    // --- writes (through the writer thread) ---
    std::int64_t addExperiment(const ExperimentRecord& experiment);      // waits; returns id
    // Inserts the runs in one transaction; `dependsOn` of each record holds an index into
    // `runs` (or nothing) and is translated to the new ids. Waits; returns ids in order.
    std::vector<std::int64_t> addRuns(std::int64_t experimentId, const std::vector<RunRecord>& runs);
    void markStarted(std::int64_t runId, const std::string& device, int targetEpochs);
    void appendEpoch(std::int64_t runId, int epoch, const std::vector<MetricValue>& metrics);
    void appendSteps(const std::vector<StepMetricRow>& rows);
    // Final state of a run: status, epochs trained, reported epoch, wall time, error text.
    void finishRun(std::int64_t runId, RunStatus status, int epochs, int bestEpoch,
                   double wallSeconds, const std::string& error);
    void setCheckpoint(std::int64_t runId, const std::string& path);
    void setTargetEpochs(std::int64_t runId, int targetEpochs);
    // Runs left `running` by a process that no longer exists become `interrupted`.
    // Returns how many were changed. Waits.
    int markOrphansInterrupted();
    void flush(); // waits until everything queued so far is committed

    // --- reads (own connection) ---
    std::vector<ExperimentRecord> experiments() const;
    std::vector<RunRecord> runs(const RunFilter& filter = {}) const; // with valAcc/testAcc
    std::vector<EpochMetricRow> epochMetrics(const std::vector<std::int64_t>& runIds) const;
    std::vector<StepMetricRow> stepMetrics(std::int64_t runId) const;
    int schemaVersion() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace losslab
