#pragma once
// The sweep part of a report (docs/sweeps.md, docs/report.md "Sweeps"): pure functions over
// the same runs and LossAnalysis as the rest of the report; torch-free, Qt-free, any thread.
//
// A run is swept when its stored spec lists the axes a sweep varied (`sweep: [loss.k, loss.M]`,
// runSweepAxes()); runs without that list take no part here, and with no swept run at all the
// result is empty. A grid point is one LossGroup of the analysis (seeds, their newest run and
// the completed ones as analyzeRuns counts them). Points belong to a family:
//   task x base recipe x loss name x protocol (x the loss's k, M, lr that no axis varies),
// where the base recipe is the group's training recipe without the swept non-loss keys, so that
// the points of a model.hidden sweep fall into one family. Values are those of the headline
// metric (the first of headlineMetrics() on the test split: accuracy, or a speech-only
// analysis's error rate) on the validation and the test split.
//
// Tuning: per task x base recipe x protocol x loss, the grid point with the best mean over
// seeds of the *validation* headline metric (never test; ties: the first in grid order); a
// loss that no sweep varied is one configuration. The tuned square loss is paired by seed with
// the tuned cross-entropy of the same task, base recipe and protocol (early stopping for
// same_epochs_as_ce), positive = square better as in SeedComparison.
#include <cstdint>
#include <string>
#include <vector>

#include "losslab/analysis/loss_comparison.h"

namespace losslab {

// One grid point of a family: one loss group.
struct SweepPoint {
    std::vector<std::string> values; // per axis of the family, as text ("15", "[256]")
    LossGroupKey key;                // its loss group
    int runs = 0;                    // runs of any status
    std::vector<std::string> notCompleted; // "seed 3: diverged"
    SeedStats val, test;             // headline metric over the completed seeds (n = 0: none)
    // Square losses only: paired by seed with a cross-entropy group of the same task, full
    // recipe and protocol (early stopping for same_epochs_as_ce); with several, the one whose
    // runs chose its epoch counts (same_epochs_as_ce, LossAnalysis::epochSources), else the one
    // with the same learning rate, else the first. Test split, positive = square better.
    bool paired = false;
    LossGroupKey ce;
    std::vector<std::int64_t> pairedSeeds, squareOnlySeeds, ceOnlySeeds;
    PairedTest diff; // n = 0 when not paired
    std::string label(const std::vector<std::string>& axes) const; // "k=5, M=10"
};

struct SweepFamily {
    std::string taskId;
    RunRecipe baseRecipe;    // training recipe without the swept non-loss keys
    std::string recipeLabel; // tells base recipes of a task apart ("" when one)
    std::string lossName, loss, protocol;
    std::vector<std::string> axes;                    // recipe keys: "loss.k", "model.hidden"
    std::vector<std::vector<std::string>> axisValues; // per axis, distinct values, numeric ascending where numeric
    std::vector<SweepPoint> points;                   // grid order: first axis slowest
    int fullGrid = 0;                                 // product of the axes' value counts
    std::string taskLabel() const;                    // "task (hidden [16])"
    std::string label() const;                        // "square, early_stopping"
    // The point with these values (one per axis), or nullptr (a cell nothing ran for).
    const SweepPoint* find(const std::vector<std::string>& values) const;
};

// One row of the tuned comparison: a loss at its chosen grid point.
struct TunedLoss {
    std::string taskId;
    RunRecipe baseRecipe;
    std::string recipeLabel;
    std::string lossName, loss, protocol;
    bool swept = false;               // false: a loss no sweep varied (one configuration)
    int configurations = 0;           // grid points the loss was given (with any run)
    int completedConfigurations = 0;  // of which have a completed run
    bool tuned = false;               // a point was chosen
    std::vector<std::string> axes, chosenValues; // the chosen point (swept losses)
    LossGroupKey chosen;              // its group
    SeedStats val, test;              // of the chosen point
    std::string untunedReason;        // when !tuned
    // Square rows: the tuned square loss minus the tuned cross-entropy by seed (test split,
    // positive = square better); ceIndex < 0 when there is none to pair with.
    int ceIndex = -1;                 // index into SweepAnalysis::tuned
    std::vector<std::int64_t> pairedSeeds, squareOnlySeeds, ceOnlySeeds;
    PairedTest diff;
    std::string chosenLabel() const;  // "k=5, M=10"; "lr=0.1" for an unswept loss's group
    std::string taskLabel() const;
};

struct SweepAnalysis {
    std::string metric;    // "test/acc": heatmaps, test columns, differences
    std::string valMetric; // "val/acc": the tuning choice
    std::vector<SweepFamily> families;   // task order, base recipe, CE first, protocol, name
    std::vector<TunedLoss> tuned;        // per task x base recipe with a sweep: every loss and protocol
    std::vector<std::string> notes;      // diverged points, unpaired seeds, untuned families, ...
    bool empty() const { return families.empty(); }
};

// "k", "M", "lr" for loss axes, the key without its section otherwise ("hidden").
std::string sweepAxisName(const std::string& axis);

SweepAnalysis analyzeSweeps(const std::vector<RunResult>& runs, const LossAnalysis& analysis,
                            const AnalysisOptions& options = {});

} // namespace losslab
