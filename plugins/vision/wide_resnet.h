#pragma once
// Wide residual network (Zagoruyko & Komodakis 2016) for 32x32 colour images, as in the
// PyTorch implementation the paper used: a 3x3 stem with 16 channels, three stages of
// (depth - 4) / 6 pre-activation basic blocks with 16k, 32k and 64k channels (k = widen
// factor; stride 2 at the start of stages 2 and 3), then BN - ReLU - global average pool - fc.
#include <cstdint>
#include <vector>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "losslab/tasks/task.h"

namespace losslab::vision {

// BN - ReLU - conv3x3 (stride) - BN - ReLU - dropout - conv3x3, added to the shortcut. When
// the shape changes, the shortcut is a 1x1 convolution of the pre-activated input;
// otherwise it is the input itself.
struct WideBasicBlockImpl : torch::nn::Module {
    WideBasicBlockImpl(std::int64_t inChannels, std::int64_t outChannels, std::int64_t stride, double dropout);
    torch::Tensor forward(const torch::Tensor& x, const at::Generator& gen); // gen: the run's, for dropout

private:
    torch::nn::BatchNorm2d m_bn1{nullptr};
    torch::nn::Conv2d m_conv1{nullptr};
    torch::nn::BatchNorm2d m_bn2{nullptr};
    torch::nn::Conv2d m_conv2{nullptr};
    torch::nn::Conv2d m_shortcut{nullptr}; // empty for an identity shortcut
    double m_dropout;
};
TORCH_MODULE(WideBasicBlock);

struct WideResNetImpl : ClassifierModule {
    // Throws Error naming model.depth unless depth = 6n + 4 with n >= 1, and naming
    // model.widen_factor unless widenFactor >= 1.
    WideResNetImpl(at::Generator& init, std::int64_t depth, std::int64_t widenFactor, double dropout, std::int64_t numClasses,
                   std::int64_t inChannels = 3);

    // features [B, inChannels, H, W] -> scores [B, numClasses].
    torch::Tensor forward(const ModelInput& input) override;

private:
    torch::nn::Conv2d m_stem{nullptr};
    std::vector<WideBasicBlock> m_blocks; // all stages in order; owned by the stage lists
    torch::nn::BatchNorm2d m_bn{nullptr};
    torch::nn::Linear m_fc{nullptr};
};

} // namespace losslab::vision
