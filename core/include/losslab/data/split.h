#pragma once
// Seeded subsets of a TensorSplit: the validation split taken from the training set and
// the --limit-train subset. Same seed, same rows, on any device.
#include <cstdint>

#include "losslab/data/tensor_split.h"

namespace losslab {

struct TrainValSplit {
    TensorSplit train;
    TensorSplit val;
};

// Shuffles row indices with a generator seeded by `seed` and puts round(fraction * N)
// rows into val (at least 1 when fraction > 0 and N > 1). fraction in [0, 1).
TrainValSplit splitValidation(const TensorSplit& all, double fraction, std::uint64_t seed);

// The first `n` rows of a seeded shuffle; `n` <= 0 or >= size returns `all` unchanged.
TensorSplit seededSubset(const TensorSplit& all, std::int64_t n, std::uint64_t seed);

// A random permutation of [0, n) from a generator seeded by `seed` (CPU, int64).
torch::Tensor seededPermutation(std::int64_t n, std::uint64_t seed);

} // namespace losslab
