#include "efficientnet.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "losslab/error.h"
#include "losslab/tasks/model_random.h"
#include "resnet18.h"

namespace losslab::vision {

namespace {

torch::nn::Conv2d depthwiseConv(std::int64_t channels, std::int64_t kernel, std::int64_t stride) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, kernel)
                                 .stride(stride)
                                 .padding(kernel / 2)
                                 .groups(channels)
                                 .bias(false));
}

torch::nn::Conv2d biasedPointwise(std::int64_t in, std::int64_t out) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1));
}

// torchvision's efficientnet_b0 stages: expansion, kernel, stride, input and output channels, blocks.
struct Stage {
    std::int64_t expansion, kernel, stride, in, out, blocks;
};
constexpr Stage kStages[] = {{1, 3, 1, 32, 16, 1},   {6, 3, 2, 16, 24, 2},   {6, 5, 2, 24, 40, 2},
                             {6, 3, 2, 40, 80, 3},   {6, 5, 1, 80, 112, 3},  {6, 5, 2, 112, 192, 4},
                             {6, 3, 1, 192, 320, 1}};
constexpr std::int64_t kStemChannels = 32;
constexpr std::int64_t kHeadChannels = 1280;

} // namespace

MBConvImpl::MBConvImpl(std::int64_t inChannels, std::int64_t outChannels, std::int64_t expansion, std::int64_t kernel,
                       std::int64_t stride, double dropProbability)
    : m_residual(stride == 1 && inChannels == outChannels), m_dropProbability(dropProbability) {
    const std::int64_t expanded = inChannels * expansion;
    if (expansion != 1) {
        m_expand = register_module("expand", resnetConv(inChannels, expanded, 1, 1));
        m_expandBn = register_module("expand_bn", torch::nn::BatchNorm2d(expanded));
    }
    m_depthwise = register_module("depthwise", depthwiseConv(expanded, kernel, stride));
    m_depthwiseBn = register_module("depthwise_bn", torch::nn::BatchNorm2d(expanded));
    const std::int64_t squeezed = std::max<std::int64_t>(1, inChannels / 4);
    m_squeeze = register_module("se_reduce", biasedPointwise(expanded, squeezed));
    m_excite = register_module("se_expand", biasedPointwise(squeezed, expanded));
    m_project = register_module("project", resnetConv(expanded, outChannels, 1, 1));
    m_projectBn = register_module("project_bn", torch::nn::BatchNorm2d(outChannels));
}

torch::Tensor MBConvImpl::forward(const torch::Tensor& x, const at::Generator& gen) {
    torch::Tensor out = m_expand ? at::silu(m_expandBn->forward(m_expand->forward(x))) : x;
    out = at::silu(m_depthwiseBn->forward(m_depthwise->forward(out)));
    const torch::Tensor scale = at::sigmoid(m_excite->forward(at::silu(m_squeeze->forward(out.mean({2, 3}, true)))));
    out = m_projectBn->forward(m_project->forward(out * scale));
    if (!m_residual) return out;
    if (is_training() && m_dropProbability > 0) {
        // Stochastic depth, per example ("row"): keep the block with probability 1 - p, scaled by 1 / (1 - p).
        if (!gen.defined()) throw Error("EfficientNet: training needs the run's generator (ModelInput::generator)");
        const double keep = 1.0 - m_dropProbability;
        const torch::Tensor mask = at::empty({x.size(0), 1, 1, 1}, out.options()).bernoulli_(keep, gen).div_(keep);
        out = out * mask;
    }
    return out + x;
}

EfficientNetB0Impl::EfficientNetB0Impl(at::Generator& init, std::int64_t numClasses, double dropout, double dropConnect)
    : m_dropout(dropout) {
    if (dropout < 0 || dropout >= 1) throw Error("model.dropout: expected a probability in [0, 1), got " + std::to_string(dropout));
    if (dropConnect < 0 || dropConnect >= 1)
        throw Error("model.drop_connect: expected a probability in [0, 1), got " + std::to_string(dropConnect));
    m_stem = register_module("stem", resnetConv(3, kStemChannels, 3, 2));
    m_stemBn = register_module("stem_bn", torch::nn::BatchNorm2d(kStemChannels));
    std::int64_t total = 0;
    for (const Stage& s : kStages) total += s.blocks;
    std::int64_t index = 0;
    for (const Stage& s : kStages)
        for (std::int64_t b = 0; b < s.blocks; ++b, ++index) {
            // torchvision: probability dropConnect * (block index / number of blocks).
            const double p = dropConnect * static_cast<double>(index) / static_cast<double>(total);
            m_blocks.push_back(register_module("block" + std::to_string(index),
                                               MBConv(b == 0 ? s.in : s.out, s.out, s.expansion, s.kernel,
                                                      b == 0 ? s.stride : 1, p)));
        }
    m_head = register_module("head", resnetConv(kStages[std::size(kStages) - 1].out, kHeadChannels, 1, 1));
    m_headBn = register_module("head_bn", torch::nn::BatchNorm2d(kHeadChannels));
    m_fc = register_module("fc", torch::nn::Linear(kHeadChannels, numClasses));

    initLikeTorchvision(*this, init);
    const double range = 1.0 / std::sqrt(static_cast<double>(numClasses));
    uniformInit(m_fc->weight, -range, range, init);
    torch::NoGradGuard noGrad;
    m_fc->bias.zero_();
}

torch::Tensor EfficientNetB0Impl::forward(const ModelInput& input) {
    torch::Tensor x = at::silu(m_stemBn->forward(m_stem->forward(input.features)));
    for (auto& block : m_blocks) x = block->forward(x, input.generator);
    x = at::silu(m_headBn->forward(m_head->forward(x))).mean({2, 3});
    if (m_dropout > 0) x = dropout(x, m_dropout, is_training(), input.generator);
    return m_fc->forward(x);
}

} // namespace losslab::vision
