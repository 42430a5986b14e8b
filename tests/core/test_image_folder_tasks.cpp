// The vision plugin's image-folder tasks (imagenet/resnet50, image_folder/resnet): the ImageNet
// ResNets, loading a class-per-folder set, the per-batch decoding transform (the same batch for
// any number of decode threads, seeded by the run), and a seeded run from start to end.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "error_matchers.h"
#include "losslab/data/image/image_file.h"
#include "losslab/data/image/image_folder.h"
#include "losslab/data/image/image_resample.h"
#include "losslab/error.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"
#include "run_series.h"
#include "scratch_dir.h"
#include "vision_registry.h"

namespace losslab {
namespace {

namespace fs = std::filesystem;
using fixtures::throwsErrorWith;
using fixtures::visionTasks;
using Overrides = std::vector<std::pair<std::string, std::string>>;

ParamSet taskParams(const TaskInfo& info, const Overrides& overrides) {
    ParamSet params;
    params.set("data.root", "", ParamType::String);
    for (const auto& d : info.params) params.set(d.key, d.defaultValue, d.type);
    for (const auto& [key, value] : overrides) params.set(key, value, params.type(key));
    return params;
}

std::int64_t parameterCount(const torch::nn::Module& model) {
    std::int64_t n = 0;
    for (const auto& p : model.parameters()) n += p.numel();
    return n;
}

TEST(ImageFolderTaskTest, ResNetsHaveTorchvisionsShapes) {
    const auto task = visionTasks().require("imagenet/resnet50");
    EXPECT_EQ(task->info().numClasses, 1000);
    EXPECT_EQ(task->info().paperDataset, "imagenet");
    // torchvision's resnet50() and resnet18() with 1000 classes.
    at::Generator init = makeGenerator(torch::Device(torch::kCPU), 0);
    auto resnet50 = task->makeModel(taskParams(task->info(), {}), init);
    EXPECT_EQ(parameterCount(*resnet50), 25557032);
    auto resnet18 = task->makeModel(taskParams(task->info(), {{"model.depth", "18"}}), init);
    EXPECT_EQ(parameterCount(*resnet18), 11689512);
    ModelInput input;
    input.features = torch::randn({2, 3, 64, 64});
    resnet18->eval();
    EXPECT_EQ(resnet18->forward(input).sizes(), (std::vector<std::int64_t>{2, 1000}));
    EXPECT_TRUE(throwsErrorWith([&] { task->makeModel(taskParams(task->info(), {{"model.depth", "20"}}), init); },
                                {"model.depth", "18, 34, 50, 101 or 152", "20"}));
    // The transform's values are checked with the model, before a run is stored.
    EXPECT_TRUE(throwsErrorWith([&] { task->makeModel(taskParams(task->info(), {{"data.resize", "200"}}), init); },
                                {"data.resize", "at least data.image_size (224)", "200"}));
    EXPECT_TRUE(throwsErrorWith([&] { task->makeModel(taskParams(task->info(), {{"data.min_scale", "0"}}), init); },
                                {"data.min_scale", "(0, 1]"}));
    // The folder task's classes come from data.classes.
    const auto folder = visionTasks().require("image_folder/resnet");
    auto small = folder->makeModel(taskParams(folder->info(), {{"data.classes", "3"}}), init);
    small->eval();
    EXPECT_EQ(small->forward(input).sizes(), (std::vector<std::int64_t>{2, 3}));
}

TEST(ImageFolderTaskTest, EfficientNetB0HasTorchvisionsShapeAndDrawsStochasticDepthFromTheRun) {
    const auto task = visionTasks().require("imagenet/efficientnet_b0");
    at::Generator init = makeGenerator(torch::Device(torch::kCPU), 0);
    auto model = task->makeModel(taskParams(task->info(), {}), init);
    EXPECT_EQ(parameterCount(*model), 5288548); // torchvision's efficientnet_b0()
    ModelInput input;
    input.features = torch::randn({4, 3, 64, 64});
    model->eval();
    const torch::Tensor evaluated = model->forward(input);
    EXPECT_EQ(evaluated.sizes(), (std::vector<std::int64_t>{4, 1000}));
    EXPECT_TRUE(torch::equal(evaluated, model->forward(input))); // no draws when evaluating

    // Training: dropout and stochastic depth draw from the run's generator only.
    model->train();
    auto trained = [&](std::uint64_t seed) {
        ModelInput in = input;
        in.generator = makeGenerator(torch::Device(torch::kCPU), seed);
        torch::NoGradGuard noGrad;
        return model->forward(in);
    };
    EXPECT_TRUE(torch::equal(trained(5), trained(5)));
    EXPECT_FALSE(torch::equal(trained(5), trained(6)));
    auto still = task->makeModel(taskParams(task->info(), {{"model.dropout", "0"}, {"model.drop_connect", "0"}}), init);
    still->train();
    EXPECT_NO_THROW(still->forward(input)); // nothing to draw: no generator needed
    EXPECT_TRUE(throwsErrorWith([&] { model->forward(input); }, {"generator"}));
}

class ImageFolderDataTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!imageReaderAvailable()) GTEST_SKIP() << "built without libjpeg/libpng (the image reader)";
        // Three classes told apart by colour; images of several sizes, one a PNG.
        const int colours[3][3] = {{220, 40, 40}, {40, 200, 60}, {50, 60, 210}};
        const char* names[3] = {"red", "green", "blue"};
        int n = 0;
        for (const std::string split : {"train", "val"})
            for (int c = 0; c < 3; ++c)
                for (int i = 0; i < (split == "train" ? 6 : 2); ++i, ++n) {
                    const int width = 36 + (n * 7) % 40;
                    const int height = 36 + (n * 11) % 30;
                    RgbImage image{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width * height * 3))};
                    for (int y = 0; y < height; ++y)
                        for (int x = 0; x < width; ++x)
                            for (int k = 0; k < 3; ++k)
                                image.pixels[static_cast<std::size_t>((y * width + x) * 3 + k)] =
                                    static_cast<std::uint8_t>(std::clamp(colours[c][k] + (x * 3 + y * 5 + n) % 31 - 15, 0, 255));
                    const fs::path dir = m_scratch.path() / split / names[c];
                    fs::create_directories(dir);
                    if (n % 5 == 4)
                        writePng((dir / ("img" + std::to_string(n) + ".png")).string(), image);
                    else
                        writeJpeg((dir / ("img" + std::to_string(n) + ".jpg")).string(), image, 90);
                }
    }

    Overrides small(Overrides more = {}) const {
        Overrides o = {{"data.root", m_scratch.path().string()}, {"data.classes", "3"}, {"data.image_size", "32"},
                       {"data.resize", "36"}, {"model.depth", "18"}};
        o.insert(o.end(), more.begin(), more.end());
        return o;
    }

    fixtures::ScratchDir m_scratch{"losslab-image-task"};
};

TEST_F(ImageFolderDataTest, LoadsTheFoldersAndDecodesTheSameBatchWithAnyNumberOfThreads) {
    const auto task = visionTasks().require("image_folder/resnet");
    const ParamSet params = taskParams(task->info(), small());
    const DataBundle data = task->loadData(params);
    ASSERT_EQ(data.train.size(), 18);
    ASSERT_EQ(data.test.size(), 6);
    // Classes in name order: blue, green, red.
    EXPECT_EQ(data.train.labels.slice(0, 0, 6).sum().item<std::int64_t>(), 0);
    EXPECT_EQ(data.train.labels.slice(0, 12, 18).sum().item<std::int64_t>(), 12);
    EXPECT_EQ(data.test.labels.slice(0, 4, 6).sum().item<std::int64_t>(), 4);

    auto decode = [&](const std::string& threads, bool training, std::uint64_t seed) {
        const ParamSet p = taskParams(task->info(), small({{"data.decode_threads", threads}}));
        const auto transform = task->makeTransformFor(p, torch::kCPU, data);
        EXPECT_TRUE(transform->featuresOnHost());
        at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
        TensorSplit batch = data.train.index(torch::arange(0, 18, torch::kLong));
        return transform->apply(batch, training, gen).features;
    };
    const torch::Tensor one = decode("1", true, 7);
    ASSERT_EQ(one.sizes(), (std::vector<std::int64_t>{18, 3, 32, 32}));
    EXPECT_TRUE(torch::equal(one, decode("4", true, 7)));
    EXPECT_FALSE(torch::equal(one, decode("4", true, 8)));
    const torch::Tensor eval = decode("3", false, 7);
    EXPECT_TRUE(torch::equal(eval, decode("1", false, 99))); // no draws when evaluating
    EXPECT_FALSE(torch::equal(eval, one));

    // Every evaluation image, JPEG or PNG, is the centre crop of the decoded file (a JPEG shrunk
    // while decoding as far as the crop keeps 32 pixels), normalised with ImageNet's statistics.
    const ImageFolderListing listing = listImageFolder((m_scratch.path() / "train").string());
    ASSERT_EQ(listing.files.size(), 18u);
    const double mean[3] = {0.485, 0.456, 0.406};
    const double std[3] = {0.229, 0.224, 0.225};
    int pngs = 0;
    for (std::int64_t row = 0; row < 18; ++row) {
        const std::string& file = listing.files[static_cast<std::size_t>(row)];
        pngs += file.substr(file.size() - 4) == ".png";
        const DecodedImage decoded = readImage(file, [](int w, int h) {
            const CropBox full = centerCropBox(w, h, 36, 32);
            return 32 / full.width;
        });
        const CropBox full = centerCropBox(decoded.fullWidth, decoded.fullHeight, 36, 32);
        const double shrink = static_cast<double>(decoded.image.width) / decoded.fullWidth;
        const double shrinkY = static_cast<double>(decoded.image.height) / decoded.fullHeight;
        std::vector<std::uint8_t> expected(3 * 32 * 32);
        resampleCrop(decoded.image, {full.x * shrink, full.y * shrinkY, full.width * shrink, full.height * shrinkY}, 32,
                     32, false, expected.data());
        const torch::Tensor got = eval[row].reshape({3, -1});
        for (int c = 0; c < 3; ++c)
            for (int i = 0; i < 32 * 32; i += 61) {
                const double want = (expected[static_cast<std::size_t>(c * 1024 + i)] / 255.0 - mean[c]) / std[c];
                ASSERT_NEAR(got[c][i].item<double>(), want, 1e-5) << file << " channel " << c << " pixel " << i;
            }
    }
    EXPECT_GT(pngs, 0);
}

TEST_F(ImageFolderDataTest, WrongClassCountsAndMissingFoldersAreNamed) {
    const auto task = visionTasks().require("image_folder/resnet");
    EXPECT_TRUE(throwsErrorWith([&] { task->loadData(taskParams(task->info(), small({{"data.classes", "2"}}))); },
                                {"image_folder/resnet", "3 class folders", "set data.classes: 3"}));
    EXPECT_TRUE(throwsErrorWith([&] { task->loadData(taskParams(task->info(), small({{"data.test_dir", "test"}}))); },
                                {(m_scratch.path() / "test").string(), "no such folder"}));
    const auto imagenet = visionTasks().require("imagenet/resnet50");
    EXPECT_TRUE(throwsErrorWith([&] { imagenet->loadData(taskParams(imagenet->info(), small())); },
                                {"imagenet/resnet50", "3 class folders", "ImageNet has 1000", "image_folder/resnet"}));
    EXPECT_TRUE(throwsErrorWith([&] { imagenet->loadData(taskParams(imagenet->info(), {})); },
                                {"imagenet/resnet50", "data.root is not set", "image-net.org"}));
    // A relative data.root that is not there names the folder it was read from (before: only
    // 'images', which says nothing to a run resumed from another folder than it was planned in).
    EXPECT_TRUE(throwsErrorWith([&] { task->loadData(taskParams(task->info(), {{"data.root", "no-such-images"}})); },
                                {"the data folder 'no-such-images' (data.root) does not exist in " + fs::current_path().string() +
                                 " (a relative data.root is read from the folder the program started in)"}));
    // A damaged image fails the batch that reads it, naming the file.
    const fs::path bad = m_scratch.path() / "train" / "blue" / "aaa-damaged.jpg";
    std::ofstream(bad) << "not a JPEG";
    const ParamSet p = taskParams(task->info(), small({{"data.decode_threads", "2"}}));
    const DataBundle data = task->loadData(p);
    const auto transform = task->makeTransformFor(p, torch::kCPU, data);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
    EXPECT_TRUE(throwsErrorWith([&] { transform->apply(data.train.index(torch::arange(0, 4, torch::kLong)), true, gen); },
                                {bad.string(), "expected JPEG or PNG"}));
}

TEST_F(ImageFolderDataTest, ASeededRunTrainsAndRepeatsBitForBitWithAnyDecodeThreads) {
    const std::string yaml = R"(
name: folders
task: image_folder/resnet
device: cpu
losses:
  - {loss: ce, lr: 0.1}
  - {loss: square, lr: 0.01}
protocols: [fixed_epochs]
seeds: [3]
data: {root: ')" + m_scratch.path().string() + R"(', classes: 3, image_size: 32, resize: 36}
model: {depth: 18}
train: {max_epochs: 2, batch_size: 9, log_every_steps: 1}
runner: {cpu_runs: 1, threads: 1}
)";
    auto run = [&](const std::string& threads, const std::string& db) {
        RunStore store((m_scratch.path() / db).string());
        RunQueue queue(store, visionTasks());
        queue.start(loadExperimentText(yaml, "folders.yaml", {{"data.decode_threads", threads}}, visionTasks()));
        const RunQueueResult result = queue.wait();
        // Two steps per epoch: BatchNorm's running statistics are far from the batches' own,
        // and the evaluated (eval-mode) training loss can be far above the first batch's. That is
        // not a diverged run: the divergence rule compares training-mode losses.
        for (const RunRecord& r : store.runs())
            EXPECT_EQ(r.status, RunStatus::Completed) << r.loss << ": " << r.error;
        return fixtures::seriesByKey(store, result.runIds);
    };
    const auto one = run("1", "one.sqlite");
    ASSERT_EQ(one.size(), 2u);
    for (const auto& [key, series] : one) {
        ASSERT_TRUE(series.count("2/test/acc")) << key;
        EXPECT_GE(series.at("2/test/acc"), 0.0);
        EXPECT_TRUE(std::isfinite(series.at("2/train/loss"))) << key;
    }
    fixtures::expectIdenticalSeries(one, run("4", "four.sqlite"), "4 decode threads");
}

} // namespace
} // namespace losslab
