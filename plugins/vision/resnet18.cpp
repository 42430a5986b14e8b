#include "resnet18.h"

#include <string>

#include "losslab/tasks/model_random.h"

namespace losslab::vision {

torch::nn::Conv2d resnetConv(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride) {
    return torch::nn::Conv2d(
        torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

void initLikeTorchvision(torch::nn::Module& model, at::Generator& init) {
    initLikePyTorch(model, init);
    torch::NoGradGuard noGrad;
    for (auto& module : model.modules(/*include_self=*/false))
        if (auto* c = module->as<torch::nn::Conv2d>()) {
            kaimingNormalInit(c->weight, /*fanOut=*/true, init);
            if (c->bias.defined()) c->bias.zero_();
        }
}


ResidualBlockImpl::ResidualBlockImpl(std::int64_t inChannels, std::int64_t outChannels, std::int64_t stride) {
    m_conv1 = register_module("conv1", resnetConv(inChannels, outChannels, 3, stride));
    m_bn1 = register_module("bn1", torch::nn::BatchNorm2d(outChannels));
    m_conv2 = register_module("conv2", resnetConv(outChannels, outChannels, 3, 1));
    m_bn2 = register_module("bn2", torch::nn::BatchNorm2d(outChannels));
    if (inChannels != outChannels || stride != 1) {
        m_shortcutConv = register_module("shortcut_conv", resnetConv(inChannels, outChannels, 1, stride));
        m_shortcutBn = register_module("shortcut_bn", torch::nn::BatchNorm2d(outChannels));
    }
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
    torch::Tensor out = at::relu(m_bn1->forward(m_conv1->forward(x)));
    out = m_bn2->forward(m_conv2->forward(out));
    const torch::Tensor shortcut = m_shortcutConv ? m_shortcutBn->forward(m_shortcutConv->forward(x)) : x;
    return at::relu(out + shortcut);
}

ResNet18Impl::ResNet18Impl(at::Generator& init, std::int64_t numClasses, std::int64_t inChannels) {
    m_stem = register_module("stem", resnetConv(inChannels, 64, 3, 1));
    m_stemBn = register_module("stem_bn", torch::nn::BatchNorm2d(64));
    const std::int64_t widths[4] = {64, 128, 256, 512};
    std::int64_t channels = 64;
    for (int stage = 0; stage < 4; ++stage) {
        auto list = register_module("stage" + std::to_string(stage + 1), torch::nn::ModuleList());
        for (int b = 0; b < 2; ++b) {
            ResidualBlock block(channels, widths[stage], (b == 0 && stage > 0) ? 2 : 1);
            list->push_back(block);
            m_blocks.push_back(block);
            channels = widths[stage];
        }
    }
    m_fc = register_module("fc", torch::nn::Linear(channels, numClasses));

    // torchvision's initialisation: convolutions He-normal over fan-out, BN scale 1 and shift 0,
    // fc PyTorch's default. Every draw from the run's generator.
    initLikeTorchvision(*this, init);
}

torch::Tensor ResNet18Impl::forward(const ModelInput& input) {
    torch::Tensor x = at::relu(m_stemBn->forward(m_stem->forward(input.features)));
    for (auto& block : m_blocks) x = block->forward(x);
    return m_fc->forward(x.mean({2, 3}));
}

} // namespace losslab::vision
