// The recurrent text models: the BiLSTM classifier and ESIM (text_models.h).
#include <cmath>

#include "losslab/error.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/packed_lstm.h"
#include "text_layers.h"
#include "text_models.h"

namespace losslab::text {

BiLstmClassifierImpl::BiLstmClassifierImpl(EmbeddingSizes sizes, std::int64_t hidden, std::int64_t numClasses,
                                           double dropout, at::Generator& init)
    : m_dropout(dropout) {
    embedding = register_module("embedding", makeEmbedding(sizes));
    m_lstm = register_module("lstm", makeBiLstm(sizes.dim, hidden));
    m_attention = register_module("attention", torch::nn::Linear(2 * hidden, hidden));
    m_score = register_module("score", torch::nn::Linear(torch::nn::LinearOptions(hidden, 1).bias(false)));
    m_hidden = register_module("hidden", torch::nn::Linear(2 * hidden, hidden));
    m_out = register_module("out", torch::nn::Linear(hidden, numClasses));
    initLikePyTorch(*this, init);
}

torch::Tensor BiLstmClassifierImpl::forward(const ModelInput& input) {
    const bool train = is_training();
    const torch::Tensor mask = lengthMask(input.lengths, input.features.size(1));
    torch::Tensor x = dropout(embedding->forward(input.features), m_dropout, train, input.generator);
    const torch::Tensor h = runPackedLstm(m_lstm, x, hostCopy(input.hostLengths, input.lengths)); // [B, T, 2H]
    const torch::Tensor scores = m_score->forward(torch::tanh(m_attention->forward(h))).squeeze(2);
    const torch::Tensor weights = maskedSoftmax(scores, mask, 1);
    x = (weights.unsqueeze(2) * h).sum(1);
    x = dropout(x, m_dropout, train, input.generator);
    x = dropout(torch::relu(m_hidden->forward(x)), m_dropout, train, input.generator);
    return m_out->forward(x);
}

EsimImpl::EsimImpl(EmbeddingSizes sizes, std::int64_t hidden, std::int64_t numClasses, double dropout,
                   at::Generator& init)
    : m_dropout(dropout) {
    embedding = register_module("embedding", makeEmbedding(sizes));
    m_encoder = register_module("encoder", makeBiLstm(sizes.dim, hidden));
    m_projection = register_module("projection", torch::nn::Linear(8 * hidden, hidden));
    m_composition = register_module("composition", makeBiLstm(hidden, hidden));
    m_hidden = register_module("hidden", torch::nn::Linear(8 * hidden, hidden));
    m_out = register_module("out", torch::nn::Linear(hidden, numClasses));
    initLikePyTorch(*this, init);
}

torch::Tensor EsimImpl::forward(const ModelInput& input) {
    const bool train = is_training();
    const torch::Tensor maskA = lengthMask(input.lengths, input.features.size(1));
    const torch::Tensor maskB = lengthMask(input.lengths2, input.features2.size(1));
    const torch::Tensor lengthsA = hostCopy(input.hostLengths, input.lengths);
    const torch::Tensor lengthsB = hostCopy(input.hostLengths2, input.lengths2);
    auto encode = [&](const torch::Tensor& ids, const torch::Tensor& lengths) {
        return runPackedLstm(m_encoder, dropout(embedding->forward(ids), m_dropout, train, input.generator), lengths);
    };
    const torch::Tensor a = encode(input.features, lengthsA);  // [B, La, 2H]
    const torch::Tensor b = encode(input.features2, lengthsB); // [B, Lb, 2H]
    const torch::Tensor e = torch::bmm(a, b.transpose(1, 2));        // [B, La, Lb]
    const torch::Tensor alignedA = torch::bmm(maskedSoftmax(e, maskB.unsqueeze(1), 2), b);
    const torch::Tensor alignedB = torch::bmm(maskedSoftmax(e.transpose(1, 2), maskA.unsqueeze(1), 2), a);
    auto compose = [&](const torch::Tensor& x, const torch::Tensor& aligned, const torch::Tensor& lengths,
                       const torch::Tensor& mask) {
        torch::Tensor m = torch::cat({x, aligned, x - aligned, x * aligned}, 2);
        m = dropout(torch::relu(m_projection->forward(m)), m_dropout, train, input.generator);
        const torch::Tensor v = runPackedLstm(m_composition, m, lengths);
        return torch::cat({maskedMean(v, mask), maskedMax(v, mask)}, 1);
    };
    torch::Tensor v = torch::cat({compose(a, alignedA, lengthsA, maskA), compose(b, alignedB, lengthsB, maskB)}, 1);
    v = dropout(v, m_dropout, train, input.generator);
    v = dropout(torch::tanh(m_hidden->forward(v)), m_dropout, train, input.generator);
    return m_out->forward(v);
}

} // namespace losslab::text
