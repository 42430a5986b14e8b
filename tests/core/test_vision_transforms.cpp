// Vision plugin: input transforms (scaling, normalisation, the fixed pixel permutation of
// permuted MNIST, CIFAR-10 crop + flip augmentation). Tasks are reached through the
// TaskRegistry as the core reaches them; see test_vision_models.cpp for how it is filled.
#include <gtest/gtest.h>

#include "cuda_required.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include <cstdint>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "losslab/data/split.h"
#include "losslab/error.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/cuda_support.h"

#include "vision_registry.h"

namespace losslab {
namespace {

using Overrides = std::vector<std::pair<std::string, std::string>>;

using fixtures::visionTasks;

std::unique_ptr<InputTransform> makeTransform(const std::string& id, const Overrides& overrides = {},
                                              const torch::Device& device = torch::kCPU) {
    const auto task = visionTasks().require(id);
    ParamSet params;
    params.set("data.root", "", ParamType::String);
    for (const auto& d : task->info().params) params.set(d.key, d.defaultValue, d.type);
    for (const auto& [key, value] : overrides) params.set(key, value, params.type(key));
    return task->makeTransform(params, device);
}

TensorSplit imagesBatch(const torch::Tensor& features) {
    TensorSplit batch;
    batch.features = features;
    batch.labels = torch::zeros({features.size(0)}, torch::kLong);
    return batch;
}

torch::Tensor randomImages(std::vector<std::int64_t> shape, std::uint64_t seed) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    return at::randint(0, 256, shape, gen, torch::TensorOptions().dtype(torch::kByte));
}

torch::Tensor apply(const InputTransform& transform, const torch::Tensor& features, bool training,
                    std::uint64_t seed) {
    at::Generator gen = at::detail::createCPUGenerator(seed);
    return transform.apply(imagesBatch(features), training, gen).features;
}

const std::vector<double> kCifarMean = {0.4914, 0.4822, 0.4465};
const std::vector<double> kCifarStd = {0.2470, 0.2435, 0.2616};

// ---- normalisation --------------------------------------------------------------------

struct ConstantCase {
    std::string id;
    int pixel;
    double mean;
    double std;
};

class GreyNormalisation : public ::testing::TestWithParam<ConstantCase> {};

TEST_P(GreyNormalisation, AConstantImageBecomesTheNormalisedConstant) {
    const ConstantCase& c = GetParam();
    const torch::Tensor images = torch::full({2, 1, 28, 28}, c.pixel, torch::kByte);
    const torch::Tensor out = apply(*makeTransform(c.id), images, /*training=*/true, 1);
    EXPECT_EQ(out.scalar_type(), torch::kFloat);
    const double expected = (c.pixel / 255.0 - c.mean) / c.std;
    EXPECT_NEAR(out.min().item<double>(), expected, 1e-5);
    EXPECT_NEAR(out.max().item<double>(), expected, 1e-5);
    if (c.id == "mnist/tcn_permuted")
        EXPECT_EQ(out.sizes(), torch::IntArrayRef({2, 1, 784}));
    else
        EXPECT_EQ(out.sizes(), torch::IntArrayRef({2, 1, 28, 28}));
}

// Expected values: (pixel / 255 - mean) / std with each dataset's published statistics.
INSTANTIATE_TEST_SUITE_P(
    Datasets, GreyNormalisation,
    ::testing::Values(ConstantCase{"mnist/mlp", 51, 0.1307, 0.3081}, ConstantCase{"mnist/cnn", 255, 0.1307, 0.3081},
                      ConstantCase{"mnist/tcn_permuted", 51, 0.1307, 0.3081},
                      ConstantCase{"fashion_mnist/mlp", 51, 0.2860, 0.3530},
                      ConstantCase{"fashion_mnist/cnn", 0, 0.2860, 0.3530}),
    [](const ::testing::TestParamInfo<ConstantCase>& info) {
        std::string name = info.param.id;
        for (char& ch : name)
            if (ch == '/') ch = '_';
        return name;
    });

TEST(CifarNormalisation, EachChannelUsesItsOwnMeanAndStd) {
    torch::Tensor images = torch::empty({2, 3, 32, 32}, torch::kByte);
    const int pixel[3] = {255, 128, 0};
    for (int c = 0; c < 3; ++c) images.select(1, c).fill_(pixel[c]);
    const torch::Tensor out = apply(*makeTransform("cifar10/wrn"), images, /*training=*/false, 1);
    ASSERT_EQ(out.sizes(), torch::IntArrayRef({2, 3, 32, 32}));
    for (int c = 0; c < 3; ++c) {
        const double expected = (pixel[c] / 255.0 - kCifarMean[c]) / kCifarStd[c];
        EXPECT_NEAR(out.select(1, c).min().item<double>(), expected, 1e-5) << "channel " << c;
        EXPECT_NEAR(out.select(1, c).max().item<double>(), expected, 1e-5) << "channel " << c;
    }
}

TEST(CifarNormalisation, PaddingThatEntersACropIsBlackBeforeNormalisation) {
    const torch::Tensor images = torch::full({16, 3, 32, 32}, 200, torch::kByte);
    const torch::Tensor out = apply(*makeTransform("cifar10/resnet18"), images, /*training=*/true, 9);
    std::int64_t paddingPixels = 0;
    for (int c = 0; c < 3; ++c) {
        const double image = (200 / 255.0 - kCifarMean[c]) / kCifarStd[c];
        const double black = (0.0 - kCifarMean[c]) / kCifarStd[c];
        const torch::Tensor channel = out.select(1, c);
        const torch::Tensor isImage = (channel - image).abs() < 1e-5;
        const torch::Tensor isBlack = (channel - black).abs() < 1e-5;
        EXPECT_TRUE((isImage | isBlack).all().item<bool>()) << "channel " << c;
        paddingPixels += isBlack.sum().item<std::int64_t>();
    }
    EXPECT_GT(paddingPixels, 0); // 16 crops all at offset (4, 4) has odds 81^-16
}

TEST(ImageTransform, RefusesFeaturesThatAreNotUint8) {
    const auto transform = makeTransform("mnist/mlp");
    at::Generator gen = at::detail::createCPUGenerator(1);
    EXPECT_THROW(transform->apply(imagesBatch(torch::zeros({1, 1, 28, 28})), false, gen), Error);
}

// ---- permuted MNIST -------------------------------------------------------------------

// Recovers the pixel order of a transform: two images whose pixel p holds p % 256 and p / 256
// identify every source pixel uniquely after the transform.
torch::Tensor recoveredOrder(const InputTransform& transform) {
    const torch::Tensor index = torch::arange(784, torch::kLong);
    const torch::Tensor images =
        torch::stack({(index % 256), (index / 256)}).to(torch::kByte).view({2, 1, 28, 28});
    const torch::Tensor out = apply(transform, images, true, 1);
    // Undo the normalisation: pixel = (out * std + mean) * 255.
    const torch::Tensor pixels = (out * 0.3081 + 0.1307).mul(255).round().to(torch::kLong);
    return (pixels[0][0] + 256 * pixels[1][0]);
}

TEST(PermutedMnist, StepTIsPixelPermutationTOfTheSeededPermutation) {
    const torch::Tensor order = recoveredOrder(*makeTransform("mnist/tcn_permuted"));
    EXPECT_TRUE(torch::equal(order, seededPermutation(784, 1111)));
    EXPECT_FALSE(torch::equal(order, torch::arange(784, torch::kLong)));
    EXPECT_TRUE(torch::equal(std::get<0>(order.sort()), torch::arange(784, torch::kLong)));
}

TEST(PermutedMnist, SameSeedSameOrderAnotherSeedAnotherOrder) {
    const torch::Tensor a = recoveredOrder(*makeTransform("mnist/tcn_permuted"));
    const torch::Tensor b = recoveredOrder(*makeTransform("mnist/tcn_permuted", {{"data.permutation_seed", "1111"}}));
    const torch::Tensor c = recoveredOrder(*makeTransform("mnist/tcn_permuted", {{"data.permutation_seed", "1112"}}));
    EXPECT_TRUE(torch::equal(a, b));
    EXPECT_FALSE(torch::equal(a, c));
    EXPECT_TRUE(torch::equal(c, seededPermutation(784, 1112)));
}

TEST(PermutedMnist, TrainingAndEvaluationSeeTheSameSequence) {
    const auto transform = makeTransform("mnist/tcn_permuted");
    const torch::Tensor images = randomImages({4, 1, 28, 28}, 3);
    EXPECT_TRUE(torch::equal(apply(*transform, images, true, 1), apply(*transform, images, false, 2)));
}

// ---- CIFAR-10 augmentation ------------------------------------------------------------

TEST(CifarAugmentation, SameGeneratorSeedSameBatchOtherSeedOtherBatch) {
    const auto transform = makeTransform("cifar10/wrn");
    const torch::Tensor images = randomImages({16, 3, 32, 32}, 4);
    const torch::Tensor a = apply(*transform, images, true, 100);
    EXPECT_TRUE(torch::equal(a, apply(*transform, images, true, 100)));
    EXPECT_FALSE(torch::equal(a, apply(*transform, images, true, 101)));
    // Successive batches from one generator (successive epochs) are augmented differently.
    at::Generator gen = at::detail::createCPUGenerator(100);
    const torch::Tensor first = transform->apply(imagesBatch(images), true, gen).features;
    const torch::Tensor second = transform->apply(imagesBatch(images), true, gen).features;
    EXPECT_TRUE(torch::equal(first, a));
    EXPECT_FALSE(torch::equal(first, second));
}

TEST(CifarAugmentation, IsSkippedWhenNotTrainingAndDrawsNothing) {
    const torch::Tensor images = randomImages({8, 3, 32, 32}, 5);
    const auto augmenting = makeTransform("cifar10/wrn");
    const auto plain = makeTransform("cifar10/wrn", {{"data.augment", "false"}});
    const torch::Tensor reference = apply(*plain, images, true, 1);
    at::Generator gen = at::detail::createCPUGenerator(42);
    EXPECT_TRUE(torch::equal(augmenting->apply(imagesBatch(images), false, gen).features, reference));
    // Evaluation leaves the generator where it was: training draws are not shifted by it.
    at::Generator fresh = at::detail::createCPUGenerator(42);
    EXPECT_TRUE(torch::equal(at::randint(0, 1 << 30, {4}, gen), at::randint(0, 1 << 30, {4}, fresh)));
    // data.augment = false turns it off for training too.
    EXPECT_TRUE(torch::equal(apply(*plain, images, true, 7), reference));
}

// Compares each augmented image with every crop offset and flip of the un-augmented one.
// Returns the (row offset, column offset, flip) found for each image, or -1s when none fits.
std::vector<std::vector<int>> matchCrops(const torch::Tensor& augmented, const torch::Tensor& plain, int padding) {
    const int side = 32;
    std::vector<std::vector<int>> found;
    for (std::int64_t b = 0; b < augmented.size(0); ++b) {
        torch::Tensor padded = torch::empty({3, side + 2 * padding, side + 2 * padding});
        for (int c = 0; c < 3; ++c) padded[c].fill_((0.0 - kCifarMean[c]) / kCifarStd[c]);
        padded.narrow(1, padding, side).narrow(2, padding, side).copy_(plain[b]);
        std::vector<int> match = {-1, -1, -1};
        for (int dy = 0; dy <= 2 * padding && match[0] < 0; ++dy)
            for (int dx = 0; dx <= 2 * padding && match[0] < 0; ++dx)
                for (int flip = 0; flip < 2 && match[0] < 0; ++flip) {
                    torch::Tensor crop = padded.narrow(1, dy, side).narrow(2, dx, side);
                    if (flip) crop = crop.flip({2});
                    if (torch::allclose(crop, augmented[b], 0.0, 1e-6)) match = {dy, dx, flip};
                }
        found.push_back(match);
    }
    return found;
}

TEST(CifarAugmentation, EveryImageIsAZeroPaddedCropOptionallyMirrored) {
    const torch::Tensor images = randomImages({24, 3, 32, 32}, 6);
    const torch::Tensor plain = apply(*makeTransform("cifar10/wrn"), images, false, 1);
    const torch::Tensor augmented = apply(*makeTransform("cifar10/wrn"), images, true, 8);
    std::set<std::pair<int, int>> offsets;
    std::set<int> flips;
    for (const auto& m : matchCrops(augmented, plain, 4)) {
        ASSERT_GE(m[0], 0) << "an augmented image is no crop or flip of its original";
        offsets.insert({m[0], m[1]});
        flips.insert(m[2]);
    }
    EXPECT_GT(offsets.size(), 5u);
    EXPECT_EQ(flips.size(), 2u);
}

TEST(CifarAugmentation, WithoutPaddingItOnlyMirrors) {
    // data.crop_padding = 0: the only crop is the whole image (offset 0, 0), so every image
    // is either itself or its left-right mirror, and both occur.
    const torch::Tensor images = randomImages({64, 3, 32, 32}, 7);
    const torch::Tensor plain = apply(*makeTransform("cifar10/wrn"), images, false, 1);
    const torch::Tensor out = apply(*makeTransform("cifar10/wrn", {{"data.crop_padding", "0"}}), images, true, 3);
    int same = 0;
    int mirrored = 0;
    for (std::int64_t b = 0; b < images.size(0); ++b) {
        const bool isSame = torch::equal(out[b], plain[b]);
        const bool isMirror = torch::equal(out[b], plain[b].flip({2}));
        EXPECT_TRUE(isSame || isMirror) << "image " << b;
        same += isSame;
        mirrored += isMirror;
    }
    EXPECT_GT(same, 16);
    EXPECT_GT(mirrored, 16);
}

TEST(CifarAugmentation, GivesTheSameBatchOnCudaAsOnTheCpu) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    const torch::Tensor images = randomImages({16, 3, 32, 32}, 9);
    const torch::Tensor cpu = apply(*makeTransform("cifar10/wrn"), images, true, 12);
    const torch::Tensor cuda =
        apply(*makeTransform("cifar10/wrn", {}, torch::Device(torch::kCUDA)), images.to(torch::kCUDA), true, 12);
    ASSERT_EQ(cuda.device().type(), torch::kCUDA);
    EXPECT_TRUE(torch::allclose(cuda.cpu(), cpu, 1e-6, 1e-6));
    const torch::Tensor seqCpu = apply(*makeTransform("mnist/tcn_permuted"), randomImages({4, 1, 28, 28}, 1), true, 1);
    const torch::Tensor seqCuda = apply(*makeTransform("mnist/tcn_permuted", {}, torch::Device(torch::kCUDA)),
                                        randomImages({4, 1, 28, 28}, 1).to(torch::kCUDA), true, 1);
    EXPECT_TRUE(torch::allclose(seqCuda.cpu(), seqCpu, 1e-6, 1e-6));
}

// The offsets are drawn on the CPU; copied through page-locked memory, the step does not wait
// for the device (issue 12: three blocking copies per CIFAR step before).
TEST(CifarAugmentation, DoesNotMakeTheHostWaitForTheDevice) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    const auto transform = makeTransform("cifar10/wrn", {}, torch::Device(torch::kCUDA));
    const torch::Tensor images = randomImages({64, 3, 32, 32}, 3).to(torch::kCUDA);
    apply(*transform, images, true, 4); // first use: allocations
    setSyncDebugWarnings(true);
    std::int64_t syncs = 0;
    {
        const SyncCounter counter;
        for (int i = 0; i < 5; ++i) apply(*transform, images, true, 5 + i);
        syncs = counter.count();
    }
    setSyncDebugWarnings(false);
    EXPECT_EQ(syncs, 0);
}

} // namespace
} // namespace losslab
