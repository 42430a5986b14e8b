#include "wide_resnet.h"

#include <string>


#include "losslab/error.h"
#include "losslab/tasks/model_random.h"

namespace losslab::vision {

namespace {

torch::nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

} // namespace

WideBasicBlockImpl::WideBasicBlockImpl(std::int64_t inChannels, std::int64_t outChannels,
                                       std::int64_t stride, double dropout)
    : m_dropout(dropout) {
    m_bn1 = register_module("bn1", torch::nn::BatchNorm2d(inChannels));
    m_conv1 = register_module("conv1", conv3x3(inChannels, outChannels, stride));
    m_bn2 = register_module("bn2", torch::nn::BatchNorm2d(outChannels));
    m_conv2 = register_module("conv2", conv3x3(outChannels, outChannels, 1));
    if (inChannels != outChannels || stride != 1)
        m_shortcut = register_module(
            "shortcut",
            torch::nn::Conv2d(torch::nn::Conv2dOptions(inChannels, outChannels, 1).stride(stride).bias(false)));
}

torch::Tensor WideBasicBlockImpl::forward(const torch::Tensor& x, const at::Generator& gen) {
    const torch::Tensor activated = at::relu(m_bn1->forward(x));
    torch::Tensor out = at::relu(m_bn2->forward(m_conv1->forward(activated)));
    if (m_dropout > 0) out = dropout(out, m_dropout, is_training(), gen);
    out = m_conv2->forward(out);
    return out + (m_shortcut ? m_shortcut->forward(activated) : x);
}

WideResNetImpl::WideResNetImpl(at::Generator& init, std::int64_t depth, std::int64_t widenFactor, double dropout,
                               std::int64_t numClasses, std::int64_t inChannels) {
    if (depth < 10 || (depth - 4) % 6 != 0)
        throw Error("model.depth: a Wide-ResNet needs depth = 6n + 4 with n >= 1 (10, 16, 22, 28, 34, 40, ...), got " +
                    std::to_string(depth));
    if (widenFactor < 1)
        throw Error("model.widen_factor: expected at least 1, got " + std::to_string(widenFactor));
    const std::int64_t blocksPerStage = (depth - 4) / 6;
    const std::int64_t widths[3] = {16 * widenFactor, 32 * widenFactor, 64 * widenFactor};

    m_stem = register_module("stem", conv3x3(inChannels, 16, 1));
    std::int64_t channels = 16;
    for (int stage = 0; stage < 3; ++stage) {
        auto list = register_module("stage" + std::to_string(stage + 1), torch::nn::ModuleList());
        for (std::int64_t b = 0; b < blocksPerStage; ++b) {
            const std::int64_t stride = (b == 0 && stage > 0) ? 2 : 1;
            WideBasicBlock block(channels, widths[stage], stride, dropout);
            list->push_back(block);
            m_blocks.push_back(block);
            channels = widths[stage];
        }
    }
    m_bn = register_module("bn", torch::nn::BatchNorm2d(channels));
    m_fc = register_module("fc", torch::nn::Linear(channels, numClasses));

    // The reference's initialisation: convolutions He-normal over fan-out, BN scale 1 and
    // shift 0, fc bias 0 (fc weight keeps Linear's default). Every draw from the run's generator.
    initLikePyTorch(*this, init);
    for (auto& module : modules(/*include_self=*/false))
        if (auto* conv = module->as<torch::nn::Conv2d>()) kaimingNormalInit(conv->weight, /*fanOut=*/true, init);
    torch::NoGradGuard noGrad;
    m_fc->bias.zero_();
}

torch::Tensor WideResNetImpl::forward(const ModelInput& input) {
    torch::Tensor x = m_stem->forward(input.features);
    for (auto& block : m_blocks) x = block->forward(x, input.generator);
    x = at::relu(m_bn->forward(x));
    return m_fc->forward(x.mean({2, 3}));
}

} // namespace losslab::vision
