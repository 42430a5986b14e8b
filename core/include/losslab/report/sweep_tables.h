#pragma once
// The report's tables of a sweep (docs/report.md, "Sweeps"), built from a SweepAnalysis in the
// style of paper_tables.h: `display` for Markdown and LaTeX (% for accuracies, mean ± std),
// `data` for CSV (one value per column, full precision, fractions). Torch-free, Qt-free.
#include "losslab/analysis/sweep_analysis.h"
#include "losslab/report/paper_tables.h"
#include "losslab/report/report_table.h"

namespace losslab {

// table-tuned: per task, base recipe, protocol and loss, the grid point chosen on the
// validation split, the configurations the loss was given, its test mean ± std (n), the chosen
// point's validation mean, and for square losses the paired difference tuned square − tuned CE
// with its 95 % t interval. The notes say how the choice was made.
PaperTable tunedTable(const SweepAnalysis& sweeps);

// sweep-grid.csv: one row per grid point of every family: task, recipe label, loss, protocol,
// axis_1 / value_1 ... (as many pairs as the family with the most axes), runs, n, validation
// and test mean and std, and the paired difference to CE (mean, 95 % interval).
ReportTable sweepGridTable(const SweepAnalysis& sweeps);

} // namespace losslab
