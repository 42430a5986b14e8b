#pragma once
// Summary statistics over seeds: n, mean, sample std (n - 1), min and max. Torch-free.
#include <cstdint>
#include <string>
#include <vector>

#include "losslab/store/records.h"

namespace losslab {

struct SeedStats {
    int n = 0;
    double mean = 0.0;
    double std = 0.0; // sample standard deviation; NaN when n < 2
    double min = 0.0;
    double max = 0.0;
};

// NaN values are skipped.
SeedStats seedStats(const std::vector<double>& values);

} // namespace losslab
