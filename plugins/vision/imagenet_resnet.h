#pragma once
// ResNet in its ImageNet form (He et al. 2016, as torchvision builds it, "v1.5": the stride of
// a bottleneck sits on its 3x3 convolution): a 7x7 stride-2 stem with 64 channels, 3x3
// stride-2 max-pool, four stages (64, 128, 256, 512 channels; stride 2 at the start of stages
// 2-4) of basic blocks (depth 18, 34) or bottlenecks (50, 101, 152; 4x wider outputs), global
// average pool, fc. Convolutions He-normal over fan-out, BN scale 1 and shift 0, fc PyTorch's
// default: torchvision's initialisation, every draw from the run's generator.
#include <cstdint>
#include <vector>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "losslab/tasks/task.h"

namespace losslab::vision {

// 1x1 (width) - BN - ReLU - 3x3 (width, stride) - BN - ReLU - 1x1 (4 width) - BN, plus the
// shortcut (1x1 conv + BN when the shape changes), then ReLU.
struct BottleneckImpl : torch::nn::Module {
    BottleneckImpl(std::int64_t inChannels, std::int64_t width, std::int64_t stride);
    torch::Tensor forward(const torch::Tensor& x);

private:
    torch::nn::Conv2d m_conv1{nullptr};
    torch::nn::BatchNorm2d m_bn1{nullptr};
    torch::nn::Conv2d m_conv2{nullptr};
    torch::nn::BatchNorm2d m_bn2{nullptr};
    torch::nn::Conv2d m_conv3{nullptr};
    torch::nn::BatchNorm2d m_bn3{nullptr};
    torch::nn::Conv2d m_shortcutConv{nullptr}; // both empty for an identity shortcut
    torch::nn::BatchNorm2d m_shortcutBn{nullptr};
};
TORCH_MODULE(Bottleneck);

struct ImageNetResNetImpl : ClassifierModule {
    // depth: 18, 34, 50, 101 or 152 (Error otherwise).
    ImageNetResNetImpl(at::Generator& init, std::int64_t depth, std::int64_t numClasses);

    // features [B, 3, H, W] (H, W >= 32) -> scores [B, numClasses].
    torch::Tensor forward(const ModelInput& input) override;

private:
    torch::nn::Conv2d m_stem{nullptr};
    torch::nn::BatchNorm2d m_stemBn{nullptr};
    std::vector<torch::nn::Sequential> m_stages;
    torch::nn::Linear m_fc{nullptr};
};

} // namespace losslab::vision
