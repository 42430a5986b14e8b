#pragma once
// The text plugin's models. The word models take token ids (int64 [B, T], 0 = padding) and
// lengths ([B], each >= 1) from ModelInput (pairs: features/lengths and features2/lengths2);
// the character Transformer takes symbol ids [B, T] only (no padding). All return raw class
// scores. Initialisation: PyTorch's defaults (initLikePyTorch), drawn from
// the run's generator; the embedding's padding row is zero and stays zero. Dropout masks
// come from ModelInput::generator (losslab::dropout). docs/text-tasks.md lists where each
// model simplifies its paper.
#include <cstdint>
#include <vector>

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/rnn.h>

#include "losslab/tasks/task.h"
#include "text_layers.h"

namespace losslab::text {

// Single sentences: embedding - dropout - BiLSTM(H) - attention pooling
// (a_t = softmax_t(w^T tanh(W h_t + b)) over real tokens) - dropout - Linear(2H, H) - ReLU -
// dropout - Linear(H, C).
struct BiLstmClassifierImpl : ClassifierModule {
    BiLstmClassifierImpl(EmbeddingSizes embedding, std::int64_t hidden, std::int64_t numClasses, double dropout,
                         at::Generator& init);
    torch::Tensor forward(const ModelInput& input) override;
    torch::nn::Embedding embedding{nullptr};

private:
    torch::nn::LSTM m_lstm{nullptr};
    torch::nn::Linear m_attention{nullptr}, m_score{nullptr}, m_hidden{nullptr}, m_out{nullptr};
    double m_dropout;
};

// Sentence pairs, ESIM (Chen et al. 2017): shared embedding and BiLSTM(H) encoder; soft
// alignment e_ij = a_i . b_j with masked softmax both ways; enhancement
// m = [a; a~; a - a~; a * a~] -> Linear(8H, H) - ReLU; composition BiLSTM(H); masked mean and
// max pooling of both sentences -> [8H]; dropout - Linear(8H, H) - tanh - dropout - Linear(H, C).
struct EsimImpl : ClassifierModule {
    EsimImpl(EmbeddingSizes embedding, std::int64_t hidden, std::int64_t numClasses, double dropout, at::Generator& init);
    torch::Tensor forward(const ModelInput& input) override;
    torch::nn::Embedding embedding{nullptr};

private:
    torch::nn::LSTM m_encoder{nullptr}, m_composition{nullptr};
    torch::nn::Linear m_projection{nullptr}, m_hidden{nullptr}, m_out{nullptr};
    double m_dropout;
};

// Sentence pairs, after He & Lin (2016), "pairwise word interaction": shared embedding and
// BiLSTM(H); a similarity cube of 13 channels [B, 13, S, S] (cosine, L2 distance and dot
// product of the forward, backward, concatenated and summed states of every word pair, and
// an indicator channel that is 1 on real pairs), zero outside the real pairs and padded or cut
// to a fixed S x S (S = cubeSize, as the paper pads to a fixed size); then blocks of
// conv 3x3 (padding 1) - ReLU - max-pool 2 (one per entry of `channels`; the pooling is left
// out once a side is below 2), global max pooling, Linear(channels.back(), H) - ReLU -
// dropout - Linear(H, C). Dropout also follows the embedding.
struct PairwiseCnnImpl : ClassifierModule {
    PairwiseCnnImpl(EmbeddingSizes embedding, std::int64_t hidden, std::int64_t cubeSize,
                    const std::vector<std::int64_t>& channels, std::int64_t numClasses, double dropout,
                    at::Generator& init);
    torch::Tensor forward(const ModelInput& input) override;
    torch::nn::Embedding embedding{nullptr};
    static constexpr std::int64_t kCubeChannels = 13;

private:
    torch::Tensor similarityCube(const torch::Tensor& a, const torch::Tensor& maskA, const torch::Tensor& b,
                                 const torch::Tensor& maskB) const;
    torch::nn::LSTM m_lstm{nullptr};
    std::vector<torch::nn::Conv2d> m_convs;
    torch::nn::Linear m_hidden{nullptr}, m_out{nullptr};
    std::int64_t m_hiddenSize, m_cubeSize;
    double m_dropout;
};

struct TransformerSizes {
    std::int64_t layers = 4;
    std::int64_t dim = 256;
    std::int64_t heads = 4;
    std::int64_t feedForward = 1024;
    std::int64_t context = 70;
};

// Next-symbol prediction: a causal Transformer encoder. Symbol embedding + learned position
// embedding - dropout - `layers` post-norm blocks, each x = LN(x + drop(causal MHA(x))),
// x = LN(x + drop(Linear(ReLU(Linear(x))))) (PyTorch's nn.TransformerEncoderLayer with
// batch_first) - Linear(dim, C) at every position -> [B, T, C]. Attention weights are dropped
// out too (dropout p).
struct CharTransformerImpl : ClassifierModule {
    CharTransformerImpl(std::int64_t numSymbols, TransformerSizes sizes, double dropout, at::Generator& init);
    torch::Tensor forward(const ModelInput& input) override;

private:
    struct Block {
        torch::nn::Linear qkv{nullptr}, proj{nullptr}, ff1{nullptr}, ff2{nullptr};
        torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
    };
    // `future` [T, T] bool: true where a position would see a later one.
    torch::Tensor attention(Block& block, const torch::Tensor& x, const torch::Tensor& future, const at::Generator& gen);
    torch::nn::Embedding m_symbols{nullptr}, m_positions{nullptr};
    std::vector<Block> m_blocks;
    torch::nn::Linear m_out{nullptr};
    TransformerSizes m_sizes;
    double m_dropout;
};

} // namespace losslab::text
