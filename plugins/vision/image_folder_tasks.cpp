#include "image_folder_tasks.h"

#include <filesystem>
#include <functional>
#include <string>
#include <utility>

#include "efficientnet.h"
#include "folder_image_transform.h"
#include "imagenet_resnet.h"
#include "losslab/data/image/image_file.h"
#include "losslab/data/image/image_folder.h"
#include "losslab/data_error.h"
#include "losslab/error.h"

namespace losslab::vision {

namespace {

namespace fs = std::filesystem;

using ModelFactory = std::function<std::shared_ptr<ClassifierModule>(const ParamSet&, std::int64_t classes, at::Generator&)>;

class FolderImageTask final : public Task {
public:
    FolderImageTask(TaskInfo info, ModelFactory model) : m_info(std::move(info)), m_model(std::move(model)) {}

    const TaskInfo& info() const override { return m_info; }

    DataBundle loadData(const ParamSet& params) const override { return loadDataIn(params, DataContext{}); }

    // The folder listings are cached beside the run database (listImageFolderCached).
    DataBundle loadDataIn(const ParamSet& params, const DataContext& context) const override {
        if (!imageReaderAvailable())
            throw Error(m_info.id + ": this LossLab was built without the image reader (libjpeg-dev and libpng-dev; "
                                    "scripts/install-deps.sh installs them, then rebuild)");
        const std::string root = requireDataRoot(m_info, params);
        const std::string trainDir = (fs::path(root) / params.getString("data.train_dir")).string();
        const std::string testDir = (fs::path(root) / params.getString("data.test_dir")).string();
        ImageFolderListing train;
        ImageFolderListing test;
        try {
            train = listImageFolderCached(trainDir, nullptr, context.cacheDir);
            const auto expected = static_cast<std::size_t>(classCount(m_info, params));
            if (train.classes.size() != expected && m_info.numClasses > 0)
                throw Error(trainDir + ": has " + std::to_string(train.classes.size()) + " class folders; " +
                            m_info.dataset + " has " + std::to_string(expected) +
                            " (for another set of classes use image_folder/resnet and data.classes)");
            if (train.classes.size() != expected)
                throw Error(classCountMismatch(trainDir, train.classes.size(), "class folders",
                                               static_cast<std::int64_t>(expected)));
            test = listImageFolderCached(testDir, &train.classes, context.cacheDir);
        } catch (const Error&) {
            rethrowDataError(m_info);
        }
        const auto trainCount = static_cast<std::int64_t>(train.files.size());
        const auto testCount = static_cast<std::int64_t>(test.files.size());
        DataBundle bundle;
        bundle.train.features = torch::arange(trainCount, torch::kLong);
        bundle.train.labels = torch::tensor(train.labels, torch::kLong);
        bundle.test.features = torch::arange(trainCount, trainCount + testCount, torch::kLong);
        bundle.test.labels = torch::tensor(test.labels, torch::kLong);
        std::vector<std::string> files = std::move(train.files);
        files.insert(files.end(), std::make_move_iterator(test.files.begin()), std::make_move_iterator(test.files.end()));
        setImageFiles(bundle, files);
        bundle.source = root;
        if (const std::int64_t skipped = train.skipped + test.skipped; skipped > 0)
            bundle.source += " (skipped " + std::to_string(skipped) + " files not named .jpg, .jpeg or .png)";
        return bundle;
    }

    std::unique_ptr<InputTransform> makeTransform(const ParamSet&, const torch::Device&) const override {
        throw Error(m_info.id + ": the image folder transform needs the loaded data (plugin API 4, makeTransformFor)");
    }

    std::unique_ptr<InputTransform> makeTransformFor(const ParamSet& params, const torch::Device& device,
                                                     const DataBundle& data) const override {
        return std::make_unique<FolderImageTransform>(ImageFileList(data), imageNetStats(), options(params), device);
    }

    std::shared_ptr<ClassifierModule> makeModel(const ParamSet& params, at::Generator& init) const override {
        // The core builds the model once before it stores any run: the transform's values are
        // checked here too, so that a bad one stops the experiment instead of failing every run.
        checkFolderImageOptions(options(params));
        return m_model(params, classCount(m_info, params), init);
    }

private:
    static FolderImageOptions options(const ParamSet& params) {
        FolderImageOptions o;
        o.size = static_cast<int>(params.getInt("data.image_size"));
        o.resize = static_cast<int>(params.getInt("data.resize"));
        o.augment = params.getBool("data.augment");
        o.minScale = params.getDouble("data.min_scale");
        o.threads = static_cast<int>(params.getInt("data.decode_threads"));
        return o;
    }

    TaskInfo m_info;
    ModelFactory m_model;
};

std::shared_ptr<ClassifierModule> resnet(const ParamSet& params, std::int64_t classes, at::Generator& init) {
    return std::make_shared<ImageNetResNetImpl>(init, params.getInt("model.depth"), classes);
}

std::vector<ParamDecl> imageDataParams() {
    return {declareParam("data.train_dir", ParamType::String, "train", "folder under data.root with the training images, one folder per class"),
            declareParam("data.test_dir", ParamType::String, "val", "folder under data.root with the test images, one folder per class (ImageNet: its validation set)"),
            declareParam("data.image_size", ParamType::Int, "224", "side of the square model input, in pixels", 16.0, 1024.0),
            declareParam("data.resize", ParamType::Int, "256", "evaluation: shorter side before the centred data.image_size crop", 16.0, 2048.0),
            declareParam("data.augment", ParamType::Bool, "true", "training: random resized crop (torchvision's) and horizontal flip; false: the evaluation crop"),
            declareParam("data.min_scale", ParamType::Double, "0.08", "smallest area fraction of the random crop", 0.0, 1.0),
            declareParam("data.decode_threads", ParamType::Int, "0", "threads decoding each batch's images; 0: the usable cores, at most 16", 0.0, 256.0)};
}

// Goyal et al. (2017) at batch 256, the reference ResNet-50 recipe: SGD 0.1, momentum 0.9,
// weight decay 1e-4, 90 epochs, learning rate x0.1 after epochs 30, 60 and 80. Training-set
// metrics only at the epochs a protocol reports (a full pass costs a third of an epoch).
std::vector<ParamDecl> resnetParams(const std::string& depth) {
    std::vector<ParamDecl> params = {
        declareParam("model.depth", ParamType::Int, depth, "ResNet depth: 18, 34 (basic blocks), 50, 101 or 152 (bottlenecks)", 18.0, 152.0)};
    for (auto& d : imageDataParams()) params.push_back(std::move(d));
    return params;
}

std::vector<std::pair<std::string, std::string>> imageNetRecipe() {
    return {{"train.optimizer", "sgd"},       {"train.lr", "0.1"},          {"train.momentum", "0.9"},
            {"train.nesterov", "false"},      {"train.weight_decay", "0.0001"}, {"train.schedule", "multistep"},
            {"train.milestones", "[30, 60, 80]"}, {"train.gamma", "0.1"},  {"train.batch_size", "256"},
            {"train.eval_batch_size", "256"}, {"train.max_epochs", "90"},   {"train.grad_clip", "0"},
            {"train.train_metrics", "at_report"}};
}

TaskInfo folderInfo(std::string id, std::string description, std::string dataset, std::string model) {
    TaskInfo info;
    info.id = std::move(id);
    info.description = std::move(description);
    info.domain = "vision";
    info.dataset = std::move(dataset);
    info.model = std::move(model);
    info.dataFormat = "JPEG or PNG images, one folder per class, under train/ and val/";
    info.recipe = imageNetRecipe();
    return info;
}

// ImageNet's facts, shared by its tasks: 1000 classes, the paper's Table 9 row, where to get it.
TaskInfo imageNetInfo(std::string id, std::string description, std::string model) {
    TaskInfo info = folderInfo(std::move(id), std::move(description), "ImageNet", std::move(model));
    info.numClasses = 1000;
    info.paperDataset = "imagenet";
    info.testSetNote = "ImageNet's validation set (val/), as the paper reports it";
    info.dataHint = "Download ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar from https://image-net.org, unpack "
                    "the training images into train/SYNSET/ (one folder per class) and move the validation images "
                    "into val/SYNSET/ (e.g. with valprep.sh of the PyTorch ImageNet example), then set data.root to "
                    "the folder holding train/ and val/.";
    return info;
}

std::shared_ptr<const Task> imageNetTask() {
    TaskInfo info = imageNetInfo("imagenet/resnet50", "ImageNet (ILSVRC-2012) with ResNet-50, as in the paper", "ResNet-50");
    info.params = resnetParams("50");
    return std::make_shared<FolderImageTask>(std::move(info), resnet);
}

std::shared_ptr<const Task> imageFolderTask() {
    TaskInfo info = folderInfo("image_folder/resnet",
                               "Your own images, one folder per class, with an ImageNet ResNet (ResNet-18 by default)",
                               "image folder", "ResNet (ImageNet form)");
    info.numClasses = 0; // data.classes
    info.dataHint = "Put the training images in DATA/train/CLASS/ and the test images in DATA/val/CLASS/ (one folder "
                    "per class, the same names), set data.root to DATA and data.classes to the number of classes.";
    info.params = resnetParams("18");
    info.params.push_back(declareParam("data.classes", ParamType::Int, "2", "the number of class folders", 2.0));
    return std::make_shared<FolderImageTask>(std::move(info), resnet);
}

// EfficientNet-B0. Not the TensorFlow recipe the paper used (RMSProp, exponential decay,
// AutoAugment, label smoothing: the core has neither RMSProp nor label smoothing, and label
// smoothing would change the cross-entropy under study), but SGD with Nesterov momentum at
// batch 256, cosine over the paper's 350 epochs, and its weight decay 1e-5.
std::shared_ptr<const Task> efficientNetTask() {
    TaskInfo info = imageNetInfo("imagenet/efficientnet_b0",
                                 "ImageNet (ILSVRC-2012) with EfficientNet-B0, as in the paper", "EfficientNet-B0");
    info.params = {declareParam("model.dropout", ParamType::Double, "0.2", "dropout probability before the fc layer", 0.0, 0.95),
                   declareParam("model.drop_connect", ParamType::Double, "0.2",
                                "stochastic depth: the last block's drop probability (earlier blocks less, linearly)", 0.0, 0.95)};
    for (auto& d : imageDataParams()) info.params.push_back(std::move(d));
    info.recipe = {{"train.optimizer", "sgd"},          {"train.lr", "0.1"},           {"train.momentum", "0.9"},
                   {"train.nesterov", "true"},          {"train.weight_decay", "1e-05"}, {"train.schedule", "cosine"},
                   {"train.batch_size", "256"},         {"train.eval_batch_size", "256"}, {"train.max_epochs", "350"},
                   {"train.grad_clip", "0"},            {"train.train_metrics", "at_report"}};
    ModelFactory model = [](const ParamSet& p, std::int64_t classes, at::Generator& init) -> std::shared_ptr<ClassifierModule> {
        return std::make_shared<EfficientNetB0Impl>(init, classes, p.getDouble("model.dropout"), p.getDouble("model.drop_connect"));
    };
    return std::make_shared<FolderImageTask>(std::move(info), model);
}

} // namespace

std::vector<std::shared_ptr<const Task>> makeImageFolderTasks() {
    return {imageNetTask(), efficientNetTask(), imageFolderTask()};
}

} // namespace losslab::vision
