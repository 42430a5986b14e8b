// The speech plugin's models (ctc_attention.h, commands_cnn.h): shapes, independence from the
// batch and its padding, the joint CTC-attention objective, the CTC loss against torch and
// against a sum over every path, seeded initialisation and dropout, and tiny models that learn.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include <torch/nn/functional/loss.h>
#include <torch/optim/adam.h>

#include "commands_cnn.h"
#include "ctc_attention.h"
#include "error_matchers.h"
#include "losslab/error.h"
#include "losslab/tasks/model_random.h"
#include "speech_decoding.h"

namespace losslab::speech {
namespace {

using Units = std::vector<std::int64_t>;

// Tiny recognisers: 6 feature bins, 7 output units (0 <blank>, 1 <unk>, 2..5, 6 <sos/eos>).
constexpr std::int64_t kDim = 6, kVocab = 7, kEos = kVocab - 1;

at::Generator cpuGenerator(std::uint64_t seed) { return makeGenerator(torch::Device(torch::kCPU), seed); }

// One utterance's features [T, D], drawn from its own seed so that it can sit in any batch.
torch::Tensor utterance(std::int64_t frames, std::uint64_t seed, std::int64_t dim = kDim) {
    at::Generator gen = cpuGenerator(seed);
    return torch::randn({frames, dim}, gen, torch::kFloat);
}

// A padded batch: padding frames hold `pad` (NaN shows that no padded value is ever read);
// labels are each utterance's units, then <eos>, padded with kIgnoreLabel.
ModelInput makeBatch(const std::vector<torch::Tensor>& utterances, const std::vector<Units>& labels,
                     float pad = std::numeric_limits<float>::quiet_NaN()) {
    const auto batch = static_cast<std::int64_t>(utterances.size());
    std::int64_t frames = 0, longest = 0;
    for (const auto& u : utterances) frames = std::max(frames, u.size(0));
    for (const auto& l : labels) longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(l.size()));
    ModelInput input;
    input.features = torch::full({batch, frames, utterances.front().size(1)}, pad);
    input.lengths = torch::zeros({batch}, torch::kLong);
    input.targets = torch::full({batch, longest + 1}, kIgnoreLabel, torch::kLong);
    for (std::int64_t b = 0; b < batch; ++b) {
        input.features[b].narrow(0, 0, utterances[b].size(0)).copy_(utterances[b]);
        input.lengths[b] = utterances[b].size(0);
        const Units& l = labels[b];
        for (std::size_t i = 0; i < l.size(); ++i) input.targets[b][static_cast<std::int64_t>(i)] = l[i];
        input.targets[b][static_cast<std::int64_t>(l.size())] = kEos;
    }
    return input;
}

CtcAttentionOptions tinyOptions() {
    CtcAttentionOptions o;
    o.inputDim = kDim;
    o.vocab = kVocab;
    o.vgg = false;
    o.encoderLayers = 2;
    o.encoderUnits = 8;
    o.projectionUnits = 10;
    o.subsample = {1, 2, 1};
    o.attentionDim = 8;
    o.attentionChannels = 3;
    o.attentionFilter = 2;
    o.decoderLayers = 2;
    o.decoderUnits = 9;
    return o;
}

CtcAttention makeModel(const CtcAttentionOptions& options, std::uint64_t seed = 1) {
    at::Generator init = cpuGenerator(seed);
    return CtcAttention(options, init);
}

// ---- the three encoders of ESPnet's recipes, on the same batch ----

struct EncoderCase {
    std::string name;
    bool vgg;
    bool projectEveryLayer;
    std::vector<std::int64_t> encodedLengths; // of utterances of 11, 7 and 9 frames
};

void PrintTo(const EncoderCase& c, std::ostream* os) { *os << c.name; }

// Moves every weight and bias away from its initial value (ESPnet's biases start at 0, which
// would hide what a trained model's biases do on padded frames).
void perturb(torch::nn::Module& model, std::uint64_t seed) {
    torch::NoGradGuard noGrad;
    at::Generator gen = cpuGenerator(seed);
    for (torch::Tensor& p : model.parameters()) p.add_(0.1 * torch::randn(p.sizes(), gen, p.options()));
}

class CtcAttentionEncoders : public ::testing::TestWithParam<EncoderCase> {
protected:
    CtcAttentionOptions options() const {
        CtcAttentionOptions o = tinyOptions();
        o.vgg = GetParam().vgg;
        o.projectEveryLayer = GetParam().projectEveryLayer;
        return o;
    }
    std::vector<torch::Tensor> utterances() const { return {utterance(11, 10), utterance(7, 11), utterance(9, 12)}; }
    std::vector<Units> labels() const { return {{2, 3, 4}, {5}, {2, 2}}; }
};

TEST_P(CtcAttentionEncoders, ScoresHaveOnePositionPerUnitAndEos) {
    CtcAttention model = makeModel(options());
    model->eval();
    const ModelInput input = makeBatch(utterances(), labels());
    const torch::Tensor scores = model->forward(input);
    EXPECT_EQ(scores.sizes(), (std::vector<std::int64_t>{3, 4, kVocab})); // longest 3 units + <eos>
    EXPECT_TRUE(torch::isfinite(scores).all().item<bool>());
    ASSERT_TRUE(model->lastCtcLoss().defined());
    EXPECT_EQ(model->lastCtcLoss().dim(), 0);
    EXPECT_GT(model->lastCtcLoss().item<double>(), 0.0);

    const auto encoded = model->encode(input, false);
    EXPECT_EQ(std::vector<std::int64_t>(encoded.lengths.data_ptr<std::int64_t>(),
                                        encoded.lengths.data_ptr<std::int64_t>() + 3),
              GetParam().encodedLengths);
    EXPECT_EQ(encoded.states.size(2), 10);
    for (std::int64_t b = 0; b < 3; ++b) {
        const std::int64_t n = GetParam().encodedLengths[b];
        EXPECT_GT(encoded.states[b].narrow(0, 0, n).abs().sum().item<double>(), 0.0);
        EXPECT_EQ(encoded.states[b].narrow(0, n, encoded.states.size(1) - n).abs().sum().item<double>(), 0.0);
    }
    EXPECT_EQ(model->ctcScores(encoded.states).sizes(), (std::vector<std::int64_t>{3, encoded.states.size(1), kVocab}));
}

TEST_P(CtcAttentionEncoders, AnUtteranceScoresTheSameAloneAndPaddedInABatch) {
    CtcAttention model = makeModel(options());
    perturb(*model, 77);
    model->eval();
    const auto all = utterances();
    const auto allLabels = labels();
    const ModelInput batch = makeBatch(all, allLabels); // NaN padding
    for (std::int64_t b = 0; b < 3; ++b) {
        const ModelInput alone = makeBatch({all[b]}, {allLabels[b]});
        const torch::Tensor own = model->forward(alone)[0];
        const torch::Tensor inBatch = model->forward(batch)[b].narrow(0, 0, own.size(0));
        EXPECT_TRUE(torch::allclose(own, inBatch, 1e-5, 1e-5))
            << "utterance " << b << ": max difference " << (own - inBatch).abs().max().item<double>();

        const auto encodedAlone = model->encode(alone, false);
        const auto encodedBatch = model->encode(batch, false);
        const std::int64_t frames = encodedAlone.lengths[0].item<std::int64_t>();
        EXPECT_EQ(frames, encodedBatch.lengths[b].item<std::int64_t>());
        EXPECT_TRUE(torch::allclose(model->ctcScores(encodedAlone.states)[0],
                                    model->ctcScores(encodedBatch.states)[b].narrow(0, 0, frames), 1e-5, 1e-5));
        EXPECT_EQ(model->greedy(alone)[0], model->greedy(batch)[b]);
        EXPECT_EQ(model->ctcGreedy(alone)[0], model->ctcGreedy(batch)[b]);
    }
}

INSTANTIATE_TEST_SUITE_P(SpeechModels, CtcAttentionEncoders,
                         ::testing::Values(EncoderCase{"VggBlstmp", true, true, {3, 2, 3}},
                                           EncoderCase{"BlstmpSubsampled", false, true, {6, 4, 5}},
                                           EncoderCase{"VggBlstm", true, false, {3, 2, 3}}),
                         [](const auto& info) { return info.param.name; });

// ---- the objective ----

TEST(SpeechModelsCtcAttention, ObjectiveMixesCtcAndTheStudyLoss) {
    const ModelInput input =
        makeBatch({utterance(11, 10), utterance(7, 11), utterance(9, 12)}, {{2, 3, 4}, {5}, {2, 2}});
    const torch::Tensor study = torch::tensor(2.0);
    auto run = [&](double lambda, bool scale) {
        CtcAttentionOptions o = tinyOptions();
        o.ctcWeight = lambda;
        o.scaleAttentionLoss = scale;
        CtcAttention model = makeModel(o);
        model->eval();
        model->forward(input);
        return std::make_pair(model->objective(study), model->lastCtcLoss());
    };
    // ESPnet's scale: the mean number of units per utterance, (3 + 1 + 2) / 3 = 2.
    const auto [attentionOnly, noCtc] = run(0.0, true);
    EXPECT_FALSE(noCtc.defined());
    EXPECT_DOUBLE_EQ(attentionOnly.item<double>(), 4.0);
    const auto [ctcOnly, ctc] = run(1.0, true);
    ASSERT_TRUE(ctc.defined());
    EXPECT_DOUBLE_EQ(ctcOnly.item<double>(), ctc.item<double>());
    const auto [mixed, ctcHalf] = run(0.5, true);
    EXPECT_NEAR(ctcHalf.item<double>(), ctc.item<double>(), 1e-6); // same weights, same CTC loss
    EXPECT_NEAR(mixed.item<double>(), 0.5 * ctc.item<double>() + 0.5 * 4.0, 1e-5);
    const torch::Tensor mixedUnscaled = run(0.3, false).first;
    EXPECT_NEAR(mixedUnscaled.item<double>(), 0.3 * ctc.item<double>() + 0.7 * 2.0, 1e-5);
    EXPECT_DOUBLE_EQ(run(0.0, false).first.item<double>(), 2.0);
}

TEST(SpeechModelsCtcAttention, EachBranchGetsGradientOnlyWhenWeighted) {
    const ModelInput input = makeBatch({utterance(11, 10), utterance(9, 12)}, {{2, 3, 4}, {2, 2}});
    auto gradientNorms = [&](double lambda) {
        CtcAttentionOptions o = tinyOptions();
        o.ctcWeight = lambda;
        CtcAttention model = makeModel(o);
        const torch::Tensor scores = model->forward(input);
        const torch::Tensor study = torch::nn::functional::cross_entropy(
            scores.reshape({-1, kVocab}), input.targets.reshape(-1),
            torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnoreLabel));
        model->objective(study).backward();
        auto norm = [&](const std::string& name) {
            const torch::Tensor g = model->named_parameters()[name].grad();
            return g.defined() ? g.norm().item<double>() : 0.0;
        };
        return std::make_pair(norm("ctc.weight"), norm("output.weight"));
    };
    const auto [ctcAlone, decoderUnused] = gradientNorms(1.0);
    EXPECT_GT(ctcAlone, 0.0);
    EXPECT_EQ(decoderUnused, 0.0);
    const auto [ctcUnused, decoderAlone] = gradientNorms(0.0);
    EXPECT_EQ(ctcUnused, 0.0);
    EXPECT_GT(decoderAlone, 0.0);
}

// ---- the CTC loss ----

// -log P(labels | x) by summing over all V^T paths of log-posteriors [T, V].
double ctcLossByEnumeration(const torch::Tensor& logProbs, const Units& labels) {
    const torch::Tensor lp = logProbs.to(torch::kDouble).contiguous();
    const std::int64_t T = lp.size(0), V = lp.size(1);
    const double* table = lp.data_ptr<double>();
    Units path(T);
    double total = 0.0;
    std::function<void(std::int64_t, double)> visit = [&](std::int64_t t, double logP) {
        if (t == T) {
            if (ctcCollapse(path) == labels) total += std::exp(logP);
            return;
        }
        for (std::int64_t v = 0; v < V; ++v) {
            path[t] = v;
            visit(t + 1, logP + table[t * V + v]);
        }
    };
    visit(0, 0.0);
    return -std::log(total);
}

TEST(SpeechModelsCtcAttention, CtcLossIsTorchsCtcLossAndTheSumOverAllPaths) {
    CtcAttentionOptions o = tinyOptions();
    o.encoderLayers = 1;
    o.subsample = {1, 2};
    CtcAttention model = makeModel(o);
    model->eval();
    const std::vector<Units> labels = {{2, 3}, {4}, {3, 3}};
    const ModelInput input = makeBatch({utterance(8, 20), utterance(6, 21), utterance(10, 22)}, labels);
    model->forward(input);
    const double loss = model->lastCtcLoss().item<double>();

    const auto encoded = model->encode(input, false);
    const torch::Tensor logProbs = torch::log_softmax(model->ctcScores(encoded.states), 2);
    const torch::Tensor targets = torch::tensor({2, 3, 4, 0, 3, 3}, torch::kLong).view({3, 2});
    const torch::Tensor torchLoss =
        torch::ctc_loss(logProbs.transpose(0, 1), targets, encoded.lengths, torch::tensor({2, 1, 2}, torch::kLong), 0,
                        at::Reduction::Sum, true) /
        3.0;
    EXPECT_NEAR(loss, torchLoss.item<double>(), 1e-6);

    double enumerated = 0.0;
    for (std::int64_t b = 0; b < 3; ++b)
        enumerated +=
            ctcLossByEnumeration(logProbs[b].narrow(0, 0, encoded.lengths[b].item<std::int64_t>()), labels[b]);
    EXPECT_NEAR(loss, enumerated / 3.0, 1e-4);
}

// ---- randomness ----

TEST(SpeechModelsCtcAttention, InitialisationIsSeededAndFollowsEspnet) {
    CtcAttentionOptions o = tinyOptions();
    o.vgg = true;
    o.decoderUnits = 32;
    CtcAttention a = makeModel(o, 5), b = makeModel(o, 5), c = makeModel(o, 6);
    const auto pa = a->named_parameters(), pb = b->named_parameters(), pc = c->named_parameters();
    ASSERT_EQ(pa.size(), pb.size());
    std::int64_t differing = 0, weights = 0;
    for (const auto& item : pa) {
        EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
        if (item.value().dim() > 1) {
            ++weights;
            if (!torch::equal(item.value(), pc[item.key()])) ++differing;
        }
    }
    EXPECT_EQ(differing, weights); // every weight depends on the seed

    // Biases 0 but the forget gates of the decoder cells' input bias, which are 1.
    for (const auto& item : pa) {
        if (item.value().dim() != 1) continue;
        if (item.key() == "cell0.bias_ih" || item.key() == "cell1.bias_ih") {
            EXPECT_TRUE(torch::equal(item.value().narrow(0, 32, 32), torch::ones({32}))) << item.key();
            EXPECT_EQ(item.value().narrow(0, 0, 32).abs().sum().item<double>(), 0.0) << item.key();
            EXPECT_EQ(item.value().narrow(0, 64, 64).abs().sum().item<double>(), 0.0) << item.key();
        } else {
            EXPECT_EQ(item.value().abs().sum().item<double>(), 0.0) << item.key();
        }
    }
    // LeCun normal: std 1/sqrt(fan_in); the embedding N(0, 1).
    EXPECT_NEAR(pa["embedding.weight"].std().item<double>(), 1.0, 0.2);
    EXPECT_NEAR(pa["lstm1.weight_ih_l0"].std().item<double>(), 1.0 / std::sqrt(10.0), 0.05);
    EXPECT_NEAR(pa["vgg2_2.weight"].std().item<double>(), 1.0 / std::sqrt(128.0 * 9.0), 0.005);
}

TEST(SpeechModelsCtcAttention, DropoutMasksComeFromTheInputGenerator) {
    CtcAttentionOptions o = tinyOptions();
    o.dropout = 0.4;
    o.decoderDropout = 0.4;
    CtcAttention model = makeModel(o);
    ModelInput input = makeBatch({utterance(11, 10), utterance(9, 12)}, {{2, 3, 4}, {2, 2}});
    model->train();
    auto run = [&](std::uint64_t seed) {
        input.generator = cpuGenerator(seed);
        const torch::Tensor scores = model->forward(input);
        return std::make_pair(scores, model->lastCtcLoss());
    };
    const auto [first, ctcFirst] = run(5);
    const auto [again, ctcAgain] = run(5);
    const auto [other, ctcOther] = run(6);
    EXPECT_TRUE(torch::equal(first, again));
    EXPECT_EQ(ctcFirst.item<double>(), ctcAgain.item<double>());
    EXPECT_FALSE(torch::allclose(first, other));
    EXPECT_NE(ctcFirst.item<double>(), ctcOther.item<double>());

    input.generator = at::Generator();
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { model->forward(input); }, {}));
    model->eval(); // no masks: no generator needed
    const torch::Tensor evaluated = model->forward(input);
    EXPECT_TRUE(torch::equal(evaluated, model->forward(input)));
    EXPECT_FALSE(torch::allclose(evaluated, first));
}

TEST(SpeechModelsCtcAttention, RejectsBadOptionsAndInput) {
    at::Generator init = cpuGenerator(1);
    CtcAttentionOptions o = tinyOptions();
    o.vocab = 2;
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { (void)CtcAttention(o, init); }, {"vocab"}));
    o = tinyOptions();
    o.ctcWeight = 1.5;
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { (void)CtcAttention(o, init); }, {"ctcWeight"}));
    CtcAttention model = makeModel(tinyOptions());
    ModelInput input = makeBatch({utterance(8, 1)}, {{2}});
    input.targets = torch::Tensor();
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { model->forward(input); }, {"teacher forcing"}));
    input = makeBatch({utterance(8, 1, kDim + 1)}, {{2}});
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { model->forward(input); }, {"features"}));
}

TEST(SpeechModelsCtcAttention, RecipePresetsFollowEspnet) {
    const auto timit = CtcAttentionOptions::timit(44);
    EXPECT_FALSE(timit.vgg);
    EXPECT_EQ(timit.encoderLayers, 4);
    EXPECT_EQ(timit.subsample, (std::vector<std::int64_t>{1, 2, 2, 1, 1}));
    EXPECT_EQ(timit.vocab, 44);
    const auto wsj = CtcAttentionOptions::wsj(52);
    EXPECT_TRUE(wsj.vgg && wsj.projectEveryLayer);
    EXPECT_EQ(wsj.encoderLayers, 6);
    EXPECT_DOUBLE_EQ(wsj.ctcWeight, 0.2);
    const auto libri = CtcAttentionOptions::librispeech100(1000);
    EXPECT_TRUE(libri.vgg);
    EXPECT_FALSE(libri.projectEveryLayer);
    EXPECT_EQ(libri.decoderLayers, 2);
    EXPECT_EQ(libri.encoderUnits, 1024);
    EXPECT_DOUBLE_EQ(libri.dropout, 0.2);
}

// ---- learning ----

enum class StudyLoss { CrossEntropy, Square };

// Mean over the labelled positions: cross-entropy, or (1/C) ||scores - onehot||^2 (Hui & Belkin's
// square loss with k = M = 1).
torch::Tensor studyLoss(StudyLoss kind, const torch::Tensor& scores, const torch::Tensor& targets) {
    const torch::Tensor labels = targets.narrow(1, 0, scores.size(1));
    if (kind == StudyLoss::CrossEntropy)
        return torch::nn::functional::cross_entropy(
            scores.reshape({-1, kVocab}), labels.reshape(-1),
            torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnoreLabel));
    const torch::Tensor real = labels != kIgnoreLabel;
    const torch::Tensor onehot = torch::one_hot(labels.clamp_min(0), kVocab).to(scores.scalar_type());
    const torch::Tensor perPosition = (scores - onehot).pow(2).sum(2) / static_cast<double>(kVocab);
    return perPosition.masked_select(real).mean();
}

void overfitFourUtterances(StudyLoss kind) {
    const auto started = std::chrono::steady_clock::now();
    CtcAttentionOptions o = tinyOptions();
    o.encoderUnits = 24;
    o.projectionUnits = 24;
    o.attentionDim = 16;
    o.attentionChannels = 4;
    o.decoderLayers = 1;
    o.decoderUnits = 24;
    o.ctcWeight = 0.3;
    CtcAttention model = makeModel(o, 3);
    const std::vector<Units> labels = {{2, 3, 4}, {5, 4, 3, 2}, {3, 3}, {4, 2, 5}};
    ModelInput input =
        makeBatch({utterance(12, 30), utterance(16, 31), utterance(10, 32), utterance(14, 33)}, labels, 0.0f);
    model->eval();
    ASSERT_NE(model->greedy(input), labels); // not by chance
    ASSERT_NE(model->ctcGreedy(input), labels);
    torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(0.01));
    bool learned = false;
    int step = 0;
    for (; step < 600 && !learned; ++step) {
        model->train();
        input.generator = cpuGenerator(100 + step);
        optimizer.zero_grad();
        const torch::Tensor scores = model->forward(input);
        model->objective(studyLoss(kind, scores, input.targets)).backward();
        optimizer.step();
        if (step >= 40 && step % 20 == 0) {
            model->eval();
            learned = model->greedy(input) == labels && model->ctcGreedy(input) == labels;
        }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << "[          ] learned after " << step << " steps in " << seconds << " s\n";
    ASSERT_TRUE(learned) << "after " << step << " steps";
    model->eval();
    EXPECT_EQ(model->greedy(input), labels);
    EXPECT_EQ(model->ctcGreedy(input), labels);
    BeamOptions beam;
    beam.beamSize = 3;
    beam.ctcWeight = 0.3;
    BeamOptions oneBest;
    oneBest.beamSize = 1;
    oneBest.ctcWeight = 0.0;
    for (std::int64_t b = 0; b < 4; ++b) {
        EXPECT_EQ(model->beamSearch(input, b, beam), labels[b]) << "utterance " << b;
        EXPECT_EQ(model->beamSearch(input, b, oneBest), labels[b]) << "beam 1 is greedy, utterance " << b;
    }
}

TEST(SpeechModelsTraining, OverfitsFourUtterancesWithCrossEntropyAndCtc) {
    overfitFourUtterances(StudyLoss::CrossEntropy);
}

TEST(SpeechModelsTraining, OverfitsFourUtterancesWithTheSquareLossAndCtc) { overfitFourUtterances(StudyLoss::Square); }

// ---- the keyword CNN ----

CommandsCnn makeCnn(const CommandsCnnOptions& options, std::uint64_t seed = 1) {
    at::Generator init = cpuGenerator(seed);
    return CommandsCnn(options, init);
}

TEST(SpeechModelsCommandsCnn, ScoresOneRowPerClip) {
    CommandsCnn model = makeCnn({});
    model->eval();
    ModelInput input;
    at::Generator gen = cpuGenerator(3);
    input.features = torch::randn({5, 101, 40}, gen, torch::kFloat);
    EXPECT_EQ(model->forward(input).sizes(), (std::vector<std::int64_t>{5, 12}));
    // Sides shorter than the pooling stop being halved.
    CommandsCnnOptions small;
    small.numClasses = 3;
    CommandsCnn tiny = makeCnn(small);
    tiny->eval();
    input.features = torch::randn({2, 3, 1}, gen, torch::kFloat);
    EXPECT_EQ(tiny->forward(input).sizes(), (std::vector<std::int64_t>{2, 3}));

    CommandsCnnOptions bad;
    bad.channels = {};
    at::Generator init = cpuGenerator(1);
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { (void)CommandsCnn(bad, init); }, {"channels"}));
    bad = {};
    bad.numClasses = 1;
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { (void)CommandsCnn(bad, init); }, {"numClasses"}));
}

// Three classes told apart by which band of frequencies carries energy.
std::pair<torch::Tensor, torch::Tensor> bandClips(std::int64_t perClass, std::uint64_t seed) {
    at::Generator gen = cpuGenerator(seed);
    const std::int64_t n = 3 * perClass;
    torch::Tensor x = 0.5 * torch::randn({n, 20, 12}, gen, torch::kFloat);
    torch::Tensor y = torch::arange(n, torch::kLong).remainder(3);
    for (std::int64_t i = 0; i < n; ++i) x[i].narrow(1, 4 * y[i].item<std::int64_t>(), 4).add_(1.5);
    return {x, y};
}

TEST(SpeechModelsCommandsCnn, LearnsClassesThatDifferInFrequencyBand) {
    CommandsCnnOptions options;
    options.numClasses = 3;
    options.channels = {8, 16};
    CommandsCnn model = makeCnn(options, 2);
    const auto [trainX, trainY] = bandClips(20, 40);
    const auto [testX, testY] = bandClips(10, 41);
    torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(0.01));
    ModelInput input;
    input.features = trainX;
    model->train();
    for (int step = 0; step < 60; ++step) {
        input.generator = cpuGenerator(500 + step);
        optimizer.zero_grad();
        torch::nn::functional::cross_entropy(model->forward(input), trainY).backward();
        optimizer.step();
    }
    model->eval();
    ModelInput test;
    test.features = testX;
    const torch::Tensor correct = model->forward(test).argmax(1).eq(testY).sum();
    EXPECT_EQ(correct.item<std::int64_t>(), 30);
}

TEST(SpeechModelsCommandsCnn, DropoutMasksComeFromTheInputGenerator) {
    CommandsCnnOptions options;
    options.dropout = 0.5;
    CommandsCnn model = makeCnn(options);
    model->train();
    ModelInput input;
    at::Generator gen = cpuGenerator(4);
    input.features = torch::randn({4, 30, 16}, gen, torch::kFloat);
    input.generator = cpuGenerator(9);
    const torch::Tensor first = model->forward(input);
    input.generator = cpuGenerator(9);
    EXPECT_TRUE(torch::equal(first, model->forward(input)));
    input.generator = cpuGenerator(10);
    EXPECT_FALSE(torch::allclose(first, model->forward(input)));
}

} // namespace
} // namespace losslab::speech
