#include "torchscript_tasks.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>

#include "encoder_transforms.h"
#include "jit_encoder.h"
#include "losslab/data/cifar_reader.h"
#include "losslab/data/idx_reader.h"
#include "losslab/data/text/csv_text_reader.h"
#include "losslab/data/text/glue_reader.h"
#include "losslab/data_error.h"
#include "losslab/error.h"
#ifdef LOSSLAB_HAVE_WORDPIECE
#include "losslab/data/text/wordpiece_tokenizer.h"
#endif

namespace losslab::torchscript {

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kImageClasses = 10; // CIFAR-10 and the IDX digit sets
constexpr std::int64_t kTrialTokens = 8;   // a trial forward pass's length with model.padding: longest

HeadOptions headOptions(const TaskInfo& info, const ParamSet& p) {
    HeadOptions head;
    head.classes = classCount(info, p);
    head.dropout = p.getDouble("model.head_dropout");
    head.freezeEncoder = p.getBool("model.freeze_encoder");
    return head;
}

// ---- text -------------------------------------------------------------------------------

#ifdef LOSSLAB_HAVE_WORDPIECE

// One example as the encoder takes it: [CLS] A [SEP] (B [SEP]), and where segment 1 starts.
struct EncodedExample {
    std::vector<std::int32_t> ids;
    std::int32_t segmentB = 0; // index of B's first token; ids.size() for a single text
    std::int64_t label = 0;
    std::int64_t unknown = 0; // [UNK] pieces
};

std::vector<EncodedExample> encodeSplit(const TextSplit& split, bool pairs, const WordPieceTokenizer& tokenizer,
                                        std::size_t maxLength) {
    std::vector<EncodedExample> out(split.size());
    BertEncodeOptions options;
    options.maxLength = maxLength;
    const std::int32_t unk = tokenizer.vocabulary().unkId();
    at::parallel_for(0, static_cast<std::int64_t>(split.size()), 256, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) {
            const TextExample& ex = split.examples[static_cast<std::size_t>(i)];
            const BertEncoding e = pairs ? tokenizer.encodePair(ex.textA, ex.textB, options) : tokenizer.encode(ex.textA, options);
            EncodedExample& r = out[static_cast<std::size_t>(i)];
            r.ids.assign(e.ids.begin(), e.ids.end());
            const auto firstB = std::find(e.segmentIds.begin(), e.segmentIds.end(), 1);
            r.segmentB = static_cast<std::int32_t>(firstB - e.segmentIds.begin());
            r.label = ex.label;
            r.unknown = std::count(r.ids.begin(), r.ids.end(), unk);
        }
    });
    return out;
}

// Token ids int32 [N, width] (padded with [PAD]), token types int8, lengths, labels.
TensorSplit toTensors(const std::vector<EncodedExample>& examples, std::int64_t width, std::int32_t pad) {
    const auto n = static_cast<std::int64_t>(examples.size());
    TensorSplit s;
    s.features = torch::full({n, width}, pad, torch::kInt);
    s.features2 = torch::zeros({n, width}, torch::kChar);
    s.lengths = torch::empty({n}, torch::kLong);
    s.labels = torch::empty({n}, torch::kLong);
    auto ids = s.features.accessor<std::int32_t, 2>();
    auto types = s.features2.accessor<std::int8_t, 2>();
    auto lengths = s.lengths.accessor<std::int64_t, 1>();
    auto labels = s.labels.accessor<std::int64_t, 1>();
    for (std::int64_t i = 0; i < n; ++i) {
        const EncodedExample& e = examples[static_cast<std::size_t>(i)];
        const auto len = static_cast<std::int64_t>(e.ids.size());
        for (std::int64_t t = 0; t < len; ++t) {
            ids[i][t] = e.ids[static_cast<std::size_t>(t)];
            types[i][t] = t >= e.segmentB ? 1 : 0;
        }
        lengths[i] = len;
        labels[i] = e.label;
    }
    return s;
}

class TextEncoderTask final : public Task {
public:
    explicit TextEncoderTask(TaskInfo info) : m_info(std::move(info)) {}

    const TaskInfo& info() const override { return m_info; }

    DataBundle loadData(const ParamSet& params) const override {
        const std::string root = requireDataRoot(m_info, params);
        try {
            return load(root, params);
        } catch (const Error&) {
            rethrowDataError(m_info);
        }
    }

    std::unique_ptr<InputTransform> makeTransform(const ParamSet& params, const torch::Device&) const override {
        return std::make_unique<BertInputTransform>(params.getString("model.padding") == "longest");
    }

    std::shared_ptr<ClassifierModule> makeModel(const ParamSet& p, at::Generator& init) const override {
        const EncoderOutput output = parseEncoderOutput(p.getString("model.output"));
        TrialInput trial;
        trial.length = p.getString("model.padding") == "longest" ? std::min(kTrialTokens, p.getInt("model.max_length"))
                                                                 : p.getInt("model.max_length");
        LoadedEncoder encoder = loadEncoder(p.getString("model.file"), EncoderKind::Text, output, trial);
        return std::make_shared<EncoderClassifierImpl>(std::move(encoder), EncoderKind::Text, output, headOptions(m_info, p), init);
    }

private:
    DataBundle load(const std::string& root, const ParamSet& params) const {
        const std::string format = params.getString("data.format");
        const bool csv = format == "csv";
        const TextDataSet data = csv ? loadTextCsvFolder(root) : loadGlueFolder(root, glueTaskFromName(format));
        const auto classes = static_cast<std::int64_t>(data.train.classNames.size());
        if (classes != classCount(m_info, params))
            throw Error(classCountMismatch(data.train.source, data.train.classNames.size(), "classes",
                                           classCount(m_info, params)));
        const std::string vocabPath = params.getString("model.vocab");
        if (vocabPath.empty())
            throw Error("model.vocab is not set: name the encoder's vocab.txt (one WordPiece token per line, as BERT's)");
        WordPieceOptions options;
        options.lowercase = params.getBool("model.lowercase");
        const WordPieceTokenizer tokenizer(WordPieceVocabulary::load(vocabPath), options);
        const auto maxLength = static_cast<std::size_t>(params.getInt("model.max_length"));

        const std::vector<EncodedExample> train = encodeSplit(data.train, data.pairs, tokenizer, maxLength);
        std::vector<EncodedExample> dev, test;
        if (data.hasDev) dev = encodeSplit(data.dev, data.pairs, tokenizer, maxLength);
        const bool labelledTest = data.hasTest && data.test.labelled;
        if (labelledTest) test = encodeSplit(data.test, data.pairs, tokenizer, maxLength);
        warnAboutUnknownPieces(train, vocabPath, options.lowercase);

        std::int64_t width = static_cast<std::int64_t>(maxLength);
        if (params.getString("model.padding") == "longest") {
            width = 1;
            for (const auto& split : {std::cref(train), std::cref(dev), std::cref(test)})
                for (const auto& e : split.get()) width = std::max(width, static_cast<std::int64_t>(e.ids.size()));
        }
        const std::int32_t pad = tokenizer.vocabulary().padId();
        DataBundle bundle;
        bundle.source = root;
        bundle.train = toTensors(train, width, pad);
        if (!csv) {
            bundle.test = toTensors(dev, width, pad); // GLUE's test files have no labels: report on dev
        } else if (labelledTest) {
            bundle.test = toTensors(test, width, pad);
            if (data.hasDev) bundle.val = toTensors(dev, width, pad);
        } else if (data.hasDev) {
            bundle.test = toTensors(dev, width, pad);
        } else {
            throw Error(root + ": needs dev.csv or a labelled test.csv to report on (only train.csv" +
                        std::string(data.hasTest ? " and an unlabelled test.csv" : "") + " found)");
        }
        return bundle;
    }

    // A vocabulary that does not fit the text (a cased vocab with model.lowercase, say) turns
    // many words into [UNK]; say so, as the run would still train.
    void warnAboutUnknownPieces(const std::vector<EncodedExample>& train, const std::string& vocabPath,
                                bool lowercase) const {
        std::int64_t pieces = 0, unknown = 0;
        for (const auto& e : train) {
            pieces += static_cast<std::int64_t>(e.ids.size()) - 2 - (e.segmentB < static_cast<std::int32_t>(e.ids.size()) ? 1 : 0);
            unknown += e.unknown;
        }
        if (pieces > 0 && unknown * 20 > pieces)
            std::cerr << "losslab: " << m_info.id << ": " << unknown << " of " << pieces << " word pieces of the training texts are [UNK] with "
                      << vocabPath << " (model.lowercase: " << (lowercase ? "true" : "false")
                      << "); check that the vocabulary and model.lowercase are the model's\n";
    }

    TaskInfo m_info;
};

#endif // LOSSLAB_HAVE_WORDPIECE

// ---- images -----------------------------------------------------------------------------

class ImageEncoderTask final : public Task {
public:
    explicit ImageEncoderTask(TaskInfo info) : m_info(std::move(info)) {}

    const TaskInfo& info() const override { return m_info; }

    DataBundle loadData(const ParamSet& params) const override {
        const std::string root = requireDataRoot(m_info, params);
        DataBundle bundle;
        try {
            if (params.getString("data.format") == "idx") {
                bundle.train = readIdxImagesAndLabels(findIdxFile(root, "train-images-idx3-ubyte"),
                                                      findIdxFile(root, "train-labels-idx1-ubyte"), kImageClasses);
                bundle.test = readIdxImagesAndLabels(findIdxFile(root, "t10k-images-idx3-ubyte"),
                                                     findIdxFile(root, "t10k-labels-idx1-ubyte"), kImageClasses);
            } else {
                bundle = loadCifar10(root);
            }
        } catch (const Error&) {
            rethrowDataError(m_info);
        }
        for (const TensorSplit* split : {&bundle.train, &bundle.test}) {
            const torch::Tensor& f = split->features;
            if (f.dim() != 4 || (f.size(1) != 1 && f.size(1) != 3))
                throw Error(m_info.id + ": " + root + ": expected grey or colour images [N, 1 or 3, H, W], got an array of shape " +
                            c10::str(f.sizes()));
        }
        if (bundle.source.empty()) bundle.source = root;
        return bundle;
    }

    std::unique_ptr<InputTransform> makeTransform(const ParamSet& p, const torch::Device& device) const override {
        ImageOptions options;
        options.size = p.getInt("model.image_size");
        options.mean = p.getDoubleList("model.mean");
        options.std = p.getDoubleList("model.std");
        options.augment = p.getBool("data.augment");
        if (options.mean.size() != 3 || options.std.size() != 3)
            throw Error("model.mean and model.std: expected three numbers each (red, green, blue), got " +
                        std::to_string(options.mean.size()) + " and " + std::to_string(options.std.size()));
        for (const double s : options.std)
            if (s <= 0) throw Error("model.std: expected numbers > 0, got " + formatShortest(s));
        return std::make_unique<EncoderImageTransform>(options, device);
    }

    std::shared_ptr<ClassifierModule> makeModel(const ParamSet& p, at::Generator& init) const override {
        const EncoderOutput output = parseEncoderOutput(p.getString("model.output"));
        TrialInput trial;
        trial.imageSize = p.getInt("model.image_size");
        LoadedEncoder encoder = loadEncoder(p.getString("model.file"), EncoderKind::Image, output, trial);
        return std::make_shared<EncoderClassifierImpl>(std::move(encoder), EncoderKind::Image, output, headOptions(m_info, p), init);
    }

private:
    TaskInfo m_info;
};

// ---- parameters and recipes -------------------------------------------------------------

ParamDecl choice(std::string key, std::string defaultValue, std::string help, std::vector<std::string> choices) {
    ParamDecl d = declareParam(std::move(key), ParamType::String, std::move(defaultValue), std::move(help));
    d.choices = std::move(choices);
    return d;
}

std::vector<ParamDecl> encoderParams(const std::string& headDropout) {
    return {declareParam("model.file", ParamType::Path, "",
                         "the TorchScript encoder to fine-tune (torch.jit.save); see docs/torchscript-models.md"),
            choice("model.output", "pooled", "what forward returns: pooled [B, H], or sequence [B, T, H] (position 0 is used)",
                   {"pooled", "sequence"}),
            declareParam("model.freeze_encoder", ParamType::Bool, "false",
                         "train the head only; the encoder stays in eval mode, without gradients"),
            declareParam("model.head_dropout", ParamType::Double, headDropout, "dropout before the linear head", 0.0, 0.95),
            declareParam("train.warmup", ParamType::Double, "0",
                         "schedule linear: the fraction of all steps that warm the rate up from 0", 0.0, 1.0)};
}

#ifdef LOSSLAB_HAVE_WORDPIECE
std::shared_ptr<const Task> textTask() {
    TaskInfo info;
    info.id = "torchscript/text";
    info.description = "Fine-tune your TorchScript text encoder (BERT-style) with a linear head on GLUE or CSV text";
    info.domain = "text";
    info.dataset = "GLUE or CSV text (data.format)";
    info.model = "your TorchScript encoder + linear head";
    info.numClasses = 0; // data.classes
    info.dataHint = "Set data.root to a GLUE task's folder (train.tsv, dev.tsv) with data.format mrpc, sst2, qnli or qqp, or "
                    "to a folder with train.csv and dev.csv and/or a labelled test.csv with data.format csv; model.file and "
                    "model.vocab name the encoder and its vocab.txt (docs/torchscript-models.md)";
    info.dataFormat = "GLUE TSV folder (data.format mrpc, sst2, qnli, qqp) or CSV folder (csv)";
    info.testSetNote = "test = GLUE's dev set (GLUE's test files have no labels), or a CSV folder's labelled test.csv, else "
                       "dev.csv; validation is split from train";
    info.params = {choice("data.format", "mrpc", "the files in data.root: a GLUE task's TSV folder, or a CSV folder",
                          {"mrpc", "sst2", "qnli", "qqp", "csv"}),
                   declareParam("data.classes", ParamType::Int, "2", "the number of labels (2 for the GLUE tasks)", 2.0),
                   declareParam("model.vocab", ParamType::Path, "", "the encoder's vocab.txt (WordPiece, as BERT's)"),
                   declareParam("model.lowercase", ParamType::Bool, "true",
                                "lower-case and strip accents before WordPiece (uncased models); false for cased ones"),
                   declareParam("model.max_length", ParamType::Int, "128",
                                "most tokens per example, [CLS] and [SEP] included; longer ones are cut, the longer text of a pair first",
                                3.0, 8192.0),
                   choice("model.padding", "max_length",
                          "max_length: every batch padded to model.max_length (what a traced model needs); longest: to "
                          "the batch's longest example",
                          {"max_length", "longest"})};
    for (auto& d : encoderParams("0.1")) info.params.push_back(std::move(d));
    // Hugging Face's run_glue.py as the paper ran it (Table 10): AdamW, lr 2e-5, batch 32,
    // 3 epochs, linear decay without warm-up, gradient norm clipped at 1.
    info.recipe = {{"train.optimizer", "adamw"}, {"train.lr", "2e-05"},    {"train.weight_decay", "0"},
                   {"train.schedule", "linear"}, {"train.batch_size", "32"}, {"train.max_epochs", "3"},
                   {"train.grad_clip", "1"},     {"train.eval_batch_size", "128"}};
    return std::make_shared<TextEncoderTask>(std::move(info));
}
#endif

std::shared_ptr<const Task> imageTask() {
    TaskInfo info;
    info.id = "torchscript/image";
    info.description = "Fine-tune your TorchScript image encoder (ViT-style) with a linear head on CIFAR-10 or IDX images";
    info.domain = "vision";
    info.dataset = "CIFAR-10 or IDX images (data.format)";
    info.model = "your TorchScript encoder + linear head";
    info.numClasses = kImageClasses;
    info.dataHint = "Set data.root to the CIFAR-10 binary folder (cifar-10-batches-bin) with data.format cifar10, or to a folder "
                    "with MNIST-style IDX files with data.format idx; model.file names the encoder (docs/torchscript-models.md)";
    info.dataFormat = "CIFAR-10 binary batches (data.format cifar10) or four IDX files (idx)";
    info.params = {choice("data.format", "cifar10", "the files in data.root", {"cifar10", "idx"}),
                   declareParam("data.augment", ParamType::Bool, "false",
                                "random crop (4-pixel padding) and horizontal flip of training images, before resizing"),
                   declareParam("model.image_size", ParamType::Int, "224", "images are resized (bilinear) to this size", 1.0, 4096.0),
                   declareParam("model.mean", ParamType::DoubleList, "[0.5, 0.5, 0.5]",
                                "per-channel mean the encoder was trained with ([0, 1]-scaled pixels)"),
                   declareParam("model.std", ParamType::DoubleList, "[0.5, 0.5, 0.5]",
                                "per-channel standard deviation the encoder was trained with")};
    for (auto& d : encoderParams("0")) info.params.push_back(std::move(d));
    // The ViT paper's fine-tuning (Kolesnikov et al. 2021 in the paper's Table 12): SGD with
    // momentum 0.9, no weight decay, cosine decay, batch 512, gradient norm clipped at 1;
    // 200 epochs as the paper lists.
    info.recipe = {{"train.optimizer", "sgd"},    {"train.lr", "0.01"},         {"train.momentum", "0.9"},
                   {"train.nesterov", "false"},   {"train.weight_decay", "0"},  {"train.schedule", "cosine"},
                   {"train.batch_size", "512"},   {"train.max_epochs", "200"},  {"train.grad_clip", "1"},
                   {"train.eval_batch_size", "256"}};
    return std::make_shared<ImageEncoderTask>(std::move(info));
}

} // namespace

std::vector<std::shared_ptr<const Task>> makeTorchScriptTasks() {
#ifdef LOSSLAB_HAVE_WORDPIECE
    return {textTask(), imageTask()};
#else
    return {imageTask()};
#endif
}

} // namespace losslab::torchscript
