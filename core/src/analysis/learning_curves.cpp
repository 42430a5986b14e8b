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
    std::unordered_map<std::int64_t, std::pair<std::size_t, std::int64_t>> runToGroup; // run -> (group, seed)
    for (const auto& r : runs) {
        const LossGroupKey key{r.taskId, r.lossName, r.loss, r.k, r.M, r.lr, r.protocol};
        auto it = std::find_if(groups.begin(), groups.end(), [&](const CurveGroup& g) { return g.key == key; });
        if (it == groups.end()) {
            CurveGroup g;
            g.key = key;
            g.metric = metric;
            groups.push_back(g);
            it = groups.end() - 1;
        }
        const std::size_t g = static_cast<std::size_t>(it - groups.begin());
        // A seed stored twice in one group (two experiments selected together) is drawn
        // once, from its first run, as the tables do.
        bool seen = false;
        for (const auto& [id, gs] : runToGroup) seen = seen || (gs.first == g && gs.second == r.seed);
        if (!seen) runToGroup[r.id] = {g, r.seed};
    }
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
