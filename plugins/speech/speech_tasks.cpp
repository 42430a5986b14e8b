#include "speech_tasks.h"

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <unistd.h>

#include "commands_cnn.h"
#include "ctc_attention.h"
#include "losslab/data_error.h"
#include "losslab/error.h"
#include "speech_corpus.h"
#include "speech_data.h"
#include "speech_model.h"
#include "spm_tools.h"
#include "unit_set.h"

namespace losslab::speech {
namespace {

namespace fs = std::filesystem;

enum class Corpus { LibriSpeech, Timit, Kaldi, Commands };

std::string joinPath(const std::string& root, const std::string& sub) { return (fs::path(root) / sub).string(); }

class SpeechTask final : public Task {
public:
    SpeechTask(TaskInfo info, Corpus corpus) : m_info(std::move(info)), m_corpus(corpus) {}

    const TaskInfo& info() const override { return m_info; }

    DataBundle loadData(const ParamSet& params) const override { return loadDataIn(params, DataContext{}); }

    DataBundle loadDataIn(const ParamSet& params, const DataContext& context) const override {
        const std::string root = requireDataRoot(m_info, params);
        try {
            return load(root, params, context);
        } catch (const Error&) {
            rethrowDataError(m_info);
        }
    }

    std::unique_ptr<InputTransform> makeTransform(const ParamSet&, const torch::Device&) const override {
        throw Error(m_info.id + ": the speech transform needs the loaded data (plugin API 4, makeTransformFor)");
    }

    std::unique_ptr<InputTransform> makeTransformFor(const ParamSet& params, const torch::Device& device,
                                                     const DataBundle& data) const override {
        SpecAugmentOptions s;
        s.enabled = params.getBool("data.specaugment");
        s.freqMasks = params.getInt("data.freq_masks");
        s.freqWidth = params.getInt("data.freq_mask_width");
        s.timeMasks = params.getInt("data.time_masks");
        s.timeWidth = params.getInt("data.time_mask_width");
        return std::make_unique<SpeechTransform>(data, s, device);
    }

    std::shared_ptr<ClassifierModule> makeModel(const ParamSet& p, at::Generator& init) const override {
        const std::int64_t classes = classCount(m_info, p);
        const std::int64_t inputDim = p.getInt("data.mel_bins") * (p.getInt("data.deltas") + 1);
        std::shared_ptr<ClassifierModule> net;
        if (m_corpus == Corpus::Commands) {
            CommandsCnnOptions o;
            o.numClasses = classes;
            o.dropout = p.getDouble("model.dropout");
            net = std::make_shared<CommandsCnnImpl>(o, init);
        } else {
            CtcAttentionOptions o;
            o.inputDim = inputDim;
            o.vocab = classes;
            o.vgg = p.getBool("model.vgg");
            o.encoderLayers = p.getInt("model.encoder_layers");
            o.projectEveryLayer = p.getBool("model.project_every_layer");
            o.encoderUnits = p.getInt("model.encoder_units");
            o.projectionUnits = p.getInt("model.projection_units");
            o.attentionDim = p.getInt("model.attention_dim");
            o.decoderLayers = p.getInt("model.decoder_layers");
            o.decoderUnits = p.getInt("model.decoder_units");
            o.ctcWeight = p.getDouble("model.ctc_weight");
            o.dropout = p.getDouble("model.dropout");
            net = std::make_shared<CtcAttentionImpl>(o, init);
        }
        return std::make_shared<SpeechModelImpl>(std::move(net), inputDim);
    }

    void prepareModel(ClassifierModule& model, const DataBundle& data, const ParamSet&) const override {
        auto& speech = dynamic_cast<SpeechModelImpl&>(model);
        speech.setStatistics(data.tensors.at("cmvn_mean"), data.tensors.at("cmvn_std"), unitNamesOf(data));
    }

    std::unique_ptr<TaskEvaluator> makeEvaluator(const ParamSet& p, const std::string& split) const override {
        // Decoding the training set every epoch would cost more than training on it.
        if (m_corpus == Corpus::Commands || split == "train") return nullptr;
        DecodeSettings d;
        d.beam = p.getInt("model.beam_size");
        d.lengthBonus = p.getDouble("model.length_bonus");
        d.normaliseLength = p.getBool("model.length_normalise");
        d.ctcWeight = p.getDouble("model.decode_ctc_weight");
        d.units = unitKindOf(p);
        d.rates = m_corpus == Corpus::Timit && d.units == UnitKind::Tokens ? std::vector<std::string>{"per"}
                                                                           : std::vector<std::string>{"wer", "cer"};
        return std::make_unique<RecognitionEvaluator>(d);
    }

private:
    UnitKind unitKindOf(const ParamSet& p) const {
        if (m_corpus == Corpus::Commands) return UnitKind::Tokens;
        const std::string units = p.getString("model.units");
        return units == "sentencepiece" ? UnitKind::SentencePiece : units == "phones" ? UnitKind::Tokens : UnitKind::Characters;
    }

    DataBundle load(const std::string& root, const ParamSet& p, const DataContext& context) const {
        SpeechSplits splits;
        std::vector<std::string> classNames;
        switch (m_corpus) {
        case Corpus::LibriSpeech:
            splits.train = readLibriSpeech(joinPath(root, p.getString("data.train")));
            splits.val = readLibriSpeech(joinPath(root, p.getString("data.dev")));
            splits.test = readLibriSpeech(joinPath(root, p.getString("data.test")));
            break;
        case Corpus::Kaldi:
            splits.train = readKaldiDataDir(joinPath(root, p.getString("data.train")));
            splits.val = readKaldiDataDir(joinPath(root, p.getString("data.dev")));
            splits.test = readKaldiDataDir(joinPath(root, p.getString("data.test")));
            break;
        case Corpus::Timit: {
            TimitSets t = readTimit(root, p.getString("model.units") == "phones" ? TimitText::Phones : TimitText::Words);
            splits.train = std::move(t.train);
            splits.val = std::move(t.dev);
            splits.test = std::move(t.test);
            break;
        }
        case Corpus::Commands: {
            CommandsSets c = readSpeechCommands(root);
            splits.train = std::move(c.train);
            splits.val = std::move(c.validation);
            splits.test = std::move(c.test);
            classNames = std::move(c.labels);
            break;
        }
        }
        splits.source = root;
        const std::int64_t expected = classCount(m_info, p);
        std::optional<UnitSet> units;
        if (m_corpus == Corpus::Commands) {
            if (static_cast<std::int64_t>(classNames.size()) != expected)
                throw Error(classCountMismatch(root, classNames.size(), "labels (folders of .wav files)", expected));
        } else {
            units = makeUnits(p, splits.train, context.cacheDir);
            if (units->size() != expected)
                throw Error(root + ": its output units (" + p.getString("model.units") + ", with <blank>, <unk> and <eos>) number " +
                            std::to_string(units->size()) + "; data.classes says " + std::to_string(expected) +
                            " (set data.classes: " + std::to_string(units->size()) + ")");
        }
        FeatureSettings f;
        f.fbank.sampleRate = static_cast<int>(p.getInt("data.sample_rate"));
        f.fbank.numMelBins = p.getInt("data.mel_bins");
        f.deltaOrder = static_cast<int>(p.getInt("data.deltas"));
        f.minSeconds = m_corpus == Corpus::Commands ? 1.0 : 0.0;
        return makeSpeechBundle(splits, f, units ? &*units : nullptr, classNames, context.cacheDir);
    }

    UnitSet makeUnits(const ParamSet& p, const std::vector<Utterance>& train, const std::string& cacheDir) const {
        const std::string units = p.getString("model.units");
        std::vector<std::string> texts;
        texts.reserve(train.size());
        for (const Utterance& u : train) texts.push_back(u.text);
        if (units == "sentencepiece") {
            std::string model = p.getString("model.spm_model");
            if (model.empty()) {
                // Trained on the training transcripts, kept beside the run database (or in the
                // system's temporary folder when there is none).
                const std::string dir = !cacheDir.empty() ? cacheDir
                                                          : (fs::temp_directory_path() / ("losslab-spm-" + std::to_string(::getuid()))).string();
                model = trainSentencePieceModel(texts, static_cast<int>(p.getInt("model.spm_units")), p.getString("model.spm_type"), dir);
            }
            return UnitSet::sentencePiece(model);
        }
        if (m_corpus == Corpus::Timit && units == "phones") return UnitSet::fixed(UnitKind::Tokens, kTimitPhones39);
        if (m_corpus == Corpus::LibriSpeech && units == "characters")
            return UnitSet::fixed(UnitKind::Characters, kLibriSpeechCharacters);
        if (units == "phones") return UnitSet::tokens(texts);
        return UnitSet::characters(texts);
    }

    TaskInfo m_info;
    Corpus m_corpus;
};

std::vector<ParamDecl> featureParams(bool specAugment) {
    return {
        declareParam("data.sample_rate", ParamType::Int, "16000", "the corpus's sample rate in Hz; audio at another rate is refused (convert it with sox)", 1000.0, 192000.0),
        declareParam("data.mel_bins", ParamType::Int, "80", "log-mel filterbank bins (Kaldi-compatible, 25 ms windows every 10 ms)", 3.0, 512.0),
        declareParam("data.deltas", ParamType::Int, "0", "append deltas (1) or deltas and delta-deltas (2)", 0.0, 2.0),
        declareParam("data.specaugment", ParamType::Bool, specAugment ? "true" : "false", "SpecAugment's frequency and time masks when training (drawn from the run's augmentation generator)"),
        declareParam("data.freq_masks", ParamType::Int, "2", "SpecAugment: frequency masks per utterance", 0.0, 16.0),
        declareParam("data.freq_mask_width", ParamType::Int, "30", "SpecAugment: largest frequency mask, in bins", 0.0, 512.0),
        declareParam("data.time_masks", ParamType::Int, "2", "SpecAugment: time masks per utterance", 0.0, 64.0),
        declareParam("data.time_mask_width", ParamType::Int, "40", "SpecAugment: largest time mask, in frames", 0.0, 10000.0),
    };
}

void addRecogniserParams(TaskInfo& info, const std::string& units, const std::string& unitChoices, const std::string& classes,
                         const std::string& encoderLayers) {
    auto& p = info.params;
    p.push_back(declareParam("data.classes", ParamType::Int, classes, "output units including <blank>, <unk> and <eos> (the loader says the right number)", 4.0));
    ParamDecl unitsDecl = declareParam("model.units", ParamType::String, units, "output units: " + unitChoices);
    unitsDecl.choices = {};
    for (std::size_t start = 0; start <= unitChoices.size();) {
        const std::size_t bar = std::min(unitChoices.find('|', start), unitChoices.size());
        unitsDecl.choices.push_back(unitChoices.substr(start, bar - start));
        start = bar + 1;
    }
    p.push_back(unitsDecl);
    p.push_back(declareParam("model.spm_model", ParamType::Path, "", "model.units sentencepiece: the SentencePiece model file (e.g. ESPnet's data/lang_char/*.model); empty: one trained on the training transcripts"));
    p.push_back(declareParam("model.spm_units", ParamType::Int, "1000", "model.units sentencepiece without model.spm_model: the vocabulary size to train (SentencePiece's, with its <unk>, <s> and </s>)", 4.0, 100000.0));
    ParamDecl spmType = declareParam("model.spm_type", ParamType::String, "unigram", "model.units sentencepiece without model.spm_model: the model to train (ESPnet's bpemode)");
    spmType.choices = {"unigram", "bpe"};
    p.push_back(spmType);
    p.push_back(declareParam("model.vgg", ParamType::Bool, "true", "VGG-style convolutional front end (4x fewer frames) before the BLSTMP encoder"));
    p.push_back(declareParam("model.encoder_layers", ParamType::Int, encoderLayers, "BLSTMP encoder layers", 1.0, 16.0));
    p.push_back(declareParam("model.project_every_layer", ParamType::Bool, "true", "BLSTMP: a projection after every encoder layer; false: BLSTM, after the last one only"));
    p.push_back(declareParam("model.encoder_units", ParamType::Int, "320", "LSTM units per direction in each encoder layer", 1.0, 4096.0));
    p.push_back(declareParam("model.projection_units", ParamType::Int, "320", "units of each encoder layer's projection", 1.0, 4096.0));
    p.push_back(declareParam("model.attention_dim", ParamType::Int, "320", "location-aware attention: dimension", 1.0, 4096.0));
    p.push_back(declareParam("model.decoder_layers", ParamType::Int, "1", "LSTM decoder layers", 1.0, 8.0));
    p.push_back(declareParam("model.decoder_units", ParamType::Int, "300", "LSTM decoder units", 1.0, 4096.0));
    p.push_back(declareParam("model.ctc_weight", ParamType::Double, "0.5", "lambda: the objective is lambda * CTC + (1 - lambda) * the study's loss on the attention decoder", 0.0, 1.0));
    p.push_back(declareParam("model.dropout", ParamType::Double, "0", "dropout between encoder layers and in the decoder", 0.0, 0.9));
    p.push_back(declareParam("model.beam_size", ParamType::Int, "1", "decoding of the validation and test sets after each epoch: 1 greedy, more a beam search", 1.0, 100.0));
    p.push_back(declareParam("model.length_bonus", ParamType::Double, "0", "beam search: score added per output unit (favours longer hypotheses)", -10.0, 10.0));
    p.push_back(declareParam("model.length_normalise", ParamType::Bool, "false", "beam search: rank finished hypotheses by score / (units + 2) instead of their total score"));
    p.push_back(declareParam("model.decode_ctc_weight", ParamType::Double, "0", "beam search: weight of CTC prefix scores beside the attention decoder's", 0.0, 1.0));
}

// ESPnet's RNN recipes: Adam (ESPnet's default is AdaDelta, which LibTorch lacks), gradients clipped
// at norm 5, batches of 30 utterances, patience 3 on the validation (token) accuracy.
std::vector<std::pair<std::string, std::string>> recogniserRecipe(const std::string& epochs) {
    return {{"train.optimizer", "adam"},      {"train.lr", "0.001"},         {"train.batch_size", "30"},
            {"train.eval_batch_size", "50"},  {"train.max_epochs", epochs},  {"train.patience", "3"},
            {"train.grad_clip", "5"},         {"train.train_metrics", "running"}, {"train.log_every_steps", "10"}};
}

// What the recogniser tasks share: the domain, the model, padded transcripts, the feature keys.
TaskInfo recogniserInfo(std::string id, std::string dataset, std::string description, bool specAugment) {
    TaskInfo info;
    info.id = std::move(id);
    info.description = std::move(description);
    info.domain = "speech";
    info.dataset = std::move(dataset);
    info.model = "joint CTC-attention, VGG + BLSTMP encoder, location-aware attention";
    info.paddedLabels = true;
    info.params = featureParams(specAugment);
    return info;
}

// data.train, data.dev and data.test: the splits' folders under data.root.
void addSplitParams(TaskInfo& info, const std::string& train, const std::string& dev, const std::string& test,
                    const std::string& what) {
    info.params.push_back(declareParam("data.train", ParamType::String, train, "the training " + what + " under data.root"));
    info.params.push_back(declareParam("data.dev", ParamType::String, dev, "the validation " + what));
    info.params.push_back(declareParam("data.test", ParamType::String, test, "the test " + what));
}

std::shared_ptr<const Task> librispeechTask() {
    TaskInfo info = recogniserInfo("speech/librispeech/ctc_attention", "LibriSpeech",
                                   "LibriSpeech (train-clean-100, dev-clean, test-clean) with a joint CTC-attention recogniser (VGG + BLSTMP)", true);
    info.dataHint = "Download train-clean-100, dev-clean and test-clean from https://www.openslr.org/12, unpack them into one "
                    "folder (they unpack into LibriSpeech/) and set data.root to that LibriSpeech folder";
    info.dataFormat = "LibriSpeech subsets: <speaker>/<chapter>/*.flac with *.trans.txt";
    info.testSetNote = "test-clean; error rates of greedy (model.beam_size 1) or beam-search hypotheses; acc is the attention decoder's token accuracy with the true history";
    addSplitParams(info, "train-clean-100", "dev-clean", "test-clean", "subset's folder");
    addRecogniserParams(info, "characters", "characters|sentencepiece", "31", "4");
    info.recipe = recogniserRecipe("30");
    return std::make_shared<SpeechTask>(std::move(info), Corpus::LibriSpeech);
}

std::shared_ptr<const Task> timitTask() {
    TaskInfo info = recogniserInfo("speech/timit/ctc_attention", "TIMIT",
                                   "TIMIT phone recognition (39 folded phones, core test set) with a joint CTC-attention recogniser", false);
    info.dataHint = "TIMIT is licensed by the LDC (LDC93S1): set data.root to the folder holding its TRAIN and TEST folders";
    info.dataFormat = "TIMIT: TRAIN/ and TEST/ with .WAV (NIST SPHERE) and .PHN files";
    info.testSetNote = "the 24-speaker core test set; validation: the 50-speaker development set";
    addRecogniserParams(info, "phones", "phones|characters", "42", "4");
    info.recipe = recogniserRecipe("20");
    return std::make_shared<SpeechTask>(std::move(info), Corpus::Timit);
}

std::shared_ptr<const Task> kaldiTask() {
    TaskInfo info = recogniserInfo("speech/kaldi/ctc_attention", "Kaldi data directories",
                                   "Any Kaldi data directory (WSJ and most research corpora) with a joint CTC-attention recogniser", false);
    info.dataHint = "Set data.root to a recipe's data folder and data.train, data.dev, data.test to its data directories, "
                    "each with wav.scp (files, not piped commands), text and optionally segments and utt2spk";
    info.dataFormat = "Kaldi data directories: wav.scp, text, segments (optional)";
    info.testSetNote = "the data directory named by data.test";
    addSplitParams(info, "train", "dev", "test", "data directory");
    addRecogniserParams(info, "characters", "characters|sentencepiece", "52", "4");
    info.recipe = recogniserRecipe("15");
    return std::make_shared<SpeechTask>(std::move(info), Corpus::Kaldi);
}

std::shared_ptr<const Task> commandsTask() {
    TaskInfo info;
    info.id = "speech/commands/cnn";
    info.description = "Speech Commands keyword classification (one-second clips) with a small CNN on log-mel features";
    info.domain = "speech";
    info.dataset = "Speech Commands";
    info.model = "CNN on 40 log-mel bins";
    info.dataHint = "Download speech_commands_v0.02.tar.gz from http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz, "
                    "unpack it and set data.root to that folder";
    info.dataFormat = "one folder of .wav clips per label, validation_list.txt, testing_list.txt";
    info.testSetNote = "the files of testing_list.txt";
    std::vector<ParamDecl> params = featureParams(false);
    for (auto& d : params)
        if (d.key == "data.mel_bins") d.defaultValue = "40";
    info.params = params;
    info.params.push_back(declareParam("data.classes", ParamType::Int, "35", "labels: folders of .wav clips (v0.02 has 35)", 2.0));
    info.params.push_back(declareParam("model.dropout", ParamType::Double, "0.1", "dropout before the classifier", 0.0, 0.9));
    info.recipe = {{"train.optimizer", "adam"}, {"train.lr", "0.001"}, {"train.batch_size", "100"},
                   {"train.eval_batch_size", "500"}, {"train.max_epochs", "30"}, {"train.patience", "5"}};
    return std::make_shared<SpeechTask>(std::move(info), Corpus::Commands);
}

} // namespace

std::vector<std::shared_ptr<const Task>> makeSpeechTasks() {
    return {librispeechTask(), timitTask(), kaldiTask(), commandsTask()};
}

} // namespace losslab::speech
