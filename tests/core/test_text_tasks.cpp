// The text plugin (plugins/text), loaded as a shared library like a user's plugin: its tasks,
// their models against a PyTorch-Python reference (parameter counts), padding masks,
// causality, bucketing, pretrained vectors, bad input, and a short run of every task on
// generated data (tests/core/text_fixtures.h) that must learn above chance.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cuda_required.h"
#include "error_matchers.h"
#include "losslab/data_error.h"
#include "losslab/error.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/task.h"
#include "reference_python.h"
#include "scratch_dir.h"
#include "step_syncs.h"
#include "text_fixtures.h"
#include "vision_registry.h"

namespace fs = std::filesystem;
using namespace losslab;
using losslab::fixtures::ScratchDir;

namespace {

const TaskRegistry& registry() { return fixtures::visionTasks(); } // every plugin of the build tree

// The task's resolved parameters with `yaml` (the experiment's other keys) applied.
// A "data: {...}" mapping in `extra` gets the root added to it.
ParamSet paramsFor(const std::string& task, const std::string& root, std::string extra = "") {
    const std::string rootKey = "root: '" + root + "'";
    const std::size_t data = extra.find("data: {");
    if (data == std::string::npos)
        extra += "data: {" + rootKey + "}\n";
    else
        extra.insert(data + 7, rootKey + ", ");
    const std::string yaml = "name: t\ntask: " + task + "\ndevice: cpu\nlosses: [ce]\nseeds: [0]\n" + extra;
    return loadExperimentText(yaml, "test.yaml", {}, registry()).params;
}

std::int64_t parameterCount(torch::nn::Module& model) {
    std::int64_t n = 0;
    for (const auto& p : model.parameters()) n += p.numel();
    return n;
}

// The count printed by the Python reference (bench/text_models_ref.py) for `args`.
std::int64_t pythonCount(const std::string& args) {
    const std::string out =
        fixtures::runReferencePython(std::string(LOSSLAB_SOURCE_DIR) + "/bench/text_models_ref.py count " + args);
    try {
        return std::stoll(out);
    } catch (const std::exception&) {
        throw Error("bench/text_models_ref.py count " + args + " printed: " + out);
    }
}

std::shared_ptr<ClassifierModule> buildModel(const std::string& task, const ParamSet& params, std::uint64_t seed = 1) {
    at::Generator init = at::make_generator<at::CPUGeneratorImpl>(seed);
    return registry().require(task)->makeModel(params, init);
}

} // namespace

TEST(TextTasks, RegisteredWithFormatsAndKeys) {
    const std::vector<std::string> ids = {"glue/mrpc/lstm_attention", "glue/mrpc/lstm_cnn", "glue/qnli/lstm_attention",
                                          "glue/qnli/lstm_cnn",       "glue/qqp/lstm_attention", "glue/qqp/lstm_cnn",
                                          "glue/sst2/bilstm",         "text/csv/bilstm",   "chars/text8/transformer",
                                          "chars/enwik8/transformer"};
    for (const auto& id : ids) {
        const TaskInfo* info = registry().findInfo(id);
        ASSERT_NE(info, nullptr) << id;
        EXPECT_EQ(info->plugin, "text");
        EXPECT_EQ(info->domain, "text");
        EXPECT_FALSE(info->dataFormat.empty()) << id;
        EXPECT_FALSE(info->testSetNote.empty()) << id;
    }
    EXPECT_EQ(registry().requireInfo("chars/text8/transformer").numClasses, 27);
    EXPECT_EQ(registry().requireInfo("chars/text8/transformer").metrics, std::vector<std::string>{"bpc"});
    EXPECT_EQ(registry().requireInfo("glue/mrpc/lstm_cnn").paperDataset, "mrpc");
    EXPECT_EQ(registry().requireInfo("text/csv/bilstm").numClasses, 0); // data.classes
}

TEST(TextTasks, ParameterCountsMatchPyTorchPythonReference) {
    struct Case {
        std::string task, yaml, python;
    };
    const std::vector<Case> cases = {
        {"glue/sst2/bilstm", "model: {embedding_dim: 24, hidden: 10}\ndata: {max_words: 98}",
         "bilstm vocab=100 embedding_dim=24 hidden=10 classes=2"},
        {"glue/mrpc/lstm_attention", "model: {embedding_dim: 20, hidden: 12}\ndata: {max_words: 48}",
         "esim vocab=50 embedding_dim=20 hidden=12 classes=2"},
        {"glue/qqp/lstm_cnn", "model: {embedding_dim: 16, hidden: 8, cube_size: 10, channels: [6, 7, 5]}\ndata: {max_words: 28}",
         "lstm_cnn vocab=30 embedding_dim=16 hidden=8 classes=2 cube_size=10 channels=6,7,5"},
        {"chars/text8/transformer", "model: {layers: 2, dim: 24, heads: 3, feed_forward: 40}\ndata: {context: 11}",
         "transformer classes=27 layers=2 dim=24 heads=3 feed_forward=40 context=11"},
        {"text/csv/bilstm", "model: {embedding_dim: 8, hidden: 6}\ndata: {max_words: 10, classes: 5}",
         "bilstm vocab=12 embedding_dim=8 hidden=6 classes=5"},
    };
    for (const auto& c : cases) {
        auto model = buildModel(c.task, paramsFor(c.task, "/nonexistent", c.yaml));
        EXPECT_EQ(parameterCount(*model), pythonCount(c.python)) << c.task << " vs " << c.python;
    }
    // The tasks' defaults too (the sizes docs/text-tasks.md gives).
    auto esim = buildModel("glue/mrpc/lstm_attention", paramsFor("glue/mrpc/lstm_attention", "/x"));
    EXPECT_EQ(parameterCount(*esim), pythonCount("esim vocab=30002 embedding_dim=300 hidden=300 classes=2"));
    auto chars = buildModel("chars/text8/transformer", paramsFor("chars/text8/transformer", "/x"));
    EXPECT_EQ(parameterCount(*chars),
              pythonCount("transformer classes=27 layers=4 dim=256 heads=4 feed_forward=1024 context=70"));
}

// Sequences padded to a common width give the same scores as each sequence alone.
TEST(TextTasks, PaddedBatchGivesTheScoresOfUnpaddedSequences) {
    const std::vector<std::string> tasks = {"glue/sst2/bilstm", "glue/mrpc/lstm_attention", "glue/mrpc/lstm_cnn"};
    const std::vector<std::vector<std::int64_t>> a = {{5, 9, 3}, {7, 2, 8, 4, 6, 3, 2}, {4}};
    const std::vector<std::vector<std::int64_t>> b = {{3, 3, 9, 5, 7}, {8}, {2, 6, 4, 9}};
    auto padded = [](const std::vector<std::vector<std::int64_t>>& rows, std::int64_t width) {
        torch::Tensor ids = torch::zeros({static_cast<std::int64_t>(rows.size()), width}, torch::kLong);
        for (std::size_t r = 0; r < rows.size(); ++r)
            for (std::size_t t = 0; t < rows[r].size(); ++t) ids[static_cast<std::int64_t>(r)][static_cast<std::int64_t>(t)] = rows[r][t];
        return ids;
    };
    auto lengths = [](const std::vector<std::vector<std::int64_t>>& rows) {
        std::vector<std::int64_t> l;
        for (const auto& r : rows) l.push_back(static_cast<std::int64_t>(r.size()));
        return torch::tensor(l, torch::kLong);
    };
    for (const auto& task : tasks) {
        auto model = buildModel(task, paramsFor(task, "/x", "model: {embedding_dim: 12, hidden: 7}\ndata: {max_words: 20}\n"));
        model->eval();
        torch::NoGradGuard noGrad;
        ModelInput batch;
        batch.features = padded(a, 10);
        batch.lengths = lengths(a);
        batch.features2 = padded(b, 12);
        batch.lengths2 = lengths(b);
        const torch::Tensor together = model->forward(batch);
        for (std::size_t r = 0; r < a.size(); ++r) {
            ModelInput one;
            one.features = padded({a[r]}, static_cast<std::int64_t>(a[r].size()));
            one.lengths = lengths({a[r]});
            one.features2 = padded({b[r]}, static_cast<std::int64_t>(b[r].size()));
            one.lengths2 = lengths({b[r]});
            const torch::Tensor alone = model->forward(one);
            EXPECT_TRUE(torch::allclose(together[static_cast<std::int64_t>(r)], alone[0], 1e-5, 1e-6))
                << task << " row " << r << ": " << together[static_cast<std::int64_t>(r)] << " vs " << alone[0];
        }
    }
}

TEST(TextTasks, CharTransformerIsCausal) {
    auto model = buildModel("chars/text8/transformer",
                            paramsFor("chars/text8/transformer", "/x", "model: {layers: 2, dim: 16, heads: 2, feed_forward: 32}\n"));
    model->eval();
    torch::NoGradGuard noGrad;
    ModelInput input;
    input.features = torch::randint(0, 27, {2, 20}, torch::kLong);
    const torch::Tensor before = model->forward(input);
    EXPECT_EQ(before.sizes(), (std::vector<std::int64_t>{2, 20, 27}));
    input.features = input.features.clone();
    input.features.select(1, 12).fill_(5);
    input.features.select(1, 19).fill_(0);
    const torch::Tensor after = model->forward(input);
    EXPECT_TRUE(torch::allclose(before.narrow(1, 0, 12), after.narrow(1, 0, 12), 1e-5, 1e-6));
    EXPECT_FALSE(torch::allclose(before.narrow(1, 12, 8), after.narrow(1, 12, 8), 1e-5, 1e-6));
}

TEST(TextTasks, BucketedBatchesCoverEveryRowOnceWithSimilarLengths) {
    ScratchDir dir("losslab-text");
    fixtures::writeGlueFolder(dir.path() / "SST-2", fixtures::FixtureGlue::Sst2, 900, 20);
    const ParamSet params = paramsFor("glue/sst2/bilstm", dir.file("SST-2"));
    const auto task = registry().require("glue/sst2/bilstm");
    const DataBundle data = task->loadData(params);
    const auto transform = task->makeTransform(params, torch::kCPU);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
    const auto batches = transform->batchOrder(data.train, 16, gen);
    std::set<std::int64_t> seen;
    double spread = 0, plainSpread = 0;
    for (const auto& b : batches) {
        for (std::int64_t i = 0; i < b.size(0); ++i) EXPECT_TRUE(seen.insert(b[i].item<std::int64_t>()).second);
        const torch::Tensor l = data.train.lengths.index_select(0, b);
        spread += (l.max() - l.min()).item<double>();
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(data.train.size()));
    at::Generator gen2 = at::make_generator<at::CPUGeneratorImpl>(3);
    for (const auto& b : shuffledBatches(data.train.size(), 16, gen2)) {
        const torch::Tensor l = data.train.lengths.index_select(0, b);
        plainSpread += (l.max() - l.min()).item<double>();
    }
    EXPECT_LT(spread, 0.5 * plainSpread);
    // A batch is cut to its longest text.
    const TensorSplit batch = data.train.index(batches.front());
    const ModelInput input = transform->apply(batch, true, gen);
    EXPECT_EQ(input.features.size(1), batch.lengths.max().item<std::int64_t>());
    EXPECT_EQ(input.features.scalar_type(), torch::kLong);
}

TEST(TextTasks, PretrainedVectorsFillTheEmbeddingAndBadLinesNameTheFile) {
    ScratchDir dir("losslab-text");
    fixtures::writeGlueFolder(dir.path() / "MRPC", fixtures::FixtureGlue::Mrpc, 60, 10);
    {
        std::ofstream glove(dir.file("vectors.txt"));
        glove << "alpha 0.5 -1 2 0.25\nnotinvocab 1 1 1 1\nbravo 1e-1 0 0 3\n";
    }
    const std::string task = "glue/mrpc/lstm_attention";
    const ParamSet params = paramsFor(task, dir.file("MRPC"),
                                      "model: {embedding_dim: 4, hidden: 3, embeddings: '" + dir.file("vectors.txt") + "'}\n");
    const auto t = registry().require(task);
    const DataBundle data = t->loadData(params);
    ASSERT_EQ(data.tensors.count("embeddings"), 1u);
    auto model = buildModel(task, params);
    const torch::Tensor before = model->parameters()[0].clone(); // the embedding, registered first
    t->prepareModel(*model, data, params);
    const torch::Tensor weight = model->parameters()[0];
    const torch::Tensor found = data.tensors.at("embeddings_found");
    EXPECT_EQ(found.sum().item<std::int64_t>(), 2);
    std::vector<std::int64_t> rows;
    for (std::int64_t i = 0; i < found.size(0); ++i)
        if (found[i].item<bool>()) rows.push_back(i);
    ASSERT_EQ(rows.size(), 2u);
    const torch::Tensor alpha = torch::tensor({0.5f, -1.0f, 2.0f, 0.25f});
    const torch::Tensor bravo = torch::tensor({0.1f, 0.0f, 0.0f, 3.0f});
    EXPECT_TRUE(torch::allclose(weight[rows[0]], alpha) || torch::allclose(weight[rows[0]], bravo));
    EXPECT_TRUE(torch::allclose(weight[rows[1]], alpha) || torch::allclose(weight[rows[1]], bravo));
    EXPECT_TRUE(torch::equal(weight[0], torch::zeros({4}))); // padding stays zero
    EXPECT_EQ((weight != before).any(1).sum().item<std::int64_t>(), 2); // nothing else changed

    {
        std::ofstream glove(dir.file("bad.txt"));
        glove << "alpha 0.5 -1 2 0.25\nbravo 1 2 3\n";
    }
    const ParamSet bad = paramsFor(task, dir.file("MRPC"), "model: {embedding_dim: 4, embeddings: '" + dir.file("bad.txt") + "'}\n");
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { t->loadData(bad); }, {dir.file("bad.txt") + ":2: 'bravo' has 3 values; expected 4"}));
    // A file with no vector for any word of the data (here: empty, or other words) filled nothing.
    for (const std::string text : {"", "notinvocab 1 1 1 1\n"}) {
        std::ofstream(dir.file("none.txt"), std::ios::trunc) << text;
        const ParamSet none = paramsFor(task, dir.file("MRPC"), "model: {embedding_dim: 4, embeddings: '" + dir.file("none.txt") + "'}\n");
        EXPECT_TRUE(fixtures::throwsErrorWith([&] { t->loadData(none); },
                                              {dir.file("none.txt") + " (model.embeddings): no vector for any of the"}));
    }
    // Non-finite values were copied in: the run then failed mid-epoch ("index out of range in self").
    for (const std::string value : {"nan", "inf", "1e999"}) {
        {
            std::ofstream glove(dir.file("nonfinite.txt"));
            glove << "alpha 0.5 -1 2 0.25\nbravo 1 " << value << " 3 4\n";
        }
        const ParamSet nonFinite =
            paramsFor(task, dir.file("MRPC"), "model: {embedding_dim: 4, embeddings: '" + dir.file("nonfinite.txt") + "'}\n");
        EXPECT_TRUE(fixtures::throwsErrorWith([&] { t->loadData(nonFinite); },
                                              {dir.file("nonfinite.txt") + ":2: 'bravo' has the value '" + value + "'",
                                               "expected finite numbers"}));
    }
}

TEST(TextTasks, BadDataSaysWhatAndWhere) {
    ScratchDir dir("losslab-text");
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { registry().require("glue/qqp/lstm_attention")->loadData(paramsFor("glue/qqp/lstm_attention", dir.file("none"))); }, {"the data folder '" + dir.file("none") + "' (data.root) does not exist"}));
    fixtures::writeCsvFolder(dir.path() / "csv", 3, 30, 9);
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { registry().require("text/csv/bilstm")->loadData(paramsFor("text/csv/bilstm", dir.file("csv"))); }, {"has 3 classes; data.classes says 2 (set data.classes: 3)"}));
    // One label only: data.classes must be at least 2, so the message does not advise "set data.classes: 1".
    fixtures::writeCsvFolder(dir.path() / "one", 1, 20, 6);
    EXPECT_TRUE(fixtures::throwsErrorWith(
        [&] { registry().require("text/csv/bilstm")->loadData(paramsFor("text/csv/bilstm", dir.file("one"))); },
        {(dir.path() / "one" / "train.csv").string() + ": classes found: 1; a classifier needs at least 2 in the training data (data.classes says 2)"}));
    fixtures::writeCharFile(dir.path() / "text8", false, 100);
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { registry().require("chars/text8/transformer")->loadData(paramsFor("chars/text8/transformer", dir.file("text8"))); }, {"too short for windows of data.context = 70"}));
    std::ofstream(dir.path() / "csv" / "train.csv", std::ios::app) << "\"unterminated,c1\n";
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { registry().require("text/csv/bilstm")->loadData(paramsFor("text/csv/bilstm", dir.file("csv"), "data: {classes: 3}\n")); }, {"train.csv"}));
}

TEST(TextTasks, TheDataHintFollowsMissingDataOnly) {
    // The hint says where to get the data and where data.root should point: right when a file is
    // missing, a wrong lead when one is there but damaged.
    ScratchDir dir("losslab-text");
    const auto task = registry().require("text/csv/bilstm");
    const std::string hint = task->info().dataHint;
    ASSERT_FALSE(hint.empty());
    auto messageOf = [&](const std::string& root) -> std::string {
        try {
            task->loadData(paramsFor("text/csv/bilstm", root, "data: {classes: 3}\n"));
        } catch (const DataNotFoundError& e) {
            return std::string("not found: ") + e.what();
        } catch (const Error& e) {
            return e.what();
        }
        return "no error";
    };
    std::filesystem::create_directories(dir.path() / "empty");
    const std::string missing = messageOf(dir.file("empty"));
    EXPECT_EQ(missing.rfind("not found: text/csv/bilstm: ", 0), 0u) << missing;
    EXPECT_NE(missing.find("train.csv: training file not found"), std::string::npos) << missing;
    EXPECT_NE(missing.find(hint), std::string::npos) << missing;
    fixtures::writeCsvFolder(dir.path() / "csv", 3, 30, 9);
    std::ofstream(dir.path() / "csv" / "train.csv", std::ios::app) << "\"unterminated,c1\n";
    const std::string damaged = messageOf(dir.file("csv"));
    EXPECT_EQ(damaged.rfind("text/csv/bilstm: ", 0), 0u) << damaged;
    EXPECT_NE(damaged.find("train.csv"), std::string::npos) << damaged;
    EXPECT_EQ(damaged.find(hint), std::string::npos) << "a damaged file's message stands alone: " << damaged;
}

// ---- short runs on generated data ----------------------------------------------------------

namespace {

struct ShortRun {
    std::string task;
    std::string root;    // under the scratch folder
    std::string extra;   // YAML keys (no data:)
    double minAccuracy;  // test accuracy every run must exceed
    std::string data;    // data: keys besides root
};

// One thread per run: ctest runs test processes side by side, and OpenMP threads beyond the
// cores make these small recurrent steps many times slower.
void expectLearns(const ShortRun& r, const ScratchDir& dir) {
    const std::string yaml = "name: short\ntask: " + r.task + "\ndevice: cpu\nlosses: [ce, square]\n"
                             "protocols: [early_stopping]\nseeds: [0]\nrunner: {threads: 1}\n" + r.extra;
    const ExperimentSpec spec = loadExperimentText(
        yaml + "data: {root: '" + dir.file(r.root) + "'" + (r.data.empty() ? "" : ", " + r.data) + "}\n", "short.yaml", {},
        registry());
    RunStore store(dir.file("runs.sqlite"));
    RunQueue queue(store, registry());
    queue.start(spec);
    const RunQueueResult result = queue.wait();
    EXPECT_EQ(result.completed, 2) << r.task;
    for (const auto& run : store.runs()) {
        EXPECT_EQ(run.status, RunStatus::Completed) << r.task << ": " << run.error;
        EXPECT_GT(run.testAcc, r.minAccuracy) << r.task << " " << run.lossName;
        std::cout << r.task << " " << run.lossName << ": test accuracy " << run.testAcc << " after " << run.epochs
                  << " epochs\n";
    }
}

const char* const kSmallWords = "model: {embedding_dim: 16, hidden: 16, dropout: 0}\n"
                                "train: {max_epochs: 8, patience: 8, lr: 0.01, batch_size: 32}\n";

} // namespace

class TextShortRun : public ::testing::TestWithParam<ShortRun> {};

TEST_P(TextShortRun, LearnsAboveChanceWithBothLosses) {
    ScratchDir dir("losslab-text-run");
    const ShortRun& r = GetParam();
    if (r.root == "MRPC") fixtures::writeGlueFolder(dir.path() / "MRPC", fixtures::FixtureGlue::Mrpc, 400, 200);
    if (r.root == "QNLI") fixtures::writeGlueFolder(dir.path() / "QNLI", fixtures::FixtureGlue::Qnli, 400, 200);
    if (r.root == "QQP") fixtures::writeGlueFolder(dir.path() / "QQP", fixtures::FixtureGlue::Qqp, 400, 200);
    if (r.root == "SST-2") fixtures::writeGlueFolder(dir.path() / "SST-2", fixtures::FixtureGlue::Sst2, 600, 200);
    if (r.root == "csv") fixtures::writeCsvFolder(dir.path() / "csv", 4, 600, 200);
    if (r.root == "text8") fixtures::writeCharFile(dir.path() / "text8", false, 40000);
    if (r.root == "enwik8") fixtures::writeCharFile(dir.path() / "enwik8", true, 40000);
    expectLearns(r, dir);
}

std::string shortRunName(const ::testing::TestParamInfo<ShortRun>& info) {
    std::string name = info.param.task;
    for (char& c : name)
        if (c == '/') c = '_';
    return name;
}

const std::string kCnnWords = std::string("model: {embedding_dim: 16, hidden: 16, dropout: 0, cube_size: 12, channels: [16, 16]}\n") +
                              "train: {max_epochs: 8, patience: 8, lr: 0.003, batch_size: 32}\n";
const std::string kChars = "model: {layers: 1, dim: 32, heads: 2, feed_forward: 64, dropout: 0}\n"
                           "train: {max_epochs: 3, patience: 3, lr: 0.003, batch_size: 32}\n";

// Plugin API 6 on the GPU: the text models' steps (a batch cut to its longest sentence, packed
// LSTMs, dropout) wait for the device only to read their losses.
TEST(TextTasks, StepsOnTheGpuWaitOnlyToReadTheirLosses) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    ScratchDir dir("losslab-text-gpu");
    fixtures::writeGlueFolder(dir.path() / "MRPC", fixtures::FixtureGlue::Mrpc, 200, 64);
    fixtures::writeGlueFolder(dir.path() / "SST-2", fixtures::FixtureGlue::Sst2, 200, 64);
    const std::vector<ShortRun> runs = {{"glue/sst2/bilstm", "SST-2", kSmallWords, 0, ""},
                                        {"glue/mrpc/lstm_attention", "MRPC", kSmallWords, 0, ""},
                                        {"glue/mrpc/lstm_cnn", "MRPC", kCnnWords, 0, ""}};
    for (const ShortRun& r : runs) {
        const std::string yaml = "name: gpu\ntask: " + r.task + "\ndevice: cuda\nlosses: [ce]\nseeds: [0]\n" + r.extra +
                                 "data: {root: '" + dir.file(r.root) + "'}\n";
        const RunSpec spec =
            loadExperimentText(yaml, "gpu.yaml", {{"train.max_epochs", "2"}, {"model.dropout", "0.2"}}, registry()).expand().front();
        const RunOutcome out = fixtures::trainCountingSyncs(spec, *registry().require(r.task));
        ASSERT_EQ(out.status, RunStatus::Completed) << r.task << ": " << out.error;
        EXPECT_EQ(out.syncsInSteps, out.hostReadsInSteps) << r.task;
    }
}

INSTANTIATE_TEST_SUITE_P(
    EveryTask, TextShortRun,
    ::testing::Values(ShortRun{"glue/mrpc/lstm_attention", "MRPC", kSmallWords, 0.75, ""},
                      ShortRun{"glue/qnli/lstm_attention", "QNLI", kSmallWords, 0.75, ""},
                      ShortRun{"glue/qqp/lstm_attention", "QQP", kSmallWords, 0.75, ""},
                      ShortRun{"glue/mrpc/lstm_cnn", "MRPC", kCnnWords, 0.75, ""},
                      ShortRun{"glue/qnli/lstm_cnn", "QNLI", kCnnWords, 0.75, ""},
                      ShortRun{"glue/qqp/lstm_cnn", "QQP", kCnnWords, 0.75, ""},
                      ShortRun{"glue/sst2/bilstm", "SST-2", kSmallWords, 0.75, ""},
                      ShortRun{"text/csv/bilstm", "csv", kSmallWords, 0.5, "classes: 4"},
                      ShortRun{"chars/text8/transformer", "text8", kChars, 0.3, ""},
                      ShortRun{"chars/enwik8/transformer", "enwik8", kChars, 0.3, ""}),
    shortRunName);
