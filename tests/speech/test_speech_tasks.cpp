// The speech tasks end to end on the fixture corpus synthesised with espeak-ng
// (make_fixture_corpus.sh): data bundles, the feature cache, normalisation and SpecAugment, the
// evaluator's error rates, clear errors for bad audio, and training through the core's run
// queue: the recogniser overfits a small set to a low CER with both losses, the keyword CNN
// learns well above chance, and a seeded run gives the same numbers alone or beside another.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "cuda_required.h"
#include "error_matchers.h"
#include "losslab/data/audio/audio_file.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/task_registry.h"
#include "scratch_dir.h"
#include "speech_data.h"
#include "speech_features.h"
#include "speech_fixtures.h"
#include "speech_model.h"
#include "speech_tasks.h"
#include "step_syncs.h"

namespace fs = std::filesystem;
using namespace losslab;
using namespace losslab::speech;

namespace {

// The process's registry of the speech tasks (TaskRegistry is not copyable).
const TaskRegistry& speechRegistry() {
    static const TaskRegistry* registry = [] {
        auto* r = new TaskRegistry; // lives as long as the process, like the plugins' tasks
        for (auto& task : makeSpeechTasks()) r->add(task);
        return r;
    }();
    return *registry;
}

ParamSet paramsFor(const TaskRegistry& registry, const std::string& yaml) {
    return loadExperimentText(yaml, "speech.yaml", {}, registry).params;
}

// The first `count` utterances of the fixture's Kaldi training directory as a data directory of
// their own (absolute paths), under `dir`/name.
fs::path smallKaldiDir(const fs::path& corpus, const fs::path& dir, const std::string& name, int count) {
    const fs::path out = dir / name;
    fs::create_directories(out);
    for (const char* file : {"wav.scp", "text"}) {
        std::ifstream in(corpus / "kaldi" / "train" / file);
        std::ofstream o(out / file);
        std::string line;
        for (int i = 0; i < count && std::getline(in, line); ++i) o << line << "\n";
    }
    return out;
}

std::map<std::string, double> lastEpochMetrics(const RunStore& store, std::int64_t runId) {
    std::map<std::string, double> last;
    int epoch = 0;
    for (const auto& row : store.epochMetrics({runId})) epoch = std::max(epoch, row.epoch);
    for (const auto& row : store.epochMetrics({runId}))
        if (row.epoch == epoch) last[row.value.split + "/" + row.value.metric] = row.value.value;
    return last;
}

const char* kTinyRecogniser = R"(
model:
  vgg: false
  encoder_layers: 2
  encoder_units: 64
  projection_units: 64
  attention_dim: 64
  decoder_units: 64
)";

} // namespace

TEST(SpeechTasks, LibriSpeechBundleHoldsFramesLabelsAndStatistics) {
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    const TaskRegistry& registry = speechRegistry();
    const auto task = registry.require("speech/librispeech/ctc_attention");
    const ParamSet params = paramsFor(registry, "task: speech/librispeech/ctc_attention\nlosses: [{loss: ce}]\ndata:\n  root: " +
                                                    (corpus / "librispeech").string() +
                                                    "\n  train: train\n  dev: dev\n  test: test\n  classes: 31\nmodel:\n  units: characters\n");
    const DataBundle data = task->loadDataIn(params, {});
    ASSERT_GT(data.train.size(), 0);
    ASSERT_GT(data.val.size(), 0);
    ASSERT_GT(data.test.size(), 0);
    const torch::Tensor frames = data.tensors.at("frames");
    EXPECT_EQ(frames.size(1), 80);
    // Rows are (first frame, count) ranges of the bank, in order and without gaps.
    const auto rows = data.train.features.accessor<std::int64_t, 2>();
    for (std::int64_t i = 1; i < data.train.size(); ++i) EXPECT_EQ(rows[i][0], rows[i - 1][0] + rows[i - 1][1]);
    EXPECT_TRUE(torch::equal(data.train.lengths, data.train.features.select(1, 1)));
    // Labels: units then <eos> (30), padded with -1; "ONE TWO THREE" is 13 characters.
    const std::vector<std::string> units = unitNamesOf(data);
    ASSERT_EQ(units.size(), 31u);
    EXPECT_EQ(units.front(), "<blank>");
    bool sawOneTwoThree = false;
    for (std::int64_t i = 0; i < data.train.size(); ++i) {
        const std::vector<std::int64_t> ref = referenceIds(data.train.labels[i], 30);
        const std::int64_t real = data.train.labels[i].ge(0).sum().item<std::int64_t>();
        EXPECT_EQ(real, static_cast<std::int64_t>(ref.size()) + 1) << "every transcript ends with one <eos>";
        EXPECT_EQ(data.train.labels[i][real - 1].item<std::int64_t>(), 30);
        sawOneTwoThree = sawOneTwoThree || unitsText(ref, units, UnitKind::Characters) == "ONE TWO THREE";
    }
    EXPECT_TRUE(sawOneTwoThree);
    // The training frames normalised with the stored statistics have mean 0 and std 1.
    std::int64_t trainFrames = 0;
    for (std::int64_t i = 0; i < data.train.size(); ++i) trainFrames += rows[i][1];
    const torch::Tensor x = (frames.narrow(0, 0, trainFrames).to(torch::kFloat) - data.tensors.at("cmvn_mean")) / data.tensors.at("cmvn_std");
    EXPECT_LT(x.mean(0).abs().max().item<double>(), 1e-3);
    EXPECT_NEAR(x.std(0, /*unbiased=*/false).mean().item<double>(), 1.0, 1e-2);
}

TEST(SpeechTasks, FeaturesAreCachedAndComputedAgainWhenAFileChanges) {
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    fixtures::ScratchDir scratch("losslab-speech-cache");
    // A copy of a few clips, so that the test may touch them.
    std::vector<Utterance> utterances;
    int n = 0;
    for (const auto& entry : fs::directory_iterator(corpus / "commands" / "yes")) {
        if (n++ == 4) break;
        const fs::path copy = scratch.path() / entry.path().filename();
        fs::copy_file(entry.path(), copy);
        utterances.push_back({"u" + std::to_string(n), copy.string(), 0.0, -1.0, "yes", "s"});
    }
    const fs::path cache = scratch.path() / "cache";
    FeatureSettings settings;
    FeatureProgress first, second, third, fourth;
    const FeatureBank a = computeFeatures(utterances, settings, cache.string(), 1, &first);
    EXPECT_FALSE(first.fromCache);
    ASSERT_TRUE(fs::exists(first.cacheFile));
    const FeatureBank b = computeFeatures(utterances, settings, cache.string(), 1, &second);
    EXPECT_TRUE(second.fromCache);
    EXPECT_TRUE(torch::equal(a.frames, b.frames));
    EXPECT_EQ(a.offsets, b.offsets);
    // Other settings: another file.
    settings.deltaOrder = 1;
    const FeatureBank c = computeFeatures(utterances, settings, cache.string(), 1, &third);
    EXPECT_FALSE(third.fromCache);
    EXPECT_EQ(c.dim(), 160);
    EXPECT_NE(third.cacheFile, first.cacheFile);
    // A changed audio file (new time and size): computed again.
    settings.deltaOrder = 0;
    const AudioClip clip = readAudio(utterances[0].audio);
    std::vector<float> louder = clip.samples;
    for (float& s : louder) s *= 0.5f;
    louder.resize(louder.size() + 1600, 0.0f);
    writeAudio(utterances[0].audio, louder, clip.sampleRate);
    const FeatureBank d = computeFeatures(utterances, settings, cache.string(), 1, &fourth);
    EXPECT_FALSE(fourth.fromCache);
    EXPECT_NE(d.counts[0], a.counts[0]);
    // A damaged cache file is computed again and replaced.
    { std::ofstream(fourth.cacheFile, std::ios::trunc) << "not a tensor archive"; }
    FeatureProgress fifth;
    const FeatureBank e = computeFeatures(utterances, settings, cache.string(), 1, &fifth);
    EXPECT_FALSE(fifth.fromCache);
    EXPECT_TRUE(torch::equal(d.frames, e.frames));
}

TEST(SpeechTasks, BadAudioIsAClearErrorNamingTheFile) {
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    fixtures::ScratchDir scratch("losslab-speech-bad");
    const fs::path good = fs::directory_iterator(corpus / "commands" / "no")->path();
    const AudioClip clip = readAudio(good.string());
    // Another sample rate than the recipe's.
    const fs::path slow = scratch.path() / "rate8k.wav";
    writeAudio(slow.string(), clip.samples, 8000);
    FeatureSettings settings;
    EXPECT_TRUE(fixtures::throwsErrorWith(
        [&] { computeFeatures({{"a", slow.string(), 0.0, -1.0, "no", "s"}}, settings, "", 1); }, {slow.string(), "8000"}));
    // A truncated FLAC.
    const fs::path flac = scratch.path() / "cut.flac";
    writeAudio(flac.string(), clip.samples, clip.sampleRate);
    fs::resize_file(flac, fs::file_size(flac) / 2);
    EXPECT_TRUE(fixtures::throwsErrorWith(
        [&] { computeFeatures({{"b", flac.string(), 0.0, -1.0, "no", "s"}}, settings, "", 1); }, {flac.string()}));
    // A segment past the end of its recording.
    EXPECT_TRUE(fixtures::throwsErrorWith(
        [&] { computeFeatures({{"c", good.string(), 0.5, 9.0, "no", "s"}}, settings, "", 1); }, {good.string(), "segment"}));
}

TEST(SpeechTasks, SpecAugmentMasksFromTheRunGeneratorWithinEachUtterance) {
    const torch::Tensor x = torch::ones({2, 50, 20});
    const torch::Tensor lengths = torch::tensor({50, 30}, torch::kLong);
    SpecAugmentOptions o;
    o.enabled = true;
    o.freqWidth = 5;
    o.timeWidth = 10;
    auto g1 = at::make_generator<at::CPUGeneratorImpl>(3), g2 = at::make_generator<at::CPUGeneratorImpl>(3);
    const torch::Tensor a = specAugment(x.clone(), lengths, o, g1);
    const torch::Tensor b = specAugment(x.clone(), lengths, o, g2);
    EXPECT_TRUE(torch::equal(a, b)) << "the same generator state gives the same masks";
    EXPECT_LT(a.sum().item<double>(), x.sum().item<double>());
    // The second utterance's masks lie within its 30 frames: its padding is untouched.
    EXPECT_TRUE(torch::equal(a[1].narrow(0, 30, 20), x[1].narrow(0, 30, 20)));
    // Each frequency mask covers at most 5 bins: every frame keeps at least 20 - 2 * 5 bins.
    const torch::Tensor kept = a[0].sum(1);
    EXPECT_GE((kept.eq(0).logical_not().to(torch::kLong).sum().item<std::int64_t>()), 50 - 2 * 10);
}

TEST(SpeechTasks, UnitsTextAndReferences) {
    const std::vector<std::string> chars = {"<blank>", "<unk>", "<space>", "A", "B", "<eos>"};
    EXPECT_EQ(unitsText({3, 4, 2, 4, 0, 5}, chars, UnitKind::Characters), "AB B");
    EXPECT_EQ(unitsText({2, 3, 2}, chars, UnitKind::Characters), "A");
    const std::vector<std::string> pieces = {"<blank>", "<unk>", "\xE2\x96\x81ON", "E", "\xE2\x96\x81TWO", "<eos>"};
    EXPECT_EQ(unitsText({2, 3, 4}, pieces, UnitKind::SentencePiece), "ONE TWO");
    const std::vector<std::string> phones = {"<blank>", "<unk>", "aa", "sil", "<eos>"};
    EXPECT_EQ(unitsText({3, 2, 3}, phones, UnitKind::Tokens), "sil aa sil");
    EXPECT_EQ(referenceIds(torch::tensor({3, 4, 5, -1, -1}, torch::kLong), 5), (std::vector<std::int64_t>{3, 4}));
}

// A test transcript with a character the training transcripts lack holds <unk> (id 1). The
// evaluator's text of it is what UnitSet::decode gives, so that the CER counts it as the one
// character it stands for: "AB" with an unseen character between is 3 reference characters,
// and a hypothesis with another character there is 1 substitution (as "<unk>", the reference
// had 7 characters and the hypothesis 5 errors).
TEST(SpeechTasks, AnUnknownUnitIsOneCharacterOfTheErrorRates) {
    const UnitSet set = UnitSet::fixed(UnitKind::Characters, {"<space>", "A", "B"});
    const std::vector<std::string>& chars = set.names(); // <blank> <unk> <space> A B <sos/eos>
    ASSERT_EQ(chars.size(), 6u);
    ASSERT_EQ(chars[3], "A");
    const std::vector<std::int64_t> reference = {3, 1, 4}; // A <unk> B
    EXPECT_EQ(unitsText(reference, chars, UnitKind::Characters), set.decode(reference));
    const EditCounts cer = characterEdits(unitsText(reference, chars, UnitKind::Characters),
                                          unitsText({3, 3, 4}, chars, UnitKind::Characters));
    EXPECT_EQ(cer.referenceLength, 3);
    EXPECT_EQ(cer.errors(), 1);
    EXPECT_EQ(cer.substitutions, 1);
    // A hypothesis that also says <unk> there is right, as ESPnet scores it.
    EXPECT_EQ(characterEdits(unitsText(reference, chars, UnitKind::Characters),
                             unitsText(reference, chars, UnitKind::Characters)).errors(), 0);
    // SentencePiece: SentencePiece's own surface, a word of its own; tokens: "<unk>", one token.
    const std::vector<std::string> pieces = {"<blank>", "<unk>", "\xE2\x96\x81ON", "E", "\xE2\x96\x81TWO", "<eos>"};
    const std::string spm = unitsText({2, 3, 1, 4}, pieces, UnitKind::SentencePiece);
    EXPECT_EQ(spm, std::string("ONE ") + UnitSet::kUnkCharacter + "  TWO");
    EXPECT_EQ(wordEdits(spm, "ONE X TWO").referenceLength, 3);
    EXPECT_EQ(characterEdits(spm, "ONE X TWO").referenceLength, 9);
    const std::vector<std::string> phones = {"<blank>", "<unk>", "aa", "sil", "<eos>"};
    EXPECT_EQ(unitsText({3, 1, 2}, phones, UnitKind::Tokens), "sil <unk> aa");
}

TEST(SpeechTasks, RecogniserOverfitsASmallSetWithBothLosses) {
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    fixtures::ScratchDir scratch("losslab-speech-overfit");
    smallKaldiDir(corpus, scratch.path(), "small", 8);
    const TaskRegistry& registry = speechRegistry();
    RunStore store((scratch.path() / "runs.sqlite").string());
    RunQueue queue(store, registry);
    // Trained and tested on the same 8 utterances: can the model learn them by heart? Decoded
    // with a beam of 3 and CTC prefix scores (greedy decoding is tested by cli.speech-run).
    const std::string yaml = "name: overfit\ntask: speech/kaldi/ctc_attention\ndevice: cpu\nlosses:\n"
                             "  - loss: ce\n    lr: 0.003\n  - loss: square\n    lr: 0.003\nprotocols: [fixed_epochs]\nseeds: 1\n"
                             "data:\n  root: " + scratch.path().string() + "\n  train: small\n  dev: small\n  test: small\n"
                             "  classes: 20\ntrain:\n  max_epochs: 70\n  batch_size: 2\n" + kTinyRecogniser +
                             // decoded by a beam search with CTC prefix scores
                             "  beam_size: 3\n  decode_ctc_weight: 0.3\n  length_normalise: true\n";
    queue.start(loadExperimentText(yaml, "overfit.yaml", {{"runner.cpu_runs", "2"}, {"runner.threads", "1"}}, registry));
    const RunQueueResult result = queue.wait();
    ASSERT_EQ(result.runIds.size(), 2u);
    for (const RunRecord& run : store.runs()) {
        ASSERT_EQ(run.status, RunStatus::Completed) << run.error;
        const auto last = lastEpochMetrics(store, run.id);
        std::cout << run.loss << ": test CER " << last.at("test/cer") << ", WER " << last.at("test/wer") << "\n";
        EXPECT_LT(last.at("test/cer"), 0.1) << run.loss;
        EXPECT_LT(last.at("test/wer"), 0.2) << run.loss;
        EXPECT_GT(last.at("test/cer_ref"), 50.0);
        EXPECT_EQ(last.at("test/cer"), (last.at("test/cer_sub") + last.at("test/cer_del") + last.at("test/cer_ins")) /
                                           last.at("test/cer_ref"));
        EXPECT_EQ(last.count("train/cer"), 0u) << "the training set is not decoded";
    }
    // The run database's cache folder holds the features.
    EXPECT_TRUE(fs::exists(store.dataCacheDir()));
}

TEST(SpeechTasks, KeywordCnnLearnsWellAboveChance) {
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    fixtures::ScratchDir scratch("losslab-speech-commands");
    const TaskRegistry& registry = speechRegistry();
    RunStore store((scratch.path() / "runs.sqlite").string());
    RunQueue queue(store, registry);
    const std::string yaml = "name: commands\ntask: speech/commands/cnn\ndevice: cpu\nlosses:\n  - loss: ce\n  - loss: square\n"
                             "protocols: [early_stopping]\nseeds: 1\ndata:\n  root: " + (corpus / "commands").string() +
                             "\n  classes: 6\ntrain:\n  max_epochs: 20\n  patience: 6\n  batch_size: 16\n";
    queue.start(loadExperimentText(yaml, "commands.yaml", {{"runner.cpu_runs", "2"}, {"runner.threads", "1"}}, registry));
    queue.wait();
    for (const RunRecord& run : store.runs()) {
        ASSERT_EQ(run.status, RunStatus::Completed) << run.error;
        double reported = 0;
        for (const auto& row : store.reportedMetrics({run.id}))
            if (row.value.split == "test" && row.value.metric == "acc") reported = row.value.value;
        EXPECT_GT(reported, 0.5) << run.loss << ": chance is 1/6";
    }
}

TEST(SpeechTasks, SeededRunIsTheSameAloneOrBesideAnother) {
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    fixtures::ScratchDir scratch("losslab-speech-seeded");
    smallKaldiDir(corpus, scratch.path(), "small", 8);
    const TaskRegistry& registry = speechRegistry();
    const std::string yaml = "name: seeded\ntask: speech/kaldi/ctc_attention\ndevice: cpu\nlosses:\n  - loss: ce\n  - loss: square\n"
                             "protocols: [fixed_epochs]\nseeds: 1\ndata:\n  root: " + scratch.path().string() +
                             "\n  train: small\n  dev: small\n  test: small\n  classes: 20\n  specaugment: true\n"
                             "train:\n  max_epochs: 2\n  batch_size: 4\n" + kTinyRecogniser + "  dropout: 0.2\n";
    auto run = [&](const std::string& name, int atOnce) {
        RunStore store((scratch.path() / name).string());
        RunQueue queue(store, registry);
        queue.start(loadExperimentText(yaml, "seeded.yaml", {{"runner.cpu_runs", std::to_string(atOnce)}, {"runner.threads", "1"}}, registry));
        queue.wait();
        std::map<std::string, std::vector<double>> out;
        for (const RunRecord& r : store.runs())
            for (const auto& row : store.epochMetrics({r.id}))
                if (row.value.metric != "wall_s" && row.value.metric != "examples_per_s")
                    out[r.loss + "/" + row.value.split + "/" + row.value.metric].push_back(row.value.value);
        return out;
    };
    const auto alone = run("alone.sqlite", 1);
    const auto beside = run("beside.sqlite", 2);
    ASSERT_FALSE(alone.empty());
    EXPECT_EQ(alone, beside);
}

// Plugin API 6 on the GPU: the recogniser's steps (frames gathered on the CPU, SpecAugment,
// masks, packed encoder layers, teacher forcing from the labels on the host) and the keyword
// CNN's wait for the device only to read their losses. With CTC in the objective LibTorch's
// CUDA CTC loss adds waits of its own (it copies its length tables to the device): counted
// and printed, for docs/speech-tasks.md.
TEST(SpeechTasks, StepsOnTheGpuWaitOnlyToReadTheirLosses) {
    LOSSLAB_SKIP_WITHOUT_CUDA();
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    fixtures::ScratchDir scratch("losslab-speech-gpu");
    smallKaldiDir(corpus, scratch.path(), "small", 8);
    const TaskRegistry& registry = speechRegistry();
    const std::string recogniser = "name: gpu\ntask: speech/kaldi/ctc_attention\ndevice: cuda\nlosses: [square]\nseeds: [0]\n"
                                   "data:\n  root: " + scratch.path().string() +
                                   "\n  train: small\n  dev: small\n  test: small\n  classes: 20\n  specaugment: true\n"
                                   "train:\n  max_epochs: 2\n  batch_size: 4\n" + kTinyRecogniser + "  dropout: 0.2\n";
    const std::string commands = "name: gpu\ntask: speech/commands/cnn\ndevice: cuda\nlosses: [ce]\nseeds: [0]\ndata:\n  root: " +
                                 (corpus / "commands").string() + "\n  classes: 6\ntrain:\n  max_epochs: 2\n  batch_size: 16\n";
    auto train = [&](const std::string& yaml, const std::vector<SpecOverride>& overrides) {
        const RunSpec spec = loadExperimentText(yaml, "gpu.yaml", overrides, registry).expand().front();
        return fixtures::trainCountingSyncs(spec, *registry.require(spec.taskId));
    };
    const RunOutcome attention = train(recogniser, {{"model.ctc_weight", "0"}});
    ASSERT_EQ(attention.status, RunStatus::Completed) << attention.error;
    EXPECT_EQ(attention.syncsInSteps, attention.hostReadsInSteps);
    const RunOutcome keywords = train(commands, {});
    ASSERT_EQ(keywords.status, RunStatus::Completed) << keywords.error;
    EXPECT_EQ(keywords.syncsInSteps, keywords.hostReadsInSteps);
    const RunOutcome joint = train(recogniser, {});
    ASSERT_EQ(joint.status, RunStatus::Completed) << joint.error;
    EXPECT_GE(joint.syncsInSteps, joint.hostReadsInSteps);
    std::cout << "speech/kaldi/ctc_attention with CTC (lambda 0.5), 8 utterances in batches of 4, " << joint.epochs
              << " epochs: " << joint.syncsInSteps << " waits in training steps, " << joint.hostReadsInSteps
              << " of them to read losses\n";
}

TEST(SpeechTasks, TimitWordsForCharacterUnits) {
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    const TimitSets phones = readTimit((corpus / "timit").string());
    const TimitSets words = readTimit((corpus / "timit").string(), TimitText::Words);
    ASSERT_EQ(words.train.size(), phones.train.size());
    for (std::size_t i = 0; i < words.train.size(); ++i) {
        EXPECT_EQ(words.train[i].id, phones.train[i].id);
        EXPECT_EQ(words.train[i].audio, phones.train[i].audio);
        for (const char c : words.train[i].text) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == ' ' || c == '\'') << words.train[i].text;
    }
    bool sawOneTwoThree = false;
    for (const auto& u : words.train) sawOneTwoThree = sawOneTwoThree || u.text == "one two three";
    EXPECT_TRUE(sawOneTwoThree) << "\"One two three.\" lower-cased without its full stop";
    // The task with character units: CER and WER, not PER.
    const TaskRegistry& registry = speechRegistry();
    const ParamSet params = paramsFor(registry, "task: speech/timit/ctc_attention\nlosses: [{loss: ce}]\nmodel:\n  units: characters\n");
    EXPECT_EQ(registry.require("speech/timit/ctc_attention")->makeEvaluator(params, "train"), nullptr);
    EXPECT_NE(registry.require("speech/timit/ctc_attention")->makeEvaluator(params, "test"), nullptr);
}
