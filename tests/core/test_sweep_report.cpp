// The sweep part of the report (analysis/sweep_analysis.h, report/sweep_tables.h): a 2 x 2
// (k, M) grid of the square loss over seeds 0-2 plus cross-entropy, values by formula so that
// every number below can be worked out by hand:
//   CE                 test 0.80 + 0.01 s   val 0.81 + 0.01 s
//   square k=1, M=1    test 0.80 + 0.02 s   val 0.80 + 0.01 s   (diff to CE: 0.01 s)
//   square k=1, M=10   test 0.85 + 0.01 s   val 0.79 + 0.01 s   (best on test, worst on val)
//   square k=5, M=1    test 0.83 + 0.01 s   val 0.84 + 0.01 s   (best on val: the tuned point)
//   square k=5, M=10   test 0.75 + 0.01 s   val 0.76 + 0.01 s   (seed 2 diverged)
// The runs carry real RunSpec::toYaml() text with the sweep axes, as `losslab-cli run` stores it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>

#include "losslab/analysis/loss_comparison.h"
#include "losslab/analysis/sweep_analysis.h"
#include "losslab/report/report_files.h"
#include "losslab/report/report_table.h"
#include "losslab/report/sweep_tables.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "report_fixture.h"
#include "scratch_dir.h"

namespace fs = std::filesystem;
using namespace losslab;

namespace {

const std::string kTask = "fashion_mnist/mlp";
constexpr double kT975df2 = 4.302652729749464; // Student t, 0.975 quantile, 2 degrees of freedom

struct Plan {
    std::string loss = "square";
    double k = 1.0, M = 1.0, lr = 0.2;
    std::string protocol = "early_stopping";
    std::int64_t seed = 0;
    std::vector<std::string> axes;
    std::string hidden = "[16]";
    double test = 0.0;
    std::optional<double> val;
    RunStatus status = RunStatus::Completed;
};

std::string specYaml(const Plan& p) {
    RunSpec r;
    r.experiment = "km";
    r.taskId = kTask;
    r.loss.name = p.loss;
    r.loss.kind = p.loss == "ce" ? LossKind::CrossEntropy : LossKind::Square;
    r.loss.k = p.k;
    r.loss.M = p.M;
    r.loss.lr = p.lr;
    r.protocol = parseProtocol(p.protocol, "test");
    r.seed = p.seed;
    r.device = "cpu";
    r.sweepAxes = p.axes;
    r.params.set("model.hidden", p.hidden, ParamType::IntList);
    r.params.set("train.batch_size", "128", ParamType::Int);
    return r.toYaml();
}

RunRecord record(const Plan& p) {
    RunRecord r;
    r.experimentId = 1;
    r.experiment = "km";
    r.taskId = kTask;
    r.lossName = p.loss;
    r.loss = p.loss;
    r.k = p.k;
    r.M = p.M;
    r.lr = p.lr;
    r.protocol = p.protocol;
    r.seed = p.seed;
    r.status = p.status;
    r.specYaml = specYaml(p);
    return r;
}

struct Point {
    double k, M, test, val;
};
const std::vector<Point> kGrid = {{1, 1, 0.80, 0.80}, {1, 10, 0.85, 0.79}, {5, 1, 0.83, 0.84}, {5, 10, 0.75, 0.76}};

double squareTest(const Point& p, std::int64_t s) { return p.test + (p.k == 1 && p.M == 1 ? 0.02 : 0.01) * static_cast<double>(s); }

// The plans of the fixture: CE (no sweep) and the 2 x 2 square grid, seeds 0-2. With
// `withVal` false no run stores a validation value (as a fixed_epochs run without a split).
std::vector<Plan> gridPlans(bool withVal = true, bool allOfLastDiverged = false, const std::string& protocol = "early_stopping") {
    std::vector<Plan> plans;
    for (std::int64_t s = 0; s < 3; ++s) {
        Plan ce;
        ce.loss = "ce";
        ce.lr = 0.1;
        ce.protocol = protocol;
        ce.seed = s;
        ce.test = 0.80 + 0.01 * static_cast<double>(s);
        if (withVal) ce.val = 0.81 + 0.01 * static_cast<double>(s);
        plans.push_back(ce);
        for (const Point& g : kGrid) {
            Plan sq;
            sq.k = g.k;
            sq.M = g.M;
            sq.protocol = protocol;
            sq.seed = s;
            sq.axes = {"loss.k", "loss.M"};
            sq.test = squareTest(g, s);
            if (withVal) sq.val = g.val + 0.01 * static_cast<double>(s);
            if (g.k == 5 && g.M == 10 && (s == 2 || allOfLastDiverged)) sq.status = RunStatus::Diverged;
            plans.push_back(sq);
        }
    }
    return plans;
}

std::vector<RunResult> results(const std::vector<Plan>& plans, const std::string& metric = "acc") {
    std::vector<RunResult> out;
    std::int64_t id = 1;
    for (const Plan& p : plans) {
        RunResult rr;
        rr.run = record(p);
        rr.run.id = id++;
        if (p.status == RunStatus::Completed) {
            const bool error = metric == "error";
            rr.reported["test/" + metric] = error ? 1.0 - p.test : p.test;
            if (p.val) rr.reported["val/" + metric] = error ? 1.0 - *p.val : *p.val;
        }
        out.push_back(rr);
    }
    return out;
}

SweepAnalysis analyze(const std::vector<RunResult>& runs, const AnalysisOptions& options = {}) {
    const LossAnalysis analysis = analyzeRuns(runs, {{kTask, {"vision", 10, ""}}}, options);
    return analyzeSweeps(runs, analysis, options);
}

// `loss` is a plain pointer: with a std::string, g++ 14 and later take the returned row for a
// reference into that temporary (-Wdangling-reference).
const TunedLoss& tunedRow(const SweepAnalysis& s, const char* loss) {
    for (const auto& t : s.tuned)
        if (t.loss == loss) return t;
    throw std::runtime_error(std::string("no tuned row for ") + loss);
}

bool anyNoteContains(const std::vector<std::string>& notes, const std::string& text) {
    for (const auto& n : notes)
        if (n.find(text) != std::string::npos) return true;
    return false;
}

} // namespace

TEST(SweepAnalysisTest, GridMeansAndStdsPerPoint) {
    const SweepAnalysis s = analyze(results(gridPlans()));
    EXPECT_EQ(s.metric, "test/acc");
    EXPECT_EQ(s.valMetric, "val/acc");
    ASSERT_EQ(s.families.size(), 1u) << "cross-entropy was not swept: no family of its own";
    const SweepFamily& f = s.families.front();
    EXPECT_EQ(f.taskId, kTask);
    EXPECT_EQ(f.lossName, "square");
    EXPECT_EQ(f.protocol, "early_stopping");
    EXPECT_EQ(f.axes, (std::vector<std::string>{"loss.k", "loss.M"}));
    EXPECT_EQ(f.axisValues, (std::vector<std::vector<std::string>>{{"1", "5"}, {"1", "10"}}));
    EXPECT_EQ(f.fullGrid, 4);
    ASSERT_EQ(f.points.size(), 4u);
    // Grid order: the first axis slowest.
    EXPECT_EQ(f.points[1].values, (std::vector<std::string>{"1", "10"}));
    EXPECT_EQ(f.points[1].label(f.axes), "k=1, M=10");

    const SweepPoint* p11 = f.find({"1", "1"});
    ASSERT_NE(p11, nullptr);
    EXPECT_EQ(p11->test.n, 3);
    EXPECT_NEAR(p11->test.mean, 0.82, 1e-12);
    EXPECT_NEAR(p11->test.std, 0.02, 1e-12);
    EXPECT_NEAR(p11->val.mean, 0.81, 1e-12);
    EXPECT_NEAR(p11->val.std, 0.01, 1e-12);

    const SweepPoint* p51 = f.find({"5", "1"});
    ASSERT_NE(p51, nullptr);
    EXPECT_NEAR(p51->test.mean, 0.84, 1e-12);
    EXPECT_NEAR(p51->test.std, 0.01, 1e-12);

    // k=5, M=10: seed 2 diverged, two seeds left.
    const SweepPoint* p510 = f.find({"5", "10"});
    ASSERT_NE(p510, nullptr);
    EXPECT_EQ(p510->runs, 3);
    EXPECT_EQ(p510->test.n, 2);
    EXPECT_NEAR(p510->test.mean, 0.755, 1e-12);
    EXPECT_NEAR(p510->test.std, 0.01 / std::sqrt(2.0), 1e-12);
    EXPECT_EQ(p510->notCompleted, (std::vector<std::string>{"seed 2: diverged"}));
    EXPECT_TRUE(anyNoteContains(s.notes, "at k=5, M=10: 1 of 3 run(s) not completed (seed 2: diverged)"));
}

TEST(SweepAnalysisTest, PairedDifferenceToCrossEntropyPerPoint) {
    const SweepAnalysis s = analyze(results(gridPlans()));
    const SweepFamily& f = s.families.front();
    // k=1, M=1: differences 0, 0.01, 0.02: mean 0.01, std 0.01, interval 0.01 -/+ t * 0.01 / sqrt(3).
    const SweepPoint* p11 = f.find({"1", "1"});
    ASSERT_TRUE(p11->paired);
    EXPECT_EQ(p11->ce.loss, "ce");
    EXPECT_EQ(p11->pairedSeeds, (std::vector<std::int64_t>{0, 1, 2}));
    EXPECT_EQ(p11->diff.n, 3);
    EXPECT_NEAR(p11->diff.mean, 0.01, 1e-12);
    EXPECT_NEAR(p11->diff.std, 0.01, 1e-12);
    EXPECT_NEAR(p11->diff.ciLow, 0.01 - kT975df2 * 0.01 / std::sqrt(3.0), 1e-9);
    EXPECT_NEAR(p11->diff.ciHigh, 0.01 + kT975df2 * 0.01 / std::sqrt(3.0), 1e-9);
    // k=1, M=10: +0.05 every seed.
    EXPECT_NEAR(f.find({"1", "10"})->diff.mean, 0.05, 1e-12);
    // k=5, M=10: -0.05 on seeds 0 and 1 (square worse); CE's seed 2 has no partner.
    const SweepPoint* p510 = f.find({"5", "10"});
    EXPECT_EQ(p510->diff.n, 2);
    EXPECT_NEAR(p510->diff.mean, -0.05, 1e-12);
    EXPECT_EQ(p510->ceOnlySeeds, (std::vector<std::int64_t>{2}));
    EXPECT_TRUE(anyNoteContains(s.notes, "at k=5, M=10: cross-entropy seeds without a result here: 2"));
}

TEST(SweepAnalysisTest, SameEpochsAsCePointsPairWithTheCrossEntropyThatChoseTheirEpochs) {
    // Square same_epochs_as_ce runs (lr 0.2) whose epochs came from the CE runs 'ce' (lr 0.1), and
    // a second CE loss 'ace' at the square loss's lr 0.2, 0.3 points lower: the pair is 'ce'.
    std::vector<Plan> plans = gridPlans();
    for (auto& p : plans)
        if (p.loss == "square") p.protocol = "same_epochs_as_ce";
    for (std::int64_t s = 0; s < 3; ++s) {
        Plan other;
        other.loss = "ce";
        other.lr = 0.2;
        other.seed = s;
        other.test = 0.50 + 0.01 * static_cast<double>(s);
        other.val = 0.51;
        plans.push_back(other);
    }
    std::vector<RunResult> runs = results(plans);
    std::map<std::int64_t, std::int64_t> ceRunOfSeed;
    for (std::size_t i = 0; i + 3 < runs.size(); ++i)
        if (runs[i].run.loss == "ce") ceRunOfSeed[runs[i].run.seed] = runs[i].run.id;
    for (std::size_t i = runs.size() - 3; i < runs.size(); ++i) runs[i].run.lossName = "ace";
    for (auto& r : runs)
        if (r.run.loss == "square") r.run.dependsOn = ceRunOfSeed.at(r.run.seed);
    const SweepAnalysis s = analyze(runs);
    const SweepPoint* p11 = s.families.front().find({"1", "1"});
    ASSERT_NE(p11, nullptr);
    ASSERT_TRUE(p11->paired);
    EXPECT_EQ(p11->ce.lossName, "ce");
    EXPECT_DOUBLE_EQ(p11->ce.lr, 0.1);
    EXPECT_NEAR(p11->diff.mean, 0.01, 1e-12) << "differences 0, 0.01, 0.02 against 'ce'";
}

TEST(SweepAnalysisTest, ASeedWithoutAFiniteValueOnOneSideIsUnpairedOnThatSideOnly) {
    // Completed runs whose test accuracy is not a number: square k=1, M=1 seed 1 and CE seed 2.
    std::vector<RunResult> runs = results(gridPlans());
    for (auto& r : runs)
        if ((r.run.loss == "square" && r.run.k == 1 && r.run.M == 1 && r.run.seed == 1) || (r.run.loss == "ce" && r.run.seed == 2))
            r.reported["test/acc"] = std::nan("");
    const SweepAnalysis s = analyze(runs);
    const SweepPoint* p11 = s.families.front().find({"1", "1"});
    ASSERT_NE(p11, nullptr);
    EXPECT_EQ(p11->pairedSeeds, (std::vector<std::int64_t>{0}));
    EXPECT_EQ(p11->squareOnlySeeds, (std::vector<std::int64_t>{2})) << "only the square loss has a value for seed 2";
    EXPECT_EQ(p11->ceOnlySeeds, (std::vector<std::int64_t>{1})) << "only cross-entropy has a value for seed 1";
}

TEST(SweepAnalysisTest, TuningChoosesOnValidationNeverTest) {
    const SweepAnalysis s = analyze(results(gridPlans()));
    ASSERT_EQ(s.tuned.size(), 2u);
    EXPECT_EQ(s.tuned[0].loss, "ce") << "cross-entropy first";
    const TunedLoss& sq = tunedRow(s, "square");
    ASSERT_TRUE(sq.tuned);
    EXPECT_TRUE(sq.swept);
    // k=1, M=10 has the best test mean (0.86); k=5, M=1 the best validation mean (0.85).
    EXPECT_EQ(sq.chosenValues, (std::vector<std::string>{"5", "1"}));
    EXPECT_EQ(sq.chosenLabel(), "k=5, M=1");
    EXPECT_NEAR(sq.test.mean, 0.84, 1e-12);
    EXPECT_NEAR(sq.test.std, 0.01, 1e-12);
    EXPECT_EQ(sq.test.n, 3);
    EXPECT_NEAR(sq.val.mean, 0.85, 1e-12);
    EXPECT_EQ(sq.configurations, 4);
    EXPECT_EQ(sq.completedConfigurations, 4);

    const TunedLoss& ce = tunedRow(s, "ce");
    EXPECT_FALSE(ce.swept);
    EXPECT_TRUE(ce.tuned);
    EXPECT_EQ(ce.configurations, 1);
    EXPECT_NEAR(ce.test.mean, 0.81, 1e-12);

    // Tuned square minus tuned CE: 0.03 on every seed.
    EXPECT_EQ(sq.ceIndex, 0);
    EXPECT_EQ(sq.pairedSeeds, (std::vector<std::int64_t>{0, 1, 2}));
    EXPECT_NEAR(sq.diff.mean, 0.03, 1e-12);
    EXPECT_NEAR(sq.diff.ciLow, 0.03, 1e-12);
    EXPECT_NEAR(sq.diff.ciHigh, 0.03, 1e-12);
}

TEST(SweepAnalysisTest, ErrorMetricsChooseTheLowestValidationError) {
    AnalysisOptions options;
    options.metrics = {"error"};
    const SweepAnalysis s = analyze(results(gridPlans(), "error"), options);
    EXPECT_EQ(s.metric, "test/error");
    const TunedLoss& sq = tunedRow(s, "square");
    EXPECT_EQ(sq.chosenValues, (std::vector<std::string>{"5", "1"}));
    EXPECT_NEAR(sq.test.mean, 0.16, 1e-12);
    // Positive = square better: CE error minus square error.
    EXPECT_NEAR(sq.diff.mean, 0.03, 1e-12);
}

TEST(SweepAnalysisTest, TiesGoToTheFirstPointInGridOrder) {
    std::vector<Plan> plans = gridPlans();
    for (Plan& p : plans)
        if (p.loss == "square" && p.val) p.val = 0.9; // every point the same on validation
    const SweepAnalysis s = analyze(results(plans));
    const TunedLoss& sq = tunedRow(s, "square");
    EXPECT_EQ(sq.chosenValues, (std::vector<std::string>{"1", "1"}));
}

TEST(SweepAnalysisTest, APointWithRunsThatDidNotCompleteIsChosenOnlyWhenEveryPointHasOne) {
    // k=5, M=10 diverged on seed 2; its two other seeds are now the best on validation. Chosen
    // on them, it was reported as the tuned square loss over 2 seeds, a setting that diverges.
    std::vector<Plan> plans = gridPlans();
    for (Plan& p : plans)
        if (p.loss == "square" && p.k == 5 && p.M == 10 && p.val) p.val = 0.95;
    {
        const SweepAnalysis s = analyze(results(plans));
        const TunedLoss& sq = tunedRow(s, "square");
        EXPECT_EQ(sq.chosenValues, (std::vector<std::string>{"5", "1"}));
        EXPECT_EQ(sq.test.n, 3);
        EXPECT_EQ(sq.pairedSeeds, (std::vector<std::int64_t>{0, 1, 2}));
        EXPECT_TRUE(anyNoteContains(s.notes, "square, early_stopping: k=5, M=10 has the best mean val/acc but runs that did "
                                             "not complete, so k=5, M=1 is chosen"));
    }
    // Every point has a run that did not complete: the best of them all, said so.
    for (Plan& p : plans)
        if (p.loss == "square" && p.seed == 1 && !(p.k == 5 && p.M == 10)) p.status = RunStatus::Failed;
    const SweepAnalysis s = analyze(results(plans));
    const TunedLoss& sq = tunedRow(s, "square");
    EXPECT_EQ(sq.chosenValues, (std::vector<std::string>{"5", "10"}));
    EXPECT_EQ(sq.test.n, 2);
    EXPECT_TRUE(anyNoteContains(s.notes, "square, early_stopping: every grid point has runs that did not complete; "
                                         "k=5, M=10 is chosen"));
}

TEST(SweepAnalysisTest, ALearningRateSweepOfBothLossesPairsEachRateWithItsOwnInTheStatsAsInTheHeatmap) {
    // losses.*.lr: [0.01, 0.1]. The stats (and table-main, headline, Table 8) paired every square
    // group with the first CE group, lr 0.01, while the heatmap's difference took CE of the same
    // rate: square lr 0.1 minus CE lr 0.01 was 0.07 in stats.csv and 0.02 in the heatmap.
    std::vector<Plan> plans;
    for (std::int64_t s = 0; s < 3; ++s)
        for (const double lr : {0.01, 0.1})
            for (const char* loss : {"ce", "square"}) {
                Plan p;
                p.loss = loss;
                p.lr = lr;
                p.seed = s;
                p.axes = {"loss.lr"};
                p.test = (p.loss == "ce" ? 0.80 : 0.82) + (lr == 0.1 ? 0.05 : 0.0) + 0.01 * static_cast<double>(s);
                p.val = p.test;
                plans.push_back(p);
            }
    const std::vector<RunResult> runs = results(plans);
    const LossAnalysis analysis = analyzeRuns(runs, {{kTask, {"vision", 10, ""}}});
    int compared = 0;
    for (const SeedComparison& c : analysis.comparisons) {
        if (c.metric != "test/acc") continue;
        ++compared;
        EXPECT_EQ(c.ce.lr, c.square.lr) << c.square.label() << " paired with " << c.ce.label();
        EXPECT_NEAR(c.test.mean, 0.02, 1e-12) << c.square.label();
    }
    EXPECT_EQ(compared, 2);
    EXPECT_TRUE(anyNoteContains(analysis.notes, "square (k=1, M=1, lr=0.1), early_stopping is paired with ce (lr=0.1), "
                                                "early_stopping, of the same learning rate"));
    const SweepAnalysis s = analyzeSweeps(runs, analysis);
    for (const SweepFamily& f : s.families)
        for (const SweepPoint& p : f.points)
            if (p.paired) {
                EXPECT_NEAR(p.diff.mean, 0.02, 1e-12) << p.label(f.axes);
            }
}

TEST(SweepAnalysisTest, ConfigurationsCountPointsWithoutACompletedRun) {
    const SweepAnalysis s = analyze(results(gridPlans(true, true)));
    const TunedLoss& sq = tunedRow(s, "square");
    EXPECT_EQ(sq.configurations, 4);
    EXPECT_EQ(sq.completedConfigurations, 3);
    const SweepPoint* p510 = s.families.front().find({"5", "10"});
    ASSERT_NE(p510, nullptr);
    EXPECT_EQ(p510->test.n, 0);
    const PaperTable table = tunedTable(s);
    EXPECT_NE(toMarkdown(table.display).find("| 4 (3 completed) |"), std::string::npos) << toMarkdown(table.display);
}

TEST(SweepAnalysisTest, WithoutValidationValuesNothingIsChosenOnTest) {
    const SweepAnalysis s = analyze(results(gridPlans(false, false, "fixed_epochs")));
    const TunedLoss& sq = tunedRow(s, "square");
    EXPECT_FALSE(sq.tuned);
    EXPECT_TRUE(sq.chosenValues.empty());
    EXPECT_EQ(sq.configurations, 4);
    EXPECT_NE(sq.untunedReason.find("never made on test"), std::string::npos) << sq.untunedReason;
    EXPECT_TRUE(anyNoteContains(s.notes, "square, fixed_epochs: no run stored a validation value"));
    EXPECT_EQ(sq.diff.n, 0) << "no tuned point, no difference";
    // The heatmap values are still there: they do not need a choice.
    EXPECT_NEAR(s.families.front().find({"1", "10"})->test.mean, 0.86, 1e-12);
    const std::string md = toMarkdown(tunedTable(s).display);
    EXPECT_NE(md.find("not tuned: no run stored a validation value"), std::string::npos) << md;
}

TEST(SweepAnalysisTest, ModelSweepsFormOneFamilyPerLossAcrossRecipes) {
    // model.hidden swept for both losses: CE and square each have a family of two recipes, and
    // each square point pairs with CE of its own hidden size.
    std::vector<Plan> plans;
    for (std::int64_t s = 0; s < 2; ++s)
        for (const std::string hidden : {"[16]", "[64]"})
            for (const std::string loss : {"ce", "square"}) {
                Plan p;
                p.loss = loss;
                p.lr = loss == "ce" ? 0.1 : 0.2;
                p.seed = s;
                p.axes = {"model.hidden"};
                p.hidden = hidden;
                const double base = hidden == "[16]" ? 0.80 : 0.90;
                p.test = base + (loss == "square" ? 0.02 : 0.0) + 0.01 * static_cast<double>(s);
                p.val = (hidden == "[16]" ? 0.95 : 0.85) + 0.01 * static_cast<double>(s); // val prefers [16]
                plans.push_back(p);
            }
    const SweepAnalysis s = analyze(results(plans));
    ASSERT_EQ(s.families.size(), 2u);
    EXPECT_EQ(s.families[0].loss, "ce");
    EXPECT_EQ(s.families[0].axisValues, (std::vector<std::vector<std::string>>{{"[16]", "[64]"}}));
    EXPECT_EQ(s.families[0].baseRecipe.count("model.hidden"), 0u);
    EXPECT_EQ(s.families[0].recipeLabel, "");
    const SweepFamily& sq = s.families[1];
    EXPECT_NEAR(sq.find({"[64]"})->diff.mean, 0.02, 1e-12);
    EXPECT_EQ(sq.find({"[64]"})->ce.recipe.at("model.hidden"), "[64]");
    const TunedLoss& tunedCe = tunedRow(s, "ce");
    EXPECT_TRUE(tunedCe.swept);
    EXPECT_EQ(tunedCe.configurations, 2);
    EXPECT_EQ(tunedCe.chosenValues, (std::vector<std::string>{"[16]"}));
    EXPECT_EQ(tunedCe.chosenLabel(), "hidden=[16]");
    EXPECT_NEAR(tunedRow(s, "square").test.mean, 0.825, 1e-12);
}

TEST(SweepAnalysisTest, RunsWithoutSweepGiveNothing) {
    std::vector<Plan> plans = gridPlans();
    for (Plan& p : plans) p.axes.clear();
    const SweepAnalysis s = analyze(results(plans));
    EXPECT_TRUE(s.empty());
    EXPECT_TRUE(s.tuned.empty());
    EXPECT_TRUE(s.notes.empty());
}

// ---- the report files --------------------------------------------------------------------

namespace {

class SweepReportTest : public ::testing::Test {
protected:
    void SetUp() override { m_store = std::make_unique<RunStore>((m_dir / "runs.sqlite").string()); }
    void addSweep() {
        ExperimentRecord e;
        e.name = "km";
        e.taskId = kTask;
        const std::int64_t id = m_store->addExperiment(e);
        const std::vector<Plan> plans = gridPlans();
        std::vector<RunRecord> records;
        for (const Plan& p : plans) records.push_back(record(p));
        const std::vector<std::int64_t> ids = m_store->addRuns(id, records);
        for (std::size_t i = 0; i < plans.size(); ++i) {
            const bool diverged = plans[i].status == RunStatus::Diverged;
            std::vector<MetricValue> m = {{"test", "acc", diverged ? std::nan("") : plans[i].test}};
            if (plans[i].val) m.push_back({"val", "acc", diverged ? std::nan("") : *plans[i].val});
            m_store->appendEpoch(ids[i], 1, m);
            m_store->finishRun(ids[i], plans[i].status, 1, diverged ? 0 : 1, 1.0, diverged ? "loss became NaN" : "");
        }
        m_store->flush();
    }
    std::vector<std::string> write(const std::string& experiment, const std::string& folder) {
        ReportRequest request;
        request.experiments = {experiment};
        request.outDir = (m_dir / folder).string();
        const ReportData data = loadReportData(*m_store, request, {{kTask, {"vision", 10, ""}}});
        m_empty = data.sweeps.empty();
        return writeReportTables(*m_store, data, request);
    }

    fixtures::ScratchDir m_scratch{"losslab-sweep-report"};
    const fs::path& m_dir = m_scratch.path();
    std::unique_ptr<RunStore> m_store;
    bool m_empty = true;
};

} // namespace

TEST_F(SweepReportTest, SweptRunsWriteTheTunedTableAndTheGrid) {
    addSweep();
    const auto written = write("km", "out");
    EXPECT_FALSE(m_empty);
    for (const std::string name : {"table-tuned.csv", "table-tuned.md", "table-tuned.tex", "sweep-grid.csv"})
        EXPECT_TRUE(fs::exists(m_dir / "out" / name)) << name;
    EXPECT_EQ(written.size(), 18u); // the 14 files of every report and the 4 of the sweep

    const std::string md = fixtures::readFile(m_dir / "out" / "table-tuned.md");
    // square: chosen k=5, M=1 on validation; test 84.00 ± 1.00 over 3 seeds; 4 configurations;
    // validation mean 85.00; tuned difference +3 points on every seed.
    EXPECT_NE(md.find("| square | k=5, M=1 | 4 | 84.00 ± 1.00 (n=3) | 85.00 | 3.00 [3.00, 3.00] (n=3) |"), std::string::npos) << md;
    EXPECT_NE(md.find("| ce | not swept (lr=0.1) | 1 | 81.00 ± 1.00 (n=3) | 82.00 |"), std::string::npos) << md;
    EXPECT_NE(md.find("chosen by its mean validation accuracy"), std::string::npos) << md;
    EXPECT_NE(md.find("never on test"), std::string::npos) << md;
    EXPECT_NE(md.find("Configurations: the grid points each loss was given"), std::string::npos) << md;
    const std::string tex = fixtures::readFile(m_dir / "out" / "table-tuned.tex");
    EXPECT_NE(tex.find("\\toprule"), std::string::npos);
    EXPECT_NE(tex.find("84.00 $\\pm$ 1.00 (n=3)"), std::string::npos) << tex;

    const std::string csv = fixtures::readFile(m_dir / "out" / "table-tuned.csv");
    EXPECT_NE(csv.find("square,square,true,\"k=5, M=1\",5,1,0.2,4,4,true,acc,3,"), std::string::npos) << csv;

    // One header and one row per grid point.
    const std::string grid = fixtures::readFile(m_dir / "out" / "sweep-grid.csv");
    EXPECT_EQ(std::count(grid.begin(), grid.end(), '\n'), 5) << grid;
    EXPECT_EQ(grid.substr(0, grid.find("\r\n")),
              "task,recipe,loss_name,loss,protocol,axis_1,value_1,axis_2,value_2,k,M,lr,runs,metric,val_n,val_mean,"
              "val_std,test_n,test_mean,test_std,ce_lr,pairs,diff_mean,diff_ci_low,diff_ci_high,not_completed");
    EXPECT_NE(grid.find("fashion_mnist/mlp,,square,square,early_stopping,loss.k,5,loss.M,10,5,10,0.2,3,acc,2,"),
              std::string::npos) << grid;
    EXPECT_NE(grid.find(",seed 2: diverged\r\n"), std::string::npos) << grid;
}

TEST_F(SweepReportTest, ReportWithoutSweepsWritesNoSweepFiles) {
    fixtures::buildReportFixture(*m_store);
    const auto written = write("fixture", "plain");
    EXPECT_TRUE(m_empty);
    EXPECT_EQ(written.size(), 14u);
    for (const std::string name : {"table-tuned.csv", "table-tuned.md", "table-tuned.tex", "sweep-grid.csv"})
        EXPECT_FALSE(fs::exists(m_dir / "plain" / name)) << name;
}
