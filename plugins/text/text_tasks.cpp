#include "text_tasks.h"

#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <system_error>
#include <utility>

#include "losslab/data/text/char_corpus.h"
#include "losslab/data/text/csv_text_reader.h"
#include "losslab/data/text/glue_reader.h"
#include "losslab/data_error.h"
#include "losslab/error.h"
#include "text_data.h"
#include "text_models.h"
#include "text_transforms.h"

namespace losslab::text {

namespace {

namespace fs = std::filesystem;

enum class Source { Glue, Csv, Text8, Enwik8 };
enum class Model { BiLstm, Esim, PairwiseCnn, Transformer };

// enwik8 as shipped has 205 distinct byte values (the paper's Table 9 counts 204): one output
// per byte value the file can give, plus none to spare.
constexpr std::int64_t kEnwik8Classes = 205;


class TextTask final : public Task {
public:
    TextTask(TaskInfo info, Source source, GlueTask glue, Model model)
        : m_info(std::move(info)), m_source(source), m_glue(glue), m_model(model) {}

    const TaskInfo& info() const override { return m_info; }

    DataBundle loadData(const ParamSet& params) const override {
        const std::string root = requireDataRoot(m_info, params);
        try {
            return m_source == Source::Text8 || m_source == Source::Enwik8 ? loadChars(root, params) : loadWords(root, params);
        } catch (const Error&) {
            rethrowDataError(m_info);
        }
    }

    std::unique_ptr<InputTransform> makeTransform(const ParamSet& params, const torch::Device&) const override {
        if (m_model == Model::Transformer) return std::make_unique<CharTransform>();
        return std::make_unique<TokenTransform>(params.getBool("data.bucket"));
    }

    std::shared_ptr<ClassifierModule> makeModel(const ParamSet& p, at::Generator& init) const override {
        const std::int64_t classes = classCount(m_info, p);
        if (m_model == Model::Transformer) {
            TransformerSizes s;
            s.layers = p.getInt("model.layers");
            s.dim = p.getInt("model.dim");
            s.heads = p.getInt("model.heads");
            s.feedForward = p.getInt("model.feed_forward");
            s.context = p.getInt("data.context");
            return std::make_shared<CharTransformerImpl>(classes, s, p.getDouble("model.dropout"), init);
        }
        const EmbeddingSizes e{p.getInt("data.max_words") + 2, p.getInt("model.embedding_dim")};
        const std::int64_t hidden = p.getInt("model.hidden");
        const double dropout = p.getDouble("model.dropout");
        switch (m_model) {
        case Model::BiLstm: return std::make_shared<BiLstmClassifierImpl>(e, hidden, classes, dropout, init);
        case Model::Esim: return std::make_shared<EsimImpl>(e, hidden, classes, dropout, init);
        case Model::PairwiseCnn:
            return std::make_shared<PairwiseCnnImpl>(e, hidden, p.getInt("model.cube_size"), p.getIntList("model.channels"),
                                                     classes, dropout, init);
        case Model::Transformer: break;
        }
        throw Error("unknown text model");
    }

    void prepareModel(ClassifierModule& model, const DataBundle& data, const ParamSet&) const override {
        const auto vectors = data.tensors.find("embeddings");
        if (vectors == data.tensors.end()) return;
        torch::nn::Embedding* embedding = nullptr;
        if (auto* m = dynamic_cast<BiLstmClassifierImpl*>(&model)) embedding = &m->embedding;
        if (auto* m = dynamic_cast<EsimImpl*>(&model)) embedding = &m->embedding;
        if (auto* m = dynamic_cast<PairwiseCnnImpl*>(&model)) embedding = &m->embedding;
        if (!embedding) return;
        const torch::Tensor found = data.tensors.at("embeddings_found");
        torch::NoGradGuard noGrad;
        torch::Tensor& weight = (*embedding)->weight;
        const std::int64_t rows = std::min(weight.size(0), vectors->second.size(0));
        const torch::Tensor keep = found.narrow(0, 0, rows).unsqueeze(1);
        weight.narrow(0, 0, rows).copy_(torch::where(keep, vectors->second.narrow(0, 0, rows), weight.narrow(0, 0, rows)));
    }

private:
    DataBundle loadChars(const std::string& root, const ParamSet& params) const {
        const CharCorpus corpus = CharCorpus::load(root, m_source == Source::Text8 ? CharCorpusKind::Text8 : CharCorpusKind::Enwik8);
        for (const auto& w : corpus.warnings()) std::cerr << "losslab: " << m_info.id << ": " << w << "\n";
        if (static_cast<std::int64_t>(corpus.classCount()) > m_info.numClasses)
            throw Error(corpus.source() + ": holds " + std::to_string(corpus.classCount()) + " distinct symbols; this task has " +
                        std::to_string(m_info.numClasses) + " classes");
        const std::int64_t context = params.getInt("data.context");
        DataBundle bundle;
        bundle.train = charWindows(corpus.train(), context);
        bundle.val = charWindows(corpus.valid(), context);
        bundle.test = charWindows(corpus.test(), context);
        if (bundle.train.size() == 0 || bundle.val.size() == 0 || bundle.test.size() == 0)
            throw Error(corpus.source() + ": too short for windows of data.context = " + std::to_string(context) +
                        " symbols in each of train, valid and test");
        bundle.source = corpus.source();
        return bundle;
    }

    DataBundle loadWords(const std::string& root, const ParamSet& params) const {
        const TextDataSet data = m_source == Source::Glue ? loadGlueFolder(root, m_glue) : loadTextCsvFolder(root);
        if (m_source == Source::Csv) {
            const auto classes = static_cast<std::int64_t>(data.train.classNames.size());
            if (classes != classCount(m_info, params))
                throw Error(classCountMismatch(data.train.source, data.train.classNames.size(), "classes",
                                               classCount(m_info, params)));
        }
        WordEncoding encoding;
        encoding.maxLength = params.getInt("data.max_length");
        encoding.vocabulary.minCount = params.getInt("data.min_count");
        encoding.vocabulary.maxWords = static_cast<std::size_t>(params.getInt("data.max_words"));
        EncodedTextData encoded = encodeTextData(data, encoding);
        DataBundle bundle;
        bundle.train = std::move(encoded.train);
        bundle.source = root;
        if (m_source == Source::Glue) {
            bundle.test = std::move(encoded.dev); // GLUE's test files have no labels: report on dev
        } else if (data.hasTest && data.test.labelled) {
            bundle.test = std::move(encoded.test);
            if (data.hasDev) bundle.val = std::move(encoded.dev);
        } else if (data.hasDev) {
            bundle.test = std::move(encoded.dev);
        } else {
            throw Error(root + ": needs dev.csv or a labelled test.csv to report on (only train.csv" +
                        std::string(data.hasTest ? " and an unlabelled test.csv" : "") + " found)");
        }
        const std::string embeddings = params.has("model.embeddings") ? params.getString("model.embeddings") : "";
        if (!embeddings.empty()) {
            torch::Tensor found;
            bundle.tensors["embeddings"] =
                readWordVectors(embeddings, encoded.vocabulary, params.getInt("model.embedding_dim"), found);
            bundle.tensors["embeddings_found"] = found;
        }
        return bundle;
    }

    TaskInfo m_info;
    Source m_source;
    GlueTask m_glue;
    Model m_model;
};

// ---- parameters -------------------------------------------------------------------------

std::vector<ParamDecl> wordParams(const std::string& maxLength, const std::string& hidden, const std::string& dropout) {
    return {declareParam("data.max_length", ParamType::Int, maxLength,
                  "truncate texts to this many tokens (0: the longest training text)", 0.0),
            declareParam("data.max_words", ParamType::Int, "30000",
                  "vocabulary size: the most frequent training words (the embedding has 2 more rows: padding, OOV)", 1.0),
            declareParam("data.min_count", ParamType::Int, "1", "occurrences in the training file a word needs", 1.0),
            declareParam("data.bucket", ParamType::Bool, "true", "batch training texts of similar length together"),
            declareParam("model.embedding_dim", ParamType::Int, "300", "word vector size", 1.0),
            declareParam("model.embeddings", ParamType::Path, "",
                  "pretrained word vectors, a GloVe-format text file (empty: random initialisation)"),
            declareParam("model.hidden", ParamType::Int, hidden, "LSTM hidden size per direction", 1.0),
            declareParam("model.dropout", ParamType::Double, dropout, "dropout probability", 0.0, 0.95)};
}

std::vector<ParamDecl> charParams() {
    return {declareParam("data.context", ParamType::Int, "70", "symbols per training window (the model's context)", 1.0, 4096.0),
            declareParam("model.layers", ParamType::Int, "4", "Transformer blocks", 1.0, 64.0),
            declareParam("model.dim", ParamType::Int, "256", "model width", 1.0),
            declareParam("model.heads", ParamType::Int, "4", "attention heads (model.dim must be a multiple)", 1.0),
            declareParam("model.feed_forward", ParamType::Int, "1024", "feed-forward width", 1.0),
            declareParam("model.dropout", ParamType::Double, "0.1", "dropout probability (the paper's Table 21: 0.1)", 0.0, 0.95)};
}

using Recipe = std::vector<std::pair<std::string, std::string>>;

// Adam, constant rate, early stopping within `epochs`.
Recipe adamRecipe(const std::string& lr, const std::string& batch, const std::string& epochs, const std::string& clip) {
    return {{"train.optimizer", "adam"}, {"train.lr", lr},          {"train.weight_decay", "0"},
            {"train.schedule", "constant"}, {"train.batch_size", batch}, {"train.max_epochs", epochs},
            {"train.grad_clip", clip},    {"train.eval_batch_size", "256"}};
}

// ---- tasks ------------------------------------------------------------------------------

const char* const kGlueHint = "Download GLUE (for example with the GLUE benchmark's download_glue_data.py script) and set "
                              "data.root to the task's folder, which holds train.tsv and dev.tsv as distributed";

struct GlueFacts {
    GlueTask task;
    std::string folder, name;
    std::vector<std::string> classes;
};

TaskInfo glueInfo(const GlueFacts& g, const std::string& model, const std::string& modelName, std::string description) {
    TaskInfo info;
    info.id = "glue/" + glueTaskName(g.task) + "/" + model;
    info.description = std::move(description);
    info.domain = "text";
    info.dataset = g.name + " (GLUE)";
    info.model = modelName;
    info.numClasses = static_cast<std::int64_t>(g.classes.size());
    info.classNames = g.classes;
    info.paperDataset = glueTaskName(g.task);
    info.dataHint = std::string(kGlueHint) + " (" + g.folder + ")";
    info.dataFormat = "GLUE TSV folder: train.tsv, dev.tsv";
    info.testSetNote = "test = GLUE's dev set (GLUE's test files have no labels); validation is split from train.tsv";
    return info;
}

GlueFacts mrpc() { return {GlueTask::Mrpc, "MRPC", "MRPC", {"not_equivalent", "equivalent"}}; }
GlueFacts qnli() { return {GlueTask::Qnli, "QNLI", "QNLI", {"entailment", "not_entailment"}}; }
GlueFacts qqp() { return {GlueTask::Qqp, "QQP", "QQP", {"not_duplicate", "duplicate"}}; }

// Table 10: LSTM+Attention MRPC 64 / len 80, QNLI 32 / longest, QQP 64 / len 120; lr 1e-4 (CE).
std::shared_ptr<const Task> esimTask(const GlueFacts& g, const std::string& batch, const std::string& maxLength,
                                     const std::string& epochs) {
    TaskInfo info = glueInfo(g, "lstm_attention", "ESIM (BiLSTM + soft alignment)",
                             g.name + " with LSTM + Attention (ESIM, Chen et al. 2017), as in the paper");
    info.params = wordParams(maxLength, "300", "0.5");
    info.recipe = adamRecipe("0.0001", batch, epochs, "10");
    return std::make_shared<TextTask>(std::move(info), Source::Glue, g.task, Model::Esim);
}

// Table 10: LSTM+CNN MRPC 64 / 80 / 1e-4, QNLI 32 / longest / 1e-4, QQP 32 / 120 / 1e-3; dropout 0.
std::shared_ptr<const Task> pairwiseTask(const GlueFacts& g, const std::string& batch, const std::string& maxLength,
                                         const std::string& lr) {
    TaskInfo info = glueInfo(g, "lstm_cnn", "BiLSTM + word-interaction CNN",
                             g.name + " with LSTM + CNN (pairwise word interaction, He & Lin 2016), as in the paper");
    info.params = wordParams(maxLength, "250", "0");
    info.params.push_back(declareParam("model.cube_size", ParamType::Int, "48",
                                "the similarity cube is padded or cut to this many words per side (He & Lin: 48)", 1.0, 512.0));
    info.params.push_back(declareParam("model.channels", ParamType::IntList, "[64, 128, 128, 128]",
                                "channels of the conv 3x3 - ReLU - max-pool blocks", 1.0));
    info.recipe = adamRecipe(lr, batch, "20", "0");
    return std::make_shared<TextTask>(std::move(info), Source::Glue, g.task, Model::PairwiseCnn);
}

std::shared_ptr<const Task> sst2Task() {
    GlueFacts g{GlueTask::Sst2, "SST-2", "SST-2", {"negative", "positive"}};
    TaskInfo info = glueInfo(g, "bilstm", "BiLSTM + attention pooling",
                             "SST-2 with a BiLSTM and attention pooling (the paper's SST-2 row used BERT)");
    info.params = wordParams("0", "150", "0.5");
    info.recipe = adamRecipe("0.001", "64", "10", "10");
    return std::make_shared<TextTask>(std::move(info), Source::Glue, GlueTask::Sst2, Model::BiLstm);
}

std::shared_ptr<const Task> csvTask() {
    TaskInfo info;
    info.id = "text/csv/bilstm";
    info.description = "Text classification from CSV (text,label; text-c5 / text-c20 style or your own) with a BiLSTM";
    info.domain = "text";
    info.dataset = "CSV text classification";
    info.model = "BiLSTM + attention pooling";
    info.numClasses = 0; // data.classes
    info.dataHint = "Set data.root to a folder with train.csv and dev.csv and/or a labelled test.csv, each with a header "
                    "naming a text and a label column, and data.classes to the number of labels in train.csv";
    info.dataFormat = "CSV folder: train.csv, dev.csv, test.csv (text,label)";
    info.testSetNote = "test = test.csv when it has labels, else dev.csv";
    info.params = wordParams("400", "150", "0.5");
    info.params.push_back(declareParam("data.classes", ParamType::Int, "2", "the number of labels in train.csv", 2.0));
    info.recipe = adamRecipe("0.001", "64", "10", "10");
    return std::make_shared<TextTask>(std::move(info), Source::Csv, GlueTask::Sst2, Model::BiLstm);
}

std::shared_ptr<const Task> charTask(Source source) {
    const bool text8 = source == Source::Text8;
    TaskInfo info;
    info.id = std::string("chars/") + (text8 ? "text8" : "enwik8") + "/transformer";
    info.description = std::string(text8 ? "text8" : "enwik8") +
                       " next-character prediction with a causal Transformer (the paper: Transformer-XL)";
    info.domain = "text";
    info.dataset = text8 ? "text8" : "enwik8";
    info.model = "causal Transformer 4 x 256";
    info.numClasses = text8 ? CharCorpus::kText8Classes : kEnwik8Classes;
    if (text8) {
        info.classNames.push_back("space");
        for (char c = 'a'; c <= 'z'; ++c) info.classNames.emplace_back(1, c);
    }
    info.paperDataset = text8 ? "text8" : "enwik8";
    info.dataHint = std::string("Download ") + (text8 ? "text8.zip from http://mattmahoney.net/dc/text8.zip" : "enwik8.zip from http://mattmahoney.net/dc/enwik8.zip") +
                    ", unzip it and set data.root to the folder holding the file " + (text8 ? "text8" : "enwik8");
    info.dataFormat = std::string("the single file ") + (text8 ? "text8" : "enwik8") + ", split 90M / 5M / 5M";
    info.testSetNote = "a class at every position: accuracy and bits per character over all predicted symbols";
    info.metrics = {"bpc"};
    info.params = charParams();
    // Table 10: batch 8, length 70, lr 2.5e-4; 400k steps, about 2.5 epochs at batch 8.
    info.recipe = adamRecipe("0.00025", "8", "3", "0.25");
    info.recipe.push_back({"train.train_metrics", "running"});
    return std::make_shared<TextTask>(std::move(info), source, GlueTask::Sst2, Model::Transformer);
}

} // namespace

std::vector<std::shared_ptr<const Task>> makeTextTasks() {
    return {esimTask(mrpc(), "64", "80", "20"),      esimTask(qnli(), "32", "0", "20"),   esimTask(qqp(), "64", "120", "30"),
            pairwiseTask(mrpc(), "64", "80", "0.0001"), pairwiseTask(qnli(), "32", "0", "0.0001"),
            pairwiseTask(qqp(), "32", "120", "0.001"),  sst2Task(),                      csvTask(),
            charTask(Source::Text8),                   charTask(Source::Enwik8)};
}

} // namespace losslab::text
