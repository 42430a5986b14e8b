#include "imagenet_resnet.h"

#include <algorithm>
#include <string>

#include "losslab/error.h"
#include "resnet18.h"

namespace losslab::vision {

namespace {

constexpr std::int64_t kExpansion = 4; // a bottleneck's output channels per width

struct Layout {
    std::int64_t depth;
    bool bottleneck;
    std::int64_t blocks[4];
};

constexpr Layout kLayouts[] = {{18, false, {2, 2, 2, 2}},
                               {34, false, {3, 4, 6, 3}},
                               {50, true, {3, 4, 6, 3}},
                               {101, true, {3, 4, 23, 3}},
                               {152, true, {3, 8, 36, 3}}};

} // namespace

BottleneckImpl::BottleneckImpl(std::int64_t inChannels, std::int64_t width, std::int64_t stride) {
    const std::int64_t outChannels = width * kExpansion;
    m_conv1 = register_module("conv1", resnetConv(inChannels, width, 1, 1));
    m_bn1 = register_module("bn1", torch::nn::BatchNorm2d(width));
    m_conv2 = register_module("conv2", resnetConv(width, width, 3, stride));
    m_bn2 = register_module("bn2", torch::nn::BatchNorm2d(width));
    m_conv3 = register_module("conv3", resnetConv(width, outChannels, 1, 1));
    m_bn3 = register_module("bn3", torch::nn::BatchNorm2d(outChannels));
    if (inChannels != outChannels || stride != 1) {
        m_shortcutConv = register_module("shortcut_conv", resnetConv(inChannels, outChannels, 1, stride));
        m_shortcutBn = register_module("shortcut_bn", torch::nn::BatchNorm2d(outChannels));
    }
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
    torch::Tensor out = at::relu(m_bn1->forward(m_conv1->forward(x)));
    out = at::relu(m_bn2->forward(m_conv2->forward(out)));
    out = m_bn3->forward(m_conv3->forward(out));
    const torch::Tensor shortcut = m_shortcutConv ? m_shortcutBn->forward(m_shortcutConv->forward(x)) : x;
    return at::relu(out + shortcut);
}

ImageNetResNetImpl::ImageNetResNetImpl(at::Generator& init, std::int64_t depth, std::int64_t numClasses) {
    const auto* layout = std::find_if(std::begin(kLayouts), std::end(kLayouts), [&](const Layout& l) { return l.depth == depth; });
    if (layout == std::end(kLayouts))
        throw Error("model.depth: expected 18, 34, 50, 101 or 152 (the ImageNet ResNets), got " + std::to_string(depth));
    m_stem = register_module("stem", resnetConv(3, 64, 7, 2));
    m_stemBn = register_module("stem_bn", torch::nn::BatchNorm2d(64));
    const std::int64_t widths[4] = {64, 128, 256, 512};
    std::int64_t channels = 64;
    for (int stage = 0; stage < 4; ++stage) {
        torch::nn::Sequential blocks;
        for (std::int64_t b = 0; b < layout->blocks[stage]; ++b) {
            const std::int64_t stride = (b == 0 && stage > 0) ? 2 : 1;
            if (layout->bottleneck) {
                blocks->push_back(Bottleneck(channels, widths[stage], stride));
                channels = widths[stage] * kExpansion;
            } else {
                blocks->push_back(ResidualBlock(channels, widths[stage], stride));
                channels = widths[stage];
            }
        }
        m_stages.push_back(register_module("stage" + std::to_string(stage + 1), blocks));
    }
    m_fc = register_module("fc", torch::nn::Linear(channels, numClasses));

    initLikeTorchvision(*this, init);
}

torch::Tensor ImageNetResNetImpl::forward(const ModelInput& input) {
    torch::Tensor x = at::relu(m_stemBn->forward(m_stem->forward(input.features)));
    x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
    for (auto& stage : m_stages) x = stage->forward(x);
    return m_fc->forward(x.mean({2, 3}));
}

} // namespace losslab::vision
