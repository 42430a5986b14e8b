#pragma once
// Decoding of the speech recognisers, apart from any network: the label-synchronous beam
// search of ESPnet's RNN decoder (Decoder.recognize_beam in
// espnet/nets/pytorch_backend/rnn/decoders.py) driven through a small scorer interface, the
// CTC prefix scores it mixes in (Watanabe et al. 2017, "Hybrid CTC/attention architecture for
// end-to-end speech recognition", Algorithm 2; ESPnet's CTCPrefixScore) and the CTC best path.
//
// Scores are natural-log probabilities. A model trained with the square loss has raw scores,
// not log-probabilities: its scorer hands the search log_softmax of the raw scores (see
// ctc_attention.h for why), which ranks the units exactly as the raw scores do.
//
// Nothing here is thread-safe for a shared object; one search runs on one thread.
#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace losslab::speech {

// The next-unit scores of a left-to-right model for the live hypotheses of a search. The search
// calls step() with the live hypotheses (each a unit sequence starting with <sos>), then
// select() with the rows of that step whose states the next step() continues, in the order of
// the next step's hypotheses (a row may come back more than once, or not at all). The first
// step() after reset() gets the single hypothesis {<sos>}. A scorer keeps its per-hypothesis
// states itself (decoder LSTM and attention weights) in that row order.
class StepScorer {
public:
    virtual ~StepScorer() = default;
    // Starts a new search: forgets every state; the next step() gets {<sos>}.
    virtual void reset() = 0;
    // Log-probabilities [N, V] of the unit after each of the N prefixes (any floating dtype or
    // device; the search reads them on the CPU).
    virtual torch::Tensor step(const std::vector<std::vector<std::int64_t>>& prefixes) = 0;
    // The states reached by step() for `rows` become the states of the next step's hypotheses.
    virtual void select(const std::vector<std::int64_t>& rows) = 0;
};

// CTC prefix scores of one utterance: psi(h) = log sum of P(path | x) over the CTC paths whose
// collapsed labelling starts with h, and, for the candidate <eos>, log P(g | x) of the finished
// labelling g. The blank as a candidate gets kLogZero. Forward variables are kept per prefix
// (State) so that extending a prefix costs O(T) per candidate. Computed in double precision on
// the CPU.
class CtcPrefixScorer {
public:
    // ESPnet's log of zero: finite, so that differences of impossible scores stay finite.
    static constexpr double kLogZero = -1e10;

    // The CTC forward variables of a prefix g: for every frame t, log r_t^n(g) (paths over
    // frames 0..t ending in g's last unit) and log r_t^b(g) (ending in blank), interleaved
    // [T][2]; and log psi(g) (0 for the empty prefix).
    struct State {
        std::vector<double> r;
        double prefixScore = 0.0;
    };

    // logProbs [T, V]: one utterance's CTC log-posteriors (log_softmax of the CTC scores over its
    // T real frames). Throws losslab::Error on a shape that is not [T >= 1, V > max(blank, eos)].
    CtcPrefixScorer(const torch::Tensor& logProbs, std::int64_t blank, std::int64_t eos);

    std::int64_t frames() const { return m_frames; }
    // The state of the empty prefix (<sos> only).
    State initialState() const;
    // The states of `prefix` + c for every candidate c (prefixScore = psi(prefix + c)), given the
    // state of `prefix`. `prefix` holds the units of g without <sos>.
    std::vector<State> extend(const std::vector<std::int64_t>& prefix, const State& state,
                              const std::vector<std::int64_t>& candidates) const;

private:
    double logProb(std::int64_t t, std::int64_t unit) const { return m_logProbs[t * m_units + unit]; }
    std::vector<double> m_logProbs; // [T][V]
    std::int64_t m_frames, m_units, m_blank, m_eos;
};

// Beam search options. Defaults: ESPnet's TIMIT recipe, egs/timit/asr1/conf/decode.yaml
// (beam-size 20, penalty 0.0, maxlenratio 0.0, minlenratio 0.0, ctc-weight 0.5).
struct BeamOptions {
    std::int64_t beamSize = 20;
    // ESPnet's `penalty`, a length bonus per decoder step: a hypothesis that ends with <eos> after
    // u units gets (u + 1) * lengthBonus added to its score, one cut at the length limit u *
    // lengthBonus. Positive favours longer output.
    double lengthBonus = 0.0;
    // Rank finished hypotheses by score / (u + 2) (ESPnet's recognize_beam_batch with
    // normalize_score: the length of the sequence with <sos> and <eos>) instead of the total
    // score (recognize_beam, what ESPnet's recog uses for one utterance at a time: the default).
    bool normalizeByLength = false;
    // At most max(1, int(maxLengthRatio * T)) units, T the encoder frames; 0: T units (ESPnet's
    // maxlenratio). When the limit is reached the live hypotheses end there.
    double maxLengthRatio = 0.0;
    // Finished hypotheses with fewer than int(minLengthRatio * T) units are dropped (ESPnet's
    // minlenratio; ESPnet counts <sos> and <eos> too and so allows one unit less). When none is
    // left the search runs again with the ratio lowered by 0.1, as ESPnet does.
    double minLengthRatio = 0.0;
    // lambda of the joint score (1 - lambda) * log p_att + lambda * log p_ctc (Watanabe et al.
    // 2017, Eq. 42); used when the search is given CTC posteriors. With 0 < lambda < 1 only the
    // int(1.5 * beamSize) best units of the decoder are scored by CTC (ESPnet's
    // CTC_SCORING_RATIO); with lambda = 1 every unit is.
    double ctcWeight = 0.5;
    // ESPnet's end_detect: with maxLengthRatio 0, stop once for each of the last 3 lengths the
    // best finished hypothesis of that length is e^10 times less likely than the best one.
    bool endDetection = true;
};

struct Hypothesis {
    std::vector<std::int64_t> units; // without <sos> and <eos>
    double score = 0.0;              // summed log-probabilities plus the length bonus
    double rankScore = 0.0;          // what the ranking used: score, or score / (u + 2)
};

// The finished hypotheses, best first (at most nBest; never empty). `encoderFrames` is T of the
// length ratios; `ctc` may be null (no CTC scores: ctcWeight is ignored). Hypotheses that
// choose <eos> at step i end with i units; the others run on to the length limit. sos and eos are
// the ids the scorer reads and emits (the same id, V - 1, in the speech models).
std::vector<Hypothesis> beamSearch(StepScorer& scorer, const CtcPrefixScorer* ctc, std::int64_t sos, std::int64_t eos,
                                   std::int64_t encoderFrames, const BeamOptions& options, std::int64_t nBest = 1);

// CTC output rule: merge repeated labels, then drop blanks ({0,1,1,0,1,2,2,0} -> {1,1,2}).
std::vector<std::int64_t> ctcCollapse(const std::vector<std::int64_t>& path, std::int64_t blank = 0);

// Best path decoding of a batch: scores [B, T, V] (raw scores or log-probabilities: the argmax
// is the same), lengths [B] (int64, any device; each <= T): the collapsed argmax path of each
// utterance's first lengths[b] frames.
std::vector<std::vector<std::int64_t>> ctcBestPath(const torch::Tensor& scores, const torch::Tensor& lengths,
                                                   std::int64_t blank = 0);

} // namespace losslab::speech
