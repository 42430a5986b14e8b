// The TorchScript plugin (plugins/torchscript), loaded as a shared library like a user's
// plugin, on small encoders scripted at test time by tests/core/torchscript_models.py with
// the machine's PyTorch (Debian's python3-torch; no downloads): its tasks and keys, the
// checks of a model file (with their messages), tokenisation into the encoder's inputs, and
// fine-tuning of a BERT-like and a conv encoder on generated pair and image data with both
// losses: they learn, give bit-identical runs alone or beside others, resume bit-identically,
// freeze the encoder when asked, and follow the linear schedule.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/cuda.h>
#include <torch/nn/functional/loss.h>
#include <torch/serialize/archive.h>
#include <torch/version.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "error_matchers.h"
#include "losslab/error.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/task.h"
#include "losslab/training/optimizer_factory.h"
#include "reference_python.h"
#include "run_series.h"
#include "scratch_dir.h"
#include "text_fixtures.h"
#include "vision_registry.h"

namespace fs = std::filesystem;
using namespace losslab;
using fixtures::RunKey;
using fixtures::Series;
using fixtures::ScratchDir;

namespace {

const TaskRegistry& registry() { return fixtures::visionTasks(); } // every plugin of the build tree

// The folder holding the scripted models, written once per test program.
const fs::path& models() {
    static const ScratchDir dir("losslab-torchscript-models");
    static const bool written = [] {
        fixtures::runReferencePython(std::string(LOSSLAB_SOURCE_DIR) + "/tests/core/torchscript_models.py '" +
                                     dir.path().string() + "'");
        return true;
    }();
    (void)written;
    return dir.path();
}

// Without ICU the core has no WordPiece tokenizer and the plugin no torchscript/text.
bool hasTextTask() { return registry().findInfo("torchscript/text") != nullptr; }
#define SKIP_WITHOUT_TEXT_TASK() \
    if (!hasTextTask()) GTEST_SKIP() << "built without ICU: no WordPiece tokenizer, no torchscript/text"

std::string model(const std::string& name) { return (models() / name).string(); }

// An image encoder compiled here by LibTorch's own TorchScript compiler (no Python needed):
// `body` continues `def forward(self, images):` after x = the [B, 4] features. It holds the
// parameter w [3, 4] (requires_grad as nn.Parameter's, unless `trainable` is false) and the
// buffers mean and var [4] (zeros and ones), and self.training.
torch::jit::Module imageEncoder(const std::string& body, bool trainable = true) {
    torch::jit::Module encoder("__torch__.Encoder");
    encoder.register_attribute("training", c10::BoolType::get(), true); // as nn.Module's
    encoder.register_parameter("w", torch::ones({3, 4}).requires_grad_(trainable), false);
    encoder.register_buffer("mean", torch::zeros({4}));
    encoder.register_buffer("var", torch::ones({4}));
    encoder.define("def forward(self, images):\n    x = images.mean((2, 3)).matmul(self.w)\n" + body);
    return encoder;
}

std::string saveEncoder(const torch::jit::Module& encoder, const ScratchDir& dir, const std::string& name) {
    const std::string path = dir.file(name);
    encoder.save(path);
    return path;
}

std::string defineImageEncoder(const ScratchDir& dir, const std::string& name, const std::string& body) {
    return saveEncoder(imageEncoder(body), dir, name);
}

ParamSet paramsFor(const std::string& task, const std::string& yaml) {
    const std::string text = "name: t\ntask: " + task + "\ndevice: cpu\nlosses: [ce]\nseeds: [0]\n" + yaml;
    return loadExperimentText(text, "test.yaml", {}, registry()).params;
}

std::string textModelYaml(const std::string& file, const std::string& extra = "") {
    const std::string length = extra.find("max_length") == std::string::npos ? ", max_length: 32" : "";
    return "model: {file: '" + model(file) + "', vocab: '" + model("vocab.txt") + "'" + length + extra + "}\n";
}

std::shared_ptr<ClassifierModule> buildModel(const std::string& task, const ParamSet& params, std::uint64_t seed = 1) {
    at::Generator init = at::make_generator<at::CPUGeneratorImpl>(seed);
    return registry().require(task)->makeModel(params, init);
}

::testing::AssertionResult buildFails(const std::string& task, const std::string& yaml, std::initializer_list<std::string> parts) {
    return fixtures::throwsErrorWith([&] { buildModel(task, paramsFor(task, yaml)); }, parts);
}

// IDX files of 28x28 grey images in 4 of the 10 classes, told apart by texture: class 0 is
// dark, 1 bright, 2 vertical stripes, 3 horizontal stripes, each plus noise in [0, 60). Plain
// files, as MNIST's unpacked ones.
void writeIdxFolder(const fs::path& dir, int train, int test) {
    fs::create_directories(dir);
    auto bigEndian = [](std::ofstream& out, std::uint32_t v) {
        const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
        out.write(bytes, 4);
    };
    auto write = [&](const std::string& prefix, int count, unsigned seed) {
        std::mt19937 rng(seed);
        std::uniform_int_distribution<int> noise(0, 59);
        std::ofstream images(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary);
        std::ofstream labels(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary);
        bigEndian(images, 0x803);
        bigEndian(images, static_cast<std::uint32_t>(count));
        bigEndian(images, 28);
        bigEndian(images, 28);
        bigEndian(labels, 0x801);
        bigEndian(labels, static_cast<std::uint32_t>(count));
        for (int i = 0; i < count; ++i) {
            const int label = i % 4;
            labels.put(static_cast<char>(label));
            for (int r = 0; r < 28; ++r)
                for (int c = 0; c < 28; ++c) {
                    const bool on = label == 1 || (label == 2 && c % 4 < 2) || (label == 3 && r % 4 < 2);
                    images.put(static_cast<char>(noise(rng) + (on ? 180 : 20)));
                }
        }
    };
    write("train", train, 11);
    write("t10k", test, 12);
}

class TorchScriptRunsTest : public ::testing::Test {
protected:
    std::string db(const std::string& name) const { return (m_dir / name).string(); }

    // Runs `yaml` with `runsAtOnce` runs at once on the CPU, one thread each.
    std::map<RunKey, Series> run(const std::string& yaml, int runsAtOnce, std::vector<SpecOverride> overrides = {}) {
        overrides.push_back({"runner.cpu_runs", std::to_string(runsAtOnce)});
        overrides.push_back({"runner.threads", "1"});
        RunStore store(db("runs-" + std::to_string(++m_dbs) + ".sqlite"));
        RunQueue queue(store, registry());
        queue.start(loadExperimentText(yaml, "ts.yaml", overrides, registry()));
        return fixtures::seriesByKey(store, queue.wait().runIds);
    }

    std::string pairsYaml(const std::string& extra = "") {
        fixtures::writeGlueFolder(m_dir / "MRPC", fixtures::FixtureGlue::Mrpc, 1200, 200);
        return "name: bert-pairs\ntask: torchscript/text\ndevice: cpu\nlosses: [{loss: ce, lr: 0.002}, {loss: square, lr: 0.002}]\n"
               "protocols: [early_stopping]\nseeds: [1]\ndata: {root: '" +
               (m_dir / "MRPC").string() + "', format: mrpc}\n" + textModelYaml("text_pooled.pt", ", padding: longest") +
               "train: {max_epochs: 8, patience: 10, warmup: 0.1, log_every_steps: 10}\n" + extra;
    }

    std::string imagesYaml() {
        writeIdxFolder(m_dir / "idx", 800, 200);
        return "name: conv-images\ntask: torchscript/image\ndevice: cpu\nlosses: [{loss: ce, lr: 0.003}, {loss: square, lr: 0.003}]\n"
               "protocols: [early_stopping]\nseeds: [2]\ndata: {root: '" +
               (m_dir / "idx").string() + "', format: idx, augment: true}\nmodel: {file: '" + model("image.pt") +
               "', image_size: 20, head_dropout: 0.2}\ntrain: {optimizer: adam, max_epochs: 5, patience: 10, batch_size: 32}\n";
    }

    ScratchDir m_scratch{"losslab-torchscript"};
    const fs::path& m_dir = m_scratch.path();
    int m_dbs = 0;
};

} // namespace

TEST(TorchScriptTasks, RegisteredWithTheContractKeysAndTheBertRecipe) {
    SKIP_WITHOUT_TEXT_TASK();
    const TaskInfo& text = registry().requireInfo("torchscript/text");
    const TaskInfo& image = registry().requireInfo("torchscript/image");
    EXPECT_EQ(text.plugin, "torchscript");
    EXPECT_EQ(text.domain, "text");
    EXPECT_EQ(image.domain, "vision");
    EXPECT_EQ(text.numClasses, 0); // data.classes
    EXPECT_EQ(image.numClasses, 10);
    const ParamSet t = paramsFor("torchscript/text", "");
    for (const char* key : {"model.file", "model.vocab", "model.lowercase", "model.output", "model.freeze_encoder", "train.warmup"})
        EXPECT_TRUE(t.has(key)) << key;
    EXPECT_EQ(t.getInt("model.max_length"), 128);
    EXPECT_EQ(t.getString("model.output"), "pooled");
    EXPECT_EQ(t.getString("train.optimizer"), "adamw");
    EXPECT_EQ(t.getString("train.schedule"), "linear");
    EXPECT_DOUBLE_EQ(t.getDouble("train.lr"), 2e-5);
    EXPECT_EQ(t.getInt("train.batch_size"), 32);
    EXPECT_EQ(t.getInt("train.max_epochs"), 3);
    const ParamSet i = paramsFor("torchscript/image", "");
    for (const char* key : {"model.file", "model.image_size", "model.mean", "model.std", "model.output"})
        EXPECT_TRUE(i.has(key)) << key;
    EXPECT_TRUE(fixtures::throwsErrorWith([] { paramsFor("torchscript/text", "model: {output: cls}\n"); }, {"pooled, sequence"}));
}

TEST(TorchScriptTasks, ABadModelFileIsRefusedSayingWhatWasExpected) {
    SKIP_WITHOUT_TEXT_TASK();
    const std::string t = "torchscript/text";
    EXPECT_TRUE(buildFails(t, "model: {file: ''}\n", {"model.file is not set"}));
    EXPECT_TRUE(buildFails(t, textModelYaml("missing.pt"), {"missing.pt (model.file): no such file"}));
    EXPECT_TRUE(buildFails(t, textModelYaml("not_torchscript.pt"),
                           {"not_torchscript.pt (model.file): not a TorchScript file", "torch.jit.script"}));
    EXPECT_TRUE(buildFails(t, textModelYaml("vocab.txt"), {"not a TorchScript file"}));
    EXPECT_TRUE(buildFails(t, textModelYaml("bad_signature.pt"),
                           {"its forward takes (input_ids) but a text encoder's must take (input_ids, attention_mask, "
                            "token_type_ids)"}));
    EXPECT_TRUE(buildFails(t, textModelYaml("image.pt"), {"its forward takes (images)"}));
    EXPECT_TRUE(buildFails(t, textModelYaml("bad_rank.pt"), {"forward returned a tensor [2]", "expected [B, H]"}));
    EXPECT_TRUE(buildFails(t, textModelYaml("text_sequence.pt"), {"[2, 32, 32]", "Set model.output: sequence"}));
    EXPECT_TRUE(buildFails(t, textModelYaml("text_pooled.pt", ", output: sequence"), {"Set model.output: pooled"}));
    EXPECT_TRUE(buildFails("torchscript/image", "model: {file: '" + model("text_pooled.pt") + "'}\n",
                           {"an image encoder's must take (images)"}));
    if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has CUDA: a model whose code runs on CUDA is fine here";
    EXPECT_TRUE(buildFails(t, textModelYaml("cuda_code.pt"),
                           {"cuda_code.pt (model.file): the model's code runs on CUDA", "this machine has no CUDA device"}));
}

// A file that LibTorch 1.13 cannot load because a newer PyTorch wrote it is named as such.
// Before, it was "not a TorchScript file ()" for an operation PyTorch 2 added (the compiler's
// message starts with a newline), and "not a TorchScript file ([enforce fail at ...] ...
// please upgrade PyTorch ...)" for a newer file format.
TEST(TorchScriptTasks, AFileFromANewerPyTorchIsNamedAsSuch) {
    SKIP_WITHOUT_TEXT_TASK();
    const std::string t = "torchscript/text";
    EXPECT_TRUE(buildFails(t, textModelYaml("newer_format.pt"),
                           {"newer_format.pt (model.file): written in a newer file format than LibTorch ",
                            "(Attempted to read a PyTorch file with version 99", "export it with PyTorch "}));
    // LibTorch 1.13 lacks the operation ("Unknown builtin op: aten::scaled_dot_product_attention.");
    // LibTorch 2 has it and refuses the call, which passes one argument where it takes three
    // ("aten::scaled_dot_product_attention(Tensor query, ...) -> Tensor: Argument key not provided.").
    const std::string reason = TORCH_VERSION_MAJOR < 2 ? "(Unknown builtin op: aten::scaled_dot_product_attention.)"
                                                       : "Argument key not provided.)";
    EXPECT_TRUE(buildFails(t, textModelYaml("newer_op.pt"),
                           {"newer_op.pt (model.file): LibTorch ", "cannot compile its code (", "scaled_dot_product_attention",
                            reason, "export it with PyTorch "}));
    ScratchDir dir("losslab-ts-not-a-model");
    const std::string empty = dir.file("empty.pt");
    std::ofstream(empty).close();
    EXPECT_TRUE(buildFails(t, "model: {file: '" + empty + "', vocab: '" + model("vocab.txt") + "'}\n",
                           {empty + " (model.file): not a TorchScript file (PytorchStreamReader failed reading zip archive"}));
}

TEST(TorchScriptTasks, AnEncoderThatDropsExamplesOrFailsOnABatchIsNamedWithTheBatch) {
    ScratchDir dir("losslab-ts-batch");
    auto yaml = [](const std::string& file) { return "model: {file: '" + file + "', image_size: 12}\n"; };
    const std::string oneRow = defineImageEncoder(dir, "one_row.pt", "    return x[:1]\n");
    EXPECT_TRUE(buildFails("torchscript/image", yaml(oneRow),
                           {oneRow + " (model.file): forward returned [1, 4] features for a batch of 2 examples",
                            "one row per example"}));

    ModelInput three;
    three.features = torch::zeros({3, 3, 12, 12});
    const std::string fewer = defineImageEncoder(dir, "fewer.pt", "    if images.size(0) > 2:\n        return x[:2]\n    return x\n");
    auto m = buildModel("torchscript/image", paramsFor("torchscript/image", yaml(fewer)));
    m->eval();
    // Was LibTorch's "Expected input batch_size (2) to match target batch_size (3)", naming no file.
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { m->forward(three); },
                                          {fewer + " (model.file): forward returned [2, 4] features for images [3, 3, 12, 12]",
                                           "expected [3, 4]"}));
    const std::string fails = defineImageEncoder(dir, "fails.pt", "    assert images.size(0) <= 2, 'two at most'\n    return x\n");
    m = buildModel("torchscript/image", paramsFor("torchscript/image", yaml(fails)));
    m->eval();
    // Was the interpreter's "The following operation failed in the TorchScript interpreter." first.
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { m->forward(three); },
                                          {fails + " (model.file): forward failed on images [3, 3, 12, 12]: ",
                                           "AssertionError: two at most"}));
}

// Evaluation needs a model that follows eval mode; a model traced in train mode keeps its
// dropout and batch-norm statistics of train mode. Before, such a model was taken, and
// evaluated with unseeded dropout (noisy, not reproducible) and batch statistics.
TEST(TorchScriptTasks, AnEncoderThatIgnoresEvalModeIsRefused) {
    ScratchDir dir("losslab-ts-eval-mode");
    auto yaml = [](const std::string& file) { return "model: {file: '" + file + "', image_size: 12}\n"; };
    const std::string dropout = defineImageEncoder(dir, "dropout.pt", "    return torch.dropout(x, 0.5, True)\n");
    EXPECT_TRUE(buildFails("torchscript/image", yaml(dropout),
                           {dropout + " (model.file): forward gives different features for the same input in eval mode",
                            "Trace it after calling model.eval()"}));
    const std::string batchNorm = defineImageEncoder(
        dir, "batch_norm.pt", "    return torch.batch_norm(x, None, None, self.mean, self.var, True, 0.1, 1e-5, False)\n");
    EXPECT_TRUE(buildFails("torchscript/image", yaml(batchNorm),
                           {batchNorm + " (model.file): forward changes the module's buffers in eval mode (mean, var)",
                            "Trace it after calling model.eval()"}));
    // The same operations following self.training are fine.
    const std::string follows = defineImageEncoder(
        dir, "follows.pt",
        "    x = torch.batch_norm(x, None, None, self.mean, self.var, self.training, 0.1, 1e-5, False)\n"
        "    return torch.dropout(x, 0.5, self.training)\n");
    EXPECT_NO_THROW(buildModel("torchscript/image", paramsFor("torchscript/image", yaml(follows))));
}

// Before, an encoder that returns the same features whatever its input (here: a parameter; in
// use, a trace that held its example input as a constant) was taken, and every run trained a
// head on one feature vector for all examples.
TEST(TorchScriptTasks, AnEncoderThatIgnoresItsInputIsRefused) {
    ScratchDir dir("losslab-ts-ignores-input");
    torch::jit::Module constant("__torch__.Encoder");
    constant.register_parameter("w", torch::ones({4}).requires_grad_(), false);
    constant.define("def forward(self, images):\n    return self.w.expand(images.size(0), 4)\n");
    const std::string path = saveEncoder(constant, dir, "constant.pt");
    EXPECT_TRUE(buildFails("torchscript/image", "model: {file: '" + path + "', image_size: 12}\n",
                           {path + " (model.file): forward gives the same features for two different images",
                            "does not read its input"}));
    // Reading the input is enough, even through a saturating nonlinearity.
    const std::string reads = defineImageEncoder(dir, "reads.pt", "    return torch.tanh(x * 100.0)\n");
    EXPECT_NO_THROW(buildModel("torchscript/image", paramsFor("torchscript/image", "model: {file: '" + reads + "', image_size: 12}\n")));
}

// A parameter saved with requires_grad=False stays fixed, as PyTorch leaves it; an encoder with
// nothing to train (frozen by torch.jit.freeze: its weights became constants) is refused unless
// model.freeze_encoder says the head alone trains. Before, every parameter was made trainable,
// and a frozen module's encoder stayed fixed without a word.
TEST(TorchScriptTasks, ParametersSavedFrozenStayFixedAndAnEncoderWithNothingToTrainIsRefused) {
    ScratchDir dir("losslab-ts-frozen");
    auto yaml = [](const std::string& file, const std::string& extra = "") {
        return "model: {file: '" + file + "', image_size: 12" + extra + "}\n";
    };
    torch::jit::Module partly("__torch__.Encoder");
    partly.register_parameter("w", torch::ones({3, 4}), false); // requires_grad=False
    partly.register_parameter("v", torch::ones({4}).requires_grad_(), false);
    partly.define("def forward(self, images):\n    return images.mean((2, 3)).matmul(self.w) * self.v\n");
    auto m = buildModel("torchscript/image", paramsFor("torchscript/image", yaml(saveEncoder(partly, dir, "partly.pt"))));
    m->train();
    ModelInput in;
    in.features = torch::rand({2, 3, 12, 12});
    in.generator = at::make_generator<at::CPUGeneratorImpl>(1);
    m->forward(in).sum().backward();
    for (const auto& p : m->named_parameters()) {
        EXPECT_EQ(p.value().requires_grad(), p.key() != "encoder.w") << p.key();
        EXPECT_EQ(p.value().grad().defined(), p.key() != "encoder.w") << p.key();
    }

    const std::string allFixed = saveEncoder(imageEncoder("    return x\n", /*trainable=*/false), dir, "fixed.pt");
    EXPECT_TRUE(buildFails("torchscript/image", yaml(allFixed),
                           {allFixed + " (model.file): the encoder has nothing to fine-tune: its parameter was saved with "
                                       "requires_grad=False",
                            "model.freeze_encoder: true"}));
    torch::jit::Module plain = imageEncoder("    return x\n");
    plain.eval();
    const std::string frozen = saveEncoder(torch::jit::freeze(plain), dir, "frozen.pt");
    EXPECT_TRUE(buildFails("torchscript/image", yaml(frozen),
                           {frozen + " (model.file): the encoder has nothing to fine-tune: it holds no parameters",
                            "torch.jit.freeze"}));
    m = buildModel("torchscript/image", paramsFor("torchscript/image", yaml(frozen, ", freeze_encoder: true")));
    ASSERT_EQ(m->parameters().size(), 2u); // the head's weight and bias
}

// The weights archive (checkpoints, reported weights) names the model file's contents; a run
// resumed after model.file changed is not continued with the new file's code. Before, the
// checkpoint's weights were loaded into whatever the file now held.
TEST(TorchScriptTasks, WeightsSavedWithAnotherModelFileAreRefused) {
    ScratchDir dir("losslab-ts-changed");
    const std::string path = defineImageEncoder(dir, "encoder.pt", "    return x\n");
    const ParamSet p = paramsFor("torchscript/image", "model: {file: '" + path + "', image_size: 12}\n");
    const std::string archivePath = dir.file("weights.pt");
    {
        torch::serialize::OutputArchive archive;
        buildModel("torchscript/image", p)->save(archive);
        archive.save_to(archivePath);
    }
    auto loadInto = [&](ClassifierModule& m) {
        torch::serialize::InputArchive archive;
        archive.load_from(archivePath);
        m.load(archive);
    };
    EXPECT_NO_THROW(loadInto(*buildModel("torchscript/image", p, 2))); // the same file
    defineImageEncoder(dir, "encoder.pt", "    return torch.relu(x)\n");
    auto changed = buildModel("torchscript/image", p);
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { loadInto(*changed); }, {path + " (model.file) has changed since these weights were saved"}));
}

// Pooled, sequence, tuple and dict outputs give scores [B, C]; the encoder's parameters and
// buffers are the model's, under its own names, so optimiser and checkpoints cover them.
TEST(TorchScriptTasks, TheEncoderIsPartOfTheModelUnderItsOwnNames) {
    for (const std::string file : {"text_pooled.pt", "text_sequence.pt", "text_tuple.pt", "text_dict.pt"}) {
        if (!hasTextTask()) break;
        const std::string output = file == "text_sequence.pt" ? "sequence" : "pooled";
        auto m = buildModel("torchscript/text", paramsFor("torchscript/text", "data: {classes: 3}\n" +
                                                                                textModelYaml(file, ", output: " + output)));
        m->eval();
        ModelInput in;
        in.features = torch::tensor({2, 7, 8, 3, 9, 3, 0, 0, 2, 10, 3, 11, 12, 3, 0, 0}, torch::kLong).view({2, 8});
        in.lengths = torch::tensor({6, 6}, torch::kLong);
        in.features2 = torch::tensor({0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0}, torch::kLong).view({2, 8});
        const torch::Tensor scores = m->forward(in);
        EXPECT_EQ(scores.sizes(), (std::vector<std::int64_t>{2, 3})) << file;
        bool hasQkv = false, hasHead = false;
        for (const auto& p : m->named_parameters()) {
            hasQkv = hasQkv || p.key() == "encoder.layers.0.attention.qkv.weight";
            hasHead = hasHead || p.key() == "head.weight";
        }
        EXPECT_TRUE(hasQkv && hasHead) << file;
        // The padding positions do not change the scores: the mask comes from the lengths.
        ModelInput trimmed = in;
        trimmed.features = in.features.narrow(1, 0, 6);
        trimmed.features2 = in.features2.narrow(1, 0, 6);
        EXPECT_TRUE(torch::allclose(scores, m->forward(trimmed), 1e-5, 1e-5)) << file;
    }
    // A dict's values in their order: last_hidden_state for model.output: sequence (was
    // "forward returned GenericDict").
    if (hasTextTask()) {
        EXPECT_NO_THROW(buildModel("torchscript/text", paramsFor("torchscript/text", textModelYaml("text_dict.pt", ", output: sequence"))));
    }
    auto image = buildModel("torchscript/image", paramsFor("torchscript/image", "model: {file: '" + model("image.pt") + "', image_size: 12}\n"));
    std::vector<std::string> buffers;
    for (const auto& b : image->named_buffers()) buffers.push_back(b.key());
    EXPECT_EQ(buffers.front(), "encoder.bn1.running_mean");
    EXPECT_EQ(buffers.size(), 6u); // two batch norms: mean, var, count
}

TEST(TorchScriptTasks, TextIsTokenisedWithTheModelsVocabIntoIdsTypesAndLengths) {
    SKIP_WITHOUT_TEXT_TASK();
    ScratchDir dir("losslab-ts-tokens");
    fs::create_directories(dir.path() / "MRPC");
    std::ofstream(dir.path() / "MRPC" / "train.tsv", std::ios::binary)
        << "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tAlpha foxtrot.\tNovember?\n0\t3\t4\t"
        << "alpha alpha alpha alpha alpha alpha\tbravo bravo bravo\n";
    std::ofstream(dir.path() / "MRPC" / "dev.tsv", std::ios::binary)
        << "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t5\t6\tzulu\techo\n";
    const std::string root = "data: {root: '" + (dir.path() / "MRPC").string() + "'}\n";
    const auto task = registry().require("torchscript/text");
    DataBundle data = task->loadData(paramsFor("torchscript/text", root + textModelYaml("text_pooled.pt", ", max_length: 8")));
    // vocab.txt: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3, alpha=5, fox=10, ##trot=11, nov=19, ##ember=20,
    // bravo=6, echo=9, "." = 36, "?" = 37. Lower-cased; the longer text of a pair is cut first
    // (the second when both are as long).
    EXPECT_EQ(data.train.features.sizes(), (std::vector<std::int64_t>{2, 8})); // padded to model.max_length
    EXPECT_TRUE(torch::equal(data.train.features[0], torch::tensor({2, 5, 10, 11, 3, 19, 20, 3}, torch::kInt)))
        << data.train.features[0];
    EXPECT_TRUE(torch::equal(data.train.features[1], torch::tensor({2, 5, 5, 5, 3, 6, 6, 3}, torch::kInt)))
        << data.train.features[1];
    EXPECT_TRUE(torch::equal(data.train.features2[1], torch::tensor({0, 0, 0, 0, 0, 1, 1, 1}, torch::kChar)));
    EXPECT_EQ(data.train.lengths[1].item<std::int64_t>(), 8);
    EXPECT_TRUE(torch::equal(data.test.features[0], torch::tensor({2, 1, 3, 9, 3, 0, 0, 0}, torch::kInt))) << data.test.features[0];
    EXPECT_EQ(data.test.lengths[0].item<std::int64_t>(), 5);
    // model.padding: longest keeps the longest example's width; the transform cuts each batch.
    data = task->loadData(paramsFor("torchscript/text", root + textModelYaml("text_pooled.pt", ", max_length: 30, padding: longest")));
    EXPECT_EQ(data.train.features.size(1), 12);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
    const auto transform = task->makeTransform(paramsFor("torchscript/text", textModelYaml("text_pooled.pt", ", padding: longest")),
                                               torch::kCPU);
    const ModelInput in = transform->apply(data.test, false, gen);
    EXPECT_EQ(in.features.sizes(), (std::vector<std::int64_t>{1, 5}));
    EXPECT_EQ(in.features.scalar_type(), torch::kLong);
    // A vocabulary without [CLS] is refused, naming the file.
    std::ofstream(dir.path() / "vocab.txt") << "[PAD]\n[UNK]\n[SEP]\nalpha\n";
    const std::string badVocab = (dir.path() / "vocab.txt").string();
    auto loadFails = [&](const std::string& yaml, std::initializer_list<std::string> parts) {
        return fixtures::throwsErrorWith([&] { task->loadData(paramsFor("torchscript/text", yaml)); }, parts);
    };
    EXPECT_TRUE(loadFails(root + "model: {vocab: '" + badVocab + "'}\n", {badVocab, "[CLS]"}));
    EXPECT_TRUE(loadFails(root + "model: {file: x}\n", {"model.vocab is not set"}));
    EXPECT_TRUE(loadFails("data: {classes: 3, root: '" + (dir.path() / "MRPC").string() + "'}\n" + textModelYaml("text_pooled.pt"),
                          {"data.classes says 3"}));
}

TEST(TorchScriptSchedule, LinearWarmsUpThenDecaysToZeroPerStep) {
    SKIP_WITHOUT_TEXT_TASK();
    const ParamSet p = paramsFor("torchscript/text", "train: {warmup: 0.25}\n");
    // 8 steps in all, 2 of warm-up.
    const std::vector<double> expected = {0.0, 0.5, 1.0, 5.0 / 6, 4.0 / 6, 3.0 / 6, 2.0 / 6, 1.0 / 6};
    for (std::int64_t s = 0; s < 8; ++s) EXPECT_NEAR(stepLearningRate(p, 1.0, s, 8), expected[static_cast<std::size_t>(s)], 1e-12) << s;
    const ParamSet none = paramsFor("torchscript/text", "");
    EXPECT_DOUBLE_EQ(stepLearningRate(none, 2.0, 0, 10), 2.0);
    EXPECT_DOUBLE_EQ(stepLearningRate(none, 2.0, 5, 10), 1.0);
    EXPECT_TRUE(schedulesPerStep(none));
}

TEST_F(TorchScriptRunsTest, ABertLikeEncoderLearnsSentencePairsWithBothLosses) {
    SKIP_WITHOUT_TEXT_TASK();
    const auto runs = run(pairsYaml(), 1);
    ASSERT_EQ(runs.size(), 2u);
    for (const auto& [key, series] : runs) {
        EXPECT_GT(series.at("8/test/acc"), 0.7) << key;
        EXPECT_LT(series.at("8/train/loss"), series.at("1/train/loss")) << key;
        // The linear schedule's last step: lr * 1 / T.
        EXPECT_GT(series.at("8/train/lr"), 0.0) << key;
        EXPECT_LT(series.at("8/train/lr"), 0.002 / 50) << key;
    }
}

TEST_F(TorchScriptRunsTest, AConvEncoderLearnsImagesWithBothLosses) {
    const auto runs = run(imagesYaml(), 1);
    ASSERT_EQ(runs.size(), 2u);
    for (const auto& [key, series] : runs) {
        EXPECT_GT(series.at("5/test/acc"), 0.9) << key; // 4 classes: chance is 0.25
    }
}

// Dropout inside the TorchScript code draws from torch's global generator; the plugin seeds it
// from the run's own generator under a lock, so runs are the same alone or two at a time.
TEST_F(TorchScriptRunsTest, RunsAreBitIdenticalAloneAndBesideOthers) {
    const std::vector<SpecOverride> shorter = {{"seeds", "[1, 2]"}, {"train.max_epochs", "2"}};
    if (hasTextTask()) {
        const auto alone = run(pairsYaml(), 1, shorter);
        ASSERT_EQ(alone.size(), 4u);
        fixtures::expectIdenticalSeries(alone, run(pairsYaml(), 2, shorter), "text, 2 at a time");
        EXPECT_NE(alone.at("ce early_stopping 1"), alone.at("ce early_stopping 2"));
    }
    const std::vector<SpecOverride> images = {{"seeds", "[1, 2]"}, {"train.max_epochs", "2"}};
    fixtures::expectIdenticalSeries(run(imagesYaml(), 1, images), run(imagesYaml(), 2, images), "images, 2 at a time");
}

TEST_F(TorchScriptRunsTest, AResumedRunEqualsAnUninterruptedOne) {
    std::vector<std::string> experiments = {imagesYaml()};
    if (hasTextTask()) experiments.push_back(pairsYaml());
    for (const std::string& yaml : experiments) {
        const std::vector<SpecOverride> one = {{"losses", "[{loss: square, lr: 0.001}]"}, {"train.max_epochs", "3"}};
        const auto reference = run(yaml, 1, one);
        RunStore store(db("resume-" + std::to_string(++m_dbs) + ".sqlite"));
        std::vector<std::int64_t> cut;
        {
            RunQueue queue(store, registry(), RunQueueOptions{"", 1, 1, 1, 0, {}, {}});
            std::atomic<bool> cancelled{false};
            queue.addObserver([&](const RunEvent& e) {
                if (e.kind == RunEvent::Kind::Step && e.epoch == 2 && !cancelled.exchange(true)) queue.cancel(e.runId);
            });
            const RunQueueResult result = [&] {
                queue.start(loadExperimentText(yaml, "ts.yaml", one, registry()));
                return queue.wait();
            }();
            ASSERT_EQ(result.cancelled, 1);
            cut = result.runIds;
        }
        RunQueue resumed(store, registry(), RunQueueOptions{"", 1, 1, 1, 0, {}, {}});
        resumed.resume(cut);
        EXPECT_EQ(resumed.wait().completed, 1);
        fixtures::expectIdenticalSeries(reference, fixtures::seriesByKey(store, cut), "resumed");
    }
}

TEST_F(TorchScriptRunsTest, AFrozenEncoderTakesNoGradientsAndTheHeadStillLearns) {
    SKIP_WITHOUT_TEXT_TASK();
    const std::string yaml = pairsYaml();
    const ParamSet p = loadExperimentText(yaml, "ts.yaml", {{"model.freeze_encoder", "true"}}, registry()).params;
    auto m = buildModel("torchscript/text", p);
    m->train();
    const Task& task = *registry().require("torchscript/text");
    const DataBundle data = task.loadData(p);
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
    ModelInput in = task.makeTransform(p, torch::kCPU)->apply(data.train.index(torch::arange(8)), true, gen);
    in.generator = gen;
    torch::nn::functional::cross_entropy(m->forward(in), data.train.labels.narrow(0, 0, 8)).backward();
    for (const auto& named : m->named_parameters())
        EXPECT_EQ(named.value().grad().defined(), named.key().rfind("head.", 0) == 0) << named.key();
    const auto runs = run(yaml, 1, {{"model.freeze_encoder", "true"}, {"train.max_epochs", "2"}, {"losses", "[{loss: ce, lr: 0.01}]"}});
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_LT(runs.begin()->second.at("2/train/loss"), runs.begin()->second.at("1/train/loss"));
}
