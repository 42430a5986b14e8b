#include "losslab/data/split.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "losslab/error.h"
#include "error_matchers.h"

using losslab::fixtures::throwsErrorWith;

namespace {

using losslab::Error;
using losslab::TensorSplit;

// Row i has features [i, -i], label i % 10 and length i + 1, so any row can be traced back
// and a mix-up between the tensors shows.
TensorSplit makeRows(std::int64_t n, bool withLengths = false) {
    TensorSplit split;
    const torch::Tensor ids = torch::arange(n, torch::TensorOptions().dtype(torch::kLong));
    split.features = torch::stack({ids, -ids}, 1).to(torch::kFloat);
    split.labels = ids.remainder(10);
    if (withLengths)
        split.lengths = ids + 1;
    return split;
}

std::vector<std::int64_t> rowIds(const TensorSplit& split) {
    const torch::Tensor ids = split.features.select(1, 0).to(torch::kLong).contiguous();
    return std::vector<std::int64_t>(ids.data_ptr<std::int64_t>(),
                                     ids.data_ptr<std::int64_t>() + ids.numel());
}

void expectConsistent(const TensorSplit& split) {
    const torch::Tensor ids = split.features.select(1, 0).to(torch::kLong);
    EXPECT_TRUE(torch::equal(split.features.select(1, 1), -split.features.select(1, 0)));
    EXPECT_TRUE(torch::equal(split.labels, ids.remainder(10)));
    if (split.lengths.defined()) {
        EXPECT_TRUE(torch::equal(split.lengths, ids + 1));
    }
}

TEST(DataSplit, SizesFollowFraction) {
    const losslab::TrainValSplit split = losslab::splitValidation(makeRows(100), 0.1, 7);
    EXPECT_EQ(split.val.size(), 10);
    EXPECT_EQ(split.train.size(), 90);
    EXPECT_EQ(split.val.features.size(0), 10);
    EXPECT_EQ(split.train.features.size(0), 90);

    EXPECT_EQ(losslab::splitValidation(makeRows(10), 0.25, 7).val.size(), 3); // round(2.5)
}

TEST(DataSplit, DisjointAndCovering) {
    const losslab::TrainValSplit split = losslab::splitValidation(makeRows(50, true), 0.3, 11);
    expectConsistent(split.train);
    expectConsistent(split.val);
    std::vector<std::int64_t> all = rowIds(split.train);
    const std::vector<std::int64_t> val = rowIds(split.val);
    all.insert(all.end(), val.begin(), val.end());
    std::sort(all.begin(), all.end());
    std::vector<std::int64_t> expected(50);
    for (std::int64_t i = 0; i < 50; ++i)
        expected[static_cast<std::size_t>(i)] = i;
    EXPECT_EQ(all, expected);
}

TEST(DataSplit, SameSeedSameRows) {
    const TensorSplit rows = makeRows(200);
    const losslab::TrainValSplit a = losslab::splitValidation(rows, 0.2, 1234);
    const losslab::TrainValSplit b = losslab::splitValidation(rows, 0.2, 1234);
    EXPECT_EQ(rowIds(a.val), rowIds(b.val));
    EXPECT_EQ(rowIds(a.train), rowIds(b.train));
}

TEST(DataSplit, DifferentSeedDifferentRows) {
    const TensorSplit rows = makeRows(200);
    const losslab::TrainValSplit a = losslab::splitValidation(rows, 0.2, 1);
    const losslab::TrainValSplit b = losslab::splitValidation(rows, 0.2, 2);
    EXPECT_NE(rowIds(a.val), rowIds(b.val));
}

TEST(DataSplit, RejectsFractionOutsideRange) {
    const TensorSplit rows = makeRows(10);
    for (double bad : {-0.1, 1.0, 1.5, std::numeric_limits<double>::quiet_NaN()})
        EXPECT_TRUE(
            throwsErrorWith([&] { losslab::splitValidation(rows, bad, 1); }, {"[0, 1)"}))
            << "fraction " << bad;
}

TEST(DataSplit, ZeroFractionKeepsEverythingForTraining) {
    const TensorSplit rows = makeRows(10, true);
    const losslab::TrainValSplit split = losslab::splitValidation(rows, 0.0, 1);
    EXPECT_EQ(split.train.size(), 10);
    EXPECT_EQ(split.val.size(), 0);
    ASSERT_TRUE(split.val.features.defined());
    EXPECT_EQ(split.val.features.sizes(), (std::vector<std::int64_t>{0, 2}));
    EXPECT_TRUE(split.val.lengths.defined());
}

TEST(DataSplit, SmallSetsKeepOneRowOnEachSide) {
    const losslab::TrainValSplit tiny = losslab::splitValidation(makeRows(2), 0.01, 1);
    EXPECT_EQ(tiny.val.size(), 1);
    EXPECT_EQ(tiny.train.size(), 1);

    const losslab::TrainValSplit most = losslab::splitValidation(makeRows(10), 0.99, 1);
    EXPECT_EQ(most.val.size(), 9);
    EXPECT_EQ(most.train.size(), 1);

    const losslab::TrainValSplit single = losslab::splitValidation(makeRows(1), 0.5, 1);
    EXPECT_EQ(single.val.size(), 0);
    EXPECT_EQ(single.train.size(), 1);
}

TEST(DataSplit, SubsetIsSeededAndDistinct) {
    const TensorSplit rows = makeRows(100, true);
    const TensorSplit a = losslab::seededSubset(rows, 10, 5);
    const TensorSplit b = losslab::seededSubset(rows, 10, 5);
    ASSERT_EQ(a.size(), 10);
    expectConsistent(a);
    std::vector<std::int64_t> ids = rowIds(a);
    EXPECT_EQ(ids, rowIds(b));
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
    EXPECT_NE(rowIds(a), rowIds(losslab::seededSubset(rows, 10, 6)));
}

TEST(DataSplit, SubsetOutsideRangeReturnsAll) {
    const TensorSplit rows = makeRows(20);
    for (std::int64_t n : {std::int64_t{0}, std::int64_t{-3}, std::int64_t{20}, std::int64_t{50}}) {
        const TensorSplit same = losslab::seededSubset(rows, n, 1);
        EXPECT_TRUE(same.features.is_same(rows.features)) << "n = " << n;
        EXPECT_TRUE(same.labels.is_same(rows.labels)) << "n = " << n;
    }
}

TEST(DataSplit, PermutationIsSeededCpuInt64) {
    const torch::Tensor p = losslab::seededPermutation(30, 9);
    EXPECT_EQ(p.scalar_type(), torch::kLong);
    EXPECT_EQ(p.device().type(), torch::kCPU);
    EXPECT_TRUE(torch::equal(std::get<0>(p.sort()), torch::arange(30, torch::kLong)));
    EXPECT_TRUE(torch::equal(p, losslab::seededPermutation(30, 9)));
    EXPECT_EQ(losslab::seededPermutation(0, 9).numel(), 0);
}

TEST(DataSplit, IndexAndToKeepUndefinedLengths) {
    const TensorSplit rows = makeRows(5);
    const TensorSplit picked = rows.index(torch::tensor({4, 0}, torch::kLong));
    EXPECT_FALSE(picked.lengths.defined());
    EXPECT_EQ(rowIds(picked), (std::vector<std::int64_t>{4, 0}));
    expectConsistent(picked);
    const TensorSplit moved = picked.to(torch::Device(torch::kCPU));
    EXPECT_FALSE(moved.lengths.defined());
    EXPECT_EQ(rowIds(moved), (std::vector<std::int64_t>{4, 0}));
}

} // namespace
