#include "vision_tasks.h"

#include <filesystem>
#include <functional>
#include <string>
#include <system_error>
#include <utility>

#include "losslab/data/cifar_reader.h"
#include "losslab/data/idx_reader.h"
#include "losslab/data/split.h"
#include "image_folder_tasks.h"
#include "losslab/data_error.h"
#include "losslab/error.h"
#include "mlp.h"
#include "resnet18.h"
#include "small_cnn.h"
#include "tcn.h"
#include "vision_transforms.h"
#include "wide_resnet.h"

namespace losslab::vision {

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kNumClasses = 10;
constexpr std::int64_t kMnistSide = 28;
constexpr std::int64_t kCifarSide = 32;

using ModelFactory = std::function<std::shared_ptr<ClassifierModule>(const ParamSet&, at::Generator&)>;
using TransformFactory =
    std::function<std::unique_ptr<InputTransform>(const ParamSet&, const torch::Device&)>;

enum class DataFormat { Idx, Cifar10Binary };

// Where the data is: data.root, else the task's default folder. Throws Error naming both.
std::string dataRoot(const TaskInfo& info, const ParamSet& params) {
    std::string root = params.has("data.root") ? params.getString("data.root") : std::string();
    const bool isDefault = root.empty();
    if (isDefault) root = info.defaultDataRoot;
    if (root.empty())
        throw DataNotFoundError(withDataHint(info.id + ": data.root is not set, and " + info.dataset +
                                                 " has no standard folder to look in",
                                             info));
    std::error_code ec;
    if (!fs::is_directory(root, ec))
        throw DataNotFoundError(withDataHint(info.id + ": the data folder '" + root + "' (" +
                                                 (isDefault ? "the default; data.root is not set" : "data.root") +
                                                 ") does not exist",
                                             info));
    return root;
}

TensorSplit readIdxPair(const std::string& root, const std::string& images, const std::string& labels) {
    const std::string imagesPath = findIdxFile(root, images);
    TensorSplit split = readIdxImagesAndLabels(imagesPath, findIdxFile(root, labels), kNumClasses);
    const auto& f = split.features;
    if (f.dim() != 4 || f.size(1) != 1 || f.size(2) != kMnistSide || f.size(3) != kMnistSide)
        throw Error(imagesPath + ": expected 28x28 grey images, got an array of shape " + c10::str(f.sizes()));
    return split;
}

class VisionTask final : public Task {
public:
    VisionTask(TaskInfo info, DataFormat format, ModelFactory model, TransformFactory transform)
        : m_info(std::move(info)), m_format(format), m_model(std::move(model)), m_transform(std::move(transform)) {}

    const TaskInfo& info() const override { return m_info; }

    DataBundle loadData(const ParamSet& params) const override {
        const std::string root = dataRoot(m_info, params);
        DataBundle bundle;
        try {
            if (m_format == DataFormat::Idx) {
                bundle.train = readIdxPair(root, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
                bundle.test = readIdxPair(root, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
            } else {
                bundle = loadCifar10(root);
                const auto& f = bundle.train.features;
                if (f.dim() != 4 || f.size(1) != 3 || f.size(2) != kCifarSide || f.size(3) != kCifarSide)
                    throw Error(root + ": expected 3x32x32 CIFAR-10 images, got an array of shape " +
                                c10::str(f.sizes()));
            }
        } catch (const Error&) {
            rethrowDataError(m_info);
        }
        if (bundle.source.empty()) bundle.source = root;
        return bundle;
    }

    std::unique_ptr<InputTransform> makeTransform(const ParamSet& params,
                                                  const torch::Device& device) const override {
        return m_transform(params, device);
    }

    std::shared_ptr<ClassifierModule> makeModel(const ParamSet& params, at::Generator& init) const override {
        return m_model(params, init);
    }

private:
    TaskInfo m_info;
    DataFormat m_format;
    ModelFactory m_model;
    TransformFactory m_transform;
};

// ---- parameters -------------------------------------------------------------------------


constexpr double kMaxDropout = 0.95;

ParamDecl dropoutParam(const std::string& defaultValue, const std::string& where) {
    return declareParam("model.dropout", ParamType::Double, defaultValue, "dropout probability " + where, 0.0, kMaxDropout);
}

std::vector<ParamDecl> mlpParams() {
    return {declareParam("model.hidden", ParamType::IntList, "[512, 512]",
                  "widths of the hidden ReLU layers; [] gives a linear classifier", 1.0),
            dropoutParam("0", "after each hidden layer")};
}

std::vector<ParamDecl> cnnParams() { return {dropoutParam("0", "before the last fc layer")}; }

std::vector<ParamDecl> tcnParams() {
    return {declareParam("model.levels", ParamType::Int, "8", "residual blocks; block i has dilation 2^i", 1.0, 16.0),
            declareParam("model.channels", ParamType::Int, "25", "channels of every block", 1.0),
            declareParam("model.kernel_size", ParamType::Int, "7", "width of the causal convolutions", 2.0),
            dropoutParam("0.05", "after each convolution"),
            declareParam("data.permutation_seed", ParamType::Int, "1111",
                  "seed of the fixed pixel order, the same for every run", 0.0)};
}

std::vector<ParamDecl> cifarDataParams() {
    return {declareParam("data.augment", ParamType::Bool, "true",
                  "random crop and horizontal flip of training batches"),
            declareParam("data.crop_padding", ParamType::Int, "4",
                  "zero padding (pixels) before the random 32x32 crop; 0 = flips only", 0.0, 16.0)};
}

std::vector<ParamDecl> wrnParams() {
    std::vector<ParamDecl> params = {
        declareParam("model.depth", ParamType::Int, "28", "layers: 6n + 4 (10, 16, 22, 28, 40, ...)", 10.0),
        declareParam("model.widen_factor", ParamType::Int, "10", "channel multiplier k (stages of 16k, 32k, 64k)", 1.0),
        dropoutParam("0", "between the two convolutions of a block")};
    for (auto& d : cifarDataParams()) params.push_back(std::move(d));
    return params;
}

// ---- recipes ----------------------------------------------------------------------------

using Recipe = std::vector<std::pair<std::string, std::string>>;

// Plain SGD with momentum, early stopping inside 30 epochs: small, fast models.
Recipe smallImageRecipe() {
    return {{"train.optimizer", "sgd"},
            {"train.lr", "0.05"},
            {"train.momentum", "0.9"},
            {"train.nesterov", "false"},
            {"train.weight_decay", "0"},
            {"train.schedule", "constant"},
            {"train.batch_size", "128"},
            {"train.max_epochs", "30"},
            {"train.grad_clip", "0"}};
}

// Bai et al. (2018), permuted sequential MNIST: Adam 2e-3, batch 64, 20 epochs, no clipping;
// their script also divides the learning rate by 10 after epoch 10.
Recipe tcnRecipe() {
    return {{"train.optimizer", "adam"},
            {"train.lr", "0.002"},
            {"train.weight_decay", "0"},
            {"train.schedule", "multistep"},
            {"train.milestones", "[10]"},
            {"train.gamma", "0.1"},
            {"train.batch_size", "64"},
            {"train.max_epochs", "20"},
            {"train.grad_clip", "0"}};
}

// The Wide-ResNet reference: SGD 0.1 with Nesterov momentum 0.9, weight decay 5e-4,
// 200 epochs, learning rate x0.2 after epochs 60, 120 and 160.
Recipe wrnRecipe() {
    return {{"train.optimizer", "sgd"},
            {"train.lr", "0.1"},
            {"train.momentum", "0.9"},
            {"train.nesterov", "true"},
            {"train.weight_decay", "0.0005"},
            {"train.schedule", "multistep"},
            {"train.milestones", "[60, 120, 160]"},
            {"train.gamma", "0.2"},
            {"train.batch_size", "128"},
            {"train.max_epochs", "200"},
            {"train.grad_clip", "0"}};
}

// The usual CIFAR ResNet-18 recipe: SGD 0.1, momentum 0.9, weight decay 5e-4, cosine over 200 epochs.
Recipe resnet18Recipe() {
    return {{"train.optimizer", "sgd"},
            {"train.lr", "0.1"},
            {"train.momentum", "0.9"},
            {"train.nesterov", "false"},
            {"train.weight_decay", "0.0005"},
            {"train.schedule", "cosine"},
            {"train.batch_size", "128"},
            {"train.max_epochs", "200"},
            {"train.grad_clip", "0"}};
}

// ---- datasets ---------------------------------------------------------------------------

struct DatasetFacts {
    std::string idPrefix;
    std::string name;
    std::string paperDataset;
    std::string defaultRoot;
    std::string hint;
    std::vector<std::string> classNames;
    ChannelStats stats;
};

const char* const kIdxFiles = "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                              "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz";

DatasetFacts fashionMnist() {
    return {"fashion_mnist",
            "Fashion-MNIST",
            "", // not in the paper's Table 9: k and M come from the class-count rule
            "/usr/share/datasets/fashion-mnist",
            std::string("Install the Debian package dataset-fashion-mnist (it puts the files in "
                        "/usr/share/datasets/fashion-mnist), or download ") +
                kIdxFiles +
                " from https://github.com/zalandoresearch/fashion-mnist and set data.root to their folder.",
            {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
             "Ankle boot"},
            fashionMnistStats()};
}

DatasetFacts mnist() {
    return {"mnist",
            "MNIST",
            "mnist",
            "",
            std::string("Download ") + kIdxFiles +
                " from https://yann.lecun.com/exdb/mnist/ (or a mirror such as "
                "https://ossci-datasets.s3.amazonaws.com/mnist/) and set data.root to their folder "
                "(plain or gzip-compressed files both work).",
            {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
            mnistStats()};
}

TaskInfo baseInfo(const DatasetFacts& data, const std::string& model, std::string description,
                  std::string modelName) {
    TaskInfo info;
    info.id = data.idPrefix + "/" + model;
    info.description = std::move(description);
    info.domain = "vision";
    info.dataset = data.name;
    info.model = std::move(modelName);
    info.numClasses = kNumClasses;
    info.classNames = data.classNames;
    info.paperDataset = data.paperDataset;
    info.defaultDataRoot = data.defaultRoot;
    info.dataHint = data.hint;
    info.dataFormat = data.idPrefix == "cifar10" ? "CIFAR-10 binary batches (cifar-10-batches-bin)"
                                                 : "four IDX files, plain or .gz";
    return info;
}

std::shared_ptr<const Task> mlpTask(const DatasetFacts& data) {
    TaskInfo info = baseInfo(data, "mlp", data.name + " with a 784-512-512-10 ReLU MLP: small and fast",
                             "MLP 784-512-512-10");
    info.params = mlpParams();
    info.recipe = smallImageRecipe();
    ModelFactory model = [](const ParamSet& p, at::Generator& init) -> std::shared_ptr<ClassifierModule> {
        return std::make_shared<MlpImpl>(kMnistSide * kMnistSide, p.getIntList("model.hidden"), kNumClasses,
                                         p.getDouble("model.dropout"), init);
    };
    TransformFactory transform = [stats = data.stats](const ParamSet&, const torch::Device& device) {
        return std::unique_ptr<InputTransform>(std::make_unique<ImageTransform>(stats, false, 0, device));
    };
    return std::make_shared<VisionTask>(std::move(info), DataFormat::Idx, model, transform);
}

std::shared_ptr<const Task> cnnTask(const DatasetFacts& data) {
    TaskInfo info = baseInfo(data, "cnn",
                             data.name + " with a small CNN (conv 32 and 64 3x3, max-pool, fc 128): small and fast",
                             "CNN conv32-conv64-fc128");
    info.params = cnnParams();
    info.recipe = smallImageRecipe();
    ModelFactory model = [](const ParamSet& p, at::Generator& init) -> std::shared_ptr<ClassifierModule> {
        return std::make_shared<SmallCnnImpl>(1, kMnistSide, kNumClasses, p.getDouble("model.dropout"), init);
    };
    TransformFactory transform = [stats = data.stats](const ParamSet&, const torch::Device& device) {
        return std::unique_ptr<InputTransform>(std::make_unique<ImageTransform>(stats, false, 0, device));
    };
    return std::make_shared<VisionTask>(std::move(info), DataFormat::Idx, model, transform);
}

std::shared_ptr<const Task> tcnTask() {
    const DatasetFacts data = mnist();
    TaskInfo info = baseInfo(data, "tcn_permuted",
                             "Permuted pixel MNIST (784-step sequences) with a TCN, as in the paper",
                             "TCN 8 levels x 25 channels, kernel 7");
    info.params = tcnParams();
    info.recipe = tcnRecipe();
    ModelFactory model = [](const ParamSet& p, at::Generator& init) -> std::shared_ptr<ClassifierModule> {
        return std::make_shared<TcnImpl>(1, p.getInt("model.levels"), p.getInt("model.channels"),
                                         p.getInt("model.kernel_size"), p.getDouble("model.dropout"), kNumClasses, init);
    };
    TransformFactory transform = [stats = data.stats](const ParamSet& p, const torch::Device& device) {
        const std::int64_t seed = p.getInt("data.permutation_seed");
        if (seed < 0) throw Error("data.permutation_seed: expected at least 0, got " + std::to_string(seed));
        const torch::Tensor order = seededPermutation(kMnistSide * kMnistSide, static_cast<std::uint64_t>(seed));
        return std::unique_ptr<InputTransform>(std::make_unique<PermutedSequenceTransform>(stats, order, device));
    };
    return std::make_shared<VisionTask>(std::move(info), DataFormat::Idx, model, transform);
}

TaskInfo cifarInfo(const std::string& model, std::string description, std::string modelName) {
    DatasetFacts data;
    data.idPrefix = "cifar10";
    data.name = "CIFAR-10";
    data.paperDataset = "cifar10";
    data.hint = "Download the CIFAR-10 binary version (cifar-10-binary.tar.gz) from "
                "https://www.cs.toronto.edu/~kriz/cifar.html, unpack it and set data.root to the "
                "cifar-10-batches-bin folder or the folder above it.";
    data.classNames = {"airplane", "automobile", "bird", "cat", "deer",
                       "dog",      "frog",       "horse", "ship", "truck"};
    return baseInfo(data, model, std::move(description), std::move(modelName));
}

TransformFactory cifarTransform() {
    return [](const ParamSet& p, const torch::Device& device) {
        return std::unique_ptr<InputTransform>(std::make_unique<ImageTransform>(
            cifar10Stats(), p.getBool("data.augment"), p.getInt("data.crop_padding"), device));
    };
}

std::shared_ptr<const Task> wrnTask() {
    TaskInfo info = cifarInfo("wrn",
                              "CIFAR-10 with a Wide-ResNet (WRN-28-10 by default; the paper used widen factor 20)",
                              "Wide-ResNet-28-10");
    info.params = wrnParams();
    info.recipe = wrnRecipe();
    ModelFactory model = [](const ParamSet& p, at::Generator& init) -> std::shared_ptr<ClassifierModule> {
        return std::make_shared<WideResNetImpl>(init, p.getInt("model.depth"), p.getInt("model.widen_factor"),
                                                p.getDouble("model.dropout"), kNumClasses);
    };
    return std::make_shared<VisionTask>(std::move(info), DataFormat::Cifar10Binary, model, cifarTransform());
}

std::shared_ptr<const Task> resnet18Task() {
    TaskInfo info = cifarInfo("resnet18", "CIFAR-10 with ResNet-18 (CIFAR form: 3x3 stem, no max-pool)",
                              "ResNet-18 (CIFAR)");
    info.params = cifarDataParams();
    info.recipe = resnet18Recipe();
    ModelFactory model = [](const ParamSet&, at::Generator& init) -> std::shared_ptr<ClassifierModule> {
        return std::make_shared<ResNet18Impl>(init, kNumClasses);
    };
    return std::make_shared<VisionTask>(std::move(info), DataFormat::Cifar10Binary, model, cifarTransform());
}

} // namespace

std::vector<std::shared_ptr<const Task>> makeVisionTasks() {
    std::vector<std::shared_ptr<const Task>> tasks = {mlpTask(fashionMnist()), cnnTask(fashionMnist()), mlpTask(mnist()),
                                                      cnnTask(mnist()),        tcnTask(),               wrnTask(),
                                                      resnet18Task()};
    for (auto& task : makeImageFolderTasks()) tasks.push_back(std::move(task));
    return tasks;
}

} // namespace losslab::vision
