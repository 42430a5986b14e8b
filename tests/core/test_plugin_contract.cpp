// A task plugin that breaks the task contract of docs/writing-a-task-plugin.md gets an Error that
// names its task and says what was expected: before anything is stored where the core can check
// it (the data, the factories), or as the run's stored error (the model's scores). Never a crash,
// and never a run that trains on what the contract does not allow.
#include <gtest/gtest.h>

#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "losslab/error.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/task_registry.h"
#include "scratch_dir.h"
#include "toy_task.h"

using namespace losslab;

namespace {

enum class Fault {
    LabelTooHigh, NegativeTestLabel, FloatLabels, FeaturesNotOnTheCpu, FewerLabelsThanFeatures, EmptyTestSplit, NanFeature,
    LoadThrowsStd, LoadThrowsInt, NullModel, ModelThrowsStd, ModelThrowsInt,
    WiderScores, ScoresOfTheWholeBatch, NullTransform, ForwardThrowsInt
};

// A model whose forward pass breaks the contract: scores for 6 classes of a 4-class task, one
// row of scores for the whole batch, or an exception that is not a std::exception.
class FaultyModel : public fixtures::ToyModel {
public:
    FaultyModel(Fault fault, at::Generator& init)
        : ToyModel(16, fault == Fault::WiderScores ? 6 : 4, 0.0, init), m_fault(fault) {}
    torch::Tensor forward(const ModelInput& in) override {
        if (m_fault == Fault::ForwardThrowsInt) throw 42;
        const torch::Tensor out = ToyModel::forward(in);
        return m_fault == Fault::ScoresOfTheWholeBatch ? out.mean(0, true) : out;
    }

private:
    Fault m_fault;
};

// The toy task (4 classes, blobs in 8 dimensions) with one fault.
class FaultyTask : public fixtures::ToyTask {
public:
    FaultyTask(Fault fault, const std::string& id) : ToyTask(options(id)), m_fault(fault) {}

    DataBundle loadData(const ParamSet& params) const override {
        if (m_fault == Fault::LoadThrowsStd) throw std::runtime_error("the loader's own exception");
        if (m_fault == Fault::LoadThrowsInt) throw 7;
        DataBundle b = ToyTask::loadData(params);
        if (m_fault == Fault::LabelTooHigh) b.train.labels[5] = 4;
        if (m_fault == Fault::NegativeTestLabel) b.test.labels[3] = -1;
        // The meta device stands in for a GPU here: a tensor that is not on the CPU.
        if (m_fault == Fault::FeaturesNotOnTheCpu) b.train.features = b.train.features.to(torch::kMeta);
        if (m_fault == Fault::FloatLabels) b.train.labels = b.train.labels.to(torch::kFloat) + 0.6;
        if (m_fault == Fault::FewerLabelsThanFeatures) b.train.labels = b.train.labels.slice(0, 0, 500);
        if (m_fault == Fault::EmptyTestSplit) b.test = b.test.index(torch::arange(0, torch::kLong));
        if (m_fault == Fault::NanFeature) b.train.features[10][2] = std::numeric_limits<float>::quiet_NaN();
        return b;
    }
    std::unique_ptr<InputTransform> makeTransform(const ParamSet& params, const torch::Device& device) const override {
        if (m_fault == Fault::NullTransform) return nullptr;
        return ToyTask::makeTransform(params, device);
    }
    std::shared_ptr<ClassifierModule> makeModel(const ParamSet& params, at::Generator& init) const override {
        if (m_fault == Fault::NullModel) return nullptr;
        if (m_fault == Fault::ModelThrowsStd) throw std::runtime_error("the factory's own exception");
        if (m_fault == Fault::ModelThrowsInt) throw 9;
        if (m_fault == Fault::WiderScores || m_fault == Fault::ScoresOfTheWholeBatch || m_fault == Fault::ForwardThrowsInt)
            return std::make_shared<FaultyModel>(m_fault, init);
        return ToyTask::makeModel(params, init);
    }

private:
    static fixtures::ToyTaskOptions options(const std::string& id) {
        fixtures::ToyTaskOptions o;
        o.id = id;
        return o;
    }
    Fault m_fault;
};

struct Case {
    const char* name;
    Fault fault;
    std::vector<std::string> said; // pieces the message must hold
    // ... beside "task '<id>' (plugin '<name>')" (refused before storing), "task '<id>'" (the
    // run's error: the run names the task), or neither (an exception of the plugin's own)
    bool namesTask = true;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class PluginContract : public ::testing::TestWithParam<Case> {
protected:
    // A 1-epoch, 1-seed experiment of the faulty task, registered by the plugin "faulty".
    // A task id of its own for each case: the core caches loaded data by task id.
    void SetUp() override {
        m_id = std::string("faulty/") + GetParam().name;
        m_registry.setCurrentPlugin("faulty");
        m_registry.add(std::make_shared<FaultyTask>(GetParam().fault, m_id));
        m_registry.setCurrentPlugin("");
    }
    ExperimentSpec experiment() {
        return loadExperimentText("name: faulty\ntask: " + m_id + "\ndevice: cpu\nlosses: [ce, square]\n"
                                  "protocols: [early_stopping]\nseeds: 1\ntrain: {max_epochs: 1}\n",
                                  "faulty.yaml", {}, m_registry);
    }
    std::string dbPath() const { return (m_scratch.path() / "runs.sqlite").string(); }

    fixtures::ScratchDir m_scratch{"losslab-contract"};
    TaskRegistry m_registry;
    std::string m_id;
};

void expectSays(const std::string& message, const Case& c, const std::string& task) {
    if (c.namesTask) {
        EXPECT_NE(message.find(task), std::string::npos) << "'" << task << "' in: " << message;
    }
    for (const auto& piece : c.said) EXPECT_NE(message.find(piece), std::string::npos) << "'" << piece << "' in: " << message;
}

class RefusedBeforeStoring : public PluginContract {};
class FailsTheRun : public PluginContract {};

} // namespace

TEST_P(RefusedBeforeStoring, WithAnErrorNamingTheTaskAndWhatWasExpected) {
    RunStore store(dbPath());
    RunQueue queue(store, m_registry);
    try {
        queue.start(experiment());
        queue.wait();
        FAIL() << "expected an Error before anything was stored; " << store.runs().size() << " run(s) stored";
    } catch (const Error& e) {
        expectSays(e.what(), GetParam(), "task '" + m_id + "' (plugin 'faulty'): ");
    }
    EXPECT_TRUE(store.experiments().empty());
    EXPECT_TRUE(store.runs().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Plugins, RefusedBeforeStoring,
    ::testing::Values(
        Case{"LabelTooHigh", Fault::LabelTooHigh, {"training split", "label 4", "[0, 4)"}},
        Case{"NegativeTestLabel", Fault::NegativeTestLabel, {"test split", "label -1", "[0, 4)"}},
        // Before: taken, and moved to the run's device with the rest (reading them in the
        // transform of a featuresOnHost task would wait for the device).
        Case{"FeaturesNotOnTheCpu", Fault::FeaturesNotOnTheCpu, {"training split's features are on meta", "expected CPU tensors"}},
        // Before: taken, and every label 2.6 trained as class 2.
        Case{"FloatLabels", Fault::FloatLabels, {"training split", "labels are Float", "int64"}},
        // Before: trained on the first 500 feature rows only.
        Case{"FewerLabelsThanFeatures", Fault::FewerLabelsThanFeatures, {"training split", "600 rows of features", "500 labels"}},
        Case{"EmptyTestSplit", Fault::EmptyTestSplit, {"test split is empty"}},
        // Before: every run "diverged", as if the loss had.
        Case{"NanFeature", Fault::NanFeature, {"training split", "NaN or infinite", "row 10"}},
        // Before: "internal error" without the task, or (an int) the process ended.
        Case{"LoadThrowsStd", Fault::LoadThrowsStd, {"loading its data", "the loader's own exception"}},
        Case{"LoadThrowsInt", Fault::LoadThrowsInt, {"loading its data", "not a std::exception"}},
        // Before: taken, and the first run dereferenced the null model (a crash).
        Case{"NullModel", Fault::NullModel, {"makeModel returned no model"}},
        Case{"ModelThrowsStd", Fault::ModelThrowsStd, {"building its model", "the factory's own exception"}},
        Case{"ModelThrowsInt", Fault::ModelThrowsInt, {"building its model", "not a std::exception"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST_P(FailsTheRun, WithAStoredErrorNamingTheTaskAndWhatWasExpected) {
    RunStore store(dbPath());
    RunQueue queue(store, m_registry);
    queue.start(experiment());
    const RunQueueResult result = queue.wait();
    EXPECT_EQ(result.failed, 2);
    ASSERT_EQ(store.runs().size(), 2u);
    for (const auto& r : store.runs()) {
        EXPECT_EQ(r.status, RunStatus::Failed);
        expectSays(r.error, GetParam(), "task '" + m_id + "': ");
    }
}

INSTANTIATE_TEST_SUITE_P(
    Plugins, FailsTheRun,
    ::testing::Values(
        // Before: cross-entropy trained on 6 scores of a 4-class task and completed.
        Case{"WiderScores", Fault::WiderScores, {"scores of shape [32, 6]", "[32, 4]", "4 classes"}},
        Case{"ScoresOfTheWholeBatch", Fault::ScoresOfTheWholeBatch, {"scores of shape [1, 4]", "[32, 4]"}},
        // Before: the first run dereferenced the null transform (a crash).
        Case{"NullTransform", Fault::NullTransform, {"makeTransform returned no transform"}},
        // Before: the exception left the worker thread and ended the process.
        Case{"ForwardThrowsInt", Fault::ForwardThrowsInt, {"not a std::exception"}, false}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });
