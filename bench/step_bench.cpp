// losslab-bench-step: times one training step (zero_grad, forward, loss, backward, SGD step)
// of a LossLab task model on a fixed random batch, through the engine's own code path:
// task plugins, a resolved experiment spec, makeOptimizer, LossFunction, and the runner's
// process and worker-thread set-up. bench/step_bench.py times the same step in PyTorch's
// Python API; bench/run_step_bench.sh runs both and prints the ratio. It measures; it never
// passes or fails on time. What it shares with losslab-bench-text-step (options, set-up,
// timing, report) is in bench/bench_common.h.
#include <cstdint>
#include <string>
#include <vector>

#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/types.h>

#include "bench_common.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/cuda_support.h"

namespace {

namespace bench = losslab::bench;

constexpr const char* kProgram = "losslab-bench-step";

constexpr const char* kUsage =
    "usage: losslab-bench-step [--model mlp|cnn] [--batch N] [--steps N] [--warmup N]\n"
    "                          [--threads N] [--hidden \"[512, 512]\" (mlp only)] [--loss ce|square]\n"
    "                          [--device cpu|cuda] [--blas-threads N] [--main-thread]\n"
    "                          [--seed N] [--cuda-graphs off|on] [--json]\n"
    "  Times zero_grad/forward/loss/backward/step of fashion_mnist/<model> on a random batch.\n"
    "  Exit status: 0 measured, 2 invalid option or value, 1 any other error.\n"
    "  --threads 0 uses every core (the runner's runner.threads=0). --blas-threads overrides\n"
    "  the engine's single-threaded OpenBLAS; --main-thread trains on the main thread instead of\n"
    "  a worker thread like the runner's (both diagnostic only; defaults: the engine's way).\n"
    "  --cuda-graphs on (CUDA only): the step is captured once after the warm-up into a CUDA graph\n"
    "  on a stream of its own and replayed (train.cuda_graphs); off (default): eager.\n";

struct Options : bench::StepOptions {
    Options() : StepOptions("mlp", 128, 200, 20) {}
    std::string hidden = "[512, 512]";
    std::string cudaGraphs = "off";
};

Options parseOptions(int argc, char** argv) {
    Options o;
    bench::parseStepOptions(argc, argv, kUsage, "mlp", "cnn", 1, o, {{"--hidden", &o.hidden}, {"--cuda-graphs", &o.cudaGraphs}});
    if (o.cudaGraphs != "off" && o.cudaGraphs != "on")
        throw losslab::Error("--cuda-graphs: expected off or on, got '" + o.cudaGraphs + "'");
    if (o.cudaGraphs == "on" && o.device != "cuda") throw losslab::Error("--cuda-graphs on: needs --device cuda");
    return o;
}

// The spec a run of this model would resolve: the task's recipe, the core defaults
// (train.optimizer sgd, train.momentum 0.9, train.lr 0.05) and the bench's overrides.
losslab::ExperimentSpec resolveSpec(const Options& o, const losslab::TaskRegistry& registry) {
    const std::string text = "name: bench_step\ntask: fashion_mnist/" + o.model + "\nlosses: [" + o.loss +
                             "]\nprotocols: [fixed_epochs]\nseeds: 1\n";
    std::vector<losslab::SpecOverride> overrides = {
        {"train.batch_size", std::to_string(o.batch)},
        {"runner.threads", std::to_string(o.threads)},
    };
    if (o.model == "mlp") overrides.push_back({"model.hidden", o.hidden});
    return losslab::loadExperimentText(text, "<bench>", overrides, registry);
}

} // namespace

int main(int argc, char** argv) {
    return bench::guardedMain(kProgram, [&] {
        const Options o = parseOptions(argc, argv);
        losslab::TaskRegistry registry;
        const auto task = bench::loadTask(registry, kProgram, "fashion_mnist/" + o.model);
        const losslab::ExperimentSpec spec = resolveSpec(o, registry);

        bench::StepReport report(o, task->info().id);
        report.hidden = o.model == "mlp" ? spec.params.raw("model.hidden") : "";
        report.cudaGraphs = o.cudaGraphs == "on";
        report.blas = bench::configureBlas(o.blasThreads);
        const torch::Device device = bench::benchDevice(o.device);
        report.threads = bench::trainOnWorker(o, *task, spec, device, [&](bench::Trainee& t) {
            // Already-normalised input, as the InputTransform hands it to the model.
            const std::vector<std::int64_t> shape = o.model == "mlp" ? std::vector<std::int64_t>{o.batch, 784}
                                                                     : std::vector<std::int64_t>{o.batch, 1, 28, 28};
            t.input.features = torch::randn(shape, t.gen).to(device);
            t.labels =
                torch::randint(0, task->info().numClasses, {o.batch}, t.gen, torch::TensorOptions().dtype(torch::kLong)).to(device);
            if (o.cudaGraphs == "off") {
                report.result = bench::timeSteps(o.warmup, o.steps, device.is_cuda(), [&] { t.step(); });
                return;
            }
            // As a run with train.cuda_graphs does: on a stream of its own, eager steps first
            // (cuDNN's choices, the optimiser's buffers), then the step captured and replayed.
            const c10::StreamGuard stream(
                c10::impl::VirtualGuardImpl(c10::DeviceType::CUDA).getStreamFromGlobalPool(device, false));
            for (int i = 0; i < losslab::StepGraph::kWarmupSteps; ++i) t.step();
            losslab::StepGraph graph;
            graph.capture(device, t.input.generator, [&] { t.step(); });
            report.result = bench::timeSteps(o.warmup, o.steps, true, [&] { graph.replay(); });
        });
        bench::printReport(std::cout, report, o.json);
        return 0;
    });
}
