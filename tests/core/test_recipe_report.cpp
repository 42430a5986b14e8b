// Runs pool only within one training recipe: the recipe read from a run's stored YAML
// (spec/run_recipe.h), and the report built over experiments that differ in it. The runs
// carry real RunSpec::toYaml() text, as `losslab-cli run` stores it.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "losslab/analysis/learning_curves.h"
#include "losslab/analysis/loss_comparison.h"
#include "losslab/error.h"
#include "losslab/report/paper_tables.h"
#include "losslab/report/report_files.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/spec/run_recipe.h"
#include "losslab/store/run_store.h"
#include "scratch_dir.h"

namespace fs = std::filesystem;
using namespace losslab;

namespace {

const std::string kTask = "fashion_mnist/mlp";

struct RunPlan {
    explicit RunPlan(std::string name) : experiment(std::move(name)) {}
    std::string experiment;
    std::string hidden = "[16]";
    std::string extraKey, extraValue; // one more param, e.g. data.split_seed
    std::string root = "/data/fashion";
    std::string evalBatch = "1000";
    std::string threads = "0";
    std::string device = "cpu";
    std::string library; // what trained the runs (runs.library); "" leaves it unset
    int ranThreads = 0;  // the thread count they trained with (runs.threads); 0 leaves it unset
};

std::string specYaml(const RunPlan& plan, const std::string& loss, const std::string& protocol, std::int64_t seed) {
    RunSpec r;
    r.experiment = plan.experiment;
    r.taskId = kTask;
    r.loss.name = loss;
    r.loss.kind = loss == "ce" ? LossKind::CrossEntropy : LossKind::Square;
    r.loss.lr = loss == "ce" ? 0.1 : 0.2;
    r.protocol = protocol == "early_stopping" ? Protocol::EarlyStopping : Protocol::SameEpochsAsCe;
    r.seed = seed;
    r.device = plan.device;
    r.params.set("data.root", plan.root, ParamType::String);
    r.params.set("data.val_fraction", "0.1", ParamType::Double);
    r.params.set("model.hidden", plan.hidden, ParamType::IntList);
    r.params.set("train.batch_size", "128", ParamType::Int);
    r.params.set("train.eval_batch_size", plan.evalBatch, ParamType::Int);
    r.params.set("train.log_every_steps", "50", ParamType::Int);
    r.params.set("runner.threads", plan.threads, ParamType::Int);
    if (!plan.extraKey.empty()) r.params.set(plan.extraKey, plan.extraValue, ParamType::Int);
    return r.toYaml();
}

// Test accuracy by recipe, loss and seed: the two recipes far apart, so that pooling them
// would show in every mean.
double accuracy(const std::string& hidden, const std::string& loss, std::int64_t seed) {
    const double base = hidden == "[16]" ? 0.80 : 0.90;
    return base + 0.004 * static_cast<double>(seed) + (loss == "square" ? 0.01 : 0.0);
}

class RecipeReportTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_store = std::make_unique<RunStore>((m_dir / "runs.sqlite").string());
        m_tasks = {{kTask, {"vision", 10, ""}}};
    }
    // One experiment: CE and square, early stopping, the given seeds; returns the run ids.
    std::vector<std::int64_t> addExperiment(const RunPlan& plan, const std::vector<std::int64_t>& seeds,
                                            double shift = 0.0) {
        return addExperimentSeeds(plan, seeds, seeds, shift);
    }
    std::vector<std::int64_t> addExperimentSeeds(const RunPlan& plan, const std::vector<std::int64_t>& ceSeeds,
                                            const std::vector<std::int64_t>& squareSeeds, double shift = 0.0) {
        ExperimentRecord e;
        e.name = plan.experiment;
        e.taskId = kTask;
        const std::int64_t id = m_store->addExperiment(e);
        std::vector<RunRecord> runs;
        for (const std::string loss : {"ce", "square"})
            for (const auto seed : loss == "ce" ? ceSeeds : squareSeeds) {
                RunRecord r;
                r.taskId = kTask;
                r.lossName = loss;
                r.loss = loss;
                r.lr = loss == "ce" ? 0.1 : 0.2;
                r.protocol = "early_stopping";
                r.seed = seed;
                r.specYaml = specYaml(plan, loss, r.protocol, seed);
                runs.push_back(r);
            }
        const std::vector<std::int64_t> ids = m_store->addRuns(id, runs);
        for (std::size_t i = 0; i < runs.size(); ++i) {
            const double acc = accuracy(plan.hidden, runs[i].loss, runs[i].seed) + shift;
            if (!plan.library.empty() || plan.ranThreads > 0)
                m_store->markStarted(ids[i], plan.device, 0, plan.library, plan.ranThreads);
            for (int epoch = 1; epoch <= 2; ++epoch)
                m_store->appendEpoch(ids[i], epoch, {{"val", "acc", acc - 0.01 * (2 - epoch)}, {"test", "acc", acc}});
            m_store->finishRun(ids[i], RunStatus::Completed, 2, 2, 1.0, "");
        }
        m_store->flush();
        return ids;
    }
    ReportData load(const std::vector<std::string>& experiments) {
        ReportRequest request;
        request.experiments = experiments;
        return loadReportData(*m_store, request, m_tasks);
    }
    // Two experiments of one recipe, seeds 0-1 and 2-3, each trained with its library
    // ({experiment name, runs.library}); the report of both, which pools all four seeds.
    ReportData twoLibraries(const std::pair<std::string, std::string>& a, const std::pair<std::string, std::string>& b) {
        RunPlan first{a.first};
        first.library = a.second;
        RunPlan second{b.first};
        second.library = b.second;
        addExperiment(first, {0, 1});
        addExperiment(second, {2, 3});
        ReportData data = load({a.first, b.first});
        EXPECT_EQ(data.analysis.groups.front().stats.at("test/acc").n, 4);
        return data;
    }
    static const LossGroup* group(const LossAnalysis& a, const std::string& loss, const std::string& label) {
        for (const auto& g : a.groups)
            if (g.key.loss == loss && g.key.recipeLabel == label) return &g;
        return nullptr;
    }

    fixtures::ScratchDir m_scratch{"losslab-recipe"};
    const fs::path& m_dir = m_scratch.path();
    std::unique_ptr<RunStore> m_store;
    std::map<std::string, TaskMeta> m_tasks;
};

using fixtures::readFile;

bool anyNoteContains(const LossAnalysis& a, const std::string& text) {
    return std::any_of(a.notes.begin(), a.notes.end(), [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

} // namespace

// ---- the recipe itself ----------------------------------------------------------------------

TEST(RunRecipeTest, HoldsTheTrainingKeysAndLeavesOutOnlyTheExcludedOnes) {
    RunPlan plan{"mlp"};
    const RunRecipe recipe = runRecipe(specYaml(plan, "square", "early_stopping", 3));
    EXPECT_EQ(recipe.at("task"), kTask);
    EXPECT_EQ(recipe.at("protocol"), "early_stopping");
    EXPECT_EQ(recipe.at("loss.loss"), "square");
    EXPECT_EQ(recipe.at("loss.lr"), "0.2");
    EXPECT_EQ(recipe.at("loss.k"), "1");
    EXPECT_EQ(recipe.at("model.hidden"), "[16]");
    EXPECT_EQ(recipe.at("data.val_fraction"), "0.1");
    EXPECT_EQ(recipe.at("train.batch_size"), "128");
    for (const char* gone : {"seed", "device", "experiment", "data.root", "train.eval_batch_size", "train.log_every_steps",
                             "runner.threads"})
        EXPECT_EQ(recipe.count(gone), 0u) << gone;
    EXPECT_TRUE(isRecipeExcludedKey("runner.cpu_runs")); // a whole section
    EXPECT_FALSE(isRecipeExcludedKey("train.divergence_factor"));
}

TEST(RunRecipeTest, SeedDeviceExperimentDataRootAndRunnerKeysDoNotChangeIt) {
    RunPlan a{"first"};
    RunPlan b{"second"};
    b.root = "/elsewhere";
    b.evalBatch = "250";
    b.threads = "4";
    b.device = "cuda:1";
    EXPECT_EQ(runRecipe(specYaml(a, "ce", "early_stopping", 0)), runRecipe(specYaml(b, "ce", "early_stopping", 7)));
}

TEST(RunRecipeTest, KeysAreTakenGenericallyAndAMissingKeyIsADifference) {
    RunPlan plain{"a"};
    RunPlan withKey{"b"};
    withKey.extraKey = "data.split_seed";
    withKey.extraValue = "0";
    const RunRecipe r1 = runRecipe(specYaml(plain, "ce", "early_stopping", 0));
    const RunRecipe r2 = runRecipe(specYaml(withKey, "ce", "early_stopping", 0));
    EXPECT_EQ(r2.at("data.split_seed"), "0");
    EXPECT_NE(r1, r2);
    EXPECT_EQ(recipeLabels({r1, r2}), (std::vector<std::string>{"split_seed unset", "split_seed 0"}));
}

TEST(RunRecipeTest, TrainingRecipeDropsTaskLossAndProtocol) {
    RunPlan plan{"mlp"};
    const RunRecipe ce = trainingRecipe(runRecipe(specYaml(plan, "ce", "early_stopping", 0)));
    const RunRecipe square = trainingRecipe(runRecipe(specYaml(plan, "square", "same_epochs_as_ce", 0)));
    EXPECT_EQ(ce, square);
    EXPECT_EQ(ce.count("task") + ce.count("protocol") + ce.count("loss.lr") + ce.count("loss.name"), 0u);
    EXPECT_EQ(ce.at("model.hidden"), "[16]");
}

TEST(RunRecipeTest, LabelsNameWhatDiffersWithoutTheSectionPrefix) {
    const RunRecipe a = {{"model.hidden", "[16]"}, {"train.batch_size", "128"}, {"data.val_fraction", "0.1"}};
    RunRecipe b = a;
    b["model.hidden"] = "[256]";
    EXPECT_EQ(recipeLabels({a, b, a}), (std::vector<std::string>{"hidden [16]", "hidden [256]", "hidden [16]"}));
    RunRecipe c = b; // keys in the order of their full names: model.* before train.*
    c["train.batch_size"] = "64";
    EXPECT_EQ(recipeLabels({a, c}), (std::vector<std::string>{"hidden [16], batch_size 128", "hidden [256], batch_size 64"}));
    EXPECT_EQ(recipeLabels({a, a}), (std::vector<std::string>{"", ""}));
    EXPECT_EQ(recipeLabels({a}), (std::vector<std::string>{""}));
    // Two differing keys with one short name keep their sections.
    const RunRecipe d = {{"data.seed", "1"}, {"train.seed", "1"}};
    const RunRecipe e = {{"data.seed", "2"}, {"train.seed", "3"}};
    EXPECT_EQ(recipeLabels({d, e}), (std::vector<std::string>{"data.seed 1, train.seed 1", "data.seed 2, train.seed 3"}));
}

TEST(RunRecipeTest, EmptyTextIsAnEmptyRecipeAndBadYamlIsAnError) {
    EXPECT_TRUE(runRecipe("").empty());
    EXPECT_THROW(runRecipe("task: [unclosed"), Error);
    EXPECT_THROW(runRecipe("- a list"), Error);
}

// ---- the report over recipes ----------------------------------------------------------------

TEST_F(RecipeReportTest, DifferentRecipesAreSeparateRowsAndNeverPaired) {
    RunPlan small{"mlp-16"};
    RunPlan large{"mlp-256"};
    large.hidden = "[256]";
    addExperiment(small, {0, 1});
    addExperiment(large, {2, 3});
    const ReportData data = load({"mlp-16", "mlp-256"});
    const LossAnalysis& a = data.analysis;

    ASSERT_EQ(a.groups.size(), 4u);
    for (const std::string loss : {"ce", "square"})
        for (const std::string label : {"hidden [16]", "hidden [256]"}) {
            const LossGroup* g = group(a, loss, label);
            ASSERT_NE(g, nullptr) << loss << " " << label;
            EXPECT_EQ(g->stats.at("test/acc").n, 2) << loss << " " << label;
        }
    EXPECT_EQ(group(a, "ce", "hidden [16]")->seeds, (std::vector<std::int64_t>{0, 1}));
    EXPECT_EQ(group(a, "ce", "hidden [256]")->seeds, (std::vector<std::int64_t>{2, 3}));
    EXPECT_NEAR(group(a, "ce", "hidden [16]")->stats.at("test/acc").mean, 0.802, 1e-12);
    EXPECT_NEAR(group(a, "ce", "hidden [256]")->stats.at("test/acc").mean, 0.910, 1e-12);

    // Each square group pairs with its own recipe's CE group: seeds 0, 1 and 2, 3, all paired.
    std::vector<const SeedComparison*> acc;
    for (const auto& c : a.comparisons)
        if (c.metric == "test/acc") acc.push_back(&c);
    ASSERT_EQ(acc.size(), 2u);
    for (const SeedComparison* c : acc) {
        EXPECT_EQ(c->square.recipe, c->ce.recipe);
        EXPECT_EQ(c->ce.recipeLabel, c->square.recipeLabel);
        EXPECT_TRUE(c->squareOnlySeeds.empty());
        EXPECT_TRUE(c->ceOnlySeeds.empty());
        EXPECT_EQ(c->test.n, 2);
        EXPECT_NEAR(c->test.mean, 0.01, 1e-12);
    }
    EXPECT_EQ(acc[0]->square.recipeLabel, "hidden [16]");
    EXPECT_EQ(acc[0]->pairedSeeds, (std::vector<std::int64_t>{0, 1}));
    EXPECT_EQ(acc[1]->square.recipeLabel, "hidden [256]");
    EXPECT_EQ(acc[1]->pairedSeeds, (std::vector<std::int64_t>{2, 3}));

    // Headline: one comparison per task and recipe. Std table: one row per recipe.
    ASSERT_FALSE(a.headline.empty());
    EXPECT_EQ(a.headline.front().tasks, 2);
    EXPECT_EQ(a.headline.front().squareAtLeastCe, 2);
    EXPECT_EQ(a.stdComparable, 2);
    EXPECT_FALSE(anyNoteContains(a, "pooled"));

    // Curves: one group per recipe and loss, labelled as the tables are.
    const auto& curves = data.curves.at(kTask);
    ASSERT_EQ(curves.size(), 4u);
    for (const auto& c : curves) {
        EXPECT_EQ(c.seeds.size(), 2u);
        EXPECT_TRUE(c.key.recipeLabel == "hidden [16]" || c.key.recipeLabel == "hidden [256]") << c.key.recipeLabel;
    }

    // The tables name the recipe wherever they name the task.
    const PaperTable main = mainTable(a, data.options);
    ASSERT_EQ(main.display.rows.size(), 2u);
    EXPECT_EQ(main.display.rows[0][0].text, kTask + " (hidden [16])");
    EXPECT_EQ(main.display.rows[1][0].text, kTask + " (hidden [256])");
    EXPECT_EQ(main.display.rows[0][2].text, "81.20 ± 0.28");
    EXPECT_EQ(main.display.rows[1][3].text, "91.00 ± 0.28");
    ASSERT_EQ(main.data.header[1], "recipe");
    for (const auto& row : main.data.rows) {
        EXPECT_EQ(row[11].text, "2"); // n
        EXPECT_TRUE(row[1].text == "hidden [16]" || row[1].text == "hidden [256]");
    }
    const PaperTable stats = statsTable(a);
    ASSERT_EQ(stats.display.rows.size(), 2u);
    EXPECT_EQ(stats.display.rows[0][0].text, kTask + " (hidden [16])");
    EXPECT_EQ(stats.data.rows[1][1].text, "hidden [256]");
    EXPECT_EQ(stats.data.rows[1][23].text, "2 3"); // paired_seeds
    const PaperTable stds = stdTable(a);
    ASSERT_EQ(stds.display.rows.size(), 2u);
    EXPECT_EQ(stds.display.rows[1][0].text, kTask + " (hidden [256])");

    // seed-results.csv and metrics-long.csv carry the recipe label.
    ReportRequest request;
    request.outDir = (m_dir / "out").string();
    writeReportTables(*m_store, data, request);
    const std::string seeds = readFile(m_dir / "out" / "seed-results.csv");
    EXPECT_EQ(seeds.substr(0, seeds.find('\r')), "run_id,experiment,task,recipe,loss_name,loss,k,M,lr,protocol,seed,status,"
                                                 "epochs,best_epoch,wall_s,device,library,threads,test_acc,val_acc");
    EXPECT_NE(seeds.find(",mlp-256,fashion_mnist/mlp,hidden [256],ce,ce,"), std::string::npos);
    const std::string longCsv = readFile(m_dir / "out" / "metrics-long.csv");
    EXPECT_NE(longCsv.find(",mlp-16,fashion_mnist/mlp,hidden [16],square,"), std::string::npos);
}

TEST_F(RecipeReportTest, AMissingSeedIsNotFilledFromAnotherRecipe) {
    RunPlan small{"mlp-16"};
    RunPlan large{"mlp-256"};
    large.hidden = "[256]";
    // Seed 1 has only a CE run in the [16] experiment and only a square-loss run in the [256] one.
    addExperimentSeeds(small, {0, 1}, {0});
    addExperimentSeeds(large, {0}, {0, 1});
    const LossAnalysis a = load({"mlp-16", "mlp-256"}).analysis;
    int compared = 0;
    for (const auto& c : a.comparisons) {
        if (c.metric != "test/acc") continue;
        ++compared;
        EXPECT_EQ(c.pairedSeeds, (std::vector<std::int64_t>{0})) << c.square.recipeLabel;
        EXPECT_EQ(c.test.n, 1) << c.square.recipeLabel;
    }
    EXPECT_EQ(compared, 2);
}

TEST_F(RecipeReportTest, TheSameRecipeUnderTwoNamesIsPooledWithANote) {
    RunPlan first{"mlp-a"};
    RunPlan second{"mlp-b"};
    second.root = "/mnt/other"; // where the data lives does not make another recipe
    second.threads = "2";
    addExperiment(first, {0, 1});
    addExperiment(second, {2, 3});
    const ReportData data = load({"mlp-a", "mlp-b"});
    const LossAnalysis& a = data.analysis;
    ASSERT_EQ(a.groups.size(), 2u);
    for (const auto& g : a.groups) {
        EXPECT_EQ(g.stats.at("test/acc").n, 4);
        EXPECT_EQ(g.key.recipeLabel, "");
    }
    ASSERT_EQ(a.comparisons.size(), 1u);
    EXPECT_EQ(a.comparisons[0].test.n, 4);
    EXPECT_TRUE(anyNoteContains(a, "mlp-a#1 and mlp-b#2")) << (a.notes.empty() ? "" : a.notes.front());
    EXPECT_TRUE(anyNoteContains(a, "pooled"));
    const PaperTable main = mainTable(a, data.options);
    EXPECT_EQ(main.display.rows[0][0].text, kTask);
    EXPECT_TRUE(std::any_of(main.display.notes.begin(), main.display.notes.end(),
                            [](const std::string& n) { return n.find("pooled") != std::string::npos; }));
}

// One recipe trained under two LibTorch versions: pooled, as the recipe is the same, with a
// note naming the libraries; one library alone gives no such note.
TEST_F(RecipeReportTest, PoolingAcrossLibrariesIsSaid) {
    const ReportData data = twoLibraries({"old-torch", "LibTorch 1.13.0"}, {"new-torch", "LibTorch 2.6.0"});
    EXPECT_TRUE(anyNoteContains(data.analysis, "different libraries are pooled (LibTorch 1.13.0, LibTorch 2.6.0)"));
    const ReportData one = load({"old-torch"});
    EXPECT_FALSE(anyNoteContains(one.analysis, "different libraries"));
}

// The same LibTorch with oneDNN on and off (LOSSLAB_ONEDNN): pooled, the two named apart,
// since one of them has a comma of its own.
TEST_F(RecipeReportTest, PoolingRunsTrainedWithAndWithoutOneDnnIsSaid) {
    const ReportData data = twoLibraries({"with-onednn", "LibTorch 2.6.0"}, {"without-onednn", "LibTorch 2.6.0, oneDNN off"});
    EXPECT_TRUE(anyNoteContains(data.analysis, "different libraries are pooled (LibTorch 2.6.0; LibTorch 2.6.0, oneDNN off); "
                                               "a seed's cross-entropy results differ between LibTorch versions and with oneDNN on or off"))
        << (data.analysis.notes.empty() ? "" : data.analysis.notes.back());
}

// One recipe's CPU runs trained with different thread counts: pooled, with a note listing the
// counts in numeric order. One count alone gives no such note, nor do runs on CUDA, where the
// CPU threads do not compute the numbers.
TEST_F(RecipeReportTest, PoolingAcrossThreadCountsIsSaid) {
    RunPlan two{"two-threads"};
    two.ranThreads = 2;
    RunPlan twelve{"twelve-threads"};
    twelve.ranThreads = 12;
    RunPlan gpu{"gpu"};
    gpu.device = "cuda:0";
    gpu.ranThreads = 4;
    addExperiment(two, {0, 1});
    addExperiment(twelve, {2, 3});
    addExperiment(gpu, {4, 5});
    const ReportData data = load({"two-threads", "twelve-threads"});
    EXPECT_EQ(data.analysis.groups.front().stats.at("test/acc").n, 4);
    EXPECT_TRUE(anyNoteContains(data.analysis, "CPU runs trained with different thread counts are pooled (2, 12)"));
    EXPECT_FALSE(anyNoteContains(load({"two-threads"}).analysis, "thread counts"));
    const ReportData withGpu = load({"two-threads", "gpu"});
    EXPECT_EQ(withGpu.analysis.groups.front().stats.at("test/acc").n, 4);
    EXPECT_FALSE(anyNoteContains(withGpu.analysis, "thread counts"));
}

// A task whose test split is not a labelled test set (GLUE: its dev set) says so under the tables.
TEST_F(RecipeReportTest, ATasksTestSetNoteIsSaid) {
    addExperiment(RunPlan{"glue-like"}, {0, 1});
    EXPECT_FALSE(anyNoteContains(load({"glue-like"}).analysis, "test = "));
    m_tasks[kTask].testSetNote = "test = GLUE's dev set (GLUE's test files have no labels)";
    const ReportData data = load({"glue-like"});
    EXPECT_TRUE(anyNoteContains(data.analysis, kTask + ": test = GLUE's dev set (GLUE's test files have no labels)"));
}

TEST_F(RecipeReportTest, ADuplicateSeedKeepsTheNewestRunAndSaysSo) {
    RunPlan first{"mlp"};
    addExperiment(first, {0, 1});
    // The same experiment again (a new instance of the same name), with other numbers.
    const auto newer = addExperiment(first, {1}, 0.05);
    const ReportData data = load({"mlp#1", "mlp#2"});
    const LossAnalysis& a = data.analysis;
    const LossGroup* ce = group(a, "ce", "");
    ASSERT_NE(ce, nullptr);
    EXPECT_EQ(ce->stats.at("test/acc").n, 2);
    EXPECT_NEAR(ce->values.at("test/acc").at(1), accuracy("[16]", "ce", 1) + 0.05, 1e-12);
    EXPECT_TRUE(anyNoteContains(a, "seed 1 appears in 2 runs; the newest, run #" + std::to_string(newer[0]) +
                                       ", is used and run #2 is left out"));
    // The curves draw the same run.
    for (const auto& c : data.curves.at(kTask))
        if (c.key.loss == "ce") {
            EXPECT_NEAR(c.seeds.at(1).back().value, accuracy("[16]", "ce", 1) + 0.05, 1e-12);
        }
}
