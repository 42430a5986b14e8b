#pragma once
// Temporal convolutional network (Bai, Kolter & Koltun 2018) for sequence classification:
// a stack of residual blocks of causal, dilated 1-D convolutions (dilation 2^i in block i),
// then a Linear layer on the last time step. The receptive field is
// 1 + 2 * (kernelSize - 1) * (2^levels - 1) steps; any sequence length is accepted.
#include <cstdint>
#include <vector>

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "losslab/tasks/task.h"

namespace losslab::vision {

// A causal Conv1d with weight normalisation (Salimans & Kingma 2016): the weight is
// weight_g * weight_v / ||weight_v||, the norm taken per output channel. Output step t sees
// inputs t - (kernelSize - 1) * dilation .. t only, and the output is as long as the input.
// Initialised as the reference code effectively runs (locuslab/TCN, TCN/tcn.py): weight_norm()
// wraps a Conv1d that has PyTorch's default initialisation, so weight_v and the bias start
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and weight_g = ||weight_v||; the reference's later
// `conv.weight.data.normal_(0, 0.01)` writes to a tensor that weight_norm recomputes from
// weight_g and weight_v before every forward pass, so it has no effect and is not copied.
struct WeightNormConv1dImpl : torch::nn::Module {
    WeightNormConv1dImpl(std::int64_t inChannels, std::int64_t outChannels, std::int64_t kernelSize,
                         std::int64_t dilation, at::Generator& init);
    torch::Tensor forward(const torch::Tensor& x); // [B, in, L] -> [B, out, L]
    torch::Tensor weight() const;                  // the normalised weight [out, in, k]

    torch::Tensor weightV, weightG, bias;

private:
    std::int64_t m_leftPadding;
    std::int64_t m_dilation;
};
TORCH_MODULE(WeightNormConv1d);

// Two weight-normalised causal convolutions, each followed by ReLU and dropout, plus a
// residual path (a 1x1 convolution when the channel counts differ, weight N(0, 0.01) as in
// the reference, where that normal_ does take effect: the 1x1 convolution is not
// weight-normalised; bias PyTorch's default), then ReLU.
struct TemporalBlockImpl : torch::nn::Module {
    TemporalBlockImpl(std::int64_t inChannels, std::int64_t outChannels, std::int64_t kernelSize,
                      std::int64_t dilation, double dropout, at::Generator& init);
    torch::Tensor forward(const torch::Tensor& x, const at::Generator& gen); // gen: the run's, for dropout

private:
    WeightNormConv1d m_conv1{nullptr};
    WeightNormConv1d m_conv2{nullptr};
    torch::nn::Conv1d m_downsample{nullptr}; // empty when in == out
    double m_dropout;
};
TORCH_MODULE(TemporalBlock);

struct TcnImpl : ClassifierModule {
    // The last Linear layer keeps PyTorch's default initialisation (the reference's pixel-MNIST
    // model, TCN/mnist_pixel/model.py, does not re-initialise it).
    TcnImpl(std::int64_t inputChannels, std::int64_t levels, std::int64_t channels, std::int64_t kernelSize,
            double dropout, std::int64_t numClasses, at::Generator& init);

    // features [B, inputChannels, L] -> scores [B, numClasses] from time step L - 1.
    torch::Tensor forward(const ModelInput& input) override;

private:
    torch::nn::ModuleList m_blockList{nullptr}; // owns the blocks (parameter names "blocks.i.*")
    std::vector<TemporalBlock> m_blocks;
    torch::nn::Linear m_linear{nullptr};
};

} // namespace losslab::vision
