// Vision plugin: task table, models, data loading. The tasks are reached the way the core
// reaches them, through the TaskRegistry: the plugin is loaded from the build tree
// (vision_registry.h).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>

#include "losslab/error.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/spec/param_set.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"

#include "vision_registry.h"

namespace losslab {
namespace {

namespace fs = std::filesystem;
using Overrides = std::vector<std::pair<std::string, std::string>>;

using fixtures::visionTasks;

// The task's own defaults plus `overrides`, as the core's resolver would hand them over.
ParamSet taskParams(const TaskInfo& info, const Overrides& overrides = {}) {
    ParamSet params;
    params.set("data.root", "", ParamType::String);
    for (const auto& d : info.params) params.set(d.key, d.defaultValue, d.type);
    for (const auto& [key, value] : overrides) params.set(key, value, params.type(key));
    return params;
}

// Builds the model with its weights drawn from a generator seeded with `seed`, as a run does.
std::shared_ptr<ClassifierModule> makeModel(const std::string& id, const Overrides& overrides = {},
                                            std::uint64_t seed = 0) {
    const auto task = visionTasks().require(id);
    at::Generator init = makeGenerator(torch::Device(torch::kCPU), seed);
    return task->makeModel(taskParams(task->info(), overrides), init);
}

std::int64_t parameterCount(const torch::nn::Module& model) {
    std::int64_t n = 0;
    for (const auto& p : model.parameters()) n += p.numel();
    return n;
}

torch::Tensor namedParameter(const torch::nn::Module& model, const std::string& name) {
    const auto named = model.named_parameters();
    const torch::Tensor* found = named.find(name);
    if (!found) throw std::runtime_error("no parameter " + name);
    return *found;
}

std::string recipeValue(const TaskInfo& info, const std::string& key) {
    for (const auto& [k, v] : info.recipe)
        if (k == key) return v;
    return "<unset>";
}

// A scratch folder removed at the end of the test.
class ScratchDir {
public:
    ScratchDir() {
        const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
        m_path = fs::temp_directory_path() /
                 ("losslab-vision-" + std::string(test->name()) + "-" + std::to_string(::getpid()));
        fs::remove_all(m_path);
        fs::create_directories(m_path);
    }
    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

void writeBigEndian32(std::ofstream& out, std::uint32_t v) {
    const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                           static_cast<char>(v)};
    out.write(bytes, 4);
}

// Uncompressed IDX files: images[i] is filled with the value 10 * i, labels[i] = (i * 3) % 10.
void writeIdxPair(const fs::path& dir, const std::string& prefix, std::uint32_t count, std::uint32_t side) {
    std::ofstream images(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary);
    writeBigEndian32(images, 0x00000803);
    writeBigEndian32(images, count);
    writeBigEndian32(images, side);
    writeBigEndian32(images, side);
    for (std::uint32_t i = 0; i < count; ++i) images << std::string(side * side, static_cast<char>(10 * i));
    std::ofstream labels(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary);
    writeBigEndian32(labels, 0x00000801);
    writeBigEndian32(labels, count);
    for (std::uint32_t i = 0; i < count; ++i) labels.put(static_cast<char>((i * 3) % 10));
}

void writeCifarFile(const fs::path& file, int records, int firstLabel) {
    std::ofstream out(file, std::ios::binary);
    for (int r = 0; r < records; ++r) {
        out.put(static_cast<char>((firstLabel + r) % 10));
        out << std::string(3 * 32 * 32, static_cast<char>(r + 1));
    }
}

// ---- the task table -------------------------------------------------------------------

TEST(VisionTasks, RegistersTheTenTasks) {
    const std::vector<std::string> expected = {"cifar10/resnet18",         "cifar10/wrn",       "fashion_mnist/cnn",
                                               "fashion_mnist/mlp",        "image_folder/resnet", "imagenet/efficientnet_b0",
                                               "imagenet/resnet50",        "mnist/cnn",         "mnist/mlp",
                                               "mnist/tcn_permuted"};
    std::vector<std::string> ids;
    for (const TaskInfo& info : fixtures::visionTaskInfos()) ids.push_back(info.id);
    EXPECT_EQ(ids, expected);
}

TEST(VisionTasks, InfoNamesTheDatasetItsClassesAndThePaperRow) {
    for (const auto& info : fixtures::visionTaskInfos()) {
        SCOPED_TRACE(info.id);
        if (info.id.rfind("imagenet/", 0) == 0 || info.id == "image_folder/resnet") {
            // Their classes are folders, known when the data is read (test_image_folder_tasks.cpp).
            const bool imageNet = info.id != "image_folder/resnet";
            EXPECT_EQ(info.numClasses, imageNet ? 1000 : 0);
            EXPECT_EQ(info.paperDataset, imageNet ? "imagenet" : "");
            EXPECT_FALSE(info.dataHint.empty());
            continue;
        }
        EXPECT_EQ(info.domain, "vision");
        EXPECT_EQ(info.numClasses, 10);
        ASSERT_EQ(info.classNames.size(), 10u);
        EXPECT_EQ(std::set<std::string>(info.classNames.begin(), info.classNames.end()).size(), 10u);
        EXPECT_FALSE(info.description.empty());
        EXPECT_FALSE(info.dataset.empty());
        EXPECT_FALSE(info.model.empty());
        EXPECT_FALSE(info.dataHint.empty());
        const std::string prefix = info.id.substr(0, info.id.find('/'));
        if (prefix == "fashion_mnist") {
            EXPECT_EQ(info.paperDataset, ""); // not in Table 9: the class-count rule applies
            EXPECT_EQ(info.defaultDataRoot, "/usr/share/datasets/fashion-mnist");
            EXPECT_EQ(info.classNames.front(), "T-shirt/top");
            EXPECT_EQ(info.classNames[6], "Shirt");
            EXPECT_EQ(info.classNames.back(), "Ankle boot");
        } else if (prefix == "mnist") {
            EXPECT_EQ(info.paperDataset, "mnist");
            EXPECT_EQ(info.defaultDataRoot, "");
            EXPECT_EQ(info.classNames.front(), "0");
            EXPECT_EQ(info.classNames.back(), "9");
            EXPECT_NE(info.dataHint.find("yann.lecun.com"), std::string::npos);
        } else {
            EXPECT_EQ(prefix, "cifar10");
            EXPECT_EQ(info.paperDataset, "cifar10");
            EXPECT_EQ(info.defaultDataRoot, "");
            EXPECT_EQ(info.classNames.front(), "airplane");
            EXPECT_EQ(info.classNames.back(), "truck");
            EXPECT_NE(info.dataHint.find("binary"), std::string::npos);
        }
    }
}

TEST(VisionTasks, ParamDefaultsAndRecipesAreCanonicalAndKnownToTheCore) {
    std::map<std::string, ParamDecl> core;
    for (const auto& d : coreParamDecls()) core[d.key] = d;
    for (const auto& info : visionTasks().list()) {
        SCOPED_TRACE(info.id);
        std::set<std::string> keys;
        for (const auto& d : info.params) {
            SCOPED_TRACE(d.key);
            // model.* and data.*; train.* only for settings of the task's recipe that the core
            // lacks (the TorchScript tasks' train.warmup), never one that shadows a core key.
            EXPECT_TRUE(d.key.rfind("model.", 0) == 0 || d.key.rfind("data.", 0) == 0 || d.key.rfind("train.", 0) == 0);
            EXPECT_TRUE(keys.insert(d.key).second) << "declared twice";
            EXPECT_EQ(core.count(d.key), 0u) << "shadows a core key";
            EXPECT_FALSE(d.help.empty());
            EXPECT_EQ(canonicalParamValue(d, d.defaultValue, "test"), d.defaultValue);
        }
        for (const auto& [key, value] : info.recipe) {
            SCOPED_TRACE(key);
            ASSERT_EQ(key.rfind("train.", 0), 0u);
            ASSERT_EQ(core.count(key), 1u) << "not a core key";
            EXPECT_EQ(canonicalParamValue(core.at(key), value, "test"), value);
        }
    }
}

TEST(VisionTasks, RecipesFollowTheReferenceImplementations) {
    const auto& tasks = visionTasks();
    for (const char* id : {"fashion_mnist/mlp", "fashion_mnist/cnn", "mnist/mlp", "mnist/cnn"}) {
        const TaskInfo& info = tasks.requireInfo(id);
        SCOPED_TRACE(id);
        EXPECT_EQ(recipeValue(info, "train.optimizer"), "sgd");
        EXPECT_EQ(recipeValue(info, "train.lr"), "0.05");
        EXPECT_EQ(recipeValue(info, "train.momentum"), "0.9");
        EXPECT_EQ(recipeValue(info, "train.batch_size"), "128");
        EXPECT_EQ(recipeValue(info, "train.max_epochs"), "30");
    }
    const TaskInfo& tcn = tasks.requireInfo("mnist/tcn_permuted");
    EXPECT_EQ(recipeValue(tcn, "train.optimizer"), "adam");
    EXPECT_EQ(recipeValue(tcn, "train.lr"), "0.002");
    EXPECT_EQ(recipeValue(tcn, "train.batch_size"), "64");
    EXPECT_EQ(recipeValue(tcn, "train.max_epochs"), "20");
    EXPECT_EQ(recipeValue(tcn, "train.grad_clip"), "0");
    EXPECT_EQ(recipeValue(tcn, "train.schedule"), "multistep"); // lr / 10 after epoch 10, as Bai et al.
    EXPECT_EQ(recipeValue(tcn, "train.milestones"), "[10]");
    EXPECT_EQ(recipeValue(tcn, "train.gamma"), "0.1");
    // Goyal et al.'s ResNet-50 recipe at batch 256.
    for (const char* id : {"imagenet/resnet50", "image_folder/resnet"}) {
        const TaskInfo& info = tasks.requireInfo(id);
        SCOPED_TRACE(id);
        EXPECT_EQ(recipeValue(info, "train.lr"), "0.1");
        EXPECT_EQ(recipeValue(info, "train.batch_size"), "256");
        EXPECT_EQ(recipeValue(info, "train.weight_decay"), "0.0001");
        EXPECT_EQ(recipeValue(info, "train.milestones"), "[30, 60, 80]");
        EXPECT_EQ(recipeValue(info, "train.max_epochs"), "90");
    }
    const TaskInfo& efficientNet = tasks.requireInfo("imagenet/efficientnet_b0");
    EXPECT_EQ(recipeValue(efficientNet, "train.weight_decay"), "1e-05"); // the paper's
    EXPECT_EQ(recipeValue(efficientNet, "train.max_epochs"), "350");
    const TaskInfo& wrn = tasks.requireInfo("cifar10/wrn");
    EXPECT_EQ(recipeValue(wrn, "train.lr"), "0.1");
    EXPECT_EQ(recipeValue(wrn, "train.nesterov"), "true");
    EXPECT_EQ(recipeValue(wrn, "train.weight_decay"), "0.0005");
    EXPECT_EQ(recipeValue(wrn, "train.schedule"), "multistep");
    EXPECT_EQ(recipeValue(wrn, "train.milestones"), "[60, 120, 160]");
    EXPECT_EQ(recipeValue(wrn, "train.gamma"), "0.2");
    EXPECT_EQ(recipeValue(wrn, "train.max_epochs"), "200");
    const TaskInfo& resnet = tasks.requireInfo("cifar10/resnet18");
    EXPECT_EQ(recipeValue(resnet, "train.schedule"), "cosine");
    EXPECT_EQ(recipeValue(resnet, "train.weight_decay"), "0.0005");
    EXPECT_EQ(recipeValue(resnet, "train.max_epochs"), "200");
}

// ---- models: shapes and gradients -----------------------------------------------------

struct ShapeCase {
    std::string id;
    Overrides overrides;
    std::vector<std::int64_t> inputShape;
};

class VisionModelShape : public ::testing::TestWithParam<ShapeCase> {};

TEST_P(VisionModelShape, GivesTenScoresPerExampleAndAGradientForEveryParameter) {
    const ShapeCase& c = GetParam();
    auto model = makeModel(c.id, c.overrides, 7);
    ModelInput input;
    input.features = torch::randn(c.inputShape);
    input.generator = makeGenerator(torch::Device(torch::kCPU), 7); // dropout draws from it
    const std::int64_t batch = c.inputShape.front();

    model->train();
    const torch::Tensor scores = model->forward(input);
    ASSERT_EQ(scores.sizes(), torch::IntArrayRef({batch, 10}));
    EXPECT_EQ(scores.scalar_type(), torch::kFloat);
    EXPECT_TRUE(scores.isfinite().all().item<bool>());
    scores.pow(2).sum().backward();
    for (const auto& p : model->named_parameters()) {
        ASSERT_TRUE(p.value().grad().defined()) << p.key() << " takes no part in the forward pass";
        EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
    }

    torch::NoGradGuard noGrad;
    model->eval();
    EXPECT_EQ(model->forward(input).sizes(), torch::IntArrayRef({batch, 10}));
}

INSTANTIATE_TEST_SUITE_P(
    SmallSizes, VisionModelShape,
    ::testing::Values(ShapeCase{"fashion_mnist/mlp", {}, {3, 1, 28, 28}},
                      ShapeCase{"fashion_mnist/cnn", {}, {3, 1, 28, 28}},
                      ShapeCase{"mnist/mlp", {{"model.hidden", "[32, 16]"}, {"model.dropout", "0.25"}}, {3, 1, 28, 28}},
                      ShapeCase{"mnist/cnn", {{"model.dropout", "0.25"}}, {3, 1, 28, 28}},
                      ShapeCase{"mnist/tcn_permuted",
                                {{"model.levels", "2"}, {"model.channels", "6"}, {"model.kernel_size", "3"}},
                                {3, 1, 40}},
                      ShapeCase{"cifar10/wrn",
                                {{"model.depth", "10"}, {"model.widen_factor", "1"}, {"model.dropout", "0.3"}},
                                {2, 3, 32, 32}},
                      ShapeCase{"cifar10/resnet18", {}, {2, 3, 16, 16}}),
    [](const ::testing::TestParamInfo<ShapeCase>& info) {
        std::string name = info.param.id;
        for (char& ch : name)
            if (ch == '/') ch = '_';
        return name;
    });

// ---- models: parameter counts ---------------------------------------------------------

struct CountCase {
    std::string name;
    std::string id;
    Overrides overrides;
    std::int64_t expected;
};

class VisionModelParameters : public ::testing::TestWithParam<CountCase> {};

TEST_P(VisionModelParameters, MatchTheCountOfAnIndependentPyTorchModel) {
    const CountCase& c = GetParam();
    EXPECT_EQ(parameterCount(*makeModel(c.id, c.overrides)), c.expected);
}

// Expected counts: the same architectures written as torch.nn modules in Python (PyTorch 1.13,
// torch.nn.utils.weight_norm for the TCN) and summed with sum(p.numel() for p in
// model.parameters()); the linear classifier by hand (784 * 10 + 10).
INSTANTIATE_TEST_SUITE_P(
    Architectures, VisionModelParameters,
    ::testing::Values(CountCase{"Mlp784_512_512_10", "fashion_mnist/mlp", {}, 669706},
                      CountCase{"LinearClassifier", "mnist/mlp", {{"model.hidden", "[]"}}, 7850},
                      CountCase{"SmallCnn", "fashion_mnist/cnn", {}, 421642},
                      CountCase{"Tcn8x25Kernel7", "mnist/tcn_permuted", {}, 66910},
                      CountCase{"WideResNet28_10", "cifar10/wrn", {}, 36479194},
                      CountCase{"WideResNet10_1", "cifar10/wrn",
                                {{"model.depth", "10"}, {"model.widen_factor", "1"}}, 77850},
                      CountCase{"ResNet18", "cifar10/resnet18", {}, 11173962}),
    [](const ::testing::TestParamInfo<CountCase>& info) { return info.param.name; });

// ---- models: specific behaviour -------------------------------------------------------

TEST(WideResNet, DepthThatIsNot6nPlus4IsAnErrorNamingTheKey) {
    for (const char* depth : {"27", "12", "4"}) {
        SCOPED_TRACE(depth);
        try {
            makeModel("cifar10/wrn", {{"model.depth", depth}, {"model.widen_factor", "1"}});
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("model.depth"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find(depth), std::string::npos) << e.what();
        }
    }
    // The declaration already refuses depths below the smallest network.
    const TaskInfo& info = visionTasks().requireInfo("cifar10/wrn");
    for (const auto& d : info.params) {
        if (d.key != "model.depth") continue;
        try {
            canonicalParamValue(d, "8", "--set model.depth=8");
            ADD_FAILURE() << "no error";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("model.depth"), std::string::npos) << e.what();
        }
    }
    EXPECT_NO_THROW(makeModel("cifar10/wrn", {{"model.depth", "16"}, {"model.widen_factor", "1"}}));
}

TEST(WideResNet, WidenFactorBelowOneIsAnErrorNamingTheKey) {
    try {
        makeModel("cifar10/wrn", {{"model.depth", "10"}, {"model.widen_factor", "0"}});
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("model.widen_factor"), std::string::npos) << e.what();
    }
}

TEST(WideResNet, InitialisesLikeTheReference) {
    auto model = makeModel("cifar10/wrn", {{"model.depth", "10"}, {"model.widen_factor", "4"}}, 3);
    int batchNorms = 0;
    for (const auto& p : model->named_parameters()) {
        const std::string& name = p.key();
        const bool isBn = name.find("bn") != std::string::npos;
        if (isBn && name.size() > 7 && name.substr(name.size() - 7) == ".weight") {
            EXPECT_TRUE(p.value().eq(1).all().item<bool>()) << name;
            ++batchNorms;
        } else if (isBn && name.size() > 5 && name.substr(name.size() - 5) == ".bias") {
            EXPECT_TRUE(p.value().eq(0).all().item<bool>()) << name;
        }
    }
    EXPECT_EQ(batchNorms, 1 + 3 * 2); // the final BN and two per block
    EXPECT_TRUE(namedParameter(*model, "fc.bias").eq(0).all().item<bool>());
    // He-normal over fan-out: std = sqrt(2 / (3 * 3 * out_channels)); 256 * 256 * 9 samples.
    const torch::Tensor w = namedParameter(*model, "stage3.0.conv2.weight");
    ASSERT_EQ(w.sizes(), torch::IntArrayRef({256, 256, 3, 3}));
    EXPECT_NEAR(w.std().item<double>(), std::sqrt(2.0 / (9 * 256)), 0.02 * std::sqrt(2.0 / (9 * 256)));
    EXPECT_NEAR(w.mean().item<double>(), 0.0, 1e-3);
}

TEST(Tcn, WeightNormKeepsTheOutputWhenDirectionVectorsAreRescaled) {
    auto model = makeModel("mnist/tcn_permuted",
                           {{"model.levels", "2"}, {"model.channels", "8"}, {"model.kernel_size", "3"}}, 11);
    model->eval();
    torch::NoGradGuard noGrad;
    int normalised = 0;
    const auto named = model->named_parameters();
    for (const auto& p : named) {
        const std::string& name = p.key();
        if (name.size() < 8 || name.substr(name.size() - 8) != "weight_v") continue;
        const torch::Tensor g = *named.find(name.substr(0, name.size() - 1) + "g");
        // g starts as ||v|| per output channel, so the initial weight is v itself.
        EXPECT_TRUE(torch::allclose(g.flatten(), p.value().pow(2).sum({1, 2}).sqrt(), 1e-6, 1e-7)) << name;
        ++normalised;
    }
    EXPECT_EQ(normalised, 4); // two per block

    ModelInput input;
    input.features = torch::randn({2, 1, 30});
    const torch::Tensor before = model->forward(input);
    for (const auto& p : named)
        if (p.key().find("weight_v") != std::string::npos) p.value().mul_(3.0);
    EXPECT_TRUE(torch::allclose(model->forward(input), before, 1e-5, 1e-6));
}

// The reference (locuslab/TCN, TCN/tcn.py) wraps default-initialised Conv1d layers in
// weight_norm; its normal_(0, 0.01) on conv1/conv2 writes to the recomputed weight and has no
// effect, while the one on the (plain) 1x1 downsample convolution does. The last Linear keeps
// PyTorch's default (TCN/mnist_pixel/model.py).
TEST(Tcn, InitialisesAsTheReferenceEffectivelyRuns) {
    const std::int64_t channels = 25;
    const std::int64_t kernel = 7;
    auto model = makeModel("mnist/tcn_permuted",
                           {{"model.levels", "2"}, {"model.channels", std::to_string(channels)},
                            {"model.kernel_size", std::to_string(kernel)}}, 13);
    auto expectUniform = [](const torch::Tensor& t, double bound, const std::string& name) {
        EXPECT_LE(t.abs().max().item<double>(), bound) << name;
        // U(-b, b) has std b / sqrt(3); many samples keep the estimate within a few percent.
        EXPECT_NEAR(t.std().item<double>(), bound / std::sqrt(3.0), 0.12 * bound / std::sqrt(3.0)) << name;
    };
    const double inner = 1.0 / std::sqrt(static_cast<double>(channels * kernel));
    expectUniform(namedParameter(*model, "blocks.1.conv1.weight_v"), inner, "blocks.1.conv1.weight_v");
    expectUniform(namedParameter(*model, "blocks.1.conv2.weight_v"), inner, "blocks.1.conv2.weight_v");
    expectUniform(namedParameter(*model, "blocks.0.conv2.weight_v"), inner, "blocks.0.conv2.weight_v");
    const torch::Tensor down = namedParameter(*model, "blocks.0.downsample.weight");
    ASSERT_EQ(down.sizes(), torch::IntArrayRef({channels, 1, 1}));
    EXPECT_LT(down.abs().max().item<double>(), 0.05); // N(0, 0.01): 25 samples within 5 std
    expectUniform(namedParameter(*model, "linear.weight"), 1.0 / std::sqrt(static_cast<double>(channels)), "linear.weight");
    const torch::Tensor v = namedParameter(*model, "blocks.1.conv1.weight_v");
    EXPECT_TRUE(torch::allclose(namedParameter(*model, "blocks.1.conv1.weight_g").flatten(), v.pow(2).sum({1, 2}).sqrt()));
}

TEST(ModelRandom, InitLikePyTorchDrawsWhatPyTorchsDefaultInitialisationDraws) {
    // PyTorch's own reset_parameters draws weight, then bias, from the global generator;
    // initLikePyTorch must draw the same numbers from the generator it is given.
    torch::manual_seed(21);
    torch::nn::Linear reference(torch::nn::LinearOptions(30, 7));
    torch::nn::Conv2d referenceConv(torch::nn::Conv2dOptions(3, 5, 3));
    at::Generator gen = makeGenerator(torch::Device(torch::kCPU), 21);
    torch::nn::Linear linear(torch::nn::LinearOptions(30, 7));
    torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 5, 3));
    initLikePyTorch(*linear, gen);
    initLikePyTorch(*conv, gen);
    EXPECT_TRUE(torch::allclose(linear->weight, reference->weight, 1e-6, 1e-7));
    EXPECT_TRUE(torch::allclose(linear->bias, reference->bias, 1e-6, 1e-7));
    EXPECT_TRUE(torch::allclose(conv->weight, referenceConv->weight, 1e-6, 1e-7));
    EXPECT_TRUE(torch::allclose(conv->bias, referenceConv->bias, 1e-6, 1e-7));
}

TEST(ModelRandom, ModelsDependOnTheirGeneratorOnlyNotOnTorchsGlobalOne) {
    for (const std::string id : {"mnist/mlp", "mnist/cnn", "mnist/tcn_permuted", "cifar10/wrn", "cifar10/resnet18"}) {
        const Overrides small = id == "cifar10/wrn" ? Overrides{{"model.depth", "10"}, {"model.widen_factor", "1"}}
                                                    : Overrides{};
        torch::manual_seed(1);
        const auto a = makeModel(id, small, 5);
        torch::manual_seed(2);
        const auto b = makeModel(id, small, 5);
        const auto c = makeModel(id, small, 6);
        const auto pa = a->parameters();
        const auto pb = b->parameters();
        const auto pc = c->parameters();
        ASSERT_EQ(pa.size(), pb.size());
        bool anyDiffers = false;
        for (std::size_t i = 0; i < pa.size(); ++i) {
            EXPECT_TRUE(torch::equal(pa[i], pb[i])) << id << " parameter " << i;
            anyDiffers = anyDiffers || !torch::equal(pa[i], pc[i]);
        }
        EXPECT_TRUE(anyDiffers) << id << ": another seed gives the same weights";
    }
}

TEST(ModelRandom, DropoutDrawsFromTheGivenGeneratorAndNeedsOneInTraining) {
    const torch::Tensor x = torch::ones({1000});
    const auto drop = [&](std::uint64_t seed) {
        return dropout(x, 0.3, true, makeGenerator(torch::Device(torch::kCPU), seed));
    };
    torch::manual_seed(1);
    const torch::Tensor a = drop(4);
    torch::manual_seed(2);
    EXPECT_TRUE(torch::equal(a, drop(4)));
    EXPECT_FALSE(torch::equal(a, drop(5)));
    // Kept values are scaled by 1 / (1 - p), the rest are 0; about 30 % are dropped.
    const double kept = a.ne(0).sum().item<double>();
    EXPECT_NEAR(kept / 1000.0, 0.7, 0.06);
    EXPECT_TRUE(torch::allclose(a.masked_select(a.ne(0)), torch::full({static_cast<std::int64_t>(kept)}, 1.0 / 0.7)));
    EXPECT_TRUE(torch::equal(dropout(x, 0.3, false, at::Generator()), x));
    try {
        dropout(x, 0.3, true, at::Generator());
        FAIL() << "dropout in training without a generator must throw";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("generator"), std::string::npos) << e.what();
    }
}

TEST(Tcn, IsCausalWithTheDocumentedReceptiveField) {
    // 2 levels, kernel 3: the last output sees the last 1 + 2 * (3 - 1) * (2^2 - 1) = 13 steps.
    auto model = makeModel("mnist/tcn_permuted",
                           {{"model.levels", "2"}, {"model.channels", "8"}, {"model.kernel_size", "3"}}, 5);
    // In double: a change at the edge of the field reaches the output damped, possibly
    // below float resolution.
    model->to(torch::kDouble);
    model->eval();
    torch::NoGradGuard noGrad;
    const std::int64_t length = 40;
    ModelInput input;
    input.features = torch::randn({1, 1, length}, torch::kDouble);
    const torch::Tensor base = model->forward(input);
    auto withStepChanged = [&](std::int64_t t) {
        ModelInput changed;
        changed.features = input.features.clone();
        changed.features[0][0][t] += 5.0;
        return model->forward(changed);
    };
    EXPECT_FALSE(torch::equal(withStepChanged(length - 1), base));
    EXPECT_FALSE(torch::equal(withStepChanged(length - 13), base));
    EXPECT_TRUE(torch::equal(withStepChanged(length - 14), base));
    EXPECT_TRUE(torch::equal(withStepChanged(0), base));
}

TEST(Mlp, DropoutActsInTrainingOnlyAndEvaluationIsRepeatable) {
    auto model = makeModel("mnist/mlp", {{"model.hidden", "[64]"}, {"model.dropout", "0.5"}}, 2);
    ModelInput input;
    input.features = torch::randn({4, 1, 28, 28});
    input.generator = makeGenerator(torch::Device(torch::kCPU), 2);
    torch::NoGradGuard noGrad;
    model->train();
    EXPECT_FALSE(torch::equal(model->forward(input), model->forward(input)));
    model->eval();
    EXPECT_TRUE(torch::equal(model->forward(input), model->forward(input)));
}

// ---- data loading ---------------------------------------------------------------------

std::string loadError(const std::string& id, const std::string& root) {
    const auto task = visionTasks().require(id);
    try {
        task->loadData(taskParams(task->info(), {{"data.root", root}}));
    } catch (const Error& e) {
        return e.what();
    }
    return "<no error>";
}

TEST(VisionData, WithoutAFolderTheErrorSaysWhereToGetTheData) {
    const std::string message = loadError("mnist/tcn_permuted", "");
    EXPECT_NE(message.find("data.root"), std::string::npos) << message;
    EXPECT_NE(message.find("yann.lecun.com"), std::string::npos) << message;
}

TEST(VisionData, AMissingFolderIsNamedInTheError) {
    const std::string message = loadError("cifar10/wrn", "/nonexistent/losslab-cifar");
    EXPECT_NE(message.find("/nonexistent/losslab-cifar"), std::string::npos) << message;
    EXPECT_NE(message.find("cifar-10-binary"), std::string::npos) << message;
}

TEST(VisionData, AFolderWithoutTheFilesGivesTheReadersErrorAndTheHint) {
    ScratchDir dir;
    const std::string idx = loadError("fashion_mnist/mlp", dir.path().string());
    EXPECT_NE(idx.find("train-images"), std::string::npos) << idx;
    EXPECT_NE(idx.find("dataset-fashion-mnist"), std::string::npos) << idx;
    const std::string cifar = loadError("cifar10/resnet18", dir.path().string());
    EXPECT_NE(cifar.find("data_batch_1.bin"), std::string::npos) << cifar;
    EXPECT_NE(cifar.find("cifar-10-binary"), std::string::npos) << cifar;
}

TEST(VisionData, ReadsIdxFilesAsUint8ImagesOnTheCpu) {
    ScratchDir dir;
    writeIdxPair(dir.path(), "train", 5, 28);
    writeIdxPair(dir.path(), "t10k", 3, 28);
    const auto task = visionTasks().require("mnist/cnn");
    const DataBundle data = task->loadData(taskParams(task->info(), {{"data.root", dir.path().string()}}));
    EXPECT_EQ(data.source, dir.path().string());
    ASSERT_EQ(data.train.features.sizes(), torch::IntArrayRef({5, 1, 28, 28}));
    EXPECT_EQ(data.train.features.scalar_type(), torch::kByte);
    EXPECT_EQ(data.train.features.device(), torch::Device(torch::kCPU));
    EXPECT_EQ(data.train.features[4].max().item<int>(), 40);
    EXPECT_TRUE(torch::equal(data.train.labels, torch::tensor({0, 3, 6, 9, 2}, torch::kLong)));
    EXPECT_EQ(data.test.features.sizes(), torch::IntArrayRef({3, 1, 28, 28}));
}

TEST(VisionData, ImagesThatAreNot28x28AreRefused) {
    ScratchDir dir;
    writeIdxPair(dir.path(), "train", 2, 20);
    writeIdxPair(dir.path(), "t10k", 2, 20);
    const std::string message = loadError("mnist/mlp", dir.path().string());
    EXPECT_NE(message.find("28x28"), std::string::npos) << message;
    EXPECT_NE(message.find("train-images-idx3-ubyte"), std::string::npos) << message;
}

TEST(VisionData, ReadsTheCifar10BinaryVersion) {
    ScratchDir dir;
    for (int i = 1; i <= 5; ++i) writeCifarFile(dir.path() / ("data_batch_" + std::to_string(i) + ".bin"), 2, i);
    writeCifarFile(dir.path() / "test_batch.bin", 1, 7);
    const auto task = visionTasks().require("cifar10/wrn");
    const DataBundle data = task->loadData(taskParams(task->info(), {{"data.root", dir.path().string()}}));
    ASSERT_EQ(data.train.features.sizes(), torch::IntArrayRef({10, 3, 32, 32}));
    EXPECT_EQ(data.train.features.scalar_type(), torch::kByte);
    EXPECT_EQ(data.train.labels[0].item<std::int64_t>(), 1);
    EXPECT_EQ(data.test.size(), 1);
    EXPECT_EQ(data.test.labels[0].item<std::int64_t>(), 7);
    EXPECT_FALSE(data.source.empty());
}

TEST(VisionData, FashionMnistIsFoundInItsDebianFolderWhenInstalled) {
    const auto task = visionTasks().require("fashion_mnist/mlp");
    if (!fs::exists(fs::path(task->info().defaultDataRoot) / "train-images-idx3-ubyte.gz"))
        GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    const DataBundle data = task->loadData(taskParams(task->info()));
    EXPECT_EQ(data.train.features.sizes(), torch::IntArrayRef({60000, 1, 28, 28}));
    EXPECT_EQ(data.test.size(), 10000);
    EXPECT_EQ(data.source, task->info().defaultDataRoot);
}

} // namespace
} // namespace losslab
