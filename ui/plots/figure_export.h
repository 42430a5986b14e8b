#pragma once
// Writes the paper's figures for a report as files (PNG, SVG, PDF). Plain C++ on purpose: no
// Qt type appears here, so the Qt-free CLI can call it when the build has the plots library
// (LOSSLAB_HAVE_PLOTS).
//
// Files, in `outDir` (created when missing):
//   fig1-seed-differences.{png,svg,pdf}   Figure 1, test/acc (a speech-only analysis: test/wer,
//                                         per or cer), square early_stopping pairs
//   fig2-curves-<task>.{png,svg,pdf}      Figure 2, one per entry of curvesByTask; the task id
//                                         as a file name: letters, digits, '.', '-', '_' stay,
//                                         '/' becomes '_', a run of other bytes one '_', and
//                                         then the name ends in '+' and 8 hex digits of the
//                                         id's FNV-1a hash; ids that still meet ("a/b", "a_b")
//                                         get "+2", ... in byte order (docs/report.md)
//   fig3-seed-spread.{png,svg,pdf}        Figure 3, test/acc, early_stopping
//   figure-sweep-*.{png,svg,pdf}          heatmaps of a sweep: writeSweepFigures below
//   fig4-reliability-<task>.{png,svg,pdf} reliability diagrams: writeReliabilityFigures below
// Figures 1 and 3 use the first headline metric (headlineMetrics: "test/acc", or a speech-only
// analysis's error rate, drawn as CE minus square so that positive is square better) and the square-loss protocol "early_stopping"; when the
// analysis has no such comparisons they fall back to the first metric / protocol that has
// some, with a warning. A figure with nothing to draw (e.g. Figure 1 when only one loss ran)
// is skipped with a warning that says why.
//
// Size: every format has the same physical size, widthPx x heightPx at dpi (the defaults,
// 1050 x 700 at 300 dpi, are 3.5 x 2.33 inches: one paper column). PNG has exactly
// widthPx x heightPx pixels and a pHYs chunk saying dpi; SVG and PDF are vector, with the
// physical size in their header. Text is 7-8 pt at that size.
//
// Each file is written under a temporary name in outDir ("<file>.<pid>.tmp") and renamed
// over the final name, so a reader never sees a partial figure; a failed write removes its
// temporary file.
//
// Qt: needs a QApplication. When none exists, one is created on first use and lives until
// the process ends; unless QT_QPA_PLATFORM is set, it is set to "offscreen" first, always
// (even when DISPLAY is set): export never shows a window, and a stale or unreachable X
// display would otherwise abort the process. When a QCoreApplication that is not a
// QApplication exists, throws Error. Call from the main thread (in the GUI: the GUI thread),
// never from a worker.
#include <map>
#include <string>
#include <vector>

#include "losslab/analysis/learning_curves.h"
#include "losslab/analysis/loss_comparison.h"
#include "losslab/analysis/reliability.h"
#include "losslab/analysis/sweep_analysis.h"

namespace losslab {

struct FigureFormats {
    bool png = true, svg = true, pdf = true;
    int widthPx = 1050;
    int heightPx = 700;
    int dpi = 300;
};

// Returns the paths written, in order. Throws Error (naming the path) when outDir cannot be
// created or a file cannot be written, and for sizes or dpi that are not positive.
std::vector<std::string> writeReportFigures(const LossAnalysis& analysis,
                                            const std::map<std::string, std::vector<CurveGroup>>& curvesByTask,
                                            const std::string& outDir, const FigureFormats& formats,
                                            std::vector<std::string>& warnings);

// The heatmaps of a sweep (sweep_heatmap.h), written beside the report's other figures, in the
// same formats and size; nothing when `sweeps` is empty (a report without sweeps is unchanged):
//   figure-sweep-<task>[-<recipe>]-<loss>-<protocol>-<mean|std|diff>[-<axis=value>...].{png,svg,pdf}
// one per family (task, loss and protocol named as fig2's task; a recipe label when the task has
// several base recipes; with more than two axes, one per combination of the others, named by
// it). "diff" only for square losses. A heatmap without any value is skipped with a warning.
// Same threading, errors and atomic writes as writeReportFigures. Returns the paths written.
std::vector<std::string> writeSweepFigures(const SweepAnalysis& sweeps, const std::string& outDir,
                                           const FigureFormats& formats, std::vector<std::string>& warnings);

// Reliability diagrams (plotReliability), one per task among `groups` (in order of first
// appearance; file names as fig2's), in the same formats and size; nothing when `groups` is
// empty (runs stored before schema 7 have no bins), so such reports are unchanged. With
// several recipes of a task, the legend names them. Same threading, errors and atomic writes
// as writeReportFigures. Returns the paths written.
std::vector<std::string> writeReliabilityFigures(const std::vector<ReliabilityGroup>& groups, const std::string& outDir,
                                                 const FigureFormats& formats);

} // namespace losslab
