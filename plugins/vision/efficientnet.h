#pragma once
// EfficientNet-B0 (Tan & Le 2019) as torchvision builds it: a 3x3 stride-2 stem with 32
// channels, sixteen MBConv blocks in seven stages (expansion 1 or 6, depthwise 3x3 or 5x5,
// squeeze-and-excitation to a quarter of the block's input channels), a 1x1 head to 1280
// channels, global average pool, dropout, fc. SiLU activations. A block whose input and output
// have the same shape adds its input back, dropping the block per example with a probability
// that grows linearly to `dropConnect` over the blocks (stochastic depth). Every random draw,
// at construction and in training, comes from the run's generators; initialisation as
// torchvision's: convolutions He-normal over fan-out, BN scale 1 and shift 0, fc weights
// U(-1/sqrt(classes), 1/sqrt(classes)) and biases 0.
#include <cstdint>
#include <vector>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "losslab/tasks/task.h"

namespace losslab::vision {

struct MBConvImpl : torch::nn::Module {
    MBConvImpl(std::int64_t inChannels, std::int64_t outChannels, std::int64_t expansion, std::int64_t kernel,
               std::int64_t stride, double dropProbability);
    // gen: the run's, for stochastic depth (training only).
    torch::Tensor forward(const torch::Tensor& x, const at::Generator& gen);

private:
    torch::nn::Conv2d m_expand{nullptr}; // empty for expansion 1
    torch::nn::BatchNorm2d m_expandBn{nullptr};
    torch::nn::Conv2d m_depthwise{nullptr};
    torch::nn::BatchNorm2d m_depthwiseBn{nullptr};
    torch::nn::Conv2d m_squeeze{nullptr};
    torch::nn::Conv2d m_excite{nullptr};
    torch::nn::Conv2d m_project{nullptr};
    torch::nn::BatchNorm2d m_projectBn{nullptr};
    bool m_residual = false;
    double m_dropProbability = 0;
};
TORCH_MODULE(MBConv);

struct EfficientNetB0Impl : ClassifierModule {
    EfficientNetB0Impl(at::Generator& init, std::int64_t numClasses, double dropout, double dropConnect);

    // features [B, 3, H, W] (H, W >= 32) -> scores [B, numClasses].
    torch::Tensor forward(const ModelInput& input) override;

private:
    torch::nn::Conv2d m_stem{nullptr};
    torch::nn::BatchNorm2d m_stemBn{nullptr};
    std::vector<MBConv> m_blocks;
    torch::nn::Conv2d m_head{nullptr};
    torch::nn::BatchNorm2d m_headBn{nullptr};
    torch::nn::Linear m_fc{nullptr};
    double m_dropout;
};

} // namespace losslab::vision
