#pragma once
// Heatmaps of a sweep (docs/sweeps.md, "The report of a sweep"), drawn into a QCustomPlot from
// the plain SweepAnalysis of core: one family (task x base recipe x loss x protocol), its first
// axis as columns and its second as rows (one axis: a single row; more than two: one heatmap
// per combination of the other axes' values, `fixed`). Each cell shows, annotated with its
// number, the mean or the std over seeds of the test headline metric, or for a square loss the
// paired difference to cross-entropy (positive = square better). Percent metrics (acc, error,
// ...) are drawn x 100: % for means and stds, percentage points for differences.
//
// Colours: mean and std a sequential palette (viridis); the difference a diverging one (red =
// CE better, white = 0, blue = square better) whose range is symmetric about 0. A cell without
// a value (no completed run, no pair, std of one seed) is light grey and annotated "–".
//
// Objects (stable QObject::objectName):
//   "heatmap"             QCPColorMap, cell (c, r) at key c, value r; data NaN where empty
//   "colour scale"        QCPColorScale (layout element, right of the map)
//   "cell/<c>/<r>"        QCPItemText, the cell's number as shown
//   "title"               QCPTextElement above the map
// Replaces everything on the plot; leaves the widget's fonts alone; no replot(). GUI thread only.
#include <string>
#include <vector>

#include <QString>

#include "losslab/analysis/sweep_analysis.h"

class QCustomPlot;

namespace losslab {

enum class SweepValue { Mean, Std, Diff };

// "mean", "std", "diff": the last part of a heatmap's file name.
const char* sweepValueName(SweepValue value);

// Whether the family has heatmaps of this value: Diff only for square losses.
bool sweepHasValue(const SweepFamily& family, SweepValue value);

// The combinations of the values of the axes after the first two, in grid order; one empty
// combination when the family has at most two axes.
std::vector<std::vector<std::string>> sweepSlices(const SweepFamily& family);

// "hidden=[16], wd=0.1" for a slice ("" for the empty one).
std::string sweepSliceLabel(const SweepFamily& family, const std::vector<std::string>& fixed);

// The numbers a heatmap shows: values[row][column] in display units (x 100 for percent
// metrics), NaN where there is none.
struct SweepGrid {
    std::string columnAxis, rowAxis; // recipe keys; rowAxis "" with one axis
    std::vector<std::string> columns, rows;
    std::vector<std::vector<double>> values;
    int filled() const; // cells with a finite value
};
SweepGrid sweepGrid(const SweepAnalysis& sweeps, const SweepFamily& family, SweepValue value,
                    const std::vector<std::string>& fixed);

void plotSweepHeatmap(QCustomPlot& plot, const SweepAnalysis& sweeps, const SweepFamily& family, SweepValue value,
                      const std::vector<std::string>& fixed);

// Print style for a heatmap after applyColumnStyle(): colour-scale axis and cell numbers at 7 pt.
void applyHeatmapStyle(QCustomPlot& plot);

} // namespace losslab
