#include "losslab/analysis/loss_comparison.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>

#include "losslab/error.h"
#include "losslab/spec/param_set.h"

namespace losslab {
namespace {

std::string metricName(const std::string& key) {
    const auto slash = key.find('/');
    return slash == std::string::npos ? key : key.substr(slash + 1);
}

} // namespace

int protocolRank(const std::string& p) {
    if (p == "early_stopping") return 0;
    if (p == "same_epochs_as_ce") return 1;
    if (p == "fixed_epochs") return 2;
    return 3;
}

std::string ceProtocolFor(const std::string& squareProtocol) {
    return squareProtocol == "same_epochs_as_ce" ? "early_stopping" : squareProtocol;
}

bool LossGroupKey::operator<(const LossGroupKey& o) const {
    return std::tie(taskId, recipe, loss, lossName, k, M, lr, protocol) <
           std::tie(o.taskId, o.recipe, o.loss, o.lossName, o.k, o.M, o.lr, o.protocol);
}

bool LossGroupKey::operator==(const LossGroupKey& o) const {
    return taskId == o.taskId && recipe == o.recipe && lossName == o.lossName && loss == o.loss && k == o.k && M == o.M &&
           lr == o.lr && protocol == o.protocol;
}

std::string LossGroupKey::taskLabel() const {
    return recipeLabel.empty() ? taskId : taskId + " (" + recipeLabel + ")";
}

LossGroupKey groupKeyOf(const RunRecord& r) {
    LossGroupKey key;
    key.taskId = r.taskId;
    try {
        key.recipe = trainingRecipe(runRecipe(r.specYaml));
    } catch (const Error&) {
        key.recipe = {{"spec", "unreadable"}};
    }
    key.lossName = r.lossName;
    key.loss = r.loss;
    key.k = r.k;
    key.M = r.M;
    key.lr = r.lr;
    key.protocol = r.protocol;
    return key;
}

void labelRecipes(std::vector<LossGroupKey*> keys) {
    std::map<std::string, std::vector<RunRecipe>> recipes; // per task, distinct, in order of appearance
    for (const LossGroupKey* key : keys) {
        auto& list = recipes[key->taskId];
        if (std::find(list.begin(), list.end(), key->recipe) == list.end()) list.push_back(key->recipe);
    }
    std::map<std::string, std::map<RunRecipe, std::string>> labels;
    for (const auto& [task, list] : recipes) {
        const std::vector<std::string> text = recipeLabels(list);
        for (std::size_t i = 0; i < list.size(); ++i) labels[task][list[i]] = text[i];
    }
    for (LossGroupKey* key : keys) key->recipeLabel = labels[key->taskId][key->recipe];
}

std::string LossGroupKey::label() const {
    std::string out = lossName;
    if (loss == "square") out += " (k=" + formatShortest(k) + ", M=" + formatShortest(M) + ", lr=" + formatShortest(lr) + ")";
    else out += " (lr=" + formatShortest(lr) + ")";
    return out + ", " + protocol;
}

const std::vector<std::string>& errorRateMetrics() {
    static const std::vector<std::string> kRates = {"wer", "per", "cer"};
    return kRates;
}

bool isErrorRate(const std::string& metric) {
    const std::string m = metricName(metric);
    return std::find(errorRateMetrics().begin(), errorRateMetrics().end(), m) != errorRateMetrics().end();
}

bool lowerIsBetter(const std::string& metric) {
    const std::string m = metricName(metric);
    return m == "error" || m == "loss" || m == "ece" || m == "brier" || isErrorRate(m);
}

std::vector<std::string> headlineMetrics(const LossAnalysis& analysis, const AnalysisOptions& options) {
    std::vector<std::string> names = options.metrics;
    if (names.empty()) {
        auto present = [&](const std::string& metric) {
            const std::string key = options.split + "/" + metric;
            return std::any_of(analysis.groups.begin(), analysis.groups.end(),
                               [&](const LossGroup& g) { return g.stats.count(key) != 0; });
        };
        std::vector<std::string> rates;
        for (const std::string& rate : errorRateMetrics())
            if (present(rate)) rates.push_back(rate);
        // Speech alone: its error rates lead, as the paper's ASR tables show them.
        const bool ratesOnly = !rates.empty() && std::all_of(analysis.groups.begin(), analysis.groups.end(), [&](const LossGroup& g) {
            return std::any_of(rates.begin(), rates.end(), [&](const std::string& r) { return g.stats.count(options.split + "/" + r) != 0; });
        });
        if (ratesOnly) names = rates;
        names.push_back("acc");
        for (const char* extra : {"top5", "f1"})
            if (present(extra)) names.push_back(extra);
        if (!ratesOnly) names.insert(names.end(), rates.begin(), rates.end());
    }
    std::vector<std::string> keys;
    for (const auto& n : names) keys.push_back(n.find('/') == std::string::npos ? options.split + "/" + n : n);
    return keys;
}

LossAnalysis analyzeRuns(const std::vector<RunResult>& runs, const std::map<std::string, TaskMeta>& tasks,
                         const AnalysisOptions& options) {
    LossAnalysis out;
    out.tasks = tasks;
    // Groups, in task order of first appearance; within a task CE first, then by protocol.
    std::map<std::string, int> taskOrder;
    for (const auto& rr : runs)
        if (taskOrder.emplace(rr.run.taskId, static_cast<int>(taskOrder.size())).second) out.taskIds.push_back(rr.run.taskId);
    // Every run's key, labelled by recipe.
    std::vector<LossGroupKey> keys;
    keys.reserve(runs.size());
    for (const auto& rr : runs) keys.push_back(groupKeyOf(rr.run));
    {
        std::vector<LossGroupKey*> pointers;
        for (auto& k : keys) pointers.push_back(&k);
        labelRecipes(pointers);
    }
    // A seed counts once per group: its newest run (highest id), whatever its status.
    std::map<std::pair<LossGroupKey, std::int64_t>, std::size_t> chosen;
    std::map<std::pair<LossGroupKey, std::int64_t>, std::vector<std::int64_t>> leftOut;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto slot = std::make_pair(keys[i], runs[i].run.seed);
        const auto it = chosen.find(slot);
        if (it == chosen.end()) {
            chosen.emplace(slot, i);
        } else if (runs[i].run.id > runs[it->second].run.id) {
            leftOut[slot].push_back(runs[it->second].run.id);
            it->second = i;
        } else {
            leftOut[slot].push_back(runs[i].run.id);
        }
    }
    // Experiments whose runs share one task and recipe: pooled, and said so.
    std::map<std::pair<std::string, RunRecipe>, std::map<std::int64_t, std::string>> experimentsOf;
    std::vector<std::pair<std::string, RunRecipe>> recipeOrder;
    std::map<std::pair<std::string, RunRecipe>, std::string> recipeLabelOf;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto recipeKey = std::make_pair(keys[i].taskId, keys[i].recipe);
        auto& experiments = experimentsOf[recipeKey];
        if (experiments.empty()) recipeOrder.push_back(recipeKey);
        recipeLabelOf[recipeKey] = keys[i].taskLabel();
        experiments.emplace(runs[i].run.experimentId, runs[i].run.experiment + "#" + std::to_string(runs[i].run.experimentId));
    }
    for (const auto& recipeKey : recipeOrder) {
        const auto& experiments = experimentsOf[recipeKey];
        if (experiments.size() < 2) continue;
        std::string names;
        std::size_t n = 0;
        for (const auto& [id, name] : experiments)
            names += (n++ == 0 ? "" : n == experiments.size() ? " and " : ", ") + name;
        out.notes.push_back(recipeLabelOf[recipeKey] + ": runs of experiments " + names +
                            " have the same recipe and are pooled");
    }
    // What trained a recipe's runs, where it differs between them: pooled (the recipe is the
    // same), but a seed's numbers depend on it, so say so. `valueOf` gives a run's value, empty
    // when not known or not relevant; values are listed in the order `less` gives.
    const auto sayPooledAcross = [&](const std::function<std::string(const RunRecord&)>& valueOf,
                                     const std::function<bool(const std::string&, const std::string&)>& less,
                                     const std::string& what, const std::string& why) {
        std::map<std::pair<std::string, RunRecipe>, std::vector<std::string>> valuesOf;
        for (std::size_t i = 0; i < runs.size(); ++i) {
            const std::string value = valueOf(runs[i].run);
            if (!value.empty()) valuesOf[std::make_pair(keys[i].taskId, keys[i].recipe)].push_back(value);
        }
        for (const auto& recipeKey : recipeOrder) {
            auto found = valuesOf.find(recipeKey);
            if (found == valuesOf.end()) continue;
            std::vector<std::string>& values = found->second;
            std::sort(values.begin(), values.end(), less);
            values.erase(std::unique(values.begin(), values.end()), values.end());
            if (values.size() < 2) continue;
            // "LibTorch 2.6.0, oneDNN off" has a comma of its own: such values are kept apart by "; ".
            const bool commas = std::any_of(values.begin(), values.end(),
                                            [](const std::string& v) { return v.find(',') != std::string::npos; });
            std::string names;
            for (const std::string& value : values) names += (names.empty() ? "" : commas ? "; " : ", ") + value;
            out.notes.push_back(recipeLabelOf[recipeKey] + ": " + what + " are pooled (" + names + "); " + why);
        }
    };
    // A seed's cross-entropy numbers differ between LibTorch versions (docs/debian13.md), and
    // with oneDNN on or off ("LibTorch 2.6.0, oneDNN off": LOSSLAB_ONEDNN).
    sayPooledAcross([](const RunRecord& r) { return r.library; }, std::less<std::string>(),
                    "runs trained with different libraries",
                    "a seed's cross-entropy results differ between LibTorch versions and with oneDNN on or off");
    // On the CPU the thread count can change the order of floating-point sums
    // (docs/losses-and-metrics.md); on CUDA the GPU computes, whatever the CPU threads.
    sayPooledAcross([](const RunRecord& r) { return r.device == "cpu" && r.threads > 0 ? std::to_string(r.threads) : std::string(); },
                    [](const std::string& a, const std::string& b) { return std::stoi(a) < std::stoi(b); },
                    "CPU runs trained with different thread counts", "a seed's results on the CPU can differ with the thread count");

    // What a task's test split is when it is not a labelled test set (GLUE: its dev set).
    for (const std::string& taskId : out.taskIds) {
        const auto meta = tasks.find(taskId);
        if (meta != tasks.end() && !meta->second.testSetNote.empty())
            out.notes.push_back(taskId + ": " + meta->second.testSetNote);
    }

    std::map<LossGroupKey, LossGroup> byKey;
    std::map<LossGroupKey, int> reusedIn;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const RunResult& rr = runs[i];
        const RunRecord& r = rr.run;
        LossGroup& g = byKey[keys[i]];
        g.key = keys[i];
        ++g.runs;
        const auto slot = std::make_pair(keys[i], r.seed);
        if (chosen.at(slot) != i) continue;
        const auto dropped = leftOut.find(slot);
        if (dropped != leftOut.end()) {
            std::vector<std::int64_t> ids = dropped->second;
            std::sort(ids.begin(), ids.end());
            std::string list;
            for (std::size_t j = 0; j < ids.size(); ++j)
                list += (j == 0 ? "#" : j + 1 == ids.size() ? " and #" : ", #") + std::to_string(ids[j]);
            out.notes.push_back(g.key.taskLabel() + " " + g.key.label() + ": seed " + std::to_string(r.seed) +
                                " appears in " + std::to_string(ids.size() + 1) + " runs; the newest, run #" +
                                std::to_string(r.id) + ", is used and run" + (ids.size() > 1 ? "s " : " ") + list +
                                (ids.size() > 1 ? " are" : " is") + " left out");
        }
        if (r.status != RunStatus::Completed) {
            g.notCompleted.push_back("seed " + std::to_string(r.seed) + ": " + runStatusName(r.status));
            continue;
        }
        g.seeds.push_back(r.seed);
        g.runIds[r.seed] = r.id;
        for (const auto& [metric, value] : rr.reported) g.values[metric][r.seed] = value;
        if (!r.reusedFrom.empty()) ++reusedIn[keys[i]];
    }
    // runner.reuse_prefix: say which runs were copied rather than trained.
    for (const auto& [key, count] : reusedIn)
        out.notes.push_back(key.taskLabel() + " " + key.label() + ": " + std::to_string(count) + " of " +
                            std::to_string(byKey[key].seeds.size()) +
                            " seeds took their epochs from the square early-stopping run of the same seed instead of "
                            "training them again (runner.reuse_prefix; on the CPU the numbers are the same bit for bit)");
    for (auto& [key, g] : byKey) {
        std::sort(g.seeds.begin(), g.seeds.end());
        for (const auto& [metric, bySeed] : g.values) {
            std::vector<double> v;
            for (const auto& [seed, value] : bySeed) v.push_back(value);
            g.stats[metric] = seedStats(v);
        }
        out.groups.push_back(g);
    }
    // Recipes of a task in order of first appearance among the runs.
    std::map<std::pair<std::string, RunRecipe>, int> recipeRank;
    for (const auto& recipeKey : recipeOrder) recipeRank.emplace(recipeKey, static_cast<int>(recipeRank.size()));
    auto rankOf = [&](const LossGroupKey& k) { return recipeRank[std::make_pair(k.taskId, k.recipe)]; };
    std::sort(out.groups.begin(), out.groups.end(), [&](const LossGroup& a, const LossGroup& b) {
        return std::make_tuple(taskOrder[a.key.taskId], rankOf(a.key), a.key.loss != "ce", protocolRank(a.key.protocol), a.key.lossName, a.key.k, a.key.M, a.key.lr) <
               std::make_tuple(taskOrder[b.key.taskId], rankOf(b.key), b.key.loss != "ce", protocolRank(b.key.protocol), b.key.lossName, b.key.k, b.key.M, b.key.lr);
    });

    // The CE group whose runs set a same_epochs_as_ce group's epoch counts (RunRecord::dependsOn:
    // the experiment's first cross-entropy loss), counted per run: the most common is its partner.
    std::map<std::int64_t, std::size_t> indexOfRun;
    for (std::size_t i = 0; i < runs.size(); ++i) indexOfRun.emplace(runs[i].run.id, i);
    std::map<LossGroupKey, std::map<LossGroupKey, int>> epochSourceCounts;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        if (!runs[i].run.dependsOn) continue;
        const auto source = indexOfRun.find(*runs[i].run.dependsOn);
        if (source != indexOfRun.end() && keys[source->second].loss == "ce") ++epochSourceCounts[keys[i]][keys[source->second]];
    }
    for (const auto& [square, counts] : epochSourceCounts) {
        const auto most = std::max_element(counts.begin(), counts.end(),
                                           [](const auto& a, const auto& b) { return a.second < b.second; });
        out.epochSources.emplace(square, most->first);
    }

    const bool anyCe = std::any_of(out.groups.begin(), out.groups.end(), [](const LossGroup& g) { return g.key.loss == "ce"; });
    const bool anySquare = std::any_of(out.groups.begin(), out.groups.end(), [](const LossGroup& g) { return g.key.loss == "square"; });
    if (!anyCe || !anySquare) {
        out.notes.push_back(std::string("only one loss (") + (anyCe ? "cross-entropy" : anySquare ? "square loss" : "none") +
                            ") in the selected runs: the tables show it alone, and there is no pairing by seed");
        return out;
    }

    const std::vector<std::string> metrics = headlineMetrics(out, options);
    // Pair every square group with its CE group.
    for (const auto& sq : out.groups) {
        if (sq.key.loss != "square") continue;
        const std::string ceProtocol = ceProtocolFor(sq.key.protocol);
        const auto source = out.epochSources.find(sq.key);
        // Of several: the one whose runs chose the epoch counts of `sq`'s runs, else the one of
        // the same learning rate (a sweep of losses.*.lr: each rate against its own), else the
        // first; as the sweep heatmaps pair their points.
        const LossGroup* ce = nullptr;
        int candidates = 0;
        int ceRank = -1;
        auto rankOf = [&](const LossGroup& g) {
            if (source != out.epochSources.end() && source->second == g.key) return 2;
            return g.key.lr == sq.key.lr ? 1 : 0;
        };
        for (const auto& g : out.groups)
            if (g.key.loss == "ce" && g.key.taskId == sq.key.taskId && g.key.recipe == sq.key.recipe &&
                g.key.protocol == ceProtocol) {
                if (rankOf(g) > ceRank) {
                    ce = &g;
                    ceRank = rankOf(g);
                }
                ++candidates;
            }
        const bool ceSourced = ceRank == 2;
        if (!ce) {
            out.notes.push_back(sq.key.taskLabel() + " " + sq.key.label() + ": no cross-entropy " + ceProtocol +
                                " runs" + (sq.key.recipeLabel.empty() ? "" : " with this recipe") + " to pair with");
            continue;
        }
        if (candidates > 1)
            out.notes.push_back(sq.key.taskLabel() + ": several cross-entropy " + ceProtocol + " groups; " +
                                sq.key.label() + " is paired with " + ce->key.label() +
                                (ceSourced ? ", whose runs chose its epoch counts" : ceRank == 1 ? ", of the same learning rate" : ""));
        for (const auto& metric : metrics) {
            SeedComparison c;
            c.taskId = sq.key.taskId;
            c.metric = metric;
            c.square = sq.key;
            c.ce = ce->key;
            const auto sqIt = sq.values.find(metric);
            const auto ceIt = ce->values.find(metric);
            if (sqIt == sq.values.end() && ceIt == ce->values.end()) continue;
            static const std::map<std::int64_t, double> kNone;
            const auto& sqValues = sqIt == sq.values.end() ? kNone : sqIt->second;
            const auto& ceValues = ceIt == ce->values.end() ? kNone : ceIt->second;
            // A seed whose value is not a number on one side is unpaired on the other side only.
            for (const auto& [seed, v] : sqValues) {
                if (!std::isfinite(v)) continue;
                const auto other = ceValues.find(seed);
                if (other == ceValues.end() || !std::isfinite(other->second)) {
                    c.squareOnlySeeds.push_back(seed);
                    continue;
                }
                c.pairedSeeds.push_back(seed);
                c.differences.push_back(lowerIsBetter(metric) ? other->second - v : v - other->second);
            }
            for (const auto& [seed, v] : ceValues)
                if (std::isfinite(v) && std::find(c.pairedSeeds.begin(), c.pairedSeeds.end(), seed) == c.pairedSeeds.end()) c.ceOnlySeeds.push_back(seed);
            c.test = pairedTest(c.differences, options.level);
            out.comparisons.push_back(std::move(c));
        }
    }

    // Headline counts: per metric, square protocol and domain; one comparison per task and
    // recipe (the first square group of the task and recipe for that protocol).
    std::set<std::string> protocols;
    for (const auto& c : out.comparisons) protocols.insert(c.square.protocol);
    auto meanOf = [&](const LossGroupKey& key, const std::string& metric) {
        for (const auto& g : out.groups)
            if (g.key == key) {
                const auto it = g.stats.find(metric);
                return it == g.stats.end() ? std::numeric_limits<double>::quiet_NaN() : it->second.mean;
            }
        return std::numeric_limits<double>::quiet_NaN();
    };
    for (const auto& metric : metrics)
        for (const auto& protocol : protocols) {
            std::map<std::string, HeadlineCount> byDomain;
            std::set<std::pair<std::string, RunRecipe>> seen;
            for (const auto& c : out.comparisons) {
                if (c.metric != metric || c.square.protocol != protocol ||
                    !seen.insert(std::make_pair(c.taskId, c.square.recipe)).second)
                    continue;
                const double sqMean = meanOf(c.square, metric), ceMean = meanOf(c.ce, metric);
                if (std::isnan(sqMean) || std::isnan(ceMean)) continue;
                const auto meta = tasks.find(c.taskId);
                const std::string domain = meta == tasks.end() ? "unknown" : meta->second.domain;
                for (const std::string& d : {std::string("all"), domain}) {
                    HeadlineCount& h = byDomain[d];
                    h.metric = metric;
                    h.domain = d;
                    h.protocol = protocol;
                    ++h.tasks;
                    if (lowerIsBetter(metric) ? sqMean <= ceMean : sqMean >= ceMean) ++h.squareAtLeastCe;
                    if (c.test.n < 2) ++h.undecided;
                    else if (c.test.ciContainsZero()) ++h.ties;
                    else if (c.test.mean > 0) ++h.wins;
                    else ++h.losses;
                }
            }
            if (byDomain.count("all")) out.headline.push_back(byDomain["all"]);
            for (auto& [d, h] : byDomain)
                if (d != "all" && byDomain.size() > 2) out.headline.push_back(h); // one domain: "all" says it
        }

    // Table 8: std over seeds, early stopping (else the first protocol compared).
    const std::string stdProtocol = protocols.count("early_stopping") ? "early_stopping" : protocols.empty() ? "" : *protocols.begin();
    for (const auto& c : out.comparisons) {
        if (c.square.protocol != stdProtocol) continue;
        StdComparison s;
        s.taskId = c.taskId;
        s.metric = c.metric;
        s.square = c.square;
        s.ce = c.ce;
        // A side without a value for the metric (every run diverged, say) has no std, not 0.
        s.squareStd = s.ceStd = std::numeric_limits<double>::quiet_NaN();
        for (const auto& g : out.groups) {
            const auto it = g.stats.find(c.metric);
            if (it == g.stats.end()) continue;
            if (g.key == c.square) { s.squareStd = it->second.std; s.squareN = it->second.n; }
            if (g.key == c.ce) { s.ceStd = it->second.std; s.ceN = it->second.n; }
        }
        if (!std::isnan(s.squareStd) && !std::isnan(s.ceStd) && s.squareN > 1 && s.ceN > 1)
            s.smaller = s.squareStd < s.ceStd ? "square" : s.ceStd < s.squareStd ? "ce" : "tie";
        if (c.metric == metrics.front() && !s.smaller.empty()) {
            ++out.stdComparable;
            if (s.smaller == "square") ++out.squareSmallerStd;
        }
        out.stds.push_back(s);
    }
    return out;
}

} // namespace losslab
