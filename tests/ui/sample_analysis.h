#pragma once
// Hand-built analysis data for the figure tests: plain structs, no store and no
// analyzeRuns(), so the figures are checked against values the test chose.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "losslab/analysis/learning_curves.h"
#include "losslab/analysis/loss_comparison.h"
#include "losslab/analysis/reliability.h"

namespace losslab::testing {

inline const std::vector<std::int64_t> kSeeds = {1, 2, 3, 4, 5};

// Test accuracies per seed (fractions), chosen so that every mean and std is distinct.
inline const std::map<std::string, std::vector<double>> kCeAcc = {
    {"toy/alpha", {0.900, 0.910, 0.920, 0.905, 0.915}},
    {"toy/beta", {0.750, 0.760, 0.745, 0.770, 0.755}},
};
inline const std::map<std::string, std::vector<double>> kSquareAcc = {
    {"toy/alpha", {0.912, 0.915, 0.921, 0.913, 0.919}},
    {"toy/beta", {0.740, 0.762, 0.741, 0.761, 0.750}},
};

inline LossGroupKey makeKey(const std::string& task, const std::string& loss, const std::string& protocol,
                            double lr = 0.1, double k = 1.0, double M = 1.0) {
    LossGroupKey key;
    key.taskId = task;
    key.loss = loss;
    key.lossName = loss == "ce" ? "cross_entropy" : "square";
    key.k = k;
    key.M = M;
    key.lr = lr;
    key.protocol = protocol;
    return key;
}

inline LossGroup makeGroup(const LossGroupKey& key, const std::string& metric, const std::vector<double>& values) {
    LossGroup group;
    group.key = key;
    group.runs = int(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        group.seeds.push_back(kSeeds[i]);
        group.values[metric][kSeeds[i]] = values[i];
    }
    group.stats[metric] = seedStats(values);
    return group;
}

inline SeedComparison makeComparison(const LossGroup& square, const LossGroup& ce, const std::string& metric,
                                     bool lowerIsBetter = false) {
    SeedComparison comparison;
    comparison.taskId = square.key.taskId;
    comparison.metric = metric;
    comparison.square = square.key;
    comparison.ce = ce.key;
    for (const auto& [seed, value] : square.values.at(metric)) {
        const double ceValue = ce.values.at(metric).at(seed);
        comparison.pairedSeeds.push_back(seed);
        comparison.differences.push_back(lowerIsBetter ? ceValue - value : value - ceValue);
    }
    return comparison;
}

// Two tasks x {CE early stopping, square early stopping, square same epochs as CE}, 5 seeds,
// test/acc. The same-epochs comparisons (a decoy for the protocol filter) use other values.
inline LossAnalysis sampleAnalysis() {
    LossAnalysis analysis;
    for (const auto& task : {std::string("toy/alpha"), std::string("toy/beta")}) {
        analysis.taskIds.push_back(task);
        analysis.tasks[task] = TaskMeta{"vision", 10, ""};
        const LossGroup ce = makeGroup(makeKey(task, "ce", "early_stopping", 0.05), "test/acc", kCeAcc.at(task));
        const LossGroup square =
            makeGroup(makeKey(task, "square", "early_stopping", 0.1), "test/acc", kSquareAcc.at(task));
        std::vector<double> sameEpochs = kSquareAcc.at(task);
        for (double& v : sameEpochs) v -= 0.03;
        const LossGroup squareSame =
            makeGroup(makeKey(task, "square", "same_epochs_as_ce", 0.1), "test/acc", sameEpochs);
        analysis.groups.push_back(ce);
        analysis.groups.push_back(square);
        analysis.groups.push_back(squareSame);
        analysis.comparisons.push_back(makeComparison(square, ce, "test/acc"));
        analysis.comparisons.push_back(makeComparison(squareSame, ce, "test/acc"));
    }
    return analysis;
}

inline std::vector<double> pairedDifferences(const std::string& task) {
    std::vector<double> out;
    for (std::size_t i = 0; i < kSeeds.size(); ++i) out.push_back(kSquareAcc.at(task)[i] - kCeAcc.at(task)[i]);
    return out;
}

inline double meanOf(const std::vector<double>& values) {
    double sum = 0.0;
    for (double v : values) sum += v;
    return sum / double(values.size());
}

inline double sampleStdOf(const std::vector<double>& values) {
    const double mean = meanOf(values);
    double squares = 0.0;
    for (double v : values) squares += (v - mean) * (v - mean);
    return std::sqrt(squares / double(values.size() - 1));
}

// One curve group with `seedCurves` (seed -> value per epoch 1..n); mean and std are
// computed here over the seeds that reached each epoch (std NaN with one seed).
inline CurveGroup makeCurveGroup(const LossGroupKey& key, const std::string& metric,
                                 const std::map<std::int64_t, std::vector<double>>& seedCurves) {
    CurveGroup group;
    group.key = key;
    group.metric = metric;
    std::size_t epochs = 0;
    for (const auto& [seed, values] : seedCurves) {
        for (std::size_t e = 0; e < values.size(); ++e) group.seeds[seed].push_back({int(e) + 1, values[e]});
        epochs = std::max(epochs, values.size());
    }
    for (std::size_t e = 0; e < epochs; ++e) {
        std::vector<double> atEpoch;
        for (const auto& [seed, values] : seedCurves)
            if (e < values.size()) atEpoch.push_back(values[e]);
        group.epochs.push_back(int(e) + 1);
        group.mean.push_back(meanOf(atEpoch));
        group.std.push_back(atEpoch.size() > 1 ? sampleStdOf(atEpoch) : std::nan(""));
        group.count.push_back(int(atEpoch.size()));
    }
    return group;
}

// CE (early stopping, 3 seeds; seed 3 stops after epoch 3, seed 2 alone reaches epoch 5) and square (same epochs as CE).
inline std::vector<CurveGroup> sampleCurves(const std::string& task) {
    return {
        makeCurveGroup(makeKey(task, "ce", "early_stopping", 0.05), "val/acc",
                       {{1, {0.50, 0.70, 0.80, 0.85}}, {2, {0.55, 0.72, 0.81, 0.86, 0.87}}, {3, {0.52, 0.69, 0.79}}}),
        makeCurveGroup(makeKey(task, "square", "same_epochs_as_ce", 0.1), "val/acc",
                       {{1, {0.40, 0.65, 0.78, 0.86}}, {2, {0.45, 0.66, 0.80, 0.87}}, {3, {0.42, 0.64, 0.77, 0.85}}}),
    };
}

// A reliability group whose bins 9, 12 and 14 hold examples (the others none): bin b has
// counts[b] examples at mean confidence (b + 0.5) / 15 with accuracy accuracies[b]; the ECE
// values are the test's, not computed from the bins.
inline ReliabilityGroup makeReliabilityGroup(const LossGroupKey& key, const std::map<int, double>& counts,
                                             const std::map<int, double>& accuracies, double eceMean, double eceStd,
                                             int seeds) {
    ReliabilityGroup group;
    group.key = key;
    group.split = "test";
    for (int s = 1; s <= seeds; ++s) group.seeds.push_back(s);
    for (std::size_t b = 0; b < group.bins.size(); ++b) {
        ReliabilityBin& bin = group.bins[b];
        bin.lower = double(b) / kCalibrationBins;
        bin.upper = double(b + 1) / kCalibrationBins;
        const auto count = counts.find(int(b));
        bin.count = count == counts.end() ? 0.0 : count->second;
        bin.confidence = bin.count > 0 ? (double(b) + 0.5) / kCalibrationBins : std::nan("");
        bin.accuracy = bin.count > 0 ? accuracies.at(int(b)) : std::nan("");
        group.examples += bin.count;
    }
    group.ece.n = seeds;
    group.ece.mean = eceMean;
    group.ece.std = eceStd;
    group.pooledEce = eceMean;
    return group;
}

// toy/alpha: CE and square (early stopping, k=1); toy/beta: CE with one seed.
inline std::vector<ReliabilityGroup> sampleReliability() {
    return {
        makeReliabilityGroup(makeKey("toy/alpha", "ce", "early_stopping"), {{9, 10}, {12, 30}, {14, 960}},
                             {{9, 0.4}, {12, 0.7}, {14, 0.99}}, 0.0213, 0.0041, 5),
        makeReliabilityGroup(makeKey("toy/alpha", "square", "early_stopping"), {{9, 20}, {14, 980}},
                             {{9, 0.8}, {14, 0.95}}, 0.0376, 0.0052, 5),
        makeReliabilityGroup(makeKey("toy/beta", "ce", "early_stopping"), {{12, 5}, {14, 95}}, {{12, 0.6}, {14, 0.9}},
                             0.05, std::nan(""), 1),
    };
}

} // namespace losslab::testing
