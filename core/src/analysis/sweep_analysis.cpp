#include "losslab/analysis/sweep_analysis.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <locale>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "losslab/spec/param_set.h"

namespace losslab {
namespace {

bool isLossAxis(const std::string& axis) { return axis.compare(0, 5, "loss.") == 0; }

// The value of `axis` at the group `key`: loss axes from the key's numbers (the text the key
// shows), others from its training recipe.
std::string axisValue(const LossGroupKey& key, const std::string& axis) {
    if (axis == "loss.k") return formatShortest(key.k);
    if (axis == "loss.M") return formatShortest(key.M);
    if (axis == "loss.lr") return formatShortest(key.lr);
    const auto it = key.recipe.find(axis);
    return it == key.recipe.end() ? std::string("unset") : it->second;
}

// "15" -> {15}, "[64, 32]" -> {64, 32}; false when any element is not a number.
bool parseNumbers(std::string text, std::vector<double>& out) {
    out.clear();
    if (!text.empty() && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    std::stringstream items(text);
    std::string item;
    while (std::getline(items, item, ',')) {
        std::istringstream in(item);
        in.imbue(std::locale::classic());
        double v = 0.0;
        if (!(in >> v)) return false;
        in >> std::ws;
        if (!in.eof()) return false;
        out.push_back(v);
    }
    return !out.empty();
}

// Values in ascending numeric order when all are numbers (or lists of numbers), else as given.
void orderValues(std::vector<std::string>& values) {
    std::vector<std::vector<double>> numbers(values.size());
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!parseNumbers(values[i], numbers[i])) return;
    std::vector<std::size_t> order(values.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return numbers[a] < numbers[b]; });
    std::vector<std::string> sorted;
    for (const auto i : order) sorted.push_back(values[i]);
    values = sorted;
}

std::string seedText(const std::vector<std::int64_t>& seeds) {
    std::string out;
    for (const auto s : seeds) out += (out.empty() ? "" : " ") + std::to_string(s);
    return out;
}

// The values of a loss the family's axes do not vary (so that two families never share a cell).
std::string fixedLossParams(const LossGroupKey& key, const std::vector<std::string>& axes) {
    std::string out;
    for (const std::string axis : {"loss.k", "loss.M", "loss.lr"})
        if (std::find(axes.begin(), axes.end(), axis) == axes.end()) out += axis + "=" + axisValue(key, axis) + ";";
    return out;
}

struct FamilyId {
    std::string taskId;
    RunRecipe baseRecipe;
    std::string lossName, loss, protocol;
    std::vector<std::string> axes;
    std::string fixed;
    bool operator<(const FamilyId& o) const {
        return std::tie(taskId, baseRecipe, lossName, loss, protocol, axes, fixed) <
               std::tie(o.taskId, o.baseRecipe, o.lossName, o.loss, o.protocol, o.axes, o.fixed);
    }
};

// Pairs `square` with `ce` by seed on `metric`, positive = square better.
void pairBySeed(const LossGroup& square, const LossGroup& ce, const std::string& metric, double level,
                std::vector<std::int64_t>& paired, std::vector<std::int64_t>& squareOnly, std::vector<std::int64_t>& ceOnly,
                PairedTest& test) {
    static const std::map<std::int64_t, double> kNone;
    const auto sqIt = square.values.find(metric);
    const auto ceIt = ce.values.find(metric);
    const auto& sqValues = sqIt == square.values.end() ? kNone : sqIt->second;
    const auto& ceValues = ceIt == ce.values.end() ? kNone : ceIt->second;
    std::vector<double> differences;
    // A seed whose value is not a number on one side is unpaired on the other side only.
    for (const auto& [seed, v] : sqValues) {
        if (!std::isfinite(v)) continue;
        const auto other = ceValues.find(seed);
        if (other == ceValues.end() || !std::isfinite(other->second)) {
            squareOnly.push_back(seed);
            continue;
        }
        paired.push_back(seed);
        differences.push_back(lowerIsBetter(metric) ? other->second - v : v - other->second);
    }
    for (const auto& [seed, v] : ceValues)
        if (std::isfinite(v) && std::find(paired.begin(), paired.end(), seed) == paired.end()) ceOnly.push_back(seed);
    test = pairedTest(differences, level);
}

SeedStats statsOf(const LossGroup& g, const std::string& metric) {
    const auto it = g.stats.find(metric);
    return it == g.stats.end() ? SeedStats{} : it->second;
}

std::string pointLabel(const std::vector<std::string>& axes, const std::vector<std::string>& values) {
    std::string out;
    for (std::size_t i = 0; i < axes.size() && i < values.size(); ++i)
        out += (out.empty() ? "" : ", ") + sweepAxisName(axes[i]) + "=" + values[i];
    return out;
}

} // namespace

std::string sweepAxisName(const std::string& axis) {
    const auto dot = axis.find('.');
    return dot == std::string::npos ? axis : axis.substr(dot + 1);
}

std::string SweepPoint::label(const std::vector<std::string>& axes) const { return pointLabel(axes, values); }

std::string SweepFamily::taskLabel() const { return recipeLabel.empty() ? taskId : taskId + " (" + recipeLabel + ")"; }

std::string SweepFamily::label() const { return lossName + ", " + protocol; }

const SweepPoint* SweepFamily::find(const std::vector<std::string>& values) const {
    for (const auto& p : points)
        if (p.values == values) return &p;
    return nullptr;
}

std::string TunedLoss::chosenLabel() const {
    if (swept) return pointLabel(axes, chosenValues);
    return loss == "square" ? "k=" + formatShortest(chosen.k) + ", M=" + formatShortest(chosen.M) + ", lr=" + formatShortest(chosen.lr)
                            : "lr=" + formatShortest(chosen.lr);
}

std::string TunedLoss::taskLabel() const { return recipeLabel.empty() ? taskId : taskId + " (" + recipeLabel + ")"; }

SweepAnalysis analyzeSweeps(const std::vector<RunResult>& runs, const LossAnalysis& analysis, const AnalysisOptions& options) {
    SweepAnalysis out;
    // Which groups were swept, along which axes, and where each first appears among the runs.
    std::map<LossGroupKey, std::vector<std::string>> axesOf;
    std::map<LossGroupKey, std::size_t> firstRun;
    std::set<LossGroupKey> conflicting;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        // Most runs come from no sweep: skip parsing their YAML a second time.
        if (runs[i].run.specYaml.find("sweep") == std::string::npos) continue;
        const std::vector<std::string> axes = runSweepAxes(runs[i].run.specYaml);
        if (axes.empty()) continue;
        const LossGroupKey key = groupKeyOf(runs[i].run);
        const auto [it, added] = axesOf.emplace(key, axes);
        if (added) firstRun.emplace(key, i);
        else if (it->second != axes) conflicting.insert(key);
    }
    if (axesOf.empty()) return out;

    AnalysisOptions testOptions = options;
    testOptions.split = "test";
    out.metric = headlineMetrics(analysis, testOptions).front();
    out.valMetric = "val/" + out.metric.substr(out.metric.find('/') + 1);

    std::map<LossGroupKey, const LossGroup*> groupOf;
    for (const auto& g : analysis.groups) groupOf.emplace(g.key, &g);

    for (const auto& key : conflicting) {
        const LossGroup* g = groupOf.count(key) ? groupOf.at(key) : nullptr;
        out.notes.push_back((g ? g->key.taskLabel() + " " + g->key.label() : key.taskId + " " + key.label()) +
                            ": its runs name different sweep axes; the heatmaps use those of its first run");
    }

    // Families in the order of the analysis's groups (task, recipe, CE first, protocol).
    std::map<FamilyId, std::size_t> familyIndex;
    std::vector<std::vector<std::pair<std::size_t, const LossGroup*>>> members; // (first run, group)
    for (const auto& g : analysis.groups) {
        const auto axesIt = axesOf.find(g.key);
        if (axesIt == axesOf.end()) continue;
        const std::vector<std::string>& axes = axesIt->second;
        FamilyId id;
        id.taskId = g.key.taskId;
        id.baseRecipe = g.key.recipe;
        for (const auto& axis : axes)
            if (!isLossAxis(axis)) id.baseRecipe.erase(axis);
        id.lossName = g.key.lossName;
        id.loss = g.key.loss;
        id.protocol = g.key.protocol;
        id.axes = axes;
        id.fixed = fixedLossParams(g.key, axes);
        const auto [it, added] = familyIndex.emplace(id, out.families.size());
        if (added) {
            SweepFamily f;
            f.taskId = id.taskId;
            f.baseRecipe = id.baseRecipe;
            f.lossName = id.lossName;
            f.loss = id.loss;
            f.protocol = id.protocol;
            f.axes = axes;
            out.families.push_back(f);
            members.emplace_back();
        }
        members[it->second].emplace_back(firstRun.at(g.key), &g);
    }

    // Base recipe labels, per task, over the families' base recipes.
    {
        std::map<std::string, std::vector<RunRecipe>> recipes;
        for (const auto& f : out.families) {
            auto& list = recipes[f.taskId];
            if (std::find(list.begin(), list.end(), f.baseRecipe) == list.end()) list.push_back(f.baseRecipe);
        }
        std::map<std::string, std::map<RunRecipe, std::string>> labels;
        for (const auto& [task, list] : recipes) {
            const std::vector<std::string> text = recipeLabels(list);
            for (std::size_t i = 0; i < list.size(); ++i) labels[task][list[i]] = text[i];
        }
        for (auto& f : out.families) f.recipeLabel = labels[f.taskId][f.baseRecipe];
    }

    for (std::size_t fi = 0; fi < out.families.size(); ++fi) {
        SweepFamily& f = out.families[fi];
        auto list = members[fi];
        // Axis values: by first appearance among the runs, then numeric where numeric.
        std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        f.axisValues.assign(f.axes.size(), {});
        for (const auto& [first, g] : list)
            for (std::size_t a = 0; a < f.axes.size(); ++a) {
                const std::string v = axisValue(g->key, f.axes[a]);
                auto& values = f.axisValues[a];
                if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(v);
            }
        f.fullGrid = 1;
        for (auto& values : f.axisValues) {
            orderValues(values);
            f.fullGrid *= static_cast<int>(values.size());
        }
        auto rankOf = [&](const std::vector<std::string>& values) {
            std::vector<std::size_t> rank;
            for (std::size_t a = 0; a < values.size(); ++a)
                rank.push_back(static_cast<std::size_t>(
                    std::find(f.axisValues[a].begin(), f.axisValues[a].end(), values[a]) - f.axisValues[a].begin()));
            return rank;
        };
        std::vector<std::string> noCe;
        for (const auto& [first, g] : list) {
            SweepPoint p;
            for (const auto& axis : f.axes) p.values.push_back(axisValue(g->key, axis));
            p.key = g->key;
            p.runs = g->runs;
            p.notCompleted = g->notCompleted;
            p.val = statsOf(*g, out.valMetric);
            p.test = statsOf(*g, out.metric);
            if (g->key.loss == "square") {
                // The CE whose runs chose this point's epoch counts (same_epochs_as_ce); else
                // the one of the same learning rate, else the first.
                const std::string ceProtocol = ceProtocolFor(g->key.protocol);
                const auto source = analysis.epochSources.find(g->key);
                auto rank = [&](const LossGroup& c) {
                    if (source != analysis.epochSources.end()) return source->second == c.key ? 2 : 0;
                    return c.key.lr == g->key.lr ? 1 : 0;
                };
                const LossGroup* ce = nullptr;
                for (const auto& c : analysis.groups)
                    if (c.key.loss == "ce" && c.key.taskId == g->key.taskId && c.key.recipe == g->key.recipe &&
                        c.key.protocol == ceProtocol && (!ce || rank(c) > rank(*ce)))
                        ce = &c;
                if (ce) {
                    p.paired = true;
                    p.ce = ce->key;
                    pairBySeed(*g, *ce, out.metric, options.level, p.pairedSeeds, p.squareOnlySeeds, p.ceOnlySeeds, p.diff);
                } else {
                    p.diff = pairedTest({}, options.level);
                    noCe.push_back(p.label(f.axes));
                }
            }
            f.points.push_back(std::move(p));
        }
        std::stable_sort(f.points.begin(), f.points.end(),
                         [&](const SweepPoint& a, const SweepPoint& b) { return rankOf(a.values) < rankOf(b.values); });

        // Notes: what a reader of the heatmap would not see.
        const std::string where = f.taskLabel() + " " + f.label();
        if (static_cast<int>(f.points.size()) < f.fullGrid)
            out.notes.push_back(where + ": runs for " + std::to_string(f.points.size()) + " of the " + std::to_string(f.fullGrid) +
                                " grid points; the other cells stay empty");
        for (const auto& p : f.points) {
            if (!p.notCompleted.empty()) {
                std::string list;
                for (const auto& s : p.notCompleted) list += (list.empty() ? "" : "; ") + s;
                out.notes.push_back(where + " at " + p.label(f.axes) + ": " + std::to_string(p.notCompleted.size()) + " of " +
                                    std::to_string(p.runs) + " run(s) not completed (" + list + ")");
            }
            if (!p.paired) continue;
            if (!p.squareOnlySeeds.empty())
                out.notes.push_back(where + " at " + p.label(f.axes) + ": seeds without a cross-entropy result to pair with: " +
                                    seedText(p.squareOnlySeeds));
            if (!p.ceOnlySeeds.empty())
                out.notes.push_back(where + " at " + p.label(f.axes) + ": cross-entropy seeds without a result here: " +
                                    seedText(p.ceOnlySeeds));
        }
        if (!noCe.empty()) {
            std::string list;
            for (const auto& l : noCe) list += (list.empty() ? "" : "; ") + l;
            out.notes.push_back(where + ": no cross-entropy " + ceProtocolFor(f.protocol) +
                                " runs with the same recipe to pair with, so no difference to CE at " + list);
        }
    }

    // The tuned comparison: every task and base recipe with a sweep, each loss and protocol.
    std::vector<std::pair<std::string, RunRecipe>> units;
    std::map<std::pair<std::string, RunRecipe>, std::string> unitLabel;
    for (const auto& f : out.families) {
        const auto unit = std::make_pair(f.taskId, f.baseRecipe);
        if (std::find(units.begin(), units.end(), unit) == units.end()) units.push_back(unit);
        unitLabel[unit] = f.recipeLabel;
    }
    const bool lower = lowerIsBetter(out.valMetric);
    for (const auto& unit : units) {
        std::vector<TunedLoss> rows;
        for (const auto& f : out.families) {
            if (f.taskId != unit.first || f.baseRecipe != unit.second) continue;
            TunedLoss t;
            t.taskId = f.taskId;
            t.baseRecipe = f.baseRecipe;
            t.recipeLabel = f.recipeLabel;
            t.lossName = f.lossName;
            t.loss = f.loss;
            t.protocol = f.protocol;
            t.swept = true;
            t.axes = f.axes;
            t.configurations = static_cast<int>(f.points.size());
            // A point where a run did not complete (diverged, failed, still running) is chosen
            // only when every point has one: its mean over the seeds that survived flatters it,
            // and a setting that diverges on some seeds is not the one to report as tuned.
            const SweepPoint* best = nullptr;
            const SweepPoint* bestIncomplete = nullptr;
            bool anyVal = false;
            auto better = [&](const SweepPoint& p, const SweepPoint* than) {
                return !than || (lower ? p.val.mean < than->val.mean : p.val.mean > than->val.mean);
            };
            for (const auto& p : f.points) {
                if (groupOf.count(p.key) && !groupOf.at(p.key)->seeds.empty()) ++t.completedConfigurations;
                if (p.val.n == 0 || !std::isfinite(p.val.mean)) continue;
                anyVal = true;
                const SweepPoint*& slot = p.notCompleted.empty() ? best : bestIncomplete;
                if (better(p, slot)) slot = &p;
            }
            if (best && bestIncomplete && better(*bestIncomplete, best))
                out.notes.push_back(f.taskLabel() + " " + f.label() + ": " + bestIncomplete->label(f.axes) +
                                    " has the best mean " + out.valMetric + " but runs that did not complete, so " +
                                    best->label(f.axes) + " is chosen, the best of the points whose runs all completed");
            if (!best && bestIncomplete) {
                best = bestIncomplete;
                out.notes.push_back(f.taskLabel() + " " + f.label() + ": every grid point has runs that did not complete; " +
                                    best->label(f.axes) + " is chosen on the mean " + out.valMetric +
                                    " of its completed seeds");
            }
            if (f.points.size() == 1) {
                best = &f.points.front(); // one configuration: nothing to choose
            } else if (!anyVal) {
                t.untunedReason = t.completedConfigurations == 0
                                      ? "no grid point has a completed run"
                                      : "no run stored a validation value (" + out.valMetric +
                                            "; no validation split?): not tuned, as the choice is never made on test";
                out.notes.push_back(f.taskLabel() + " " + f.label() + ": " + t.untunedReason);
            }
            if (best) {
                t.tuned = true;
                t.chosenValues = best->values;
                t.chosen = best->key;
                t.val = best->val;
                t.test = best->test;
            }
            rows.push_back(t);
        }
        for (const auto& g : analysis.groups) {
            if (g.key.taskId != unit.first || g.key.recipe != unit.second || axesOf.count(g.key)) continue;
            TunedLoss t;
            t.taskId = g.key.taskId;
            t.baseRecipe = unit.second;
            t.recipeLabel = unitLabel[unit];
            t.lossName = g.key.lossName;
            t.loss = g.key.loss;
            t.protocol = g.key.protocol;
            t.configurations = 1;
            t.completedConfigurations = g.seeds.empty() ? 0 : 1;
            t.tuned = true;
            t.chosen = g.key;
            t.val = statsOf(g, out.valMetric);
            t.test = statsOf(g, out.metric);
            rows.push_back(t);
        }
        std::stable_sort(rows.begin(), rows.end(), [](const TunedLoss& a, const TunedLoss& b) {
            return std::make_tuple(a.loss != "ce", protocolRank(a.protocol), a.lossName) <
                   std::make_tuple(b.loss != "ce", protocolRank(b.protocol), b.lossName);
        });
        const std::size_t offset = out.tuned.size();
        for (auto& r : rows) out.tuned.push_back(std::move(r));
        // Tuned square vs tuned CE, by seed.
        for (std::size_t i = offset; i < out.tuned.size(); ++i) {
            TunedLoss& sq = out.tuned[i];
            if (sq.loss != "square") continue;
            sq.diff = pairedTest({}, options.level);
            const std::string ceProtocol = ceProtocolFor(sq.protocol);
            int candidates = 0;
            for (std::size_t j = offset; j < out.tuned.size(); ++j)
                if (out.tuned[j].loss == "ce" && out.tuned[j].protocol == ceProtocol && out.tuned[j].tuned) {
                    if (sq.ceIndex < 0) sq.ceIndex = static_cast<int>(j);
                    ++candidates;
                }
            const std::string where = sq.taskLabel() + " tuned " + sq.lossName + ", " + sq.protocol;
            if (!sq.tuned) continue;
            if (sq.ceIndex < 0) {
                out.notes.push_back(where + ": no tuned cross-entropy " + ceProtocol + " to pair with");
                continue;
            }
            const TunedLoss& ce = out.tuned[static_cast<std::size_t>(sq.ceIndex)];
            if (candidates > 1)
                out.notes.push_back(where + ": several tuned cross-entropy " + ceProtocol + " rows; paired with " + ce.lossName);
            if (!groupOf.count(sq.chosen) || !groupOf.count(ce.chosen)) continue;
            pairBySeed(*groupOf.at(sq.chosen), *groupOf.at(ce.chosen), out.metric, options.level, sq.pairedSeeds,
                       sq.squareOnlySeeds, sq.ceOnlySeeds, sq.diff);
            if (!sq.squareOnlySeeds.empty())
                out.notes.push_back(where + ": seeds without a tuned cross-entropy result: " + seedText(sq.squareOnlySeeds));
            if (!sq.ceOnlySeeds.empty())
                out.notes.push_back(where + ": tuned cross-entropy seeds without a result here: " + seedText(sq.ceOnlySeeds));
        }
    }
    return out;
}

} // namespace losslab
