// MetricAccumulator: accuracy / error, top-5 (more than 5 classes), F1 of class 1 (two
// classes), ECE over 15 equal-width confidence bins and the multi-class Brier score, with the
// probabilities of the run's loss (softmax for cross-entropy, the square-loss mapping otherwise).
//
// Expected numbers were computed independently of the C++ code by a scratch script
// (/usr/bin/python3, numpy + torch 1.13), with explicit loops:
//   loss   mean of torch.nn.functional.cross_entropy (ce) or of
//          (1/C)[k (f_c - M)^2 + sum_{i != c} f_i^2] (square);
//   acc    mean of [argmax_i f_i == y]; error = 1 - acc;
//   top5   mean of [y among the 5 largest f_i] (only C > 5);
//   f1     2 TP / (2 TP + FP + FN), class 1 positive, prediction = argmax (only C == 2);
//   p      torch.softmax (ce), or clip f to [0, M], p = f / M (k = 1) or f / (k (M - f) + f),
//          renormalise, uniform when the row sums to 0 (square);
//   ece    confidence = p of the argmax class; bin j holds (j/15, (j+1)/15] (0 in bin 0);
//          sum_j n_j / N * |mean hit_j - mean confidence_j|;
//   brier  mean over examples of sum_i (p_i - [i == y])^2.
// Outputs are multiples of 1/32 or 1/64 (exact in float32, which the accumulator uses), rows
// have no ties, and no confidence lies within 1e-4 of a bin edge except confidence 1.
// Numbers are printed with repr().
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "losslab/analysis/reliability.h"
#include "losslab/losses/loss_function.h"
#include "losslab/metrics/metric_accumulator.h"
#include "losslab/metrics/metric_names.h"

namespace {

using losslab::LossFunction;
using losslab::LossKind;
using losslab::MetricAccumulator;
using losslab::MetricValue;

torch::Tensor floats(const std::vector<double>& values, std::int64_t cols) {
    const auto n = static_cast<std::int64_t>(values.size());
    return torch::tensor(values, torch::TensorOptions().dtype(torch::kDouble)).reshape({n / cols, cols}).to(torch::kFloat);
}

torch::Tensor longs(const std::vector<std::int64_t>& values) {
    return torch::tensor(values, torch::TensorOptions().dtype(torch::kLong));
}

std::map<std::string, double> byName(const std::vector<MetricValue>& values, const std::string& split) {
    std::map<std::string, double> out;
    for (const auto& v : values) {
        EXPECT_EQ(v.split, split) << v.metric;
        EXPECT_TRUE(out.emplace(v.metric, v.value).second) << "metric " << v.metric << " reported twice";
    }
    return out;
}

struct MetricCase {
    const char* name;
    LossKind kind;
    double k;
    double M;
    std::int64_t numClasses;
    std::vector<double> outputs;
    std::vector<std::int64_t> labels;
    std::vector<std::pair<std::string, double>> expected; // exactly the metrics reported
};

void PrintTo(const MetricCase& c, std::ostream* os) { *os << c.name; }

class MetricTable : public testing::TestWithParam<MetricCase> {};

TEST_P(MetricTable, FinishMatchesIndependentValues) {
    const MetricCase& c = GetParam();
    MetricAccumulator acc(LossFunction(c.kind, c.k, c.M), c.numClasses);
    acc.add(floats(c.outputs, c.numClasses), longs(c.labels));
    EXPECT_EQ(acc.count(), static_cast<std::int64_t>(c.labels.size()));
    const auto got = byName(acc.finish("val"), "val");

    std::set<std::string> expectedNames, gotNames;
    for (const auto& [name, value] : c.expected) expectedNames.insert(name);
    for (const auto& [name, value] : got) gotNames.insert(name);
    EXPECT_EQ(gotNames, expectedNames);

    for (const auto& [name, value] : c.expected) {
        const auto it = got.find(name);
        if (it == got.end()) continue; // reported by the set comparison above
        EXPECT_NEAR(it->second, value, 1e-6 * std::max(1.0, std::abs(value))) << name;
    }
}

TEST_P(MetricTable, SeveralAddsEqualOneAddOfTheConcatenation) {
    const MetricCase& c = GetParam();
    const torch::Tensor outputs = floats(c.outputs, c.numClasses);
    const torch::Tensor labels = longs(c.labels);
    const std::int64_t n = labels.size(0);
    ASSERT_GE(n, 4);

    MetricAccumulator whole(LossFunction(c.kind, c.k, c.M), c.numClasses);
    whole.add(outputs, labels);
    MetricAccumulator parts(LossFunction(c.kind, c.k, c.M), c.numClasses);
    const std::vector<std::int64_t> cuts = {0, 1, n / 2, n};
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        parts.add(outputs.slice(0, cuts[i], cuts[i + 1]), labels.slice(0, cuts[i], cuts[i + 1]));
    }
    EXPECT_EQ(parts.count(), n);

    const auto a = byName(whole.finish("test"), "test");
    const auto b = byName(parts.finish("test"), "test");
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, value] : a) {
        ASSERT_TRUE(b.count(name)) << name;
        EXPECT_NEAR(b.at(name), value, 1e-12 * std::max(1.0, std::abs(value))) << name;
    }
}

TEST_P(MetricTable, CalibrationBinsHoldEveryExampleInItsBinAndGiveTheReportedEce) {
    const MetricCase& c = GetParam();
    MetricAccumulator acc(LossFunction(c.kind, c.k, c.M), c.numClasses);
    acc.add(floats(c.outputs, c.numClasses), longs(c.labels));
    losslab::CalibrationBins bins;
    bins.split = "stale";
    const auto got = byName(acc.finish("test", &bins), "test");
    EXPECT_EQ(bins.split, "test");
    const double n = static_cast<double>(c.labels.size());
    EXPECT_DOUBLE_EQ(bins.total(), n);
    double correct = 0;
    for (int b = 0; b < losslab::kCalibrationBins; ++b) {
        const auto i = static_cast<std::size_t>(b);
        correct += bins.correct[i];
        EXPECT_LE(bins.correct[i], bins.count[i]) << "bin " << b;
        if (bins.count[i] == 0) {
            EXPECT_EQ(bins.confidence[i], 0.0) << "bin " << b;
            continue;
        }
        // Every confidence of bin b lies in (b/15, (b+1)/15] (0 in bin 0), so their mean does too.
        const double mean = bins.confidence[i] / bins.count[i];
        EXPECT_GE(mean, b == 0 ? 0.0 : b / 15.0) << "bin " << b;
        EXPECT_LE(mean, (b + 1) / 15.0 + 1e-12) << "bin " << b;
    }
    EXPECT_NEAR(correct, got.at("acc") * n, 1e-9);
    EXPECT_NEAR(losslab::eceOf(bins), got.at("ece"), 1e-12);
}

INSTANTIATE_TEST_SUITE_P(
    Table, MetricTable,
    testing::Values(
        // Ten classes: top5, no f1.
        MetricCase{"ce_C10", LossKind::CrossEntropy, 1, 1, 10,
                   {0.0, 1.84375, 1.0, 0.5, 3.5, 1.625, -2.59375, 0.125, -1.28125, -2.75, -2.25, -0.34375,
                    -2.1875, -0.9375, -1.71875, 2.03125, 0.21875, 0.125, -2.84375, 1.0, 3.5625, 1.1875, 0.0625,
                    1.125, 1.25, 2.34375, 2.3125, 0.53125, -3.0, 1.90625, 2.0625, 2.84375, 1.5, 1.40625,
                    2.65625, -1.8125, -1.40625, -0.03125, -0.71875, 0.84375, -1.625, -2.03125, 2.1875, 3.625,
                    -1.0625, -0.65625, -2.78125, 0.71875, 1.25, -2.0, -0.03125, -1.34375, -0.84375, 0.625,
                    -1.09375, 0.78125, 0.375, 0.3125, -0.8125, -0.90625, 2.96875, -1.34375, -0.21875, -0.8125,
                    -1.4375, 1.90625, 2.84375, 3.6875, -1.9375, -2.875, -2.375, -1.28125, 0.8125, -0.21875,
                    -1.65625, -0.875, 1.40625, 1.15625, 0.03125, 1.125, 1.25, -0.21875, 3.75, -1.5625, 0.15625,
                    -1.25, -1.375, 0.96875, -2.84375, 0.625, 2.25, -0.59375, -1.59375, 0.90625, 0.125,
                    -0.96875, -1.21875, 2.625, -1.34375, 1.78125, -0.28125, 3.8125, 1.53125, -1.15625,
                    1.59375, -2.40625, -2.15625, -1.59375, -0.21875, -2.6875, -1.375, -0.28125, 1.125,
                    2.09375, 2.21875, -1.25, -0.25, -1.625, -2.28125, -2.9375},
                   {4, 1, 0, 3, 3, 6, 7, 1, 2, 2, 1, 9},
                   {{"loss", 2.119217062292039}, {"acc", 0.5}, {"error", 0.5}, {"top5", 0.75},
                    {"ece", 0.35687093132665754}, {"brier", 0.6638173909216504}}},
        // Two classes: f1 of class 1, no top5.
        MetricCase{"ce_C2", LossKind::CrossEntropy, 1, 1, 2,
                   {1.84375, -1.75, 0.25, -1.28125, 0.0625, -1.84375, 0.8125, -1.28125, -1.625, 1.46875,
                    1.03125, -1.53125, 0.875, 1.375, -1.0625, 1.625, -2.0, 1.53125, 1.125, -0.71875},
                   {1, 0, 1, 1, 0, 0, 1, 0, 1, 1},
                   {{"loss", 1.6530702465380849}, {"acc", 0.4}, {"error", 0.6}, {"f1", 0.4},
                    {"ece", 0.5590145595133547}, {"brier", 1.0430144309085394}}},
        // Five classes: neither top5 (needs more than 5) nor f1.
        MetricCase{"ce_C5", LossKind::CrossEntropy, 1, 1, 5,
                   {0.25, 0.65625, -0.46875, -0.71875, 1.96875, 1.71875, 0.875, 0.0, -1.46875, -0.40625,
                    -0.40625, -0.09375, 1.65625, -1.03125, -0.8125, -0.25, 1.15625, 0.5625, -1.625, -0.1875,
                    -1.6875, 0.0, 0.96875, 0.3125, 1.53125, 0.5625, -0.625, -1.25, 0.53125, 1.90625},
                   {0, 1, 2, 3, 4, 0},
                   {{"loss", 1.6834778574931288}, {"acc", 0.3333333333333333}, {"error", 0.6666666666666667},
                    {"ece", 0.36146964229889084}, {"brier", 0.832203793923505}}},
        // Six classes: top5 appears.
        MetricCase{"ce_C6", LossKind::CrossEntropy, 1, 1, 6,
                   {-0.9375, 1.40625, 0.9375, 0.34375, -1.09375, -1.53125, -1.9375, -1.125, -1.3125,
                    1.71875, 0.71875, 1.125, -1.53125, 1.4375, 1.375, 1.125, 1.5, 1.21875, -0.09375, -1.6875,
                    -0.4375, 1.3125, -0.875, 0.59375, -0.78125, -1.46875, -1.1875, 1.1875, -1.71875, 1.0,
                    -0.84375, 0.0, 1.0625, -2.0, -1.59375, 1.03125},
                   {0, 1, 2, 3, 4, 5},
                   {{"loss", 2.2795020434171667}, {"acc", 0.16666666666666666}, {"error", 0.8333333333333334},
                    {"top5", 0.8333333333333334}, {"ece", 0.2600104501432411}, {"brier", 0.9207745516714838}}},
        // Square loss, two classes: ECE and Brier from the clipped / renormalised outputs.
        MetricCase{"square_k1_M1_C2", LossKind::Square, 1, 1, 2,
                   {0.875, 0.09375, 0.25, 0.75, -0.5, 0.625, 1.25, -0.25, 0.40625, 0.5625, -0.75, -0.25,
                    0.6875, 0.1875, 0.03125, 0.96875},
                   {0, 1, 0, 0, 1, 1, 1, 1},
                   {{"loss", 0.408203125}, {"acc", 0.75}, {"error", 0.25}, {"f1", 0.8},
                    {"ece", 0.3150741647465438}, {"brier", 0.5290118066404176}}},
        // Square loss with the edge rows: p exactly one-hot (confidence 1, last bin), all
        // outputs <= 0 (uniform), two outputs clipped to M.
        MetricCase{"square_k1_M1_C4", LossKind::Square, 1, 1, 4,
                   {1.0, 0.0625, -0.125, 0.03125, -0.5, -1.0, -0.25, -2.0, 2.0, 3.0, -1.0, 0.25, 0.6875, 0.25,
                    0.125, 0.5, 0.1875, 0.8125, 0.0625, -0.0625, 0.375, 0.3125, 0.4375, 0.0},
                   {0, 2, 1, 3, 1, 0},
                   {{"loss", 0.7272542317708334}, {"acc", 0.6666666666666666}, {"error", 0.33333333333333337},
                    {"ece", 0.2625754746342982}, {"brier", 0.4551253323406342}}},
        // Rescaled square loss (k = 15, M = 30): p = f / (k (M - f) + f).
        MetricCase{"square_k15_M30_C10", LossKind::Square, 15, 30, 10,
                   {0.59375, 3.90625, 3.03125, 1.78125, 3.1875, -0.3125, 1.40625, 27.515625, -0.78125,
                    5.90625, 4.96875, 3.25, -1.59375, 2.5, 3.265625, -1.46875, 2.375, 1.0, 1.15625, 5.0625,
                    3.71875, -0.1875, 4.53125, 29.890625, 5.65625, 3.3125, 2.78125, -0.9375, -1.21875,
                    2.84375, 2.0625, 1.0, -1.65625, 0.5, -0.875, 14.015625, 2.625, 0.53125, 2.375, 4.875,
                    0.515625, -1.5625, 2.8125, 5.9375, 0.125, 5.71875, -1.59375, 0.25, 1.03125, -0.9375,
                    2.875, 1.25, -0.5, 31.015625, 0.6875, -0.96875, 3.625, 3.0, -1.9375, 0.34375, 5.21875,
                    -1.375, 0.5625, 0.5, 1.875, 3.59375, 2.625, 25.015625, 0.40625, 3.03125, 5.09375, 5.375,
                    2.46875, 2.140625, 5.0, 5.25, 0.15625, 3.125, 4.8125, 2.90625, 5.96875, 3.84375, 0.21875,
                    3.5625, 28.515625, 5.59375, 5.1875, 4.1875, 1.65625, 2.71875, 5.3125, 1.90625, 2.65625,
                    0.09375, 18.765625, 2.125, 1.125, 2.6875, 4.125, 5.28125},
                   {7, 4, 3, 5, 0, 3, 7, 3, 4, 4},
                   {{"loss", 425.22733886718754}, {"acc", 0.7}, {"error", 0.30000000000000004}, {"top5", 0.9},
                    {"ece", 0.20029716906078524}, {"brier", 0.3570848664962142}}}),
    [](const testing::TestParamInfo<MetricCase>& info) { return std::string(info.param.name); });

TEST(MetricAccumulatorSquare, HandWorkedEceAndBrierUseTheSquareLossMapping) {
    // Square loss k = M = 1, two classes, both labels 0.
    //   row 0: f = (1, 0)       -> p = (1, 0),      predicts 0 (hit),  confidence 1    -> bin 14
    //   row 1: f = (0.25, 0.75) -> p = (0.25, 0.75), predicts 1 (miss), confidence 0.75 -> bin 11
    // ECE = 1/2 |1 - 1| + 1/2 |0 - 0.75| = 0.375
    // Brier = ((1-1)^2 + 0^2 + (0.25-1)^2 + 0.75^2) / 2 = 0.5625
    // F1 of class 1: TP 0, FP 1, FN 0 -> 0.
    const torch::Tensor outputs = floats({1.0, 0.0, 0.25, 0.75}, 2);
    const torch::Tensor labels = longs({0, 0});
    MetricAccumulator square(LossFunction(LossKind::Square, 1, 1), 2);
    square.add(outputs, labels);
    const auto values = square.finish("test");
    EXPECT_DOUBLE_EQ(losslab::findMetricValue(values, "test", "ece"), 0.375);
    EXPECT_DOUBLE_EQ(losslab::findMetricValue(values, "test", "brier"), 0.5625);
    EXPECT_DOUBLE_EQ(losslab::findMetricValue(values, "test", "acc"), 0.5);
    EXPECT_DOUBLE_EQ(losslab::findMetricValue(values, "test", "f1"), 0.0);
    // The bins behind that ECE: row 0 in bin 14 (right), row 1 in bin 11 (wrong), no other.
    losslab::CalibrationBins bins;
    square.finish("test", &bins);
    for (int b = 0; b < losslab::kCalibrationBins; ++b) {
        const auto i = static_cast<std::size_t>(b);
        EXPECT_EQ(bins.count[i], b == 14 || b == 11 ? 1.0 : 0.0) << "bin " << b;
        EXPECT_EQ(bins.confidence[i], b == 14 ? 1.0 : b == 11 ? 0.75 : 0.0) << "bin " << b;
        EXPECT_EQ(bins.correct[i], b == 14 ? 1.0 : 0.0) << "bin " << b;
    }

    // The same outputs read through softmax give other values: the mapping matters.
    MetricAccumulator ce(LossFunction(LossKind::CrossEntropy, 1, 1), 2);
    ce.add(outputs, labels);
    const auto ceValues = ce.finish("test");
    EXPECT_GT(std::abs(losslab::findMetricValue(ceValues, "test", "brier") - 0.5625), 0.05);
    EXPECT_GT(std::abs(losslab::findMetricValue(ceValues, "test", "ece") - 0.375), 0.05);
}

TEST(MetricAccumulatorF1, CountsClassOneAsPositive) {
    // pred: 1 1 0 0 1 0 ; label: 1 0 1 0 1 1 -> TP 2, FP 1, FN 2 -> F1 = 4 / (4 + 1 + 2) = 4/7.
    // With class 0 as positive it would be TP 1, FP 2, FN 1 -> 2/5: a swap shows.
    const torch::Tensor outputs =
        floats({0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0}, 2);
    MetricAccumulator acc(LossFunction(LossKind::CrossEntropy, 1, 1), 2);
    acc.add(outputs, longs({1, 0, 1, 0, 1, 1}));
    EXPECT_NEAR(losslab::findMetricValue(acc.finish("val"), "val", "f1"), 4.0 / 7.0, 1e-12);
}

TEST(MetricAccumulatorF1, NoPositivePredictedOrPresentGivesZero) {
    // 2TP + FP + FN = 0: reported as 0 (no NaN in the store).
    MetricAccumulator acc(LossFunction(LossKind::CrossEntropy, 1, 1), 2);
    acc.add(floats({2.0, 0.0, 1.0, -1.0}, 2), longs({0, 0}));
    const double f1 = losslab::findMetricValue(acc.finish("val"), "val", "f1");
    EXPECT_EQ(f1, 0.0);
}

TEST(MetricAccumulatorTop5, CountsLabelAmongFiveLargestOutputs) {
    // C = 7. Row 0: label is the 5th largest (hit); row 1: label is the 6th largest (miss).
    const torch::Tensor outputs =
        floats({7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0}, 7);
    MetricAccumulator acc(LossFunction(LossKind::CrossEntropy, 1, 1), 7);
    acc.add(outputs, longs({4, 1}));
    const auto values = acc.finish("train");
    EXPECT_DOUBLE_EQ(losslab::findMetricValue(values, "train", "top5"), 0.5);
    EXPECT_DOUBLE_EQ(losslab::findMetricValue(values, "train", "acc"), 0.0);
    EXPECT_DOUBLE_EQ(losslab::findMetricValue(values, "train", "error"), 1.0);
}

TEST(MetricAccumulatorEce, PerfectlyConfidentAndRightIsZero) {
    // p exactly one-hot on the right class: confidence 1 = accuracy 1 in the last bin.
    MetricAccumulator acc(LossFunction(LossKind::Square, 15, 30), 3);
    acc.add(floats({30.0, 0.0, -1.0, 0.0, 31.0, 0.0}, 3), longs({0, 1}));
    const auto values = acc.finish("val");
    EXPECT_DOUBLE_EQ(losslab::findMetricValue(values, "val", "ece"), 0.0);
    EXPECT_DOUBLE_EQ(losslab::findMetricValue(values, "val", "brier"), 0.0);
    EXPECT_DOUBLE_EQ(losslab::findMetricValue(values, "val", "acc"), 1.0);
}

// A model that puts out NaN or infinity (a run on its way to diverging) is measured, not a
// crash: the confidence bin of a NaN was INT64_MIN and index_add_ threw "index out of range",
// which failed the run instead of letting the divergence rule mark it diverged. The split then
// has no calibration bins: a NaN confidence sum could not be stored.
TEST(MetricAccumulatorState, NonFiniteOutputsGiveNonFiniteLossAndEceInsteadOfAThrow) {
    const double nan = std::nan("");
    const double inf = std::numeric_limits<double>::infinity();
    for (const LossKind kind : {LossKind::CrossEntropy, LossKind::Square}) {
        MetricAccumulator acc(LossFunction(kind, 1, 1), 7);
        const torch::Tensor outputs = floats({nan, nan, nan, nan, nan, nan, nan,  //
                                              1.0, inf, 0.0, 0.0, 0.0, 0.0, 0.0,  //
                                              3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}, 7);
        ASSERT_NO_THROW(acc.add(outputs, longs({0, 1, 0})));
        losslab::CalibrationBins bins;
        const auto values = acc.finish("val", &bins);
        EXPECT_FALSE(std::isfinite(losslab::findMetricValue(values, "val", "loss")));
        EXPECT_EQ(bins.split, "val");
        if (kind == LossKind::CrossEntropy) {
            // softmax gives NaN: no ECE, and no bins to store (their columns are NOT NULL) or draw.
            EXPECT_FALSE(std::isfinite(losslab::findMetricValue(values, "val", "ece")));
            EXPECT_EQ(bins.total(), 0.0);
        } else {
            // The square loss's mapping takes a row without a positive sum as uniform
            // (losses-and-metrics.md), a NaN row too: every example is in a bin.
            EXPECT_TRUE(std::isfinite(losslab::findMetricValue(values, "val", "ece")));
            EXPECT_EQ(bins.total(), 3.0);
        }
    }
}

TEST(MetricAccumulatorState, NothingAddedGivesNoValues) {
    MetricAccumulator acc(LossFunction(LossKind::CrossEntropy, 1, 1), 10);
    EXPECT_EQ(acc.count(), 0);
    EXPECT_TRUE(acc.finish("val").empty());
    losslab::CalibrationBins bins;
    bins.count[3] = 7;
    EXPECT_TRUE(acc.finish("val", &bins).empty());
    EXPECT_EQ(bins.split, "val");
    EXPECT_EQ(bins.total(), 0.0);
}

TEST(MetricAccumulatorState, AcceptsOutputsThatRequireGradAndDoubleOutputs) {
    // Evaluation may hand over the training graph's outputs; no gradient is kept.
    const std::vector<double> raw = {0.5, 0.25, -0.5, 0.125, 0.0, 0.75};
    MetricAccumulator fromGrad(LossFunction(LossKind::Square, 1, 1), 3);
    fromGrad.add(floats(raw, 3).requires_grad_(true), longs({0, 2}));
    MetricAccumulator fromDouble(LossFunction(LossKind::Square, 1, 1), 3);
    fromDouble.add(floats(raw, 3).to(torch::kDouble), longs({0, 2}));
    const auto a = byName(fromGrad.finish("val"), "val");
    const auto b = byName(fromDouble.finish("val"), "val");
    EXPECT_DOUBLE_EQ(a.at("acc"), 1.0);
    for (const auto& [name, value] : a) EXPECT_DOUBLE_EQ(b.at(name), value) << name;
}

} // namespace
