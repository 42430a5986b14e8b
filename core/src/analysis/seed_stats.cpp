#include "losslab/analysis/seed_stats.h"

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

} // namespace losslab
