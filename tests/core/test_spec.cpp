// Experiment files: loading and validation (loadExperimentText / loadExperimentFile),
// --set overrides (parseOverride), expansion into runs (expand), the resolved YAML (toYaml),
// and the typed parameters underneath (ParamDecl / canonicalParamValue / ParamSet).
// The spec code only reads TaskInfo, so the tasks here are fakes whose data / model methods throw.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "losslab/error.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/spec/param_set.h"
#include "losslab/spec/run_recipe.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"
#include "error_matchers.h"

using losslab::fixtures::throwsErrorWith;

namespace {

using losslab::Error;
using losslab::ExperimentSpec;
using losslab::LossKind;
using losslab::LossSpec;
using losslab::ParamDecl;
using losslab::ParamSet;
using losslab::ParamType;
using losslab::Protocol;
using losslab::RunSpec;
using losslab::SpecOverride;

// ---------------------------------------------------------------- fixtures

class ToyTask : public losslab::Task {
public:
    ToyTask(const std::string& id, std::int64_t numClasses, const std::string& paperDataset) {
        m_info.id = id;
        m_info.description = "fake task for spec tests";
        m_info.domain = "vision";
        m_info.numClasses = numClasses;
        m_info.paperDataset = paperDataset;
        m_info.params = {{"model.hidden", ParamType::IntList, "[8]", "hidden layer widths", 1.0, std::nullopt, {}}};
        m_info.recipe = {{"train.lr", "0.1"}};
    }
    const losslab::TaskInfo& info() const override { return m_info; }
    losslab::DataBundle loadData(const ParamSet&) const override { throw Error("not used"); }
    std::unique_ptr<losslab::InputTransform> makeTransform(const ParamSet&, const torch::Device&) const override {
        throw Error("not used");
    }
    std::shared_ptr<losslab::ClassifierModule> makeModel(const ParamSet&, at::Generator&) const override { throw Error("not used"); }

private:
    losslab::TaskInfo m_info;
};

const losslab::TaskRegistry& registry() {
    static const std::unique_ptr<losslab::TaskRegistry> tasks = [] {
        auto r = std::make_unique<losslab::TaskRegistry>();
        r->add(std::make_shared<ToyTask>("toy/mlp", 10, ""));
        r->add(std::make_shared<ToyTask>("toy50/mlp", 50, ""));
        r->add(std::make_shared<ToyTask>("toy/enwik8", 204, "enwik8"));
        return r;
    }();
    return *tasks;
}

ExperimentSpec load(const std::string& text, const std::vector<std::string>& sets = {}) {
    std::vector<SpecOverride> overrides;
    for (const auto& s : sets) overrides.push_back(losslab::parseOverride(s));
    return losslab::loadExperimentText(text, "exp.yaml", overrides, registry());
}

testing::AssertionResult loadFails(const std::string& text, std::initializer_list<std::string> parts,
                                   const std::vector<std::string>& sets = {}) {
    return throwsErrorWith([&] { load(text, sets); }, parts);
}

const std::string kMinimal = "task: toy/mlp\nlosses: [ce, square]\n";

const std::string kFull = R"(name: full
description: "every key: set"
task: toy/mlp
device: cpu
seeds: [3, 1, 4]
protocols: [early_stopping, same_epochs_as_ce]
losses:
  - ce
  - {loss: square, lr: 0.5}
  - {loss: square, k: 15, M: 30, name: big}
data:
  val_fraction: 0.2
  limit_train: 1000
train:
  batch_size: 64
  lr: 0.2
  schedule: multistep
  milestones: [10, 20]
  nesterov: yes
model:
  hidden: [16, 16]
runner:
  threads: 2
)";

std::vector<std::string> lossNames(const ExperimentSpec& spec) {
    std::vector<std::string> out;
    for (const auto& l : spec.losses) out.push_back(l.name);
    return out;
}

// ---------------------------------------------------------------- resolution

TEST(ExperimentSpecLoad, FullFileResolvesEveryKeyWithPrecedence) {
    const ExperimentSpec spec = load(kFull, {"train.patience=10", "train.batch_size=32"});
    EXPECT_EQ(spec.name, "full");
    EXPECT_EQ(spec.description, "every key: set");
    EXPECT_EQ(spec.taskId, "toy/mlp");
    EXPECT_EQ(spec.sourcePath, "exp.yaml");
    EXPECT_EQ(spec.device, "cpu");
    EXPECT_EQ(spec.seeds, (std::vector<std::int64_t>{3, 1, 4}));
    EXPECT_EQ(spec.protocols, (std::vector<Protocol>{Protocol::EarlyStopping, Protocol::SameEpochsAsCe}));

    ASSERT_EQ(spec.losses.size(), 3u);
    EXPECT_EQ(lossNames(spec), (std::vector<std::string>{"ce", "square", "big"}));
    EXPECT_EQ(spec.losses[0].kind, LossKind::CrossEntropy);
    EXPECT_EQ(spec.losses[0].lr, 0.2); // train.lr of the file
    EXPECT_EQ(spec.losses[1].kind, LossKind::Square);
    EXPECT_EQ(spec.losses[1].lr, 0.5); // its own
    EXPECT_EQ(spec.losses[1].k, 1.0);
    EXPECT_EQ(spec.losses[1].M, 1.0);
    EXPECT_EQ(spec.losses[2].k, 15.0);
    EXPECT_EQ(spec.losses[2].M, 30.0);
    EXPECT_EQ(spec.losses[2].lr, 0.2);

    // Every declared key has a value: core defaults, then the task's default / recipe, then
    // the file, then --set. Nothing else is present.
    std::map<std::string, std::string> expected;
    for (const ParamDecl& d : losslab::coreParamDecls()) expected[d.key] = losslab::canonicalParamValue(d, d.defaultValue, "test");
    expected["model.hidden"] = "[8]";
    // Defaults that no layer touches (spelled out so a changed default shows).
    EXPECT_EQ(expected.at("train.momentum"), "0.9");
    EXPECT_EQ(expected.at("train.optimizer"), "sgd");
    EXPECT_EQ(expected.at("data.root"), "");
    EXPECT_EQ(expected.at("train.milestones"), "[]");
    // Recipe 0.1 < file 0.2.
    expected["train.lr"] = "0.2";
    // File.
    expected["data.val_fraction"] = "0.2";
    expected["data.limit_train"] = "1000";
    expected["train.schedule"] = "multistep";
    expected["train.milestones"] = "[10, 20]";
    expected["train.nesterov"] = "true";
    expected["model.hidden"] = "[16, 16]";
    expected["runner.threads"] = "2";
    // --set: a key the file does not set, and one that it does (file 64 < --set 32).
    expected["train.patience"] = "10";
    expected["train.batch_size"] = "32";
    EXPECT_EQ(spec.params.values(), expected);
}

TEST(ExperimentSpecLoad, MinimalFileGetsDefaults) {
    const ExperimentSpec spec = load(kMinimal);
    EXPECT_EQ(spec.name, "exp"); // the display name without its extension
    EXPECT_EQ(spec.description, "");
    EXPECT_EQ(spec.device, "auto");
    EXPECT_EQ(spec.seeds, (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(spec.protocols, (std::vector<Protocol>{Protocol::EarlyStopping}));
    EXPECT_EQ(spec.params.getInt("train.patience"), 5);
    EXPECT_EQ(spec.params.getInt("train.batch_size"), 128);
    EXPECT_EQ(spec.params.getIntList("model.hidden"), (std::vector<std::int64_t>{8}));
}

TEST(ExperimentSpecLoad, RecipeBeatsDefaultFileBeatsRecipeSetBeatsFile) {
    EXPECT_EQ(load(kMinimal).params.raw("train.lr"), "0.1"); // core default is 0.05
    const std::string withLr = kMinimal + "train:\n  lr: 0.2\n";
    EXPECT_EQ(load(withLr).params.raw("train.lr"), "0.2");
    const ExperimentSpec set = load(withLr, {"train.lr=0.3"});
    EXPECT_EQ(set.params.raw("train.lr"), "0.3");
    // Losses without their own lr follow the resolved train.lr.
    EXPECT_EQ(set.losses[0].lr, 0.3);
    EXPECT_EQ(set.losses[1].lr, 0.3);
}

TEST(ExperimentSpecLoad, DisplayNameStemIsTheDefaultName) {
    const ExperimentSpec spec = losslab::loadExperimentText(kMinimal, "some/dir/my.study.yaml", {}, registry());
    EXPECT_EQ(spec.name, "my.study");
    EXPECT_EQ(spec.sourcePath, "some/dir/my.study.yaml");
}

// ---------------------------------------------------------------- seeds

TEST(ExperimentSpecSeeds, CountAndList) {
    EXPECT_EQ(load(kMinimal + "seeds: 3\n").seeds, (std::vector<std::int64_t>{0, 1, 2}));
    EXPECT_EQ(load(kMinimal + "seeds: [5, 7]\n").seeds, (std::vector<std::int64_t>{5, 7}));
    EXPECT_EQ(load(kMinimal + "seeds: [42]\n").seeds, (std::vector<std::int64_t>{42}));
}

TEST(ExperimentSpecSeeds, DuplicateSeedNamesItsPosition) {
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce]\nseeds: [1, 2, 1]\n",
                          {"exp.yaml:3:15", "seed 1 is listed twice"}));
}

TEST(ExperimentSpecSeeds, BadSeedsAreErrors) {
    EXPECT_TRUE(loadFails(kMinimal + "seeds: 0\n", {"exp.yaml:3:8", "seeds"}));
    EXPECT_TRUE(loadFails(kMinimal + "seeds: [1, -2]\n", {"exp.yaml:3:12", "seeds.1", "'-2'"}));
    EXPECT_TRUE(loadFails(kMinimal + "seeds: []\n", {"exp.yaml:3:8", "seeds"}));
    EXPECT_TRUE(loadFails(kMinimal + "seeds: [1, x]\n", {"seeds.1", "'x'"}));
    EXPECT_TRUE(loadFails(kMinimal + "seeds: {a: 1}\n", {"seeds"}));
}

// ---------------------------------------------------------------- losses

TEST(ExperimentSpecLosses, StringsAndMappings) {
    const ExperimentSpec spec = load(
        "task: toy/mlp\nlosses:\n  - cross_entropy\n  - mse\n  - {loss: square, k: 15, M: 30}\n"
        "  - {loss: ce, name: ce_fast, lr: 0.4}\n");
    ASSERT_EQ(spec.losses.size(), 4u);
    EXPECT_EQ(spec.losses[0].kind, LossKind::CrossEntropy);
    EXPECT_EQ(spec.losses[1].kind, LossKind::Square);
    EXPECT_EQ(spec.losses[2].kind, LossKind::Square);
    EXPECT_EQ(spec.losses[3].kind, LossKind::CrossEntropy);
    EXPECT_EQ(lossNames(spec), (std::vector<std::string>{"ce", "square", "square_k15_M30", "ce_fast"}));
    EXPECT_EQ(spec.losses[3].lr, 0.4);
    EXPECT_EQ(spec.losses[0].lr, 0.1); // the task recipe's train.lr
}

TEST(ExperimentSpecLosses, DefaultNamesAreGeneratedFromKindKAndM) {
    const ExperimentSpec spec = load(
        "task: toy/mlp\nlosses: [ce, square, {loss: square, k: 15, M: 30}, {loss: square, M: 15},"
        " {loss: square, k: 0.5}]\n");
    EXPECT_EQ(lossNames(spec), (std::vector<std::string>{"ce", "square", "square_k15_M30", "square_k1_M15",
                                                         "square_k0.5_M1"}));
}

TEST(ExperimentSpecLosses, PerLossLearningRate) {
    const ExperimentSpec spec =
        load("task: toy/mlp\nlosses: [{loss: ce}, {loss: square, lr: 0.5}]\ntrain: {lr: 0.02}\n");
    EXPECT_EQ(spec.losses[0].lr, 0.02);
    EXPECT_EQ(spec.losses[1].lr, 0.5);
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: square, lr: 0}]\n", {"exp.yaml:2:29", "losses.0.lr", "> 0"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: square, lr: -1}]\n", {"exp.yaml:2:29", "losses.0.lr"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: square, lr: fast}]\n", {"losses.0.lr", "'fast'"}));
}

TEST(ExperimentSpecLosses, PaperPresetUsesClassCountRuleOrTable9Row) {
    const std::string losses = "losses: [ce, {loss: square, preset: paper}]\n";
    const ExperimentSpec ten = load("task: toy/mlp\n" + losses);
    EXPECT_EQ(ten.losses[1].k, 1.0);
    EXPECT_EQ(ten.losses[1].M, 1.0);
    EXPECT_EQ(ten.losses[1].preset, "paper");
    EXPECT_EQ(ten.losses[1].name, "square");

    const ExperimentSpec fifty = load("task: toy50/mlp\n" + losses);
    EXPECT_EQ(fifty.losses[1].k, 1.0);
    EXPECT_EQ(fifty.losses[1].M, 15.0);
    EXPECT_EQ(fifty.losses[1].preset, "paper");
    EXPECT_EQ(fifty.losses[1].name, "square_k1_M15");

    // The task's Table 9 row wins over its class count (enwik8: 204 classes, k = M = 1).
    const ExperimentSpec enwik = load("task: toy/enwik8\n" + losses);
    EXPECT_EQ(enwik.losses[1].k, 1.0);
    EXPECT_EQ(enwik.losses[1].M, 1.0);

    const ExperimentSpec none = load("task: toy50/mlp\nlosses: [{loss: square, preset: none}]\n");
    EXPECT_EQ(none.losses[0].k, 1.0);
    EXPECT_EQ(none.losses[0].M, 1.0);
    EXPECT_EQ(none.losses[0].preset, "");
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: square, preset: table9}]\n",
                          {"exp.yaml:2:33", "losses.0.preset", "paper or none"}));
}

TEST(ExperimentSpecLosses, ExplicitKAndMOverrideThePreset) {
    const ExperimentSpec m = load("task: toy50/mlp\nlosses: [{loss: square, preset: paper, M: 20}]\n");
    EXPECT_EQ(m.losses[0].k, 1.0);
    EXPECT_EQ(m.losses[0].M, 20.0);
    const ExperimentSpec k = load("task: toy50/mlp\nlosses: [{loss: square, k: 3, preset: paper}]\n");
    EXPECT_EQ(k.losses[0].k, 3.0);
    EXPECT_EQ(k.losses[0].M, 15.0);
    EXPECT_EQ(k.losses[0].name, "square_k3_M15");
}

TEST(ExperimentSpecLosses, RescalingOnCrossEntropyIsAnError) {
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses:\n  - {loss: ce, k: 15}\n",
                          {"exp.yaml:3:19", "losses.0", "square loss only"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [square, {loss: ce, M: 2}]\n", {"losses.1", "square loss only"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: ce, preset: paper}]\n", {"losses.0", "square loss only"}));
}

TEST(ExperimentSpecLosses, DuplicateNamesAreAnError) {
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [square, mse]\n",
                          {"exp.yaml:2:18", "two losses are named 'square'"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: square, k: 15, M: 30}, {loss: ce, name: square_k15_M30}]\n",
                          {"two losses are named 'square_k15_M30'"}));
}

TEST(ExperimentSpecLosses, TheSameLossUnderTwoNamesIsAnError) {
    // They trained twice, number for number, and the report showed them as two losses.
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce, {loss: ce, name: xent}]\n",
                          {"exp.yaml:2:14", "losses.1 ('xent') is the same loss as losses.0 ('ce'): cross-entropy, lr = 0.1",
                           "give it another lr"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses:\n  - {loss: square, k: 2, M: 3}\n  - ce\n  - {loss: square, k: 2.0, M: 3, name: b}\n",
                          {"exp.yaml:5:5", "losses.2 ('b') is the same loss as losses.0 ('square_k2_M3'): square loss, k = 2, M = 3",
                           "give it another k, M or lr"}));
    // An axis over every loss keeps them equal; one over a single loss tells them apart.
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [square, {loss: square, name: b}]\nsweep:\n  losses.*.M: [1, 2]\n",
                          {"losses.1 ('b') is the same loss as losses.0 ('square')"}));
    EXPECT_EQ(load("task: toy/mlp\nlosses: [square, {loss: square, name: b}]\nsweep:\n  losses.1.k: [1, 2]\n").losses.size(), 2u);
    // Differing in one of kind, k, M or lr is enough.
    EXPECT_EQ(load("task: toy/mlp\nlosses: [ce, {loss: ce, lr: 0.2, name: fast}, {loss: square, name: sq}, "
                   "{loss: square, M: 2, name: sq2}]\n").losses.size(), 4u);
}

TEST(ExperimentSpecSchedule, KeysOfAScheduleNoPointUsesAreRefused) {
    // train.milestones alone kept the default constant rate without a word.
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce]\ntrain:\n  milestones: [30, 60]\n",
                          {"exp.yaml:4:15", "train.milestones applies to train.schedule: multistep, but the schedule is constant",
                           "set train.schedule: multistep, or remove train.milestones"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce]\ntrain: {schedule: cosine}\n",
                          {"--set train.gamma=0.5", "train.gamma applies to train.schedule: multistep, but the schedule is cosine"},
                          {"train.gamma=0.5"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce]\nsweep:\n  train.gamma: [0.1, 0.5]\n",
                          {"exp.yaml:4:3", "train.gamma applies to train.schedule: multistep"}));
    // Where some point of the grid uses the schedule, or the schedule is set, they are taken.
    EXPECT_EQ(load("task: toy/mlp\nlosses: [ce]\ntrain: {schedule: multistep, milestones: [3], gamma: 0.5}\n").losses.size(), 1u);
    EXPECT_EQ(load("task: toy/mlp\nlosses: [ce]\ntrain: {milestones: [3]}\nsweep:\n  train.schedule: [constant, multistep]\n")
                  .sweep.size(), 1u);
    EXPECT_EQ(load("task: toy/mlp\nlosses: [ce]\n", {"train.schedule=multistep", "train.milestones=[3]"}).losses.size(), 1u);
}

TEST(ExperimentSpecLosses, MalformedLossesAreErrors) {
    EXPECT_TRUE(loadFails("task: toy/mlp\n", {"exp.yaml", "missing key 'losses'"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: []\n", {"exp.yaml:2:9", "non-empty list"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: ce\n", {"exp.yaml:2:9", "non-empty list"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [hinge]\n", {"exp.yaml:2:10", "unknown loss 'hinge'"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{lr: 0.1}]\n", {"exp.yaml:2:10", "losses.0", "missing 'loss'"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: square, K: 15}]\n",
                          {"exp.yaml:2:25", "unknown key 'losses.0.K'", "loss, name, lr, k, M, preset"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: square, k: 0}]\n", {"losses.0.k", "> 0"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: square, name: \"\"}]\n", {"losses.0.name"}));
}

// ---------------------------------------------------------------- unknown keys and bad values

TEST(ExperimentSpecErrors, UnknownTopLevelKeyListsKnownKeys) {
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce]\nepochs: 3\n",
                          {"exp.yaml:3:1", "unknown key 'epochs'",
                           "known keys: name, description, task, losses, protocols, seeds, device, data, train, "
                           "model, runner"}));
}

TEST(ExperimentSpecErrors, UnknownSectionKeyNamesKeyPositionAndKnownKeys) {
    const std::string text = "task: toy/mlp\nlosses: [ce]\ntrain:\n  lr: 0.1\n  batchsize: 32\n";
    EXPECT_TRUE(loadFails(text, {"exp.yaml:5:3: unknown key 'train.batchsize'", "known keys: ", "train.batch_size",
                                 "train.patience", "train.lr"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce]\nmodel:\n    depth: 3\n",
                          {"exp.yaml:4:5", "unknown key 'model.depth'", "known keys: model.hidden"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce]\ndata: {rooot: /x}\n",
                          {"exp.yaml:3:8", "unknown key 'data.rooot'", "data.root"}));
}

TEST(ExperimentSpecErrors, YamlSyntaxErrorHasLineAndColumn) {
    // The stray ']' is line 2, column 14.
    EXPECT_TRUE(loadFails("task: toy/mlp\nseeds: [1, 2]]\n", {"exp.yaml:2:14", "YAML syntax error"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce\n", {"exp.yaml:3:1", "YAML syntax error"}));
}

TEST(ExperimentSpecErrors, BadParameterValuesNameKeyAndPosition) {
    EXPECT_TRUE(loadFails(kMinimal + "train:\n  patience: -1\n",
                          {"exp.yaml:4:13", "train.patience", "expected an integer in [1, ", "'-1'"}));
    EXPECT_TRUE(loadFails(kMinimal + "train:\n  batch_size: lots\n",
                          {"exp.yaml:4:15", "train.batch_size", "expected an integer", "'lots'"}));
    EXPECT_TRUE(loadFails(kMinimal + "train:\n  batch_size: 12.5\n", {"train.batch_size", "'12.5'"}));
    EXPECT_TRUE(loadFails(kMinimal + "train:\n  optimizer: rmsprop\n", {"train.optimizer", "one of: sgd, adam, adamw"}));
    EXPECT_TRUE(loadFails(kMinimal + "train:\n  nesterov: maybe\n", {"train.nesterov", "true or false"}));
    EXPECT_TRUE(loadFails(kMinimal + "train:\n  lr: {a: 1}\n", {"exp.yaml:4:7", "train.lr", "nested structure"}));
    EXPECT_TRUE(loadFails(kMinimal + "data:\n  val_fraction: 0.95\n", {"data.val_fraction", "in [0, 0.9]"}));
    EXPECT_TRUE(loadFails(kMinimal + "model:\n  hidden: [16, 0]\n", {"model.hidden", "a list of integers"}));
    EXPECT_TRUE(loadFails(kMinimal + "train: 5\n", {"exp.yaml:3:8", "train: expected a mapping"}));
}

TEST(ExperimentSpecErrors, ASecondYamlDocumentIsRefusedWithItsLine) {
    // Its keys would have been ignored without a word.
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce]\n---\nseeds: 5\n", {"exp.yaml:4", "second YAML document"}));
    EXPECT_EQ(load("---\ntask: toy/mlp\nlosses: [ce]\n").losses.size(), 1u); // a leading marker is one document
    EXPECT_EQ(load("task: toy/mlp\nlosses: [ce]\n---\n").losses.size(), 1u);  // so is an empty one after it
}

TEST(ExperimentSpecErrors, UnknownOrMissingTaskListsKnownTasks) {
    EXPECT_TRUE(loadFails("task: toy/cnn\nlosses: [ce]\n",
                          {"exp.yaml:1:7", "unknown task 'toy/cnn'", "known tasks: toy/enwik8, toy/mlp, toy50/mlp"}));
    EXPECT_TRUE(loadFails("losses: [ce]\n", {"missing key 'task'", "toy/mlp"}));
    EXPECT_TRUE(loadFails("", {"missing key 'task'"}));
    EXPECT_TRUE(loadFails("- task\n", {"exp.yaml", "mapping"}));
}

TEST(ExperimentSpecErrors, UnknownProtocol) {
    EXPECT_TRUE(loadFails(kMinimal + "protocols: [early_stopping, same_epochs]\n",
                          {"exp.yaml:3:29", "unknown protocol 'same_epochs'"}));
    EXPECT_TRUE(loadFails(kMinimal + "protocols: patience\n", {"exp.yaml:3:12", "unknown protocol 'patience'"}));
}

TEST(ExperimentSpecProtocols, ScalarListAndDuplicates) {
    EXPECT_EQ(load(kMinimal + "protocols: fixed_epochs\n").protocols, (std::vector<Protocol>{Protocol::FixedEpochs}));
    EXPECT_EQ(load(kMinimal + "protocols: [fixed_epochs, early_stopping, fixed_epochs]\n").protocols,
              (std::vector<Protocol>{Protocol::FixedEpochs, Protocol::EarlyStopping}));
}

TEST(ExperimentSpecProtocols, SameEpochsNeedsCeEarlyStoppingAndASquareLoss) {
    const std::string both = "protocols: [early_stopping, same_epochs_as_ce]\n";
    EXPECT_NO_THROW(load("task: toy/mlp\nlosses: [ce, square]\n" + both));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [square]\n" + both,
                          {"exp.yaml:3:12", "same_epochs_as_ce", "add a 'ce' loss"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce, square]\nprotocols: [same_epochs_as_ce]\n",
                          {"exp.yaml:3:12", "same_epochs_as_ce", "early_stopping"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce]\n" + both, {"same_epochs_as_ce", "square"}));
}

TEST(ExperimentSpecDevice, Validation) {
    EXPECT_EQ(load(kMinimal + "device: cuda:1\n").device, "cuda:1");
    EXPECT_EQ(load(kMinimal + "device: cuda\n").device, "cuda");
    EXPECT_EQ(load(kMinimal + "device: cpu\n").device, "cpu");
    EXPECT_TRUE(loadFails(kMinimal + "device: cuda:x\n", {"exp.yaml:3:9", "device", "cuda:N", "'cuda:x'"}));
    EXPECT_TRUE(loadFails(kMinimal + "device: \"cuda:\"\n", {"exp.yaml:3:9", "'cuda:'"}));
    EXPECT_TRUE(loadFails(kMinimal + "device: gpu\n", {"device", "'gpu'"}));
    EXPECT_TRUE(loadFails(kMinimal, {"--set device=cuda:x", "'cuda:x'"}, {"device=cuda:x"}));
}

TEST(ExperimentSpecLoad, TextOverOneMebibyteIsRefused) {
    std::string text = kMinimal + "# ";
    text += std::string((1u << 20) - text.size() - 1, 'x') + "\n";
    ASSERT_EQ(text.size(), 1u << 20);
    EXPECT_NO_THROW(load(text)); // exactly 1 MiB is still accepted
    text += "x";
    EXPECT_TRUE(loadFails(text, {"exp.yaml", "too large", "1 MiB"}));
}

TEST(ExperimentSpecLoad, EmptyNameIsRefusedWhereItIsWritten) {
    EXPECT_TRUE(loadFails("name: \"\"\n" + kMinimal, {"exp.yaml:1:7", "name: expected a non-empty string"}));
    EXPECT_TRUE(loadFails(kMinimal, {"--set name=\"\"", "name: expected a non-empty string"}, {"name=\"\""}));
    EXPECT_EQ(load("name:\n" + kMinimal).name, "exp"); // no value: the file's stem, as without the key
}

// ---------------------------------------------------------------- --set

TEST(ExperimentSpecOverride, ParseOverride) {
    const SpecOverride o = losslab::parseOverride("train.patience=10");
    EXPECT_EQ(o.key, "train.patience");
    EXPECT_EQ(o.value, "10");
    const SpecOverride eq = losslab::parseOverride("description=a=b");
    EXPECT_EQ(eq.key, "description");
    EXPECT_EQ(eq.value, "a=b");
    const SpecOverride empty = losslab::parseOverride("description=");
    EXPECT_EQ(empty.value, "");
    EXPECT_TRUE(throwsErrorWith([] { losslab::parseOverride("train.patience"); }, {"--set train.patience", "key=value"}));
    EXPECT_TRUE(throwsErrorWith([] { losslab::parseOverride("=3"); }, {"--set =3", "key=value"}));
}

TEST(ExperimentSpecOverride, SetsScalarsListsAndListItems) {
    const std::string text = "task: toy/mlp\nlosses: [{loss: ce}, {loss: square, lr: 0.5}]\n";
    EXPECT_EQ(load(text, {"train.patience=10"}).params.getInt("train.patience"), 10);
    EXPECT_EQ(load(kMinimal + "train:\n  patience: 3\n", {"train.patience=10"}).params.getInt("train.patience"), 10);
    EXPECT_EQ(load(kMinimal + "train:\n", {"train.patience=7"}).params.getInt("train.patience"), 7);

    const ExperimentSpec lr = load(text, {"losses.1.lr=0.2"});
    EXPECT_EQ(lr.losses[1].lr, 0.2);
    EXPECT_EQ(lr.losses[0].lr, 0.1);
    EXPECT_EQ(load(text, {"losses.0=square", "losses.1.name=other"}).losses[0].kind, LossKind::Square);

    EXPECT_EQ(load(text, {"seeds=[1,2]"}).seeds, (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(load(text, {"seeds=2"}).seeds, (std::vector<std::int64_t>{0, 1}));
    EXPECT_EQ(load(text, {"model.hidden=[32, 32, 32]"}).params.raw("model.hidden"), "[32, 32, 32]");
    EXPECT_EQ(load(text, {"device=cuda:1"}).device, "cuda:1");
    // Later --set wins.
    EXPECT_EQ(load(text, {"train.patience=4", "train.patience=6"}).params.getInt("train.patience"), 6);
}

TEST(ExperimentSpecOverride, TaskCanBeSetAndThePresetFollowsIt) {
    const std::string text = "task: toy/mlp\nlosses: [ce, {loss: square, preset: paper}]\n";
    const ExperimentSpec spec = load(text, {"task=toy50/mlp"});
    EXPECT_EQ(spec.taskId, "toy50/mlp");
    EXPECT_EQ(spec.losses[1].M, 15.0);
    EXPECT_EQ(load("losses: [ce]\n", {"task=toy/mlp"}).taskId, "toy/mlp");
    EXPECT_TRUE(loadFails(text, {"--set task=nope", "unknown task 'nope'", "toy/mlp"}, {"task=nope"}));
}

TEST(ExperimentSpecOverride, BadOverridesMentionTheSetArgument) {
    const std::string text = "task: toy/mlp\nlosses: [{loss: ce}, {loss: square}]\n";
    EXPECT_TRUE(loadFails(text, {"--set losses.5.lr=0.1", "list of 2 items", "0 to 1"}, {"losses.5.lr=0.1"}));
    EXPECT_TRUE(loadFails(text, {"--set losses.x.lr=0.1", "list of 2 items"}, {"losses.x.lr=0.1"}));
    EXPECT_TRUE(loadFails(text, {"--set train.patience=abc", "train.patience", "expected an integer"},
                          {"train.patience=abc"}));
    EXPECT_TRUE(loadFails(text, {"--set train.patience=0", "train.patience"}, {"train.patience=0"}));
    EXPECT_TRUE(loadFails(text, {"--set train.patiense=3", "unknown key 'train.patiense'", "train.patience"},
                          {"train.patiense=3"}));
    EXPECT_TRUE(loadFails(text, {"--set losses.1.lr=-1", "losses.1.lr"}, {"losses.1.lr=-1"}));
    EXPECT_TRUE(loadFails(text, {"--set seeds=[1,1]", "listed twice"}, {"seeds=[1,1]"}));
    EXPECT_TRUE(loadFails(text, {"--set train..lr=1", "dotted path"}, {"train..lr=1"}));
    EXPECT_TRUE(loadFails(kMinimal, {"--set losses.1.lr=0.2", "not a mapping"}, {"losses.1.lr=0.2"}));
}

// DISABLED: known bug, reported. The node a --set creates has no position, and Locator::at
// (core/src/spec/experiment_spec.cpp) only attributes a path to a --set when the path equals the
// --set key or lies below it; the top-level key 'trian' lies above 'trian.patience', so the
// message reads "exp.yaml: unknown key 'trian'" and blames the file. Enable once fixed.
TEST(ExperimentSpecOverride, UnknownTopLevelKeyFromSetMentionsTheSetArgument) {
    // The misspelt section comes from the command line, not from exp.yaml.
    EXPECT_TRUE(loadFails(kMinimal, {"--set trian.patience=3", "unknown key 'trian'"}, {"trian.patience=3"}));
}

TEST(ExperimentSpecOverride, HugeListIndexIsAnError) {
    EXPECT_TRUE(loadFails(kMinimal, {"--set losses.99999999999999999999.lr=1", "list of 2 items"},
                          {"losses.99999999999999999999.lr=1"}));
}

// ---------------------------------------------------------------- expand()

struct RunKey {
    std::string loss;
    Protocol protocol;
    std::int64_t seed;
    int dependsOn;
    bool operator==(const RunKey& o) const {
        return loss == o.loss && protocol == o.protocol && seed == o.seed && dependsOn == o.dependsOn;
    }
};

std::ostream& operator<<(std::ostream& os, const RunKey& k) {
    return os << "{" << k.loss << ", " << losslab::protocolName(k.protocol) << ", seed " << k.seed << ", dep "
              << k.dependsOn << "}";
}

std::vector<RunKey> keys(const std::vector<RunSpec>& runs) {
    std::vector<RunKey> out;
    for (const auto& r : runs) out.push_back({r.loss.name, r.protocol, r.seed, r.dependsOn});
    return out;
}

TEST(ExperimentSpecExpand, SeedsTimesLossesTimesProtocolsWithDependencies) {
    const ExperimentSpec spec = load(
        "name: study\ntask: toy/mlp\ndevice: cpu\nseeds: [7, 9]\nprotocols: [early_stopping, same_epochs_as_ce]\n"
        "losses: [ce, square, {loss: square, k: 15, M: 30}]\n");
    const std::vector<RunSpec> runs = spec.expand();
    const auto ES = Protocol::EarlyStopping;
    const auto SE = Protocol::SameEpochsAsCe;
    // Per seed: 3 losses early-stopped, then the 2 square losses for CE's epochs (none for CE).
    const std::vector<RunKey> expected = {
        {"ce", ES, 7, -1}, {"square", ES, 7, -1}, {"square_k15_M30", ES, 7, -1}, {"square", SE, 7, 0},
        {"square_k15_M30", SE, 7, 0},
        {"ce", ES, 9, -1}, {"square", ES, 9, -1}, {"square_k15_M30", ES, 9, -1}, {"square", SE, 9, 5},
        {"square_k15_M30", SE, 9, 5}};
    EXPECT_EQ(keys(runs), expected);
    for (const RunSpec& r : runs) {
        EXPECT_EQ(r.experiment, "study");
        EXPECT_EQ(r.taskId, "toy/mlp");
        EXPECT_EQ(r.device, "cpu");
        // Every key as the experiment has it, except data.val_fraction: "auto" is resolved to
        // the fraction the run's protocol holds out (a run is stored fully resolved).
        auto expected = spec.params.values();
        expected["data.val_fraction"] = r.protocol == Protocol::FixedEpochs ? "0" : "0.1";
        EXPECT_EQ(r.params.values(), expected);
        if (r.dependsOn >= 0) {
            const RunSpec& ce = runs[static_cast<std::size_t>(r.dependsOn)];
            EXPECT_EQ(ce.loss.kind, LossKind::CrossEntropy);
            EXPECT_EQ(ce.protocol, ES);
            EXPECT_EQ(ce.seed, r.seed);
            EXPECT_LT(r.dependsOn, &r - runs.data()); // a dependency is queued before its dependant
        }
    }
    EXPECT_EQ(runs[1].loss.k, 1.0);
    EXPECT_EQ(runs[2].loss.k, 15.0);
    EXPECT_EQ(runs[2].loss.M, 30.0);
}

TEST(ExperimentSpecExpand, CeListedLastAndFixedEpochs) {
    const ExperimentSpec spec = load(
        "task: toy/mlp\nseeds: 2\nprotocols: [fixed_epochs, same_epochs_as_ce, early_stopping]\n"
        "losses: [square, ce]\n");
    const auto ES = Protocol::EarlyStopping;
    const auto SE = Protocol::SameEpochsAsCe;
    const auto FE = Protocol::FixedEpochs;
    const std::vector<RunKey> expected = {
        {"square", FE, 0, -1}, {"square", ES, 0, -1}, {"ce", FE, 0, -1}, {"ce", ES, 0, -1}, {"square", SE, 0, 3},
        {"square", FE, 1, -1}, {"square", ES, 1, -1}, {"ce", FE, 1, -1}, {"ce", ES, 1, -1}, {"square", SE, 1, 8}};
    EXPECT_EQ(keys(spec.expand()), expected);
}

TEST(ExperimentSpecExpand, EarlyStoppingOnlyHasNoDependencies) {
    const ExperimentSpec spec = load(kMinimal + "seeds: [1, 2, 3]\n");
    const auto runs = spec.expand();
    ASSERT_EQ(runs.size(), 6u); // 3 seeds x 2 losses x 1 protocol
    for (const auto& r : runs) EXPECT_EQ(r.dependsOn, -1);
    EXPECT_EQ(runs[0].seed, 1);
    EXPECT_EQ(runs[5].seed, 3);
}

TEST(ExperimentSpecExpand, RunYamlNamesLossProtocolAndSeed) {
    const ExperimentSpec spec = load("task: toy/mlp\nseeds: [7]\nprotocols: [early_stopping, same_epochs_as_ce]\n"
                                     "losses: [ce, {loss: square, k: 15, M: 30}]\n");
    const auto runs = spec.expand();
    ASSERT_EQ(runs.size(), 3u);
    const std::string yaml = runs[2].toYaml();
    EXPECT_NE(yaml.find("protocol: same_epochs_as_ce"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("seed: 7"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("name: square_k15_M30"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("task: toy/mlp"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("patience: 5"), std::string::npos) << yaml;
}

// ---------------------------------------------------------------- toYaml()

void expectRoundTrip(const ExperimentSpec& spec) {
    const std::string yaml = spec.toYaml();
    ExperimentSpec again;
    try {
        again = losslab::loadExperimentText(yaml, "resolved.yaml", {}, registry());
    } catch (const Error& e) {
        FAIL() << "toYaml() output does not load: " << e.what() << "\n" << yaml;
    }
    EXPECT_EQ(again.toYaml(), yaml);
    EXPECT_EQ(again.name, spec.name);
    EXPECT_EQ(again.description, spec.description);
    EXPECT_EQ(again.taskId, spec.taskId);
    EXPECT_EQ(again.device, spec.device);
    EXPECT_EQ(again.seeds, spec.seeds);
    EXPECT_EQ(again.protocols, spec.protocols);
    EXPECT_EQ(again.params.values(), spec.params.values());
    ASSERT_EQ(again.losses.size(), spec.losses.size());
    for (std::size_t i = 0; i < spec.losses.size(); ++i) {
        EXPECT_EQ(again.losses[i].name, spec.losses[i].name);
        EXPECT_EQ(again.losses[i].kind, spec.losses[i].kind);
        EXPECT_EQ(again.losses[i].k, spec.losses[i].k);
        EXPECT_EQ(again.losses[i].M, spec.losses[i].M);
        EXPECT_EQ(again.losses[i].lr, spec.losses[i].lr);
        EXPECT_EQ(again.losses[i].preset, spec.losses[i].preset);
    }
}

TEST(ExperimentSpecYaml, FullSpecRoundTrips) {
    expectRoundTrip(load(kFull, {"train.patience=10"}));
}

TEST(ExperimentSpecYaml, PresetAndOddValuesRoundTrip) {
    expectRoundTrip(load("name: \"odd: name\"\ntask: toy50/mlp\ndevice: cuda:1\nseeds: [0]\n"
                         "protocols: [fixed_epochs]\n"
                         "losses: [{loss: square, preset: paper, lr: 3e-5}, {loss: ce, lr: 2e-05}]\n"
                         "data: {root: \"/data/with space/#x\"}\n"));
}

// DISABLED: known bug, reported. emitValue (core/src/spec/experiment_spec.cpp) writes any
// canonical value that starts with '[' as a YAML flow list, so the String data.root
// "[shared]/data" comes back from toYaml() as "[shared]". Enable once fixed.
TEST(ExperimentSpecYaml, StringParameterStartingWithBracketRoundTrips) {
    expectRoundTrip(load(kMinimal + "data: {root: \"[shared]/data\"}\n"));
}

TEST(ExperimentSpecYaml, DefaultNameIsWrittenOut) {
    const std::string yaml = load(kMinimal).toYaml();
    EXPECT_NE(yaml.find("name: exp"), std::string::npos) << yaml;
}

// ---------------------------------------------------------------- files

TEST(ExperimentSpecFile, LoadsFileAndNamesItInErrors) {
    char dirTemplate[] = "/tmp/losslab_spec_test_XXXXXX";
    ASSERT_NE(mkdtemp(dirTemplate), nullptr);
    const std::filesystem::path dir = dirTemplate;
    const std::string good = (dir / "paper_study.yaml").string();
    const std::string bad = (dir / "bad.yaml").string();
    std::ofstream(good) << kMinimal;
    std::ofstream(bad) << "task: toy/mlp\nlosses: [ce]\ntrain:\n  patience: -3\n";

    const ExperimentSpec spec = losslab::loadExperimentFile(good, {losslab::parseOverride("seeds=1")}, registry());
    EXPECT_EQ(spec.name, "paper_study");
    EXPECT_EQ(spec.sourcePath, good);
    EXPECT_EQ(spec.seeds, (std::vector<std::int64_t>{0}));

    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadExperimentFile(bad, {}, registry()); },
                                {bad + ":4:13", "train.patience", "'-3'"}));
    const std::string missing = (dir / "missing.yaml").string();
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadExperimentFile(missing, {}, registry()); },
                                {missing, "cannot open"}));
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadExperimentFile(dir.string(), {}, registry()); },
                                {dir.string() + " is a folder; expected an experiment YAML file"}));
    std::filesystem::remove_all(dir);
}

TEST(ExperimentSpecFile, ReadsAtMostOneMebibyteOfAnyFile) {
    // A stream without end: only the limit and a byte are read, then the file is refused.
    EXPECT_TRUE(throwsErrorWith([] { losslab::readExperimentFile("/dev/zero"); },
                                {"/dev/zero: more than 1048576 bytes", "too large", "1 MiB"}));
    char dirTemplate[] = "/tmp/losslab_spec_test_XXXXXX";
    ASSERT_NE(mkdtemp(dirTemplate), nullptr);
    const std::filesystem::path dir = dirTemplate;
    const std::string big = (dir / "big.yaml").string();
    std::ofstream(big) << kMinimal << "# " << std::string(1u << 20, 'x') << "\n";
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadExperimentFile(big, {}, registry()); },
                                {big + ": " + std::to_string(std::filesystem::file_size(big)) + " bytes is too large", "1 MiB"}));
    const std::string exact = (dir / "exact.yaml").string();
    std::ofstream(exact) << kMinimal << "# " << std::string((1u << 20) - kMinimal.size() - 3, 'x') << "\n";
    ASSERT_EQ(std::filesystem::file_size(exact), 1u << 20);
    EXPECT_EQ(losslab::readExperimentFile(exact).size(), 1u << 20); // exactly 1 MiB is still read whole
    std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------- names

TEST(ExperimentSpecNames, KindAndProtocolNamesRoundTrip) {
    EXPECT_STREQ(losslab::lossKindName(LossKind::CrossEntropy), "ce");
    EXPECT_STREQ(losslab::lossKindName(LossKind::Square), "square");
    for (const Protocol p : {Protocol::EarlyStopping, Protocol::SameEpochsAsCe, Protocol::FixedEpochs})
        EXPECT_EQ(losslab::parseProtocol(losslab::protocolName(p), "here"), p);
    EXPECT_EQ(losslab::parseLossKind("mse", "here"), LossKind::Square);
    EXPECT_EQ(losslab::parseLossKind("cross_entropy", "here"), LossKind::CrossEntropy);
    EXPECT_TRUE(throwsErrorWith([] { losslab::parseLossKind("nll", "cli"); }, {"cli", "unknown loss 'nll'"}));
    EXPECT_TRUE(throwsErrorWith([] { losslab::parseProtocol("early", "cli"); }, {"cli", "unknown protocol 'early'"}));
}

// ---------------------------------------------------------------- ParamDecl / ParamSet

ParamDecl decl(ParamType type, std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt,
               std::vector<std::string> choices = {}) {
    return ParamDecl{"sec.key", type, "", "", min, max, std::move(choices)};
}

struct CanonicalCase {
    const char* name;
    ParamDecl decl;
    std::string text;
    std::string canonical; // empty: an error is expected
};

void PrintTo(const CanonicalCase& c, std::ostream* os) { *os << c.name; }

class CanonicalParam : public testing::TestWithParam<CanonicalCase> {};

TEST_P(CanonicalParam, CanonicalFormOrError) {
    const CanonicalCase& c = GetParam();
    if (c.canonical.empty()) {
        EXPECT_TRUE(throwsErrorWith([&] { losslab::canonicalParamValue(c.decl, c.text, "where:1:2"); },
                                    {"where:1:2", "sec.key", "expected", "'" + c.text + "'"}));
    } else {
        EXPECT_EQ(losslab::canonicalParamValue(c.decl, c.text, "where:1:2"), c.canonical);
    }
}

INSTANTIATE_TEST_SUITE_P(
    Table, CanonicalParam,
    testing::Values(
        CanonicalCase{"int_plain", decl(ParamType::Int), "42", "42"},
        CanonicalCase{"int_spaces", decl(ParamType::Int), "  -7 ", "-7"},
        CanonicalCase{"int_fraction", decl(ParamType::Int), "4.5", ""},
        CanonicalCase{"int_word", decl(ParamType::Int), "ten", ""},
        CanonicalCase{"int_empty", decl(ParamType::Int), "", ""},
        CanonicalCase{"int_overflow", decl(ParamType::Int), "99999999999999999999", ""},
        CanonicalCase{"int_below_min", decl(ParamType::Int, 1.0, 10.0), "0", ""},
        CanonicalCase{"int_at_max", decl(ParamType::Int, 1.0, 10.0), "10", "10"},
        CanonicalCase{"int_above_max", decl(ParamType::Int, 1.0, 10.0), "11", ""},
        CanonicalCase{"double_short", decl(ParamType::Double), "0.1", "0.1"},
        CanonicalCase{"double_exponent", decl(ParamType::Double), "2.5e-5", "2.5e-05"},
        CanonicalCase{"double_integer", decl(ParamType::Double), "3", "3"},
        CanonicalCase{"double_nan", decl(ParamType::Double), "nan", ""},
        CanonicalCase{"double_inf", decl(ParamType::Double), "inf", ""},
        CanonicalCase{"double_below_min", decl(ParamType::Double, 0.0), "-0.5", ""},
        CanonicalCase{"bool_yes", decl(ParamType::Bool), "yes", "true"},
        CanonicalCase{"bool_off", decl(ParamType::Bool), "off", "false"},
        CanonicalCase{"bool_word", decl(ParamType::Bool), "maybe", ""},
        CanonicalCase{"string_trimmed", decl(ParamType::String), " sgd ", "sgd"},
        CanonicalCase{"string_choice", decl(ParamType::String, {}, {}, {"a", "b"}), "b", "b"},
        CanonicalCase{"string_not_a_choice", decl(ParamType::String, {}, {}, {"a", "b"}), "c", ""},
        CanonicalCase{"intlist_flow", decl(ParamType::IntList), "[1,2 , 3]", "[1, 2, 3]"},
        CanonicalCase{"intlist_bare", decl(ParamType::IntList), "60, 120", "[60, 120]"},
        CanonicalCase{"intlist_empty", decl(ParamType::IntList), "[]", "[]"},
        CanonicalCase{"intlist_empty_text", decl(ParamType::IntList), "", "[]"},
        CanonicalCase{"intlist_unclosed", decl(ParamType::IntList), "[1, 2", ""},
        CanonicalCase{"intlist_word", decl(ParamType::IntList), "[1, x]", ""},
        CanonicalCase{"intlist_element_bound", decl(ParamType::IntList, 1.0), "[3, 0]", ""},
        CanonicalCase{"doublelist", decl(ParamType::DoubleList), "[0.5, 1e-3]", "[0.5, 0.001]"},
        CanonicalCase{"doublelist_word", decl(ParamType::DoubleList), "[0.5, half]", ""}),
    [](const testing::TestParamInfo<CanonicalCase>& info) { return std::string(info.param.name); });

TEST(ParamSetTest, TypedGettersParseCanonicalValues) {
    ParamSet p;
    p.set("a.int", "12");
    p.set("a.double", "0.25");
    p.set("a.bool", "true");
    p.set("a.string", "adam");
    p.set("a.ints", "[60, 120]");
    p.set("a.doubles", "[0.5, 2]");
    p.set("a.empty", "[]");
    EXPECT_TRUE(p.has("a.int"));
    EXPECT_FALSE(p.has("a.missing"));
    EXPECT_EQ(p.getInt("a.int"), 12);
    EXPECT_EQ(p.getDouble("a.double"), 0.25);
    EXPECT_TRUE(p.getBool("a.bool"));
    EXPECT_EQ(p.getString("a.string"), "adam");
    EXPECT_EQ(p.getIntList("a.ints"), (std::vector<std::int64_t>{60, 120}));
    EXPECT_EQ(p.getDoubleList("a.doubles"), (std::vector<double>{0.5, 2.0}));
    EXPECT_TRUE(p.getIntList("a.empty").empty());
    EXPECT_EQ(p.raw("a.ints"), "[60, 120]");
    p.set("a.int", "13");
    EXPECT_EQ(p.getInt("a.int"), 13);
    EXPECT_EQ(p.values().size(), 7u);
}

TEST(ParamSetTest, MissingOrMistypedValuesThrowNamingTheKey) {
    ParamSet p;
    p.set("a.word", "abc");
    EXPECT_TRUE(throwsErrorWith([&] { p.raw("a.missing"); }, {"a.missing", "not set"}));
    EXPECT_TRUE(throwsErrorWith([&] { p.getInt("a.missing"); }, {"a.missing"}));
    EXPECT_TRUE(throwsErrorWith([&] { p.getInt("a.word"); }, {"a.word", "integer", "'abc'"}));
    EXPECT_TRUE(throwsErrorWith([&] { p.getDouble("a.word"); }, {"a.word", "number"}));
    EXPECT_TRUE(throwsErrorWith([&] { p.getBool("a.word"); }, {"a.word", "true or false"}));
    EXPECT_TRUE(throwsErrorWith([&] { p.getIntList("a.word"); }, {"a.word", "list of integers"}));
    EXPECT_TRUE(throwsErrorWith([&] { p.getDoubleList("a.word"); }, {"a.word", "list of numbers"}));
}

TEST(ParamSetTest, CoreDeclarationsHaveValidDefaults) {
    std::set<std::string> seen;
    for (const ParamDecl& d : losslab::coreParamDecls()) {
        EXPECT_TRUE(seen.insert(d.key).second) << "declared twice: " << d.key;
        const auto dot = d.key.find('.');
        ASSERT_NE(dot, std::string::npos) << d.key;
        const std::string section = d.key.substr(0, dot);
        EXPECT_TRUE(section == "data" || section == "train" || section == "runner") << d.key;
        EXPECT_NO_THROW(losslab::canonicalParamValue(d, d.defaultValue, "default")) << d.key;
        EXPECT_FALSE(d.help.empty()) << d.key;
    }
    EXPECT_TRUE(seen.count("train.patience"));
    EXPECT_TRUE(seen.count("train.lr"));
}

// Runs in a scratch folder (and with HOME set) for its lifetime; both restored after.
class InScratchFolder {
public:
    InScratchFolder() : m_before(std::filesystem::current_path()) {
        char dirTemplate[] = "/tmp/losslab-paths-XXXXXX";
        if (mkdtemp(dirTemplate) == nullptr) throw std::runtime_error("mkdtemp failed");
        m_dir = dirTemplate;
        std::filesystem::create_directories(m_dir / "home");
        std::filesystem::create_directories(m_dir / "elsewhere");
        const char* home = std::getenv("HOME");
        if (home != nullptr) m_home = home;
        setenv("HOME", (m_dir / "home").c_str(), 1);
        std::filesystem::current_path(m_dir);
    }
    ~InScratchFolder() {
        std::filesystem::current_path(m_before);
        if (m_home) setenv("HOME", m_home->c_str(), 1);
        else unsetenv("HOME");
        std::error_code ec;
        std::filesystem::remove_all(m_dir, ec);
    }
    const std::filesystem::path& dir() const { return m_dir; }

private:
    std::filesystem::path m_before, m_dir;
    std::optional<std::string> m_home;
};

// A path key (data.root, a plugin's model file) is made absolute when read: relative to the
// folder the program runs in, "~/" the home folder; so a stored run names the same file
// wherever it is resumed.
TEST(ParamSetTest, APathIsMadeAbsoluteAgainstTheFolderTheProgramRunsIn) {
    const InScratchFolder scratch;
    const std::string dir = scratch.dir().string();
    const ParamDecl d{"model.file", ParamType::Path, "", "a file", std::nullopt, std::nullopt, {}};
    EXPECT_EQ(losslab::canonicalParamValue(d, "models/bert.pt", "test"), dir + "/models/bert.pt");
    EXPECT_EQ(losslab::canonicalParamValue(d, " ./a/../b/ ", "test"), dir + "/b");
    EXPECT_EQ(losslab::canonicalParamValue(d, "~/data/cifar", "test"), dir + "/home/data/cifar");
    EXPECT_EQ(losslab::canonicalParamValue(d, "~", "test"), dir + "/home");
    EXPECT_EQ(losslab::canonicalParamValue(d, "/srv//data/./x/", "test"), "/srv/data/x");
    EXPECT_EQ(losslab::canonicalParamValue(d, "", "test"), "") << "empty stays: the key is not set";
    EXPECT_EQ(losslab::canonicalParamValue(d, "~alice/x", "test"), dir + "/~alice/x") << "only ~ and ~/ are the home folder";
    EXPECT_STREQ(losslab::paramTypeName(ParamType::Path), "a file or folder");
}

TEST(ExperimentSpecLoad, ARelativeDataRootIsStoredAbsoluteAndReadBackAnywhere) {
    const InScratchFolder scratch;
    const std::string images = (scratch.dir() / "images").string();
    const ExperimentSpec spec = load(kMinimal, {"data.root=images"});
    EXPECT_EQ(spec.params.getString("data.root"), images);
    EXPECT_EQ(spec.params.type("data.root"), ParamType::Path);
    const std::vector<RunSpec> runs = spec.expand();
    ASSERT_FALSE(runs.empty());
    const std::string stored = runs.front().toYaml();
    EXPECT_NE(stored.find("\"" + images + "\""), std::string::npos) << stored;
    // Resumed from another folder: the stored run names the same folder.
    std::filesystem::current_path(scratch.dir() / "elsewhere");
    const RunSpec back = losslab::parseRunSpecYaml(stored, "run #1", registry());
    EXPECT_EQ(back.params.getString("data.root"), images);
    // An experiment written back (the window's Save, `plan`) names it absolute too.
    EXPECT_NE(spec.toYaml().find(images), std::string::npos);
}

} // namespace

// ---------------------------------------------------------------- sweeps

namespace {

const std::string kKmSweep = R"(task: toy/mlp
seeds: 3
losses: [ce, {loss: square, k: 15, M: 30}]
sweep:
  losses.1.k: [1, 5, 15]
  losses.1.M: [1, 10, 30]
)";

std::vector<RunSpec> runsOfLoss(const std::vector<RunSpec>& runs, const std::string& kind, Protocol protocol) {
    std::vector<RunSpec> out;
    for (const auto& r : runs)
        if (losslab::lossKindName(r.loss.kind) == kind && r.protocol == protocol) out.push_back(r);
    return out;
}

} // namespace

TEST(ExperimentSpecSweep, KByMGridRunsEverySquarePointOncePerSeedAndCeOnce) {
    const ExperimentSpec spec = load(kKmSweep);
    ASSERT_EQ(spec.sweep.size(), 2u);
    EXPECT_EQ(spec.sweep[0].recipeKey(), "loss.k");
    EXPECT_EQ(spec.sweep[1].values, (std::vector<std::string>{"1", "10", "30"}));
    EXPECT_EQ(spec.gridPointCount(), 9u);
    EXPECT_EQ(spec.configurationsOf(0), 1u);
    EXPECT_EQ(spec.configurationsOf(1), 9u);
    EXPECT_EQ(spec.losses[1].name, "square"); // a name made from one k and M would fit one point only
    const std::vector<RunSpec> runs = spec.expand();
    ASSERT_EQ(runs.size(), 3u * (1u + 9u));
    const auto ce = runsOfLoss(runs, "ce", Protocol::EarlyStopping);
    const auto sq = runsOfLoss(runs, "square", Protocol::EarlyStopping);
    ASSERT_EQ(ce.size(), 3u);
    ASSERT_EQ(sq.size(), 27u);
    EXPECT_TRUE(ce.front().sweepAxes.empty());
    std::set<std::pair<double, double>> points;
    for (const auto& r : sq) {
        EXPECT_EQ(r.sweepAxes, (std::vector<std::string>{"loss.k", "loss.M"}));
        EXPECT_EQ(r.loss.name, "square");
        points.insert({r.loss.k, r.loss.M});
    }
    EXPECT_EQ(points.size(), 9u);
    EXPECT_TRUE(points.count({5.0, 10.0}));
    const std::string yaml = sq.front().toYaml();
    EXPECT_NE(yaml.find("sweep: [loss.k, loss.M]"), std::string::npos) << yaml;
    EXPECT_EQ(losslab::runSweepAxes(yaml), (std::vector<std::string>{"loss.k", "loss.M"}));
    EXPECT_EQ(losslab::runRecipe(yaml).count("sweep"), 0u); // its values are in the recipe already
    EXPECT_EQ(losslab::parseRunSpecYaml(yaml, "run", registry()).sweepAxes, sq.front().sweepAxes);
}

TEST(ExperimentSpecLosses, SubnormalLearningRatesLoadSweepAndReadBack) {
    // 1e-310 is below DBL_MIN: std::stod throws std::out_of_range on it, which escaped as
    // "internal error: stod" from the CLI and ended the desktop program from a loss-table edit.
    const ExperimentSpec spec = load("task: toy/mlp\nlosses: [ce, {loss: square, lr: 1e-310}]\n"
                                     "sweep: {losses.0.lr: [2e-310, 0.1]}\n");
    EXPECT_EQ(spec.losses[1].lr, 1e-310);
    bool sawSweptTiny = false;
    for (const RunSpec& run : spec.expand()) {
        const RunSpec back = losslab::parseRunSpecYaml(run.toYaml(), "run", registry());
        EXPECT_EQ(back.loss.lr, run.loss.lr) << run.toYaml();
        sawSweptTiny = sawSweptTiny || run.loss.lr == 2e-310;
    }
    EXPECT_TRUE(sawSweptTiny);
    // Below the smallest double there is no number to train with: said, with the position.
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: square, lr: 1e-400}]\n", {"exp.yaml:2:29", "losses.0.lr", "1e-400"}));
}

TEST(ExperimentSpecSweep, PaperPresetIsDroppedWhereTheSweepSetsKOrM) {
    const ExperimentSpec spec = load("task: toy50/mlp\nlosses: [ce, {loss: square, preset: paper}]\n"
                                     "sweep: {losses.*.M: [1, 2]}\n");
    for (const auto& r : spec.expand()) {
        if (r.loss.kind == LossKind::Square) {
            EXPECT_TRUE(r.loss.preset.empty());
        }
    }
}

TEST(ExperimentSpecSweep, LearningRateOfEveryLossPairsSameEpochsRunsWithTheSameRate) {
    const ExperimentSpec spec = load("task: toy/mlp\nseeds: [7]\nlosses: [ce, square]\n"
                                     "protocols: [early_stopping, same_epochs_as_ce]\n"
                                     "sweep: {losses.*.lr: [0.01, 0.1, 0.5]}\n");
    const std::vector<RunSpec> runs = spec.expand();
    ASSERT_EQ(runs.size(), 3u + 3u + 3u);
    for (const auto& r : runs) {
        EXPECT_EQ(r.sweepAxes, (std::vector<std::string>{"loss.lr"}));
        if (r.protocol != Protocol::SameEpochsAsCe) continue;
        ASSERT_GE(r.dependsOn, 0);
        const RunSpec& ce = runs[static_cast<std::size_t>(r.dependsOn)];
        EXPECT_EQ(ce.loss.kind, LossKind::CrossEntropy);
        EXPECT_EQ(ce.protocol, Protocol::EarlyStopping);
        EXPECT_EQ(ce.loss.lr, r.loss.lr);
    }
    const auto units = losslab::independentUnits(runs);
    ASSERT_EQ(units.size(), 6u); // per rate: CE with its same-epochs run, and the square early-stopping run
    for (const auto& unit : units)
        for (const int i : unit) {
            const int d = runs[static_cast<std::size_t>(i)].dependsOn;
            if (d >= 0) {
                EXPECT_NE(std::find(unit.begin(), unit.end(), d), unit.end());
            }
        }
}

TEST(ExperimentSpecSweep, KeysOutsideLossesVaryEveryLossAndRoundTrip) {
    const ExperimentSpec spec = load("task: toy/mlp\nseeds: 2\nlosses: [ce, square]\n"
                                     "sweep:\n  model.hidden: [[16], [64, 64]]\n  train.weight_decay: [0, 0.0005]\n"
                                     "  losses.1.k: [1, 2]\n");
    EXPECT_EQ(spec.gridParams().size(), 4u);
    EXPECT_EQ(spec.configurationsOf(0), 4u);
    EXPECT_EQ(spec.configurationsOf(1), 8u);
    const std::vector<RunSpec> runs = spec.expand();
    ASSERT_EQ(runs.size(), 4u * 2u * (1u + 2u));
    std::set<std::string> hidden;
    for (const auto& r : runs) {
        hidden.insert(r.params.raw("model.hidden"));
        if (r.loss.kind == LossKind::CrossEntropy) {
            EXPECT_EQ(r.sweepAxes, (std::vector<std::string>{"model.hidden", "train.weight_decay"}));
        }
    }
    EXPECT_EQ(hidden, (std::set<std::string>{"[16]", "[64, 64]"}));
    // The resolved experiment reloads to the same runs.
    const ExperimentSpec again = losslab::loadExperimentText(spec.toYaml(), "again.yaml", {}, registry());
    const std::vector<RunSpec> runs2 = again.expand();
    ASSERT_EQ(runs2.size(), runs.size());
    for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs2[i].toYaml(), runs[i].toYaml());
}

TEST(ExperimentSpecSweep, RunsNameTheirAxesInTheOrderTheSweepListsThem) {
    // The report's heatmaps put a family's first axis along x, its second along y and draw one
    // figure per value of the others. Keys outside losses were listed first whatever the order
    // written, so a k x M sweep over two model sizes was drawn as hidden x k, one figure per M.
    const ExperimentSpec spec = load("task: toy/mlp\nseeds: 1\nlosses: [ce, square]\n"
                                     "sweep:\n  losses.1.k: [1, 5]\n  losses.1.M: [1, 10]\n  model.hidden: [[8], [16]]\n");
    for (const auto& r : spec.expand()) {
        if (r.loss.kind == LossKind::CrossEntropy) {
            EXPECT_EQ(r.sweepAxes, (std::vector<std::string>{"model.hidden"}));
        } else {
            EXPECT_EQ(r.sweepAxes, (std::vector<std::string>{"loss.k", "loss.M", "model.hidden"}));
            EXPECT_EQ(losslab::runSweepAxes(r.toYaml()), r.sweepAxes);
        }
    }
    const ExperimentSpec mixed = load("task: toy/mlp\nseeds: 1\nlosses: [ce, square]\n"
                                      "sweep:\n  model.hidden: [[8], [16]]\n  losses.*.lr: [0.1, 0.2]\n"
                                      "  train.weight_decay: [0, 0.0005]\n  losses.1.M: [1, 10]\n");
    for (const auto& r : mixed.expand()) {
        if (r.loss.kind == LossKind::CrossEntropy) {
            EXPECT_EQ(r.sweepAxes, (std::vector<std::string>{"model.hidden", "loss.lr", "train.weight_decay"}));
        } else {
            EXPECT_EQ(r.sweepAxes, (std::vector<std::string>{"model.hidden", "loss.lr", "train.weight_decay", "loss.M"}));
        }
    }
}

TEST(ExperimentSpecSweep, BadSweepsNameTheKeyAndWhatIsExpected) {
    const std::string head = "task: toy/mlp\nlosses: [ce, square]\nsweep:\n";
    EXPECT_TRUE(loadFails(head + "  train.lr: [0.1, 0.2]\n", {"exp.yaml:4:3", "train.lr", "losses.*.lr"}));
    EXPECT_TRUE(loadFails(head + "  losses.0.k: [1, 2]\n", {"losses.0.k", "cross-entropy"}));
    EXPECT_TRUE(loadFails(head + "  losses.2.lr: [1, 2]\n", {"losses.2.lr", "2 loss(es)", "0 to 1"}));
    EXPECT_TRUE(loadFails(head + "  losses.1.name: [a, b]\n", {"losses.N.lr"}));
    EXPECT_TRUE(loadFails(head + "  model.depth: [1, 2]\n", {"unknown key 'model.depth'"}));
    EXPECT_TRUE(loadFails(head + "  runner.threads: [1, 2]\n", {"runner.threads", "does not change"}));
    EXPECT_TRUE(loadFails(head + "  losses.1.k: []\n", {"sweep.losses.1.k", "non-empty list"}));
    EXPECT_TRUE(loadFails(head + "  losses.1.k: 5\n", {"sweep.losses.1.k", "non-empty list"}));
    EXPECT_TRUE(loadFails(head + "  losses.1.k: [1, 5, 1.0]\n", {"exp.yaml:4:22", "listed twice"}));
    EXPECT_TRUE(loadFails(head + "  losses.1.M: [1, -2]\n", {"sweep.losses.1.M.1", "> 0"}));
    EXPECT_TRUE(loadFails(head + "  model.hidden: [[8], [0]]\n", {"exp.yaml:4:23"}));
    EXPECT_TRUE(loadFails(head + "  losses.*.lr: [1, 2]\n  losses.1.lr: [3]\n", {"losses.*.lr and losses.1.lr"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce]\nsweep: {losses.*.k: [1, 2]}\n", {"has none"}));
    EXPECT_TRUE(loadFails(head + "  - losses.1.k\n", {"sweep: expected a mapping"}));
}

TEST(ExperimentSpecSweep, TwoSpellingsOfOneLossAxisAreRefused) {
    // "losses.01.k" is loss 1 as well: two axes on one value would double the grid with runs
    // that all train the last axis's value.
    const std::string head = "task: toy/mlp\nlosses: [ce, square]\nsweep:\n";
    EXPECT_TRUE(loadFails(head + "  losses.1.k: [1, 2]\n  losses.01.k: [3]\n",
                          {"exp.yaml:5:3", "losses.1.k and losses.01.k both sweep k of the same loss"}));
    EXPECT_TRUE(loadFails(head + "  losses.001.lr: [1, 2]\n  losses.1.lr: [3]\n", {"losses.001.lr and losses.1.lr"}));
    EXPECT_EQ(load(head + "  losses.1.k: [1, 2]\n  losses.1.M: [3]\n").gridPointCount(), 2u);
}

TEST(ExperimentSpecErrors, TextThatIsNotUtf8NamesTheLineAndByte) {
    // A Latin-1 name would be stored as is and break every report and export that reads it.
    EXPECT_TRUE(loadFails("task: toy/mlp\nname: caf\xE9\nlosses: [ce]\n",
                          {"exp.yaml:2:10", "invalid UTF-8", "byte 0xE9", "expected UTF-8"}));
    EXPECT_TRUE(loadFails("\xFF\xFEt\0a\0s\0k\0", {"exp.yaml", "UTF-16", "save it as UTF-8"}));
    const char withNul[] = "task: toy/mlp\nlosses: [ce]\ndescription: a\0b\n";
    EXPECT_TRUE(loadFails(std::string(withNul, sizeof withNul - 1), {"exp.yaml:3:15", "NUL byte"}));
    EXPECT_TRUE(loadFails(kMinimal, {"--set name", "invalid UTF-8", "byte 0xE9"}, {"name=caf\xE9"}));
    // A UTF-8 byte order mark and UTF-8 text are fine.
    EXPECT_EQ(load("\xEF\xBB\xBFtask: toy/mlp\nname: caf\xC3\xA9\nlosses: [ce]\n").name, "caf\xC3\xA9");
}

TEST(ExperimentSpecLosses, NamesThatLookBlankOrAlikeAreRefused) {
    // "ce " next to "ce" would be two losses that read the same in every table; a line break
    // in a name breaks the CSV and Markdown rows it is printed in.
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce, {loss: square, name: \"ce \"}]\n",
                          {"exp.yaml:2:35", "losses.1.name", "space at its start or end"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce, {loss: square, name: \" \"}]\n",
                          {"exp.yaml:2:35", "losses.1.name: expected a non-empty string"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: ce, name: \"a\\tb\"}]\n",
                          {"exp.yaml:2:27", "losses.0.name", "control character (0x09)"}));
    EXPECT_TRUE(loadFails("name: \"   \"\n" + kMinimal, {"exp.yaml:1:7", "name: expected a non-empty string"}));
    EXPECT_TRUE(loadFails("name: \"a\\nb\"\n" + kMinimal, {"exp.yaml:1:7", "name", "control character (0x0A)"}));
    EXPECT_TRUE(loadFails(kMinimal, {"--set name=\"x \"", "space at its start or end"}, {"name=\"x \""}));
    EXPECT_EQ(load("name: \"my run, caf\xC3\xA9\"\n" + kMinimal).name, "my run, caf\xC3\xA9");
}

TEST(ExperimentSpecLosses, ANumberGivenAsAListOrNothingSaysWhatWasWritten) {
    // The message used to quote "(not a number)", as if the file had said that.
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: square, k: [2]}]\n",
                          {"exp.yaml:2:28", "losses.0.k: expected a number > 0, got a list"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [{loss: square, M: {a: 1}}]\n", {"losses.0.M: expected a number > 0, got a mapping"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses:\n  - loss: ce\n    lr:\n", {"exp.yaml:", "losses.0.lr: expected a number > 0, got no value"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce, square]\nsweep: {losses.1.k: [[1]]}\n",
                          {"sweep.losses.1.k.0: expected a number > 0, got a list"}));
}

TEST(ExperimentSpecErrors, YamlMergeKeysAreNamedAsUnsupported) {
    // yaml-cpp reads "<<" as an ordinary key, so the merged keys would not apply.
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [ce]\ntrain:\n  <<: {patience: 2}\n  lr: 0.2\n",
                          {"exp.yaml:4:3", "'<<'", "merge key", "not supported", "write the keys out"}));
    EXPECT_TRUE(loadFails("task: toy/mlp\nlosses: [&sq {loss: square, k: 2}, {<<: *sq, name: b}]\n",
                          {"exp.yaml:2:37", "merge key"}));
}

TEST(ExperimentSpecOverride, DeviceShortcutIsTakenAsWrittenAndNamedInErrors) {
    // `--device cuda:` was read as YAML (a mapping {cuda: null}) and said "device: expected a
    // string"; `--device=` (an empty variable in a script) was YAML null and meant auto.
    auto loadWithDevice = [](const std::string& value) {
        SpecOverride o{"device", value};
        o.literal = true;
        o.option = "--device";
        return losslab::loadExperimentText(kMinimal, "exp.yaml", {o}, registry());
    };
    EXPECT_TRUE(throwsErrorWith([&] { loadWithDevice("cuda:"); },
                                {"--device cuda:: device: expected auto, cpu, cuda or cuda:N, got 'cuda:'"}));
    EXPECT_TRUE(throwsErrorWith([&] { loadWithDevice(""); }, {"--device : device:", "got ''"}));
    EXPECT_TRUE(throwsErrorWith([&] { loadWithDevice("[cpu]"); }, {"got '[cpu]'"}));
    EXPECT_EQ(loadWithDevice("cuda:1").device, "cuda:1");
    EXPECT_TRUE(loadFails(kMinimal, {"--set device=cuda:x", "'cuda:x'"}, {"device=cuda:x"})); // --set keeps its form
}

TEST(ExperimentSpecLosses, GeneratedNamesCarryEveryDigitOfKAndM) {
    // Six significant digits named k = 15.0000001 "square_k15_M1": a clash with k = 15 that
    // the file does not have, and k = 1.0000001 a name that says k = 1.
    const ExperimentSpec spec = load("task: toy/mlp\nlosses: [{loss: square, k: 15.0000001}, {loss: square, k: 15}, "
                                     "{loss: square, M: 1.0000001}, {loss: square, k: 0.5}]\n");
    EXPECT_EQ(lossNames(spec), (std::vector<std::string>{"square_k15.0000001_M1", "square_k15_M1", "square_k1_M1.0000001",
                                                         "square_k0.5_M1"}));
}
