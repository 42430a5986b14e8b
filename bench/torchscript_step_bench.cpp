// losslab-bench-torchscript-step: times one fine-tuning step (zero_grad, forward, loss,
// backward, gradient clipping, optimiser step) of a TorchScript encoder plus LossLab's linear
// head, through the engine's own code path: the torchscript plugin's tasks, a resolved
// experiment spec (the task's recipe: AdamW for text, SGD with momentum for images; gradient
// norm clipped at 1), makeOptimizer, LossFunction and the runner's process and worker-thread
// set-up. bench/torchscript_step_bench.py times the same step in PyTorch's Python API on the
// same TorchScript file; bench/run_torchscript_step_bench.sh writes the files (the test's
// tiny encoders, tests/core/torchscript_models.py), runs both and prints the ratio. It
// measures; it never passes or fails on time.
//
// The batch is computed, not drawn, so that both sides see the same one: text example i has
// length 10 + (7 i) % 23 of width 32, ids 5 + (131 i + 17 t) % (V - 5) at real positions and
// [PAD] (0) past them, token types 1 from position length / 2 on, label i % 2; image i is
// 3 x S x S with pixel p of channel c ((131 i + 17 p + 7 c) % 256) / 128 - 1, label i % 10.
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <torch/types.h>

#include "bench_common.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"

namespace {

namespace bench = losslab::bench;

constexpr const char* kProgram = "losslab-bench-torchscript-step";
constexpr std::int64_t kWidth = 32;     // tokens per text example (model.max_length)
constexpr std::int64_t kImageSize = 32; // S

constexpr const char* kUsage =
    "usage: losslab-bench-torchscript-step --models DIR [--model text|image] [--batch N] [--steps N]\n"
    "                                      [--warmup N] [--threads N] [--loss ce|square]\n"
    "                                      [--device cpu|cuda] [--blas-threads N] [--main-thread]\n"
    "                                      [--seed N] [--json]\n"
    "  Times zero_grad/forward/loss/backward/clip/step of torchscript/text (DIR/text_pooled.pt,\n"
    "  DIR/vocab.txt) or torchscript/image (DIR/image.pt) on a fixed batch, with the task's\n"
    "  defaults and recipe. DIR is what tests/core/torchscript_models.py writes.\n"
    "  Exit status: 0 measured, 2 invalid option or value, 1 any other error.\n"
    "  --batch 0 (the default) takes 32.\n";

struct Options : bench::StepOptions {
    Options() : StepOptions("text", 0, 30, 5) {}
    std::string models;
};

Options parseOptions(int argc, char** argv) {
    Options o;
    bench::parseStepOptions(argc, argv, kUsage, "text", "image", 0, o, {{"--models", &o.models}});
    if (o.models.empty()) throw losslab::Error("--models DIR is required\n" + std::string(kUsage));
    if (o.batch == 0) o.batch = 32;
    return o;
}

losslab::ExperimentSpec resolveSpec(const Options& o, const losslab::TaskRegistry& registry) {
    const bool text = o.model == "text";
    const std::string yaml = "name: bench_torchscript_step\ntask: torchscript/" + o.model + "\nlosses: [" + o.loss +
                              "]\nprotocols: [fixed_epochs]\nseeds: 1\n";
    std::vector<losslab::SpecOverride> overrides = {{"runner.threads", std::to_string(o.threads)},
                                                    {"train.batch_size", std::to_string(o.batch)},
                                                    {"model.file", o.models + (text ? "/text_pooled.pt" : "/image.pt")}};
    if (text) {
        overrides.push_back({"model.vocab", o.models + "/vocab.txt"});
        overrides.push_back({"model.max_length", std::to_string(kWidth)});
    } else {
        overrides.push_back({"model.image_size", std::to_string(kImageSize)});
    }
    return losslab::loadExperimentText(yaml, "<bench>", overrides, registry);
}

// The fixed batch (see the top of the file), on the CPU.
using Batch = bench::StepBatch;

Batch textBatch(std::int64_t batch, std::int64_t vocab) {
    const auto longs = torch::TensorOptions().dtype(torch::kLong);
    const torch::Tensor rows = torch::arange(batch, longs);
    const torch::Tensor i = rows.unsqueeze(1);
    const torch::Tensor t = torch::arange(kWidth, longs).unsqueeze(0);
    Batch b;
    b.input.lengths = (rows * 7).remainder(23) + 10;
    const torch::Tensor real = t < b.input.lengths.unsqueeze(1);
    b.input.features = ((i * 131 + t * 17).remainder(vocab - 5) + 5) * real;
    b.input.features2 = (t >= b.input.lengths.unsqueeze(1).div(2, "floor")).to(torch::kLong) * real;
    b.labels = rows.remainder(2);
    return b;
}

Batch imageBatch(std::int64_t batch) {
    const auto longs = torch::TensorOptions().dtype(torch::kLong);
    const torch::Tensor i = torch::arange(batch, longs).view({batch, 1, 1});
    const torch::Tensor c = torch::arange(3, longs).view({1, 3, 1});
    const torch::Tensor p = torch::arange(kImageSize * kImageSize, longs).view({1, 1, -1});
    Batch b;
    b.input.features = ((i * 131 + p * 17 + c * 7).remainder(256).to(torch::kFloat) / 128.0 - 1.0).view({batch, 3, kImageSize, kImageSize});
    b.labels = torch::arange(batch, longs).remainder(10);
    return b;
}

std::int64_t vocabSize(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw losslab::Error(path + ": cannot open");
    std::int64_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
    return n;
}

} // namespace

int main(int argc, char** argv) {
    return bench::guardedMain(kProgram, [&] {
        const Options o = parseOptions(argc, argv);
        losslab::TaskRegistry registry;
        const auto task = bench::loadTask(registry, kProgram, "torchscript/" + o.model);
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
            Batch b = o.model == "text" ? textBatch(report.batch, vocabSize(o.models + "/vocab.txt")) : imageBatch(report.batch);
            t.input.features = b.input.features.to(device);
            if (b.input.lengths.defined()) t.input.lengths = b.input.lengths.to(device);
            t.input.hostLengths = b.input.lengths; // as the core sets it (plugin API 6)
            if (b.input.features2.defined()) t.input.features2 = b.input.features2.to(device);
            t.labels = b.labels.to(device);
            const double clip = *report.gradClip;
            report.result = bench::timeSteps(o.warmup, o.steps, device.is_cuda(), [&] { t.step(clip); });
        });
        bench::printReport(std::cout, report, o.json);
        return 0;
    });
}
