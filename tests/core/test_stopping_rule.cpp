// Early-stopping and exact-epoch decisions on scripted validation curves.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "losslab/error.h"
#include "losslab/training/stopping_rule.h"

using losslab::StoppingRule;

namespace {
struct Trace {
    int epochsRun = 0;
    int reported = 0;
};

Trace replay(StoppingRule rule, const std::vector<double>& valAcc) {
    Trace t;
    for (std::size_t i = 0; i < valAcc.size() && !rule.shouldStop(); ++i) {
        rule.observe(static_cast<int>(i) + 1, valAcc[i]);
        t.epochsRun = static_cast<int>(i) + 1;
    }
    t.reported = rule.reportedEpoch();
    return t;
}
} // namespace

TEST(EarlyStopping, StopsAfterPatienceEpochsWithoutImprovement) {
    // Best at epoch 3; epochs 4-8 do not improve -> stop after epoch 8 (5 without improvement).
    const Trace t = replay(StoppingRule::earlyStopping(5, 100), {0.5, 0.6, 0.7, 0.69, 0.65, 0.7, 0.68, 0.66, 0.9});
    EXPECT_EQ(t.epochsRun, 8);
    EXPECT_EQ(t.reported, 3);
}

TEST(EarlyStopping, TieDoesNotCountAsImprovement) {
    const Trace t = replay(StoppingRule::earlyStopping(2, 100), {0.5, 0.7, 0.7, 0.7, 0.9});
    EXPECT_EQ(t.epochsRun, 4);
    EXPECT_EQ(t.reported, 2);
}

TEST(EarlyStopping, ImprovementResetsPatience) {
    const Trace t = replay(StoppingRule::earlyStopping(2, 100), {0.5, 0.4, 0.6, 0.5, 0.7, 0.6, 0.6, 0.99});
    EXPECT_EQ(t.epochsRun, 7);
    EXPECT_EQ(t.reported, 5);
}

TEST(EarlyStopping, MaxEpochsCapsTheRun) {
    const Trace t = replay(StoppingRule::earlyStopping(5, 4), {0.1, 0.2, 0.3, 0.4, 0.5, 0.6});
    EXPECT_EQ(t.epochsRun, 4);
    EXPECT_EQ(t.reported, 4);
}

TEST(EarlyStopping, NanNeverImproves) {
    const Trace t = replay(StoppingRule::earlyStopping(2, 100), {0.3, NAN, NAN, 0.9});
    EXPECT_EQ(t.epochsRun, 3);
    EXPECT_EQ(t.reported, 1);
}

TEST(ExactEpochs, TrainsExactlyNAndReportsTheLast) {
    const Trace t = replay(StoppingRule::exactEpochs(3), {0.9, 0.1, 0.2, 0.3, 0.4});
    EXPECT_EQ(t.epochsRun, 3);
    EXPECT_EQ(t.reported, 3);
}

TEST(StoppingRuleInput, RejectsZeroEpochsAndPatience) {
    EXPECT_THROW(StoppingRule::exactEpochs(0), losslab::Error);
    EXPECT_THROW(StoppingRule::earlyStopping(0, 10), losslab::Error);
}
