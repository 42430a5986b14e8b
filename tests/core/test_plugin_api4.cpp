// Plugin API 4, sequence-to-sequence tasks: label sequences padded with kIgnoreLabel (the loss
// and metrics skip the padding, a model may return fewer positions), the batch's labels as the
// model's targets, a model's own loss mixed into the objective, task evaluators for the
// validation and test splits, the data cache folder beside the run database; and the analysis
// of error rates (lower is better, first in a speech-only report).
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>

#include "losslab/analysis/loss_comparison.h"
#include "losslab/losses/loss_function.h"
#include "losslab/metrics/metric_accumulator.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"
#include "scratch_dir.h"

namespace fs = std::filesystem;
using namespace losslab;

namespace {

torch::Tensor longs(std::vector<std::int64_t> v, std::vector<std::int64_t> shape) {
    return torch::tensor(v, torch::kLong).reshape(shape);
}

TEST(PaddedLoss, IgnoresPaddingAndAveragesOverRealPositions) {
    const torch::Tensor scores = torch::randn({2, 3, 4}, at::make_generator<at::CPUGeneratorImpl>(7));
    const torch::Tensor labels = longs({1, 2, -1, 3, -1, -1}, {2, 3});
    for (const LossKind kind : {LossKind::CrossEntropy, LossKind::Square}) {
        LossFunction padded(kind, 1.0, 1.0);
        padded.setIgnorePadding(true);
        const LossFunction plain(kind, 1.0, 1.0);
        // The three real positions alone, as one batch of rows.
        const torch::Tensor rows = torch::stack({scores[0][0], scores[0][1], scores[1][0]});
        const torch::Tensor expected = plain(rows, longs({1, 2, 3}, {3}));
        EXPECT_NEAR(padded(scores, labels).item<double>(), expected.item<double>(), 1e-6);
        const torch::Tensor perPosition = padded.perExample(scores, labels);
        EXPECT_EQ(perPosition[2].item<double>(), 0.0);
        EXPECT_EQ(perPosition[5].item<double>(), 0.0);
    }
}

TEST(PaddedLoss, ScoresMayStopBeforeTheLabelsPadding) {
    LossFunction loss(LossKind::Square, 1.0, 1.0);
    loss.setIgnorePadding(true);
    const torch::Tensor scores = torch::randn({2, 2, 4}, at::make_generator<at::CPUGeneratorImpl>(3));
    const torch::Tensor labels = longs({1, 2, -1, -1, 3, -1, -1, -1}, {2, 4});
    const torch::Tensor full = torch::cat({scores, torch::zeros({2, 2, 4})}, 1);
    EXPECT_NEAR(loss(scores, labels).item<double>(), loss(full, labels).item<double>(), 1e-7);
}

TEST(PaddedMetrics, CountOnlyRealPositions) {
    LossFunction loss(LossKind::CrossEntropy, 1.0, 1.0);
    loss.setIgnorePadding(true);
    MetricAccumulator acc(loss, 4);
    torch::Tensor scores = torch::zeros({1, 4, 4});
    scores[0][0][1] = 5; // right
    scores[0][1][0] = 5; // wrong (label 2)
    scores[0][2][3] = 5; // padding: would be right for label 3
    acc.add(scores, longs({1, 2, -1, -1}, {1, 4}));
    EXPECT_EQ(acc.count(), 2);
    double accuracy = -1;
    for (const auto& m : acc.finish("test"))
        if (m.metric == "acc") accuracy = m.value;
    EXPECT_DOUBLE_EQ(accuracy, 0.5);
}

TEST(BucketedBatches, EveryRowOnceAndSimilarLengthsTogether) {
    const torch::Tensor lengths = torch::randint(1, 100, {103}, at::make_generator<at::CPUGeneratorImpl>(5)).to(torch::kLong);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
    const auto batches = bucketedBatches(lengths, 10, 50, gen);
    std::set<std::int64_t> seen;
    for (const auto& b : batches) {
        for (std::int64_t i = 0; i < b.size(0); ++i) EXPECT_TRUE(seen.insert(b[i].item<std::int64_t>()).second);
        // One pool holds all 103 rows here: each batch is a run of the sorted lengths.
        for (std::int64_t i = 1; i < b.size(0); ++i)
            EXPECT_GE(lengths[b[i - 1].item<std::int64_t>()].item<std::int64_t>(), lengths[b[i].item<std::int64_t>()].item<std::int64_t>());
    }
    EXPECT_EQ(seen.size(), 103u);
    auto again = at::make_generator<at::CPUGeneratorImpl>(11);
    const auto same = bucketedBatches(lengths, 10, 50, again);
    ASSERT_EQ(same.size(), batches.size());
    for (std::size_t i = 0; i < same.size(); ++i) EXPECT_TRUE(torch::equal(same[i], batches[i]));
}

// A toy sequence task: copy a sequence of 1..3 symbols (ids 1..4) followed by <eos> 5; labels
// padded with -1 to width 4. The model reads its targets (teacher forcing), adds a loss of its
// own (0.25 * mean squared weight), and returns only as many positions as the batch needs.
std::atomic<int> g_targetsSeen{0};
std::atomic<int> g_objectiveCalls{0};

class CopyModel final : public ClassifierModule {
public:
    explicit CopyModel(at::Generator& init) {
        m_embed = register_module("embed", torch::nn::Embedding(6, 16));
        m_out = register_module("out", torch::nn::Linear(16, 6));
        initLikePyTorch(*this, init);
    }
    torch::Tensor forward(const ModelInput& in) override {
        if (in.targets.defined()) ++g_targetsSeen;
        EXPECT_TRUE(in.targets.defined());
        const std::int64_t width = in.lengths.max().item<std::int64_t>() + 1; // the symbols and <eos>
        torch::Tensor ids = in.features.narrow(1, 0, width);
        m_own = 0.25 * m_out->weight.pow(2).mean();
        return m_out->forward(m_embed->forward(ids));
    }
    torch::Tensor objective(const torch::Tensor& studyLoss) override {
        ++g_objectiveCalls;
        return studyLoss + m_own;
    }

private:
    torch::nn::Embedding m_embed{nullptr};
    torch::nn::Linear m_out{nullptr};
    torch::Tensor m_own;
};

class CopyTransform final : public InputTransform {
public:
    explicit CopyTransform(torch::Tensor offset) : m_offset(std::move(offset)) {}
    ModelInput apply(const TensorSplit& batch, bool, at::Generator&) const override {
        ModelInput in;
        in.features = batch.features + m_offset.to(batch.features.device()); // the loader tensor (0)
        in.lengths = batch.lengths;
        return in;
    }

private:
    torch::Tensor m_offset;
};

class RowCounter final : public TaskEvaluator {
public:
    void add(ClassifierModule&, const ModelInput& input, const TensorSplit& batch) override {
        EXPECT_TRUE(input.targets.defined());
        m_rows += batch.size();
    }
    std::vector<MetricValue> finish(const std::string& split) const override {
        return {{split, "rows_seen", static_cast<double>(m_rows)}, {split, "wer", 1.0 / (1.0 + m_rows)}};
    }

private:
    std::int64_t m_rows = 0;
};

std::atomic<int> g_cacheDirsSeen{0};

class CopyTask final : public Task {
public:
    CopyTask() {
        m_info.id = "toy/copy";
        m_info.description = "copy a short sequence (tests only)";
        m_info.domain = "speech";
        m_info.dataset = "copy";
        m_info.model = "embedding + linear";
        m_info.numClasses = 6;
        m_info.paddedLabels = true;
        m_info.recipe = {{"train.lr", "0.5"}, {"train.batch_size", "16"}, {"train.max_epochs", "3"}};
    }
    const TaskInfo& info() const override { return m_info; }
    DataBundle loadData(const ParamSet& params) const override { return loadDataIn(params, {}); }
    DataBundle loadDataIn(const ParamSet&, const DataContext& context) const override {
        if (!context.cacheDir.empty()) ++g_cacheDirsSeen;
        auto gen = at::make_generator<at::CPUGeneratorImpl>(99);
        auto make = [&](std::int64_t n) {
            TensorSplit s;
            s.lengths = torch::randint(1, 4, {n}, gen, torch::TensorOptions().dtype(torch::kLong));
            s.features = torch::randint(1, 5, {n, 4}, gen, torch::TensorOptions().dtype(torch::kLong));
            s.labels = torch::full({n, 4}, kIgnoreLabel, torch::kLong);
            for (std::int64_t i = 0; i < n; ++i) {
                const std::int64_t len = s.lengths[i].item<std::int64_t>();
                s.features[i].narrow(0, len, 4 - len).fill_(5);
                s.labels[i].narrow(0, 0, len).copy_(s.features[i].narrow(0, 0, len));
                s.labels[i][len] = 5;
            }
            return s;
        };
        DataBundle b;
        b.train = make(200);
        b.val = make(40);
        b.test = make(40);
        b.tensors["offset"] = torch::zeros({1}, torch::kLong);
        b.source = "generated copies";
        return b;
    }
    std::unique_ptr<InputTransform> makeTransform(const ParamSet&, const torch::Device&) const override { return nullptr; }
    std::unique_ptr<InputTransform> makeTransformFor(const ParamSet&, const torch::Device&, const DataBundle& data) const override {
        return std::make_unique<CopyTransform>(data.tensors.at("offset"));
    }
    std::shared_ptr<ClassifierModule> makeModel(const ParamSet&, at::Generator& init) const override {
        return std::make_shared<CopyModel>(init);
    }
    std::unique_ptr<TaskEvaluator> makeEvaluator(const ParamSet&, const std::string& split) const override {
        if (split == "train") return nullptr;
        return std::make_unique<RowCounter>();
    }

private:
    TaskInfo m_info;
};

TEST(PluginApi4, SequenceTaskTrainsThroughTheCoreWithItsHooks) {
    fixtures::ScratchDir dir("losslab-api4");
    TaskRegistry registry;
    registry.add(std::make_shared<CopyTask>());
    RunStore store((dir.path() / "runs.sqlite").string());
    RunQueue queue(store, registry);
    g_targetsSeen = 0;
    g_objectiveCalls = 0;
    g_cacheDirsSeen = 0;
    queue.start(loadExperimentText("name: copy\ntask: toy/copy\ndevice: cpu\nlosses:\n  - loss: ce\n  - loss: square\n"
                                   "protocols: [early_stopping]\nseeds: 1\n",
                                   "copy.yaml", {}, registry));
    const RunQueueResult result = queue.wait();
    ASSERT_EQ(result.runIds.size(), 2u);
    EXPECT_GT(g_targetsSeen.load(), 0);
    EXPECT_GT(g_objectiveCalls.load(), 0);
    EXPECT_GT(g_cacheDirsSeen.load(), 0) << "the loader is told the cache folder beside the run database";
    EXPECT_EQ(store.dataCacheDir(), (dir.path() / "runs-cache").string());
    for (const RunRecord& run : store.runs()) {
        const std::int64_t id = run.id;
        EXPECT_EQ(run.status, RunStatus::Completed) << run.error;
        std::map<std::string, double> last;
        for (const auto& row : store.epochMetrics({id}))
            if (row.epoch == 3) last[row.value.split + "/" + row.value.metric] = row.value.value;
        EXPECT_EQ(last.at("val/rows_seen"), 40.0);
        EXPECT_EQ(last.at("test/rows_seen"), 40.0);
        EXPECT_EQ(last.count("train/rows_seen"), 0u) << "the task asked for no training-set evaluator";
        // Padding is not counted: with 3 epochs of copying, token accuracy is well above chance.
        EXPECT_GT(last.at("test/acc"), 0.5);
    }
}

TEST(ErrorRateAnalysis, LeadSpeechOnlyReportsAndCompareAsCeMinusSquare) {
    auto run = [](std::int64_t id, const std::string& task, const std::string& loss, std::int64_t seed, double wer) {
        RunResult r;
        r.run.id = id;
        r.run.taskId = task;
        r.run.loss = loss;
        r.run.lossName = loss;
        r.run.protocol = "early_stopping";
        r.run.seed = seed;
        r.run.status = RunStatus::Completed;
        r.reported = {{"test/acc", 0.9}, {"test/wer", wer}, {"test/cer", wer / 2}};
        return r;
    };
    std::vector<RunResult> runs = {run(1, "s", "ce", 0, 0.30), run(2, "s", "square", 0, 0.25),
                                   run(3, "s", "ce", 1, 0.32), run(4, "s", "square", 1, 0.28)};
    const std::map<std::string, TaskMeta> meta = {{"s", {"speech", 31, ""}}, {"v", {"vision", 10, ""}}};
    const LossAnalysis speech = analyzeRuns(runs, meta);
    const auto metrics = headlineMetrics(speech, AnalysisOptions{});
    ASSERT_GE(metrics.size(), 3u);
    EXPECT_EQ(metrics[0], "test/wer");
    EXPECT_EQ(metrics[1], "test/cer");
    EXPECT_EQ(metrics[2], "test/acc");
    EXPECT_TRUE(lowerIsBetter("test/wer"));
    for (const auto& c : speech.comparisons)
        if (c.metric == "test/wer") {
            ASSERT_EQ(c.differences.size(), 2u);
            EXPECT_NEAR(c.differences[0], 0.05, 1e-12); // CE minus square: positive, square better
            EXPECT_NEAR(c.differences[1], 0.04, 1e-12);
        }
    // Beside a vision task, accuracy leads and the error rates follow.
    RunResult v1 = run(5, "v", "ce", 0, 0), v2 = run(6, "v", "square", 0, 0);
    v1.reported = {{"test/acc", 0.8}};
    v2.reported = {{"test/acc", 0.82}};
    runs.push_back(v1);
    runs.push_back(v2);
    const auto mixed = headlineMetrics(analyzeRuns(runs, meta), AnalysisOptions{});
    EXPECT_EQ(mixed.front(), "test/acc");
    EXPECT_NE(std::find(mixed.begin(), mixed.end(), "test/wer"), mixed.end());
}

} // namespace
