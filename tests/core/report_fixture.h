#pragma once
// A small fixed database for analysis and report tests: two tasks, three protocols, five
// seeds, values chosen by formula so that every number in the golden files can be checked
// by hand (tests/data/report/README.md).
#include <cmath>
#include <string>
#include <vector>

#include "losslab/store/run_store.h"

namespace losslab::fixtures {

// Accuracy of a run at its reported epoch (epoch 3), by task, loss and protocol.
inline double fixtureAccuracy(const std::string& task, const std::string& loss, const std::string& protocol, int seed) {
    // Square loss better than CE on task a by 0.01 + 0.002 * seed; worse on task b by 0.005.
    const double base = task == "toy/a" ? 0.80 : 0.90;
    if (loss == "ce") return base + 0.004 * seed;
    if (task == "toy/a") return base + 0.004 * seed + 0.01 + 0.002 * seed - (protocol == "same_epochs_as_ce" ? 0.005 : 0.0);
    return base + 0.004 * seed - 0.005 + (seed == 2 ? 0.001 : 0.0);
}

// Fills `store` with experiment "fixture": tasks toy/a (10 classes: acc, top5) and toy/b
// (2 classes: acc, f1); losses ce (lr 0.1) and square (lr 0.2); protocols early_stopping
// and same_epochs_as_ce; seeds 0-4; three epochs each, reported epoch 3. Seed 4 of the
// square early-stopping run on toy/b diverged (no result). Every run trained on the CPU with 2
// threads of "LibTorch 2.6.0". Returns the experiment id.
inline std::int64_t buildReportFixture(RunStore& store) {
    ExperimentRecord e;
    e.name = "fixture";
    e.taskId = "toy/a";
    const std::int64_t id = store.addExperiment(e);
    std::vector<RunRecord> runs;
    struct Plan { std::string task, loss, protocol; };
    const std::vector<Plan> plans = {{"toy/a", "ce", "early_stopping"}, {"toy/a", "square", "early_stopping"},
                                     {"toy/a", "square", "same_epochs_as_ce"}, {"toy/b", "ce", "early_stopping"},
                                     {"toy/b", "square", "early_stopping"}, {"toy/b", "square", "same_epochs_as_ce"}};
    for (const auto& p : plans)
        for (int seed = 0; seed < 5; ++seed) {
            RunRecord r;
            r.taskId = p.task;
            r.lossName = p.loss;
            r.loss = p.loss;
            r.lr = p.loss == "ce" ? 0.1 : 0.2;
            r.protocol = p.protocol;
            r.seed = seed;
            runs.push_back(r);
        }
    const std::vector<std::int64_t> ids = store.addRuns(id, runs);
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const RunRecord& r = runs[i];
        const bool diverged = r.taskId == "toy/b" && r.loss == "square" && r.protocol == "early_stopping" && r.seed == 4;
        const double acc = fixtureAccuracy(r.taskId, r.loss, r.protocol, static_cast<int>(r.seed));
        store.markStarted(ids[i], "cpu", 0, "LibTorch 2.6.0", 2);
        for (int epoch = 1; epoch <= 3; ++epoch) {
            const double a = diverged && epoch == 3 ? std::nan("") : acc - 0.05 * (3 - epoch);
            std::vector<MetricValue> m = {{"train", "loss", 1.0 / epoch}, {"val", "acc", a + 0.01}, {"test", "acc", a},
                                          {"test", "error", 1.0 - a}, {"test", "loss", 0.5 / epoch}};
            if (r.taskId == "toy/a") m.push_back({"test", "top5", std::min(1.0, a + 0.1)});
            else m.push_back({"test", "f1", a - 0.02});
            store.appendEpoch(ids[i], epoch, m);
        }
        store.finishRun(ids[i], diverged ? RunStatus::Diverged : RunStatus::Completed, 3, diverged ? 2 : 3, 1.5,
                        diverged ? "loss became NaN or infinite in epoch 3" : "");
    }
    store.flush();
    return id;
}

} // namespace losslab::fixtures
