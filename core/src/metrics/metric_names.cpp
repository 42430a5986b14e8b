#include "losslab/metrics/metric_names.h"

#include <limits>

namespace losslab {

double findMetricValue(const std::vector<MetricValue>& values, const std::string& split, const std::string& metric) {
    for (const auto& v : values)
        if (v.split == split && v.metric == metric) return v.value;
    return std::numeric_limits<double>::quiet_NaN();
}

} // namespace losslab
