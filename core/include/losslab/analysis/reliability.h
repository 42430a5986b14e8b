#pragma once
// Reliability diagrams: per group of the analysis (task, recipe, loss, protocol), the ECE bins
// of its runs at their reported epochs, pooled over seeds: per confidence bin the examples,
// their mean confidence and their accuracy. Pooling adds the bins' sums, so every example of
// every seed weighs the same. Pure functions; torch-free, Qt-free.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "losslab/analysis/loss_comparison.h"
#include "losslab/analysis/seed_stats.h"
#include "losslab/store/records.h"

namespace losslab {

struct ReliabilityBin {
    double lower = 0.0, upper = 0.0; // the bin holds confidences in (lower, upper]; bin 0 also 0
    double count = 0.0;              // examples, over all pooled seeds
    double confidence = 0.0;         // mean confidence of those examples; NaN when count is 0
    double accuracy = 0.0;           // fraction of them predicted right; NaN when count is 0
};

struct ReliabilityGroup {
    LossGroupKey key;                // as in LossAnalysis::groups (recipeLabel set)
    std::string split;               // "test", "val" or "train"
    std::vector<std::int64_t> seeds; // pooled: completed runs with stored bins, ascending
    std::array<ReliabilityBin, kCalibrationBins> bins;
    double examples = 0.0;           // all pooled examples
    double pooledEce = 0.0;          // ECE of the pooled bins
    SeedStats ece;                   // over the seeds, each seed's ECE from its own bins
};

// ECE of one set of bins: sum over bins of (n_b / N) |accuracy_b - confidence_b|; NaN when
// the bins are empty.
double eceOf(const CalibrationBins& bins);

// The stored sums of `bins` as a diagram's bins: edges, examples, mean confidence, accuracy.
std::array<ReliabilityBin, kCalibrationBins> reliabilityBins(const CalibrationBins& bins);

// Groups of `analysis` in its order, each with the bins of `split` of the runs its tables use
// (LossGroup::runIds: per seed the newest run, when it completed) that `rows` hold. Groups
// without any such run are left out. `rows` come from RunStore::reportedCalibration (rows of
// other splits are ignored).
std::vector<ReliabilityGroup> buildReliability(const LossAnalysis& analysis, const std::vector<CalibrationRow>& rows,
                                               const std::string& split);

} // namespace losslab
