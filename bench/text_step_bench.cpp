// losslab-bench-text-step: times one training step (zero_grad, forward, loss, backward,
// gradient clipping, Adam step) of a text-plugin model on a fixed batch, through the engine's
// own code path: task plugins, a resolved experiment spec, makeOptimizer, LossFunction, and the
// runner's process and worker-thread set-up, as losslab-bench-step does for the vision models.
// bench/text_step_bench.py times the same step in PyTorch's Python API (the models mirrored in
// bench/text_models_ref.py); bench/run_text_step_bench.sh runs both and prints the ratio. It
// measures; it never passes or fails on time. What it shares with losslab-bench-step (options,
// set-up, timing, report) is in bench/bench_common.h.
//
// The batch is computed, not drawn, so that both sides see the same one without sharing a
// generator: sentence pair i has lengths 10 + (7 i) % 31 and 10 + (11 i + 3) % 31 (width 40),
// ids 2 + (131 i + 17 t) % max_words and 2 + (131 i + 17 t + 1000) % max_words at real
// positions (0 past them), label i % 2; character window i has ids (131 i + 17 t) % C and
// labels (131 i + 17 (t + 1)) % C over data.context positions.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "bench_common.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"

namespace {

namespace bench = losslab::bench;

constexpr const char* kProgram = "losslab-bench-text-step";

constexpr std::int64_t kPairWidth = 40;

constexpr const char* kUsage =
    "usage: losslab-bench-text-step [--model esim|transformer] [--batch N] [--steps N] [--warmup N]\n"
    "                               [--threads N] [--loss ce|square] [--grad-clip X]\n"
    "                               [--device cpu|cuda] [--blas-threads N] [--main-thread]\n"
    "                               [--seed N] [--json]\n"
    "  Times zero_grad/forward/loss/backward/clip/step of glue/mrpc/lstm_attention (esim) or\n"
    "  chars/text8/transformer (transformer) on a fixed batch, with the task's defaults and recipe.\n"
    "  Exit status: 0 measured, 2 invalid option or value, 1 any other error.\n"
    "  --batch 0 (the default) takes the recipe's batch size (esim 64, transformer 8).\n"
    "  --grad-clip overrides the recipe's train.grad_clip (esim 10, transformer 0.25; 0: none).\n"
    "  --threads 0 uses every core (the runner's runner.threads=0). --blas-threads overrides\n"
    "  the engine's single-threaded OpenBLAS; --main-thread trains on the main thread instead of\n"
    "  a worker thread like the runner's (both diagnostic only; defaults: the engine's way).\n";

struct Options : bench::StepOptions {
    Options() : StepOptions("esim", 0, 20, 3) {} // batch 0: the recipe's train.batch_size
    std::string gradClip; // empty: the recipe's train.grad_clip
};

Options parseOptions(int argc, char** argv) {
    Options o;
    // --grad-clip is checked by the spec (train.grad_clip >= 0).
    bench::parseStepOptions(argc, argv, kUsage, "esim", "transformer", 0, o, {{"--grad-clip", &o.gradClip}});
    return o;
}

std::string taskIdFor(const Options& o) {
    return o.model == "esim" ? "glue/mrpc/lstm_attention" : "chars/text8/transformer";
}

// The spec a run of this task would resolve: the task's defaults and recipe (Adam, its lr,
// batch size and grad clip) and the bench's overrides.
losslab::ExperimentSpec resolveSpec(const Options& o, const losslab::TaskRegistry& registry) {
    const std::string text = "name: bench_text_step\ntask: " + taskIdFor(o) + "\nlosses: [" + o.loss +
                             "]\nprotocols: [fixed_epochs]\nseeds: 1\n";
    std::vector<losslab::SpecOverride> overrides = {{"runner.threads", std::to_string(o.threads)}};
    if (o.batch > 0) overrides.push_back({"train.batch_size", std::to_string(o.batch)});
    if (!o.gradClip.empty()) overrides.push_back({"train.grad_clip", o.gradClip});
    return losslab::loadExperimentText(text, "<bench>", overrides, registry);
}

// The fixed batch (see the top of the file), on the CPU.
using Batch = bench::StepBatch;

Batch pairBatch(std::int64_t batch, std::int64_t words) {
    const auto longs = torch::TensorOptions().dtype(torch::kLong);
    const torch::Tensor rows = torch::arange(batch, longs);
    const torch::Tensor i = rows.unsqueeze(1);
    const torch::Tensor t = torch::arange(kPairWidth, longs).unsqueeze(0);
    Batch b;
    b.input.lengths = (rows * 7).remainder(31) + 10;
    b.input.lengths2 = (rows * 11 + 3).remainder(31) + 10;
    b.input.features = ((i * 131 + t * 17).remainder(words) + 2) * (t < b.input.lengths.unsqueeze(1));
    b.input.features2 = ((i * 131 + t * 17 + 1000).remainder(words) + 2) * (t < b.input.lengths2.unsqueeze(1));
    b.labels = rows.remainder(2);
    return b;
}

Batch charBatch(std::int64_t batch, std::int64_t context, std::int64_t classes) {
    const auto longs = torch::TensorOptions().dtype(torch::kLong);
    const torch::Tensor i = torch::arange(batch, longs).unsqueeze(1);
    const torch::Tensor t = torch::arange(context, longs).unsqueeze(0);
    Batch b;
    b.input.features = (i * 131 + t * 17).remainder(classes);
    b.labels = (i * 131 + (t + 1) * 17).remainder(classes);
    return b;
}

torch::Tensor toDevice(const torch::Tensor& t, const torch::Device& device) {
    return t.defined() ? t.to(device) : t;
}

} // namespace

int main(int argc, char** argv) {
    return bench::guardedMain(kProgram, [&] {
        const Options o = parseOptions(argc, argv);
        losslab::TaskRegistry registry;
        const auto task = bench::loadTask(registry, kProgram, taskIdFor(o));
        const losslab::ExperimentSpec spec = resolveSpec(o, registry);

        bench::StepReport report(o, task->info().id);
        report.batch = spec.params.getInt("train.batch_size");
        report.gradClip = spec.params.getDouble("train.grad_clip");
        report.blas = bench::configureBlas(o.blasThreads);
        const torch::Device device = bench::benchDevice(o.device);
        report.threads = bench::trainOnWorker(o, *task, spec, device, [&](bench::Trainee& t) {
            std::int64_t parameters = 0;
            for (const auto& p : t.model->parameters()) parameters += p.numel();
            report.parameters = parameters;
            // The batch as the core hands it to the model (int64 ids; the lengths on the device
            // like the rest of the batch, and on the CPU as hostLengths: plugin API 6).
            Batch b = o.model == "esim" ? pairBatch(report.batch, spec.params.getInt("data.max_words"))
                                        : charBatch(report.batch, spec.params.getInt("data.context"), task->info().numClasses);
            t.input.features = toDevice(b.input.features, device);
            t.input.lengths = toDevice(b.input.lengths, device);
            t.input.features2 = toDevice(b.input.features2, device);
            t.input.lengths2 = toDevice(b.input.lengths2, device);
            t.input.hostLengths = b.input.lengths;
            t.input.hostLengths2 = b.input.lengths2;
            t.labels = b.labels.to(device);
            const double clip = *report.gradClip;
            report.result = bench::timeSteps(o.warmup, o.steps, device.is_cuda(), [&] { t.step(clip); });
        });
        bench::printReport(std::cout, report, o.json);
        return 0;
    });
}
