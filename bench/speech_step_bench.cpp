// losslab-bench-speech-step: times one training step (zero_grad, forward, the study's loss on the
// decoder's scores, the model's objective lambda * CTC + (1 - lambda) * s * loss, backward,
// gradient clipping, Adam step) of the speech plugin's joint CTC-attention recogniser
// (plugins/speech/ctc_attention.h) on the CPU. The model is built directly from
// CtcAttentionOptions, as the speech tasks' makeModel does, with the recipe of the paper's TIMIT
// row (resources/experiments/timit_ctc_attention.yaml: Adam lr 0.001, gradient norm clipped at
// 5, lambda 0.3), the loss as the core's Trainer applies it (LossFunction with padded labels
// ignored) and the runner's process and worker-thread set-up. bench/speech_step_bench.py times
// the same step in PyTorch's Python API (the model mirrored there, the same parameter count);
// bench/run_speech_step_bench.sh runs both and prints the ratio. It measures; it never passes or
// fails on time.
//
// Models: timit (CtcAttentionOptions::timit(42): BLSTMP 4 x 320, subsampling 1_2_2_1_1, no VGG,
// attention 320, decoder 300) and small (VGG2L, BLSTMP 2 x 128, attention 128, decoder 128);
// 42 output units (Table 9's TIMIT PER row), 80 feature bins. Losses: ce, or square with k = 1,
// M = 15 (the TIMIT PER row's).
//
// The batch: features [B, T, 80] drawn N(0, 1) from a CPU generator seeded with 1000 + seed
// (torch's generator: the Python side draws the same numbers); utterance b has T - (37 b) % 101
// frames (T = --frames, 300: 200-300 frames) and 30 + (7 b) % 11 units 2 + (131 b + 17 i) % 39,
// then <eos> (41), padded with -1.
//
// --profile also times the step split into parts (encoder, CTC branch, decoder loop, loss and
// objective, backward, clipping, Adam), the forward pass composed of the model's public parts
// as forward() composes them; diagnostic only, printed as text after the report.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <ATen/core/Reduction.h>
#include <torch/optim/adam.h>
#include <torch/types.h>

#include "bench_common.h"
#include "ctc_attention.h"

namespace {

namespace bench = losslab::bench;
namespace speech = losslab::speech;

constexpr const char* kProgram = "losslab-bench-speech-step";
constexpr std::int64_t kVocab = 42;   // 39 phones, <blank>, <unk>, <eos>
constexpr std::int64_t kFeatures = 80;

constexpr const char* kUsage =
    "usage: losslab-bench-speech-step [--model timit|small] [--batch N] [--frames T] [--steps N]\n"
    "                                 [--warmup N] [--threads N] [--loss ce|square] [--grad-clip X]\n"
    "                                 [--ctc-weight L] [--device cpu|cuda] [--blas-threads N]\n"
    "                                 [--main-thread] [--seed N] [--profile] [--json]\n"
    "  Times zero_grad/forward/loss/objective/backward/clip/Adam of the speech plugin's joint\n"
    "  CTC-attention recogniser on a fixed batch of B utterances of T - (37 b) % 101 frames.\n"
    "  Defaults: --model timit --batch 8 --frames 300 --steps 10 --warmup 2 --grad-clip 5\n"
    "  --ctc-weight 0.3 (the TIMIT row's recipe); square is k = 1, M = 15.\n"
    "  --profile also times the step's parts (text, after the report).\n"
    "  Exit status: 0 measured, 2 invalid option or value, 1 any other error.\n";

struct Options : bench::StepOptions {
    Options() : StepOptions("timit", 8, 10, 2) {}
    std::int64_t frames = 300;
    double gradClip = 5.0;
    double ctcWeight = 0.3;
    bool profile = false;
};

double parseDouble(const std::string& flag, const std::string& text, double min, double max) {
    std::size_t used = 0;
    double v = std::numeric_limits<double>::quiet_NaN();
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || !(v >= min && v <= max))
        throw losslab::Error(flag + ": expected a number in [" + bench::shortest(min) + ", " + bench::shortest(max) +
                             "], got '" + text + "'");
    return v;
}

Options parseOptions(int argc, char** argv) {
    Options o;
    // --profile is a switch of this program only: taken out before the shared parser sees it.
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        if (i > 0 && std::string(argv[i]) == "--profile") o.profile = true;
        else args.push_back(argv[i]);
    }
    std::string frames, clip, ctc;
    bench::parseStepOptions(static_cast<int>(args.size()), args.data(), kUsage, "timit", "small", 1, o,
                            {{"--frames", &frames}, {"--grad-clip", &clip}, {"--ctc-weight", &ctc}});
    if (!frames.empty()) o.frames = bench::parseInt("--frames", frames, 101);
    if (!clip.empty()) o.gradClip = parseDouble("--grad-clip", clip, 0.0, 1e9);
    if (!ctc.empty()) o.ctcWeight = parseDouble("--ctc-weight", ctc, 0.0, 1.0);
    return o;
}

speech::CtcAttentionOptions modelOptions(const Options& o) {
    speech::CtcAttentionOptions m = speech::CtcAttentionOptions::timit(kVocab);
    m.inputDim = kFeatures;
    if (o.model == "small") {
        m.vgg = true;
        m.encoderLayers = 2;
        m.encoderUnits = 128;
        m.projectionUnits = 128;
        m.attentionDim = 128;
        m.decoderUnits = 128;
    }
    m.ctcWeight = o.ctcWeight;
    return m;
}

// The fixed batch (see the top of the file), on the CPU.
bench::StepBatch speechBatch(std::int64_t batch, std::int64_t frames, std::int64_t seed) {
    at::Generator gen = losslab::makeGenerator(torch::Device(torch::kCPU), static_cast<std::uint64_t>(1000 + seed));
    bench::StepBatch b;
    b.input.features = torch::randn({batch, frames, kFeatures}, gen, torch::TensorOptions().dtype(torch::kFloat));
    b.input.lengths = torch::empty({batch}, torch::kLong);
    std::vector<std::int64_t> units(static_cast<std::size_t>(batch));
    std::int64_t longest = 0;
    for (std::int64_t i = 0; i < batch; ++i) {
        b.input.lengths[i] = frames - (37 * i) % 101;
        units[static_cast<std::size_t>(i)] = 30 + (7 * i) % 11;
        longest = std::max(longest, units[static_cast<std::size_t>(i)]);
    }
    b.labels = torch::full({batch, longest + 1}, losslab::kIgnoreLabel, torch::kLong);
    auto l = b.labels.accessor<std::int64_t, 2>();
    for (std::int64_t i = 0; i < batch; ++i) {
        const std::int64_t n = units[static_cast<std::size_t>(i)];
        for (std::int64_t k = 0; k < n; ++k) l[i][k] = 2 + (131 * i + 17 * k) % (kVocab - 3);
        l[i][n] = kVocab - 1; // <eos>
    }
    b.input.targets = b.labels;
    return b;
}

// Median of each part's per-step times.
struct Parts {
    std::map<std::string, std::vector<double>> ms;
    std::vector<std::string> order;
    void add(const std::string& name, double v) {
        if (!ms.count(name)) order.push_back(name);
        ms[name].push_back(v);
    }
    static double median(std::vector<double> v) {
        std::sort(v.begin(), v.end());
        const std::size_t n = v.size();
        return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    }
};

double msSince(bench::Clock::time_point& t) {
    const auto now = bench::Clock::now();
    const double ms = std::chrono::duration<double, std::milli>(now - t).count();
    t = now;
    return ms;
}

} // namespace

int main(int argc, char** argv) {
    return bench::guardedMain(kProgram, [&] {
        const Options o = parseOptions(argc, argv);
        if (o.device != "cpu") throw losslab::Error("--device: this benchmark runs on the CPU only");
        const speech::CtcAttentionOptions modelOpts = modelOptions(o);
        bench::StepReport report(o, "speech/ctc_attention " + o.model);
        report.gradClip = o.gradClip;
        report.blas = bench::configureBlas(o.blasThreads);

        Parts parts;
        std::string workerError;
        auto run = [&] {
            try {
                losslab::configureWorkerThread(o.threads);
                report.threads = at::get_num_threads();
                at::Generator init = losslab::makeGenerator(torch::Device(torch::kCPU), static_cast<std::uint64_t>(o.seed));
                speech::CtcAttention model(modelOpts, init);
                model->train();
                std::int64_t parameters = 0;
                for (const auto& p : model->parameters()) parameters += p.numel();
                report.parameters = parameters;
                // makeOptimizer's "adam" with the spec's train.weight_decay default (0).
                torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-3).weight_decay(0.0));
                const bool square = o.loss == "square";
                losslab::LossFunction loss(square ? losslab::LossKind::Square : losslab::LossKind::CrossEntropy, 1.0,
                                           square ? 15.0 : 1.0);
                loss.setIgnorePadding(true); // as the Trainer does for a task with padded labels

                bench::StepBatch b = speechBatch(o.batch, o.frames, o.seed);
                b.input.generator = losslab::makeGenerator(torch::Device(torch::kCPU), static_cast<std::uint64_t>(o.seed) + 1);

                auto step = [&] {
                    losslab::zeroGradients(optimizer);
                    const torch::Tensor outputs = model->forward(b.input);
                    const torch::Tensor value = model->objective(loss(outputs, b.labels));
                    value.backward();
                    if (o.gradClip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), o.gradClip);
                    optimizer.step();
                };
                report.result = bench::timeSteps(o.warmup, o.steps, false, step);
                if (!o.profile) return;

                // The same step in parts: forward() composed of the model's public parts.
                const std::int64_t eos = model->eos();
                const torch::Tensor labels = b.labels;
                const std::int64_t batch = labels.size(0), steps = labels.size(1);
                std::vector<std::int64_t> unitCount(static_cast<std::size_t>(batch));
                torch::Tensor previous = torch::full({batch, steps}, eos, torch::kLong);
                torch::Tensor ctcTargets = labels.clamp_min(0).narrow(1, 0, steps - 1).contiguous();
                torch::Tensor targetLengths = torch::empty({batch}, torch::kLong);
                double total = 0;
                for (std::int64_t i = 0; i < batch; ++i) {
                    std::int64_t n = 0;
                    while (labels[i][n].item<std::int64_t>() != eos) ++n;
                    targetLengths[i] = n;
                    total += static_cast<double>(n);
                    previous[i][0] = model->sos();
                    previous.narrow(0, i, 1).narrow(1, 1, n).copy_(labels.narrow(0, i, 1).narrow(1, 0, n));
                }
                const double scale = total / static_cast<double>(batch);
                const double lambda = modelOpts.ctcWeight;
                auto partStep = [&](bool record) {
                    auto t = bench::Clock::now();
                    const auto t0 = t;
                    losslab::zeroGradients(optimizer);
                    const speech::CtcAttentionImpl::Encoded enc = model->encode(b.input, true);
                    const double encMs = msSince(t);
                    const torch::Tensor logProbs = torch::log_softmax(model->ctcScores(enc.states), 2).transpose(0, 1);
                    const torch::Tensor ctc = torch::ctc_loss(logProbs, ctcTargets, enc.lengths, targetLengths, 0,
                                                              at::Reduction::Sum, true) /
                                              static_cast<double>(batch);
                    const double ctcMs = msSince(t);
                    const speech::CtcAttentionImpl::Memory memory = model->makeMemory(enc.states, enc.lengths);
                    speech::CtcAttentionImpl::DecoderState state = model->initialState(memory, batch);
                    std::vector<torch::Tensor> scores;
                    for (std::int64_t i = 0; i < steps; ++i)
                        scores.push_back(model->decoderStep(previous.select(1, i), state, memory, true, b.input.generator));
                    const torch::Tensor outputs = torch::stack(scores, 1);
                    const double decMs = msSince(t);
                    const torch::Tensor value = lambda * ctc + (1.0 - lambda) * scale * loss(outputs, labels);
                    const double lossMs = msSince(t);
                    value.backward();
                    const double backMs = msSince(t);
                    if (o.gradClip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), o.gradClip);
                    const double clipMs = msSince(t);
                    optimizer.step();
                    const double adamMs = msSince(t);
                    if (!record) return;
                    parts.add("encoder fwd", encMs);
                    parts.add("CTC fwd", ctcMs);
                    parts.add("decoder fwd", decMs);
                    parts.add("loss+objective", lossMs);
                    parts.add("backward", backMs);
                    parts.add("clip", clipMs);
                    parts.add("adam", adamMs);
                    parts.add("total", std::chrono::duration<double, std::milli>(t - t0).count());
                };
                for (int i = 0; i < o.warmup; ++i) partStep(false);
                for (int i = 0; i < o.steps; ++i) partStep(true);
            } catch (const losslab::Error& e) {
                workerError = std::string("E") + e.what();
            } catch (const c10::Error& e) {
                workerError = std::string("TLibTorch: ") + e.what_without_backtrace();
            } catch (const std::exception& e) {
                workerError = std::string("T") + e.what();
            }
        };
        // As the runner trains: on a worker thread of its own (bench_common.h, trainOnWorker).
        if (o.mainThread) {
            run();
        } else {
            std::thread worker(run);
            worker.join();
        }
        if (!workerError.empty()) {
            if (workerError[0] == 'E') throw losslab::Error(workerError.substr(1));
            throw std::runtime_error(workerError.substr(1));
        }
        bench::printReport(std::cout, report, o.json);
        if (o.profile) {
            std::cout << "       parts (median ms over " << o.steps << " steps):";
            for (const auto& name : parts.order) std::cout << "  " << name << " " << bench::fixed(Parts::median(parts.ms[name]), 2);
            std::cout << "\n";
        }
        return 0;
    });
}
