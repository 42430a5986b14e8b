#pragma once
// Pieces the text models share: padding masks, a bidirectional LSTM (run with
// losslab::runPackedLstm, which reads only each sequence's real tokens), masked softmax and
// pooling. A padded batch gives the same outputs at real positions as the sequences one by one:
// padding never enters a recurrence, an attention weight or a pooled value.
#include <cstdint>

#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/rnn.h>
#include <torch/types.h>

namespace losslab::text {

struct EmbeddingSizes {
    std::int64_t vocabulary = 0; // rows, the padding and OOV ids included
    std::int64_t dim = 0;
};

// The word embedding of the text models (row 0 = padding, kept zero) and their one-layer
// bidirectional batch-first LSTM; Error naming the key when a size is below 1.
torch::nn::Embedding makeEmbedding(EmbeddingSizes sizes);
torch::nn::LSTM makeBiLstm(std::int64_t input, std::int64_t hidden);

// [B, T] bool, true at positions < lengths[b]. lengths: [B] int64 on any device.
torch::Tensor lengthMask(const torch::Tensor& lengths, std::int64_t width);


// Softmax over `dim` of scores whose masked-out entries (mask false) get weight 0. Every
// slice must keep at least one entry.
torch::Tensor maskedSoftmax(const torch::Tensor& scores, const torch::Tensor& mask, std::int64_t dim);

// x [B, T, D], mask [B, T]: mean and max over the real positions -> [B, D] each.
torch::Tensor maskedMean(const torch::Tensor& x, const torch::Tensor& mask);
torch::Tensor maskedMax(const torch::Tensor& x, const torch::Tensor& mask);

} // namespace losslab::text
