// Merging the run databases of a Slurm job array's tasks (parts) into one, and the store's
// journal choice (WAL on local disks, the rollback journal on network file systems).
#include <gtest/gtest.h>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "losslab/error.h"
#include "losslab/store/records.h"
#include "losslab/store/run_merge.h"
#include "losslab/store/run_store.h"
#include "scratch_dir.h"

namespace fs = std::filesystem;
using namespace losslab;

namespace {

class TempDir : public fixtures::ScratchDir {
public:
    TempDir() : ScratchDir("losslab_merge_test") {}
};

constexpr const char* kPlanUid = "5a5a5a5a00000000111111112222cafe";

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

void writeFile(const std::string& path, const std::string& bytes) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
}

void execSql(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    const std::string text = message ? message : "";
    sqlite3_free(message);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << text;
}

std::string queryText(const std::string& path, const std::string& sql) {
    sqlite3* db = nullptr;
    std::string result;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
        sqlite3_stmt* statement = nullptr;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK &&
            sqlite3_step(statement) == SQLITE_ROW) {
            const auto* text = sqlite3_column_text(statement, 0);
            if (text) result = reinterpret_cast<const char*>(text);
        }
        sqlite3_finalize(statement);
    }
    sqlite3_close(db);
    return result;
}

// The experiment every array task of one plan stores: the same uid in every part.
ExperimentRecord planExperiment() {
    ExperimentRecord experiment;
    experiment.name = "km";
    experiment.taskId = "toy";
    experiment.specYaml = "name: km\n";
    experiment.uid = kPlanUid;
    return experiment;
}

RunRecord makeRun(const std::string& loss, std::int64_t seed) {
    RunRecord run;
    run.taskId = "toy";
    run.lossName = loss;
    run.loss = loss;
    run.k = loss == "ce" ? 1.0 : 2.0;
    run.protocol = loss == "ce" ? "early_stopping" : "same_epochs_as_ce";
    run.seed = seed;
    run.specYaml = "seed: " + std::to_string(seed) + "\n";
    return run;
}

std::vector<MetricValue> epochValues(std::int64_t seed, int epoch) {
    const double x = static_cast<double>(seed) * 0.01 + epoch * 0.1;
    return {{"train", "loss", 1.0 / (epoch + x)}, {"val", "acc", 0.5 + x / 10}, {"test", "acc", 0.4 + x / 10}};
}

// Test-split ECE bins: bins 12 to 14 hold seed + epoch + b examples each.
CalibrationBins epochBins(std::int64_t seed, int epoch) {
    CalibrationBins bins;
    bins.split = "test";
    for (std::size_t b = 12; b < bins.count.size(); ++b) {
        bins.count[b] = static_cast<double>(seed + epoch) + static_cast<double>(b);
        bins.confidence[b] = bins.count[b] * 0.9;
        bins.correct[b] = static_cast<double>(seed);
    }
    return bins;
}

// A part as an array task leaves it: the plan's experiment; a cross-entropy run completed
// after 3 epochs with its checkpoint; a square-loss run depending on it, cancelled after 2
// epochs with its resume file, tags and notes. Returns the two runs' ids in the part.
std::vector<std::int64_t> writePart(const std::string& path, std::int64_t seed) {
    RunStore store(path);
    const std::int64_t experiment = store.addExperiment(planExperiment());
    RunRecord square = makeRun("square", seed);
    square.dependsOn = 0;
    const std::vector<std::int64_t> ids = store.addRuns(experiment, {makeRun("ce", seed), square});
    store.markStarted(ids[0], "cpu", 0, "LibTorch test", 2);
    for (int epoch = 1; epoch <= 3; ++epoch) {
        store.appendEpoch(ids[0], epoch, epochValues(seed, epoch), {epochBins(seed, epoch)});
        store.appendSteps({{ids[0], epoch * 10, epoch, "train_loss", 2.0 / epoch}});
    }
    writeFile(store.checkpointPathFor(ids[0]), "weights of " + path);
    store.setCheckpoint(ids[0], store.checkpointPathFor(ids[0]));
    store.finishRun(ids[0], RunStatus::Completed, 3, 2, 1.5, "");
    store.markStarted(ids[1], "cpu", 2, "LibTorch test", 3);
    for (int epoch = 1; epoch <= 2; ++epoch) {
        store.appendEpoch(ids[1], epoch, epochValues(seed + 100, epoch));
        store.appendSteps({{ids[1], epoch * 10, epoch, "train_loss", 3.0 / epoch}});
    }
    writeFile(store.resumePathFor(ids[1]), "resume state of " + path);
    store.finishRun(ids[1], RunStatus::Cancelled, 2, 0, 0.5, "");
    store.setRunTags(ids[1], "tuned,k2");
    store.setRunNotes(ids[1], "seed " + std::to_string(seed));
    store.flush();
    return ids;
}

std::map<std::string, RunRecord> runsByUid(const RunStore& store) {
    std::map<std::string, RunRecord> byUid;
    for (const RunRecord& run : store.runs()) byUid[run.uid] = run;
    return byUid;
}

// Epoch rows of a run without its id, to compare a part's with the target's.
std::vector<std::tuple<int, std::string, std::string, double>> epochRowsOf(const RunStore& store, std::int64_t id) {
    std::vector<std::tuple<int, std::string, std::string, double>> rows;
    for (const auto& row : store.epochMetrics({id})) rows.emplace_back(row.epoch, row.value.split, row.value.metric, row.value.value);
    return rows;
}

std::vector<std::tuple<std::int64_t, int, std::string, double>> stepRowsOf(const RunStore& store, std::int64_t id) {
    std::vector<std::tuple<std::int64_t, int, std::string, double>> rows;
    for (const auto& row : store.stepMetrics(id)) rows.emplace_back(row.step, row.epoch, row.metric, row.value);
    return rows;
}

std::string mergeError(const std::vector<std::string>& parts, const std::string& target, const MergeOptions& options = {}) {
    try {
        mergeRunStores(parts, target, options);
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "the merge into " << target << " did not throw";
    return {};
}

pid_t deadPid() {
    const pid_t child = fork();
    if (child == 0) _exit(0);
    int status = 0;
    waitpid(child, &status, 0);
    return child;
}

// Sets an environment variable for one test and puts the old value back.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : m_name(name) {
        if (const char* old = std::getenv(name)) m_old = old;
        if (value) {
            setenv(name, value, 1);
        } else {
            unsetenv(name);
        }
    }
    ~ScopedEnv() {
        if (m_old) {
            setenv(m_name.c_str(), m_old->c_str(), 1);
        } else {
            unsetenv(m_name.c_str());
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string m_name;
    std::optional<std::string> m_old;
};

// Every run of `part` is in `target` under its uid, with the same fields, metrics, dependency
// (translated) and files (at the target's places for the new id).
void expectMergedFrom(const std::string& partPath, const RunStore& target) {
    RunStore part(partPath);
    const auto merged = runsByUid(target);
    std::map<std::int64_t, std::int64_t> idInTarget;
    for (const RunRecord& run : part.runs()) {
        const auto found = merged.find(run.uid);
        ASSERT_NE(found, merged.end()) << "run " << run.id << " of " << partPath << " is missing";
        idInTarget[run.id] = found->second.id;
    }
    for (const RunRecord& run : part.runs()) {
        const RunRecord& copy = merged.at(run.uid);
        SCOPED_TRACE(partPath + ", run " + std::to_string(run.id));
        EXPECT_EQ(copy.experiment, run.experiment);
        EXPECT_EQ(copy.lossName, run.lossName);
        EXPECT_EQ(copy.seed, run.seed);
        EXPECT_EQ(copy.status, run.status);
        EXPECT_EQ(copy.epochs, run.epochs);
        EXPECT_EQ(copy.bestEpoch, run.bestEpoch);
        EXPECT_EQ(copy.targetEpochs, run.targetEpochs);
        EXPECT_EQ(copy.protocol, run.protocol);
        EXPECT_EQ(copy.tags, run.tags);
        EXPECT_EQ(copy.notes, run.notes);
        EXPECT_EQ(copy.library, run.library);
        EXPECT_EQ(copy.threads, run.threads);
        EXPECT_EQ(copy.startedAt, run.startedAt);
        EXPECT_DOUBLE_EQ(copy.wallSeconds, run.wallSeconds);
        if (std::isnan(run.valAcc)) {
            EXPECT_TRUE(std::isnan(copy.valAcc));
        } else {
            EXPECT_DOUBLE_EQ(copy.valAcc, run.valAcc);
        }
        EXPECT_EQ(epochRowsOf(target, copy.id), epochRowsOf(part, run.id));
        EXPECT_EQ(stepRowsOf(target, copy.id), stepRowsOf(part, run.id));
        const auto bins = target.reportedCalibration({copy.id}, "test");
        const auto partBins = part.reportedCalibration({run.id}, "test");
        ASSERT_EQ(bins.size(), partBins.size());
        for (std::size_t i = 0; i < bins.size(); ++i) {
            EXPECT_EQ(bins[i].epoch, partBins[i].epoch);
            EXPECT_EQ(bins[i].bins.count, partBins[i].bins.count);
            EXPECT_EQ(bins[i].bins.confidence, partBins[i].bins.confidence);
            EXPECT_EQ(bins[i].bins.correct, partBins[i].bins.correct);
        }
        ASSERT_EQ(copy.dependsOn.has_value(), run.dependsOn.has_value());
        if (run.dependsOn) {
            EXPECT_EQ(*copy.dependsOn, idInTarget.at(*run.dependsOn));
        }
        if (!run.checkpointPath.empty()) {
            EXPECT_EQ(copy.checkpointPath, target.checkpointPathFor(copy.id));
            EXPECT_EQ(fixtures::readFile(copy.checkpointPath), fixtures::readFile(part.checkpointPathFor(run.id)));
        }
        if (fs::exists(part.resumePathFor(run.id))) {
            EXPECT_EQ(fixtures::readFile(target.resumePathFor(copy.id)), fixtures::readFile(part.resumePathFor(run.id)));
        }
    }
}

} // namespace

TEST(RunMergeTest, TwoPartsIntoAnEmptyTarget) {
    TempDir dir;
    const std::string a = dir.file("plan/part-0.sqlite");
    const std::string b = dir.file("plan/part-1.sqlite");
    writePart(a, 1);
    writePart(b, 2);
    const std::string aBytes = fixtures::readFile(a);
    const std::string target = dir.file("merged/runs.sqlite");

    const MergeResult result = mergeRunStores({a, b}, target);
    ASSERT_EQ(result.parts.size(), 2u);
    EXPECT_EQ(result.parts[0].path, a);
    EXPECT_EQ(result.parts[0].experimentsAdded, 1);
    EXPECT_EQ(result.parts[0].runsAdded, 2);
    EXPECT_EQ(result.parts[0].runsPresent, 0);
    EXPECT_EQ(result.parts[0].epochRows, 3 * 3 + 2 * 3);
    EXPECT_EQ(result.parts[0].stepRows, 5);
    EXPECT_EQ(result.parts[0].filesCopied, 2); // the weights and the resume state
    // The second part's experiment is the plan's, already there: its runs join it.
    EXPECT_EQ(result.parts[1].experimentsAdded, 0);
    EXPECT_EQ(result.parts[1].experimentsPresent, 1);
    EXPECT_EQ(result.parts[1].runsAdded, 2);
    EXPECT_EQ(result.total.runsAdded, 4);
    EXPECT_EQ(result.total.epochRows, 30);
    EXPECT_EQ(result.total.filesCopied, 4);
    EXPECT_TRUE(result.warnings.empty());
    EXPECT_FALSE(result.stopped);
    EXPECT_EQ(fixtures::readFile(a), aBytes) << "a part was written";

    RunStore store(target);
    ASSERT_EQ(store.experiments().size(), 1u);
    EXPECT_EQ(store.experiments()[0].uid, kPlanUid);
    const auto runs = store.runs();
    ASSERT_EQ(runs.size(), 4u);
    std::vector<std::int64_t> ids;
    for (const auto& run : runs) ids.push_back(run.id);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "run ids repeat";
    expectMergedFrom(a, store);
    expectMergedFrom(b, store);
}

TEST(RunMergeTest, MergingAgainAddsNothing) {
    TempDir dir;
    const std::string a = dir.file("part-0.sqlite");
    const std::string b = dir.file("part-1.sqlite");
    writePart(a, 1);
    writePart(b, 2);
    const std::string target = dir.file("runs.sqlite");
    mergeRunStores({a, b}, target);
    const std::string runsBefore = queryText(target, "SELECT group_concat(id || ':' || uid) FROM runs");

    for (const auto& order : {std::vector<std::string>{a, b}, std::vector<std::string>{b, a}}) {
        const MergeResult again = mergeRunStores(order, target);
        EXPECT_EQ(again.total.runsAdded, 0);
        EXPECT_EQ(again.total.runsPresent, 4);
        EXPECT_EQ(again.total.experimentsAdded, 0);
        EXPECT_EQ(again.total.experimentsPresent, 2);
        EXPECT_EQ(again.total.epochRows, 0);
        EXPECT_EQ(again.total.stepRows, 0);
        EXPECT_EQ(again.total.filesCopied, 0);
    }
    EXPECT_EQ(queryText(target, "SELECT group_concat(id || ':' || uid) FROM runs"), runsBefore);
    EXPECT_EQ(queryText(target, "SELECT count(*) FROM epoch_metrics"), "30");
    EXPECT_EQ(queryText(target, "SELECT count(*) FROM calibration_bins"), "18"); // 2 parts x 3 epochs x 3 bins
    EXPECT_EQ(queryText(target, "SELECT count(*) FROM experiments"), "1");
}

// A part merged while its array task had stopped a run (cancelled, or interrupted), then
// requeued: the task finishes the run in the part, and the next merge takes the finished copy
// in place of the stopped one, under the same id (a run depending on it keeps its link), with
// its rows and weights; the stopped copy's resume state goes. Tags or notes written on the
// target's copy meanwhile stay. Merging again then adds nothing.
TEST(RunMergeTest, ARunStoppedWhenMergedAndFinishedSinceReplacesTheStoppedCopy) {
    TempDir dir;
    const std::string part = dir.file("part-0.sqlite");
    const std::vector<std::int64_t> partIds = writePart(part, 1); // the square run: cancelled after 2 epochs
    const std::string target = dir.file("runs.sqlite");
    mergeRunStores({part}, target);
    std::string uid;
    std::int64_t targetId = 0;
    {
        RunStore store(target);
        const RunRecord stopped = store.runs().back();
        ASSERT_EQ(stopped.status, RunStatus::Cancelled);
        uid = stopped.uid;
        targetId = stopped.id;
        ASSERT_EQ(fixtures::readFile(store.resumePathFor(targetId)), "resume state of " + part);
        store.setRunNotes(targetId, "looked at it in the merged database");
        store.flush();
    }
    {
        RunStore store(part); // the requeued task resumes the run and completes it
        store.markStarted(partIds[1], "cpu", 4, "LibTorch test", 3);
        for (int epoch = 3; epoch <= 4; ++epoch) {
            store.appendEpoch(partIds[1], epoch, epochValues(101, epoch), {epochBins(101, epoch)});
            store.appendSteps({{partIds[1], epoch * 10, epoch, "train_loss", 3.0 / epoch}});
        }
        writeFile(store.checkpointPathFor(partIds[1]), "finished weights");
        store.setCheckpoint(partIds[1], store.checkpointPathFor(partIds[1]));
        std::filesystem::remove(store.resumePathFor(partIds[1]));
        store.finishRun(partIds[1], RunStatus::Completed, 4, 3, 2.5, "");
        store.flush();
    }

    const MergeResult result = mergeRunStores({part}, target);
    EXPECT_EQ(result.total.runsReplaced, 1);
    EXPECT_EQ(result.total.runsAdded, 0);
    EXPECT_EQ(result.total.runsPresent, 1); // the cross-entropy run, completed both times
    EXPECT_EQ(result.total.epochRows, 4 * 3);
    EXPECT_TRUE(result.warnings.empty()) << result.warnings.front();
    RunStore store(target);
    const RunStore source(part);
    const RunRecord merged = runsByUid(store).at(uid);
    EXPECT_EQ(merged.id, targetId);
    EXPECT_EQ(merged.status, RunStatus::Completed);
    EXPECT_EQ(merged.epochs, 4);
    EXPECT_EQ(merged.bestEpoch, 3);
    EXPECT_EQ(merged.notes, "looked at it in the merged database");
    EXPECT_EQ(merged.tags, "tuned,k2");
    EXPECT_EQ(epochRowsOf(store, targetId), epochRowsOf(source, partIds[1]));
    EXPECT_EQ(stepRowsOf(store, targetId), stepRowsOf(source, partIds[1]));
    EXPECT_EQ(queryText(target, "SELECT count(*) FROM calibration_bins WHERE run_id = " + std::to_string(targetId)), "6");
    EXPECT_EQ(merged.checkpointPath, store.checkpointPathFor(targetId));
    EXPECT_EQ(fixtures::readFile(merged.checkpointPath), "finished weights");
    EXPECT_FALSE(std::filesystem::exists(store.resumePathFor(targetId)));
    EXPECT_FALSE(std::filesystem::exists(store.resumePathFor(targetId) + ".replaced"));
    const std::vector<RunRecord> runs = store.runs();
    const auto ce = std::find_if(runs.begin(), runs.end(), [](const RunRecord& r) { return r.lossName == "ce"; });
    ASSERT_NE(ce, runs.end());
    EXPECT_EQ(merged.dependsOn, std::optional<std::int64_t>(ce->id));

    const MergeResult again = mergeRunStores({part}, target);
    EXPECT_EQ(again.total.runsReplaced, 0);
    EXPECT_EQ(again.total.runsPresent, 2);
    EXPECT_EQ(again.total.epochRows, 0);
}

TEST(RunMergeTest, IntoATargetWithItsOwnRuns) {
    TempDir dir;
    const std::string target = dir.file("runs.sqlite");
    std::vector<std::int64_t> own;
    {
        RunStore store(target);
        ExperimentRecord local;
        local.name = "local";
        own = store.addRuns(store.addExperiment(local), {makeRun("ce", 7), makeRun("ce", 8)});
        store.appendEpoch(own[0], 1, epochValues(7, 1));
        store.finishRun(own[0], RunStatus::Completed, 1, 1, 1.0, "");
        store.finishRun(own[1], RunStatus::Failed, 0, 0, 0.0, "out of memory");
        store.flush();
    }
    const std::string a = dir.file("part-0.sqlite");
    const std::string b = dir.file("part-1.sqlite");
    writePart(a, 1);
    writePart(b, 2);
    const MergeResult result = mergeRunStores({a, b}, target);
    EXPECT_EQ(result.total.runsAdded, 4);

    RunStore store(target);
    EXPECT_EQ(store.experiments().size(), 2u);
    const auto runs = store.runs();
    ASSERT_EQ(runs.size(), 6u);
    EXPECT_EQ(runs[0].id, own[0]);
    EXPECT_EQ(runs[0].experiment, "local");
    EXPECT_EQ(runs[1].error, "out of memory");
    EXPECT_EQ(store.epochMetrics({own[0]}).size(), 3u);
    // The merged runs' ids follow the target's own: a part's run 1 is not the target's run 1.
    for (std::size_t i = 2; i < runs.size(); ++i) EXPECT_GT(runs[i].id, own[1]);
    expectMergedFrom(a, store);
    expectMergedFrom(b, store);
}

// A run added to a part after the part was merged, depending on a run merged before: its
// depends_on points to that run's id in the target (found by uid).
TEST(RunMergeTest, DependencyOnARunMergedBefore) {
    TempDir dir;
    const std::string part = dir.file("part-0.sqlite");
    const std::vector<std::int64_t> ids = writePart(part, 1);
    const std::string target = dir.file("runs.sqlite");
    mergeRunStores({part}, target);
    std::int64_t late = 0;
    {
        RunStore store(part);
        late = store.addRuns(store.experiments().at(0).id, {makeRun("square", 5)}).at(0);
        store.finishRun(late, RunStatus::Completed, 1, 1, 1.0, "");
        store.flush();
    }
    execSql(part, "UPDATE runs SET depends_on = " + std::to_string(ids[0]) + " WHERE id = " + std::to_string(late));
    const MergeResult again = mergeRunStores({part}, target);
    EXPECT_EQ(again.total.runsAdded, 1);
    EXPECT_EQ(again.total.runsPresent, 2);
    RunStore store(target);
    expectMergedFrom(part, store);
}

TEST(RunMergeTest, APartStillBeingWrittenIsRefusedAndNothingIsWritten) {
    TempDir dir;
    const std::string a = dir.file("part-0.sqlite");
    const std::string b = dir.file("part-1.sqlite");
    writePart(a, 1);
    writePart(b, 2);
    std::int64_t running = 0;
    {
        RunStore store(b);
        running = store.addRuns(store.experiments().at(0).id, {makeRun("ce", 9)}).at(0);
        store.markStarted(running, "cpu", 0); // by this process, which is alive
        store.appendEpoch(running, 1, epochValues(9, 1));
        store.flush();
    }
    // Into a new target: none is created.
    const std::string fresh = dir.file("fresh.sqlite");
    const std::string message = mergeError({a, b}, fresh);
    EXPECT_TRUE(contains(message, b)) << message;
    EXPECT_TRUE(contains(message, "run " + std::to_string(running) + " is running")) << message;
    EXPECT_TRUE(contains(message, "still alive")) << message;
    EXPECT_TRUE(contains(message, "--allow-unfinished")) << message;
    EXPECT_TRUE(contains(message, "nothing was merged")) << message;
    EXPECT_FALSE(fs::exists(fresh));
    // Into an existing target: not a byte changes, also not from the good part named first.
    const std::string target = dir.file("runs.sqlite");
    mergeRunStores({dir.file("part-0.sqlite")}, target);
    fs::remove_all(dir.file("runs-checkpoints"));
    const std::string before = fixtures::readFile(target);
    execSql(a, "UPDATE runs SET uid = lower(hex(randomblob(16)))"); // a's runs would be new now
    mergeError({a, b}, target);
    EXPECT_EQ(fixtures::readFile(target), before);
    EXPECT_FALSE(fs::exists(dir.file("runs-checkpoints")));
}

TEST(RunMergeTest, AllowUnfinishedMergesThemAsInterrupted) {
    TempDir dir;
    const std::string part = dir.file("part-0.sqlite");
    writePart(part, 1);
    std::int64_t running = 0;
    std::string uid;
    {
        RunStore store(part);
        running = store.addRuns(store.experiments().at(0).id, {makeRun("ce", 9)}).at(0);
        store.markStarted(running, "cpu", 0);
        store.appendEpoch(running, 1, epochValues(9, 1));
        writeFile(store.resumePathFor(running), "resume after epoch 1");
        store.flush();
        uid = store.runs().back().uid;
    }
    const std::string target = dir.file("runs.sqlite");
    MergeOptions options;
    options.allowUnfinished = true;
    const MergeResult result = mergeRunStores({part}, target, options);
    EXPECT_EQ(result.total.runsAdded, 3);
    EXPECT_EQ(result.total.runsInterrupted, 1);
    EXPECT_EQ(queryText(target, "SELECT status FROM runs WHERE uid = '" + uid + "'"), "interrupted");
    RunStore store(target);
    const RunRecord merged = runsByUid(store).at(uid);
    EXPECT_EQ(merged.status, RunStatus::Interrupted);
    EXPECT_EQ(merged.epochs, 1);
    // `losslab-cli resume` reads the resume state from the target's place for the new id.
    EXPECT_EQ(fixtures::readFile(store.resumePathFor(merged.id)), "resume after epoch 1");
}

TEST(RunMergeTest, ARunOnAnotherHostIsRefusedSayingWhatToDo) {
    TempDir dir;
    const std::string part = dir.file("part-3.sqlite");
    const std::vector<std::int64_t> ids = writePart(part, 1);
    execSql(part, "UPDATE runs SET status = 'running', host = 'node17', pid = 4242 WHERE id = " + std::to_string(ids[1]));
    const std::string target = dir.file("runs.sqlite");
    const std::string message = mergeError({part}, target);
    EXPECT_TRUE(contains(message, part + ": run " + std::to_string(ids[1]) + " is running")) << message;
    EXPECT_TRUE(contains(message, "on host node17, pid 4242")) << message;
    EXPECT_TRUE(contains(message, "squeue")) << message;
    EXPECT_TRUE(contains(message, "--allow-unfinished")) << message;
    EXPECT_FALSE(fs::exists(target));
}

// A run left running by a process that is gone is merged as interrupted without being asked.
TEST(RunMergeTest, ARunWhoseProcessIsGoneMergesAsInterrupted) {
    TempDir dir;
    const std::string part = dir.file("part-0.sqlite");
    const std::vector<std::int64_t> ids = writePart(part, 1);
    execSql(part, "UPDATE runs SET status = 'running', pid = " + std::to_string(deadPid()) +
                      " WHERE id = " + std::to_string(ids[1]));
    const std::string target = dir.file("runs.sqlite");
    const MergeResult result = mergeRunStores({part}, target);
    EXPECT_EQ(result.total.runsInterrupted, 1);
    EXPECT_EQ(queryText(target, "SELECT group_concat(status) FROM (SELECT status FROM runs ORDER BY id)"), "completed,interrupted");
}

TEST(RunMergeTest, TheTargetAsAPartIsRefused) {
    TempDir dir;
    const std::string target = dir.file("runs.sqlite");
    writePart(target, 1);
    const std::string before = fixtures::readFile(target);
    for (const std::string& spelled : {target, dir.file("./sub/../runs.sqlite")}) {
        fs::create_directories(dir.file("sub"));
        const std::string message = mergeError({spelled}, target);
        EXPECT_TRUE(contains(message, spelled)) << message;
        EXPECT_TRUE(contains(message, "is the target database itself")) << message;
    }
    EXPECT_EQ(fixtures::readFile(target), before);
}

TEST(RunMergeTest, BadPartsAreRefusedNamingThem) {
    TempDir dir;
    const std::string good = dir.file("part-0.sqlite");
    writePart(good, 1);
    const std::string target = dir.file("runs.sqlite");

    const std::string missing = dir.file("part-9.sqlite");
    EXPECT_TRUE(contains(mergeError({good, missing}, target), missing + ": no such file"));
    const std::string pattern = dir.file("part-*.sqlitex");
    EXPECT_TRUE(contains(mergeError({pattern}, target), "a pattern that matches no file"));

    const std::string text = dir.file("notes.sqlite");
    writeFile(text, std::string(2000, 'x'));
    const std::string textMessage = mergeError({good, text}, target);
    EXPECT_TRUE(contains(textMessage, text) && contains(textMessage, "not an SQLite database")) << textMessage;

    const std::string foreign = dir.file("foreign.sqlite");
    execSql(foreign, "CREATE TABLE people(name TEXT);");
    const std::string foreignMessage = mergeError({good, foreign}, target);
    EXPECT_TRUE(contains(foreignMessage, foreign) && contains(foreignMessage, "not a LossLab database")) << foreignMessage;

    const std::string newer = dir.file("newer.sqlite");
    execSql(newer, "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES('application', "
                   "'losslab'); INSERT INTO meta VALUES('schema_version', '99');");
    const std::string newerMessage = mergeError({good, newer}, target);
    EXPECT_TRUE(contains(newerMessage, newer) && contains(newerMessage, "schema version 99")) << newerMessage;

    const std::string empty = dir.file("empty.sqlite");
    writeFile(empty, "");
    EXPECT_TRUE(contains(mergeError({empty}, target), empty + " is empty"));

    EXPECT_FALSE(fs::exists(target)) << "a refused merge created the target";
    EXPECT_TRUE(contains(mergeError({}, target), "no parts"));

    // A foreign target is refused unchanged, before any part is touched.
    const std::string before = fixtures::readFile(foreign);
    const std::string targetMessage = mergeError({good}, foreign);
    EXPECT_TRUE(contains(targetMessage, "not a LossLab database")) << targetMessage;
    EXPECT_EQ(fixtures::readFile(foreign), before);
}

// A part written before uids existed (schema 3) is upgraded once; merging it again adds nothing.
TEST(RunMergeTest, AnOlderPartIsUpgradedAndMergedOnce) {
    TempDir dir;
    const std::string part = dir.file("part-0.sqlite");
    writePart(part, 1);
    execSql(part, "ALTER TABLE runs DROP COLUMN reused_from; ALTER TABLE runs DROP COLUMN threads; DROP INDEX runs_uid; DROP INDEX experiments_uid; "
                  "ALTER TABLE runs DROP COLUMN uid; ALTER TABLE experiments DROP COLUMN uid; "
                  "DROP TABLE calibration_bins; UPDATE meta SET value = '3' WHERE key = 'schema_version'; PRAGMA user_version = 3;");
    const std::string target = dir.file("runs.sqlite");
    EXPECT_EQ(mergeRunStores({part}, target).total.runsAdded, 2);
    EXPECT_EQ(queryText(part, "SELECT value FROM meta WHERE key = 'schema_version'"), std::to_string(kSchemaVersion));
    const MergeResult again = mergeRunStores({part}, target);
    EXPECT_EQ(again.total.runsAdded, 0);
    EXPECT_EQ(again.total.runsPresent, 2);
    RunStore store(target);
    expectMergedFrom(part, store);
}

TEST(RunMergeTest, ProgressCanStopBetweenParts) {
    TempDir dir;
    const std::string a = dir.file("part-0.sqlite");
    const std::string b = dir.file("part-1.sqlite");
    writePart(a, 1);
    writePart(b, 2);
    const std::string target = dir.file("runs.sqlite");
    MergeOptions options;
    std::vector<std::size_t> seen;
    options.progress = [&seen](const MergePartResult& part, std::size_t index, std::size_t count) {
        EXPECT_EQ(count, 2u);
        EXPECT_EQ(part.runsAdded, 2);
        seen.push_back(index);
        return false;
    };
    const MergeResult result = mergeRunStores({a, b}, target, options);
    EXPECT_TRUE(result.stopped);
    EXPECT_EQ(seen, std::vector<std::size_t>{0});
    ASSERT_EQ(result.parts.size(), 1u);
    EXPECT_EQ(queryText(target, "SELECT count(*) FROM runs"), "2");
}

// A checkpoint a run names but that is gone is reported, and the merge goes on.
TEST(RunMergeTest, AMissingCheckpointIsAWarning) {
    TempDir dir;
    const std::string part = dir.file("part-0.sqlite");
    const std::vector<std::int64_t> ids = writePart(part, 1);
    {
        RunStore store(part);
        fs::remove(store.checkpointPathFor(ids[0]));
    }
    const MergeResult result = mergeRunStores({part}, dir.file("runs.sqlite"));
    EXPECT_EQ(result.total.runsAdded, 2);
    EXPECT_EQ(result.total.filesCopied, 1);
    ASSERT_EQ(result.warnings.size(), 1u);
    EXPECT_TRUE(contains(result.warnings[0], "run " + std::to_string(ids[0]) + " names the checkpoint")) << result.warnings[0];
}

// --- the journal: WAL on local disks, DELETE on network file systems or when told ---

TEST(RunStoreJournalTest, LocalDiskKeepsWalWithoutANote) {
    TempDir dir;
    ScopedEnv unset("LOSSLAB_STORE_JOURNAL", nullptr);
    const std::string path = dir.file("runs.sqlite");
    EXPECT_EQ(RunStore::journalNoteFor(path), "");
    RunStore store(path);
    EXPECT_EQ(store.journalNote(), "");
    EXPECT_EQ(queryText(path, "PRAGMA journal_mode"), "wal");
}

// What a database on NFS gets, forced here on a local disk: runs, metrics and merges work
// without WAL, and no -wal file appears.
TEST(RunStoreJournalTest, DeleteModeStoresRunsMetricsAndMerges) {
    TempDir dir;
    ScopedEnv forced("LOSSLAB_STORE_JOURNAL", "delete");
    const std::string a = dir.file("plan/part-0.sqlite");
    const std::string b = dir.file("plan/part-1.sqlite");
    writePart(a, 1);
    {
        RunStore store(b);
        EXPECT_TRUE(contains(store.journalNote(), "journal_mode=DELETE")) << store.journalNote();
        EXPECT_TRUE(contains(store.journalNote(), "LOSSLAB_STORE_JOURNAL=delete")) << store.journalNote();
        EXPECT_EQ(queryText(b, "PRAGMA journal_mode"), "delete");
        EXPECT_FALSE(fs::exists(b + "-wal"));
    }
    writePart(b, 2);
    EXPECT_EQ(queryText(a, "PRAGMA journal_mode"), "delete");
    const std::string target = dir.file("runs.sqlite");
    const MergeResult result = mergeRunStores({a, b}, target);
    EXPECT_EQ(result.total.runsAdded, 4);
    EXPECT_EQ(result.total.epochRows, 30);
    EXPECT_EQ(queryText(target, "PRAGMA journal_mode"), "delete");
    EXPECT_FALSE(fs::exists(target + "-wal"));
    EXPECT_EQ(mergeRunStores({a, b}, target).total.runsAdded, 0);
    RunStore store(target);
    expectMergedFrom(a, store);
    expectMergedFrom(b, store);
}

TEST(RunStoreJournalTest, ReopensWalAsDeleteAndBack) {
    TempDir dir;
    const std::string path = dir.file("runs.sqlite");
    std::vector<std::int64_t> ids;
    {
        ScopedEnv unset("LOSSLAB_STORE_JOURNAL", nullptr);
        ids = writePart(path, 1);
        EXPECT_EQ(queryText(path, "PRAGMA journal_mode"), "wal");
    }
    {
        ScopedEnv forced("LOSSLAB_STORE_JOURNAL", "delete");
        RunStore store(path);
        EXPECT_EQ(queryText(path, "PRAGMA journal_mode"), "delete");
        EXPECT_EQ(store.runs().size(), 2u);
        EXPECT_EQ(store.epochMetrics({ids[0]}).size(), 9u);
        const auto more = store.addRuns(store.experiments().at(0).id, {makeRun("ce", 3)});
        store.appendEpoch(more.at(0), 1, epochValues(3, 1));
        store.finishRun(more.at(0), RunStatus::Completed, 1, 1, 1.0, "");
        store.flush();
    }
    ScopedEnv unset("LOSSLAB_STORE_JOURNAL", nullptr);
    RunStore store(path);
    EXPECT_EQ(queryText(path, "PRAGMA journal_mode"), "wal");
    ASSERT_EQ(store.runs().size(), 3u);
    EXPECT_EQ(store.runs()[2].status, RunStatus::Completed);
    EXPECT_EQ(store.epochMetrics({}).size(), 9u + 6u + 3u);
}

TEST(RunStoreJournalTest, ABadOverrideIsRefusedNamingTheVariable) {
    TempDir dir;
    ScopedEnv forced("LOSSLAB_STORE_JOURNAL", "memory");
    const std::string path = dir.file("runs.sqlite");
    try {
        RunStore store(path);
        ADD_FAILURE() << "LOSSLAB_STORE_JOURNAL=memory was accepted";
    } catch (const Error& e) {
        EXPECT_TRUE(contains(e.what(), "LOSSLAB_STORE_JOURNAL is 'memory'")) << e.what();
        EXPECT_TRUE(contains(e.what(), "'wal' or 'delete'")) << e.what();
    }
    EXPECT_FALSE(fs::exists(path));
}
