// RunQueue end to end on the synthetic task: dependency order, determinism, divergence,
// cancellation, and input errors that must leave the database untouched.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <utility>

#include "losslab/analysis/reliability.h"
#include "losslab/error.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/spec/file_digest.h"
#include "losslab/spec/run_recipe.h"
#include "losslab/store/run_store.h"
#include "losslab/training/compute_setup.h"
#include "losslab/tasks/task_registry.h"
#include "error_matchers.h"
#include "toy_task.h"
#include "scratch_dir.h"

namespace fs = std::filesystem;
using namespace losslab;

namespace {

class RunnerTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_registry.add(std::make_shared<fixtures::ToyTask>());
        fixtures::ToyTaskOptions missing;
        missing.id = "toy/missing";
        missing.missingData = true;
        m_registry.add(std::make_shared<fixtures::ToyTask>(missing));
        fixtures::ToyTaskOptions files;
        files.id = "toy/files";
        files.pathKey = true;
        m_registry.add(std::make_shared<fixtures::ToyTask>(files));
    }
    ExperimentSpec spec(const std::string& yaml, const std::vector<SpecOverride>& overrides = {}) {
        return loadExperimentText(yaml, "test.yaml", overrides, m_registry);
    }
    std::string dbPath() const { return (m_dir / "runs.sqlite").string(); }
    // Runs `experiment` and stops every run as closing the window does, at the first end of
    // epoch `epoch`; the queue's result, with the run ids.
    RunQueueResult interruptedAtEpoch(RunStore& store, const ExperimentSpec& experiment, int epoch) {
        RunQueue queue(store, m_registry);
        queue.addObserver([&queue, epoch](const RunEvent& e) {
            if (e.kind == RunEvent::Kind::Epoch && e.epoch == epoch) queue.interruptAll();
        });
        queue.start(experiment);
        return queue.wait();
    }

    fixtures::ScratchDir m_scratch{"losslab-runner"};
    const fs::path& m_dir = m_scratch.path();
    TaskRegistry m_registry;
};

const char* kPaired = R"(
name: paired
task: toy/blobs
device: cpu
losses:
  - loss: ce
  - loss: square
    lr: 0.1
protocols: [early_stopping, same_epochs_as_ce]
seeds: [3, 4]
train:
  max_epochs: 8
  patience: 2
)";

struct Recorder {
    std::mutex mutex;
    std::vector<RunEvent> events;
    void operator()(const RunEvent& e) {
        std::lock_guard<std::mutex> lock(mutex);
        events.push_back(e);
    }
};

} // namespace

TEST_F(RunnerTest, SameEpochsRunWaitsForItsCeRunAndTrainsItsEpochCount) {
    RunStore store(dbPath());
    RunQueue queue(store, m_registry);
    auto recorder = std::make_shared<Recorder>();
    queue.addObserver([recorder](const RunEvent& e) { (*recorder)(e); });
    // Trained, not copied from the square early-stopping run (test_seeded_runs.cpp covers that).
    queue.start(spec(kPaired, {{"runner.reuse_prefix", "off"}}));
    const RunQueueResult result = queue.wait();
    ASSERT_EQ(result.runIds.size(), 6u); // 2 seeds x (ce ES, square ES, square same-epochs)
    EXPECT_EQ(result.completed, 6);

    const auto runs = store.runs();
    std::map<std::int64_t, RunRecord> byId;
    for (const auto& r : runs) byId[r.id] = r;
    // Each run keeps what trained it (the same seed gives other numbers under another LibTorch).
    for (const auto& r : runs) {
        EXPECT_EQ(r.library, trainingLibrary()) << r.id;
        EXPECT_EQ(r.library.rfind("LibTorch ", 0), 0u) << r.library;
    }
    int dependents = 0;
    for (const auto& r : runs) {
        if (r.protocol != "same_epochs_as_ce") continue;
        ++dependents;
        ASSERT_TRUE(r.dependsOn.has_value());
        const RunRecord& ce = byId.at(*r.dependsOn);
        EXPECT_EQ(ce.loss, "ce");
        EXPECT_EQ(ce.protocol, "early_stopping");
        EXPECT_EQ(ce.seed, r.seed);
        EXPECT_EQ(r.epochs, ce.bestEpoch) << "square trains exactly the epochs CE chose";
        EXPECT_EQ(r.bestEpoch, r.epochs);
        EXPECT_EQ(r.targetEpochs, ce.bestEpoch);
        // The dependent run started only after its CE run finished.
        std::size_t ceFinished = 0, started = 0;
        for (std::size_t i = 0; i < recorder->events.size(); ++i) {
            const auto& e = recorder->events[i];
            if (e.runId == ce.id && e.kind == RunEvent::Kind::Finished) ceFinished = i;
            if (e.runId == r.id && e.kind == RunEvent::Kind::Started) started = i;
        }
        EXPECT_LT(ceFinished, started);
    }
    EXPECT_EQ(dependents, 2);
    for (const auto& r : runs) {
        EXPECT_GT(r.testAcc, 0.5) << "run " << r.id << " (" << r.loss << ") should learn the blobs";
        EXPECT_FALSE(r.checkpointPath.empty());
        EXPECT_TRUE(fs::exists(r.checkpointPath));
    }
}

// Each run stores the intra-op thread count it computed with: runner.threads when set, else
// its default for the CPU runs training at once (a seed's CPU numbers can depend on it).
TEST_F(RunnerTest, EachRunStoresTheThreadCountItTrainedWith) {
    RunStore store(dbPath());
    for (const auto& [threads, expected] : {std::make_pair(std::string("3"), 3),
                                            std::make_pair(std::string("0"), defaultRunThreads(2))}) {
        RunQueue queue(store, m_registry);
        queue.start(spec(kPaired, {{"runner.threads", threads}, {"runner.cpu_runs", "2"}, {"seeds", "[3]"}}));
        const RunQueueResult result = queue.wait();
        ASSERT_EQ(result.completed, 3) << "runner.threads " << threads;
        RunFilter these;
        these.runIds = result.runIds;
        for (const auto& r : store.runs(these)) EXPECT_EQ(r.threads, expected) << "runner.threads " << threads;
    }
}

// Each split evaluated in an epoch stores the ECE bins its ece came from (with
// train.train_metrics full, running and at_report), and no other epoch or split has bins.
TEST_F(RunnerTest, EveryEvaluatedSplitStoresTheEceBinsBehindItsEce) {
    RunStore store(dbPath());
    for (const std::string mode : {"full", "running", "at_report"}) {
        SCOPED_TRACE("train.train_metrics " + mode);
        RunQueue queue(store, m_registry);
        queue.start(spec(kPaired, {{"seeds", "[3]"}, {"train.train_metrics", mode}, {"data.val_fraction", "0.2"}}));
        const RunQueueResult result = queue.wait();
        ASSERT_EQ(result.completed, 3);
        for (const std::int64_t id : result.runIds) {
            std::map<std::string, double> reported;
            std::set<std::pair<int, std::string>> withEce;
            const RunRecord run = store.runs(RunFilter{{}, {id}, {}, {}}).at(0);
            for (const auto& row : store.epochMetrics({id})) {
                if (row.value.metric == "ece") withEce.insert({row.epoch, row.value.split});
                if (row.epoch == run.bestEpoch) reported[row.value.split + "/" + row.value.metric] = row.value.value;
            }
            for (const std::string split : {"train", "val", "test"}) {
                const auto bins = store.reportedCalibration({id}, split);
                ASSERT_EQ(bins.size(), reported.count(split + "/ece")) << split;
                if (bins.empty()) continue;
                EXPECT_EQ(bins[0].epoch, run.bestEpoch);
                EXPECT_NEAR(eceOf(bins[0].bins), reported.at(split + "/ece"), 1e-12) << split;
                double correct = 0;
                for (const double c : bins[0].bins.correct) correct += c;
                EXPECT_NEAR(correct / bins[0].bins.total(), reported.at(split + "/acc"), 1e-12) << split;
            }
            sqlite3* db = nullptr;
            ASSERT_EQ(sqlite3_open_v2(dbPath().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
            sqlite3_stmt* select = nullptr;
            ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT DISTINCT epoch, split FROM calibration_bins WHERE run_id = ?", -1, &select,
                                         nullptr),
                      SQLITE_OK);
            sqlite3_bind_int64(select, 1, id);
            std::set<std::pair<int, std::string>> withBins;
            while (sqlite3_step(select) == SQLITE_ROW)
                withBins.insert({sqlite3_column_int(select, 0), reinterpret_cast<const char*>(sqlite3_column_text(select, 1))});
            sqlite3_finalize(select);
            sqlite3_close(db);
            EXPECT_EQ(withBins, withEce) << "run " << id;
        }
    }
}

TEST_F(RunnerTest, SameSpecAndSeedGiveIdenticalMetricsOnCpu) {
    RunStore store(dbPath());
    std::vector<std::int64_t> first, second;
    for (auto* ids : {&first, &second}) {
        RunQueue queue(store, m_registry);
        queue.start(spec(kPaired));
        *ids = queue.wait().runIds;
    }
    ASSERT_EQ(first.size(), second.size());
    auto metricsOf = [&](std::int64_t id) {
        std::map<std::string, double> out;
        for (const auto& row : store.epochMetrics({id}))
            if (row.value.metric != "wall_s" && row.value.metric != "examples_per_s")
                out[std::to_string(row.epoch) + "/" + row.value.split + "/" + row.value.metric] = row.value.value;
        return out;
    };
    for (std::size_t i = 0; i < first.size(); ++i) {
        const auto a = metricsOf(first[i]);
        const auto b = metricsOf(second[i]);
        ASSERT_FALSE(a.empty());
        EXPECT_EQ(a, b) << "run " << first[i] << " vs " << second[i];
    }
    // And a different seed is a different run.
    EXPECT_NE(metricsOf(first[0]), metricsOf(first[3]));
}

TEST_F(RunnerTest, NanLossEndsTheRunAsDivergedAndKeepsItsCurve) {
    RunStore store(dbPath());
    RunQueue queue(store, m_registry);
    queue.start(spec(kPaired, {{"losses.1.lr", "1e30"}, {"seeds", "1"}, {"protocols", "[early_stopping]"}}));
    const RunQueueResult result = queue.wait();
    EXPECT_EQ(result.completed, 1); // CE goes on
    EXPECT_EQ(result.diverged, 1);
    for (const auto& r : store.runs()) {
        if (r.loss != "square") continue;
        EXPECT_EQ(r.status, RunStatus::Diverged);
        EXPECT_NE(r.error.find("not finite"), std::string::npos) << r.error;
        EXPECT_FALSE(store.stepMetrics(r.id).empty()) << "the curve up to the divergence is kept";
    }
}

TEST_F(RunnerTest, CancelStopsRunsAndStoresCancelled) {
    RunStore store(dbPath());
    RunQueue queue(store, m_registry);
    queue.addObserver([&queue](const RunEvent& e) {
        if (e.kind == RunEvent::Kind::Epoch && e.epoch == 1) queue.cancelAll();
    });
    queue.start(spec(kPaired, {{"train.patience", "50"}, {"train.max_epochs", "50"}}));
    const RunQueueResult result = queue.wait();
    EXPECT_EQ(result.cancelled, 6);
    for (const auto& r : store.runs()) {
        EXPECT_EQ(r.status, RunStatus::Cancelled);
        EXPECT_LE(r.epochs, 1);
    }
}

// Closing the window: the runs stop as with cancelAll() but are stored `interrupted`, with
// their finished epochs, and resume() takes them up.
TEST_F(RunnerTest, InterruptAllStoresInterruptedRunsThatResumeContinues) {
    RunStore store(dbPath());
    const RunQueueResult result = interruptedAtEpoch(store, spec(kPaired, {{"train.patience", "50"}, {"train.max_epochs", "3"}}), 1);
    EXPECT_EQ(result.cancelled, 6);
    EXPECT_EQ(result.failed, 0);
    const std::vector<std::int64_t> ids = result.runIds;
    ASSERT_EQ(ids.size(), 6u);
    for (const auto& r : store.runs()) {
        EXPECT_EQ(r.status, RunStatus::Interrupted) << r.id;
        EXPECT_NE(r.error.find("program closed"), std::string::npos) << r.error;
    }
    RunQueue again(store, m_registry);
    again.resume(ids);
    EXPECT_EQ(again.wait().completed, 6);
    const std::vector<RunRecord> records = store.runs();
    for (const auto& r : records) {
        EXPECT_EQ(r.status, RunStatus::Completed) << r.id << " " << r.error;
        // runner.reuse_prefix holds on resume too: the square same-epochs run of each seed
        // copies the early-stopping run resumed beside it.
        if (r.loss != "square" || r.protocol != "same_epochs_as_ce") continue;
        const auto sibling = std::find_if(records.begin(), records.end(), [&](const RunRecord& o) {
            return o.loss == "square" && o.protocol == "early_stopping" && o.seed == r.seed;
        });
        ASSERT_NE(sibling, records.end());
        EXPECT_EQ(r.reusedFrom, sibling->uid) << r.id;
    }
}

// A path key naming a file (a vocabulary, a model file) stores the file's digest with the run,
// in its recipe: the report never pools runs that read different bytes under one name.
TEST_F(RunnerTest, ARunStoresTheDigestOfTheFilesItReadsInItsRecipe) {
    RunStore store(dbPath());
    const std::string labels = (m_dir / "labels.txt").string();
    std::ofstream(labels) << "one\ntwo\n";
    const char* yaml = "name: files\ntask: toy/files\ndevice: cpu\nlosses: [ce]\nprotocols: [early_stopping]\nseeds: [1]\n"
                       "train: {max_epochs: 1}\n";
    auto runOnce = [&] {
        RunQueue queue(store, m_registry);
        queue.start(spec(yaml, {{"data.labels_file", labels}, {"data.root", m_dir.string()}}));
        EXPECT_EQ(queue.wait().completed, 1);
        return store.runs().back();
    };
    const RunRecord first = runOnce();
    EXPECT_EQ(storedFileDigests(first.specYaml), (std::map<std::string, std::string>{{"data.labels_file", fileDigest(labels, "x")}}))
        << first.specYaml << " (data.root is a folder: no digest)";
    EXPECT_EQ(runRecipe(first.specYaml).count("files.data.labels_file"), 1u);
    EXPECT_EQ(runRecipe(runOnce().specYaml), runRecipe(first.specYaml)) << "the same file: the same recipe";
    std::ofstream(labels) << "one\nthree\n";
    EXPECT_NE(runRecipe(runOnce().specYaml), runRecipe(first.specYaml)) << "another file under the same name";
    const std::string digest = fileDigest(labels, "x");
    EXPECT_EQ(digest.rfind("fnv1a64:", 0), 0u) << digest;
    EXPECT_EQ(digest.substr(digest.size() - 3), ":10") << "its size in bytes ends it: " << digest;
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { fileDigest((m_dir / "gone.txt").string(), "data.labels_file"); },
                                          {"gone.txt (data.labels_file): cannot be read"}));
}

// Resuming a run whose file changed since it started would mix two files in one run: refused,
// naming the file, with the run left as it was; with the file back it resumes.
TEST_F(RunnerTest, AResumeRefusesARunWhoseFileChangedSinceItStarted) {
    RunStore store(dbPath());
    const std::string labels = (m_dir / "labels.txt").string();
    std::ofstream(labels) << "one\ntwo\n";
    const RunQueueResult result = interruptedAtEpoch(
        store, spec("name: files\ntask: toy/files\ndevice: cpu\nlosses: [ce]\nprotocols: [early_stopping]\nseeds: [1]\n"
                    "train: {max_epochs: 3, patience: 50}\n",
                    {{"data.labels_file", labels}}),
        1);
    ASSERT_EQ(result.runIds.size(), 1u);
    ASSERT_EQ(store.runs().front().status, RunStatus::Interrupted);
    std::ofstream(labels) << "one\nthree\n";
    {
        RunQueue queue(store, m_registry);
        EXPECT_TRUE(fixtures::throwsErrorWith([&] { queue.resume(result.runIds); },
                                              {"run #" + std::to_string(result.runIds.front()) + ": " + labels +
                                                   " (data.labels_file) has changed since the run started",
                                               "Put the file back"}));
    }
    EXPECT_EQ(store.runs().front().status, RunStatus::Interrupted);
    EXPECT_EQ(store.runs().front().epochs, 1);
    std::ofstream(labels) << "one\ntwo\n";
    RunQueue again(store, m_registry);
    again.resume(result.runIds);
    EXPECT_EQ(again.wait().completed, 1);
}

// A resumed run stopped before it goes on keeps what it stored (epochs, best epoch, time,
// metrics) and its resume checkpoint, so a later resume still continues it.
TEST_F(RunnerTest, AResumedRunCancelledBeforeItGoesOnKeepsItsProgress) {
    RunStore store(dbPath());
    const std::vector<std::int64_t> ids =
        interruptedAtEpoch(store, spec(kPaired, {{"train.patience", "50"}, {"train.max_epochs", "4"}}), 2).runIds;
    RunFilter these;
    these.runIds = ids;
    std::map<std::int64_t, RunRecord> before;
    std::map<std::int64_t, std::size_t> rows;
    for (const auto& r : store.runs(these)) {
        before[r.id] = r;
        rows[r.id] = store.epochMetrics({r.id}).size();
    }
    int partly = 0;
    for (const auto& [id, r] : before) {
        if (r.epochs == 0) continue;
        ++partly;
        EXPECT_TRUE(fs::exists(store.resumePathFor(id))) << id;
    }
    ASSERT_GT(partly, 0);
    {
        RunQueue queue(store, m_registry);
        queue.cancelAll();
        queue.resume(ids);
        EXPECT_EQ(queue.wait().cancelled, 6);
    }
    for (const auto& r : store.runs(these)) {
        const RunRecord& b = before.at(r.id);
        EXPECT_EQ(r.status, RunStatus::Cancelled) << r.id;
        EXPECT_EQ(r.epochs, b.epochs) << r.id;
        EXPECT_EQ(r.bestEpoch, b.bestEpoch) << r.id;
        EXPECT_DOUBLE_EQ(r.wallSeconds, b.wallSeconds) << r.id;
        EXPECT_EQ(r.error, b.epochs > 0 ? "cancelled before it went on" : "cancelled before it started") << r.id;
        EXPECT_EQ(store.epochMetrics({r.id}).size(), rows.at(r.id)) << r.id;
        if (b.epochs > 0) {
            EXPECT_TRUE(fs::exists(store.resumePathFor(r.id))) << r.id;
        }
    }
    RunQueue again(store, m_registry);
    again.resume(ids);
    EXPECT_EQ(again.wait().completed, 6);
}

// A same_epochs_as_ce run interrupted after it started keeps the epoch count it trained towards
// (stored when it started) when its cross-entropy run is deleted: resume finishes it. Before,
// deleting the CE run (which leaves depends_on NULL) made resume fail it ("its cross-entropy run
// did not complete") and store it with 0 epochs. One interrupted before it started has no count:
// it fails, saying why, and keeps its row as it was.
TEST_F(RunnerTest, ASameEpochsRunWhoseCrossEntropyRunIsDeletedResumesToTheEpochCountItStartedTowards) {
    const std::vector<SpecOverride> overrides = {{"seeds", "[3]"}, {"train.patience", "50"}, {"train.max_epochs", "8"},
                                                 {"runner.reuse_prefix", "off"}, {"runner.cpu_runs", "1"}};
    RunStore reference((m_dir / "reference.sqlite").string());
    {
        RunQueue queue(reference, m_registry);
        queue.start(spec(kPaired, overrides));
        ASSERT_EQ(queue.wait().completed, 3);
    }
    const auto sameEpochsRun = [](const RunStore& store) {
        for (const auto& r : store.runs())
            if (r.protocol == "same_epochs_as_ce") return r;
        throw std::runtime_error("no same_epochs_as_ce run");
    };
    const RunRecord uninterrupted = sameEpochsRun(reference);
    ASSERT_GT(uninterrupted.epochs, 1) << "the CE run's best epoch must leave an epoch to resume";

    // Interrupted at the end of its first epoch (`startedFirst`) or before it starts.
    for (const bool startedFirst : {true, false}) {
        SCOPED_TRACE(startedFirst ? "interrupted after it started" : "interrupted before it started");
        const fs::path db = m_dir / (startedFirst ? "started.sqlite" : "waiting.sqlite");
        RunStore store(db.string());
        std::mutex mutex;
        std::set<std::int64_t> sameEpochsRuns;
        RunQueue queue(store, m_registry);
        queue.addObserver([&](const RunEvent& e) {
            std::lock_guard<std::mutex> lock(mutex);
            if (e.kind == RunEvent::Kind::Started && e.label.find("same_epochs_as_ce") != std::string::npos)
                sameEpochsRuns.insert(e.runId);
            const bool stop = startedFirst ? e.kind == RunEvent::Kind::Epoch && e.epoch == 1 && sameEpochsRuns.count(e.runId)
                                           : e.kind == RunEvent::Kind::Epoch && e.epoch == 1; // the CE run's first epoch
            if (stop) queue.interruptAll();
        });
        queue.start(spec(kPaired, overrides));
        queue.wait();
        const RunRecord before = sameEpochsRun(store);
        ASSERT_EQ(before.status, RunStatus::Interrupted) << before.error;
        ASSERT_EQ(before.epochs, startedFirst ? 1 : 0);
        ASSERT_TRUE(before.dependsOn.has_value());
        store.deleteRuns({*before.dependsOn}); // the CE run
        ASSERT_FALSE(sameEpochsRun(store).dependsOn.has_value()) << "the database forgets the deleted run";

        RunQueue again(store, m_registry);
        again.resume({before.id});
        again.wait();
        const RunRecord after = sameEpochsRun(store);
        if (startedFirst) {
            EXPECT_EQ(after.status, RunStatus::Completed) << after.error;
            EXPECT_EQ(after.epochs, uninterrupted.epochs);
            EXPECT_EQ(after.targetEpochs, uninterrupted.targetEpochs);
            EXPECT_EQ(store.epochMetrics({after.id}).size(), reference.epochMetrics({uninterrupted.id}).size());
        } else {
            EXPECT_EQ(after.status, RunStatus::Failed);
            EXPECT_EQ(after.error, "its cross-entropy run is no longer stored (deleted before this run started), so there "
                                   "is no epoch count to match");
            EXPECT_EQ(after.epochs, 0);
        }
    }
}

// A run resumed with another thread count than its first epochs goes on, stores the new count
// and says that its numbers can differ from an uninterrupted run's; the same count says nothing.
TEST_F(RunnerTest, ResumingWithAnotherThreadCountIsSaid) {
    RunStore store(dbPath());
    const std::vector<SpecOverride> overrides = {{"seeds", "[3]"}, {"train.patience", "50"}, {"train.max_epochs", "3"},
                                                 {"runner.threads", "1"}};
    auto interruptedRuns = [&] { return interruptedAtEpoch(store, spec(kPaired, overrides), 1).runIds; };
    auto resumeWith = [&](const std::vector<std::int64_t>& ids, int threads, std::vector<std::string>& notes) {
        RunQueueOptions options;
        options.threadsPerRun = threads;
        RunQueue queue(store, m_registry, options);
        auto recorder = std::make_shared<Recorder>();
        queue.addObserver([recorder](const RunEvent& e) { (*recorder)(e); });
        queue.resume(ids);
        EXPECT_EQ(queue.wait().completed, 3);
        for (const auto& e : recorder->events)
            if (e.kind == RunEvent::Kind::Note && e.message.rfind("resumed", 0) == 0) notes.push_back(e.message);
    };
    const std::vector<std::int64_t> first = interruptedRuns();
    RunFilter these;
    these.runIds = first;
    int partlyTrained = 0;
    for (const auto& r : store.runs(these)) {
        EXPECT_EQ(r.status, RunStatus::Interrupted) << r.id;
        if (r.epochs > 0) ++partlyTrained;
    }
    ASSERT_GT(partlyTrained, 0);
    std::vector<std::string> notes;
    resumeWith(first, 2, notes);
    ASSERT_EQ(static_cast<int>(notes.size()), partlyTrained);
    for (const auto& note : notes)
        EXPECT_NE(note.find("1 CPU thread(s) before, 2 now): its numbers from here on can differ"), std::string::npos) << note;
    for (const auto& r : store.runs(these)) EXPECT_EQ(r.threads, 2) << r.id;

    std::vector<std::string> none;
    resumeWith(interruptedRuns(), 1, none);
    EXPECT_TRUE(none.empty()) << none.front();
}

TEST_F(RunnerTest, UnavailableCudaIsRefusedBeforeAnythingIsStored) {
    if (!resolveDeviceSlots("auto", {}).empty() && resolveDeviceSlots("auto", {})[0] != "cpu")
        GTEST_SKIP() << "this machine has CUDA";
    RunStore store(dbPath());
    RunQueue queue(store, m_registry);
    try {
        queue.start(spec(kPaired, {{"device", "cuda"}}));
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(store.experiments().empty());
    EXPECT_TRUE(store.runs().empty());
}

TEST_F(RunnerTest, MissingDataIsRefusedBeforeAnythingIsStored) {
    RunStore store(dbPath());
    RunQueue queue(store, m_registry);
    try {
        queue.start(spec(kPaired, {{"task", "toy/missing"}}));
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/blobs"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(store.experiments().empty());
}

TEST_F(RunnerTest, ACheckpointFolderThatCannotBeMadeIsRefusedBeforeAnythingIsStored) {
    RunStore store(dbPath());
    const fs::path blocker = m_dir / "runs-checkpoints";
    std::ofstream(blocker) << "not a folder";
    RunQueue queue(store, m_registry);
    try {
        queue.start(spec(kPaired));
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("checkpoint folder " + blocker.string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("a file of that name is in the way"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(store.experiments().empty());
    EXPECT_TRUE(store.runs().empty());
}

TEST_F(RunnerTest, CancelledMidEpochAndResumedEndsExactlyAsAnUninterruptedRun) {
    const std::vector<SpecOverride> overrides = {{"seeds", "[5]"}, {"train.patience", "50"}, {"train.max_epochs", "5"},
                                                 {"train.log_every_steps", "4"}};
    RunStore store(dbPath());
    std::vector<std::int64_t> reference, resumed;
    {
        RunQueue queue(store, m_registry);
        queue.start(spec(kPaired, overrides));
        reference = queue.wait().runIds;
    }
    {
        RunQueue queue(store, m_registry);
        // Cancel in the middle of epoch 3 of the first run: it keeps the checkpoint of
        // epoch 2; the runs after it are cancelled before they start.
        queue.addObserver([&queue](const RunEvent& e) {
            if (e.kind == RunEvent::Kind::Step && e.epoch == 3 && e.step % 17 != 0) queue.cancelAll();
        });
        queue.start(spec(kPaired, overrides));
        const RunQueueResult cut = queue.wait();
        resumed = cut.runIds;
        ASSERT_EQ(cut.cancelled, 3);
    }
    RunFilter first;
    first.runIds = {resumed[0]};
    ASSERT_EQ(store.runs(first).front().epochs, 2) << "epoch 3 was abandoned";
    {
        RunQueue queue(store, m_registry);
        queue.resume(resumed);
        const RunQueueResult result = queue.wait();
        EXPECT_EQ(result.completed, 3);
    }
    auto series = [&](std::int64_t id) {
        std::map<std::string, double> out;
        for (const auto& row : store.epochMetrics({id}))
            if (row.value.metric != "wall_s" && row.value.metric != "examples_per_s")
                out[std::to_string(row.epoch) + "/" + row.value.split + "/" + row.value.metric] = row.value.value;
        for (const auto& row : store.stepMetrics(id)) out["step " + std::to_string(row.step) + "/" + row.metric] = row.value;
        return out;
    };
    ASSERT_EQ(reference.size(), resumed.size());
    for (std::size_t i = 0; i < reference.size(); ++i) {
        EXPECT_EQ(series(reference[i]), series(resumed[i])) << "run " << resumed[i] << " vs " << reference[i];
        RunFilter one;
        one.runIds = {resumed[i]};
        const RunRecord r = store.runs(one).front();
        EXPECT_EQ(r.status, RunStatus::Completed);
        EXPECT_FALSE(fs::exists(r.checkpointPath.substr(0, r.checkpointPath.size() - 3) + ".resume.pt"))
            << "a finished run keeps only its reported weights";
    }
}

TEST_F(RunnerTest, ResumeRefusesRunsThatAreNotInterrupted) {
    RunStore store(dbPath());
    std::vector<std::int64_t> ids;
    {
        RunQueue queue(store, m_registry);
        queue.start(spec(kPaired, {{"seeds", "1"}, {"train.max_epochs", "1"}}));
        ids = queue.wait().runIds;
    }
    RunQueue queue(store, m_registry);
    try {
        queue.resume({ids[0]});
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("is completed; only interrupted or cancelled runs can be resumed"), std::string::npos) << e.what();
    }
    EXPECT_THROW(queue.resume({987654}), Error);
}

// Two processes resuming the same runs (two `resume --all`, or the CLI beside the window)
// would train them side by side over one checkpoint and rows. The runs a resume has taken but
// not started yet are stored queued by it, so a second resume, from another connection as
// another process would open, is refused for them.
TEST_F(RunnerTest, RunsTakenByAResumeAreRefusedToASecondResume) {
    std::vector<std::int64_t> ids;
    {
        RunStore store(dbPath());
        ids = interruptedAtEpoch(store, spec(kPaired, {{"train.patience", "50"}, {"train.max_epochs", "3"}}), 1).runIds;
    }
    ASSERT_EQ(ids.size(), 6u);
    RunStore store(dbPath());
    RunQueue first(store, m_registry);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::promise<void> startedPromise;
    std::atomic<bool> startedOnce{false};
    first.addObserver([&](const RunEvent& e) {
        if (e.kind != RunEvent::Kind::Started) return;
        if (!startedOnce.exchange(true)) startedPromise.set_value();
        released.wait(); // hold the first resume's workers: its other runs wait, queued
    });
    first.resume(ids);
    startedPromise.get_future().wait();
    // The last run is a same-epochs run that waits for its CE run: not started yet.
    RunStore other(dbPath());
    RunQueue second(other, m_registry);
    try {
        second.resume({ids.back()});
        FAIL() << "a run another resume has taken was resumed again";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("run #" + std::to_string(ids.back()) +
                                             " is queued (a live process is training or resuming it)"),
                  std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("only interrupted or cancelled runs can be resumed"), std::string::npos)
            << e.what();
    }
    release.set_value();
    EXPECT_EQ(first.wait().completed, 6);
    for (const auto& r : store.runs()) EXPECT_EQ(r.status, RunStatus::Completed) << r.id << " " << r.error;
}

TEST_F(RunnerTest, DamagedCheckpointMakesTheResumedRunStartOverWithTheSameResult) {
    const std::vector<SpecOverride> overrides = {{"seeds", "[2]"}, {"protocols", "[early_stopping]"},
                                                 {"train.patience", "50"}, {"train.max_epochs", "4"}};
    RunStore store(dbPath());
    std::vector<std::int64_t> reference, cut;
    {
        RunQueue queue(store, m_registry);
        queue.start(spec(kPaired, overrides));
        reference = queue.wait().runIds;
    }
    {
        RunQueue queue(store, m_registry);
        queue.addObserver([&queue](const RunEvent& e) {
            if (e.kind == RunEvent::Kind::Epoch && e.epoch == 2) queue.cancelAll();
        });
        queue.start(spec(kPaired, overrides));
        cut = queue.wait().runIds;
    }
    const fs::path checkpoint = m_dir / "runs-checkpoints" / ("run-" + std::to_string(cut[0]) + ".resume.pt");
    ASSERT_TRUE(fs::exists(checkpoint));
    fs::resize_file(checkpoint, 100); // truncated: not a readable archive any more
    {
        RunQueue queue(store, m_registry);
        queue.resume(cut);
        EXPECT_EQ(queue.wait().completed, 2);
    }
    for (std::size_t i = 0; i < cut.size(); ++i) {
        RunFilter a, b;
        a.runIds = {reference[i]};
        b.runIds = {cut[i]};
        EXPECT_EQ(store.runs(a).front().testAcc, store.runs(b).front().testAcc);
        EXPECT_EQ(store.runs(a).front().epochs, store.runs(b).front().epochs);
    }
}

TEST_F(RunnerTest, ObserverThatThrowsOnFinishedLeavesTheRunsEndAsRecorded) {
    RunStore store(dbPath());
    RunQueue queue(store, m_registry);
    std::atomic<int> thrown{0};
    queue.addObserver([&thrown](const RunEvent& e) {
        // Once: an end recorded twice would call it again, and a second throw would leave
        // the worker thread on the old code.
        if (e.kind == RunEvent::Kind::Finished && thrown++ == 0) throw std::runtime_error("observer broke");
    });
    auto recorder = std::make_shared<Recorder>();
    queue.addObserver([recorder](const RunEvent& e) { (*recorder)(e); });
    queue.start(spec(kPaired, {{"seeds", "[1]"}, {"protocols", "[early_stopping]"}, {"train.max_epochs", "2"}}));
    const RunQueueResult result = queue.wait();
    ASSERT_EQ(result.runIds.size(), 2u);
    EXPECT_EQ(result.completed, 2);
    EXPECT_EQ(result.failed, 0);
    for (const auto& r : store.runs()) {
        EXPECT_EQ(r.status, RunStatus::Completed) << "run " << r.id;
        EXPECT_TRUE(r.error.empty()) << r.error;
    }
    // Each end was announced once, and observers after the failing one still saw it.
    int finished = 0;
    for (const auto& e : recorder->events) finished += e.kind == RunEvent::Kind::Finished;
    EXPECT_EQ(finished, 2);
}

TEST_F(RunnerTest, FailedWriteFailsOnlyTheRunItBelongsTo) {
    RunStore store(dbPath());
    // A fresh database numbers the runs 1, 2: only run 1's epoch rows are refused.
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(dbPath().c_str(), &db), SQLITE_OK);
        const int rc = sqlite3_exec(db,
                                    "CREATE TRIGGER refuse_run_1 BEFORE INSERT ON epoch_metrics WHEN NEW.run_id = 1 "
                                    "BEGIN SELECT RAISE(ABORT, 'run 1 refused by the test'); END;",
                                    nullptr, nullptr, nullptr);
        sqlite3_close(db);
        ASSERT_EQ(rc, SQLITE_OK);
    }
    RunQueue queue(store, m_registry);
    queue.start(spec(kPaired, {{"seeds", "[1]"}, {"protocols", "[early_stopping]"}, {"train.max_epochs", "2"}}));
    const RunQueueResult result = queue.wait();
    ASSERT_EQ(result.runIds, (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(result.failed, 1);
    EXPECT_EQ(result.completed, 1);
    EXPECT_EQ(result.cancelled, 0);
    EXPECT_TRUE(result.storeFailure.empty()) << result.storeFailure;
    EXPECT_TRUE(store.writeFailure().empty()) << store.writeFailure();
    const auto runs = store.runs();
    ASSERT_EQ(runs.size(), 2u);
    EXPECT_EQ(runs[0].status, RunStatus::Failed);
    EXPECT_NE(runs[0].error.find("run 1 refused by the test"), std::string::npos) << runs[0].error;
    EXPECT_EQ(runs[1].status, RunStatus::Completed) << runs[1].error;
    EXPECT_TRUE(runs[1].error.empty()) << runs[1].error;
}

TEST_F(RunnerTest, RestartAfterADamagedCheckpointLeavesNoStaleLaterEpochs) {
    const char* kOneCeRun = R"(
name: one
task: toy/blobs
device: cpu
losses: [ce]
protocols: [early_stopping]
seeds: [2]
train:
  max_epochs: 6
  patience: 50
)";
    RunStore store(dbPath());
    std::vector<std::int64_t> ids;
    {
        RunQueue queue(store, m_registry);
        queue.addObserver([&queue](const RunEvent& e) {
            if (e.kind == RunEvent::Kind::Epoch && e.epoch == 3) queue.cancelAll();
        });
        queue.start(spec(kOneCeRun));
        ids = queue.wait().runIds;
    }
    ASSERT_EQ(ids.size(), 1u);
    auto lastEpochs = [&] {
        int epoch = 0, stepEpoch = 0;
        for (const auto& row : store.epochMetrics({ids[0]})) epoch = std::max(epoch, row.epoch);
        for (const auto& row : store.stepMetrics(ids[0])) stepEpoch = std::max(stepEpoch, row.epoch);
        return std::make_pair(epoch, stepEpoch);
    };
    ASSERT_EQ(lastEpochs().first, 3);
    const fs::path checkpoint = m_dir / "runs-checkpoints" / ("run-" + std::to_string(ids[0]) + ".resume.pt");
    ASSERT_TRUE(fs::exists(checkpoint));
    fs::resize_file(checkpoint, 100); // truncated: the resumed run starts over
    {
        RunQueue queue(store, m_registry);
        // The restart is cancelled again, after its first epoch.
        queue.addObserver([&queue](const RunEvent& e) {
            if (e.kind == RunEvent::Kind::Epoch && e.epoch == 1) queue.cancelAll();
        });
        queue.resume(ids);
        EXPECT_EQ(queue.wait().cancelled, 1);
    }
    RunFilter one;
    one.runIds = ids;
    EXPECT_EQ(store.runs(one).front().epochs, 1);
    EXPECT_EQ(lastEpochs(), std::make_pair(1, 1)) << "epochs 2 and 3 of the first attempt must be gone";
}

TEST(DeviceSlotPlanner, AutoTakesEveryCudaDeviceInterleavedAndFallsBackToTheCpu) {
    RunQueueOptions options;
    options.runsPerDevice = 2;
    options.cpuSlots = 3;
    EXPECT_EQ(planDeviceSlots("auto", 4, options),
              (std::vector<std::string>{"cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:0", "cuda:1", "cuda:2", "cuda:3"}));
    EXPECT_EQ(planDeviceSlots("cuda", 2, options), (std::vector<std::string>{"cuda:0", "cuda:1", "cuda:0", "cuda:1"}));
    EXPECT_EQ(planDeviceSlots("cuda:1", 2, options), (std::vector<std::string>{"cuda:1", "cuda:1"}));
    EXPECT_EQ(planDeviceSlots("auto", 0, options), (std::vector<std::string>{"cpu", "cpu", "cpu"}));
    EXPECT_EQ(planDeviceSlots("cpu", 8, options), (std::vector<std::string>{"cpu", "cpu", "cpu"}));
    options.runsPerDevice = 0; // at least one slot per device
    EXPECT_EQ(planDeviceSlots("auto", 1, options), (std::vector<std::string>{"cuda:0"}));
    EXPECT_THROW(planDeviceSlots("cuda", 0, options), Error);
    EXPECT_THROW(planDeviceSlots("cuda:2", 2, options), Error);
    EXPECT_THROW(planDeviceSlots("tpu", 2, options), Error);
}

// An array task of a Slurm plan runs one independent unit: its runs give the numbers they give
// in the whole experiment, and a unit without the CE run it depends on is refused.
TEST_F(RunnerTest, AnIndependentUnitRunAloneGivesTheNumbersOfTheWholeExperiment) {
    const ExperimentSpec sweep = spec(std::string(kPaired) + "sweep: {losses.1.k: [1, 2]}\n");
    const std::vector<RunSpec> runs = sweep.expand();
    const auto units = independentUnits(runs);
    ASSERT_EQ(runs.size(), 2u * (1u + 2u + 2u));
    ASSERT_EQ(units.size(), 2u * 3u); // per seed: CE with its 2 same-epochs runs, 2 square runs
    RunStore whole((m_dir / "whole.sqlite").string());
    RunQueue all(whole, m_registry);
    all.start(sweep);
    const RunQueueResult allResult = all.wait();
    ASSERT_EQ(allResult.completed, static_cast<int>(runs.size()));

    RunStore part((m_dir / "part.sqlite").string());
    RunQueueOptions options;
    options.runIndices = units[0];
    RunQueue one(part, m_registry, options);
    one.start(sweep);
    const RunQueueResult oneResult = one.wait();
    ASSERT_EQ(oneResult.runIds.size(), units[0].size());
    ASSERT_EQ(oneResult.completed, static_cast<int>(units[0].size()));
    for (std::size_t k = 0; k < units[0].size(); ++k) {
        const auto a = whole.reportedMetrics({allResult.runIds[static_cast<std::size_t>(units[0][k])]});
        const auto b = part.reportedMetrics({oneResult.runIds[k]});
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t m = 0; m < a.size(); ++m) {
            if (a[m].value.metric != "wall_s" && a[m].value.metric != "examples_per_s") {
                EXPECT_EQ(a[m].value.value, b[m].value.value) << a[m].value.split << "/" << a[m].value.metric;
            }
        }
    }

    RunQueueOptions broken;
    broken.runIndices = {units[0].back()}; // a same-epochs run without its CE run
    RunStore refused((m_dir / "refused.sqlite").string());
    RunQueue queue(refused, m_registry, broken);
    EXPECT_THROW(queue.start(sweep), Error);
    EXPECT_TRUE(refused.experiments().empty());
}
