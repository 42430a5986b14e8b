#include "losslab/data/split.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "losslab/error.h"

namespace losslab {

namespace {

// Rows `[begin, begin + count)` of the permutation, on the split's device so that
// index_select never crosses devices.
TensorSplit takeRows(const TensorSplit& all, const torch::Tensor& perm, std::int64_t begin,
                     std::int64_t count) {
    return all.index(perm.narrow(0, begin, count).to(all.labels.device()));
}

} // namespace

torch::Tensor seededPermutation(std::int64_t n, std::uint64_t seed) {
    if (n < 0)
        throw Error("cannot permute " + std::to_string(n) + " rows; expected a count >= 0");
    // Drawn on the CPU with its own generator so the rows do not depend on the device or on
    // whatever else consumed the global generator.
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    return torch::randperm(n, generator, torch::TensorOptions().dtype(torch::kLong));
}

TrainValSplit splitValidation(const TensorSplit& all, double fraction, std::uint64_t seed) {
    if (!(fraction >= 0.0 && fraction < 1.0)) { // also rejects NaN
        std::ostringstream message;
        message << "validation fraction is " << fraction << "; expected a value in [0, 1)";
        throw Error(message.str());
    }
    const std::int64_t n = all.size();
    std::int64_t valCount = std::llround(fraction * static_cast<double>(n));
    if (fraction > 0.0 && n > 1)
        valCount = std::max<std::int64_t>(valCount, 1);
    // Training on nothing is never what a fraction below 1 meant.
    valCount = std::min<std::int64_t>(valCount, std::max<std::int64_t>(n - 1, 0));

    TrainValSplit split;
    if (valCount == 0) {
        split.train = all;
        // Zero rows taken from `all` keep its dtypes and trailing shapes, so callers need no
        // special case for an empty validation set.
        split.val = n == 0 ? all : takeRows(all, seededPermutation(0, seed), 0, 0);
        return split;
    }
    const torch::Tensor perm = seededPermutation(n, seed);
    split.val = takeRows(all, perm, 0, valCount);
    split.train = takeRows(all, perm, valCount, n - valCount);
    return split;
}

TensorSplit seededSubset(const TensorSplit& all, std::int64_t n, std::uint64_t seed) {
    if (n <= 0 || n >= all.size())
        return all;
    return takeRows(all, seededPermutation(all.size(), seed), 0, n);
}

} // namespace losslab
