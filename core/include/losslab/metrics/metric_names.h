#pragma once
// Names of splits and metrics as stored, and a lookup helper. Torch-free.
#include <string>
#include <vector>

#include "losslab/store/records.h"

namespace losslab {

inline const std::vector<std::string>& splitNames() {
    static const std::vector<std::string> kSplits = {"train", "val", "test"};
    return kSplits;
}

// The value of (split, metric) in `values`, NaN when absent.
double findMetricValue(const std::vector<MetricValue>& values, const std::string& split, const std::string& metric);

} // namespace losslab
