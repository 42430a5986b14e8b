// The example task plugin: three interleaved spirals in the plane, classified by a small MLP.
//
// It is the worked example of docs/writing-a-task-plugin.md, which walks through this file
// from top to bottom. Everything a task plugin needs is here, in four parts:
//
//   1. SpiralsNetImpl      the model: a ClassifierModule returning raw class scores
//   2. SpiralsTransform    the per-run InputTransform: stored features -> model input
//   3. makeSpirals()       the data, generated from a seed (nothing to download)
//   4. SpiralsTask         the Task: its TaskInfo (id, keys, recipe) and three factories
//
// and the one C function the core looks up after reading the manifest, example.json.in:
// losslab_register_tasks(), at the bottom.
//
// The data needs no download and a run takes about a second on a CPU, so this task is also
// a quick way to try LossLab itself: plugins/example/spirals.yaml is an experiment for it.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/linear.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "losslab/error.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"

namespace {

using namespace losslab;

// The number of classes (spiral arms) is part of the task's identity: TaskInfo::numClasses
// is fixed when the task is registered, so it is a constant, not a key. A plugin that wants
// 3, 5 and 10 arms registers three tasks.
constexpr std::int64_t kClasses = 3;
// Each arm winds this many times around the centre.
constexpr double kTurns = 1.25;
constexpr double kPi = 3.14159265358979323846;

// ---- 1. The model ---------------------------------------------------------------------------

// A multi-layer perceptron 2 -> hidden... -> 3 with ReLU activations.
//
// forward() returns raw scores [B, 3] with no softmax: the core applies the loss (softmax +
// NLL for cross-entropy, the square loss on the raw scores) and predicts argmax of the scores.
// Every layer goes through register_module, so that parameters() (what the optimiser trains),
// the early-stopping weight copy and the checkpoint all see it.
//
// Randomness: every initial weight comes from `init`, the CPU generator the run owns, never
// from torch's global generator (which runs training beside this one share). The layers are
// built first, then initLikePyTorch() redraws every Linear layer's weights from `init`, exactly
// as PyTorch's default initialisation would. A model with dropout calls
// losslab::dropout(x, p, is_training(), input.generator) in forward(): the masks then come
// from the run's generator on the training device.
struct SpiralsNetImpl : ClassifierModule {
    SpiralsNetImpl(const std::vector<std::int64_t>& hidden, at::Generator& init) {
        std::int64_t width = 2; // the input: (x, y)
        for (std::size_t i = 0; i < hidden.size(); ++i) {
            m_layers.push_back(register_module("fc" + std::to_string(i + 1), torch::nn::Linear(width, hidden[i])));
            width = hidden[i];
        }
        m_layers.push_back(register_module("out", torch::nn::Linear(width, kClasses)));
        initLikePyTorch(*this, init);
    }

    torch::Tensor forward(const ModelInput& input) override {
        torch::Tensor x = input.features;
        for (std::size_t i = 0; i + 1 < m_layers.size(); ++i) x = torch::relu(m_layers[i]->forward(x));
        return m_layers.back()->forward(x);
    }

private:
    std::vector<torch::nn::Linear> m_layers; // the hidden layers, then the output layer
};

// ---- 2. The input transform -------------------------------------------------------------------

// The stored features are already float (x, y) points, so evaluation passes them through.
// Training may add Gaussian jitter (key data.jitter), a simple augmentation that shows the
// one rule of a transform: every random number comes from `gen`, the CPU generator the run
// owns and seeds from its seed, and the result is moved to the batch's device. The same seed
// then gives the same training on every device, and cross-entropy and the square loss see
// exactly the same jittered batches.
class SpiralsTransform : public InputTransform {
public:
    explicit SpiralsTransform(double jitter) : m_jitter(jitter) {}

    ModelInput apply(const TensorSplit& batch, bool training, at::Generator& gen) const override {
        ModelInput input;
        input.features = batch.features; // already on the training device
        if (training && m_jitter > 0) {
            const torch::Tensor noise = at::randn(batch.features.sizes(), gen); // drawn on the CPU
            input.features = batch.features + m_jitter * copyToDevice(noise, batch.features.device());
        }
        return input;
    }

private:
    double m_jitter;
};

// ---- 3. The data ------------------------------------------------------------------------------

// `perClass` points on each arm. Point i of arm c sits at distance t from the centre, at angle
// 2 pi (kTurns t + c / kClasses), t uniform in [0, 1), plus Gaussian noise of standard
// deviation `noise` on both coordinates. Near the centre the arms meet, so even a perfect
// classifier makes some mistakes there; `noise` makes the task harder everywhere.
//
// Everything is drawn from one generator seeded with `seed`: the same seed gives the same
// points in every process, which the core's data cache relies on (see loadData).
TensorSplit makeSpirals(std::int64_t perClass, double noise, std::uint64_t seed) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    const std::int64_t n = kClasses * perClass;
    TensorSplit split;
    split.labels = torch::arange(kClasses, torch::kLong).repeat_interleave(perClass); // [n], int64
    const torch::Tensor t = at::rand({n}, gen);
    const torch::Tensor angle = 2 * kPi * (kTurns * t + split.labels.to(torch::kFloat) / kClasses);
    split.features = torch::stack({t * torch::cos(angle), t * torch::sin(angle)}, 1) // [n, 2], float
                     + noise * at::randn({n, 2}, gen);
    return split;
}

// ---- 4. The task ------------------------------------------------------------------------------

// A key the task declares: its type, default, one line of help and optional bounds. Declared
// keys are accepted in experiment files and by --set, checked, shown by
// `losslab-cli tasks --verbose`, and stored with every run.
ParamDecl key(std::string name, ParamType type, std::string defaultValue, std::string help,
              std::optional<double> min, std::optional<double> max = std::nullopt) {
    ParamDecl decl;
    decl.key = std::move(name);
    decl.type = type;
    decl.defaultValue = std::move(defaultValue);
    decl.help = std::move(help);
    decl.min = min;
    decl.max = max;
    return decl;
}

// One Task object serves every run, on several worker threads at once: its methods are const
// and build new objects each time.
class SpiralsTask final : public Task {
public:
    SpiralsTask() {
        m_info.id = "example/spirals"; // "<dataset>/<model>"; experiment files name it in `task:`
        m_info.description = "Three interleaved spirals in the plane, small MLP (the example plugin)";
        m_info.domain = "toy";
        m_info.dataset = "Spirals (generated)";
        m_info.model = "MLP 2-64-64-3";
        m_info.numClasses = kClasses;
        m_info.classNames = {"arm 0", "arm 1", "arm 2"};
        m_info.paperDataset = ""; // not in the paper's Table 9: `preset: paper` uses the class-count rule
        m_info.defaultDataRoot = ""; // nothing is read from disk, so data.root is ignored
        m_info.dataHint = "The spirals are generated from data.generator_seed; there is nothing to download.";
        m_info.params = {
            key("data.train_per_class", ParamType::Int, "1000",
                "training points per arm (the core holds out data.val_fraction of them for validation)", 10.0, 1e6),
            key("data.test_per_class", ParamType::Int, "500", "test points per arm", 10.0, 1e6),
            key("data.noise", ParamType::Double, "0.05", "standard deviation of the noise added to each point", 0.0, 1.0),
            key("data.generator_seed", ParamType::Int, "7",
                "seed of the generated points, the same for every run (the run's seed does not change the data)", 0.0),
            key("data.jitter", ParamType::Double, "0",
                "training only: standard deviation of Gaussian noise added to each batch (0: off)", 0.0, 1.0),
            key("model.hidden", ParamType::IntList, "[64, 64]", "widths of the hidden ReLU layers; [] gives a linear classifier",
                1.0, 4096.0),
        };
        // The recipe: this task's training defaults. They sit between the core's defaults and
        // the experiment file (core default < recipe < file < --set).
        m_info.recipe = {{"train.optimizer", "adam"},
                         {"train.lr", "0.005"},
                         {"train.batch_size", "64"},
                         {"train.max_epochs", "60"},
                         {"train.patience", "10"}};
    }

    const TaskInfo& info() const override { return m_info; }

    // The full training set and the test set, as CPU tensors. The core splits off the
    // validation set per seed and applies data.limit_train / data.limit_test afterwards.
    // The core caches what this returns, keyed by the task id and every data.* value, so the
    // result depends on the data.* keys only. The test set uses the next seed, so it holds
    // other points than the training set.
    DataBundle loadData(const ParamSet& params) const override {
        const std::int64_t seed = params.getInt("data.generator_seed");
        if (seed < 0) throw Error("data.generator_seed: expected at least 0, got " + std::to_string(seed));
        const double noise = params.getDouble("data.noise");
        DataBundle bundle;
        bundle.train = makeSpirals(params.getInt("data.train_per_class"), noise, static_cast<std::uint64_t>(seed));
        bundle.test = makeSpirals(params.getInt("data.test_per_class"), noise, static_cast<std::uint64_t>(seed) + 1);
        bundle.source = "generated spirals (data.generator_seed " + std::to_string(seed) + ")";
        return bundle;
    }

    std::unique_ptr<InputTransform> makeTransform(const ParamSet& params, const torch::Device& /*device*/) const override {
        return std::make_unique<SpiralsTransform>(params.getDouble("data.jitter"));
    }

    // `init` is a CPU generator the core seeded from the run's seed: drawing every initial
    // weight from it makes the run reproducible, alone or beside others. The core also calls
    // this once before storing any run, to check the model.* values: bounds are checked by the
    // declaration already.
    std::shared_ptr<ClassifierModule> makeModel(const ParamSet& params, at::Generator& init) const override {
        return std::make_shared<SpiralsNetImpl>(params.getIntList("model.hidden"), init);
    }

private:
    TaskInfo m_info;
};

} // namespace

// The entry point. The core finds it by this exact name with dlsym, so it is extern "C"
// and exported; it runs once, at start-up, on the main thread. registry->add() throws
// losslab::Error for a task id this plugin registered already; whatever this function throws,
// the loader then loads none of its tasks and says why in a warning about this plugin.
extern "C" __attribute__((visibility("default"))) void losslab_register_tasks(losslab::TaskRegistry* registry) {
    if (!registry) return;
    registry->add(std::make_shared<SpiralsTask>());
}
