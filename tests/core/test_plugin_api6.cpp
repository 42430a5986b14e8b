// Plugin API 6: a batch's lengths reach the transform on the CPU, and the model gets them, and
// the labels of tasks with padded labels, on the CPU too (ModelInput::hostLengths, hostTargets),
// so that a sequence model reads them without making the host wait for the device;
// runPackedLstm gives LibTorch's packed-sequence numbers without its waits. The CUDA halves
// count the waits of the training steps (skipped without a CUDA device, failures under
// LOSSLAB_REQUIRE_CUDA=1).
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/utils/rnn.h>

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "cuda_required.h"
#include "error_matchers.h"
#include "losslab/data/tensor_split.h"
#include "losslab/error.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/packed_lstm.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/cuda_support.h"
#include "scratch_dir.h"
#include "step_syncs.h"

using namespace losslab;

namespace {

constexpr std::int64_t kWidth = 6;   // stored positions per example
constexpr std::int64_t kSymbols = 5; // ids 1..4, 0 = padding; also the classes

torch::nn::LSTM biLstm(std::int64_t input, std::int64_t hidden) {
    return torch::nn::LSTM(torch::nn::LSTMOptions(input, hidden).batch_first(true).bidirectional(true));
}

// LibTorch's own way, which waits for the device twice per call on a GPU.
torch::Tensor libtorchPacked(torch::nn::LSTM& lstm, const torch::Tensor& x, const torch::Tensor& lengths) {
    namespace rnn = torch::nn::utils::rnn;
    const rnn::PackedSequence packed = rnn::pack_padded_sequence(x, lengths, /*batch_first=*/true, /*enforce_sorted=*/false);
    return std::get<0>(rnn::pad_packed_sequence(std::get<0>(lstm->forward_with_packed_input(packed)), true, 0.0, x.size(1)));
}

struct PackedResult {
    torch::Tensor output, inputGrad;
    std::vector<torch::Tensor> weightGrads;
};

// One forward and backward pass of a fresh seeded LSTM on `device`, through runPackedLstm or
// LibTorch's functions; lengths with ties, the longest not first. With `waits`, the pass runs
// under CUDA's sync debug mode and `waits` gets the count of its waits for the device.
PackedResult packedPass(const torch::Device& device, bool ours, std::int64_t* waits = nullptr) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
    torch::nn::LSTM lstm = biLstm(3, 4);
    initLikePyTorch(*lstm, gen);
    lstm->to(device);
    const torch::Tensor lengths = torch::tensor(std::vector<std::int64_t>{3, 7, 1, 7, 5}, torch::kLong);
    const torch::Tensor x = copyToDevice(torch::randn({5, 7, 3}, gen), device).requires_grad_(true);
    const torch::Tensor weights = copyToDevice(torch::linspace(-1.0, 1.0, 5 * 7 * 8).view({5, 7, 8}), device);
    torch::Tensor out;
    {
        std::optional<fixtures::SyncDebugScope> debug;
        std::optional<SyncCounter> counter;
        if (waits) {
            debug.emplace();
            counter.emplace();
        }
        out = ours ? runPackedLstm(lstm, x, lengths) : libtorchPacked(lstm, x, lengths);
        (out * weights).sum().backward();
        if (waits) *waits = counter->count();
    }
    PackedResult r{out.detach().cpu(), x.grad().cpu(), {}};
    for (const auto& p : lstm->parameters()) r.weightGrads.push_back(p.grad().cpu());
    return r;
}

void expectSame(const PackedResult& a, const PackedResult& b, double tolerance) {
    auto same = [&](const torch::Tensor& x, const torch::Tensor& y) {
        return tolerance == 0 ? torch::equal(x, y) : torch::allclose(x, y, tolerance, tolerance);
    };
    EXPECT_TRUE(same(a.output, b.output));
    EXPECT_TRUE(same(a.inputGrad, b.inputGrad));
    ASSERT_EQ(a.weightGrads.size(), b.weightGrads.size());
    for (std::size_t i = 0; i < a.weightGrads.size(); ++i) EXPECT_TRUE(same(a.weightGrads[i], b.weightGrads[i])) << i;
}

TEST(PackedLstm, GivesLibTorchsNumbersAndGradients) {
    const PackedResult ours = packedPass(torch::kCPU, true);
    expectSame(ours, packedPass(torch::kCPU, false), 0.0);
    // Zeros past each length, as pad_packed_sequence gives.
    EXPECT_EQ(ours.output[2].narrow(0, 1, 6).abs().sum().item<double>(), 0.0);
    EXPECT_GT(ours.output[2][0].abs().sum().item<double>(), 0.0);
}

TEST(PackedLstm, SaysWhatLengthsItNeeds) {
    torch::nn::LSTM lstm = biLstm(3, 4);
    const torch::Tensor x = torch::zeros({2, 4, 3});
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { runPackedLstm(lstm, x, torch::Tensor()); },
                                          {"runPackedLstm", "2 lengths of the batch on the CPU", "ModelInput::hostLengths"}));
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { runPackedLstm(lstm, x, torch::ones({3}, torch::kLong)); },
                                          {"2 lengths of the batch on the CPU"}));
}

TEST(PackedLstm, NeverWaitsForTheGpu) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    const torch::Device cuda(torch::kCUDA, 0);
    expectSame(packedPass(cuda, false), packedPass(torch::kCPU, false), 1e-5);
    packedPass(cuda, true); // cuDNN's first call chooses and allocates outside the count
    std::int64_t waits = -1;
    const PackedResult onGpu = packedPass(cuda, true, &waits);
    EXPECT_EQ(waits, 0);
    expectSame(onGpu, packedPass(torch::kCPU, true), 1e-5);
}

// A toy sequence task through the core: sequences of 1..6 symbols. With padded labels the
// model echoes every symbol (labels [N, 6] padded with kIgnoreLabel); without, it names the
// first one. The transform and the model throw Error when what API 6 promises is missing:
// the batch's lengths on the CPU, their host copies (and, in evaluation, that they equal the
// device's), the padded labels on the host exactly for the task with padded labels.
class EchoModel final : public ClassifierModule {
public:
    EchoModel(bool padded, at::Generator& init) : m_padded(padded) {
        m_embed = register_module("embed", torch::nn::Embedding(kSymbols, 8));
        m_lstm = register_module("lstm", biLstm(8, 12));
        m_out = register_module("out", torch::nn::Linear(24, kSymbols));
        initLikePyTorch(*this, init);
    }

    torch::Tensor forward(const ModelInput& in) override {
        const torch::Tensor& host = in.hostLengths;
        if (!host.defined() || !host.is_cpu() || !in.lengths.defined() || in.lengths.device() != in.features.device())
            throw Error("echo model: expected the lengths on the device and on the CPU (ModelInput::hostLengths)");
        if (m_padded != (in.hostTargets.defined() && in.hostTargets.is_cpu() && in.hostTargets.scalar_type() == torch::kLong))
            throw Error(std::string("echo model: ModelInput::hostTargets ") + (m_padded ? "missing" : "set without padded labels"));
        if (!is_training()) {
            // Evaluation: the host copies hold the device's values (reads that may wait).
            if (!torch::equal(host, in.lengths.cpu())) throw Error("echo model: hostLengths differ from lengths");
            if (m_padded && !torch::equal(in.hostTargets, in.targets.cpu())) throw Error("echo model: hostTargets differ from targets");
        }
        const torch::Tensor h = runPackedLstm(m_lstm, m_embed->forward(in.features), host); // [B, T, 24]
        if (!m_padded) return m_out->forward(h.select(1, 0));
        // As a decoder stops at the batch's longest target: read on the host.
        const std::int64_t longest = in.hostTargets.ge(0).sum(1).max().item<std::int64_t>();
        return m_out->forward(h.narrow(1, 0, longest));
    }

private:
    bool m_padded;
    torch::nn::Embedding m_embed{nullptr};
    torch::nn::LSTM m_lstm{nullptr};
    torch::nn::Linear m_out{nullptr};
};

class EchoTransform final : public InputTransform {
public:
    ModelInput apply(const TensorSplit& batch, bool, at::Generator&) const override {
        if (!batch.lengths.defined() || !batch.lengths.is_cpu())
            throw Error("echo transform: expected the batch's lengths on the CPU (plugin API 6)");
        // Cut to the batch's longest sequence: a read on the host, no wait.
        const std::int64_t longest = batch.lengths.max().item<std::int64_t>();
        ModelInput in;
        in.features = batch.features.narrow(1, 0, longest);
        in.lengths = batch.lengths;
        return in;
    }
};

class EchoTask final : public Task {
public:
    explicit EchoTask(bool padded) : m_padded(padded) {
        m_info.id = padded ? "toy/echo" : "toy/first";
        m_info.description = "echo short sequences (tests only)";
        m_info.domain = "text";
        m_info.dataset = "echo";
        m_info.model = "embedding + BiLSTM + linear";
        m_info.numClasses = kSymbols;
        m_info.paddedLabels = padded;
        m_info.recipe = {{"train.lr", "0.5"}, {"train.batch_size", "16"}, {"train.max_epochs", "5"}};
    }
    const TaskInfo& info() const override { return m_info; }
    DataBundle loadData(const ParamSet&) const override {
        at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(17);
        const auto longs = torch::TensorOptions().dtype(torch::kLong);
        auto make = [&](std::int64_t n) {
            TensorSplit s;
            s.lengths = torch::randint(1, kWidth + 1, {n}, gen, longs);
            const torch::Tensor real = torch::arange(kWidth, longs).unsqueeze(0) < s.lengths.unsqueeze(1);
            s.features = torch::randint(1, kSymbols, {n, kWidth}, gen, longs) * real;
            s.labels = m_padded ? s.features.masked_fill(real.logical_not(), kIgnoreLabel) : s.features.select(1, 0).clone();
            return s;
        };
        DataBundle b;
        b.train = make(320);
        b.test = make(64);
        b.source = "generated sequences";
        return b;
    }
    std::unique_ptr<InputTransform> makeTransform(const ParamSet&, const torch::Device&) const override {
        return std::make_unique<EchoTransform>();
    }
    std::shared_ptr<ClassifierModule> makeModel(const ParamSet&, at::Generator& init) const override {
        return std::make_shared<EchoModel>(m_padded, init);
    }

private:
    bool m_padded;
    TaskInfo m_info;
};

class PluginApi6 : public ::testing::Test {
protected:
    void SetUp() override {
        m_registry.add(std::make_shared<EchoTask>(true));
        m_registry.add(std::make_shared<EchoTask>(false));
    }

    ExperimentSpec experiment(const std::string& task, const std::string& device, const std::string& extra = "") const {
        return loadExperimentText("name: echo\ntask: " + task + "\ndevice: " + device +
                                      "\nlosses: [ce, square]\nprotocols: [early_stopping]\nseeds: [0]\n" + extra,
                                  "echo.yaml", {}, m_registry);
    }

    // Both losses of `task` on `device`: every run completes and learns.
    void expectLearns(const std::string& task, const std::string& device) {
        RunStore store((m_scratch.path() / (task.substr(4) + "-" + device + ".sqlite")).string());
        RunQueue queue(store, m_registry);
        queue.start(experiment(task, device));
        const RunQueueResult result = queue.wait();
        ASSERT_EQ(result.runIds.size(), 2u);
        for (const RunRecord& run : store.runs()) {
            EXPECT_EQ(run.status, RunStatus::Completed) << task << " " << run.lossName << ": " << run.error;
            EXPECT_GT(run.testAcc, 0.6) << task << " " << run.lossName;
        }
    }

    fixtures::ScratchDir m_scratch{"losslab-api6"};
    TaskRegistry m_registry;
};

TEST_F(PluginApi6, SequenceModelsGetLengthsAndPaddedLabelsOnTheHost) {
    for (const char* task : {"toy/echo", "toy/first"}) expectLearns(task, "cpu");
}

TEST_F(PluginApi6, SequenceStepsOnTheGpuWaitOnlyToReadTheirLosses) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    for (const char* task : {"toy/echo", "toy/first"}) {
        SCOPED_TRACE(task);
        expectLearns(task, "cuda");
        // train.cuda_graphs on: a sequence task says why not and trains eagerly.
        const RunSpec spec = experiment(task, "cuda", "train: {cuda_graphs: 'on'}\n").expand().front();
        const RunOutcome out = fixtures::trainCountingSyncs(spec, *m_registry.require(task));
        ASSERT_EQ(out.status, RunStatus::Completed) << out.error;
        EXPECT_EQ(out.syncsInSteps, out.hostReadsInSteps);
        EXPECT_NE(out.cudaGraphs.find("hostLengths"), std::string::npos) << out.cudaGraphs;
    }
}

} // namespace
