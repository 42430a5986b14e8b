// losslab-bench-step: times one training step (zero_grad, forward, loss, backward, SGD step)
// of a LossLab task model on a fixed random batch, through the engine's own code path:
// task plugins, a resolved experiment spec, makeOptimizer, LossFunction, and the runner's
// process and worker-thread set-up. bench/step_bench.py times the same step in PyTorch's
// Python API; bench/run_step_bench.sh runs both and prints the ratio. It measures; it never
// passes or fails on time.
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
#include <torch/optim/optimizer.h>
#include <torch/version.h>

#include "losslab/error.h"
#include "losslab/losses/loss_function.h"
#include "losslab/tasks/model_random.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/compute_setup.h"
#include "losslab/torch_compat.h"
#include "losslab/training/optimizer_factory.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: losslab-bench-step [--model mlp|cnn] [--batch N] [--steps N] [--warmup N]\n"
    "                          [--threads N] [--hidden \"[512, 512]\" (mlp only)] [--loss ce|square]\n"
    "                          [--device cpu|cuda] [--blas-threads N] [--main-thread]\n"
    "                          [--seed N] [--json]\n"
    "  Times zero_grad/forward/loss/backward/step of fashion_mnist/<model> on a random batch.\n"
    "  Exit status: 0 measured, 2 invalid option or value, 1 any other error.\n"
    "  --threads 0 uses every core (the runner's runner.threads=0). --blas-threads overrides\n"
    "  the engine's single-threaded OpenBLAS; --main-thread trains on the main thread instead of\n"
    "  a worker thread like the runner's (both diagnostic only; defaults: the engine's way).\n";

struct Options {
    std::string model = "mlp";
    std::int64_t batch = 128;
    int steps = 200;
    int warmup = 20;
    int threads = 0;
    std::string hidden = "[512, 512]";
    std::string loss = "ce";
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
        else if (a == "--batch") o.batch = parseInt(a, v, 1);
        else if (a == "--steps") o.steps = static_cast<int>(parseInt(a, v, 1));
        else if (a == "--warmup") o.warmup = static_cast<int>(parseInt(a, v, 0));
        else if (a == "--threads") o.threads = static_cast<int>(parseInt(a, v, 0));
        else if (a == "--hidden") o.hidden = v;
        else if (a == "--loss") o.loss = v;
        else if (a == "--device") o.device = v;
        else if (a == "--blas-threads") o.blasThreads = static_cast<int>(parseInt(a, v, 1));
        else if (a == "--seed") o.seed = parseInt(a, v, 0);
        else throw losslab::Error(a + ": unknown option\n" + kUsage);
    }
    if (o.model != "mlp" && o.model != "cnn") throw losslab::Error("--model: expected mlp or cnn, got '" + o.model + "'");
    if (o.loss != "ce" && o.loss != "square") throw losslab::Error("--loss: expected ce or square, got '" + o.loss + "'");
    if (o.device != "cpu" && o.device != "cuda") throw losslab::Error("--device: expected cpu or cuda, got '" + o.device + "'");
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
        for (const auto& w : report.warnings) std::cerr << "losslab-bench-step: warning: plugin skipped: " << w << "\n";
        const std::string taskId = "fashion_mnist/" + o.model;
        const auto task = registry.require(taskId);
        const losslab::ExperimentSpec spec = resolveSpec(o, registry);
        const losslab::LossSpec& lossSpec = spec.losses.at(0);

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
                model->to(device);
                model->train();
                const auto optimizer = losslab::makeOptimizer(spec.params, model->parameters(), lossSpec.lr);
                const losslab::LossFunction loss(lossSpec);
                // Already-normalised input, as the InputTransform hands it to the model.
                const std::vector<std::int64_t> shape = o.model == "mlp" ? std::vector<std::int64_t>{o.batch, 784}
                                                                         : std::vector<std::int64_t>{o.batch, 1, 28, 28};
                const torch::Tensor features = torch::randn(shape, gen).to(device);
                const torch::Tensor labels =
                    torch::randint(0, task->info().numClasses, {o.batch}, gen, torch::TensorOptions().dtype(torch::kLong)).to(device);
                losslab::ModelInput input;
                input.features = features;
                input.generator = losslab::makeGenerator(device, static_cast<std::uint64_t>(o.seed) + 1);
                auto step = [&] {
                    losslab::zeroGradients(*optimizer);
                    const torch::Tensor outputs = model->forward(input);
                    const torch::Tensor value = loss(outputs, labels);
                    value.backward();
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

        const std::string hidden = o.model == "mlp" ? spec.params.raw("model.hidden") : "";
        if (o.json) {
            std::cout << "{\"impl\": \"cpp\", \"torch\": \"" << TORCH_VERSION << "\", \"task\": \"" << taskId
                      << "\", \"model\": \"" << o.model << "\", \"hidden\": \"" << jsonEscape(hidden)
                      << "\", \"batch\": " << o.batch << ", \"loss\": \"" << o.loss << "\", \"device\": \""
                      << o.device << "\", \"threads\": " << threadsUsed << ", \"blas\": \"" << jsonEscape(blas)
                      << "\", \"thread\": \"" << (o.mainThread ? "main" : "worker")
                      << "\", \"warmup\": " << o.warmup << ", \"steps\": " << o.steps
                      << ", \"median_ms\": " << fixed(result.median(), 4) << ", \"mean_ms\": " << fixed(result.mean(), 4)
                      << "}\n";
        } else {
            std::cout << "cpp    torch " << TORCH_VERSION << "  " << taskId << (hidden.empty() ? "" : " hidden " + hidden)
                      << "  batch " << o.batch << "  loss " << o.loss << "  device " << o.device << "  threads "
                      << threadsUsed << (o.mainThread ? " (main thread)" : " (worker thread)") << "  " << blas << "\n"
                      << "       median " << fixed(result.median(), 3) << " ms/step, mean " << fixed(result.mean(), 3)
                      << " ms/step over " << o.steps << " steps (" << o.warmup << " warm-up)\n";
        }
        return 0;
    } catch (const losslab::Error& e) {
        std::cerr << "losslab-bench-step: " << e.what() << "\n";
        return 2;
    } catch (const c10::Error& e) {
        std::cerr << "losslab-bench-step: LibTorch: " << e.what_without_backtrace() << "\n";
    } catch (const std::exception& e) {
        std::cerr << "losslab-bench-step: " << e.what() << "\n";
    }
    return 1;
}
