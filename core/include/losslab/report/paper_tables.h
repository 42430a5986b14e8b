#pragma once
// The report's tables, built from a LossAnalysis. Each comes twice: `display` (what a paper
// shows: "mean ± std" in %, the better value emphasised) for Markdown and LaTeX, and `data`
// (tidy, one value per column, full precision, fractions not %) for CSV. Torch-free.
#include <string>

#include "losslab/analysis/loss_comparison.h"
#include "losslab/report/report_table.h"

namespace losslab {

struct PaperTable {
    ReportTable display;
    ReportTable data;
};

// The paper's main table (Tables 2, 3, 5, 7): one row per task (and training recipe, and
// square-loss variant) and metric; a task with several recipes names each by its recipe label
// ("task (hidden [16])"), in every table, and the CSVs have a `recipe` column; columns square loss, cross-entropy, square loss with the same epochs as CE (and the
// fixed-epoch pair when run), each mean ± std over seeds; the best mean of a row emphasised.
PaperTable mainTable(const LossAnalysis& analysis, const AnalysisOptions& options);
// The paper's Table 8: std over seeds per task and loss, the smaller emphasised.
PaperTable stdTable(const LossAnalysis& analysis);
// Paired differences by seed (positive = square better): mean, std, 95 % t interval,
// paired t-test and exact Wilcoxon p-values, unpaired seeds and notes.
PaperTable statsTable(const LossAnalysis& analysis);
// "square >= CE in X of Y tasks" and win / tie / loss by interval, per metric and domain.
PaperTable headlineTable(const LossAnalysis& analysis);

// "accuracy (%)", "F1 (%)", "ECE" ... for a metric key such as "test/acc".
std::string metricLabel(const std::string& metricKey);

} // namespace losslab
