#include "losslab/report/paper_tables.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "losslab/spec/param_set.h"

namespace losslab {
namespace {

std::string metricOf(const std::string& key) {
    const auto slash = key.find('/');
    return slash == std::string::npos ? key : key.substr(slash + 1);
}
std::string splitOf(const std::string& key) {
    const auto slash = key.find('/');
    return slash == std::string::npos ? "" : key.substr(0, slash);
}

// Fractions shown as percentages in the display tables.
bool isPercent(const std::string& key) {
    const std::string m = metricOf(key);
    return m == "acc" || m == "top5" || m == "f1" || m == "error" || isErrorRate(m);
}
double shown(const std::string& key, double v) { return isPercent(key) ? 100.0 * v : v; }
int decimals(const std::string& key) { return isPercent(key) ? 2 : 4; }

std::string meanStd(const std::string& key, const SeedStats& s, int typicalN) {
    if (s.n == 0) return "-";
    std::string out = formatFixed(shown(key, s.mean), decimals(key));
    if (s.n > 1) out += " ± " + formatFixed(shown(key, s.std), decimals(key));
    if (s.n != typicalN) out += " (n=" + std::to_string(s.n) + ")";
    return out;
}

std::string formatP(double p) {
    if (std::isnan(p)) return "-";
    if (p > 0 && p < 1e-4) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1e", p); // digits only: no locale-dependent point
        std::string s = buf;
        std::replace(s.begin(), s.end(), ',', '.');
        return s;
    }
    return formatFixed(p, 4);
}

std::string seedList(const std::vector<std::int64_t>& seeds) {
    std::string out;
    for (const auto s : seeds) out += (out.empty() ? "" : " ") + std::to_string(s);
    return out;
}

struct Column {
    std::string loss, protocol, title;
};

// A square-loss variant of a task: its name, k, M and learning rate (protocol aside).
struct Variant {
    std::string name;
    double k = 1.0, M = 1.0, lr = 0.0;
    bool none = true; // the task has no square loss
    bool matches(const LossGroupKey& key) const {
        return !none && key.lossName == name && key.k == k && key.M == M && key.lr == lr;
    }
};

// A task and one of its training recipes: a block of rows of the main table.
struct RecipeRows {
    std::string task;
    RunRecipe recipe;
    std::string taskLabel; // "task (hidden [16])"
};

const LossGroup* findGroup(const LossAnalysis& a, const RecipeRows& unit, const std::string& loss,
                           const std::string& protocol, const Variant& variant) {
    for (const auto& g : a.groups)
        if (g.key.taskId == unit.task && g.key.recipe == unit.recipe && g.key.loss == loss && g.key.protocol == protocol &&
            (loss != "square" || variant.matches(g.key)))
            return &g;
    return nullptr;
}

// The (task, recipe) blocks, in group order (task order, then recipes in order of appearance).
std::vector<RecipeRows> recipeBlocks(const LossAnalysis& a) {
    std::vector<RecipeRows> out;
    for (const auto& task : a.taskIds)
        for (const auto& g : a.groups)
            if (g.key.taskId == task && std::none_of(out.begin(), out.end(), [&](const RecipeRows& r) {
                    return r.task == task && r.recipe == g.key.recipe;
                }))
                out.push_back({task, g.key.recipe, g.key.taskLabel()});
    return out;
}

// The cross-entropy group a row's CE column of `protocol` shows: the one the row's square group
// of that protocol is paired with (for early stopping, else the same_epochs_as_ce group's), so
// that a row reads as the comparison the statistics make; else the first of the protocol.
const LossGroup* ceGroupFor(const LossAnalysis& a, const RecipeRows& unit, const std::string& protocol,
                            const Variant& variant) {
    std::vector<std::string> squareProtocols = {protocol};
    if (protocol == "early_stopping") squareProtocols.push_back("same_epochs_as_ce");
    for (const auto& sqProtocol : squareProtocols) {
        const LossGroup* sq = findGroup(a, unit, "square", sqProtocol, variant);
        if (!sq) continue;
        for (const auto& c : a.comparisons)
            if (c.square == sq->key)
                for (const auto& g : a.groups)
                    if (g.key == c.ce && g.key.protocol == protocol) return &g;
    }
    return findGroup(a, unit, "ce", protocol, variant);
}

// Square-loss variants of a task and recipe, in group order; one "none" variant when there is none.
std::vector<Variant> squareVariants(const LossAnalysis& a, const RecipeRows& unit) {
    std::vector<Variant> out;
    for (const auto& g : a.groups)
        if (g.key.taskId == unit.task && g.key.recipe == unit.recipe && g.key.loss == "square" &&
            std::none_of(out.begin(), out.end(), [&](const Variant& v) { return v.matches(g.key); }))
            out.push_back({g.key.lossName, g.key.k, g.key.M, g.key.lr, false});
    if (out.empty()) out.push_back({});
    return out;
}

// "name", or "name, k=.., M=.., lr=.." when another variant of the task has the same name.
std::string variantLabel(const std::vector<Variant>& all, const Variant& v) {
    const auto sameName = std::count_if(all.begin(), all.end(), [&](const Variant& o) { return o.name == v.name; });
    if (sameName < 2) return v.name;
    return v.name + ", k=" + formatShortest(v.k) + ", M=" + formatShortest(v.M) + ", lr=" + formatShortest(v.lr);
}

// The seed counts of the table's cells (a group's completed runs with a value of the metric):
// the most common one (on a tie the larger, so that the cells marked "(n=...)" are the ones
// over fewer seeds), the smallest and the largest; 0s when no cell has a value. A group whose
// runs all diverged shows "-", so it must not decide the caption.
struct SeedCounts {
    int typical = 0, low = 0, high = 0;
};

SeedCounts seedCounts(const LossAnalysis& a, const std::vector<std::string>& metrics) {
    std::map<int, int> counts;
    for (const auto& g : a.groups)
        for (const auto& metric : metrics) {
            const auto found = g.stats.find(metric);
            if (found != g.stats.end() && found->second.n > 0) ++counts[found->second.n];
        }
    SeedCounts out;
    int bestCount = -1;
    for (const auto& [n, c] : counts)
        if (c >= bestCount) { out.typical = n; bestCount = c; }
    if (!counts.empty()) {
        out.low = counts.begin()->first;
        out.high = counts.rbegin()->first;
    }
    return out;
}

// "over 5 seeds", or with groups of different counts "over 3 to 5 seeds, 5 unless a cell gives
// its n": the caption alone never claims more seeds than a cell has.
std::string seedsPhrase(const SeedCounts& c) {
    const auto seeds = [](int n) { return std::to_string(n) + (n == 1 ? " seed" : " seeds"); };
    if (c.low == c.high) return "over " + seeds(c.typical);
    return "over " + std::to_string(c.low) + " to " + seeds(c.high) + ", " + std::to_string(c.typical) +
           " unless a cell gives its n";
}

bool anyRecipeLabel(const LossAnalysis& a) {
    return std::any_of(a.groups.begin(), a.groups.end(), [](const LossGroup& g) { return !g.key.recipeLabel.empty(); });
}

std::vector<std::string> groupKeyCells(const LossGroupKey& k) {
    return {k.lossName, k.loss, formatFull(k.k), formatFull(k.M), formatFull(k.lr), k.protocol};
}

} // namespace

std::string metricLabel(const std::string& key) {
    const std::string m = metricOf(key);
    std::string name = m == "acc" ? "accuracy" : m == "top5" ? "top-5 accuracy" : m == "f1" ? "F1"
                     : m == "error" ? "error rate" : m == "ece" ? "ECE" : m == "brier" ? "Brier score"
                     : m == "wer" ? "WER" : m == "per" ? "PER" : m == "cer" ? "CER" : m;
    const std::string split = splitOf(key);
    if (!split.empty()) name = (split == "val" ? "validation" : split) + " " + name;
    return isPercent(key) ? name + " (%)" : name;
}

PaperTable mainTable(const LossAnalysis& a, const AnalysisOptions& options) {
    const std::vector<Column> all = {{"square", "early_stopping", "Square loss"},
                                     {"ce", "early_stopping", "Cross-entropy"},
                                     {"square", "same_epochs_as_ce", "Square loss, same epochs as CE"},
                                     {"square", "fixed_epochs", "Square loss, fixed epochs"},
                                     {"ce", "fixed_epochs", "Cross-entropy, fixed epochs"}};
    std::vector<Column> cols;
    for (const auto& c : all)
        if (std::any_of(a.groups.begin(), a.groups.end(),
                        [&](const LossGroup& g) { return g.key.loss == c.loss && g.key.protocol == c.protocol; }))
            cols.push_back(c);
    const std::vector<std::string> metrics = headlineMetrics(a, options);
    const SeedCounts counts = seedCounts(a, metrics);
    const int n = counts.typical;

    PaperTable t;
    t.display.title = n == 0 ? std::string("Test results: no run completed")
                             : "Test results, mean ± std " + seedsPhrase(counts) +
                                   (cols.size() > 1 ? " (the best mean of each row in bold)" : "");
    if (options.split != "test") t.display.title.replace(0, 4, options.split == "val" ? "Validation" : "Training");
    t.display.label = "tab:losslab-main";
    t.display.header = {"Task", "Metric"};
    t.display.numeric = {false, false};
    for (const auto& c : cols) {
        t.display.header.push_back(c.title);
        t.display.numeric.push_back(true);
    }
    t.data.header = {"task", "recipe", "metric", "split", "row_variant", "loss_name", "loss", "k", "M", "lr", "protocol",
                     "n", "mean", "std", "min", "max", "best_in_row"};

    // One row per metric of a block: its label, the variant's CSV label and a group per column.
    auto addRows = [&](const RecipeRows& unit, const std::string& label, const std::string& variantText,
                       const std::vector<const LossGroup*>& groups) {
        for (const auto& metric : metrics) {
            // Best mean of the row, by the metric's direction.
            double best = std::numeric_limits<double>::quiet_NaN();
            for (const auto* g : groups) {
                if (!g || !g->stats.count(metric) || g->stats.at(metric).n == 0) continue;
                const double m = g->stats.at(metric).mean;
                if (std::isnan(best) || (lowerIsBetter(metric) ? m < best : m > best)) best = m;
            }
            if (std::none_of(groups.begin(), groups.end(), [&](const LossGroup* g) { return g && g->stats.count(metric); }))
                continue;
            std::vector<TableCell> row = {{label, false}, {metricLabel(metric), false}};
            for (const auto* g : groups) {
                if (!g) {
                    row.push_back({"-", false});
                    continue;
                }
                // A group without a value (every run diverged or failed) shows "-" and still has
                // its CSV row, with n = 0 and empty numbers: the CSV holds every cell of the table.
                const auto found = g->stats.find(metric);
                const SeedStats s = found == g->stats.end() ? seedStats({}) : found->second;
                const bool isBest = s.n > 0 && s.mean == best && cols.size() > 1;
                row.push_back({meanStd(metric, s, n), isBest});
                std::vector<TableCell> data = {{unit.task, false}, {g->key.recipeLabel, false}, {metricOf(metric), false},
                                               {splitOf(metric), false}, {variantText, false}};
                for (const auto& cell : groupKeyCells(g->key)) data.push_back({cell, false});
                for (const auto& cell : {std::to_string(s.n), formatFull(s.mean), formatFull(s.std), formatFull(s.min),
                                         formatFull(s.max), std::string(isBest ? "true" : "false")})
                    data.push_back({cell, false});
                t.data.rows.push_back(data);
            }
            t.display.rows.push_back(row);
        }
    };

    for (const auto& unit : recipeBlocks(a)) {
        const std::vector<Variant> variants = squareVariants(a, unit);
        std::set<const LossGroup*> shown;
        std::vector<std::vector<const LossGroup*>> variantGroups;
        for (const auto& variant : variants) {
            std::vector<const LossGroup*> groups;
            for (const auto& c : cols)
                groups.push_back(c.loss == "ce" ? ceGroupFor(a, unit, c.protocol, variant)
                                                : findGroup(a, unit, c.loss, c.protocol, variant));
            shown.insert(groups.begin(), groups.end());
            variantGroups.push_back(std::move(groups));
        }
        // Cross-entropy groups that no row pairs with (a second CE loss, its learning rate swept)
        // get rows of their own, one per loss name and learning rate: nothing stored is hidden.
        std::vector<std::pair<std::string, double>> extraCe;
        for (const auto& g : a.groups)
            if (g.key.taskId == unit.task && g.key.recipe == unit.recipe && g.key.loss == "ce" && !shown.count(&g) &&
                std::find(extraCe.begin(), extraCe.end(), std::make_pair(g.key.lossName, g.key.lr)) == extraCe.end())
                extraCe.emplace_back(g.key.lossName, g.key.lr);
        const bool labelled = variants.size() + extraCe.size() > 1;
        for (std::size_t v = 0; v < variants.size(); ++v) {
            const std::string variantText = variants[v].none ? "" : variantLabel(variants, variants[v]);
            const std::string label =
                labelled && !variants[v].none ? unit.taskLabel + " [" + variantText + "]" : unit.taskLabel;
            addRows(unit, label, variantText, variantGroups[v]);
        }
        for (const auto& extra : extraCe) {
            const std::string& name = extra.first;
            const double lr = extra.second;
            const auto sameName = std::count_if(extraCe.begin(), extraCe.end(), [&](const auto& e) { return e.first == name; });
            const std::string variantText = sameName > 1 ? name + ", lr=" + formatShortest(lr) : name;
            std::vector<const LossGroup*> groups;
            for (const auto& c : cols) {
                const LossGroup* found = nullptr;
                if (c.loss == "ce")
                    for (const auto& g : a.groups)
                        if (g.key.taskId == unit.task && g.key.recipe == unit.recipe && g.key.loss == "ce" &&
                            g.key.protocol == c.protocol && g.key.lossName == name && g.key.lr == lr && !shown.count(&g))
                            found = &g;
                groups.push_back(found);
            }
            addRows(unit, unit.taskLabel + " [" + variantText + "]", variantText, groups);
        }
    }
    for (const auto& note : a.notes) t.display.notes.push_back(note);
    for (const auto& g : a.groups)
        if (!g.notCompleted.empty()) {
            std::string list;
            for (const auto& s : g.notCompleted) list += (list.empty() ? "" : "; ") + s;
            t.display.notes.push_back(g.key.taskLabel() + " " + g.key.label() + ": left out (not completed): " + list);
        }
    return t;
}

PaperTable stdTable(const LossAnalysis& a) {
    PaperTable t;
    t.display.title = "Standard deviation over seeds (the smaller in bold)";
    t.display.label = "tab:losslab-std";
    t.display.header = {"Task", "Metric", "Square loss", "Cross-entropy"};
    t.display.numeric = {false, false, true, true};
    t.data.header = {"task", "recipe", "metric", "split", "square_loss_name", "k", "M", "square_lr", "protocol", "square_n",
                     "square_std", "ce_n", "ce_std", "smaller"};
    for (const auto& s : a.stds) {
        const int d = decimals(s.metric);
        t.display.rows.push_back({{s.square.taskLabel() + (s.square.lossName != "square" ? " [" + s.square.lossName + "]" : ""), false},
                                  {metricLabel(s.metric), false},
                                  {formatFixed(shown(s.metric, s.squareStd), d + 1), s.smaller == "square"},
                                  {formatFixed(shown(s.metric, s.ceStd), d + 1), s.smaller == "ce"}});
        std::vector<TableCell> row;
        for (const auto& cell : {s.taskId, s.square.recipeLabel, metricOf(s.metric), splitOf(s.metric), s.square.lossName, formatFull(s.square.k),
                                 formatFull(s.square.M), formatFull(s.square.lr), s.square.protocol, std::to_string(s.squareN),
                                 formatFull(s.squareStd), std::to_string(s.ceN), formatFull(s.ceStd), s.smaller})
            row.push_back({cell, false});
        t.data.rows.push_back(row);
    }
    if (a.stdComparable > 0)
        t.display.notes.push_back("Square loss has the smaller std in " + std::to_string(a.squareSmallerStd) + " of " +
                                  std::to_string(a.stdComparable) + " comparison(s) (" +
                                  (a.stds.empty() ? "" : metricLabel(a.stds.front().metric)) + ", one per task" +
                                  (anyRecipeLabel(a) ? ", recipe" : "") + " and square-loss variant).");
    for (const auto& note : a.notes) t.display.notes.push_back(note);
    return t;
}

PaperTable statsTable(const LossAnalysis& a) {
    PaperTable t;
    t.display.title = "Paired by seed: square loss minus cross-entropy (positive = square better; errors as CE minus square)";
    t.display.label = "tab:losslab-stats";
    t.display.header = {"Task", "Metric", "Square loss", "Compared with", "Pairs", "Mean diff.", "Std", "95% CI",
                        "t-test p", "Wilcoxon p", "Notes"};
    t.display.numeric = {false, false, false, false, true, true, true, true, true, true, false};
    t.data.header = {"task", "recipe", "metric", "split", "square_loss_name", "k", "M", "square_lr", "square_protocol", "ce_loss_name",
                     "ce_lr", "ce_protocol", "pairs", "mean_diff", "std_diff", "ci_low", "ci_high", "ci_level", "t",
                     "p_t", "w_plus", "p_wilcoxon", "p_wilcoxon_min", "paired_seeds", "square_only_seeds",
                     "ce_only_seeds", "notes"};
    for (const auto& c : a.comparisons) {
        const PairedTest& p = c.test;
        const int d = decimals(c.metric);
        std::vector<std::string> notes = p.notes;
        if (!c.squareOnlySeeds.empty()) notes.push_back("seeds without a CE result: " + seedList(c.squareOnlySeeds));
        if (!c.ceOnlySeeds.empty()) notes.push_back("seeds without a square-loss result: " + seedList(c.ceOnlySeeds));
        std::string noteText;
        for (const auto& n : notes) noteText += (noteText.empty() ? "" : "; ") + n;
        const std::string ci = p.n < 2 ? "-" : "[" + formatFixed(shown(c.metric, p.ciLow), d) + ", " +
                                                 formatFixed(shown(c.metric, p.ciHigh), d) + "]";
        t.display.rows.push_back({{c.square.taskLabel(), false}, {metricLabel(c.metric), false}, {c.square.label(), false},
                                  {c.ce.label(), false}, {std::to_string(p.n), false},
                                  {formatFixed(shown(c.metric, p.mean), d), false}, {formatFixed(shown(c.metric, p.std), d), false},
                                  {ci, false}, {formatP(p.tPValue), false}, {formatP(p.wilcoxonPValue), false}, {noteText, false}});
        std::vector<TableCell> row;
        for (const auto& cell : {c.taskId, c.square.recipeLabel, metricOf(c.metric), splitOf(c.metric), c.square.lossName, formatFull(c.square.k),
                                 formatFull(c.square.M), formatFull(c.square.lr), c.square.protocol, c.ce.lossName,
                                 formatFull(c.ce.lr), c.ce.protocol, std::to_string(p.n), formatFull(p.mean), formatFull(p.std),
                                 formatFull(p.ciLow), formatFull(p.ciHigh), formatFull(p.level), formatFull(p.tStatistic),
                                 formatFull(p.tPValue), formatFull(p.wilcoxonStatistic), formatFull(p.wilcoxonPValue),
                                 formatFull(p.wilcoxonMinPValue), seedList(c.pairedSeeds), seedList(c.squareOnlySeeds),
                                 seedList(c.ceOnlySeeds), noteText})
            row.push_back({cell, false});
        t.data.rows.push_back(row);
    }
    t.display.notes.push_back("Differences in percentage points for accuracies; the interval is Student's t over the pairs.");
    for (const auto& note : a.notes) t.display.notes.push_back(note);
    return t;
}

PaperTable headlineTable(const LossAnalysis& a) {
    PaperTable t;
    t.display.title = "Across tasks: square loss vs cross-entropy";
    t.display.label = "tab:losslab-headline";
    t.display.header = {"Metric", "Square-loss protocol", "Domain", "Square >= CE (by mean)", "Square better", "Tie", "CE better", "Undecided"};
    t.display.numeric = {false, false, false, true, true, true, true, true};
    t.data.header = {"metric", "split", "square_protocol", "domain", "tasks", "square_at_least_ce", "wins", "ties",
                     "losses", "undecided"};
    for (const auto& h : a.headline) {
        t.display.rows.push_back({{metricLabel(h.metric), false}, {h.protocol, false}, {h.domain, false},
                                  {std::to_string(h.squareAtLeastCe) + " of " + std::to_string(h.tasks), false},
                                  {std::to_string(h.wins), false}, {std::to_string(h.ties), false},
                                  {std::to_string(h.losses), false}, {std::to_string(h.undecided), false}});
        std::vector<TableCell> row;
        for (const auto& cell : {metricOf(h.metric), splitOf(h.metric), h.protocol, h.domain, std::to_string(h.tasks),
                                 std::to_string(h.squareAtLeastCe), std::to_string(h.wins), std::to_string(h.ties),
                                 std::to_string(h.losses), std::to_string(h.undecided)})
            row.push_back({cell, false});
        t.data.rows.push_back(row);
    }
    t.display.notes.push_back("Square better / CE better: the 95% interval of the paired differences (square minus CE) lies above / "
                              "below 0; tie: it contains 0; undecided: fewer than 2 pairs.");
    if (anyRecipeLabel(a))
        t.display.notes.push_back("A task run with several recipes counts once per recipe: the counts are of task and recipe "
                                  "comparisons.");
    return t;
}

} // namespace losslab
