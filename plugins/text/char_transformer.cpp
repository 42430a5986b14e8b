// The causal character Transformer (text_models.h).
#include <cmath>
#include <limits>
#include <string>

#include "losslab/error.h"
#include "losslab/tasks/model_random.h"
#include "text_models.h"

namespace losslab::text {

CharTransformerImpl::CharTransformerImpl(std::int64_t numSymbols, TransformerSizes sizes, double dropout,
                                         at::Generator& init)
    : m_sizes(sizes), m_dropout(dropout) {
    if (sizes.layers < 1 || sizes.dim < 1 || sizes.heads < 1 || sizes.feedForward < 1 || sizes.context < 1)
        throw Error("model.layers, model.dim, model.heads, model.feed_forward and data.context must be at least 1");
    if (sizes.dim % sizes.heads != 0)
        throw Error("model.dim (" + std::to_string(sizes.dim) + ") must be a multiple of model.heads (" +
                    std::to_string(sizes.heads) + ")");
    const std::int64_t d = sizes.dim;
    m_symbols = register_module("symbols", torch::nn::Embedding(numSymbols, d));
    m_positions = register_module("positions", torch::nn::Embedding(sizes.context, d));
    for (std::int64_t i = 0; i < sizes.layers; ++i) {
        const std::string p = "block" + std::to_string(i + 1) + "_";
        Block b;
        b.qkv = register_module(p + "qkv", torch::nn::Linear(d, 3 * d));
        b.proj = register_module(p + "proj", torch::nn::Linear(d, d));
        b.ff1 = register_module(p + "ff1", torch::nn::Linear(d, sizes.feedForward));
        b.ff2 = register_module(p + "ff2", torch::nn::Linear(sizes.feedForward, d));
        b.norm1 = register_module(p + "norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
        b.norm2 = register_module(p + "norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})));
        m_blocks.push_back(b);
    }
    m_out = register_module("out", torch::nn::Linear(d, numSymbols));
    initLikePyTorch(*this, init);
    // As nn.MultiheadAttention: Xavier-uniform input projection, zero projection biases.
    const double bound = std::sqrt(6.0 / static_cast<double>(d + 3 * d));
    torch::NoGradGuard noGrad;
    for (auto& b : m_blocks) {
        uniformInit(b.qkv->weight, -bound, bound, init);
        b.qkv->bias.zero_();
        b.proj->bias.zero_();
    }
}

torch::Tensor CharTransformerImpl::attention(Block& b, const torch::Tensor& x, const torch::Tensor& future,
                                             const at::Generator& gen) {
    const std::int64_t batch = x.size(0), t = x.size(1), h = m_sizes.heads, dh = m_sizes.dim / m_sizes.heads;
    const auto qkv = b.qkv->forward(x).view({batch, t, 3, h, dh}).permute({2, 0, 3, 1, 4}); // [3, B, h, T, dh]
    const torch::Tensor q = qkv[0], k = qkv[1], v = qkv[2];
    torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(dh));
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
    const torch::Tensor weights = dropout(torch::softmax(scores, -1), m_dropout, is_training(), gen);
    const torch::Tensor out = torch::matmul(weights, v).transpose(1, 2).reshape({batch, t, m_sizes.dim});
    return b.proj->forward(out);
}

torch::Tensor CharTransformerImpl::forward(const ModelInput& input) {
    const bool train = is_training();
    const torch::Tensor& ids = input.features; // [B, T], T <= context
    const std::int64_t t = ids.size(1);
    if (t > m_sizes.context)
        throw Error("a sequence of " + std::to_string(t) + " symbols is longer than data.context (" +
                    std::to_string(m_sizes.context) + ")");
    const torch::Tensor positions = torch::arange(t, ids.options().dtype(torch::kLong));
    torch::Tensor x = m_symbols->forward(ids) + m_positions->forward(positions).unsqueeze(0);
    x = dropout(x, m_dropout, train, input.generator);
    const torch::Tensor future = torch::ones({t, t}, ids.options().dtype(torch::kBool)).triu(1);
    for (auto& b : m_blocks) {
        x = b.norm1->forward(x + dropout(attention(b, x, future, input.generator), m_dropout, train, input.generator));
        torch::Tensor f = dropout(torch::relu(b.ff1->forward(x)), m_dropout, train, input.generator);
        x = b.norm2->forward(x + dropout(b.ff2->forward(f), m_dropout, train, input.generator));
    }
    return m_out->forward(x); // [B, T, C]
}

} // namespace losslab::text
