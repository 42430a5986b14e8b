#pragma once
// Input transforms of the vision tasks. Stored features are uint8 images [B, C, H, W] on the
// training device; the transforms scale them to [0, 1], optionally augment (training only),
// normalise per channel and reshape for the model. Constants live on the device given at
// construction; random draws come from the run's CPU generator and are moved to the device,
// so the same seed gives the same batch on any device. apply() is const and keeps no state.
#include <cstdint>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "losslab/tasks/task.h"

namespace losslab::vision {

// Per-channel mean and standard deviation of the [0, 1]-scaled training images.
struct ChannelStats {
    std::vector<double> mean;
    std::vector<double> std;
};

ChannelStats mnistStats();        // 0.1307 / 0.3081
ChannelStats fashionMnistStats(); // 0.2860 / 0.3530
ChannelStats cifar10Stats();      // (0.4914, 0.4822, 0.4465) / (0.2470, 0.2435, 0.2616)
ChannelStats imageNetStats();     // (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225), torchvision's

// Per-channel values as a float [1, C, 1, 1] tensor on `device`, to broadcast over images.
torch::Tensor channelConstant(const std::vector<double>& values, const torch::Device& device);

// Images in, normalised images [B, C, H, W] float out. With augment, training batches get
// the standard CIFAR augmentation: zero-pad by cropPadding pixels, take a random HxW crop,
// mirror left-right with probability 1/2 (cropPadding 0: mirror only).
class ImageTransform : public InputTransform {
public:
    ImageTransform(const ChannelStats& stats, bool augment, std::int64_t cropPadding,
                   const torch::Device& device);
    ModelInput apply(const TensorSplit& batch, bool training, at::Generator& gen) const override;

private:
    torch::Tensor m_mean; // [1, C, 1, 1] float on the device
    torch::Tensor m_std;
    bool m_augment;
    std::int64_t m_cropPadding;
};

// Grey images [B, 1, H, W] in, a normalised pixel sequence [B, 1, H*W] out, its steps in the
// fixed order `permutation` (int64 [H*W]: step t is pixel permutation[t] in row-major order).
class PermutedSequenceTransform : public InputTransform {
public:
    PermutedSequenceTransform(const ChannelStats& stats, const torch::Tensor& permutation,
                              const torch::Device& device);
    ModelInput apply(const TensorSplit& batch, bool training, at::Generator& gen) const override;

private:
    double m_mean;
    double m_std;
    torch::Tensor m_permutation; // int64 on the device
};

// Random crop + horizontal flip of float images [B, C, H, W], vectorised on their device:
// one gather, no per-example loop. Draws, in this order, B row offsets and B column offsets
// in [0, 2 * padding] and B flip bits from `gen` (CPU).
torch::Tensor randomCropFlip(const torch::Tensor& images, std::int64_t padding, at::Generator& gen);

// The deterministic part: output pixel (i, j) of image b is pixel
// (rowOffset[b] + i, colOffset[b] + j') of the image zero-padded by `padding` on every side,
// where j' = W - 1 - j when flip[b] is set and j otherwise. Offsets and flips: int64 [B]
// on the images' device. Offsets (padding, padding) without flip give the image back.
torch::Tensor cropFlip(const torch::Tensor& images, std::int64_t padding, const torch::Tensor& rowOffset,
                       const torch::Tensor& colOffset, const torch::Tensor& flip);

} // namespace losslab::vision
