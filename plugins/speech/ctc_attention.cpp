#include "ctc_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>

#include <ATen/core/Reduction.h>

#include "losslab/data/tensor_split.h"
#include "losslab/error.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/packed_lstm.h"

namespace losslab::speech {

namespace {

void requireAtLeast(std::int64_t value, std::int64_t least, const char* option) {
    if (value < least)
        throw Error(std::string("speech model option ") + option + ": expected at least " + std::to_string(least) +
                    ", got " + std::to_string(value));
}

void requireRate(double value, const char* option, bool closed) {
    if (!(value >= 0.0 && (closed ? value <= 1.0 : value < 1.0)))
        throw Error(std::string("speech model option ") + option + ": expected a value in [0, 1" +
                    (closed ? "]" : ")") + ", got " + std::to_string(value));
}

// [B, T] bool, true on frames t < lengths[b]; lengths on the CPU, the mask on `device` (copied
// there without a wait).
torch::Tensor frameMask(const torch::Tensor& lengths, std::int64_t frames, const torch::Device& device) {
    const torch::Tensor positions = torch::arange(frames, torch::TensorOptions().dtype(torch::kLong));
    return copyToDevice(positions.unsqueeze(0) < lengths.unsqueeze(1), device);
}

// Zero on padded frames of x [B, T, ...] (or [B, C, T, F] when timeDim is 2): padding may hold
// anything, even NaN, so fill rather than multiply.
torch::Tensor maskFrames(const torch::Tensor& x, const torch::Tensor& lengths, std::int64_t timeDim) {
    torch::Tensor padded = frameMask(lengths, x.size(timeDim), x.device()).logical_not();
    std::vector<std::int64_t> shape(x.dim(), 1);
    shape[0] = x.size(0);
    shape[timeDim] = x.size(timeDim);
    return x.masked_fill(padded.view(shape), 0.0);
}

// ceil(n / s) for every length: the frames t = 0, s, 2s, ... that x.slice(1, 0, T, s) keeps.
torch::Tensor subsampledLengths(const torch::Tensor& lengths, std::int64_t s) {
    return (lengths + (s - 1)).div(s, "floor");
}

} // namespace

CtcAttentionOptions CtcAttentionOptions::timit(std::int64_t vocab) {
    CtcAttentionOptions o;
    o.vocab = vocab;
    o.vgg = false;
    return o;
}

CtcAttentionOptions CtcAttentionOptions::wsj(std::int64_t vocab) {
    CtcAttentionOptions o;
    o.vocab = vocab;
    o.vgg = true;
    o.encoderLayers = 6;
    o.ctcWeight = 0.2;
    return o;
}

CtcAttentionOptions CtcAttentionOptions::librispeech100(std::int64_t vocab) {
    CtcAttentionOptions o;
    o.vocab = vocab;
    o.vgg = true;
    o.projectEveryLayer = false;
    o.encoderLayers = 4;
    o.encoderUnits = 1024;
    o.projectionUnits = 1024;
    o.decoderLayers = 2;
    o.decoderUnits = 1024;
    o.attentionDim = 1024;
    o.ctcWeight = 0.5;
    o.dropout = 0.2;
    return o;
}

CtcAttentionImpl::CtcAttentionImpl(const CtcAttentionOptions& options, at::Generator& init) : m_options(options) {
    const CtcAttentionOptions& o = m_options;
    requireAtLeast(o.inputDim, 1, "inputDim");
    requireAtLeast(o.vocab, 3, "vocab (<blank>, a unit and <sos/eos>)");
    requireAtLeast(o.encoderLayers, 1, "encoderLayers");
    requireAtLeast(o.encoderUnits, 1, "encoderUnits");
    requireAtLeast(o.projectionUnits, 1, "projectionUnits");
    requireAtLeast(o.attentionDim, 1, "attentionDim");
    requireAtLeast(o.attentionChannels, 1, "attentionChannels");
    requireAtLeast(o.attentionFilter, 0, "attentionFilter");
    requireAtLeast(o.decoderLayers, 1, "decoderLayers");
    requireAtLeast(o.decoderUnits, 1, "decoderUnits");
    for (std::int64_t s : o.subsample) requireAtLeast(s, 1, "subsample");
    requireRate(o.ctcWeight, "ctcWeight", true);
    requireRate(o.dropout, "dropout", false);
    requireRate(o.decoderDropout, "decoderDropout", false);
    if (!(o.maxDecodeRatio > 0.0))
        throw Error("speech model option maxDecodeRatio: expected a positive value, got " +
                    std::to_string(o.maxDecodeRatio));

    std::int64_t features = o.inputDim;
    if (o.vgg) {
        const std::int64_t channels[] = {1, 64, 64, 128, 128};
        const char* names[] = {"vgg1_1", "vgg1_2", "vgg2_1", "vgg2_2"};
        for (int i = 0; i < 4; ++i)
            m_vgg.push_back(register_module(
                names[i], torch::nn::Conv2d(torch::nn::Conv2dOptions(channels[i], channels[i + 1], 3).padding(1))));
        features = 128 * ((((o.inputDim + 1) / 2) + 1) / 2); // frequency halved twice, rounding up
    }
    for (std::int64_t l = 0; l < o.encoderLayers; ++l) {
        EncoderLayer layer;
        layer.lstm = register_module(
            "lstm" + std::to_string(l),
            torch::nn::LSTM(torch::nn::LSTMOptions(features, o.encoderUnits).batch_first(true).bidirectional(true)));
        const bool last = l + 1 == o.encoderLayers;
        if (o.projectEveryLayer || last)
            layer.projection = register_module("projection" + std::to_string(l),
                                               torch::nn::Linear(2 * o.encoderUnits, o.projectionUnits));
        if (!o.vgg && o.projectEveryLayer && l + 1 < static_cast<std::int64_t>(o.subsample.size()))
            layer.subsample = o.subsample[l + 1];
        features = o.projectEveryLayer ? o.projectionUnits : 2 * o.encoderUnits;
        m_encoder.push_back(layer);
    }
    m_ctc = register_module("ctc", torch::nn::Linear(o.projectionUnits, o.vocab));

    m_attEnc = register_module("att_enc", torch::nn::Linear(o.projectionUnits, o.attentionDim));
    m_attDec = register_module("att_dec",
                               torch::nn::Linear(torch::nn::LinearOptions(o.decoderUnits, o.attentionDim).bias(false)));
    m_attLoc = register_module(
        "att_loc", torch::nn::Linear(torch::nn::LinearOptions(o.attentionChannels, o.attentionDim).bias(false)));
    m_attConv = register_module(
        "att_conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(1, o.attentionChannels, 2 * o.attentionFilter + 1)
                                          .padding(o.attentionFilter)
                                          .bias(false)));
    m_attScore = register_module("att_score", torch::nn::Linear(o.attentionDim, 1));

    m_embedding = register_module("embedding", torch::nn::Embedding(o.vocab, o.decoderUnits));
    for (std::int64_t l = 0; l < o.decoderLayers; ++l)
        m_cells.push_back(register_module(
            "cell" + std::to_string(l),
            torch::nn::LSTMCell(l == 0 ? o.decoderUnits + o.projectionUnits : o.decoderUnits, o.decoderUnits)));
    m_output = register_module("output", torch::nn::Linear(o.decoderUnits, o.vocab));
    initLikeEspnet(init);
}

void CtcAttentionImpl::initLikeEspnet(at::Generator& init) {
    torch::NoGradGuard noGrad;
    for (torch::Tensor& p : parameters()) {
        if (p.dim() == 1) {
            p.zero_();
        } else {
            normalInit(p, 0.0, 1.0 / std::sqrt(static_cast<double>(fanIn(p))), init);
        }
    }
    torch::Tensor embedding = m_embedding->weight;
    normalInit(embedding, 0.0, 1.0, init);
    const std::int64_t units = m_options.decoderUnits;
    for (auto& cell : m_cells) cell->bias_ih.narrow(0, units, units).fill_(1.0); // gates i, f, g, o
}

torch::Tensor CtcAttentionImpl::vggFrontEnd(torch::Tensor x, torch::Tensor& lengths) {
    // [B, T, D] -> [B, 1, T, D]; ReLU outputs are >= 0, so zeroed padding never wins a max-pool
    // window and a lone utterance (pooled with ceil_mode) gets the same values.
    x = x.unsqueeze(1);
    for (int block = 0; block < 2; ++block) {
        for (int k = 0; k < 2; ++k) x = maskFrames(torch::relu(m_vgg[2 * block + k]->forward(x)), lengths, 2);
        x = torch::max_pool2d(x, {2, 2}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/true);
        lengths = subsampledLengths(lengths, 2);
    }
    x = x.transpose(1, 2); // [B, T', C, F']
    return x.reshape({x.size(0), x.size(1), x.size(2) * x.size(3)});
}

CtcAttentionImpl::Encoded CtcAttentionImpl::encode(const ModelInput& input, bool training) {
    const CtcAttentionOptions& o = m_options;
    const torch::Tensor& features = input.features;
    if (!features.defined() || features.dim() != 3 || features.size(2) != o.inputDim)
        throw Error("speech model: expected features [B, T, " + std::to_string(o.inputDim) + "], got " +
                    (features.defined() ? std::to_string(features.dim()) + "-d" : std::string("none")));
    if (!input.lengths.defined() || input.lengths.dim() != 1 || input.lengths.size(0) != features.size(0))
        throw Error("speech model: expected frame counts [B] beside the features");
    // On the CPU (ModelInput::hostLengths): the masks and the packed layers are built there.
    torch::Tensor lengths = hostCopy(input.hostLengths, input.lengths).to(torch::kLong).contiguous();
    if (features.size(0) > 0 &&
        (lengths.min().item<std::int64_t>() < 1 || lengths.max().item<std::int64_t>() > features.size(1)))
        throw Error("speech model: every utterance needs 1.." + std::to_string(features.size(1)) + " frames");

    torch::Tensor x = maskFrames(features.to(torch::kFloat), lengths, 1);
    if (!o.vgg && o.projectEveryLayer && !o.subsample.empty() && o.subsample[0] > 1) {
        x = x.slice(1, 0, x.size(1), o.subsample[0]);
        lengths = subsampledLengths(lengths, o.subsample[0]);
    }
    if (o.vgg) x = vggFrontEnd(x, lengths);
    for (std::size_t l = 0; l < m_encoder.size(); ++l) {
        EncoderLayer& layer = m_encoder[l];
        const bool last = l + 1 == m_encoder.size();
        x = runPackedLstm(layer.lstm, x, lengths);
        if (layer.subsample > 1) {
            x = x.slice(1, 0, x.size(1), layer.subsample);
            lengths = subsampledLengths(lengths, layer.subsample);
        }
        if (o.projectEveryLayer) {
            x = layer.projection->forward(x);
            if (!last) x = torch::tanh(dropout(x, o.dropout, training, input.generator));
        } else if (!last) {
            x = dropout(x, o.dropout, training, input.generator); // between the stacked layers
        } else {
            x = torch::tanh(layer.projection->forward(x));
        }
    }
    return {maskFrames(x, lengths, 1), lengths};
}

torch::Tensor CtcAttentionImpl::ctcScores(const torch::Tensor& states) { return m_ctc->forward(states); }

CtcAttentionImpl::Memory CtcAttentionImpl::makeMemory(const torch::Tensor& states, const torch::Tensor& lengths) {
    return {states, m_attEnc->forward(states),
            frameMask(lengths.to(torch::kCPU, torch::kLong), states.size(1), states.device())};
}

CtcAttentionImpl::DecoderState CtcAttentionImpl::initialState(const Memory& memory, std::int64_t rows) {
    DecoderState state;
    const auto options = memory.states.options();
    for (std::int64_t l = 0; l < m_options.decoderLayers; ++l) {
        state.h.push_back(torch::zeros({rows, m_options.decoderUnits}, options));
        state.c.push_back(torch::zeros({rows, m_options.decoderUnits}, options));
    }
    // Uniform over the real frames.
    const torch::Tensor real = memory.mask.to(memory.states.scalar_type());
    torch::Tensor uniform = real / real.sum(1, true);
    state.attention = uniform.size(0) == rows ? uniform : uniform.expand({rows, uniform.size(1)}).contiguous();
    return state;
}

torch::Tensor CtcAttentionImpl::attend(const Memory& memory, const torch::Tensor& query, DecoderState& state) {
    // Location features: the previous weights convolved, [N, T', C] -> [N, T', A].
    const torch::Tensor location = m_attLoc->forward(m_attConv->forward(state.attention.unsqueeze(1)).transpose(1, 2));
    torch::Tensor e =
        m_attScore->forward(torch::tanh(location + memory.projected + m_attDec->forward(query).unsqueeze(1)))
            .squeeze(2);
    e = e.masked_fill(memory.mask.logical_not(), -std::numeric_limits<float>::infinity());
    state.attention = torch::softmax(m_options.attentionScaling * e, 1);
    return torch::matmul(state.attention.unsqueeze(1), memory.states).squeeze(1);
}

torch::Tensor CtcAttentionImpl::decoderStep(const torch::Tensor& previous, DecoderState& state, const Memory& memory,
                                            bool training, const at::Generator& gen) {
    const double p = m_options.decoderDropout;
    const torch::Tensor embedded = dropout(m_embedding->forward(previous), p, training, gen);
    const torch::Tensor context = attend(memory, dropout(state.h[0], p, training, gen), state);
    torch::Tensor x = torch::cat({embedded, context}, 1);
    for (std::size_t l = 0; l < m_cells.size(); ++l) {
        if (l > 0) x = dropout(state.h[l - 1], p, training, gen);
        std::tie(state.h[l], state.c[l]) = m_cells[l]->forward(x, std::make_tuple(state.h[l], state.c[l]));
    }
    return m_output->forward(dropout(state.h.back(), p, training, gen));
}

torch::Tensor CtcAttentionImpl::forward(const ModelInput& input) {
    const bool training = is_training();
    const std::int64_t eosId = eos();
    if (!input.targets.defined() || input.targets.dim() != 2 || input.targets.size(0) != input.features.size(0))
        throw Error("speech model: the labels [B, L] (ModelInput::targets) are needed for teacher forcing");
    const Encoded encoded = encode(input, training);
    const torch::Device device = encoded.states.device();
    const std::int64_t batch = encoded.states.size(0);

    // The labels on the CPU (ModelInput::hostTargets): units end at <eos> or the first padded position.
    const torch::Tensor labels = hostCopy(input.hostTargets, input.targets).to(torch::kLong).contiguous();
    const std::int64_t width = labels.size(1);
    std::vector<std::vector<std::int64_t>> units(batch);
    std::int64_t longest = 0, total = 0;
    for (std::int64_t b = 0; b < batch; ++b) {
        const std::int64_t* row = labels.data_ptr<std::int64_t>() + b * width;
        for (std::int64_t i = 0; i < width && row[i] != kIgnoreLabel && row[i] != eosId; ++i) {
            if (row[i] < 0 || row[i] >= m_options.vocab)
                throw Error("speech model: label " + std::to_string(row[i]) + " outside 0.." +
                            std::to_string(m_options.vocab - 1));
            units[b].push_back(row[i]);
        }
        longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(units[b].size()));
        total += static_cast<std::int64_t>(units[b].size());
    }
    m_attentionScale = m_options.scaleAttentionLoss && batch > 0 ? static_cast<double>(total) / batch : 1.0;

    // CTC on the encoder states.
    m_ctcLoss = torch::Tensor();
    if (m_options.ctcWeight > 0.0) {
        torch::Tensor targets = torch::zeros({batch, std::max<std::int64_t>(longest, 1)}, torch::kLong);
        torch::Tensor targetLengths = torch::zeros({batch}, torch::kLong);
        auto t = targets.accessor<std::int64_t, 2>();
        auto n = targetLengths.accessor<std::int64_t, 1>();
        for (std::int64_t b = 0; b < batch; ++b) {
            for (std::size_t i = 0; i < units[b].size(); ++i) t[b][static_cast<std::int64_t>(i)] = units[b][i];
            n[b] = static_cast<std::int64_t>(units[b].size());
        }
        const torch::Tensor scores = ctcScores(dropout(encoded.states, m_options.dropout, training, input.generator));
        const torch::Tensor logProbs = torch::log_softmax(scores, 2).transpose(0, 1); // [T', B, V]
        m_ctcLoss = torch::ctc_loss(logProbs, copyToDevice(targets, device), encoded.lengths, targetLengths, /*blank=*/0,
                                    at::Reduction::Sum, /*zero_infinity=*/true) /
                    static_cast<double>(std::max<std::int64_t>(batch, 1));
    }

    // Teacher forcing: inputs <sos> y1..yL (then <eos> as padding, as ESPnet pads), outputs
    // y1..yL <eos>.
    const std::int64_t steps = longest + 1;
    torch::Tensor previous = torch::full({batch, steps}, eosId, torch::kLong);
    auto p = previous.accessor<std::int64_t, 2>();
    for (std::int64_t b = 0; b < batch; ++b) {
        p[b][0] = sos();
        for (std::size_t i = 0; i < units[b].size(); ++i) p[b][static_cast<std::int64_t>(i) + 1] = units[b][i];
    }
    previous = copyToDevice(previous, device);
    const Memory memory = makeMemory(encoded.states, encoded.lengths);
    DecoderState state = initialState(memory, batch);
    std::vector<torch::Tensor> scores;
    scores.reserve(steps);
    for (std::int64_t i = 0; i < steps; ++i)
        scores.push_back(decoderStep(previous.select(1, i), state, memory, training, input.generator));
    return torch::stack(scores, 1);
}

torch::Tensor CtcAttentionImpl::objective(const torch::Tensor& studyLoss) {
    const double lambda = m_options.ctcWeight;
    if (lambda >= 1.0) {
        if (!m_ctcLoss.defined()) throw Error("speech model: objective() called before forward()");
        return m_ctcLoss;
    }
    const torch::Tensor attention = studyLoss * m_attentionScale;
    if (lambda <= 0.0) return attention;
    if (!m_ctcLoss.defined()) throw Error("speech model: objective() called before forward()");
    return lambda * m_ctcLoss + (1.0 - lambda) * attention;
}

std::vector<std::vector<std::int64_t>> CtcAttentionImpl::greedy(const ModelInput& input) {
    torch::NoGradGuard noGrad;
    const Encoded encoded = encode(input, false);
    const std::int64_t batch = encoded.states.size(0);
    const Memory memory = makeMemory(encoded.states, encoded.lengths);
    DecoderState state = initialState(memory, batch);

    std::vector<std::int64_t> limit(batch);
    std::int64_t steps = 0;
    for (std::int64_t b = 0; b < batch; ++b) {
        const double frames = static_cast<double>(encoded.lengths[b].item<std::int64_t>());
        limit[b] = std::max<std::int64_t>(1, static_cast<std::int64_t>(m_options.maxDecodeRatio * frames));
        steps = std::max(steps, limit[b]);
    }
    std::vector<std::vector<std::int64_t>> out(batch);
    std::vector<bool> done(batch, false);
    std::int64_t running = batch;
    torch::Tensor previous =
        torch::full({batch}, sos(), torch::TensorOptions().dtype(torch::kLong).device(encoded.states.device()));
    for (std::int64_t i = 0; i < steps && running > 0; ++i) {
        previous = decoderStep(previous, state, memory, false, input.generator).argmax(1);
        const torch::Tensor best = previous.to(torch::kCPU).contiguous();
        for (std::int64_t b = 0; b < batch; ++b) {
            if (done[b]) continue;
            const std::int64_t unit = best.data_ptr<std::int64_t>()[b];
            if (unit != eos()) out[b].push_back(unit);
            if (unit == eos() || static_cast<std::int64_t>(out[b].size()) >= limit[b]) {
                done[b] = true;
                --running;
            }
        }
    }
    return out;
}

namespace {

// The attention decoder of one utterance as a StepScorer: log_softmax of the raw scores.
class DecoderScorer final : public StepScorer {
public:
    DecoderScorer(CtcAttentionImpl& model, const CtcAttentionImpl::Memory& memory) : m_model(model), m_memory(memory) {}

    void reset() override { m_state = m_model.initialState(m_memory, 1); }

    torch::Tensor step(const std::vector<std::vector<std::int64_t>>& prefixes) override {
        const auto rows = static_cast<std::int64_t>(prefixes.size());
        if (rows != m_state.attention.size(0))
            throw Error("speech decoder: " + std::to_string(rows) + " hypotheses for " +
                        std::to_string(m_state.attention.size(0)) + " states");
        std::vector<std::int64_t> last(rows);
        for (std::int64_t n = 0; n < rows; ++n) last[n] = prefixes[n].back();
        const torch::Tensor previous = torch::tensor(last, torch::kLong).to(m_memory.states.device());
        m_pending = m_state;
        return torch::log_softmax(m_model.decoderStep(previous, m_pending, m_memory, false, at::Generator()), 1);
    }

    void select(const std::vector<std::int64_t>& rows) override {
        const torch::Tensor index = torch::tensor(rows, torch::kLong).to(m_memory.states.device());
        for (std::size_t l = 0; l < m_pending.h.size(); ++l) {
            m_state.h[l] = m_pending.h[l].index_select(0, index);
            m_state.c[l] = m_pending.c[l].index_select(0, index);
        }
        m_state.attention = m_pending.attention.index_select(0, index);
    }

private:
    CtcAttentionImpl& m_model;
    const CtcAttentionImpl::Memory& m_memory;
    CtcAttentionImpl::DecoderState m_state, m_pending;
};

} // namespace

std::vector<Hypothesis> CtcAttentionImpl::beamSearchNBest(const ModelInput& input, std::int64_t index,
                                                          const BeamOptions& options, std::int64_t nBest) {
    torch::NoGradGuard noGrad;
    if (!input.features.defined() || !input.lengths.defined() || index < 0 || index >= input.features.size(0))
        throw Error("speech model: no utterance " + std::to_string(index) + " in the batch");
    const std::int64_t frames = hostCopy(input.hostLengths, input.lengths).to(torch::kLong)[index].item<std::int64_t>();
    ModelInput one;
    one.features =
        input.features.narrow(0, index, 1).narrow(1, 0, std::clamp<std::int64_t>(frames, 1, input.features.size(1)));
    one.lengths = torch::full({1}, frames, torch::kLong);
    const Encoded encoded = encode(one, false);
    const Memory memory = makeMemory(encoded.states, encoded.lengths);
    DecoderScorer scorer(*this, memory);
    const std::int64_t encoderFrames = encoded.lengths[0].item<std::int64_t>();
    if (options.ctcWeight > 0.0) {
        const CtcPrefixScorer ctc(torch::log_softmax(ctcScores(encoded.states), 2)[0], /*blank=*/0, eos());
        return speech::beamSearch(scorer, &ctc, sos(), eos(), encoderFrames, options, nBest);
    }
    return speech::beamSearch(scorer, nullptr, sos(), eos(), encoderFrames, options, nBest);
}

std::vector<std::int64_t> CtcAttentionImpl::beamSearch(const ModelInput& input, std::int64_t index,
                                                       const BeamOptions& options) {
    return beamSearchNBest(input, index, options, 1).front().units;
}

std::vector<std::vector<std::int64_t>> CtcAttentionImpl::ctcGreedy(const ModelInput& input) {
    torch::NoGradGuard noGrad;
    const Encoded encoded = encode(input, false);
    return ctcBestPath(ctcScores(encoded.states), encoded.lengths, /*blank=*/0);
}

} // namespace losslab::speech
