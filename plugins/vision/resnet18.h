#pragma once
// ResNet-18 in its CIFAR form (32x32 inputs): a 3x3 stem convolution with 64 channels and
// no max-pool, four stages of two basic blocks with 64, 128, 256 and 512 channels (stride 2
// at the start of stages 2-4), global average pool, fc. Post-activation blocks with batch
// norm; convolutions He-normal over fan-out, BN scale 1 and shift 0, as torchvision does.
#include <cstdint>
#include <vector>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "losslab/tasks/task.h"

namespace losslab::vision {

// A convolution without bias, padded to keep the size at stride 1 (kernel / 2).
torch::nn::Conv2d resnetConv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride);

// torchvision's ResNet and EfficientNet initialisation of `model`: convolutions He-normal over
// fan-out with biases 0, BN scale 1 and shift 0, linear layers PyTorch's default; every draw
// from `init`.
void initLikeTorchvision(torch::nn::Module& model, at::Generator& init);

// conv3x3 (stride) - BN - ReLU - conv3x3 - BN, plus the shortcut (1x1 conv + BN when the
// shape changes), then ReLU.
struct ResidualBlockImpl : torch::nn::Module {
    ResidualBlockImpl(std::int64_t inChannels, std::int64_t outChannels, std::int64_t stride);
    torch::Tensor forward(const torch::Tensor& x);

private:
    torch::nn::Conv2d m_conv1{nullptr};
    torch::nn::BatchNorm2d m_bn1{nullptr};
    torch::nn::Conv2d m_conv2{nullptr};
    torch::nn::BatchNorm2d m_bn2{nullptr};
    torch::nn::Conv2d m_shortcutConv{nullptr}; // both empty for an identity shortcut
    torch::nn::BatchNorm2d m_shortcutBn{nullptr};
};
TORCH_MODULE(ResidualBlock);

struct ResNet18Impl : ClassifierModule {
    ResNet18Impl(at::Generator& init, std::int64_t numClasses, std::int64_t inChannels = 3);

    // features [B, inChannels, H, W] -> scores [B, numClasses].
    torch::Tensor forward(const ModelInput& input) override;

private:
    torch::nn::Conv2d m_stem{nullptr};
    torch::nn::BatchNorm2d m_stemBn{nullptr};
    std::vector<ResidualBlock> m_blocks; // all stages in order; owned by the stage lists
    torch::nn::Linear m_fc{nullptr};
};

} // namespace losslab::vision
