#include "losslab/report/sweep_tables.h"

#include <algorithm>
#include <cmath>

#include "losslab/spec/param_set.h"

namespace losslab {
namespace {

std::string metricOf(const std::string& key) {
    const auto slash = key.find('/');
    return slash == std::string::npos ? key : key.substr(slash + 1);
}

// As the paper tables: fractions in %, two decimals; other metrics as stored, four.
bool isPercent(const std::string& key) {
    const std::string m = metricOf(key);
    return m == "acc" || m == "top5" || m == "f1" || m == "error" || isErrorRate(m);
}
double shown(const std::string& key, double v) { return isPercent(key) ? 100.0 * v : v; }
int decimals(const std::string& key) { return isPercent(key) ? 2 : 4; }

std::string meanStdN(const std::string& key, const SeedStats& s) {
    if (s.n == 0) return "-";
    std::string out = formatFixed(shown(key, s.mean), decimals(key));
    if (s.n > 1) out += " ± " + formatFixed(shown(key, s.std), decimals(key));
    return out + " (n=" + std::to_string(s.n) + ")";
}

std::string seedList(const std::vector<std::int64_t>& seeds) {
    std::string out;
    for (const auto s : seeds) out += (out.empty() ? "" : " ") + std::to_string(s);
    return out;
}

std::string differenceText(const std::string& key, const PairedTest& p) {
    if (p.n == 0) return "-";
    const int d = decimals(key);
    std::string out = formatFixed(shown(key, p.mean), d);
    if (p.n > 1) out += " [" + formatFixed(shown(key, p.ciLow), d) + ", " + formatFixed(shown(key, p.ciHigh), d) + "]";
    return out + " (n=" + std::to_string(p.n) + ")";
}

std::string configurationsText(const TunedLoss& t) {
    std::string out = std::to_string(t.configurations);
    if (t.completedConfigurations != t.configurations) out += " (" + std::to_string(t.completedConfigurations) + " completed)";
    return out;
}

std::string numberOrEmpty(const SeedStats& s, double v) { return s.n == 0 ? std::string() : formatFull(v); }

} // namespace

PaperTable tunedTable(const SweepAnalysis& s) {
    PaperTable t;
    const std::string testLabel = metricLabel(s.metric);
    const std::string valLabel = metricLabel(s.valMetric);
    const std::string valWords = valLabel.substr(0, valLabel.find(" ("));
    t.display.title = "Tuned comparison: each loss at its grid point with the best mean " + valWords +
                      " (never test); " + testLabel.substr(0, testLabel.find(" (")) + ", mean ± std over seeds";
    t.display.label = "tab:losslab-tuned";
    t.display.header = {"Task", "Protocol", "Loss", "Chosen point", "Configurations", testLabel + ", mean ± std (n)",
                        valLabel + " of the chosen point", "Tuned square − tuned CE, 95% CI"};
    t.display.numeric = {false, false, false, false, true, true, true, true};
    t.data.header = {"task", "recipe", "protocol", "loss_name", "loss", "swept", "chosen_point", "k", "M", "lr",
                     "configurations", "completed_configurations", "tuned", "metric", "val_n", "val_mean", "val_std",
                     "test_n", "test_mean", "test_std", "ce_loss_name", "ce_protocol", "pairs", "mean_diff", "std_diff",
                     "ci_low", "ci_high", "ci_level", "p_t", "paired_seeds", "square_only_seeds", "ce_only_seeds",
                     "untuned_reason"};
    for (const auto& row : s.tuned) {
        const bool square = row.loss == "square";
        const TunedLoss* ce = row.ceIndex >= 0 ? &s.tuned[static_cast<std::size_t>(row.ceIndex)] : nullptr;
        const std::string chosen = !row.tuned ? "not tuned: " + row.untunedReason
                                   : row.swept ? row.chosenLabel()
                                               : "not swept (" + row.chosenLabel() + ")";
        t.display.rows.push_back({{row.taskLabel(), false},
                                  {row.protocol, false},
                                  {row.lossName, false},
                                  {chosen, false},
                                  {configurationsText(row), false},
                                  {row.tuned ? meanStdN(s.metric, row.test) : "-", false},
                                  {row.tuned && row.val.n > 0 ? formatFixed(shown(s.valMetric, row.val.mean), decimals(s.valMetric)) : "-", false},
                                  {square && row.tuned ? differenceText(s.metric, row.diff) : "", false}});
        std::vector<TableCell> data;
        const bool pairedRow = square && ce && row.tuned;
        for (const auto& cell :
             {row.taskId, row.recipeLabel, row.protocol, row.lossName, row.loss, std::string(row.swept ? "true" : "false"),
              row.tuned && row.swept ? row.chosenLabel() : std::string(), row.tuned ? formatFull(row.chosen.k) : std::string(),
              row.tuned ? formatFull(row.chosen.M) : std::string(), row.tuned ? formatFull(row.chosen.lr) : std::string(),
              std::to_string(row.configurations), std::to_string(row.completedConfigurations),
              std::string(row.tuned ? "true" : "false"), metricOf(s.metric), std::to_string(row.val.n),
              numberOrEmpty(row.val, row.val.mean), numberOrEmpty(row.val, row.val.std), std::to_string(row.test.n),
              numberOrEmpty(row.test, row.test.mean), numberOrEmpty(row.test, row.test.std),
              pairedRow ? ce->lossName : std::string(), pairedRow ? ce->protocol : std::string(),
              pairedRow ? std::to_string(row.diff.n) : std::string(), pairedRow ? formatFull(row.diff.mean) : std::string(),
              pairedRow ? formatFull(row.diff.std) : std::string(), pairedRow ? formatFull(row.diff.ciLow) : std::string(),
              pairedRow ? formatFull(row.diff.ciHigh) : std::string(), pairedRow ? formatFull(row.diff.level) : std::string(),
              pairedRow ? formatFull(row.diff.tPValue) : std::string(), seedList(row.pairedSeeds),
              seedList(row.squareOnlySeeds), seedList(row.ceOnlySeeds), row.untunedReason})
            data.push_back({cell, false});
        t.data.rows.push_back(data);
    }
    t.display.notes.push_back("Each loss's grid point was chosen by its mean " + valWords +
                              " over the completed seeds, never on test (ties: the first point in grid order), among the "
                              "points whose runs all completed where there are any; the test column is that point's result.");
    t.display.notes.push_back("Configurations: the grid points each loss was given (every point with a stored run, "
                              "completed or not; \"(n completed)\" when fewer have a completed run); a loss no sweep "
                              "varied counts 1. A loss tuned over more points had more chances to find a good one.");
    t.display.notes.push_back("Tuned square − tuned CE: paired by seed with the tuned cross-entropy of the same task, "
                              "recipe and protocol (early stopping for same_epochs_as_ce); positive = square better "
                              "(errors as CE minus square), in percentage points for accuracies, with Student's t interval.");
    for (const auto& note : s.notes) t.display.notes.push_back(note);
    return t;
}

ReportTable sweepGridTable(const SweepAnalysis& s) {
    ReportTable t;
    std::size_t maxAxes = 0;
    for (const auto& f : s.families) maxAxes = std::max(maxAxes, f.axes.size());
    t.header = {"task", "recipe", "loss_name", "loss", "protocol"};
    for (std::size_t a = 1; a <= maxAxes; ++a) {
        t.header.push_back("axis_" + std::to_string(a));
        t.header.push_back("value_" + std::to_string(a));
    }
    for (const std::string col : {"k", "M", "lr", "runs", "metric", "val_n", "val_mean", "val_std", "test_n", "test_mean",
                                  "test_std", "ce_lr", "pairs", "diff_mean", "diff_ci_low", "diff_ci_high", "not_completed"})
        t.header.push_back(col);
    for (const auto& f : s.families)
        for (const auto& p : f.points) {
            std::vector<std::string> cells = {f.taskId, f.recipeLabel, f.lossName, f.loss, f.protocol};
            for (std::size_t a = 0; a < maxAxes; ++a) {
                cells.push_back(a < f.axes.size() ? f.axes[a] : std::string());
                cells.push_back(a < p.values.size() ? p.values[a] : std::string());
            }
            std::string notCompleted;
            for (const auto& n : p.notCompleted) notCompleted += (notCompleted.empty() ? "" : "; ") + n;
            for (const auto& cell :
                 {formatFull(p.key.k), formatFull(p.key.M), formatFull(p.key.lr), std::to_string(p.runs), metricOf(s.metric),
                  std::to_string(p.val.n), numberOrEmpty(p.val, p.val.mean), numberOrEmpty(p.val, p.val.std),
                  std::to_string(p.test.n), numberOrEmpty(p.test, p.test.mean), numberOrEmpty(p.test, p.test.std),
                  p.paired ? formatFull(p.ce.lr) : std::string(), p.paired ? std::to_string(p.diff.n) : std::string(),
                  p.paired ? formatFull(p.diff.mean) : std::string(), p.paired ? formatFull(p.diff.ciLow) : std::string(),
                  p.paired ? formatFull(p.diff.ciHigh) : std::string(), notCompleted})
                cells.push_back(cell);
            std::vector<TableCell> row;
            for (auto& c : cells) row.push_back({c, false});
            t.rows.push_back(row);
        }
    return t;
}

} // namespace losslab
