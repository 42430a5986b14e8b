// Training on CUDA (issue 12): runs complete and learn, several runs sharing one GPU on their
// own streams with their own generators give the numbers they give alone, a training step
// reads back from the device only what the CPU path reads and waits for it nowhere else (CUDA's
// sync debug mode counts), and CUDA graphs replay the eager step's numbers. Skipped without a
// CUDA device; failures under LOSSLAB_REQUIRE_CUDA=1 (scripts/gpu-check.sh), where none may
// skip. The CPU side of the same switches is tested here too.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <torch/types.h>

#include "cuda_required.h"
#include "losslab/data/tensor_split.h"
#include "losslab/error.h"
#include "losslab/losses/loss_function.h"
#include "losslab/metrics/metric_accumulator.h"
#include "losslab/runner/run_event.h"
#include "losslab/torch_compat.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/cuda_support.h"
#include "losslab/training/trainer.h"
#include "run_series.h"
#include "scratch_dir.h"
#include "step_syncs.h"
#include "toy_task.h"

using namespace losslab;

namespace {

const char* kToy = R"(
name: toy-cuda
task: toy/blobs
losses:
  - loss: ce
  - loss: square
    lr: 0.1
protocols: [early_stopping, same_epochs_as_ce]
seeds: 3
model:
  dropout: 0.3
train:
  max_epochs: 4
  patience: 2
  log_every_steps: 5
)";

class CudaRunsTest : public ::testing::Test {
protected:
    void SetUp() override { m_registry.add(std::make_shared<fixtures::ToyTask>()); }

    std::map<fixtures::RunKey, fixtures::Series> run(const std::string& device, std::vector<SpecOverride> overrides) {
        overrides.push_back({"device", device});
        RunStore store((m_scratch.path() / ("runs-" + std::to_string(++m_dbs) + ".sqlite")).string());
        RunQueue queue(store, m_registry);
        queue.start(loadExperimentText(kToy, "cuda.yaml", overrides, m_registry));
        const RunQueueResult result = queue.wait();
        RunFilter filter;
        filter.runIds = result.runIds;
        for (const auto& r : store.runs(filter)) {
            EXPECT_EQ(r.status, RunStatus::Completed) << r.lossName << " " << r.protocol << ": " << r.error;
            if (device != "cpu") {
                EXPECT_EQ(r.device.rfind("cuda", 0), 0u) << r.device;
            }
        }
        return fixtures::seriesByKey(store, result.runIds);
    }

    fixtures::ScratchDir m_scratch{"losslab-cuda"};
    TaskRegistry m_registry;
    int m_dbs = 0;
};

double lastTestAcc(const fixtures::Series& s) {
    double acc = std::nan("");
    int last = 0;
    for (const auto& [key, value] : s) {
        const auto slash = key.find('/');
        if (key.compare(slash, std::string::npos, "/test/acc") != 0) continue;
        const int epoch = std::stoi(key.substr(0, slash));
        if (epoch > last) last = epoch, acc = value;
    }
    return acc;
}

// The same runs with every stored value within 1e-4 (relative and absolute): CUDA's
// atomics may round differently from one run to the next.
void expectCloseSeries(const std::map<fixtures::RunKey, fixtures::Series>& a,
                       const std::map<fixtures::RunKey, fixtures::Series>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [key, series] : a) {
        ASSERT_TRUE(b.count(key)) << key;
        const fixtures::Series& other = b.at(key);
        ASSERT_EQ(series.size(), other.size()) << key;
        for (const auto& [name, value] : series)
            EXPECT_NEAR(value, other.at(name), 1e-4 + 1e-4 * std::abs(value)) << key << " " << name;
    }
}

TEST(CudaRequirement, IsMetWhenAsked) {
    if (!fixtures::cudaRequired()) GTEST_SKIP() << "LOSSLAB_REQUIRE_CUDA is not set";
    EXPECT_TRUE(torch::cuda::is_available());
}

TEST_F(CudaRunsTest, RunsLearnOnCudaAsOnTheCpu) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    const auto cpu = run("cpu", {});
    const auto cuda = run("cuda", {});
    ASSERT_EQ(cpu.size(), cuda.size());
    for (const auto& [key, series] : cpu) {
        ASSERT_TRUE(cuda.count(key)) << key;
        const double a = lastTestAcc(series), b = lastTestAcc(cuda.at(key));
        EXPECT_GT(b, 0.8) << key << " should learn the blobs on CUDA";
        // Other kernels, other rounding, the same dropout stream only on the same device:
        // close, not equal.
        EXPECT_NEAR(a, b, 0.08) << key;
    }
}

TEST_F(CudaRunsTest, RunsSharingTheGpuGiveTheirNumbersAlone) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    const auto alone = run("cuda", {{"runner.runs_per_device", "1"}});
    const auto shared = run("cuda", {{"runner.runs_per_device", "4"}});
    expectCloseSeries(alone, shared);
}

TEST_F(CudaRunsTest, ATrainingStepReadsBackOnlyWhatTheCpuPathReads) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    const ExperimentSpec spec = loadExperimentText(kToy, "cuda.yaml", {{"seeds", "[0]"}, {"train.grad_clip", "1.0"}}, m_registry);
    const RunSpec runSpec = spec.expand().front();
    const auto task = m_registry.require(runSpec.taskId);
    RunContext ctx;
    const RunOutcome cpu = trainRun(runSpec, *task, torch::Device(torch::kCPU), ctx);
    const RunOutcome cuda = trainRun(runSpec, *task, torch::Device(torch::kCUDA, 0), ctx);
    ASSERT_EQ(cpu.status, RunStatus::Completed) << cpu.error;
    ASSERT_EQ(cuda.status, RunStatus::Completed) << cuda.error;
    EXPECT_EQ(cuda.hostReadsInSteps, cpu.hostReadsInSteps);
    EXPECT_GT(cuda.hostReadsInSteps, 0);
}

// Turns CUDA's sync debug mode on for a test, and off again however it ends.
// The first run of kToy with `overrides`, trained on CUDA under the sync debug mode: its steps
// waited for the device only for their host reads of the loss (hostReadsInSteps); nothing else
// in a step (copies, clipping, the optimiser) waits.
void expectStepsWaitOnlyToReadLosses(const TaskRegistry& registry, const std::vector<SpecOverride>& overrides) {
    const RunSpec runSpec = loadExperimentText(kToy, "cuda.yaml", overrides, registry).expand().front();
    const RunOutcome out = fixtures::trainCountingSyncs(runSpec, *registry.require(runSpec.taskId));
    ASSERT_EQ(out.status, RunStatus::Completed) << out.error;
    EXPECT_EQ(out.syncsInSteps, out.hostReadsInSteps);
}

TEST_F(CudaRunsTest, TrainingStepsWaitForTheDeviceOnlyToReadTheirLosses) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    for (const char* graphs : {"off", "on"}) {
        SCOPED_TRACE(std::string("train.cuda_graphs ") + graphs);
        expectStepsWaitOnlyToReadLosses(m_registry, {{"seeds", "[0]"}, {"train.grad_clip", "1.0"}, {"train.cuda_graphs", graphs}});
    }
}

// Features the transform reads on the host (InputTransform::featuresOnHost, plugin API 5: the
// speech tasks' frame offsets): every batch's reach it on the CPU, in training and evaluation
// (the toy transform throws otherwise), the numbers are those of the same task with its
// features on the device, and the steps wait for the device no more than they do.
TEST_F(CudaRunsTest, FeaturesOnTheHostGiveTheSameNumbersWithoutAWait) {
    m_registry.add(std::make_shared<fixtures::ToyTask>(fixtures::ToyTaskOptions{"toy/host", 600, false, true}));
    const std::vector<SpecOverride> one = {{"seeds", "[0]"}, {"train.grad_clip", "1.0"}};
    auto onHost = one;
    onHost.push_back({"task", "toy/host"});
    fixtures::expectIdenticalSeries(run("cpu", one), run("cpu", onHost), "features on the host vs not, CPU");
    LOSSLAB_SKIP_WITHOUT_CUDA();
    const auto cuda = run("cuda", one), cudaHost = run("cuda", onHost);
    expectCloseSeries(cuda, cudaHost);
    expectStepsWaitOnlyToReadLosses(m_registry, onHost);
}

TEST_F(CudaRunsTest, CudaGraphsReplayTheEagerStepsNumbers) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    // Dropout (model.dropout 0.3) draws from the run's generator inside the captured step, and
    // the multistep schedule changes the rate after epoch 2 (a second capture).
    const std::vector<SpecOverride> recipe = {{"train.grad_clip", "1.0"}, {"train.schedule", "multistep"},
                                              {"train.milestones", "[2]"}};
    auto with = [&](const char* graphs, const char* perDevice) {
        std::vector<SpecOverride> o = recipe;
        o.push_back({"train.cuda_graphs", graphs});
        o.push_back({"runner.runs_per_device", perDevice});
        return run("cuda", o);
    };
    const auto eager = with("off", "1");
    const auto graphed = with("on", "1");
    const auto shared = with("on", "4"); // captures on four threads at once
    for (const auto* other : {&graphed, &shared}) {
        ASSERT_EQ(eager.size(), other->size());
        for (const auto& [key, series] : eager) {
            const fixtures::Series& g = other->at(key);
            ASSERT_EQ(series.size(), g.size()) << key;
            for (const auto& [name, value] : series)
                EXPECT_NEAR(value, g.at(name), 1e-5 + 1e-5 * std::abs(value)) << key << " " << name;
        }
    }
    const ExperimentSpec spec = loadExperimentText(kToy, "cuda.yaml", {{"seeds", "[0]"}, {"train.cuda_graphs", "on"}}, m_registry);
    const RunSpec runSpec = spec.expand().front();
    RunContext ctx;
    const RunOutcome out = trainRun(runSpec, *m_registry.require(runSpec.taskId), torch::Device(torch::kCUDA, 0), ctx);
    ASSERT_EQ(out.status, RunStatus::Completed) << out.error;
    EXPECT_EQ(out.cudaGraphs.rfind("on: ", 0), 0u) << out.cudaGraphs;
}

TEST_F(CudaRunsTest, CudaGraphsSayWhyNotAndTrainEagerly) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    const ExperimentSpec spec = loadExperimentText(
        kToy, "cuda.yaml", {{"seeds", "[0]"}, {"train.cuda_graphs", "on"}, {"train.optimizer", "adam"}, {"train.lr", "0.01"}},
        m_registry);
    const RunSpec runSpec = spec.expand().front();
    std::vector<std::string> notes;
    RunContext ctx;
    ctx.emit = [&](const RunEvent& e) {
        if (e.kind == RunEvent::Kind::Note) notes.push_back(e.message);
    };
    const RunOutcome out = trainRun(runSpec, *m_registry.require(runSpec.taskId), torch::Device(torch::kCUDA, 0), ctx);
    ASSERT_EQ(out.status, RunStatus::Completed) << out.error;
    EXPECT_NE(out.cudaGraphs.find("train.optimizer adam"), std::string::npos) << out.cudaGraphs;
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_EQ(notes[0].rfind("CUDA graphs off: ", 0), 0u) << notes[0];
}

TEST(CopyToDevice, GivesTheValuesOfAPlainCopy) {
    const torch::Tensor cpu = torch::arange(12, torch::kLong).view({3, 4});
    EXPECT_TRUE(torch::equal(copyToDevice(cpu, torch::Device(torch::kCPU)), cpu));
    EXPECT_FALSE(copyToDevice(torch::Tensor(), torch::Device(torch::kCPU)).defined());
    if (!torch::cuda::is_available()) return; // the CUDA half below (gpu-check runs it)
    const fixtures::SyncDebugScope debug;
    std::int64_t syncs = 0;
    torch::Tensor onDevice;
    {
        const SyncCounter counter;
        onDevice = copyToDevice(cpu, torch::Device(torch::kCUDA, 0));
        syncs = counter.count();
    }
    EXPECT_EQ(syncs, 0);
    EXPECT_TRUE(torch::equal(onDevice.cpu(), cpu));
}

// Padded positions are weighted 0 rather than dropped: the metrics equal those of the real
// positions alone, and adding a batch never waits for the device (it did once per batch,
// selecting the real rows).
TEST(PaddedMetrics, EqualTheRealPositionsAloneAndNeverWaitForTheDevice) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
    const torch::Tensor scores = torch::randn({3, 5, 7}, gen);
    torch::Tensor labels = torch::randint(7, {3, 5}, gen, torch::TensorOptions().dtype(torch::kLong));
    labels[0].narrow(0, 3, 2).fill_(-1);
    labels[2].narrow(0, 1, 4).fill_(-1);
    const torch::Tensor real = labels.flatten().ge(0);
    const torch::Tensor rows = scores.reshape({15, 7}).index({real});
    const torch::Tensor rowLabels = labels.flatten().index({real});
    for (const LossKind kind : {LossKind::CrossEntropy, LossKind::Square}) {
        LossFunction padded(kind, 1.0, 1.0);
        padded.setIgnorePadding(true);
        const LossFunction plain(kind, 1.0, 1.0);
        auto check = [&](const torch::Device& device, std::int64_t* syncs) {
            MetricAccumulator acc(padded, 7, {"bpc"});
            const torch::Tensor s = scores.to(device), l = labels.to(device);
            {
                const SyncCounter counter;
                acc.add(s, l);
                acc.add(s.narrow(0, 0, 1), l.narrow(0, 0, 1));
                if (syncs) *syncs = counter.count();
            }
            MetricAccumulator twice(plain, 7, {"bpc"});
            twice.add(rows, rowLabels);
            twice.add(rows.narrow(0, 0, 3), rowLabels.narrow(0, 0, 3));
            EXPECT_EQ(acc.count(), 12); // 9 real positions, then the first row's 3
            const auto got = acc.finish("val"), want = twice.finish("val");
            ASSERT_EQ(got.size(), want.size());
            for (std::size_t i = 0; i < got.size(); ++i) {
                EXPECT_EQ(got[i].metric, want[i].metric);
                EXPECT_NEAR(got[i].value, want[i].value, 1e-6) << got[i].metric << " on " << device;
            }
        };
        check(torch::Device(torch::kCPU), nullptr);
        if (!torch::cuda::is_available()) continue; // the CUDA half (gpu-check runs it)
        const fixtures::SyncDebugScope debug;
        std::int64_t syncs = -1;
        check(torch::Device(torch::kCUDA, 0), &syncs);
        EXPECT_EQ(syncs, 0) << "adding a padded batch waited for the device";
    }
}

// ---- the same switches on the CPU and in a LibTorch without CUDA ----

TEST_F(CudaRunsTest, CudaGraphsChangeNothingOnTheCpu) {
    const auto off = run("cpu", {{"train.cuda_graphs", "off"}, {"seeds", "[0]"}});
    const auto on = run("cpu", {{"train.cuda_graphs", "on"}, {"seeds", "[0]"}});
    fixtures::expectIdenticalSeries(off, on, "train.cuda_graphs on vs off on the CPU");
}

TEST(SyncCounter, PassesOtherWarningsOn) {
    struct Collect : ScopedWarningHandler {
        std::vector<std::string> seen;
        bool take(const std::string& message) override {
            seen.push_back(message);
            return true;
        }
    } collect;
    {
        const SyncCounter counter;
        TORCH_WARN("an ordinary warning");
        EXPECT_EQ(counter.count(), 0);
    }
    ASSERT_EQ(collect.seen.size(), 1u);
    EXPECT_NE(collect.seen[0].find("an ordinary warning"), std::string::npos);
    EXPECT_EQ(ScopedWarningHandler::get(), &collect); // put back
}

TEST(CudaSupport, SaysWhatACpuOnlyLibTorchLacks) {
    if (torchBuiltWithCuda()) GTEST_SKIP() << "this LibTorch has CUDA";
    EXPECT_FALSE(syncDebugWarningsOn());
    EXPECT_NO_THROW(setSyncDebugWarnings(false));
    try {
        setSyncDebugWarnings(true);
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("LibTorch built with CUDA"), std::string::npos) << e.what();
    }
    StepGraph graph;
    EXPECT_THROW(graph.capture(torch::Device(torch::kCUDA, 0), at::Generator(), [] {}), Error);
    EXPECT_FALSE(graph.captured());
}

} // namespace
