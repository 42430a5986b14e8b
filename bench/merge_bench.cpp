// Times `losslab-cli merge`'s work (mergeRunStores) on the parts of a large Slurm job array:
// by default 8 parts holding 1,000 runs x 200 epochs in all, each epoch with the 21 rows a
// vision run stores (loss, acc, error, top5, ece, brier of train, val and test, and train's
// wall_s, examples_per_s, lr), 2 step rows per epoch, and a 64 KiB checkpoint per run.
// Baseline: copying the parts' files (the least any merge must read and write).
// Usage: losslab-bench-merge [--runs N] [--epochs N] [--parts N] [--dir DIR]
// Prints each phase's time and the ratios; it measures, it does not pass or fail.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "losslab/error.h"
#include "losslab/store/run_merge.h"
#include "losslab/store/run_store.h"

using namespace losslab;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

constexpr std::size_t kCheckpointBytes = 64 * 1024;

// One part as an array task leaves it: the plan's experiment (one uid in every part) and
// `runs` runs in cross-entropy / square pairs, the square run depending on its CE run.
void writePart(const std::string& path, int part, int runs, int epochs) {
    RunStore store(path);
    ExperimentRecord experiment;
    experiment.name = "merge-bench";
    experiment.taskId = "fashion_mnist/mlp";
    experiment.uid = "00000000000000000000000000bench0";
    const std::int64_t experimentId = store.addExperiment(experiment);
    std::vector<RunRecord> records;
    for (int i = 0; i < runs; ++i) {
        RunRecord run;
        run.taskId = experiment.taskId;
        run.loss = i % 2 == 0 ? "ce" : "square";
        run.lossName = run.loss;
        run.protocol = i % 2 == 0 ? "early_stopping" : "same_epochs_as_ce";
        run.seed = part * runs + i / 2;
        run.lr = 0.05;
        if (i % 2 == 1) run.dependsOn = i - 1;
        records.push_back(run);
    }
    const std::vector<std::int64_t> ids = store.addRuns(experimentId, records);
    const std::string weights(kCheckpointBytes, 'w');
    for (std::size_t r = 0; r < ids.size(); ++r) {
        store.markStarted(ids[r], "cpu", epochs, "LibTorch bench");
        std::vector<StepMetricRow> steps;
        for (int epoch = 1; epoch <= epochs; ++epoch) {
            const double acc = 0.9 - 0.5 * std::exp(-epoch / 20.0) + 0.001 * static_cast<double>(r % 7);
            std::vector<MetricValue> metrics;
            for (const char* split : {"train", "val", "test"}) {
                metrics.push_back({split, "loss", 1.0 - acc});
                metrics.push_back({split, "acc", acc});
                metrics.push_back({split, "error", 1.0 - acc});
                metrics.push_back({split, "top5", 0.99});
                metrics.push_back({split, "ece", 0.02});
                metrics.push_back({split, "brier", 0.1});
            }
            metrics.push_back({"train", "wall_s", 1.0});
            metrics.push_back({"train", "examples_per_s", 5e4});
            metrics.push_back({"train", "lr", 0.05});
            store.appendEpoch(ids[r], epoch, metrics);
            steps.push_back({ids[r], epoch * 100 - 50, epoch, "train_loss", 1.0 - acc});
            steps.push_back({ids[r], epoch * 100, epoch, "train_loss", 1.0 - acc});
        }
        store.appendSteps(steps);
        const std::string checkpoint = store.checkpointPathFor(ids[r]);
        fs::create_directories(fs::path(checkpoint).parent_path());
        std::ofstream(checkpoint, std::ios::binary) << weights;
        store.setCheckpoint(ids[r], checkpoint);
        store.finishRun(ids[r], RunStatus::Completed, epochs, epochs - 10, 100.0, "");
    }
    store.flush();
}

std::uintmax_t sizeOf(const fs::path& path) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    return ec ? 0 : size;
}

void printResult(const char* label, const MergeResult& result, double seconds) {
    const MergePartResult& t = result.total;
    std::printf("%-40s %8.2f s  (%d runs added, %d present, %lld epoch rows, %lld step rows, %d files, %d of them linked)\n",
                label, seconds, t.runsAdded, t.runsPresent, static_cast<long long>(t.epochRows),
                static_cast<long long>(t.stepRows), t.filesCopied, t.filesLinked);
}

} // namespace

int main(int argc, char** argv) {
    int runs = 1000, epochs = 200, parts = 8;
    std::string dir;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--runs") runs = std::atoi(argv[i + 1]);
        else if (a == "--epochs") epochs = std::atoi(argv[i + 1]);
        else if (a == "--parts") parts = std::atoi(argv[i + 1]);
        else if (a == "--dir") dir = argv[i + 1];
        else {
            std::cerr << "usage: losslab-bench-merge [--runs N] [--epochs N] [--parts N] [--dir DIR]\n";
            return 2;
        }
    }
    if (runs < parts || parts < 1 || epochs < 11) {
        std::cerr << "losslab-bench-merge: need --parts >= 1, --runs >= --parts and --epochs >= 11\n";
        return 2;
    }
    const bool ownDir = dir.empty();
    if (ownDir) dir = (fs::temp_directory_path() / ("losslab-bench-merge-" + std::to_string(::getpid()))).string();
    fs::remove_all(dir);
    fs::create_directories(dir);
    try {
        std::printf("merge bench: %d parts, %d runs x %d epochs (21 epoch rows and 2 step rows per epoch, a %zu KiB "
                    "checkpoint per run), in %s\n",
                    parts, runs, epochs, kCheckpointBytes / 1024, dir.c_str());
        std::vector<std::string> partPaths;
        auto t0 = Clock::now();
        for (int p = 0; p < parts; ++p) {
            const int partRuns = runs / parts + (p < runs % parts ? 1 : 0);
            partPaths.push_back((fs::path(dir) / "plan" / ("part-" + std::to_string(p) + ".sqlite")).string());
            writePart(partPaths.back(), p, partRuns, epochs);
        }
        const double writeSeconds = since(t0);
        std::uintmax_t partBytes = 0;
        for (const auto& entry : fs::recursive_directory_iterator(fs::path(dir) / "plan"))
            if (entry.is_regular_file()) partBytes += entry.file_size();
        std::printf("%-40s %8.2f s\n", "writing the parts through RunStore", writeSeconds);

        // Baseline: a plain copy of every part file and checkpoint (read and written once).
        t0 = Clock::now();
        fs::copy(fs::path(dir) / "plan", fs::path(dir) / "copy", fs::copy_options::recursive);
        const double copySeconds = since(t0);
        std::printf("%-40s %8.2f s  (%.0f MB)\n", "baseline: copying the part files", copySeconds, partBytes / 1e6);
        fs::remove_all(fs::path(dir) / "copy");

        const std::string target = (fs::path(dir) / "runs.sqlite").string();
        t0 = Clock::now();
        const MergeResult first = mergeRunStores(partPaths, target);
        const double mergeSeconds = since(t0);
        printResult("merge into an empty target (WAL)", first, mergeSeconds);
        t0 = Clock::now();
        const MergeResult again = mergeRunStores(partPaths, target);
        const double againSeconds = since(t0);
        printResult("merge again: nothing new", again, againSeconds);

        // A target on a network file system has no WAL: the same merge in journal_mode=DELETE.
        setenv("LOSSLAB_STORE_JOURNAL", "delete", 1);
        const std::string noWal = (fs::path(dir) / "runs-delete.sqlite").string();
        t0 = Clock::now();
        const MergeResult deleteMode = mergeRunStores(partPaths, noWal);
        const double deleteSeconds = since(t0);
        unsetenv("LOSSLAB_STORE_JOURNAL");
        printResult("merge into an empty target (DELETE)", deleteMode, deleteSeconds);

        const double rows = static_cast<double>(first.total.epochRows + first.total.stepRows);
        std::printf("\nmerge / copying the files: %.2f (WAL), %.2f (DELETE); %.2f million rows/s; merged database "
                    "%.0f MB; the no-op merge takes %.1f %% of the first\n",
                    mergeSeconds / copySeconds, deleteSeconds / copySeconds, rows / mergeSeconds / 1e6,
                    sizeOf(target) / 1e6, 100.0 * againSeconds / mergeSeconds);
    } catch (const Error& e) {
        std::cerr << "losslab-bench-merge: " << e.what() << "\n";
        if (ownDir) fs::remove_all(dir);
        return 1;
    }
    if (ownDir) fs::remove_all(dir);
    return 0;
}
