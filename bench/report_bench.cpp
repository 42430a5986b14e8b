// Times a full report over a large synthetic database: by default 1,020 runs x 200 epochs
// x 27 metrics (5.5 million epoch rows), the size the report must handle "in seconds".
// Usage: losslab-bench-report [--runs-per-group N] [--tasks N] [--epochs N] [--keep DB]
// Prints the time of each phase; it measures, it does not pass or fail.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "losslab/report/report_files.h"
#include "losslab/store/run_store.h"
#ifdef LOSSLAB_HAVE_PLOTS
#include "plots/figure_export.h"
#endif

using namespace losslab;
using Clock = std::chrono::steady_clock;

namespace {
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::int64_t fill(RunStore& store, int tasks, int seeds, int epochs) {
    ExperimentRecord e;
    e.name = "bench";
    e.taskId = "bench/0";
    const std::int64_t exp = store.addExperiment(e);
    std::vector<RunRecord> runs;
    const char* protocols[][2] = {{"ce", "early_stopping"}, {"square", "early_stopping"}, {"square", "same_epochs_as_ce"}};
    for (int t = 0; t < tasks; ++t)
        for (const auto& p : protocols)
            for (int s = 0; s < seeds; ++s) {
                RunRecord r;
                r.taskId = "bench/task" + std::to_string(t);
                r.lossName = p[0];
                r.loss = p[0];
                r.lr = 0.1;
                r.protocol = p[1];
                r.seed = s;
                runs.push_back(r);
            }
    const auto ids = store.addRuns(exp, runs);
    const char* metrics[] = {"loss", "acc", "error", "top5", "ece", "brier", "f1", "lr"};
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const double shift = (runs[i].loss == "square" ? 0.003 : 0.0) + 0.001 * (runs[i].seed % 7);
        for (int ep = 1; ep <= epochs; ++ep) {
            std::vector<MetricValue> m;
            const double acc = 0.9 - 0.5 * std::exp(-ep / 20.0) + shift;
            for (const char* split : {"train", "val", "test"})
                for (const char* name : metrics) m.push_back({split, name, std::string(name) == "acc" ? acc : 1.0 - acc});
            m.push_back({"train", "wall_s", 1.0});
            m.push_back({"train", "examples_per_s", 5e4});
            m.push_back({"train", "lr", 0.1});
            store.appendEpoch(ids[i], ep, m);
        }
        store.finishRun(ids[i], RunStatus::Completed, epochs, epochs - 10, 100.0, "");
    }
    store.flush();
    return static_cast<std::int64_t>(ids.size());
}
} // namespace

int main(int argc, char** argv) {
    int tasks = 20, seeds = 17, epochs = 200;
    std::string keep;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--tasks") tasks = std::atoi(argv[i + 1]);
        else if (a == "--runs-per-group") seeds = std::atoi(argv[i + 1]);
        else if (a == "--epochs") epochs = std::atoi(argv[i + 1]);
        else if (a == "--keep") keep = argv[i + 1];
    }
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("losslab-bench-report-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string db = keep.empty() ? (dir / "runs.sqlite").string() : keep;
    {
        RunStore store(db);
        if (store.experiments().empty()) {
            const auto t0 = Clock::now();
            const auto runs = fill(store, tasks, seeds, epochs);
            std::printf("built %lld runs x %d epochs x 27 metrics in %.1f s\n", static_cast<long long>(runs), epochs, since(t0));
        }
    }
    RunStore store(db);
    ReportRequest request;
    request.outDir = (dir / "out").string();
    auto t0 = Clock::now();
    const ReportData data = loadReportData(store, request, {});
    const double load = since(t0);
    t0 = Clock::now();
    const auto files = writeReportTables(store, data, request);
    const double tables = since(t0);
    std::printf("runs %zu, groups %zu, comparisons %zu\n", data.runs.size(), data.analysis.groups.size(), data.analysis.comparisons.size());
    std::printf("load + analysis:            %.2f s\n", load);
    std::printf("tables + seed-results + metrics-long.csv (%.0f MB): %.2f s\n",
                fs::file_size(fs::path(request.outDir) / "metrics-long.csv") / 1e6, tables);
#ifdef LOSSLAB_HAVE_PLOTS
    t0 = Clock::now();
    std::vector<std::string> warnings;
    const auto figures = writeReportFigures(data.analysis, data.curves, request.outDir, FigureFormats{}, warnings);
    std::printf("figures (%zu files):        %.2f s\n", figures.size(), since(t0));
#else
    std::printf("figures: not built (headless build)\n");
#endif
    std::printf("files written: %zu tables/raw\n", files.size());
    fs::remove_all(dir);
    return 0;
}
