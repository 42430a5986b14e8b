// The sweep grid of an experiment and its expansion into runs: every combination of the
// sweep's global axes (gridParams) times every configuration of each loss's own axes, per
// seed and protocol; the square loss's same-epochs runs depend on the CE early-stopping run
// of their grid point and seed (expand). independentUnits groups runs that must run together.
#include "losslab/spec/experiment_spec.h"

#include <algorithm>
#include <functional>
#include <map>
#include <numeric>

namespace losslab {

std::string SweepAxis::recipeKey() const {
    if (!isLossAxis()) return key;
    return "loss." + key.substr(key.find_last_of('.') + 1);
}

namespace {

// Every combination of the axes' value indices, the first axis varying slowest.
std::vector<std::vector<std::size_t>> combinations(const std::vector<const SweepAxis*>& axes) {
    std::vector<std::vector<std::size_t>> out{{}};
    for (const SweepAxis* axis : axes) {
        std::vector<std::vector<std::size_t>> next;
        for (const auto& prefix : out)
            for (std::size_t v = 0; v < axis->values.size(); ++v) {
                next.push_back(prefix);
                next.back().push_back(v);
            }
        out = std::move(next);
    }
    return out;
}

std::vector<const SweepAxis*> globalAxes(const std::vector<SweepAxis>& sweep) {
    std::vector<const SweepAxis*> out;
    for (const auto& a : sweep)
        if (!a.isLossAxis()) out.push_back(&a);
    return out;
}

// The loss axes that apply to loss `index`: its own, and those of every loss (k and M of
// every square loss).
std::vector<const SweepAxis*> lossAxes(const std::vector<SweepAxis>& sweep, const std::vector<LossSpec>& losses,
                                       std::size_t index) {
    std::vector<const SweepAxis*> out;
    for (const auto& a : sweep) {
        if (!a.isLossAxis()) continue;
        if (a.lossIndex >= 0 && static_cast<std::size_t>(a.lossIndex) != index) continue;
        if (a.lossIndex == -1 && a.recipeKey() != "loss.lr" && losses[index].kind != LossKind::Square) continue;
        out.push_back(&a);
    }
    return out;
}

// One configuration of a loss: the loss with its swept values, and which value of which axis.
struct LossVariant {
    LossSpec loss;
    std::map<const SweepAxis*, std::size_t> values;
};

std::vector<LossVariant> lossVariants(const std::vector<SweepAxis>& sweep, const std::vector<LossSpec>& losses,
                                      std::size_t index) {
    const std::vector<const SweepAxis*> axes = lossAxes(sweep, losses, index);
    std::vector<LossVariant> out;
    for (const auto& combo : combinations(axes)) {
        LossVariant v;
        v.loss = losses[index];
        for (std::size_t i = 0; i < axes.size(); ++i) {
            const double value = parseFiniteNumber(axes[i]->values[combo[i]], "sweep " + axes[i]->key);
            const std::string field = axes[i]->recipeKey();
            if (field == "loss.lr") {
                v.loss.lr = value;
            } else {
                (field == "loss.k" ? v.loss.k : v.loss.M) = value;
                v.loss.preset.clear(); // k and M are the sweep's, not Table 9's
            }
            v.values[axes[i]] = combo[i];
        }
        out.push_back(std::move(v));
    }
    return out;
}

} // namespace

std::vector<ParamSet> ExperimentSpec::gridParams() const {
    const std::vector<const SweepAxis*> axes = globalAxes(sweep);
    std::vector<ParamSet> out;
    for (const auto& combo : combinations(axes)) {
        ParamSet p = params;
        for (std::size_t i = 0; i < axes.size(); ++i)
            p.set(axes[i]->key, axes[i]->values[combo[i]], params.type(axes[i]->key));
        out.push_back(std::move(p));
    }
    return out;
}

std::size_t ExperimentSpec::gridPointCount() const {
    std::size_t n = 1;
    for (const auto& a : sweep) n *= a.values.size();
    return n;
}

std::size_t ExperimentSpec::configurationsOf(std::size_t lossIndex) const {
    std::size_t n = 1;
    for (const SweepAxis* a : globalAxes(sweep)) n *= a->values.size();
    if (lossIndex < losses.size())
        for (const SweepAxis* a : lossAxes(sweep, losses, lossIndex)) n *= a->values.size();
    return n;
}

std::vector<RunSpec> ExperimentSpec::expand() const {
    std::vector<RunSpec> runs;
    std::vector<std::vector<LossVariant>> variants;
    for (std::size_t i = 0; i < losses.size(); ++i) variants.push_back(lossVariants(sweep, losses, i));
    auto make = [&](const ParamSet& point, const LossVariant& v, std::size_t lossIndex, Protocol p, std::int64_t seed) {
        RunSpec r;
        r.experiment = name;
        r.taskId = taskId;
        r.loss = v.loss;
        r.protocol = p;
        r.seed = seed;
        r.device = device;
        r.params = point;
        // A run is stored fully resolved: "auto" becomes the fraction this protocol holds out.
        if (point.has("data.val_fraction") && point.raw("data.val_fraction") == "auto")
            r.params.set("data.val_fraction", formatShortest(defaultValidationFraction(p)), ParamType::Double);
        // The axes that vary this loss in the order the sweep lists them: the report's heatmaps
        // take the first along x, the second along y and the others as one figure per value.
        const std::vector<const SweepAxis*> own = lossAxes(sweep, losses, lossIndex);
        for (const auto& a : sweep)
            if (!a.isLossAxis() || std::find(own.begin(), own.end(), &a) != own.end()) r.sweepAxes.push_back(a.recipeKey());
        return r;
    };
    const auto ceIt = std::find_if(losses.begin(), losses.end(),
                                   [](const LossSpec& l) { return l.kind == LossKind::CrossEntropy; });
    const std::size_t ceIndex = static_cast<std::size_t>(ceIt - losses.begin());
    const bool sameEpochs = std::find(protocols.begin(), protocols.end(), Protocol::SameEpochsAsCe) != protocols.end();
    for (const ParamSet& point : gridParams()) {
        for (const auto seed : seeds) {
            // The CE early-stopping run of each CE configuration, by configuration.
            std::vector<int> ceEarlyStopping;
            // Runs that others depend on come first, so a single worker never idles.
            for (std::size_t i = 0; i < losses.size(); ++i)
                for (const auto& v : variants[i])
                    for (const auto p : protocols) {
                        if (p == Protocol::SameEpochsAsCe) continue;
                        if (i == ceIndex && p == Protocol::EarlyStopping) ceEarlyStopping.push_back(static_cast<int>(runs.size()));
                        runs.push_back(make(point, v, i, p, seed));
                    }
            if (!sameEpochs) continue;
            for (std::size_t i = 0; i < losses.size(); ++i) {
                if (losses[i].kind == LossKind::CrossEntropy) continue;
                for (const auto& v : variants[i]) {
                    RunSpec r = make(point, v, i, Protocol::SameEpochsAsCe, seed);
                    // The CE configuration with the same values on the axes both share (losses.*.lr).
                    r.dependsOn = ceEarlyStopping.empty() ? -1 : ceEarlyStopping.front();
                    for (std::size_t c = 0; c < ceEarlyStopping.size() && ceIt != losses.end(); ++c) {
                        const LossVariant& ce = variants[ceIndex][c];
                        const bool same = std::all_of(ce.values.begin(), ce.values.end(), [&](const auto& kv) {
                            const auto it = v.values.find(kv.first);
                            return it == v.values.end() || it->second == kv.second;
                        });
                        if (same) {
                            r.dependsOn = ceEarlyStopping[c];
                            break;
                        }
                    }
                    runs.push_back(r);
                }
            }
        }
    }
    return runs;
}

std::vector<int> prefixSources(const std::vector<RunSpec>& runs) {
    std::vector<int> out(runs.size(), -1);
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const RunSpec& r = runs[i];
        if (r.protocol != Protocol::SameEpochsAsCe || r.loss.kind != LossKind::Square) continue;
        for (std::size_t j = 0; j < runs.size(); ++j) {
            const RunSpec& s = runs[j];
            if (s.protocol == Protocol::EarlyStopping && s.seed == r.seed && s.taskId == r.taskId &&
                s.device == r.device && s.loss.kind == r.loss.kind && s.loss.name == r.loss.name &&
                s.loss.k == r.loss.k && s.loss.M == r.loss.M && s.loss.lr == r.loss.lr &&
                s.params.values() == r.params.values()) {
                out[i] = static_cast<int>(j);
                break;
            }
        }
    }
    return out;
}

std::vector<std::vector<int>> independentUnits(const std::vector<RunSpec>& runs) {
    const int n = static_cast<int>(runs.size());
    std::vector<int> parent(runs.size());
    std::iota(parent.begin(), parent.end(), 0);
    std::function<int(int)> root = [&](int i) { return parent[i] == i ? i : parent[i] = root(parent[i]); };
    for (int i = 0; i < n; ++i) {
        const int d = runs[static_cast<std::size_t>(i)].dependsOn;
        if (d < 0 || d >= n) continue;
        const int a = root(i), b = root(d);
        if (a != b) parent[std::max(a, b)] = std::min(a, b);
    }
    std::map<int, std::size_t> unitOf;
    std::vector<std::vector<int>> units;
    for (int i = 0; i < n; ++i) {
        const int r = root(i);
        const auto it = unitOf.find(r);
        if (it == unitOf.end()) {
            unitOf[r] = units.size();
            units.push_back({i});
        } else {
            units[it->second].push_back(i);
        }
    }
    return units;
}

} // namespace losslab
