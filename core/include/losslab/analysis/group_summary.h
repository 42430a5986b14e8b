#pragma once
// Aggregates over seeds of runs that share task, loss (name, k, M, lr) and protocol:
// n, mean, sample std (n - 1), min and max of one reported metric. Pure functions over
// store records; torch-free.
#include <cstdint>
#include <string>
#include <vector>

#include "losslab/store/records.h"

namespace losslab {

struct SeedStats {
    int n = 0;
    double mean = 0.0;
    double std = 0.0; // sample standard deviation; NaN when n < 2
    double min = 0.0;
    double max = 0.0;
};

// NaN values are skipped.
SeedStats seedStats(const std::vector<double>& values);

struct GroupSummary {
    std::string taskId;
    std::string lossName;
    std::string loss; // "ce" | "square"
    double k = 1.0, M = 1.0, lr = 0.0;
    std::string protocol;
    int runs = 0;        // runs in the group, whatever their status
    int completed = 0;   // runs that reached a result
    std::vector<std::string> otherStatuses; // "seed 3: diverged"
    SeedStats stats;     // over completed runs
};

// Groups runs (in first-seen order) and summarises `metric` = "val_acc" or "test_acc" taken
// at each run's reported epoch.
std::vector<GroupSummary> summarizeRuns(const std::vector<RunRecord>& runs, const std::string& metric);

} // namespace losslab
