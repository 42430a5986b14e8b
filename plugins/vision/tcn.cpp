#include "tcn.h"

#include <cmath>
#include <string>


#include "losslab/error.h"
#include "losslab/tasks/model_random.h"

namespace losslab::vision {

WeightNormConv1dImpl::WeightNormConv1dImpl(std::int64_t inChannels, std::int64_t outChannels,
                                           std::int64_t kernelSize, std::int64_t dilation, at::Generator& init)
    : m_leftPadding((kernelSize - 1) * dilation), m_dilation(dilation) {
    // Conv1d's default initialisation, weight then bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    const double bound = 1.0 / std::sqrt(static_cast<double>(inChannels * kernelSize));
    weightV = register_parameter("weight_v", torch::empty({outChannels, inChannels, kernelSize}));
    uniformInit(weightV, -bound, bound, init);
    bias = register_parameter("bias", torch::empty({outChannels}));
    uniformInit(bias, -bound, bound, init);
    torch::NoGradGuard noGrad;
    weightG = register_parameter("weight_g", weightV.pow(2).sum({1, 2}, /*keepdim=*/true).sqrt());
}

torch::Tensor WeightNormConv1dImpl::weight() const {
    return weightV * (weightG / weightV.pow(2).sum({1, 2}, /*keepdim=*/true).sqrt());
}

torch::Tensor WeightNormConv1dImpl::forward(const torch::Tensor& x) {
    // The reference pads both ends and then chomps the right padding off the output; padding
    // the left end only gives the same outputs without computing the discarded ones.
    const torch::Tensor padded = at::constant_pad_nd(x, {m_leftPadding, 0}, 0);
    const std::int64_t stride = 1;
    const std::int64_t padding = 0;
    return at::conv1d(padded, weight(), bias, at::IntArrayRef(stride), at::IntArrayRef(padding),
                      at::IntArrayRef(m_dilation));
}

TemporalBlockImpl::TemporalBlockImpl(std::int64_t inChannels, std::int64_t outChannels,
                                     std::int64_t kernelSize, std::int64_t dilation, double dropout,
                                     at::Generator& init)
    : m_dropout(dropout) {
    // Draws in the reference's order: conv1, conv2, then the downsample convolution.
    m_conv1 = register_module("conv1", WeightNormConv1d(inChannels, outChannels, kernelSize, dilation, init));
    m_conv2 = register_module("conv2", WeightNormConv1d(outChannels, outChannels, kernelSize, dilation, init));
    if (inChannels != outChannels) {
        m_downsample = register_module("downsample", torch::nn::Conv1d(inChannels, outChannels, 1));
        initLikePyTorch(*m_downsample, init);
        normalInit(m_downsample->weight, 0.0, 0.01, init);
    }
}

torch::Tensor TemporalBlockImpl::forward(const torch::Tensor& x, const at::Generator& gen) {
    torch::Tensor out = at::relu(m_conv1->forward(x));
    out = dropout(out, m_dropout, is_training(), gen);
    out = at::relu(m_conv2->forward(out));
    out = dropout(out, m_dropout, is_training(), gen);
    const torch::Tensor residual = m_downsample ? m_downsample->forward(x) : x;
    return at::relu(out + residual);
}

TcnImpl::TcnImpl(std::int64_t inputChannels, std::int64_t levels, std::int64_t channels,
                 std::int64_t kernelSize, double dropout, std::int64_t numClasses, at::Generator& init) {
    if (levels < 1) throw Error("model.levels: expected at least 1, got " + std::to_string(levels));
    if (levels > 30) throw Error("model.levels: expected at most 30, got " + std::to_string(levels));
    if (channels < 1) throw Error("model.channels: expected at least 1, got " + std::to_string(channels));
    if (kernelSize < 1)
        throw Error("model.kernel_size: expected at least 1, got " + std::to_string(kernelSize));
    m_blockList = register_module("blocks", torch::nn::ModuleList());
    for (std::int64_t i = 0; i < levels; ++i) {
        TemporalBlock block(i == 0 ? inputChannels : channels, channels, kernelSize, std::int64_t{1} << i, dropout, init);
        m_blockList->push_back(block);
        m_blocks.push_back(block);
    }
    m_linear = register_module("linear", torch::nn::Linear(channels, numClasses));
    initLikePyTorch(*m_linear, init);
}

torch::Tensor TcnImpl::forward(const ModelInput& input) {
    torch::Tensor x = input.features;
    if (x.dim() != 3)
        throw Error("TCN: expected input [batch, channels, time], got " + std::to_string(x.dim()) +
                    " dimensions");
    for (auto& block : m_blocks) x = block->forward(x, input.generator);
    return m_linear->forward(x.select(2, x.size(2) - 1));
}

} // namespace losslab::vision
