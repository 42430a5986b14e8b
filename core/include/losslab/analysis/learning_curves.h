#pragma once
// Per-epoch curves of one metric (for the paper's Figure 2), grouped as the analysis groups
// runs (task, training recipe, loss and protocol; keys labelled by labelRecipes()): each seed's curve, and the mean and sample std over the seeds that reached each
// epoch. Pure functions; torch-free, Qt-free.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "losslab/analysis/loss_comparison.h"

namespace losslab {

struct CurvePoint {
    int epoch = 0;
    double value = 0.0;
};

struct CurveGroup {
    LossGroupKey key;
    std::string metric;                                    // "val/acc"
    std::map<std::int64_t, std::vector<CurvePoint>> seeds; // seed -> points by epoch
    std::vector<int> epochs;                               // epochs with at least one seed
    std::vector<double> mean;                              // per epoch in `epochs`
    std::vector<double> std;                               // sample std; NaN where one seed
    std::vector<int> count;                                // seeds contributing per epoch
};

// `rows` are epoch metrics of `runs` (any order); only `metric` ("val/acc") is used.
// Groups come in the order of first appearance in `runs`; runs of any status are drawn
// (a diverged run's curve is a result too). A seed held by several runs of one group is drawn
// from its newest run (highest id).
std::vector<CurveGroup> buildCurves(const std::vector<RunRecord>& runs, const std::vector<EpochMetricRow>& rows,
                                    const std::string& metric);

} // namespace losslab
