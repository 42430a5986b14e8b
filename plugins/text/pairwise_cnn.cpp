// LSTM + CNN for sentence pairs after He & Lin (2016) (text_models.h).
#include <algorithm>
#include <string>

#include <torch/nn/functional/padding.h>

#include "losslab/error.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/packed_lstm.h"
#include "text_layers.h"
#include "text_models.h"

namespace losslab::text {

namespace {

// x [B, La, D], y [B, Lb, D] -> cosine, L2 distance and dot product of every pair [B, La, Lb].
std::vector<torch::Tensor> pairMeasures(const torch::Tensor& x, const torch::Tensor& y) {
    const torch::Tensor dot = torch::bmm(x, y.transpose(1, 2));
    const torch::Tensor nx = x.pow(2).sum(2), ny = y.pow(2).sum(2); // [B, La], [B, Lb]
    const torch::Tensor norms = (nx.unsqueeze(2) * ny.unsqueeze(1)).clamp_min(1e-12).sqrt();
    const torch::Tensor distance = (nx.unsqueeze(2) + ny.unsqueeze(1) - 2 * dot).clamp_min(1e-8).sqrt();
    return {dot / norms, distance, dot};
}

} // namespace

PairwiseCnnImpl::PairwiseCnnImpl(EmbeddingSizes sizes, std::int64_t hidden, std::int64_t cubeSize,
                                 const std::vector<std::int64_t>& channels, std::int64_t numClasses, double dropout,
                                 at::Generator& init)
    : m_hiddenSize(hidden), m_cubeSize(cubeSize), m_dropout(dropout) {
    if (cubeSize < 1) throw Error("model.cube_size: expected at least 1, got " + std::to_string(cubeSize));
    if (channels.empty()) throw Error("model.channels: expected at least one convolution block, got []");
    embedding = register_module("embedding", makeEmbedding(sizes));
    m_lstm = register_module("lstm", makeBiLstm(sizes.dim, hidden));
    std::int64_t in = kCubeChannels;
    for (std::size_t i = 0; i < channels.size(); ++i) {
        if (channels[i] < 1)
            throw Error("model.channels: every entry must be at least 1, got " + std::to_string(channels[i]));
        m_convs.push_back(register_module("conv" + std::to_string(i + 1),
                                          torch::nn::Conv2d(torch::nn::Conv2dOptions(in, channels[i], 3).padding(1))));
        in = channels[i];
    }
    m_hidden = register_module("hidden", torch::nn::Linear(in, hidden));
    m_out = register_module("out", torch::nn::Linear(hidden, numClasses));
    initLikePyTorch(*this, init);
}

torch::Tensor PairwiseCnnImpl::similarityCube(const torch::Tensor& a, const torch::Tensor& maskA, const torch::Tensor& b,
                                              const torch::Tensor& maskB) const {
    const std::int64_t h = m_hiddenSize;
    std::vector<torch::Tensor> channels;
    auto add = [&](const torch::Tensor& x, const torch::Tensor& y) {
        for (auto& m : pairMeasures(x, y)) channels.push_back(m);
    };
    add(a.narrow(2, 0, h), b.narrow(2, 0, h));                                     // forward states
    add(a.narrow(2, h, h), b.narrow(2, h, h));                                     // backward states
    add(a, b);                                                                     // both, concatenated
    add(a.narrow(2, 0, h) + a.narrow(2, h, h), b.narrow(2, 0, h) + b.narrow(2, h, h)); // both, summed
    const torch::Tensor pairs = (maskA.unsqueeze(2) & maskB.unsqueeze(1)).to(a.scalar_type());
    channels.push_back(torch::ones_like(pairs));
    torch::Tensor cube = torch::stack(channels, 1) * pairs.unsqueeze(1); // [B, 13, La, Lb]
    const std::int64_t s = m_cubeSize;
    cube = cube.narrow(2, 0, std::min(s, cube.size(2))).narrow(3, 0, std::min(s, cube.size(3)));
    return torch::constant_pad_nd(cube, {0, s - cube.size(3), 0, s - cube.size(2)}, 0.0);
}

torch::Tensor PairwiseCnnImpl::forward(const ModelInput& input) {
    const bool train = is_training();
    const torch::Tensor maskA = lengthMask(input.lengths, input.features.size(1));
    const torch::Tensor maskB = lengthMask(input.lengths2, input.features2.size(1));
    auto encode = [&](const torch::Tensor& ids, const torch::Tensor& lengths) {
        return runPackedLstm(m_lstm, dropout(embedding->forward(ids), m_dropout, train, input.generator), lengths);
    };
    torch::Tensor x = similarityCube(encode(input.features, hostCopy(input.hostLengths, input.lengths)), maskA,
                                     encode(input.features2, hostCopy(input.hostLengths2, input.lengths2)), maskB);
    for (auto& conv : m_convs) {
        x = torch::relu(conv->forward(x));
        if (x.size(2) >= 2) x = torch::max_pool2d(x, {2, 2});
    }
    x = std::get<0>(x.flatten(2).max(2)); // global max pooling -> [B, channels]
    x = dropout(torch::relu(m_hidden->forward(x)), m_dropout, train, input.generator);
    return m_out->forward(x);
}

} // namespace losslab::text
