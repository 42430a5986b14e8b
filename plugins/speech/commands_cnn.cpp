#include "commands_cnn.h"

#include <algorithm>
#include <string>

#include "losslab/error.h"
#include "losslab/tasks/model_random.h"

namespace losslab::speech {

CommandsCnnImpl::CommandsCnnImpl(const CommandsCnnOptions& options, at::Generator& init) : m_options(options) {
    if (options.numClasses < 2)
        throw Error("keyword CNN option numClasses: expected at least 2, got " + std::to_string(options.numClasses));
    if (options.channels.empty()) throw Error("keyword CNN option channels: expected at least one block, got none");
    if (!(options.dropout >= 0.0 && options.dropout < 1.0))
        throw Error("keyword CNN option dropout: expected a value in [0, 1), got " + std::to_string(options.dropout));
    std::int64_t in = 1;
    for (std::size_t i = 0; i < options.channels.size(); ++i) {
        const std::int64_t out = options.channels[i];
        if (out < 1)
            throw Error("keyword CNN option channels: every entry must be at least 1, got " + std::to_string(out));
        const std::string n = std::to_string(i + 1);
        // No convolution bias: batch norm's shift replaces it.
        m_convs.push_back(register_module(
            "conv" + n, torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false))));
        m_norms.push_back(register_module("norm" + n, torch::nn::BatchNorm2d(out)));
        in = out;
    }
    m_out = register_module("out", torch::nn::Linear(in, options.numClasses));
    initLikePyTorch(*this, init);
}

torch::Tensor CommandsCnnImpl::forward(const ModelInput& input) {
    const torch::Tensor& features = input.features;
    if (!features.defined() || features.dim() != 3 || features.size(1) < 1 || features.size(2) < 1)
        throw Error("keyword CNN: expected log-mel features [B, T, F], got " +
                    (features.defined() ? std::to_string(features.dim()) + "-d" : std::string("none")));
    torch::Tensor x = features.to(torch::kFloat).unsqueeze(1); // [B, 1, T, F]
    for (std::size_t i = 0; i < m_convs.size(); ++i) {
        x = torch::relu(m_norms[i]->forward(m_convs[i]->forward(x)));
        const std::int64_t poolT = std::min<std::int64_t>(2, x.size(2)), poolF = std::min<std::int64_t>(2, x.size(3));
        x = torch::max_pool2d(x, {poolT, poolF}, {poolT, poolF});
    }
    x = x.mean({2, 3}); // global average pooling -> [B, channels]
    return m_out->forward(dropout(x, m_options.dropout, is_training(), input.generator));
}

} // namespace losslab::speech
