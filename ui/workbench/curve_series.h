#pragma once
// What a curve plot draws, computed from a CurveBook without any Qt: one series per run, or
// per group of runs (the seeds of one setting: same task, loss with its k, M and learning rate,
// protocol and training recipe, as the report pools them) with the mean and +/- 1 sample std
// over the runs at each point, and how many runs each point averages. Qt-free and torch-free.
//
// Smoothing is the debiased exponential moving average: s_n = w s_{n-1} + (1 - w) v_n from
// s_0 = 0, divided by (1 - w^n) so the start is not pulled toward 0; NaN values are skipped
// (kept as NaN, not fed into the average). w = 0 leaves the values as they are.
#include <cstdint>
#include <string>
#include <vector>

#include "curve_book.h"

namespace losslab {

enum class CurveAxis { Epoch, Step, WallTime };

struct CurveOptions {
    // "step/loss" (training loss per logged step) or an epoch metric "split/metric"
    // ("train/loss", "train/acc", "val/acc", "test/acc", ...).
    std::string metric = "step/loss";
    CurveAxis axis = CurveAxis::Epoch;
    double smoothing = 0.6;   // EMA weight w in [0, 1)
    bool groupByLoss = false; // mean +/- std over the seeds of each task x loss x protocol
    bool logY = false;        // logarithmic y axis (losses over orders of magnitude); values <= 0 are not drawn
};

struct CurveSeries {
    std::string key;      // "run/<id>" or "group/<task>|<loss name>|<protocol>[|<what differs>]"
    std::string label;    // for the legend: "square (k=1, M=1) · early stopping"
    std::string lossName;
    std::string loss;     // "ce" | "square"
    std::string protocol;
    std::int64_t runId = 0;     // runs only
    std::vector<std::int64_t> runIds; // the runs behind it (one for a run)
    std::vector<double> x;
    std::vector<double> raw;      // runs: the values; groups: mean of the raw values
    std::vector<double> smoothed; // what is drawn as the line
    std::vector<double> low, high; // groups: smoothed mean -/+ std (NaN with one run)
    std::vector<int> count;        // groups: runs averaged at each point (seeds stop early)
    // Runs stopped before their protocol's end: "cancelled", "interrupted" or "failed" (the
    // plot draws them faded); empty for the others and for groups.
    std::string stopped;
};

std::vector<double> debiasedEma(const std::vector<double>& values, double weight);

// Series of `runIds` (in that order; unknown ids skipped). Runs without points for the
// metric give an empty series (they are still listed, so a legend can show them).
std::vector<CurveSeries> buildCurveSeries(const CurveBook& book, const std::vector<std::int64_t>& runIds,
                                          const CurveOptions& options);

// The value lines of a hover tooltip for point i of `s`: the stored value (for a group, the
// mean of the stored values), then, when the line is smoothed, the smoothed value labelled
// as such, and for a group how many of its runs the point averages ("mean of 2 of 3 runs").
// Percent metrics are given in %, as drawn.
std::string describeCurvePoint(const CurveSeries& s, std::size_t i, bool smoothed);

// "train/loss" -> "training loss", "step/loss" -> "training loss per step", "val/acc" ->
// "validation accuracy (%)" (accuracies are drawn in %).
std::string curveMetricLabel(const std::string& metric);
bool curveMetricIsPercent(const std::string& metric);
std::string curveAxisLabel(CurveAxis axis);

} // namespace losslab
