#pragma once
// Loads the runs of a report from the store and writes the report's files:
//   table-main.{csv,md,tex}  table-std.{csv,md,tex}  stats.{csv,md,tex}
//   headline.{csv,md,tex}    seed-results.csv       metrics-long.csv
// and, only when some runs come from a sweep (SweepAnalysis not empty):
//   table-tuned.{csv,md,tex} sweep-grid.csv (csv selected)
// and, only when some runs have stored ECE bins (schema 7 on; csv selected):
//   reliability.csv          the reliability diagrams' data, one row per group and bin
// Every file goes through a temporary file and a rename, so an interrupted report leaves no
// partial file. Figures are drawn by ui/plots (full build only). Torch-free, Qt-free.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "losslab/analysis/learning_curves.h"
#include "losslab/analysis/loss_comparison.h"
#include "losslab/analysis/reliability.h"
#include "losslab/analysis/sweep_analysis.h"
#include "losslab/store/records.h"

namespace losslab {

class RunStore;

struct ReportRequest {
    // Experiment names, or "name#id" for one stored instance. A name stands for its latest
    // instance (the most recent `run` of that file). Empty: the latest instance of every name.
    std::vector<std::string> experiments;
    std::string outDir;
    std::string split = "test"; // test | val | train
    bool csv = true, markdown = true, latex = true;
};

struct ReportData {
    std::vector<ExperimentRecord> experiments;
    std::vector<RunResult> runs;
    LossAnalysis analysis;
    AnalysisOptions options;
    // Figure 2's curves per task: validation accuracy per epoch, one group per loss and protocol.
    std::map<std::string, std::vector<CurveGroup>> curves;
    // Heatmaps and the tuned comparison of swept runs; empty when no run comes from a sweep.
    SweepAnalysis sweeps;
    // Reliability diagrams of the report's split, per group in the analysis's order; empty
    // when no completed run has stored ECE bins.
    std::vector<ReliabilityGroup> reliability;
};

// How an --experiment value reads against the stored experiments (`all`, in id order): the
// experiments of exactly that name (a name may hold '#': "run #2"), and the one that NAME#ID
// names ("a#2", "a#02"). When both are found (an experiment named "a#1" beside instance #1 of
// "a") `ambiguity` says so and how to write each ("it is the name of experiment #4 and also
// instance #1 of 'a'; write 'a#1#4' for the first, 'a#01' for the second"): callers refuse to
// guess. `report`, `export` and `delete` read values so.
struct ExperimentMatch {
    std::vector<ExperimentRecord> named;
    std::optional<ExperimentRecord> instance;
    std::string ambiguity;
};
ExperimentMatch matchExperiment(const std::string& value, const std::vector<ExperimentRecord>& all);

// Resolves the experiment selection (the latest experiment of a name, or NAME#ID); throws Error
// naming an unknown experiment and listing the stored ones, or an ambiguous value.
std::vector<ExperimentRecord> selectExperiments(const RunStore& store, const std::vector<std::string>& names);

// The runs of the selected experiments, ordered by id. Throws Error when `experiments` is
// empty (nothing stored) or none of them has a run, naming the database and the experiments.
std::vector<RunRecord> runsOfExperiments(const RunStore& store, const std::vector<ExperimentRecord>& experiments);

// Reads runs, their reported metrics and curves, and runs the analysis.
ReportData loadReportData(const RunStore& store, const ReportRequest& request,
                          const std::map<std::string, TaskMeta>& tasks);

// Creates `outDir` with its parents if missing and checks that it can be written into:
// Error naming the folder and why otherwise. `run --report` calls it before anything trains.
void prepareReportFolder(const std::string& outDir);

// Writes the tables and raw files into request.outDir (created if missing). Returns the
// paths written. Throws Error when the folder cannot be created or written.
std::vector<std::string> writeReportTables(const RunStore& store, const ReportData& data, const ReportRequest& request);

} // namespace losslab
