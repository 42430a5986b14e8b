// End to end on real data: the vision plugin loaded as a shared library, Fashion-MNIST from
// Debian's dataset-fashion-mnist (installed by the set-up scripts), both losses trained on a
// subset on the CPU. Both must reach well above chance (10 %).
#include <gtest/gtest.h>

#include <filesystem>

#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task_registry.h"

namespace fs = std::filesystem;
using namespace losslab;

TEST(EndToEnd, FashionMnistSubsetBothLossesLearnOnCpu) {
    TaskRegistry registry;
    const PluginLoadReport report = loadPlugins(registry, {LOSSLAB_PLUGIN_BUILD_DIR});
    ASSERT_TRUE(report.warnings.empty()) << report.warnings.front();
    ASSERT_NE(registry.findInfo("fashion_mnist/mlp"), nullptr);

    const fs::path dir = fs::temp_directory_path() / ("losslab-e2e-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    const ExperimentSpec spec = loadExperimentText(R"(
name: e2e
task: fashion_mnist/mlp
device: cpu
losses:
  - loss: ce
    lr: 0.05
  - loss: square
    lr: 0.2
protocols: [early_stopping, same_epochs_as_ce]
seeds: [7]
data: {limit_train: 3000, limit_test: 2000}
train: {max_epochs: 4, patience: 2}
model: {hidden: [128]}
)", "e2e.yaml", {}, registry);
    {
        RunStore store((dir / "runs.sqlite").string());
        RunQueue queue(store, registry);
        queue.start(spec);
        const RunQueueResult result = queue.wait();
        EXPECT_EQ(result.completed, 3);
        for (const auto& r : store.runs()) {
            EXPECT_EQ(r.status, RunStatus::Completed) << r.error;
            EXPECT_GT(r.testAcc, 0.6) << r.lossName << " " << r.protocol;
            EXPECT_GT(r.valAcc, 0.6) << r.lossName << " " << r.protocol;
            // Every epoch has the full metric set on every split.
            const auto rows = store.epochMetrics({r.id});
            int testTop5 = 0, valEce = 0, trainBrier = 0;
            for (const auto& row : rows) {
                testTop5 += row.value.split == "test" && row.value.metric == "top5";
                valEce += row.value.split == "val" && row.value.metric == "ece";
                trainBrier += row.value.split == "train" && row.value.metric == "brier";
            }
            EXPECT_EQ(testTop5, r.epochs);
            EXPECT_EQ(valEce, r.epochs);
            EXPECT_EQ(trainBrier, r.epochs);
        }
    }
    fs::remove_all(dir);
}
