#pragma once
// What the two step benchmarks share: losslab-bench-step (bench/step_bench.cpp, the vision
// models) and losslab-bench-text-step (bench/text_step_bench.cpp, the text models). Their
// common options, the engine's process and worker-thread set-up, a model with its optimiser
// and loss as a run builds them, one training step, its timing (warm-up steps, then each timed
// step on its own clock, median and mean), the report (two lines of text, or one of JSON) and
// main()'s exit statuses. Header-only; bench/bench_common.py is the same for their Python sides.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <locale>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
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

namespace losslab::bench {

using Clock = std::chrono::steady_clock;

// ---- options -------------------------------------------------------------------------------

inline std::int64_t parseInt(const std::string& flag, const std::string& text, std::int64_t min) {
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

// The options every step benchmark takes; a program's own ones live in a struct derived from
// it, whose constructor gives the program's defaults.
struct StepOptions {
    StepOptions(std::string defaultModel, std::int64_t defaultBatch, int defaultSteps, int defaultWarmup)
        : model(std::move(defaultModel)), batch(defaultBatch), steps(defaultSteps), warmup(defaultWarmup) {}

    std::string model;
    std::int64_t batch;
    int steps;
    int warmup;
    int threads = 0;
    std::string loss = "ce";
    std::string device = "cpu";
    int blasThreads = -1; // -1: leave what configureProcess() set
    bool mainThread = false;
    std::int64_t seed = 0;
    bool json = false;
};

// Reads the command line into `o`: --help and -h print `usage` and exit 0; --json and
// --main-thread are switches; every other option takes a value, the program's own ones (`own`:
// flag -> where its text goes, checked later by the program) included. Then --model must be
// model1 or model2, --loss ce or square, --device cpu or cuda; --batch takes an integer
// >= minBatch. Throws losslab::Error (exit status 2) on anything else.
inline void parseStepOptions(int argc, char** argv, const char* usage, const std::string& model1,
                             const std::string& model2, std::int64_t minBatch, StepOptions& o,
                             const std::map<std::string, std::string*>& own) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--help" || a == "-h") {
            std::cout << usage;
            std::exit(0);
        }
        if (a == "--json" || a == "--main-thread") {
            (a == "--json" ? o.json : o.mainThread) = true;
            continue;
        }
        if (i + 1 >= argc) throw losslab::Error(a + ": unknown option or missing value\n" + usage);
        const std::string v = argv[++i];
        if (a == "--model") o.model = v;
        else if (a == "--batch") o.batch = parseInt(a, v, minBatch);
        else if (a == "--steps") o.steps = static_cast<int>(parseInt(a, v, 1));
        else if (a == "--warmup") o.warmup = static_cast<int>(parseInt(a, v, 0));
        else if (a == "--threads") o.threads = static_cast<int>(parseInt(a, v, 0));
        else if (a == "--loss") o.loss = v;
        else if (a == "--device") o.device = v;
        else if (a == "--blas-threads") o.blasThreads = static_cast<int>(parseInt(a, v, 1));
        else if (a == "--seed") o.seed = parseInt(a, v, 0);
        else if (own.count(a)) *own.at(a) = v;
        else throw losslab::Error(a + ": unknown option\n" + usage);
    }
    if (o.model != model1 && o.model != model2)
        throw losslab::Error("--model: expected " + model1 + " or " + model2 + ", got '" + o.model + "'");
    if (o.loss != "ce" && o.loss != "square") throw losslab::Error("--loss: expected ce or square, got '" + o.loss + "'");
    if (o.device != "cpu" && o.device != "cuda") throw losslab::Error("--device: expected cpu or cuda, got '" + o.device + "'");
}

// ---- set-up --------------------------------------------------------------------------------

// Loads the task plugins into `registry` from their usual folders (a plugin it skips is a
// warning on stderr) and returns the task `taskId`; losslab::Error when there is none.
inline std::shared_ptr<const losslab::Task> loadTask(losslab::TaskRegistry& registry, const std::string& program,
                                                     const std::string& taskId) {
    const losslab::PluginLoadReport report = losslab::loadPlugins(registry, losslab::defaultPluginDirs());
    for (const auto& w : report.warnings) std::cerr << program << ": warning: " << w << "\n";
    return registry.require(taskId);
}

// The engine's process set-up (configureProcess()), then OpenBLAS at `blasThreads` threads when
// that is > 0 (--blas-threads). Returns the BLAS line of the report.
inline std::string configureBlas(int blasThreads) {
    std::string blas = losslab::configureProcess();
    if (blasThreads > 0) {
        using SetThreads = void (*)(int);
        auto fn = reinterpret_cast<SetThreads>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
        if (!fn) throw losslab::Error("--blas-threads: the loaded BLAS is not OpenBLAS");
        fn(blasThreads);
        blas = "BLAS: OpenBLAS, " + std::to_string(blasThreads) + " thread(s) (--blas-threads)";
    }
    return blas;
}

// The device of --device; losslab::Error when it is cuda and LibTorch has none.
inline torch::Device benchDevice(const std::string& device) {
    const bool cuda = device == "cuda";
    if (cuda && !losslab::cudaAvailable())
        throw losslab::Error("--device cuda: this LibTorch has no CUDA device (built without CUDA, or no GPU)");
    return torch::Device(cuda ? torch::kCUDA : torch::kCPU);
}

// ---- the step ------------------------------------------------------------------------------

// A fixed batch a benchmark computes on the CPU: the model input and its labels.
struct StepBatch {
    losslab::ModelInput input;
    torch::Tensor labels;
};

// A model of `task` as a run builds it (initial weights drawn from a CPU generator seeded with
// `seed`), on `device` in training mode (dropout on), with the optimiser of the spec's recipe
// at the loss's rate, the loss function, and the batch it trains on: the bench sets the tensors
// of `input` and `labels`, on the device; input.generator is the run's generator there (seed + 1).
struct Trainee {
    Trainee(const losslab::Task& task, const losslab::ExperimentSpec& spec, std::int64_t seed,
            const torch::Device& device)
        : gen(losslab::makeGenerator(torch::Device(torch::kCPU), static_cast<std::uint64_t>(seed))),
          model(task.makeModel(spec.params, gen)), loss(spec.losses.at(0)) {
        model->to(device);
        model->train();
        optimizer = losslab::makeOptimizer(spec.params, model->parameters(), spec.losses.at(0).lr);
        input.generator = losslab::makeGenerator(device, static_cast<std::uint64_t>(seed) + 1);
    }

    // One training step on the batch: zero_grad, forward, loss, backward, gradient clipping at
    // `clip` when it is > 0 (as Trainer::trainEpoch does for train.grad_clip), optimiser step.
    void step(double clip = 0) {
        losslab::zeroGradients(*optimizer);
        const torch::Tensor outputs = model->forward(input);
        const torch::Tensor value = loss(outputs, labels);
        value.backward();
        if (clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), clip);
        optimizer->step();
    }

    at::Generator gen; // the CPU generator the weights came from (losslab-bench-step draws its batch next)
    std::shared_ptr<losslab::ClassifierModule> model;
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    const losslab::LossFunction loss;
    losslab::ModelInput input;
    torch::Tensor labels;
};

// Trains as the runner's worker threads do (RunQueue::workerLoop): on a thread of its own
// (which thread allocates picks the malloc arena, which shows in the step time:
// docs/benchmarks.md), or on this one with o.mainThread, set up by configureWorkerThread
// (o.threads), builds the Trainee of `task` there and calls train(trainee). Returns the
// intra-op threads it trained with. What it throws is thrown here again: a losslab::Error as
// one, anything else as std::runtime_error (LibTorch's errors prefixed "LibTorch: ").
template <class Train>
int trainOnWorker(const StepOptions& o, const losslab::Task& task, const losslab::ExperimentSpec& spec,
                  const torch::Device& device, Train train) {
    int threadsUsed = 0;
    std::string workerError;
    bool workerUserError = false;
    auto run = [&] {
        try {
            losslab::configureWorkerThread(o.threads);
            threadsUsed = at::get_num_threads();
            Trainee trainee(task, spec, o.seed, device);
            train(trainee);
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
        run();
    } else {
        std::thread worker(run);
        worker.join();
    }
    if (!workerError.empty()) {
        if (workerUserError) throw losslab::Error(workerError);
        throw std::runtime_error(workerError);
    }
    return threadsUsed;
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

// `warmup` untimed calls of step(), then `steps` timed ones, each on its own clock; on CUDA
// the device is synchronised after the warm-up and inside every timed step.
template <class Step>
Result timeSteps(int warmup, int steps, bool cuda, Step step) {
    Result result;
    for (int i = 0; i < warmup; ++i) step();
    if (cuda) torch::cuda::synchronize();
    result.ms.reserve(static_cast<std::size_t>(steps));
    for (int i = 0; i < steps; ++i) {
        const auto t0 = Clock::now();
        step();
        if (cuda) torch::cuda::synchronize();
        result.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    return result;
}

// ---- the report ----------------------------------------------------------------------------

inline std::string fixed(double v, int precision) {
    std::ostringstream os;
    os.imbue(std::locale::classic());
    os.setf(std::ios::fixed);
    os.precision(precision);
    os << v;
    return os.str();
}

inline std::string shortest(double v) {
    std::ostringstream os;
    os.imbue(std::locale::classic());
    os << v;
    return os.str();
}

inline std::string jsonEscape(const std::string& s) {
    std::string out;
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

// What a step benchmark measured and reports. gradClip and parameters are the text models'
// (printed where set); hidden is printed in the text where it is not empty.
struct StepReport {
    // The task and what the options say; the rest is filled in as it is known.
    StepReport(const StepOptions& o, std::string taskId)
        : task(std::move(taskId)), model(o.model), batch(o.batch), loss(o.loss), device(o.device),
          mainThread(o.mainThread), warmup(o.warmup), steps(o.steps) {}

    std::string task;
    std::string model;
    std::string hidden; // the MLP's model.hidden; "" for other models
    std::int64_t batch = 0;
    std::string loss;
    std::optional<double> gradClip;
    std::string device;
    std::optional<std::int64_t> parameters;
    int threads = 0; // intra-op threads
    std::string blas;
    bool mainThread = false;
    bool cudaGraphs = false; // the step replayed from a CUDA graph (losslab-bench-step --cuda-graphs on)
    int warmup = 0;
    int steps = 0;
    Result result;
};

// One line of JSON (--json), or two of text; the same fields, in the same order, as
// bench/bench_common.py prints for the Python side (which has no "thread", and no
// "cuda_graphs": printed only when the step was replayed from a CUDA graph).
inline void printReport(std::ostream& out, const StepReport& r, bool json) {
    const std::string thread = r.mainThread ? "main" : "worker";
    if (json) {
        out << "{\"impl\": \"cpp\", \"torch\": \"" << TORCH_VERSION << "\", \"task\": \"" << jsonEscape(r.task)
            << "\", \"model\": \"" << jsonEscape(r.model) << "\", \"hidden\": \"" << jsonEscape(r.hidden)
            << "\", \"batch\": " << r.batch << ", \"loss\": \"" << jsonEscape(r.loss) << "\"";
        if (r.gradClip) out << ", \"grad_clip\": " << shortest(*r.gradClip);
        out << ", \"device\": \"" << jsonEscape(r.device) << "\"";
        if (r.parameters) out << ", \"parameters\": " << *r.parameters;
        out << ", \"threads\": " << r.threads << ", \"blas\": \"" << jsonEscape(r.blas) << "\", \"thread\": \""
            << thread << "\"" << (r.cudaGraphs ? ", \"cuda_graphs\": true" : "") << ", \"warmup\": " << r.warmup << ", \"steps\": " << r.steps
            << ", \"median_ms\": " << fixed(r.result.median(), 4) << ", \"mean_ms\": " << fixed(r.result.mean(), 4)
            << "}\n";
        return;
    }
    out << "cpp    torch " << TORCH_VERSION << "  " << r.task;
    if (!r.hidden.empty()) out << " hidden " << r.hidden;
    if (r.parameters) out << " (" << *r.parameters << " parameters)";
    out << "  batch " << r.batch << "  loss " << r.loss;
    if (r.gradClip) out << "  grad clip " << shortest(*r.gradClip);
    out << "  device " << r.device << (r.cudaGraphs ? " (CUDA graph)" : "") << "  threads " << r.threads << " (" << thread << " thread)  " << r.blas << "\n"
        << "       median " << fixed(r.result.median(), 3) << " ms/step, mean " << fixed(r.result.mean(), 3)
        << " ms/step over " << r.steps << " steps (" << r.warmup << " warm-up)\n";
}

// ---- main ----------------------------------------------------------------------------------

// Runs body() and turns what it throws into a message on stderr, prefixed with `program`, and
// the exit status: 2 for a losslab::Error (an invalid option or value), 1 for anything else.
// Returns body()'s status when it throws nothing.
template <class Body>
int guardedMain(const std::string& program, Body body) {
    try {
        return body();
    } catch (const losslab::Error& e) {
        std::cerr << program << ": " << e.what() << "\n";
        return 2;
    } catch (const c10::Error& e) {
        std::cerr << program << ": LibTorch: " << e.what_without_backtrace() << "\n";
    } catch (const std::exception& e) {
        std::cerr << program << ": " << e.what() << "\n";
    }
    return 1;
}

} // namespace losslab::bench
