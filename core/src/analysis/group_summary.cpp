#include "losslab/analysis/group_summary.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace losslab {

SeedStats seedStats(const std::vector<double>& values) {
    SeedStats s;
    double sum = 0;
    s.min = std::numeric_limits<double>::infinity();
    s.max = -std::numeric_limits<double>::infinity();
    for (const double v : values) {
        if (std::isnan(v)) continue;
        ++s.n;
        sum += v;
        s.min = std::min(s.min, v);
        s.max = std::max(s.max, v);
    }
    const double nan = std::numeric_limits<double>::quiet_NaN();
    if (s.n == 0) return {0, nan, nan, nan, nan};
    s.mean = sum / s.n;
    double ss = 0;
    for (const double v : values)
        if (!std::isnan(v)) ss += (v - s.mean) * (v - s.mean);
    s.std = s.n > 1 ? std::sqrt(ss / (s.n - 1)) : nan;
    return s;
}

std::vector<GroupSummary> summarizeRuns(const std::vector<RunRecord>& runs, const std::string& metric) {
    std::vector<GroupSummary> groups;
    std::vector<std::vector<double>> values;
    for (const auto& r : runs) {
        auto it = std::find_if(groups.begin(), groups.end(), [&](const GroupSummary& g) {
            return g.taskId == r.taskId && g.lossName == r.lossName && g.k == r.k && g.M == r.M && g.lr == r.lr &&
                   g.protocol == r.protocol;
        });
        if (it == groups.end()) {
            GroupSummary g;
            g.taskId = r.taskId;
            g.lossName = r.lossName;
            g.loss = r.loss;
            g.k = r.k;
            g.M = r.M;
            g.lr = r.lr;
            g.protocol = r.protocol;
            groups.push_back(g);
            values.emplace_back();
            it = groups.end() - 1;
        }
        const auto idx = static_cast<std::size_t>(it - groups.begin());
        ++it->runs;
        const double v = metric == "val_acc" ? r.valAcc : r.testAcc;
        if (r.status == RunStatus::Completed && !std::isnan(v)) {
            ++it->completed;
            values[idx].push_back(v);
        } else {
            it->otherStatuses.push_back("seed " + std::to_string(r.seed) + ": " + runStatusName(r.status));
        }
    }
    for (std::size_t i = 0; i < groups.size(); ++i) groups[i].stats = seedStats(values[i]);
    return groups;
}

} // namespace losslab
