#include "speech_decoding.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <utility>

#include "losslab/error.h"

namespace losslab::speech {

namespace {

constexpr double kLogZero = CtcPrefixScorer::kLogZero;

double logAddExp(double a, double b) {
    if (a < b) std::swap(a, b);
    return a + std::log1p(std::exp(b - a));
}

// Indices of the k largest values, largest first; ties go to the lower index, so that a search
// is reproducible whatever the sort implementation.
std::vector<std::int64_t> topIndices(const std::vector<double>& values, std::int64_t k) {
    std::vector<std::int64_t> order(values.size());
    std::iota(order.begin(), order.end(), 0);
    k = std::min<std::int64_t>(k, static_cast<std::int64_t>(order.size()));
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](std::int64_t a, std::int64_t b) {
        return values[a] > values[b] || (values[a] == values[b] && a < b);
    });
    order.resize(k);
    return order;
}

struct LiveHypothesis {
    std::vector<std::int64_t> yseq; // <sos> first
    double score = 0.0;
    CtcPrefixScorer::State ctc;
};

struct Candidate {
    std::int64_t parent = 0;
    std::int64_t unit = 0;
    double score = 0.0;
    CtcPrefixScorer::State ctc;
};

// ESPnet's end_detect (espnet/nets/e2e_asr_common.py) with M = 3 and D_end = log(e^-10): a
// finished hypothesis of u units has ESPnet length u + 2 (<sos> and <eos>).
bool endDetected(const std::vector<Hypothesis>& ended, std::int64_t step) {
    if (ended.empty()) return false;
    constexpr int kLengths = 3;
    constexpr double kMargin = -10.0;
    double best = ended.front().rankScore;
    for (const Hypothesis& h : ended) best = std::max(best, h.rankScore);
    int count = 0;
    for (int m = 0; m < kLengths; ++m) {
        const std::int64_t length = step - m;
        bool found = false;
        double bestOfLength = 0.0;
        for (const Hypothesis& h : ended) {
            if (static_cast<std::int64_t>(h.units.size()) + 2 != length) continue;
            bestOfLength = found ? std::max(bestOfLength, h.rankScore) : h.rankScore;
            found = true;
        }
        if (found && bestOfLength - best < kMargin) ++count;
    }
    return count == kLengths;
}

std::vector<Hypothesis> search(StepScorer& scorer, const CtcPrefixScorer* ctc, std::int64_t sos, std::int64_t eos,
                               std::int64_t frames, const BeamOptions& options, double minLengthRatio,
                               std::int64_t nBest) {
    const std::int64_t beam = options.beamSize;
    const std::int64_t maxLength =
        options.maxLengthRatio == 0.0
            ? frames
            : std::max<std::int64_t>(1, static_cast<std::int64_t>(options.maxLengthRatio * frames));
    const auto minLength = static_cast<std::int64_t>(minLengthRatio * frames);
    const bool useCtc = ctc != nullptr && options.ctcWeight > 0.0;
    const double ctcWeight = useCtc ? options.ctcWeight : 0.0;

    scorer.reset();
    std::vector<LiveHypothesis> live(1);
    live[0].yseq = {sos};
    if (useCtc) live[0].ctc = ctc->initialState();
    std::vector<Hypothesis> ended;

    for (std::int64_t i = 0; i < std::max<std::int64_t>(maxLength, 1); ++i) {
        std::vector<std::vector<std::int64_t>> prefixes;
        prefixes.reserve(live.size());
        for (const LiveHypothesis& h : live) prefixes.push_back(h.yseq);
        const torch::Tensor logProbs = scorer.step(prefixes).detach().to(torch::kCPU, torch::kDouble).contiguous();
        if (logProbs.dim() != 2 || logProbs.size(0) != static_cast<std::int64_t>(live.size()))
            throw Error("beam search: the scorer returned scores of shape " + std::to_string(logProbs.dim()) +
                        "-d for " + std::to_string(live.size()) + " hypotheses; expected [N, V]");
        const std::int64_t units = logProbs.size(1);
        const double* table = logProbs.data_ptr<double>();

        std::vector<Candidate> candidates;
        for (std::size_t n = 0; n < live.size(); ++n) {
            const LiveHypothesis& h = live[n];
            const std::vector<double> row(table + n * units, table + (n + 1) * units);
            if (!useCtc) {
                for (std::int64_t c : topIndices(row, beam))
                    candidates.push_back({static_cast<std::int64_t>(n), c, h.score + row[c], {}});
                continue;
            }
            // CTC prefix scores of the decoder's best units only (all units when lambda = 1).
            std::vector<std::int64_t> ids;
            if (ctcWeight < 1.0) {
                ids = topIndices(row, std::min<std::int64_t>(units, static_cast<std::int64_t>(beam * 1.5)));
            } else {
                ids.resize(units);
                std::iota(ids.begin(), ids.end(), 0);
            }
            const std::vector<std::int64_t> prefix(h.yseq.begin() + 1, h.yseq.end());
            std::vector<CtcPrefixScorer::State> states = ctc->extend(prefix, h.ctc, ids);
            std::vector<double> joint(ids.size());
            for (std::size_t k = 0; k < ids.size(); ++k)
                joint[k] = (1.0 - ctcWeight) * row[ids[k]] + ctcWeight * (states[k].prefixScore - h.ctc.prefixScore);
            for (std::int64_t k : topIndices(joint, beam))
                candidates.push_back({static_cast<std::int64_t>(n), ids[k], h.score + joint[k], std::move(states[k])});
        }
        std::stable_sort(candidates.begin(), candidates.end(),
                         [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
        if (static_cast<std::int64_t>(candidates.size()) > beam) candidates.resize(beam);

        // A hypothesis that chose <eos> ends; at the length limit every hypothesis ends.
        const bool last = i + 1 >= maxLength;
        std::vector<LiveHypothesis> next;
        std::vector<std::int64_t> rows;
        for (Candidate& c : candidates) {
            const LiveHypothesis& parent = live[c.parent];
            if (c.unit == eos || last) {
                Hypothesis done;
                done.units.assign(parent.yseq.begin() + 1, parent.yseq.end());
                if (c.unit != eos) done.units.push_back(c.unit);
                const auto length = static_cast<std::int64_t>(done.units.size());
                if (length < minLength) continue;
                // ESPnet's bonus counts the steps taken: u + 1 with <eos>, u when cut at the limit.
                done.score = c.score + static_cast<double>(i + 1) * options.lengthBonus;
                done.rankScore = options.normalizeByLength ? done.score / static_cast<double>(length + 2) : done.score;
                ended.push_back(std::move(done));
                continue;
            }
            LiveHypothesis h;
            h.yseq = parent.yseq;
            h.yseq.push_back(c.unit);
            h.score = c.score;
            h.ctc = std::move(c.ctc);
            next.push_back(std::move(h));
            rows.push_back(c.parent);
        }
        if (options.endDetection && options.maxLengthRatio == 0.0 && endDetected(ended, i)) break;
        if (next.empty()) break;
        scorer.select(rows);
        live = std::move(next);
    }

    if (ended.empty()) {
        if (minLengthRatio > 0.0)
            return search(scorer, ctc, sos, eos, frames, options, std::max(0.0, minLengthRatio - 0.1), nBest);
        throw Error("beam search: no hypothesis ended"); // unreachable: every hypothesis ends at the limit
    }
    std::stable_sort(ended.begin(), ended.end(),
                     [](const Hypothesis& a, const Hypothesis& b) { return a.rankScore > b.rankScore; });
    if (static_cast<std::int64_t>(ended.size()) > nBest) ended.resize(nBest);
    return ended;
}

} // namespace

CtcPrefixScorer::CtcPrefixScorer(const torch::Tensor& logProbs, std::int64_t blank, std::int64_t eos)
    : m_blank(blank), m_eos(eos) {
    if (logProbs.dim() != 2 || logProbs.size(0) < 1 || logProbs.size(1) <= std::max(blank, eos) || blank < 0 || eos < 0)
        throw Error("CTC prefix scorer: expected log-probabilities [T >= 1, V] with V above the blank (" +
                    std::to_string(blank) + ") and <eos> (" + std::to_string(eos) + ") ids, got " +
                    std::to_string(logProbs.dim()) + "-d " +
                    (logProbs.dim() == 2 ? std::to_string(logProbs.size(0)) + " x " + std::to_string(logProbs.size(1))
                                         : std::string()));
    m_frames = logProbs.size(0);
    m_units = logProbs.size(1);
    const torch::Tensor table = logProbs.detach().to(torch::kCPU, torch::kDouble).contiguous();
    m_logProbs.assign(table.data_ptr<double>(), table.data_ptr<double>() + table.numel());
}

CtcPrefixScorer::State CtcPrefixScorer::initialState() const {
    State state;
    state.r.assign(2 * m_frames, kLogZero);
    double blanks = 0.0;
    for (std::int64_t t = 0; t < m_frames; ++t) {
        blanks += logProb(t, m_blank);
        state.r[2 * t + 1] = blanks; // only blanks so far
    }
    state.prefixScore = 0.0;
    return state;
}

std::vector<CtcPrefixScorer::State> CtcPrefixScorer::extend(const std::vector<std::int64_t>& prefix, const State& state,
                                                            const std::vector<std::int64_t>& candidates) const {
    const std::int64_t T = m_frames;
    const auto L = static_cast<std::int64_t>(prefix.size());
    if (static_cast<std::int64_t>(state.r.size()) != 2 * T)
        throw Error("CTC prefix scorer: a state of " + std::to_string(state.r.size() / 2) +
                    " frames for an utterance of " + std::to_string(T));
    // log(r_t^n(g) + r_t^b(g)): every path over frames 0..t that emits g.
    std::vector<double> emitted(T);
    for (std::int64_t t = 0; t < T; ++t) emitted[t] = logAddExp(state.r[2 * t], state.r[2 * t + 1]);

    std::vector<State> out(candidates.size());
    for (std::size_t k = 0; k < candidates.size(); ++k) {
        const std::int64_t c = candidates[k];
        State& s = out[k];
        s.r.assign(2 * T, kLogZero);
        if (c < 0 || c >= m_units)
            throw Error("CTC prefix scorer: candidate unit " + std::to_string(c) + " outside 0.." +
                        std::to_string(m_units - 1));
        if (c == m_blank || L >= T) { // a blank is no label; L + 1 labels need L + 1 frames
            s.prefixScore = kLogZero;
            continue;
        }
        if (c == m_eos) { // the labelling ends with g: P(g | x)
            s.prefixScore = emitted[T - 1];
            continue;
        }
        // phi_t: paths that emit g by frame t and may emit c next; a repeated unit needs a blank
        // in between.
        const bool repeat = L > 0 && prefix.back() == c;
        auto phi = [&](std::int64_t t) { return repeat ? state.r[2 * t + 1] : emitted[t]; };
        if (L == 0) s.r[0] = logProb(0, c); // c on the first frame
        const std::int64_t start = std::max<std::int64_t>(L, 1);
        double psi = s.r[2 * (start - 1)];
        for (std::int64_t t = start; t < T; ++t) {
            const double x = logProb(t, c);
            s.r[2 * t] = logAddExp(s.r[2 * (t - 1)], phi(t - 1)) + x;
            s.r[2 * t + 1] = logAddExp(s.r[2 * (t - 1)], s.r[2 * (t - 1) + 1]) + logProb(t, m_blank);
            psi = logAddExp(psi, phi(t - 1) + x);
        }
        s.prefixScore = psi;
    }
    return out;
}

std::vector<Hypothesis> beamSearch(StepScorer& scorer, const CtcPrefixScorer* ctc, std::int64_t sos, std::int64_t eos,
                                   std::int64_t encoderFrames, const BeamOptions& options, std::int64_t nBest) {
    if (options.beamSize < 1)
        throw Error("beam search: beam size must be at least 1, got " + std::to_string(options.beamSize));
    if (nBest < 1) throw Error("beam search: n-best must be at least 1, got " + std::to_string(nBest));
    if (options.ctcWeight < 0.0 || options.ctcWeight > 1.0)
        throw Error("beam search: CTC weight must lie in [0, 1], got " + std::to_string(options.ctcWeight));
    if (options.maxLengthRatio < 0.0 || options.minLengthRatio < 0.0)
        throw Error("beam search: length ratios must not be negative");
    if (encoderFrames < 1) throw Error("beam search: an utterance needs at least one encoder frame");
    if (ctc != nullptr && ctc->frames() != encoderFrames)
        throw Error("beam search: CTC posteriors of " + std::to_string(ctc->frames()) + " frames for an utterance of " +
                    std::to_string(encoderFrames));
    return search(scorer, ctc, sos, eos, encoderFrames, options, options.minLengthRatio, nBest);
}

std::vector<std::int64_t> ctcCollapse(const std::vector<std::int64_t>& path, std::int64_t blank) {
    std::vector<std::int64_t> out;
    std::int64_t previous = -1;
    bool first = true;
    for (std::int64_t label : path) {
        if ((first || label != previous) && label != blank) out.push_back(label);
        previous = label;
        first = false;
    }
    return out;
}

std::vector<std::vector<std::int64_t>> ctcBestPath(const torch::Tensor& scores, const torch::Tensor& lengths,
                                                   std::int64_t blank) {
    if (scores.dim() != 3 || lengths.dim() != 1 || lengths.size(0) != scores.size(0))
        throw Error("CTC best path: expected scores [B, T, V] and lengths [B]");
    const torch::Tensor best = scores.detach().argmax(2).to(torch::kCPU, torch::kLong).contiguous();
    const torch::Tensor n = lengths.detach().to(torch::kCPU, torch::kLong).contiguous();
    const std::int64_t T = best.size(1);
    std::vector<std::vector<std::int64_t>> out(scores.size(0));
    for (std::int64_t b = 0; b < best.size(0); ++b) {
        const std::int64_t length = std::clamp<std::int64_t>(n[b].item<std::int64_t>(), 0, T);
        const std::int64_t* row = best.data_ptr<std::int64_t>() + b * T;
        out[b] = ctcCollapse(std::vector<std::int64_t>(row, row + length), blank);
    }
    return out;
}

} // namespace losslab::speech
