// A seeded run gives the same numbers alone or beside others: every random draw comes from
// generators the run owns (initial weights, dropout masks, batch order, augmentation), never
// from torch's global generators, which the runs of one process share. Also: the divergence
// rule, and the validation split that belongs to the data rather than to the seed.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/types.h>

#include "losslab/error.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/trainer.h"
#include "toy_task.h"
#include "vision_registry.h"
#include "run_series.h"
#include "scratch_dir.h"
#include "text_fixtures.h"

namespace fs = std::filesystem;
using namespace losslab;

namespace {

using fixtures::RunKey;
using fixtures::Series;

class SeededRunsTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_registry.add(std::make_shared<fixtures::ToyTask>());
    }
    std::string db(const std::string& name) const { return (m_dir / name).string(); }

    static Series series(const RunStore& store, std::int64_t id) { return fixtures::runSeries(store, id); }
    static std::map<RunKey, Series> byKey(const RunStore& store, const std::vector<std::int64_t>& ids) {
        return fixtures::seriesByKey(store, ids);
    }

    // Runs the experiment with `runsAtOnce` runs training at once on the CPU, one thread each.
    std::map<RunKey, Series> run(const TaskRegistry& tasks, const std::string& yaml, int runsAtOnce,
                                 std::vector<SpecOverride> overrides = {}) {
        overrides.push_back({"runner.cpu_runs", std::to_string(runsAtOnce)});
        overrides.push_back({"runner.threads", "1"});
        RunStore store(db("runs-" + std::to_string(++m_dbs) + ".sqlite"));
        RunQueue queue(store, tasks);
        queue.start(loadExperimentText(yaml, "seeded.yaml", overrides, tasks));
        const RunQueueResult result = queue.wait();
        return byKey(store, result.runIds);
    }

    static void expectIdentical(const std::map<RunKey, Series>& a, const std::map<RunKey, Series>& b,
                                const std::string& what) {
        fixtures::expectIdenticalSeries(a, b, what);
    }

    fixtures::ScratchDir m_scratch{"losslab-seeded"};
    const fs::path& m_dir = m_scratch.path();
    TaskRegistry m_registry;
    int m_dbs = 0;
};

// The toy MLP with dropout: both losses, both protocols, five seeds.
const char* kToyDropout = R"(
name: toy-dropout
task: toy/blobs
device: cpu
losses:
  - loss: ce
  - loss: square
    lr: 0.1
protocols: [early_stopping, same_epochs_as_ce]
seeds: 5
model:
  dropout: 0.3
train:
  max_epochs: 4
  patience: 2
  log_every_steps: 5
)";

TEST_F(SeededRunsTest, MlpWithDropoutGivesBitIdenticalRunsAloneAndThreeOrFiveAtATime) {
    const auto alone = run(m_registry, kToyDropout, 1);
    ASSERT_EQ(alone.size(), 15u);
    expectIdentical(alone, run(m_registry, kToyDropout, 3), "3 at a time");
    expectIdentical(alone, run(m_registry, kToyDropout, 5), "5 at a time");
    // The seeds differ, and dropout draws differ from a run without dropout.
    EXPECT_NE(alone.at("ce early_stopping 0"), alone.at("ce early_stopping 1"));
    EXPECT_NE(alone.at("ce early_stopping 0"), run(m_registry, kToyDropout, 1, {{"model.dropout", "0"}, {"seeds", "[0]"}})
                                                   .at("ce early_stopping 0"));
}

TEST_F(SeededRunsTest, TheSameEpochsRunRepeatsTheSquareEarlyStoppingRunsEpochsBitForBit) {
    // Both train the square loss on the same data from the same seed; only the stopping rule
    // differs, so the epochs they share are the same numbers, even with dropout and beside others.
    const auto runs = run(m_registry, kToyDropout, 3, {{"train.patience", "50"}});
    for (int seed = 0; seed < 5; ++seed) {
        const Series& early = runs.at("square early_stopping " + std::to_string(seed));
        const Series& same = runs.at("square same_epochs_as_ce " + std::to_string(seed));
        ASSERT_FALSE(same.empty());
        for (const auto& [key, value] : same) {
            ASSERT_TRUE(early.count(key)) << key;
            EXPECT_EQ(value, early.at(key)) << "seed " << seed << ": " << key;
        }
    }
}

TEST_F(SeededRunsTest, TorchsGlobalGeneratorDoesNotReachARun) {
    torch::manual_seed(1);
    const auto a = run(m_registry, kToyDropout, 1, {{"seeds", "[2]"}, {"protocols", "[early_stopping]"}});
    torch::manual_seed(99);
    (void)torch::rand({1000}); // and draws from it in between
    const auto b = run(m_registry, kToyDropout, 1, {{"seeds", "[2]"}, {"protocols", "[early_stopping]"}});
    expectIdentical(a, b, "after reseeding torch's global generator");
}

// A small TCN (dropout 0.05, weight norm) on permuted sequential images. Fashion-MNIST's IDX
// files stand in for MNIST's (same names and format), so the test needs no download.
TEST_F(SeededRunsTest, SmallTcnGivesBitIdenticalRunsAloneAndThreeOrFiveAtATime) {
    const std::string root = "/usr/share/datasets/fashion-mnist";
    if (!fs::exists(root + "/train-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    const std::string yaml = R"(
name: tcn
task: mnist/tcn_permuted
device: cpu
losses: [ce, square]
protocols: [early_stopping]
seeds: 5
model: {levels: 2, channels: 6, kernel_size: 3, dropout: 0.2}
data: {root: )" + root + R"(, limit_train: 192, limit_test: 64, val_fraction: 0.002}
train: {max_epochs: 2, batch_size: 64, eval_batch_size: 256, log_every_steps: 1}
)";
    const TaskRegistry& vision = fixtures::visionTasks();
    const auto alone = run(vision, yaml, 1);
    ASSERT_EQ(alone.size(), 10u);
    expectIdentical(alone, run(vision, yaml, 3), "3 at a time");
    expectIdentical(alone, run(vision, yaml, 5), "5 at a time");
}

// The text plugin: ESIM and the character Transformer with dropout, bucketed batches of pairs
// and per-position classes; generated data (text_fixtures.h).
TEST_F(SeededRunsTest, TextModelsGiveBitIdenticalRunsAloneAndThreeAtATime) {
    fixtures::writeGlueFolder(m_dir / "MRPC", fixtures::FixtureGlue::Mrpc, 160, 40);
    fixtures::writeCharFile(m_dir / "text8", false, 6000);
    const std::string pairs = R"(
name: esim
task: glue/mrpc/lstm_attention
device: cpu
losses: [ce, square]
protocols: [early_stopping]
seeds: 3
model: {embedding_dim: 8, hidden: 6, dropout: 0.3}
data: {root: ')" + (m_dir / "MRPC").string() + R"('}
train: {max_epochs: 2, batch_size: 16, log_every_steps: 2}
)";
    const std::string chars = R"(
name: chars
task: chars/text8/transformer
device: cpu
losses: [ce, square]
protocols: [early_stopping]
seeds: 3
model: {layers: 1, dim: 8, heads: 2, feed_forward: 16, dropout: 0.3}
data: {root: ')" + (m_dir / "text8").string() + R"(', context: 12}
train: {max_epochs: 2, batch_size: 16, log_every_steps: 5}
)";
    const TaskRegistry& tasks = fixtures::visionTasks(); // every plugin of the build tree
    for (const std::string& yaml : {pairs, chars}) {
        const auto alone = run(tasks, yaml, 1);
        ASSERT_EQ(alone.size(), 6u);
        expectIdentical(alone, run(tasks, yaml, 3), "3 at a time");
        EXPECT_NE(alone.at("ce early_stopping 0"), alone.at("ce early_stopping 1"));
    }
}

TEST_F(SeededRunsTest, ARunResumedWhileOthersTrainEqualsAnUninterruptedOne) {
    const std::vector<SpecOverride> one = {{"seeds", "[7]"}, {"protocols", "[early_stopping]"}, {"losses", "[ce]"},
                                           {"train.patience", "50"}, {"train.max_epochs", "5"}};
    const auto reference = run(m_registry, kToyDropout, 1, one);

    RunStore store(db("resume.sqlite"));
    std::vector<std::int64_t> cut;
    {
        // The run is cancelled in epoch 3 while two other runs train beside it.
        std::vector<SpecOverride> three = one;
        three.push_back({"seeds", "[7, 8, 9]"});
        three.push_back({"runner.cpu_runs", "3"});
        three.push_back({"runner.threads", "1"});
        RunQueue queue(store, m_registry);
        std::atomic<std::int64_t> target{0};
        queue.addObserver([&](const RunEvent& e) {
            if (e.kind == RunEvent::Kind::Started && e.label.find("seed 7") != std::string::npos) target = e.runId;
            if (e.kind == RunEvent::Kind::Step && e.runId == target && e.epoch == 3) queue.cancel(e.runId);
        });
        queue.start(loadExperimentText(kToyDropout, "seeded.yaml", three, m_registry));
        const RunQueueResult result = queue.wait();
        ASSERT_EQ(result.cancelled, 1);
        cut = {target.load()};
    }
    {
        // Resumed while another experiment trains in the same process.
        std::vector<SpecOverride> others = one;
        others.push_back({"seeds", "[1, 2]"});
        others.push_back({"runner.cpu_runs", "2"});
        others.push_back({"runner.threads", "1"});
        RunQueue busy(store, m_registry);
        busy.start(loadExperimentText(kToyDropout, "others.yaml", others, m_registry));
        RunQueue resumed(store, m_registry, RunQueueOptions{"", 1, 1, 1, 0});
        resumed.resume(cut);
        EXPECT_EQ(resumed.wait().completed, 1);
        busy.wait();
    }
    const auto after = byKey(store, cut);
    expectIdentical(reference, after, "resumed beside other runs");
}

TEST_F(SeededRunsTest, ALossFarAboveItsInitialValueIsDivergedAndCaughtWhileFinite) {
    // Plain SGD on the square loss with a far too large step: the loss grows geometrically.
    // The rule catches it while it is still finite, at the first logged loss above
    // train.divergence_factor x the first batch's loss.
    const std::string yaml = R"(
name: blow-up
task: toy/blobs
device: cpu
losses: [{loss: square, lr: 3}]
protocols: [fixed_epochs]
seeds: [0]
train: {max_epochs: 3, momentum: 0, log_every_steps: 1}
)";
    RunStore store(db("diverge.sqlite"));
    {
        RunQueue queue(store, m_registry);
        queue.start(loadExperimentText(yaml, "blow-up.yaml", {}, m_registry));
        EXPECT_EQ(queue.wait().diverged, 1);
    }
    const RunRecord r = store.runs().front();
    EXPECT_EQ(r.status, RunStatus::Diverged);
    EXPECT_NE(r.error.find("train.divergence_factor"), std::string::npos) << r.error;
    const auto steps = store.stepMetrics(r.id);
    ASSERT_GE(steps.size(), 2u) << "the curve up to the divergence is kept";
    for (const auto& s : steps) EXPECT_TRUE(std::isfinite(s.value)) << "step " << s.step;
    EXPECT_GT(steps.back().value, 100.0 * steps.front().value);

    // With the factor off, only a non-finite loss ends the run: it trains on.
    RunStore off(db("diverge-off.sqlite"));
    RunQueue queue(off, m_registry);
    queue.start(loadExperimentText(yaml, "blow-up.yaml", {{"train.divergence_factor", "0"}}, m_registry));
    queue.wait();
    const RunRecord o = off.runs().front();
    EXPECT_GT(off.stepMetrics(o.id).size(), steps.size());
}

TEST(ValidationSplit, BelongsToTheDataUnlessPerSeedIsAsked) {
    ParamSet params;
    params.set("data.split_seed", "0", ParamType::Int);
    EXPECT_EQ(splitSeedOf(params, 3), 0);
    EXPECT_EQ(splitSeedOf(params, 4), 0);
    params.set("data.split_seed", "11", ParamType::Int);
    EXPECT_EQ(splitSeedOf(params, 4), 11);
    params.set("data.split_seed", "per_seed", ParamType::Int);
    EXPECT_EQ(splitSeedOf(params, 4), 4);
    EXPECT_EQ(splitSeedOf(ParamSet(), 5), 5) << "runs stored before data.split_seed drew their split per seed";
}

TEST_F(SeededRunsTest, OnlyProtocolsThatNeedValidationSplitItOff) {
    const std::string yaml = R"(
name: protocols
task: toy/blobs
device: cpu
losses: [ce, square]
protocols: [early_stopping, same_epochs_as_ce, fixed_epochs]
seeds: [0]
train: {max_epochs: 2}
)";
    const ExperimentSpec spec = loadExperimentText(yaml, "protocols.yaml", {}, m_registry);
    EXPECT_EQ(spec.params.raw("data.val_fraction"), "auto");
    for (const RunSpec& r : spec.expand()) {
        const double expected = r.protocol == Protocol::FixedEpochs ? 0.0 : 0.1;
        EXPECT_EQ(r.params.getDouble("data.val_fraction"), expected) << protocolName(r.protocol);
        EXPECT_NE(r.toYaml().find("val_fraction:"), std::string::npos);
    }
    // A number applies to every protocol.
    for (const RunSpec& r : loadExperimentText(yaml, "protocols.yaml", {{"data.val_fraction", "0.2"}}, m_registry).expand())
        EXPECT_EQ(r.params.getDouble("data.val_fraction"), 0.2);

    // Trained: fixed_epochs runs have no validation metrics and see the whole training set.
    RunStore store(db("protocols.sqlite"));
    RunQueue queue(store, m_registry);
    queue.start(spec);
    queue.wait();
    for (const auto& r : store.runs()) {
        bool hasVal = false;
        for (const auto& row : store.epochMetrics({r.id})) hasVal = hasVal || row.value.split == "val";
        EXPECT_EQ(hasVal, r.protocol != "fixed_epochs") << r.protocol;
    }
}

TEST(ValidationSplit, BadValuesAreRefusedNamingTheKey) {
    TaskRegistry registry;
    registry.add(std::make_shared<fixtures::ToyTask>());
    const std::string base = "task: toy/blobs\nlosses: [ce]\n";
    for (const auto& [yaml, expected] : std::vector<std::pair<std::string, std::string>>{
             {base + "data: {val_fraction: often}\n", "data.val_fraction"},
             {base + "data: {val_fraction: 0.95}\n", "in [0, 0.9]"},
             {base + "data: {split_seed: sometimes}\n", "per_seed"},
             {base + "data: {split_seed: -2}\n", "data.split_seed"}}) {
        try {
            loadExperimentText(yaml, "bad.yaml", {}, registry);
            ADD_FAILURE() << "accepted: " << yaml;
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("bad.yaml"), std::string::npos) << e.what();
        }
    }
}

} // namespace
