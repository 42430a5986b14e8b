// A seeded run gives the same numbers alone or beside others: every random draw comes from
// generators the run owns (initial weights, dropout masks, batch order, augmentation), never
// from torch's global generators, which the runs of one process share. Also: the divergence
// rule, and the validation split that belongs to the data rather than to the seed.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/types.h>

#include "losslab/error.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/spec/run_recipe.h"
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
    // runner.reuse_prefix off: both are trained (with it on, the runner copies them; below).
    const auto runs = run(m_registry, kToyDropout, 3, {{"train.patience", "50"}, {"runner.reuse_prefix", "off"}});
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

// runner.reuse_prefix (default auto): a square same-epochs run takes its epochs from the
// early-stopping run of its seed; every stored number is what training it gives, and its
// record names where they came from.
TEST_F(SeededRunsTest, AReusedSameEpochsRunStoresExactlyWhatTrainingItGives) {
    const auto trained = run(m_registry, kToyDropout, 1, {{"train.patience", "50"}, {"runner.reuse_prefix", "off"}});
    RunStore store(db("reused.sqlite"));
    RunQueue queue(store, m_registry);
    queue.start(loadExperimentText(kToyDropout, "seeded.yaml",
                                   {{"train.patience", "50"}, {"runner.cpu_runs", "2"}, {"runner.threads", "1"}}, m_registry));
    const RunQueueResult result = queue.wait();
    expectIdentical(trained, byKey(store, result.runIds), "reused against trained");
    RunFilter filter;
    filter.runIds = result.runIds;
    const std::vector<RunRecord> records = store.runs(filter);
    int reused = 0;
    for (const auto& r : records) {
        if (r.protocol != "same_epochs_as_ce" || r.loss != "square") {
            EXPECT_TRUE(r.reusedFrom.empty()) << r.id;
            continue;
        }
        ++reused;
        const auto source = std::find_if(records.begin(), records.end(), [&](const RunRecord& o) { return o.uid == r.reusedFrom; });
        ASSERT_NE(source, records.end()) << "run " << r.id << " names no stored run: '" << r.reusedFrom << "'";
        EXPECT_EQ(source->protocol, "early_stopping");
        EXPECT_EQ(source->loss, "square");
        EXPECT_EQ(source->seed, r.seed);
        EXPECT_EQ(r.epochs, r.targetEpochs);
        EXPECT_EQ(r.bestEpoch, r.targetEpochs);
        EXPECT_TRUE(r.checkpointPath.empty());
    }
    EXPECT_EQ(reused, 5);
    // Off: trained, so no record names a source.
    RunStore offStore(db("trained.sqlite"));
    RunQueue offQueue(offStore, m_registry);
    offQueue.start(loadExperimentText(kToyDropout, "seeded.yaml", {{"seeds", "[0]"}, {"runner.reuse_prefix", "off"}}, m_registry));
    for (const auto& r : offStore.runs()) EXPECT_TRUE(r.reusedFrom.empty()) << r.id;
}

// When the early-stopping run stopped before the CE run's epoch count, the same-epochs run
// trains itself (it has more epochs to go than there are to copy).
TEST_F(SeededRunsTest, ASameEpochsRunTrainsItselfWhenItsSourceStoppedEarlier) {
    // Patience 1 and a square loss that barely learns: it stops after its second epoch, while
    // CE improves for longer.
    RunStore store(db("short.sqlite"));
    RunQueue queue(store, m_registry);
    queue.start(loadExperimentText(kToyDropout, "seeded.yaml",
                                   {{"train.max_epochs", "6"}, {"train.patience", "1"}, {"losses.1.lr", "0.0001"}}, m_registry));
    const RunQueueResult result = queue.wait();
    RunFilter filter;
    filter.runIds = result.runIds;
    const std::vector<RunRecord> records = store.runs(filter);
    int checked = 0;
    for (const auto& r : records) {
        if (r.protocol != "same_epochs_as_ce") continue;
        const auto early = std::find_if(records.begin(), records.end(), [&](const RunRecord& o) {
            return o.loss == "square" && o.protocol == "early_stopping" && o.seed == r.seed;
        });
        ASSERT_NE(early, records.end());
        EXPECT_EQ(r.status, RunStatus::Completed) << r.error;
        if (early->epochs < r.targetEpochs) {
            EXPECT_TRUE(r.reusedFrom.empty()) << "seed " << r.seed;
            EXPECT_EQ(r.epochs, r.targetEpochs);
            ++checked;
        } else {
            EXPECT_EQ(r.reusedFrom, early->uid) << "seed " << r.seed;
        }
    }
    EXPECT_GT(checked, 0) << "no seed's square early-stopping run stopped before its CE run's epoch count";
}

// train.train_metrics: at_report evaluates the training set only after the epochs the protocol
// may report; every reported number is the one a full evaluation gives.
TEST_F(SeededRunsTest, TrainMetricsAtReportGiveTheSameReportedNumbersWithFewerPasses) {
    const std::vector<SpecOverride> base = {{"seeds", "[0, 1]"}, {"runner.reuse_prefix", "off"}};
    auto withMode = [&](const char* mode, const std::string& name, std::vector<std::int64_t>& ids) {
        std::vector<SpecOverride> o = base;
        o.push_back({"train.train_metrics", mode});
        auto store = std::make_unique<RunStore>(db(name));
        RunQueue queue(*store, m_registry);
        queue.start(loadExperimentText(kToyDropout, "seeded.yaml", o, m_registry));
        ids = queue.wait().runIds;
        return store;
    };
    std::vector<std::int64_t> fullIds, atReportIds;
    const auto full = withMode("full", "full.sqlite", fullIds);
    const auto atReport = withMode("at_report", "at_report.sqlite", atReportIds);
    ASSERT_EQ(fullIds.size(), atReportIds.size());
    int skippedEpochs = 0;
    for (std::size_t i = 0; i < fullIds.size(); ++i) {
        RunFilter fa, fb;
        fa.runIds = {fullIds[i]};
        fb.runIds = {atReportIds[i]};
        const RunRecord a = full->runs(fa).at(0);
        const RunRecord b = atReport->runs(fb).at(0);
        EXPECT_EQ(a.bestEpoch, b.bestEpoch);
        EXPECT_EQ(a.epochs, b.epochs);
        std::map<std::string, double> reportedA, reportedB;
        for (const auto& row : full->reportedMetrics({fullIds[i]}))
            if (row.value.metric != "wall_s" && row.value.metric != "examples_per_s")
                reportedA[row.value.split + "/" + row.value.metric] = row.value.value;
        for (const auto& row : atReport->reportedMetrics({atReportIds[i]}))
            if (row.value.metric != "wall_s" && row.value.metric != "examples_per_s")
                reportedB[row.value.split + "/" + row.value.metric] = row.value.value;
        EXPECT_EQ(reportedA, reportedB) << a.lossName << " " << a.protocol << " seed " << a.seed;
        EXPECT_TRUE(reportedB.count("train/acc")) << a.lossName << " " << a.protocol;
        std::set<int> epochsWithTrain;
        for (const auto& row : atReport->epochMetrics({atReportIds[i]}))
            if (row.value.split == "train" && row.value.metric == "acc") epochsWithTrain.insert(row.epoch);
        skippedEpochs += b.epochs - static_cast<int>(epochsWithTrain.size());
    }
    EXPECT_GT(skippedEpochs, 0) << "at_report evaluated the training set after every epoch";
}

// A training step reads nothing back from the device but the first step's loss and the
// training-loss mean of each log interval (on a GPU each read stalls the pipeline).
TEST_F(SeededRunsTest, TrainingStepsReadBackOnlyTheLoggedLossMeans) {
    const ExperimentSpec spec = loadExperimentText(kToyDropout, "seeded.yaml",
                                                   {{"seeds", "[0]"}, {"train.grad_clip", "1.0"}}, m_registry);
    const RunSpec runSpec = spec.expand().front();
    RunContext ctx;
    const RunOutcome out = trainRun(runSpec, *m_registry.require(runSpec.taskId), torch::Device(torch::kCPU), ctx);
    ASSERT_EQ(out.status, RunStatus::Completed) << out.error;
    // The toy set's steps per epoch, from the logged steps of a stored run.
    RunStore store(db("steps.sqlite"));
    RunQueue queue(store, m_registry);
    queue.start(loadExperimentText(kToyDropout, "seeded.yaml", {{"seeds", "[0]"}, {"train.grad_clip", "1.0"}}, m_registry));
    const std::int64_t id = queue.wait().runIds.front();
    std::int64_t logged = 0;
    for (const auto& row : store.stepMetrics(id)) logged += row.metric == "train_loss";
    EXPECT_EQ(out.hostReadsInSteps, 1 + logged);
}

// train.precision bf16: the model computes in bfloat16 (other numbers than fp32), still learns,
// is as reproducible as fp32, and its autocast state stays on its own thread: fp32 runs beside
// bf16 runs of a sweep give exactly their numbers alone.
TEST_F(SeededRunsTest, Bf16RunsChangeTheNumbersButNotThoseOfFp32RunsBesideThem) {
    const std::vector<SpecOverride> one = {{"seeds", "[0]"}, {"runner.reuse_prefix", "off"}};
    const auto fp32 = run(m_registry, kToyDropout, 1, one);
    std::vector<SpecOverride> bf16Overrides = one;
    bf16Overrides.push_back({"train.precision", "bf16"});
    const auto bf16 = run(m_registry, kToyDropout, 1, bf16Overrides);
    ASSERT_EQ(fp32.size(), bf16.size());
    for (const auto& [key, series] : fp32) {
        EXPECT_NE(series, bf16.at(key)) << key << ": bf16 gave the fp32 numbers";
        double best = 0;
        for (const auto& [name, value] : bf16.at(key))
            if (name.size() > 9 && name.compare(name.size() - 9, 9, "/test/acc") == 0) best = std::max(best, value);
        EXPECT_GT(best, 0.5) << key << " in bf16 should still learn the blobs";
    }
    // Both precisions in one queue, two runs at a time.
    const std::string swept = std::string(kToyDropout) + "sweep:\n  train.precision: [fp32, bf16]\n";
    RunStore store(db("precision-sweep.sqlite"));
    RunQueue queue(store, m_registry);
    queue.start(loadExperimentText(swept, "seeded.yaml", {{"seeds", "[0]"}, {"runner.reuse_prefix", "off"},
                                                          {"runner.cpu_runs", "2"}, {"runner.threads", "1"}},
                                   m_registry));
    const RunQueueResult result = queue.wait();
    RunFilter filter;
    filter.runIds = result.runIds;
    int compared = 0;
    for (const auto& r : store.runs(filter)) {
        const bool isBf16 = runRecipe(r.specYaml).at("train.precision") == "bf16";
        const RunKey key = r.lossName + " " + r.protocol + " " + std::to_string(r.seed);
        EXPECT_EQ(series(store, r.id), (isBf16 ? bf16 : fp32).at(key)) << key << (isBf16 ? " bf16" : " fp32");
        ++compared;
    }
    EXPECT_EQ(compared, 6);
}

// train.channels_last: convolution weights and image batches in channels-last order train the
// toy task (no 4-D tensors: unchanged numbers) and a conv net to about the same numbers.
TEST_F(SeededRunsTest, ChannelsLastLeavesModelsWithoutImagesUnchangedAndTrainsAConvNet) {
    const std::vector<SpecOverride> one = {{"seeds", "[0]"}, {"runner.reuse_prefix", "off"}};
    std::vector<SpecOverride> channelsLast = one;
    channelsLast.push_back({"train.channels_last", "true"});
    expectIdentical(run(m_registry, kToyDropout, 1, one), run(m_registry, kToyDropout, 1, channelsLast), "channels_last");

    const std::string root = "/usr/share/datasets/fashion-mnist";
    if (!fs::exists(root + "/train-images-idx3-ubyte.gz")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    const std::string cnn = R"(
name: cnn
task: fashion_mnist/cnn
device: cpu
losses: [ce]
protocols: [early_stopping]
seeds: 1
data: {root: )" + root + R"(, limit_train: 512, limit_test: 256}
train: {max_epochs: 2, batch_size: 64, log_every_steps: 4}
)";
    const TaskRegistry& vision = fixtures::visionTasks();
    const Series plain = run(vision, cnn, 1).at("ce early_stopping 0");
    const Series last = run(vision, cnn, 1, {{"train.channels_last", "true"}}).at("ce early_stopping 0");
    ASSERT_EQ(plain.size(), last.size());
    for (const auto& [key, value] : plain) EXPECT_NEAR(value, last.at(key), 0.02 + 0.02 * std::abs(value)) << key;
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
        RunQueue resumed(store, m_registry, RunQueueOptions{"", 1, 1, 1, 0, {}, {}});
        resumed.resume(cut);
        EXPECT_EQ(resumed.wait().completed, 1);
        busy.wait();
    }
    const auto after = byKey(store, cut);
    expectIdentical(reference, after, "resumed beside other runs");
}

namespace {

std::vector<std::int64_t> idsOf(const RunStore& store) {
    std::vector<std::int64_t> ids;
    for (const auto& r : store.runs()) ids.push_back(r.id);
    return ids;
}

RunRecord recordOf(const RunStore& store, std::int64_t id) {
    RunFilter one;
    one.runIds = {id};
    const auto records = store.runs(one);
    if (records.size() != 1) throw std::runtime_error("no run #" + std::to_string(id));
    return records.front();
}

std::string uidOf(const RunStore& store, const std::string& loss, const std::string& protocol) {
    for (const auto& r : store.runs())
        if (r.loss == loss && r.protocol == protocol) return r.uid;
    return "";
}

} // namespace

// runner.reuse_prefix on resume: a square same-epochs run stopped as it started, after its
// early-stopping sibling completed, copies that sibling's epochs when resumed by a later
// process with the same library and thread count: exactly what training it gives. Resumed
// with another thread count than the sibling trained with, it trains itself.
TEST_F(SeededRunsTest, AResumedSameEpochsRunCopiesFromTheSiblingAnEarlierProcessCompleted) {
    const std::vector<SpecOverride> one = {{"seeds", "[2]"}, {"train.patience", "50"}};
    std::vector<SpecOverride> off = one;
    off.push_back({"runner.reuse_prefix", "off"});
    const auto trained = run(m_registry, kToyDropout, 1, off);

    auto stoppedAsItStarts = [&](RunStore& store) {
        std::vector<SpecOverride> o = one;
        o.push_back({"runner.threads", "1"});
        RunQueue queue(store, m_registry);
        std::atomic<std::int64_t> id{0};
        queue.addObserver([&](const RunEvent& e) {
            if (e.kind == RunEvent::Kind::Started && e.label.find("square same_epochs_as_ce") != std::string::npos) {
                id = e.runId;
                queue.interruptAll();
            }
        });
        queue.start(loadExperimentText(kToyDropout, "seeded.yaml", o, m_registry));
        const RunQueueResult result = queue.wait();
        EXPECT_EQ(result.completed, 2);
        EXPECT_EQ(result.cancelled, 1);
        const RunRecord r = recordOf(store, id);
        EXPECT_EQ(r.status, RunStatus::Interrupted);
        EXPECT_TRUE(r.reusedFrom.empty());
        return id.load();
    };

    RunStore same(db("same-threads.sqlite"));
    const std::int64_t copied = stoppedAsItStarts(same);
    {
        RunQueue queue(same, m_registry); // runner.threads 1 from the stored run, as before
        queue.resume({copied});
        EXPECT_EQ(queue.wait().completed, 1);
    }
    const RunRecord r = recordOf(same, copied);
    EXPECT_EQ(r.status, RunStatus::Completed) << r.error;
    EXPECT_EQ(r.reusedFrom, uidOf(same, "square", "early_stopping"));
    EXPECT_FALSE(r.reusedFrom.empty());
    EXPECT_EQ(r.epochs, r.targetEpochs);
    EXPECT_TRUE(r.checkpointPath.empty());
    EXPECT_FALSE(fs::exists(same.checkpointPathFor(copied)));
    expectIdentical(trained, byKey(same, idsOf(same)), "resumed and copied against trained");

    RunStore other(db("other-threads.sqlite"));
    const std::int64_t retrained = stoppedAsItStarts(other);
    {
        RunQueueOptions options;
        options.threadsPerRun = 2;
        RunQueue queue(other, m_registry, options);
        queue.resume({retrained});
        EXPECT_EQ(queue.wait().completed, 1);
    }
    const RunRecord t = recordOf(other, retrained);
    EXPECT_EQ(t.status, RunStatus::Completed) << t.error;
    EXPECT_TRUE(t.reusedFrom.empty());
    EXPECT_EQ(t.threads, 2);
    EXPECT_EQ(t.epochs, t.targetEpochs);
    EXPECT_TRUE(fs::exists(other.checkpointPathFor(retrained)));
}

// A square same-epochs run that trained itself (its sibling was cancelled) and was then
// interrupted: resumed beside its resumed sibling, it copies the sibling's epochs in place of
// its own first ones, and its stale resume checkpoint goes. Every stored number is what an
// uninterrupted, trained run gives.
TEST_F(SeededRunsTest, AResumedSameEpochsRunReplacesItsOwnFirstEpochsWithItsResumedSiblings) {
    const std::vector<SpecOverride> one = {{"seeds", "[2]"}, {"train.patience", "50"}, {"train.max_epochs", "5"}};
    std::vector<SpecOverride> off = one;
    off.push_back({"runner.reuse_prefix", "off"});
    const auto trained = run(m_registry, kToyDropout, 1, off);

    RunStore store(db("partly.sqlite"));
    std::atomic<std::int64_t> sibling{0}, same{0};
    {
        std::vector<SpecOverride> o = one;
        o.push_back({"runner.threads", "1"});
        RunQueue queue(store, m_registry);
        queue.addObserver([&](const RunEvent& e) {
            if (e.kind == RunEvent::Kind::Started && e.label.find("square early_stopping") != std::string::npos)
                sibling = e.runId;
            if (e.kind == RunEvent::Kind::Started && e.label.find("square same_epochs_as_ce") != std::string::npos)
                same = e.runId;
            if (e.kind == RunEvent::Kind::Step && e.runId == sibling && e.epoch == 2) queue.cancel(e.runId);
            if (e.kind == RunEvent::Kind::Epoch && e.runId == same && e.epoch == 1) queue.interruptAll();
        });
        queue.start(loadExperimentText(kToyDropout, "seeded.yaml", o, m_registry));
        queue.wait();
    }
    const RunRecord before = recordOf(store, same);
    ASSERT_EQ(before.status, RunStatus::Interrupted) << "the same-epochs run must be cut after its first epoch";
    ASSERT_EQ(before.epochs, 1);
    ASSERT_GT(before.targetEpochs, 1);
    ASSERT_TRUE(fs::exists(store.resumePathFor(same)));
    ASSERT_EQ(recordOf(store, sibling).status, RunStatus::Cancelled);
    {
        RunQueue queue(store, m_registry);
        queue.resume({sibling, same});
        EXPECT_EQ(queue.wait().completed, 2);
    }
    const RunRecord after = recordOf(store, same);
    EXPECT_EQ(after.reusedFrom, recordOf(store, sibling).uid);
    EXPECT_EQ(after.epochs, after.targetEpochs);
    EXPECT_FALSE(fs::exists(store.resumePathFor(same)));
    EXPECT_FALSE(fs::exists(store.resumePathFor(sibling)));
    expectIdentical(trained, byKey(store, idsOf(store)), "resumed beside its sibling against trained");
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
