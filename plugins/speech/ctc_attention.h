#pragma once
// ESPnet's RNN joint CTC-attention recogniser (Kim, Hori & Watanabe 2017; Watanabe et al. 2017,
// "Hybrid CTC/attention architecture"), as espnet/nets/pytorch_backend/e2e_asr.py builds it:
//   encoder: optional VGG2L front end (two blocks of two 3x3 convolutions (64, then 128
//     channels) with ReLU and a 2x2 max-pooling, time and frequency both /2 per block) and a
//     BLSTM stack, either with a projection after every layer (BLSTMP: Linear(2U, P), tanh
//     between layers, optional frame subsampling after each layer) or without (BLSTM: the
//     layers, then Linear(2U, P) and tanh);
//   CTC branch: Linear(P, V) on the encoder states;
//   attention decoder: location-aware attention (AttLoc: Chorowski et al. 2015; 1-d convolution
//     of the previous weights, additive scores, softmax of 2 * e over the real frames) and a
//     stack of LSTM cells fed [embedding of the previous unit; context], Linear(D, V) on top.
// Output units: 0 <blank> (CTC), 1 <unk>, 2..V-2 units, V-1 <sos/eos> (shared, as in ESPnet).
// Labels (ModelInput::targets): each utterance's units, then <eos>, padded with kIgnoreLabel.
//
// Every utterance's outputs are independent of the others in its batch and of the padding:
// padded frames are masked after every convolution (before pooling, where values are >= 0),
// the LSTMs run on packed sequences, attention and CTC see only real frames.
//
// Initialisation: ESPnet's init_like_chainer, drawn from the run's generator: every bias 0,
// every weight normal with std 1/sqrt(fan_in) (LeCun; fan_in = size(1) times the kernel size),
// the decoder's embedding N(0, 1) and the forget-gate slice of each decoder cell's input bias 1.
// Dropout masks come from ModelInput::generator (losslab::dropout), in training only.
//
// Square loss and decoding: the decoder returns raw scores; the core puts the study's loss on
// them. Greedy decoding ranks units by raw scores (argmax, the same for either loss). The beam
// search adds scores over steps and mixes in CTC log-probabilities, so it reads log_softmax of
// the raw scores for both losses, as ESPnet's recognize_beam does with whatever the decoder was
// trained with (the paper changed only the training loss and kept ESPnet's decoding). For
// cross-entropy that is the model's own estimate; for the square loss it keeps each step's
// ranking (softmax is monotone) and puts the scores on the scale the CTC weight and the length
// bonus are tuned for. Alternatives, not used: raw square-loss outputs (~[0, 1] per unit, on
// another scale than CTC log-probabilities), or log of the inversion p = f / M of
// LossFunction::probabilities (clipped at 0, so a unit can get log 0).
//
// Not thread-safe; one run uses a model on one thread.
#include <cstdint>
#include <vector>

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>

#include "losslab/tasks/task.h"
#include "speech_decoding.h"

namespace losslab::speech {

// Sizes and rates. Defaults: ESPnet's TIMIT RNN recipe (egs/timit/asr1/conf/train.yaml of the
// ESPnet of the paper's time: etype blstmp, elayers 4, eunits 320, eprojs 320, subsample
// 1_2_2_1_1, dlayers 1, dunits 300, atype location, adim 320, aconv-chans 10, aconv-filts 100,
// mtlalpha 0.5, no dropout; later ESPnet points train.yaml at tuning/train2.yaml, a BGRU
// encoder with coverage attention, not modelled here) except `vgg`, which is on, as in the WSJ
// (vggblstmp) and LibriSpeech (vggblstm) recipes: timit() gives the TIMIT recipe as it is.
// ESPnet's features are 80 filterbanks + 3 pitch; LossLab's are 80 log-mel bins.
struct CtcAttentionOptions {
    std::int64_t inputDim = 80; // feature bins D
    std::int64_t vocab = 0;     // output units V (<blank>, <unk>, units, <sos/eos>); at least 3
    // VGG2L front end (time / 4). ESPnet then subsamples no further: `subsample` is ignored.
    bool vgg = true;
    // true: BLSTMP (ESPnet etype *blstmp): projection + tanh after every layer; false: BLSTM
    // (*blstm): projection + tanh after the last layer only.
    bool projectEveryLayer = true;
    std::int64_t encoderLayers = 4;     // elayers
    std::int64_t encoderUnits = 320;    // eunits, per direction
    std::int64_t projectionUnits = 320; // eprojs P
    // ESPnet's subsample "1_2_2_1_1": entry 0 keeps every n-th input frame, entry l + 1 every
    // n-th output frame of encoder layer l; missing entries are 1, extra ones ignored. Used by
    // BLSTMP without VGG only (as in ESPnet). A sequence of n frames keeps ceil(n / s) (ESPnet
    // writes (n + 1) // s, the same for s = 2).
    std::vector<std::int64_t> subsample = {1, 2, 2, 1, 1};
    std::int64_t attentionDim = 320;     // adim
    std::int64_t attentionChannels = 10; // aconv-chans
    std::int64_t attentionFilter = 100;  // aconv-filts: the convolution spans 2 * 100 + 1 frames
    double attentionScaling = 2.0;       // AttLoc's softmax sharpening (ESPnet's default, fixed)
    std::int64_t decoderLayers = 1;      // dlayers
    std::int64_t decoderUnits = 300;     // dunits (also the embedding size)
    // lambda (ESPnet mtlalpha): objective = lambda * CTC + (1 - lambda) * attention loss. The
    // paper's TIMIT runs set mtlalpha 0.3 (its Table 11); the recipe has 0.5.
    double ctcWeight = 0.5;
    // Encoder between layers and before the CTC layer (ESPnet dropout-rate). ESPnet's BLSTMP and
    // CTC call F.dropout without the training flag and so drop at decoding too; here dropout acts
    // in training only.
    double dropout = 0.0;
    double decoderDropout = 0.0; // embedding, attention query, between cells, before the output
    // ESPnet scales the attention loss (a mean over positions) by the batch's mean number of
    // units per utterance (decoders.py: loss *= mean(len(ys_in)) - 1), which puts it on the scale
    // of the CTC loss (a sum over each utterance, averaged over the batch). false: studyLoss as
    // it is.
    bool scaleAttentionLoss = true;
    // Greedy decoding stops an utterance after max(1, int(ratio * T')) units (T' encoder
    // frames); 1.0 = ESPnet's maxlenratio 0.0 (the encoder length).
    double maxDecodeRatio = 1.0;

    // ESPnet's recipes of the paper's ASR rows (its Table 11), for V output units:
    // TIMIT (conf/train.yaml): as the defaults, without VGG (BLSTMP, subsample 1_2_2_1_1).
    static CtcAttentionOptions timit(std::int64_t vocab);
    // WSJ (conf/tuning/train_rnn.yaml): vggblstmp, elayers 6, eunits/eprojs 320, dlayers 1,
    // dunits 300, adim 320, mtlalpha 0.2 (its unigram label smoothing is not modelled).
    static CtcAttentionOptions wsj(std::int64_t vocab);
    // LibriSpeech (conf/tuning/train_rnn.yaml with elayers 4, as the paper sets for 100 h):
    // vggblstm, eunits/eprojs 1024, dlayers 2, dunits 1024, adim 1024, mtlalpha 0.5, dropout 0.2.
    static CtcAttentionOptions librispeech100(std::int64_t vocab);
};

class CtcAttentionImpl : public ClassifierModule {
public:
    // Throws losslab::Error naming the option when a size is out of range.
    CtcAttentionImpl(const CtcAttentionOptions& options, at::Generator& init);

    // input.features [B, T, D] float (padding anything), input.lengths [B] int64 (1..T),
    // input.targets [B, L] int64 (units, <eos>, kIgnoreLabel padding). Returns the teacher-forced
    // decoder scores [B, Lb + 1, V] (Lb the longest unit sequence of the batch; input <sos> y1..yL,
    // targets y1..yL <eos>; raw, no softmax) and keeps the batch's CTC loss for objective().
    torch::Tensor forward(const ModelInput& input) override;
    // lambda * CTC + (1 - lambda) * s * studyLoss, s the batch's mean units per utterance (1 when
    // !scaleAttentionLoss); exactly s * studyLoss for lambda 0 and CTC for lambda 1 (ESPnet).
    torch::Tensor objective(const torch::Tensor& studyLoss) override;
    // The CTC loss of the last forward pass: torch's ctc_loss (blank 0, zero_infinity) summed
    // over the batch and divided by B (ESPnet); undefined when lambda is 0 or before a forward.
    torch::Tensor lastCtcLoss() const { return m_ctcLoss; }
    // The factor s of the last forward pass.
    double lastAttentionScale() const { return m_attentionScale; }

    struct Encoded {
        torch::Tensor states;  // [B, T', P], zero past each length
        torch::Tensor lengths; // [B] int64 on the CPU
    };
    // The encoder alone; dropout only when `training` (masks from input.generator).
    Encoded encode(const ModelInput& input, bool training);
    // Raw CTC scores [B, T', V] of encoder states (log_softmax gives the CTC posteriors).
    torch::Tensor ctcScores(const torch::Tensor& states);

    // Decoding: no gradient, no dropout (whatever is_training() says); input.targets unused.
    // Greedy attention decoding of the batch: per utterance the argmax unit of each step up to
    // <eos> (excluded) or max(1, int(maxDecodeRatio * T')) units.
    std::vector<std::vector<std::int64_t>> greedy(const ModelInput& input);
    // Beam search (speech_decoding.h) of utterance `index` of the batch, with the CTC prefix
    // scores of this model's CTC branch when options.ctcWeight > 0 (set it to 0 for a model
    // trained with ctcWeight 0: its CTC layer is untrained). Its best hypothesis' units.
    std::vector<std::int64_t> beamSearch(const ModelInput& input, std::int64_t index, const BeamOptions& options);
    // The n best hypotheses, with scores.
    std::vector<Hypothesis> beamSearchNBest(const ModelInput& input, std::int64_t index, const BeamOptions& options,
                                            std::int64_t nBest);
    // CTC best path of each utterance (argmax per frame, repeats merged, blanks dropped).
    std::vector<std::vector<std::int64_t>> ctcGreedy(const ModelInput& input);

    const CtcAttentionOptions& options() const { return m_options; }
    std::int64_t eos() const { return m_options.vocab - 1; }
    std::int64_t sos() const { return m_options.vocab - 1; }

    // The decoder's recurrent state for N hypotheses (one per row) and the encoder memory its
    // attention reads: [N or 1, T', .] (broadcast over the rows when 1).
    struct DecoderState {
        std::vector<torch::Tensor> h, c; // per layer [N, decoderUnits]
        torch::Tensor attention;         // [N, T'], the previous step's weights
    };
    struct Memory {
        torch::Tensor states;    // [N or 1, T', P]
        torch::Tensor projected; // mlp_enc(states) [N or 1, T', A]
        torch::Tensor mask;      // [N or 1, T'] bool, true on real frames
    };
    Memory makeMemory(const torch::Tensor& states, const torch::Tensor& lengths);
    DecoderState initialState(const Memory& memory, std::int64_t rows);
    // One decoder step: feeds `previous` units [N] (int64), updates `state`, returns raw scores
    // [N, V].
    torch::Tensor decoderStep(const torch::Tensor& previous, DecoderState& state, const Memory& memory, bool training,
                              const at::Generator& gen);

private:
    struct EncoderLayer {
        torch::nn::LSTM lstm{nullptr};
        torch::nn::Linear projection{nullptr}; // BLSTMP every layer; BLSTM the last one only
        std::int64_t subsample = 1;
    };
    torch::Tensor vggFrontEnd(torch::Tensor x, torch::Tensor& lengths);
    // Attention context [N, P]; updates state.attention.
    torch::Tensor attend(const Memory& memory, const torch::Tensor& query, DecoderState& state);
    void initLikeEspnet(at::Generator& init);

    CtcAttentionOptions m_options;
    std::vector<torch::nn::Conv2d> m_vgg;
    std::vector<EncoderLayer> m_encoder;
    torch::nn::Linear m_ctc{nullptr};
    torch::nn::Linear m_attEnc{nullptr}, m_attDec{nullptr}, m_attLoc{nullptr}, m_attScore{nullptr};
    torch::nn::Conv1d m_attConv{nullptr};
    torch::nn::Embedding m_embedding{nullptr};
    std::vector<torch::nn::LSTMCell> m_cells;
    torch::nn::Linear m_output{nullptr};
    torch::Tensor m_ctcLoss;
    double m_attentionScale = 1.0;
};

TORCH_MODULE(CtcAttention);

} // namespace losslab::speech
