#pragma once
// What the exporters (TensorBoard, MLflow) share: the selected runs with the label that tells
// apart the recipes of one task, loss and protocol, their metrics at the reported epoch, and
// the time line that gives each stored epoch and step a wall time. Internal to core.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "losslab/store/records.h"

namespace losslab {

class RunStore;

struct ExportedRun {
    RunRecord record;
    // What tells this run's recipe apart from the others of its experiment, task, loss and
    // protocol (a sweep's "lr 0.1", "k 15, M 30"; recipeLabels()); empty where nothing does.
    std::string recipeLabel;
    std::map<std::string, double> reported; // "test/acc" -> value at the reported epoch
};

struct ExportSelection {
    int experiments = 0;
    std::vector<ExportedRun> runs; // by run id
};

// The runs of the selected experiments (names, "name#id", or empty for the latest instance of
// every name, as for the report). Throws Error as selectExperiments() does.
ExportSelection selectExportedRuns(const RunStore& store, const std::vector<std::string>& experiments);

// Started runs have something to export; queued ones and those cancelled before they started
// have not.
bool hasStarted(const RunRecord& r);

// "2026-12-06T11:02:29Z" as seconds since 1970; 0 when empty or not in that form.
double unixSeconds(const std::string& iso);

// The run's settings, status, reported epoch and metrics there as a Markdown table.
std::string runSummaryMarkdown(const RunRecord& r, const std::map<std::string, double>& reported);
// The ECE bins of one split at the reported epoch as a Markdown table: the run's reliability
// diagram in numbers, the bins with examples only.
std::string reliabilityMarkdown(const CalibrationRow& row);

// Wall times of a run's stored metrics: its (latest) start plus its training seconds
// (train/wall_s) up to the end of an epoch; a step is spread evenly over its epoch's training
// time. Evaluation time is not counted.
class RunTimeline {
public:
    RunTimeline(const RunRecord& run, const std::vector<EpochMetricRow>& epochs, const std::vector<StepMetricRow>& steps);
    double start() const { return m_start; }
    double epochEnd(int epoch) const;              // seconds since 1970
    double stepTime(const StepMetricRow& s) const; // seconds since 1970
private:
    double m_start = 0.0;
    std::map<int, double> m_endOf;                                   // epoch -> seconds from the start to its end
    std::map<int, std::pair<std::int64_t, std::int64_t>> m_stepRange; // epoch -> first, last step
};

} // namespace losslab
