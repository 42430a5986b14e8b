#include "losslab/analysis/reliability.h"

#include <cmath>
#include <limits>
#include <unordered_map>

namespace losslab {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

} // namespace

double eceOf(const CalibrationBins& bins) {
    const double total = bins.total();
    if (!(total > 0)) return kNaN;
    double ece = 0.0;
    for (std::size_t b = 0; b < bins.count.size(); ++b) {
        const double n = bins.count[b];
        if (n > 0) ece += (n / total) * std::abs(bins.correct[b] / n - bins.confidence[b] / n);
    }
    return ece;
}

std::array<ReliabilityBin, kCalibrationBins> reliabilityBins(const CalibrationBins& bins) {
    std::array<ReliabilityBin, kCalibrationBins> out;
    for (std::size_t b = 0; b < out.size(); ++b) {
        ReliabilityBin& bin = out[b];
        bin.lower = static_cast<double>(b) / kCalibrationBins;
        bin.upper = static_cast<double>(b + 1) / kCalibrationBins;
        bin.count = bins.count[b];
        bin.confidence = bin.count > 0 ? bins.confidence[b] / bin.count : kNaN;
        bin.accuracy = bin.count > 0 ? bins.correct[b] / bin.count : kNaN;
    }
    return out;
}

std::vector<ReliabilityGroup> buildReliability(const LossAnalysis& analysis, const std::vector<CalibrationRow>& rows,
                                               const std::string& split) {
    std::unordered_map<std::int64_t, const CalibrationBins*> binsOfRun;
    for (const CalibrationRow& row : rows)
        if (row.bins.split == split) binsOfRun[row.runId] = &row.bins;

    std::vector<ReliabilityGroup> out;
    for (const LossGroup& group : analysis.groups) {
        ReliabilityGroup g;
        g.key = group.key;
        g.split = split;
        CalibrationBins pooled;
        std::vector<double> perSeed;
        for (const auto& [seed, runId] : group.runIds) { // seeds ascending
            const auto bins = binsOfRun.find(runId);
            if (bins == binsOfRun.end() || !(bins->second->total() > 0)) continue;
            g.seeds.push_back(seed);
            perSeed.push_back(eceOf(*bins->second));
            for (std::size_t b = 0; b < pooled.count.size(); ++b) {
                pooled.count[b] += bins->second->count[b];
                pooled.confidence[b] += bins->second->confidence[b];
                pooled.correct[b] += bins->second->correct[b];
            }
        }
        if (g.seeds.empty()) continue;
        g.bins = reliabilityBins(pooled);
        g.examples = pooled.total();
        g.pooledEce = eceOf(pooled);
        g.ece = seedStats(perSeed);
        out.push_back(std::move(g));
    }
    return out;
}

} // namespace losslab
