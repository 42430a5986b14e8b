#include "text_layers.h"

#include <limits>
#include <string>

#include "losslab/error.h"

namespace losslab::text {

namespace {

void requirePositive(std::int64_t value, const char* key) {
    if (value < 1) throw Error(std::string(key) + ": expected at least 1, got " + std::to_string(value));
}

} // namespace

torch::nn::Embedding makeEmbedding(EmbeddingSizes sizes) {
    requirePositive(sizes.vocabulary, "data.max_words + 2");
    requirePositive(sizes.dim, "model.embedding_dim");
    return torch::nn::Embedding(torch::nn::EmbeddingOptions(sizes.vocabulary, sizes.dim).padding_idx(0));
}

torch::nn::LSTM makeBiLstm(std::int64_t input, std::int64_t hidden) {
    requirePositive(hidden, "model.hidden");
    return torch::nn::LSTM(torch::nn::LSTMOptions(input, hidden).batch_first(true).bidirectional(true));
}

torch::Tensor lengthMask(const torch::Tensor& lengths, std::int64_t width) {
    const torch::Tensor positions = torch::arange(width, lengths.options().dtype(torch::kLong));
    return positions.unsqueeze(0) < lengths.to(torch::kLong).unsqueeze(1);
}

torch::Tensor maskedSoftmax(const torch::Tensor& scores, const torch::Tensor& mask, std::int64_t dim) {
    return torch::softmax(scores.masked_fill(mask.logical_not(), -std::numeric_limits<float>::infinity()), dim);
}

torch::Tensor maskedMean(const torch::Tensor& x, const torch::Tensor& mask) {
    const torch::Tensor m = mask.unsqueeze(2).to(x.scalar_type());
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0);
}

torch::Tensor maskedMax(const torch::Tensor& x, const torch::Tensor& mask) {
    return std::get<0>(x.masked_fill(mask.logical_not().unsqueeze(2), -std::numeric_limits<float>::infinity()).max(1));
}

} // namespace losslab::text
