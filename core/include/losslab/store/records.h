#pragma once
// Plain records as stored in SQLite. Torch-free; shared by store, runner, analysis and ui.
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace losslab {

enum class RunStatus { Queued, Running, Completed, Diverged, Failed, Cancelled, Interrupted };
const char* runStatusName(RunStatus status); // "queued", "running", ...
RunStatus parseRunStatus(const std::string& text); // throws Error on an unknown name
bool isFinal(RunStatus status);                    // not queued / running

struct ExperimentRecord {
    std::int64_t id = 0;
    std::string name;
    std::string description;
    std::string taskId;
    std::string specYaml;   // resolved experiment
    std::string sourcePath;
    std::string createdAt;  // ISO 8601 UTC
    std::string uid;        // globally unique (128-bit hex); merges match experiments by it
};

struct RunRecord {
    std::int64_t id = 0;
    std::string uid;          // globally unique (128-bit hex); merges match runs by it
    std::int64_t experimentId = 0;
    std::string experiment;   // name, filled on read
    std::string taskId;
    std::string lossName;
    std::string loss;         // "ce" | "square"
    double k = 1.0;
    double M = 1.0;
    double lr = 0.0;
    std::string protocol;     // "early_stopping" | "same_epochs_as_ce" | "fixed_epochs"
    std::int64_t seed = 0;
    std::string device;       // resolved device ("cpu", "cuda:0") once started
    std::string library;      // what trained it, "LibTorch 2.6.0" (empty before schema 3)
    int threads = 0;          // intra-op CPU threads it computed with (0: not started, or before schema 6)
    RunStatus status = RunStatus::Queued;
    int epochs = 0;           // epochs trained
    int bestEpoch = 0;        // epoch the protocol reports (1-based; 0 = none yet)
    int targetEpochs = 0;     // same_epochs_as_ce / fixed_epochs: epochs to train
    std::optional<std::int64_t> dependsOn;
    std::string specYaml;     // resolved RunSpec
    std::string error;
    std::string createdAt, startedAt, finishedAt;
    double wallSeconds = 0.0;
    std::string checkpointPath;
    std::string tags;         // comma-separated
    std::string notes;
    // runner.reuse_prefix: the uid of the run whose first targetEpochs epochs this run's
    // metrics are (copied, not trained); empty when it trained itself.
    std::string reusedFrom;
    // Reported metrics (at bestEpoch), filled by reads that ask for them; NaN if absent.
    double valAcc = std::numeric_limits<double>::quiet_NaN();
    double testAcc = std::numeric_limits<double>::quiet_NaN();
};

struct MetricValue {
    std::string split;  // "train" | "val" | "test"
    std::string metric; // "loss", "acc", "error", "top5", "f1", "ece", "brier", "wall_s", "examples_per_s"
    double value = 0.0;
};

struct EpochMetricRow {
    std::int64_t runId = 0;
    int epoch = 0;      // 1-based
    MetricValue value;
};

// The confidence bins behind ECE (docs/losses-and-metrics.md#expected-calibration-error): the
// examples of one split whose predicted class got a probability in (b/15, (b+1)/15] (0 in bin
// 0), their summed confidence and how many of them were predicted right. Sums, not means, so
// that the runs of a group pool exactly. Drawn as reliability diagrams.
constexpr int kCalibrationBins = 15;

struct CalibrationBins {
    std::string split; // "train" | "val" | "test"
    std::array<double, kCalibrationBins> count{};
    std::array<double, kCalibrationBins> confidence{}; // summed confidence
    std::array<double, kCalibrationBins> correct{};
    double total() const; // examples in all bins
};

struct CalibrationRow {
    std::int64_t runId = 0;
    int epoch = 0; // 1-based
    CalibrationBins bins;
};

struct StepMetricRow {
    std::int64_t runId = 0;
    std::int64_t step = 0; // global optimiser step, 1-based
    int epoch = 0;
    std::string metric;    // "train_loss", "lr"
    double value = 0.0;
};

} // namespace losslab
