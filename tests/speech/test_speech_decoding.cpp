// The speech plugin's decoding apart from any network (speech_decoding.h): the beam search driven
// by scripted scorers whose best sequences are known by enumeration, CTC prefix scores against
// sums over every CTC path, and the CTC best path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <vector>

#include "error_matchers.h"
#include "losslab/error.h"
#include "losslab/tasks/model_random.h"
#include "speech_decoding.h"

namespace losslab::speech {
namespace {

using Units = std::vector<std::int64_t>;

// Units of the scripted tests: 0 <blank>, 1 and 2 real units, 3 <sos/eos>.
constexpr std::int64_t kBlank = 0, kEos = 3, kVocab = 4;

// A scorer whose next-unit probabilities depend on the whole prefix (<sos> included), looked up
// in a table, with `fallback` for prefixes the table lacks. It also checks the StepScorer
// contract: every prefix of a step extends the prefix of the row select() named for it.
class ScriptedScorer final : public StepScorer {
public:
    ScriptedScorer(std::map<Units, std::vector<double>> table, std::vector<double> fallback)
        : m_table(std::move(table)), m_fallback(std::move(fallback)) {}

    void reset() override {
        m_previous.clear();
        m_selected.clear();
        ++resets;
    }

    torch::Tensor step(const std::vector<Units>& prefixes) override {
        if (m_previous.empty()) {
            EXPECT_EQ(prefixes.size(), 1u);
            EXPECT_EQ(prefixes.front(), Units{kEos}); // <sos> alone
        } else {
            EXPECT_EQ(prefixes.size(), m_selected.size());
            for (std::size_t k = 0; k < prefixes.size() && k < m_selected.size(); ++k)
                EXPECT_EQ(Units(prefixes[k].begin(), prefixes[k].end() - 1), m_selected[k]);
        }
        m_previous = prefixes;
        torch::Tensor out = torch::empty({static_cast<std::int64_t>(prefixes.size()), kVocab}, torch::kDouble);
        for (std::size_t n = 0; n < prefixes.size(); ++n) {
            const auto found = m_table.find(prefixes[n]);
            const std::vector<double>& p = found == m_table.end() ? m_fallback : found->second;
            for (std::int64_t v = 0; v < kVocab; ++v) out[n][v] = std::log(std::max(p[v], 1e-12));
        }
        ++steps;
        return out;
    }

    void select(const std::vector<std::int64_t>& rows) override {
        m_selected.clear();
        for (std::int64_t r : rows) {
            EXPECT_GE(r, 0);
            EXPECT_LT(r, static_cast<std::int64_t>(m_previous.size()));
            m_selected.push_back(m_previous.at(r));
        }
    }

    // log P(units, then <eos> unless the length limit forced the end) under the table.
    double logProbability(const Units& units, bool forcedEnd) const {
        Units prefix{kEos};
        double total = 0.0;
        auto probs = [&](const Units& p) -> const std::vector<double>& {
            const auto found = m_table.find(p);
            return found == m_table.end() ? m_fallback : found->second;
        };
        for (std::int64_t u : units) {
            total += std::log(std::max(probs(prefix)[u], 1e-12));
            prefix.push_back(u);
        }
        if (!forcedEnd) total += std::log(std::max(probs(prefix)[kEos], 1e-12));
        return total;
    }

    int resets = 0;
    int steps = 0;

private:
    std::map<Units, std::vector<double>> m_table;
    std::vector<double> m_fallback;
    std::vector<Units> m_previous, m_selected;
};

// Every unit sequence over {1, 2} of at most maxLength units; those of maxLength units end
// there without <eos>, as the search ends them.
Units bestByEnumeration(const ScriptedScorer& scorer, std::int64_t maxLength, double* bestScore) {
    Units best;
    double bestLog = -INFINITY;
    std::function<void(Units&)> visit = [&](Units& units) {
        const bool forced = static_cast<std::int64_t>(units.size()) == maxLength;
        const double score = scorer.logProbability(units, forced);
        if (score > bestLog) {
            bestLog = score;
            best = units;
        }
        if (forced) return;
        for (std::int64_t u : {1, 2}) {
            units.push_back(u);
            visit(units);
            units.pop_back();
        }
    };
    Units empty;
    visit(empty);
    if (bestScore) *bestScore = bestLog;
    return best;
}

BeamOptions plainBeam(std::int64_t beam) {
    BeamOptions options;
    options.beamSize = beam;
    options.ctcWeight = 0.0;
    options.endDetection = false;
    return options;
}

// Greedy picks 1 (0.6) then 1 (0.34) then <eos>: P = 0.196; the sequence "2" has 0.4 * 0.9 = 0.36.
ScriptedScorer greedyTrap() {
    return ScriptedScorer({{{3}, {0.0, 0.6, 0.4, 0.0}},
                           {{3, 1}, {0.0, 0.34, 0.33, 0.33}},
                           {{3, 2}, {0.0, 0.05, 0.05, 0.9}},
                           {{3, 1, 1}, {0.0, 0.02, 0.02, 0.96}}},
                          {0.0, 0.01, 0.01, 0.98});
}

TEST(SpeechDecodingBeam, GreedyAndBeamDifferAndBeamFindsTheBestSequence) {
    ScriptedScorer scorer = greedyTrap();
    const std::int64_t frames = 4; // at most 4 units
    double bestScore = 0.0;
    const Units best = bestByEnumeration(scorer, frames, &bestScore);
    ASSERT_EQ(best, (Units{2}));

    const auto greedy = beamSearch(scorer, nullptr, kEos, kEos, frames, plainBeam(1));
    ASSERT_EQ(greedy.size(), 1u);
    EXPECT_EQ(greedy[0].units, (Units{1, 1}));
    EXPECT_NEAR(greedy[0].score, std::log(0.6 * 0.34 * 0.96), 1e-9);

    for (std::int64_t beam : {2, 3, 8}) {
        const auto found = beamSearch(scorer, nullptr, kEos, kEos, frames, plainBeam(beam));
        EXPECT_EQ(found[0].units, best) << "beam " << beam;
        EXPECT_NEAR(found[0].score, bestScore, 1e-9) << "beam " << beam;
    }
}

TEST(SpeechDecodingBeam, NBestIsSortedAndDistinct) {
    ScriptedScorer scorer = greedyTrap();
    const auto nbest = beamSearch(scorer, nullptr, kEos, kEos, 4, plainBeam(4), 3);
    ASSERT_EQ(nbest.size(), 3u);
    EXPECT_EQ(nbest[0].units, (Units{2}));
    for (std::size_t i = 0; i < nbest.size(); ++i) {
        EXPECT_NEAR(nbest[i].score, scorer.logProbability(nbest[i].units, false), 1e-9);
        if (i > 0) {
            EXPECT_GE(nbest[i - 1].rankScore, nbest[i].rankScore);
            EXPECT_NE(nbest[i - 1].units, nbest[i].units);
        }
    }
}

// "" has P 0.4 (log -0.92), "1" has 0.6 * 0.5 = 0.3 (log -1.20), "1 1" 0.6 * 0.25 * 0.98 = 0.147.
ScriptedScorer shortVersusLong() {
    return ScriptedScorer({{{3}, {0.0, 0.6, 0.0, 0.4}}, {{3, 1}, {0.0, 0.25, 0.25, 0.5}}}, {0.0, 0.01, 0.01, 0.98});
}

TEST(SpeechDecodingBeam, LengthNormalisationChangesTheWinner) {
    ScriptedScorer scorer = shortVersusLong();
    BeamOptions options = plainBeam(3);
    const auto total = beamSearch(scorer, nullptr, kEos, kEos, 5, options);
    EXPECT_EQ(total[0].units, Units{});
    EXPECT_NEAR(total[0].score, std::log(0.4), 1e-9);

    options.normalizeByLength = true; // score / (units + 2): -0.458 for "", -0.401 for "1"
    const auto normalised = beamSearch(scorer, nullptr, kEos, kEos, 5, options);
    EXPECT_EQ(normalised[0].units, (Units{1}));
    EXPECT_NEAR(normalised[0].rankScore, std::log(0.3) / 3.0, 1e-9);
    EXPECT_NEAR(normalised[0].score, std::log(0.3), 1e-9);
}

TEST(SpeechDecodingBeam, LengthBonusChangesTheWinner) {
    ScriptedScorer scorer = shortVersusLong();
    BeamOptions options = plainBeam(3);
    options.lengthBonus = 0.5; // (units + 1) * 0.5: "" -0.42, "1" -0.20, "1 1" -0.42
    const auto found = beamSearch(scorer, nullptr, kEos, kEos, 5, options);
    EXPECT_EQ(found[0].units, (Units{1}));
    EXPECT_NEAR(found[0].score, std::log(0.3) + 1.0, 1e-9);
}

TEST(SpeechDecodingBeam, LengthLimitEndsHypotheses) {
    ScriptedScorer never({}, {0.0, 0.5, 0.49, 0.01}); // <eos> is never the best unit
    const auto limited = beamSearch(never, nullptr, kEos, kEos, 3, plainBeam(2));
    EXPECT_EQ(limited[0].units, (Units{1, 1, 1})); // maxLengthRatio 0: T = 3 units
    EXPECT_NEAR(limited[0].score, 3 * std::log(0.5), 1e-9);
    BeamOptions bonus = plainBeam(2);
    bonus.lengthBonus = 1.0; // 3 steps, no <eos>: + 3
    EXPECT_NEAR(beamSearch(never, nullptr, kEos, kEos, 3, bonus)[0].score, 3 * std::log(0.5) + 3.0, 1e-9);

    BeamOptions options = plainBeam(2);
    options.maxLengthRatio = 2.0;
    EXPECT_EQ(beamSearch(never, nullptr, kEos, kEos, 3, options)[0].units.size(), 6u);
    options.maxLengthRatio = 0.1; // max(1, int(0.3))
    EXPECT_EQ(beamSearch(never, nullptr, kEos, kEos, 3, options)[0].units.size(), 1u);
}

TEST(SpeechDecodingBeam, MinimumLengthDropsShortHypotheses) {
    ScriptedScorer eager({}, {0.0, 0.05, 0.05, 0.9}); // <eos> at once is the best
    EXPECT_EQ(beamSearch(eager, nullptr, kEos, kEos, 4, plainBeam(3))[0].units, Units{});

    BeamOptions options = plainBeam(3);
    options.minLengthRatio = 0.5; // at least 2 units
    const auto found = beamSearch(eager, nullptr, kEos, kEos, 4, options);
    EXPECT_EQ(found[0].units.size(), 2u);
    EXPECT_EQ(eager.resets, 2);

    // Impossible (3 units within 2 frames): ESPnet lowers the ratio by 0.1 until a hypothesis
    // is long enough (1.4 * 2 -> 2 units).
    options.minLengthRatio = 1.5;
    const auto retried = beamSearch(eager, nullptr, kEos, kEos, 2, options);
    EXPECT_EQ(retried[0].units.size(), 2u);
    EXPECT_EQ(eager.resets, 4);
}

TEST(SpeechDecodingBeam, EndDetectionStopsOnceLongerHypothesesAreHopeless) {
    // <eos> first with 0.9, then every extension has P(<eos>) 0.98 but costs 1e-6 per unit.
    // Beam 4 keeps two live hypotheses beside the two that end at each step.
    ScriptedScorer scorer({{{3}, {0.0, 0.05, 0.05, 0.9}}}, {0.0, 1e-6, 1e-6, 1.0 - 2e-6});
    BeamOptions options = plainBeam(4);
    options.endDetection = true;
    const auto found = beamSearch(scorer, nullptr, kEos, kEos, 50, options);
    EXPECT_EQ(found[0].units, Units{});
    EXPECT_LT(scorer.steps, 10); // not all 50 steps
    options.endDetection = false;
    ScriptedScorer again({{{3}, {0.0, 0.05, 0.05, 0.9}}}, {0.0, 1e-6, 1e-6, 1.0 - 2e-6});
    EXPECT_EQ(beamSearch(again, nullptr, kEos, kEos, 50, options)[0].units, Units{});
    EXPECT_EQ(again.steps, 50);
}

TEST(SpeechDecodingBeam, RejectsBadOptions) {
    ScriptedScorer scorer = greedyTrap();
    EXPECT_TRUE(
        fixtures::throwsErrorWith([&] { beamSearch(scorer, nullptr, kEos, kEos, 4, plainBeam(0)); }, {"beam size"}));
    BeamOptions options = plainBeam(2);
    options.ctcWeight = 1.5;
    EXPECT_TRUE(
        fixtures::throwsErrorWith([&] { beamSearch(scorer, nullptr, kEos, kEos, 4, options); }, {"CTC weight"}));
    const CtcPrefixScorer ctc(torch::zeros({3, kVocab}), kBlank, kEos);
    EXPECT_TRUE(
        fixtures::throwsErrorWith([&] { beamSearch(scorer, &ctc, kEos, kEos, 4, plainBeam(2)); }, {"3 frames"}));
    auto tooFewUnits = [] { (void)CtcPrefixScorer(torch::zeros({3, 2}), kBlank, kEos); };
    EXPECT_TRUE(fixtures::throwsErrorWith(tooFewUnits, {"<eos>"}));
}

// ---- CTC prefix scores against every path ----

// CTC log-posteriors [T, V] from a seeded generator.
torch::Tensor randomLogPosteriors(std::int64_t frames, std::int64_t vocab, std::uint64_t seed, double sharpness) {
    at::Generator gen = makeGenerator(torch::Device(torch::kCPU), seed);
    return torch::log_softmax(sharpness * torch::randn({frames, vocab}, gen, torch::kDouble), 1);
}

// Sums over all V^T paths: prefix[h] = P(the collapsed labelling starts with h) and full[g] =
// P(the labelling is g), for every labelling that occurs.
struct PathSums {
    std::map<Units, double> prefix, full;
};

PathSums sumOverPaths(const torch::Tensor& logProbs, std::int64_t blank) {
    const std::int64_t T = logProbs.size(0), V = logProbs.size(1);
    PathSums sums;
    Units path(T, 0);
    std::function<void(std::int64_t, double)> visit = [&](std::int64_t t, double logP) {
        if (t == T) {
            const Units labels = ctcCollapse(path, blank);
            const double p = std::exp(logP);
            sums.full[labels] += p;
            for (std::size_t n = 0; n <= labels.size(); ++n)
                sums.prefix[Units(labels.begin(), labels.begin() + n)] += p;
            return;
        }
        for (std::int64_t v = 0; v < V; ++v) {
            path[t] = v;
            visit(t + 1, logP + logProbs[t][v].item<double>());
        }
    };
    visit(0, 0.0);
    return sums;
}

double logOf(const std::map<Units, double>& table, const Units& key) {
    const auto found = table.find(key);
    return found == table.end() ? -INFINITY : std::log(found->second);
}

TEST(SpeechDecodingCtcPrefix, ScoresEqualSumsOverAllPaths) {
    const torch::Tensor logProbs = randomLogPosteriors(5, kVocab, 3, 1.0);
    const PathSums sums = sumOverPaths(logProbs, kBlank);
    const CtcPrefixScorer ctc(logProbs, kBlank, kEos);
    EXPECT_EQ(ctc.frames(), 5);

    const CtcPrefixScorer::State start = ctc.initialState();
    EXPECT_EQ(start.prefixScore, 0.0);
    const auto first = ctc.extend({}, start, {1, 2, kEos, kBlank});
    EXPECT_NEAR(first[0].prefixScore, logOf(sums.prefix, {1}), 1e-9);
    EXPECT_NEAR(first[1].prefixScore, logOf(sums.prefix, {2}), 1e-9);
    EXPECT_NEAR(first[2].prefixScore, logOf(sums.full, {}), 1e-9); // all blanks
    EXPECT_EQ(first[3].prefixScore, CtcPrefixScorer::kLogZero);

    // A repeated unit needs a blank in between; <eos> ends the labelling.
    const auto second = ctc.extend({1}, first[0], {1, 2, kEos});
    EXPECT_NEAR(second[0].prefixScore, logOf(sums.prefix, {1, 1}), 1e-9);
    EXPECT_NEAR(second[1].prefixScore, logOf(sums.prefix, {1, 2}), 1e-9);
    EXPECT_NEAR(second[2].prefixScore, logOf(sums.full, {1}), 1e-9);

    const auto third = ctc.extend({1, 2}, second[1], {2, 1, kEos});
    EXPECT_NEAR(third[0].prefixScore, logOf(sums.prefix, {1, 2, 2}), 1e-9);
    EXPECT_NEAR(third[1].prefixScore, logOf(sums.prefix, {1, 2, 1}), 1e-9);
    EXPECT_NEAR(third[2].prefixScore, logOf(sums.full, {1, 2}), 1e-9);

    const auto fourth = ctc.extend({1, 2, 2}, third[0], {1, kEos});
    EXPECT_NEAR(fourth[0].prefixScore, logOf(sums.prefix, {1, 2, 2, 1}), 1e-9);
    EXPECT_NEAR(fourth[1].prefixScore, logOf(sums.full, {1, 2, 2}), 1e-9);
}

TEST(SpeechDecodingCtcPrefix, LabellingLongerThanTheFramesIsImpossible) {
    const CtcPrefixScorer ctc(randomLogPosteriors(2, kVocab, 4, 1.0), kBlank, kEos);
    const auto one = ctc.extend({}, ctc.initialState(), {1});
    const auto two = ctc.extend({1}, one[0], {2});
    EXPECT_GT(two[0].prefixScore, CtcPrefixScorer::kLogZero / 2);
    const auto three = ctc.extend({1, 2}, two[0], {1});
    EXPECT_EQ(three[0].prefixScore, CtcPrefixScorer::kLogZero);
    // "1 1" needs 3 frames (a blank between).
    const auto repeat = ctc.extend({1}, one[0], {1});
    EXPECT_LT(repeat[0].prefixScore, CtcPrefixScorer::kLogZero / 2);
}

TEST(SpeechDecodingCtcPrefix, CtcOnlyBeamSearchFindsTheMostLikelyLabelling) {
    const torch::Tensor logProbs = randomLogPosteriors(4, kVocab, 11, 2.0);
    const PathSums sums = sumOverPaths(logProbs, kBlank);
    Units best;
    double bestP = -1.0;
    for (const auto& [labels, p] : sums.full) {
        if (std::find(labels.begin(), labels.end(), kEos) != labels.end()) continue; // <eos> is no unit
        if (p > bestP) {
            bestP = p;
            best = labels;
        }
    }
    ASSERT_FALSE(best.empty());

    ScriptedScorer uniform({}, {0.25, 0.25, 0.25, 0.25}); // ignored with weight 1
    const CtcPrefixScorer ctc(logProbs, kBlank, kEos);
    BeamOptions options = plainBeam(32); // wide enough to keep every prefix
    options.ctcWeight = 1.0;
    const auto found = beamSearch(uniform, &ctc, kEos, kEos, 4, options);
    EXPECT_EQ(found[0].units, best);
    EXPECT_NEAR(found[0].score, std::log(bestP), 1e-9); // the increments add up to log P(g | x)
}

TEST(SpeechDecodingCtcPrefix, JointScoreMixesDecoderAndCtc) {
    // The decoder prefers "1"; CTC is sure of "2": lambda decides.
    const torch::Tensor peaked =
        torch::log(torch::tensor({{0.01, 0.01, 0.97, 0.01}, {0.97, 0.01, 0.01, 0.01}}, torch::kDouble));
    const CtcPrefixScorer ctc(peaked, kBlank, kEos);
    ScriptedScorer decoder({{{3}, {0.0, 0.7, 0.3, 0.0}}}, {0.0, 0.01, 0.01, 0.98});
    BeamOptions options = plainBeam(4);
    options.ctcWeight = 0.0;
    EXPECT_EQ(beamSearch(decoder, &ctc, kEos, kEos, 2, options)[0].units, (Units{1}));
    options.ctcWeight = 0.5;
    EXPECT_EQ(beamSearch(decoder, &ctc, kEos, kEos, 2, options)[0].units, (Units{2}));
    options.ctcWeight = 1.0;
    EXPECT_EQ(beamSearch(decoder, &ctc, kEos, kEos, 2, options)[0].units, (Units{2}));
}

// ---- CTC best path ----

TEST(SpeechDecodingCtcGreedy, CollapseMergesRepeatsThenDropsBlanks) {
    EXPECT_EQ(ctcCollapse({0, 1, 1, 0, 1, 2, 2, 0}), (Units{1, 1, 2}));
    EXPECT_EQ(ctcCollapse({}), Units{});
    EXPECT_EQ(ctcCollapse({0, 0, 0}), Units{});
    EXPECT_EQ(ctcCollapse({2, 2, 2}), (Units{2}));
    EXPECT_EQ(ctcCollapse({3, 0, 3, 3}, 0), (Units{3, 3}));
    EXPECT_EQ(ctcCollapse({1, 5, 5, 2}, 5), (Units{1, 2})); // another blank id
}

TEST(SpeechDecodingCtcGreedy, BestPathReadsOnlyRealFrames) {
    // argmax per frame: utterance 0: 1 1 0 2 2 -> "1 2"; utterance 1: 2 0 2 | 1 1 (padding) -> "2 2".
    const std::vector<std::vector<std::int64_t>> best = {{1, 1, 0, 2, 2}, {2, 0, 2, 1, 1}};
    torch::Tensor scores = torch::zeros({2, 5, 3});
    for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t t = 0; t < 5; ++t) scores[b][t][best[b][t]] = 3.0 + t;
    const auto paths = ctcBestPath(scores, torch::tensor({5, 3}, torch::kLong));
    ASSERT_EQ(paths.size(), 2u);
    EXPECT_EQ(paths[0], (Units{1, 2}));
    EXPECT_EQ(paths[1], (Units{2, 2}));
}

} // namespace
} // namespace losslab::speech
