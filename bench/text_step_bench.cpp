// losslab-bench-text-step: times one training step (zero_grad, forward, loss, backward,
// gradient clipping, Adam step) of a text-plugin model on a fixed batch, through the engine's
// own code path: task plugins, a resolved experiment spec, makeOptimizer, LossFunction, and the
// runner's process and worker-thread set-up, as losslab-bench-step does for the vision models.
// bench/text_step_bench.py times the same step in PyTorch's Python API (the models mirrored in
// bench/text_models_ref.py); bench/run_text_step_bench.sh runs both and prints the ratio. It
// measures; it never passes or fails on time.
//
// The batch is computed, not drawn, so that both sides see the same one without sharing a
// generator: sentence pair i has lengths 10 + (7 i) % 31 and 10 + (11 i + 3) % 31 (width 40),
// ids 2 + (131 i + 17 t) % max_words and 2 + (131 i + 17 t + 1000) % max_words at real
// positions (0 past them), label i % 2; character window i has ids (131 i + 17 t) % C and
// labels (131 i + 17 (t + 1)) % C over data.context positions.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <locale>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/cuda.h>
#include <torch/types.h> // first: LibTorch 1.13's clip_grad.h needs torch::Tensor declared
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/optimizer.h>
#include <torch/version.h>

#include "losslab/error.h"
#include "losslab/losses/loss_function.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/torch_compat.h"
#include "losslab/training/compute_setup.h"
#include "losslab/training/optimizer_factory.h"

namespace {

using Clock = std::chrono::steady_clock;

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

struct Options {
    std::string model = "esim";
    std::int64_t batch = 0; // 0: the recipe's train.batch_size
    int steps = 20;
    int warmup = 3;
    int threads = 0;
    std::string loss = "ce";
    std::string gradClip; // empty: the recipe's train.grad_clip
    std::string device = "cpu";
    int blasThreads = -1; // -1: leave what configureProcess() set
    bool mainThread = false;
    std::int64_t seed = 0;
    bool json = false;
};

std::int64_t parseInt(const std::string& flag, const std::string& text, std::int64_t min) {
    std::size_t used = 0;
    std::int64_t v = 0;
    try {
        v = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || v < min)
        throw losslab::Error(flag + ": expected an integer >= " + std::to_string(min) + ", got '" + text + "'");
    return v;
}

Options parseOptions(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::cout << kUsage;
            std::exit(0);
        }
        if (a == "--json" || a == "--main-thread") {
            (a == "--json" ? o.json : o.mainThread) = true;
            continue;
        }
        if (i + 1 >= argc) throw losslab::Error(a + ": unknown option or missing value\n" + kUsage);
        const std::string v = argv[++i];
        if (a == "--model") o.model = v;
        else if (a == "--batch") o.batch = parseInt(a, v, 0);
        else if (a == "--steps") o.steps = static_cast<int>(parseInt(a, v, 1));
        else if (a == "--warmup") o.warmup = static_cast<int>(parseInt(a, v, 0));
        else if (a == "--threads") o.threads = static_cast<int>(parseInt(a, v, 0));
        else if (a == "--loss") o.loss = v;
        else if (a == "--grad-clip") o.gradClip = v; // checked by the spec (train.grad_clip >= 0)
        else if (a == "--device") o.device = v;
        else if (a == "--blas-threads") o.blasThreads = static_cast<int>(parseInt(a, v, 1));
        else if (a == "--seed") o.seed = parseInt(a, v, 0);
        else throw losslab::Error(a + ": unknown option\n" + kUsage);
    }
    if (o.model != "esim" && o.model != "transformer")
        throw losslab::Error("--model: expected esim or transformer, got '" + o.model + "'");
    if (o.loss != "ce" && o.loss != "square") throw losslab::Error("--loss: expected ce or square, got '" + o.loss + "'");
    if (o.device != "cpu" && o.device != "cuda") throw losslab::Error("--device: expected cpu or cuda, got '" + o.device + "'");
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

// The fixed batch (see the top of the file), on the CPU: a model input and its labels.
struct Batch {
    losslab::ModelInput input;
    torch::Tensor labels;
};

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

// Per-step wall times of the timed steps, in milliseconds.
struct Result {
    std::vector<double> ms; // per timed step
    double median() const {
        std::vector<double> s = ms;
        std::sort(s.begin(), s.end());
        const std::size_t n = s.size();
        return n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }
    double mean() const { return std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size()); }
};

std::string fixed(double v, int precision) {
    std::ostringstream os;
    os.imbue(std::locale::classic());
    os.setf(std::ios::fixed);
    os.precision(precision);
    os << v;
    return os.str();
}

std::string shortest(double v) {
    std::ostringstream os;
    os.imbue(std::locale::classic());
    os << v;
    return os.str();
}

std::string jsonEscape(const std::string& s) {
    std::string out;
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

} // namespace

int main(int argc, char** argv) {
    try {
        const Options o = parseOptions(argc, argv);
        losslab::TaskRegistry registry;
        const losslab::PluginLoadReport report = losslab::loadPlugins(registry, losslab::defaultPluginDirs());
        for (const auto& w : report.warnings) std::cerr << "losslab-bench-text-step: warning: plugin skipped: " << w << "\n";
        const std::string taskId = taskIdFor(o);
        const auto task = registry.require(taskId);
        const losslab::ExperimentSpec spec = resolveSpec(o, registry);
        const losslab::LossSpec& lossSpec = spec.losses.at(0);
        const std::int64_t batch = spec.params.getInt("train.batch_size");
        const double clip = spec.params.getDouble("train.grad_clip");

        std::string blas = losslab::configureProcess();
        if (o.blasThreads > 0) {
            using SetThreads = void (*)(int);
            auto fn = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
            if (!fn) throw losslab::Error("--blas-threads: the loaded BLAS is not OpenBLAS");
            fn(o.blasThreads);
            blas = "BLAS: OpenBLAS, " + std::to_string(o.blasThreads) + " thread(s) (--blas-threads)";
        }
        const bool cuda = o.device == "cuda";
        if (cuda && !losslab::cudaAvailable())
            throw losslab::Error("--device cuda: this LibTorch has no CUDA device (built without CUDA, or no GPU)");
        const torch::Device device(cuda ? torch::kCUDA : torch::kCPU);

        Result result;
        int threadsUsed = 0;
        std::int64_t parameters = 0;
        std::string workerError;
        bool workerUserError = false;
        // Train on a worker thread set up like the runner's (RunQueue::workerLoop): which
        // thread allocates picks the malloc arena, which shows in the step time (docs/benchmarks.md).
        auto train = [&] {
            try {
                losslab::configureWorkerThread(o.threads);
                threadsUsed = at::get_num_threads();
                at::Generator gen = losslab::makeGenerator(torch::Device(torch::kCPU), static_cast<std::uint64_t>(o.seed));
                const std::shared_ptr<losslab::ClassifierModule> model = task->makeModel(spec.params, gen);
                for (const auto& p : model->parameters()) parameters += p.numel();
                model->to(device);
                model->train(); // dropout on, as in training
                const auto optimizer = losslab::makeOptimizer(spec.params, model->parameters(), lossSpec.lr);
                const losslab::LossFunction loss(lossSpec);
                // The batch as the InputTransform hands it to the model (int64 ids, lengths on
                // the device like the rest of the batch: TensorSplit::to).
                Batch b = o.model == "esim" ? pairBatch(batch, spec.params.getInt("data.max_words"))
                                            : charBatch(batch, spec.params.getInt("data.context"), task->info().numClasses);
                losslab::ModelInput input;
                input.features = toDevice(b.input.features, device);
                input.lengths = toDevice(b.input.lengths, device);
                input.features2 = toDevice(b.input.features2, device);
                input.lengths2 = toDevice(b.input.lengths2, device);
                input.generator = losslab::makeGenerator(device, static_cast<std::uint64_t>(o.seed) + 1);
                const torch::Tensor labels = b.labels.to(device);
                auto step = [&] {
                    losslab::zeroGradients(*optimizer);
                    const torch::Tensor outputs = model->forward(input);
                    const torch::Tensor value = loss(outputs, labels);
                    value.backward();
                    // As the trainer does (Trainer::trainEpoch) when train.grad_clip > 0.
                    if (clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), clip);
                    optimizer->step();
                };
                for (int i = 0; i < o.warmup; ++i) step();
                if (cuda) torch::cuda::synchronize();
                result.ms.reserve(static_cast<std::size_t>(o.steps));
                for (int i = 0; i < o.steps; ++i) {
                    const auto t0 = Clock::now();
                    step();
                    if (cuda) torch::cuda::synchronize();
                    result.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
                }
            } catch (const losslab::Error& e) {
                workerError = e.what();
                workerUserError = true;
            } catch (const c10::Error& e) {
                workerError = std::string("LibTorch: ") + e.what_without_backtrace();
            } catch (const std::exception& e) {
                workerError = e.what();
            }
        };
        if (o.mainThread) {
            train();
        } else {
            std::thread worker(train);
            worker.join();
        }
        if (!workerError.empty()) {
            if (workerUserError) throw losslab::Error(workerError);
            throw std::runtime_error(workerError);
        }

        if (o.json) {
            std::cout << "{\"impl\": \"cpp\", \"torch\": \"" << TORCH_VERSION << "\", \"task\": \"" << taskId
                      << "\", \"model\": \"" << o.model << "\", \"hidden\": \"\", \"batch\": " << batch
                      << ", \"loss\": \"" << o.loss << "\", \"grad_clip\": " << shortest(clip) << ", \"device\": \""
                      << o.device << "\", \"parameters\": " << parameters << ", \"threads\": " << threadsUsed
                      << ", \"blas\": \"" << jsonEscape(blas) << "\", \"thread\": \""
                      << (o.mainThread ? "main" : "worker") << "\", \"warmup\": " << o.warmup
                      << ", \"steps\": " << o.steps << ", \"median_ms\": " << fixed(result.median(), 4)
                      << ", \"mean_ms\": " << fixed(result.mean(), 4) << "}\n";
        } else {
            std::cout << "cpp    torch " << TORCH_VERSION << "  " << taskId << " (" << parameters << " parameters)"
                      << "  batch " << batch << "  loss " << o.loss << "  grad clip " << shortest(clip) << "  device "
                      << o.device << "  threads " << threadsUsed
                      << (o.mainThread ? " (main thread)" : " (worker thread)") << "  " << blas << "\n"
                      << "       median " << fixed(result.median(), 3) << " ms/step, mean " << fixed(result.mean(), 3)
                      << " ms/step over " << o.steps << " steps (" << o.warmup << " warm-up)\n";
        }
        return 0;
    } catch (const losslab::Error& e) {
        std::cerr << "losslab-bench-text-step: " << e.what() << "\n";
        return 2;
    } catch (const c10::Error& e) {
        std::cerr << "losslab-bench-text-step: LibTorch: " << e.what_without_backtrace() << "\n";
    } catch (const std::exception& e) {
        std::cerr << "losslab-bench-text-step: " << e.what() << "\n";
    }
    return 1;
}
