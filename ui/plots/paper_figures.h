#pragma once
// The paper's three figures (Hui & Belkin, ICLR 2021) drawn into a QCustomPlot, from the
// plain analysis structs of core (no torch anywhere here):
//  - Figure 1, plotSeedDifferences: per task (and recipe), each seed's paired difference
//    (positive = square loss better) with the mean and a one-std error bar;
//  - Figure 2, plotLearningCurves: per group (task x recipe x loss x protocol) the mean curve
//    over seeds, a +/- 1 std band and each seed's curve;
//  - Figure 3, plotSeedSpread: per task (and recipe), each loss's per-seed results (square
//    left, CE right) with the mean and a one-std error bar.
// Where a task has several recipes (LossGroupKey::recipeLabel not empty), slot labels,
// panel names and legend entries carry the recipe label ("hidden [16]").
//
// Each function replaces everything on the plot (plottables, items, layout) and leaves the
// widget's fonts alone, so the same calls serve the GUI; writeReportFigures
// (figure_export.h) applies applyColumnStyle() before it renders files. None of them calls
// replot(). Call from the GUI thread only (QCustomPlot is a widget).
//
// Units: metrics that are fractions in [0, 1] (isPercentMetric: acc, error, top5, f1) are
// drawn x 100, in % (values) or percentage points (differences). Others are drawn as stored.
//
// Plottables carry a stable QObject::objectName (their name(), the legend text, is for
// people and may change). `i` is an index counted from 0; findPlottable() looks them up.
//
//   Figure 1 (one x slot per comparison, slot s at x = s):
//     "seeds"            QCPGraph, scatter only: every paired seed's difference; the j-th
//                        paired seed of slot s (in SeedComparison::pairedSeeds order) at
//                        x = s + kSeedOffset + seedJitter(j, n)
//     "mean"             QCPGraph, scatter only: per slot the mean of the differences, at
//                        x = s + kMeanOffset
//     "std"              QCPErrorBars on "mean": the sample std (0 where fewer than 2 seeds)
//     "zero"             QCPGraph: the horizontal line y = 0 (not in the legend)
//   Figure 2 (group i = index into `groups`):
//     "mean/i"           QCPGraph: mean over seeds per epoch (the only legend entries)
//     "band lower/i"     QCPGraph: mean - std per epoch (NaN where std is undefined)
//     "band upper/i"     QCPGraph: mean + std, filled down to "band lower/i"
//     "seed/i/<seed>"    QCPGraph: one faint line per seed
//   Figure 3 (one panel, i.e. QCPAxisRect, per unit i: a task, or a task x recipe x square
//   variant when a task has several; square at x = 0, CE at x = 1 of the panel; the panel's x-axis
//   title names the task; one rotated QCPItemText "y label" is the y-axis title of all):
//     "square seeds/i", "ce seeds/i"   QCPGraph, scatter only: per-seed values at
//                                      x = slot + kSeedOffset + seedJitter(j, n), the j-th
//                                      of n seeds in ascending seed order
//     "square mean/i", "ce mean/i"     QCPGraph, scatter only: mean at x = slot + kMeanOffset
//     "square std/i", "ce std/i"       QCPErrorBars on the mean graphs
#include <string>
#include <vector>

#include <QString>

#include "losslab/analysis/learning_curves.h"
#include "losslab/analysis/loss_comparison.h"
#include "losslab/analysis/reliability.h"

class QCustomPlot;
class QCPAbstractPlottable;

namespace losslab {

// Horizontal layout inside a slot, in slot units (a slot is 1 wide).
constexpr double kSeedOffset = -0.12; // centre of the seed points (Figures 1 and 3)
constexpr double kSeedJitterHalfWidth = 0.08; // seeds spread evenly over +/- this
constexpr double kMeanOffset = 0.15; // mean marker and error bar (Figures 1 and 3)

// Horizontal offset of the j-th of n seeds: evenly from -kSeedJitterHalfWidth to
// +kSeedJitterHalfWidth (0 when n == 1). Deterministic, so equal values stay visible.
double seedJitter(int index, int count);

// true for metrics stored as fractions that are drawn in %: acc, error, top5, f1
// (with or without a "split/" prefix).
bool isPercentMetric(const std::string& metric);
// "test/acc" -> "test accuracy", "val/top5" -> "validation top-5 accuracy".
std::string metricDisplayName(const std::string& metric);

// Figure 1. Uses the comparisons with this metric whose square group has protocol
// `squareProtocol`, in the order of analysis.taskIds. y: difference x 100 for percent metrics.
void plotSeedDifferences(QCustomPlot& plot, const LossAnalysis& analysis, const std::string& metric,
                         const std::string& squareProtocol);

// Figure 2. `yLabel` is the y-axis title (give the unit, e.g. "validation accuracy (%)");
// empty: derived from the groups' metric. Colour by loss (CE blues, square oranges / purples,
// one hue per loss variant: name, k, M, lr), line style by protocol (early_stopping solid,
// same_epochs_as_ce dashed and a little lighter, fixed_epochs dotted and a little darker).
void plotLearningCurves(QCustomPlot& plot, const std::vector<CurveGroup>& groups, const std::string& yLabel);

// Figure 3. Units come from the comparisons with this metric and square protocol
// `protocol`; a task without a comparison shows its square group of that protocol and its CE
// group (same protocol, else early_stopping), whichever exist, per recipe of the task. Each
// panel has its own y range.
void plotSeedSpread(QCustomPlot& plot, const LossAnalysis& analysis, const std::string& metric,
                    const std::string& protocol);

// Reliability diagram of one task's groups (reliability.h; one split): above, per group the
// accuracy against the mean confidence of each non-empty bin, pooled over seeds, with the
// diagonal of perfect calibration; below, on a log scale, the share (%) of the group's
// examples per bin at the bin's centre. Colours and line styles as Figure 2; each legend entry ends with
// the group's ECE, mean +/- std over seeds ("mean" alone with one seed).
//   "diagonal"      QCPGraph (0,0)-(1,1), not in the legend
//   "reliability/i" QCPGraph: (confidence, accuracy) per non-empty bin of group i
//   "share/i"       QCPGraph in the lower panel: (bin centre, % of examples) per non-empty bin
void plotReliability(QCustomPlot& plot, const std::vector<ReliabilityGroup>& groups);

// Fonts and pens for print at one paper column, for a plot rendered with 1 logical pixel =
// 1 typographic point (writeReportFigures renders so): axis titles 8 pt; tick labels, legend
// and the task names under Figure 3's panels 7 pt; axes 0.6 pt. Fonts get pixel sizes, so the
// layout does not depend on the screen's DPI. Legends lose columns until they fit in
// `viewportWidth` (points); entries still too wide break into lines after ", " or ": ", or,
// when that would take over 2/5 of a 3:2 figure's height, are shortened in the middle with
// the part after their last ": " (a reliability diagram's ECE) kept. Graph names change
// accordingly. Call after the plot function, before rendering.
void applyColumnStyle(QCustomPlot& plot, int viewportWidth = 252);

// The plottable with this objectName, or nullptr.
QCPAbstractPlottable* findPlottable(const QCustomPlot& plot, const QString& objectName);

} // namespace losslab
