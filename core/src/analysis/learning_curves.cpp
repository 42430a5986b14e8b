#include "losslab/analysis/learning_curves.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace losslab {

std::vector<CurveGroup> buildCurves(const std::vector<RunRecord>& runs, const std::vector<EpochMetricRow>& rows,
                                    const std::string& metric) {
    const auto slash = metric.find('/');
    const std::string split = slash == std::string::npos ? "" : metric.substr(0, slash);
    const std::string name = slash == std::string::npos ? metric : metric.substr(slash + 1);

    std::vector<CurveGroup> groups;
    std::vector<LossGroupKey> keys;
    for (const auto& r : runs) keys.push_back(groupKeyOf(r));
    {
        std::vector<LossGroupKey*> pointers;
        for (auto& k : keys) pointers.push_back(&k);
        labelRecipes(pointers);
    }
    // A seed stored more than once in one group (two experiments of the same recipe selected
    // together) is drawn once, from its newest run (highest id), as the tables do.
    std::map<std::pair<std::size_t, std::int64_t>, const RunRecord*> newest; // (group, seed) -> run
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const RunRecord& r = runs[i];
        const LossGroupKey& key = keys[i];
        auto it = std::find_if(groups.begin(), groups.end(), [&](const CurveGroup& g) { return g.key == key; });
        if (it == groups.end()) {
            CurveGroup g;
            g.key = key;
            g.metric = metric;
            groups.push_back(g);
            it = groups.end() - 1;
        }
        const std::size_t g = static_cast<std::size_t>(it - groups.begin());
        const RunRecord*& chosen = newest[{g, r.seed}];
        if (!chosen || r.id > chosen->id) chosen = &r;
    }
    std::unordered_map<std::int64_t, std::pair<std::size_t, std::int64_t>> runToGroup; // run -> (group, seed)
    for (const auto& [slot, run] : newest) runToGroup[run->id] = slot;
    for (const auto& row : rows) {
        if (row.value.metric != name || (!split.empty() && row.value.split != split)) continue;
        const auto it = runToGroup.find(row.runId);
        if (it == runToGroup.end() || !std::isfinite(row.value.value)) continue;
        groups[it->second.first].seeds[it->second.second].push_back({row.epoch, row.value.value});
    }
    for (auto& g : groups) {
        std::map<int, std::vector<double>> byEpoch;
        for (auto& [seed, points] : g.seeds) {
            std::sort(points.begin(), points.end(), [](const CurvePoint& a, const CurvePoint& b) { return a.epoch < b.epoch; });
            for (const auto& p : points) byEpoch[p.epoch].push_back(p.value);
        }
        for (const auto& [epoch, values] : byEpoch) {
            const double n = static_cast<double>(values.size());
            double sum = 0;
            for (const double v : values) sum += v;
            const double mean = sum / n;
            double ss = 0;
            for (const double v : values) ss += (v - mean) * (v - mean);
            g.epochs.push_back(epoch);
            g.mean.push_back(mean);
            g.std.push_back(values.size() > 1 ? std::sqrt(ss / (n - 1)) : std::numeric_limits<double>::quiet_NaN());
            g.count.push_back(static_cast<int>(values.size()));
        }
    }
    return groups;
}

} // namespace losslab
