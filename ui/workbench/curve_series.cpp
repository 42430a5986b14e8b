#include "curve_series.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <tuple>

#include "losslab/error.h"
#include "losslab/report/report_table.h"
#include "losslab/spec/run_recipe.h"

namespace losslab {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// What a run trains with apart from its task, loss and protocol (the report's grouping rule,
// docs/report.md): runs are averaged together only when this and the loss's own settings agree.
RunRecipe trainingRecipeOf(const RunRecord& run) {
    try {
        return trainingRecipe(runRecipe(run.specYaml));
    } catch (const Error&) {
        return {{"spec", run.specYaml}}; // unreadable: equal only to the same text
    }
}

std::string protocolText(const std::string& protocol) {
    if (protocol == "early_stopping") return "early stopping";
    if (protocol == "same_epochs_as_ce") return "same epochs as CE";
    if (protocol == "fixed_epochs") return "fixed epochs";
    return protocol;
}

std::string lossText(const RunRecord& run) {
    if (run.loss != "square") return run.lossName;
    return run.lossName + " (k=" + formatFull(run.k) + ", M=" + formatFull(run.M) + ")";
}

// x and y of one run for the options; points with a NaN x are dropped.
void runPoints(const RunCurves& curves, const CurveOptions& options, std::vector<double>& x, std::vector<double>& y) {
    const bool percent = curveMetricIsPercent(options.metric);
    if (options.metric == "step/loss") {
        y = curves.stepLoss;
        switch (options.axis) {
        case CurveAxis::Epoch: {
            // Fractional epochs: a step inside epoch n maps between n - 1 and n. The epochs
            // are numbered as stored: a resumed run whose curve starts at epoch 4 (the book
            // holds no earlier epoch) maps its steps to 3..4, not to 0..1. Every epoch has
            // the same number of steps, so epoch n starts at step S_n (n - 1) / n.
            x.resize(curves.steps.size());
            const double firstEpoch = curves.epochs.empty() ? 1.0 : curves.epochs.front();
            // The step at which the epoch of index e began.
            const auto startOf = [&](std::size_t e) {
                if (e > 0) return curves.epochSteps[e - 1];
                return firstEpoch > 1.0 ? curves.epochSteps.front() * (firstEpoch - 1.0) / firstEpoch : 0.0;
            };
            for (std::size_t i = 0; i < curves.steps.size(); ++i) {
                const double step = curves.steps[i];
                auto it = std::lower_bound(curves.epochSteps.begin(), curves.epochSteps.end(), step);
                const std::size_t e = static_cast<std::size_t>(it - curves.epochSteps.begin());
                const double before = e == 0 ? firstEpoch - 1.0 : curves.epochs[e - 1]; // epochs finished
                const double s0 = startOf(e);
                double s1 = e < curves.epochSteps.size() ? curves.epochSteps[e] : kNaN;
                if (std::isnan(s1)) { // epoch still running: the previous epoch's length
                    const double length = e >= 1 ? curves.epochSteps[e - 1] - startOf(e - 1) : kNaN;
                    s1 = s0 + length;
                }
                x[i] = std::isfinite(s1) && s1 > s0 ? before + (step - s0) / (s1 - s0) : kNaN;
            }
            break;
        }
        case CurveAxis::Step: x = curves.steps; break;
        case CurveAxis::WallTime: x = curves.stepWall; break;
        }
    } else {
        auto it = curves.epochValues.find(options.metric);
        if (it == curves.epochValues.end()) return;
        y = it->second;
        switch (options.axis) {
        case CurveAxis::Epoch: x = curves.epochs; break;
        case CurveAxis::Step: x = curves.epochSteps; break;
        case CurveAxis::WallTime: x = curves.epochWall; break;
        }
    }
    if (percent)
        for (double& v : y) v *= 100.0;
    std::size_t out = 0;
    for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if (std::isnan(x[i])) continue;
        x[out] = x[i];
        y[out] = y[i];
        ++out;
    }
    x.resize(out);
    y.resize(out);
}

} // namespace

std::vector<double> debiasedEma(const std::vector<double>& values, double weight) {
    if (weight <= 0.0) return values;
    std::vector<double> out(values.size(), kNaN);
    double last = 0.0;
    double power = 1.0;
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (!std::isfinite(values[i])) continue;
        last = last * weight + (1.0 - weight) * values[i];
        power *= weight;
        out[i] = last / (1.0 - power);
    }
    return out;
}

std::vector<CurveSeries> buildCurveSeries(const CurveBook& book, const std::vector<std::int64_t>& runIds,
                                          const CurveOptions& options) {
    std::vector<CurveSeries> runs;
    for (std::int64_t id : runIds) {
        const RunCurves* curves = book.find(id);
        if (!curves) continue;
        CurveSeries s;
        const RunRecord& run = curves->run;
        s.key = "run/" + std::to_string(id);
        s.lossName = run.lossName;
        s.loss = run.loss;
        s.protocol = run.protocol;
        s.runId = id;
        s.runIds = {id};
        s.label = lossText(run) + " · " + protocolText(run.protocol);
        if (run.status == RunStatus::Cancelled || run.status == RunStatus::Interrupted || run.status == RunStatus::Failed)
            s.stopped = runStatusName(run.status);
        runPoints(*curves, options, s.x, s.raw);
        s.smoothed = debiasedEma(s.raw, options.smoothing);
        runs.push_back(std::move(s));
    }
    if (!options.groupByLoss) return runs;

    // A group is the seeds of one setting: the same task, loss (name, k, M, learning rate),
    // protocol and training recipe (model, data and training keys), as the report pools runs.
    // Where a task's groups differ in their recipe or learning rate, the label says how
    // ("hidden [16]", "lr 0.1") and the key carries it. Groups in the order their first run appears.
    struct Setting {
        std::string task, lossName, protocol, lr;
        RunRecipe recipe;
        double k = 1, M = 1;
        bool operator<(const Setting& o) const {
            return std::tie(task, lossName, protocol, lr, k, M, recipe) <
                   std::tie(o.task, o.lossName, o.protocol, o.lr, o.k, o.M, o.recipe);
        }
    };
    std::vector<Setting> order;
    std::map<Setting, std::vector<const CurveSeries*>> members;
    for (const CurveSeries& s : runs) {
        const RunCurves& curves = *book.find(s.runId);
        const RunRecord& run = curves.run;
        // Parsed once per run, not at every live redraw (1,000 runs' YAML took ~340 ms).
        if (!curves.trainingRecipe) curves.trainingRecipe = std::make_shared<const RunRecipe>(trainingRecipeOf(run));
        const Setting setting{run.taskId, s.lossName, s.protocol, formatFull(run.lr), *curves.trainingRecipe, run.k, run.M};
        if (!members.count(setting)) order.push_back(setting);
        members[setting].push_back(&s);
    }
    // Per task: the distinct recipes (labelled by what differs) and whether a loss name comes
    // with several learning rates.
    std::map<std::string, std::vector<RunRecipe>> recipesOfTask;
    std::map<std::string, std::vector<std::string>> lrsOfLoss;
    for (const Setting& s : order) {
        auto& recipes = recipesOfTask[s.task];
        if (std::find(recipes.begin(), recipes.end(), s.recipe) == recipes.end()) recipes.push_back(s.recipe);
        auto& lrs = lrsOfLoss[s.task + "|" + s.lossName];
        if (std::find(lrs.begin(), lrs.end(), s.lr) == lrs.end()) lrs.push_back(s.lr);
    }
    std::vector<CurveSeries> groups;
    for (const Setting& setting : order) {
        const auto& list = members[setting];
        const auto& recipes = recipesOfTask[setting.task];
        const std::vector<std::string> labels = recipeLabels(recipes);
        std::string differs =
            labels[static_cast<std::size_t>(std::find(recipes.begin(), recipes.end(), setting.recipe) - recipes.begin())];
        if (lrsOfLoss[setting.task + "|" + setting.lossName].size() > 1)
            differs += (differs.empty() ? "" : ", ") + std::string("lr ") + setting.lr;
        CurveSeries g;
        g.key = "group/" + setting.task + "|" + setting.lossName + "|" + setting.protocol + (differs.empty() ? "" : "|" + differs);
        g.label = list.front()->label + (differs.empty() ? "" : " · " + differs) + " (" + std::to_string(list.size()) +
                  (list.size() == 1 ? " run)" : " runs)");
        g.lossName = list.front()->lossName;
        g.loss = list.front()->loss;
        g.protocol = list.front()->protocol;
        std::size_t length = 0;
        for (const CurveSeries* s : list) {
            g.runIds.push_back(s->runId);
            length = std::max(length, s->x.size());
        }
        // Point i of the group: the runs that reached point i (seeds stop at different epochs).
        for (std::size_t i = 0; i < length; ++i) {
            double sx = 0, sr = 0, ss = 0;
            int n = 0, nr = 0, ns = 0;
            for (const CurveSeries* s : list) {
                if (i >= s->x.size()) continue;
                sx += s->x[i];
                ++n;
                if (std::isfinite(s->raw[i])) { sr += s->raw[i]; ++nr; }
                if (std::isfinite(s->smoothed[i])) { ss += s->smoothed[i]; ++ns; }
            }
            g.x.push_back(sx / n);
            g.count.push_back(n);
            g.raw.push_back(nr ? sr / nr : kNaN);
            const double mean = ns ? ss / ns : kNaN;
            g.smoothed.push_back(mean);
            double sd = kNaN;
            if (ns > 1) {
                double m2 = 0;
                for (const CurveSeries* s : list)
                    if (i < s->smoothed.size() && std::isfinite(s->smoothed[i])) m2 += (s->smoothed[i] - mean) * (s->smoothed[i] - mean);
                sd = std::sqrt(m2 / (ns - 1));
            }
            g.low.push_back(mean - sd);
            g.high.push_back(mean + sd);
        }
        groups.push_back(std::move(g));
    }
    return groups;
}

std::string describeCurvePoint(const CurveSeries& s, std::size_t i, bool smoothed) {
    if (i >= s.x.size()) return {};
    auto number = [](double v) {
        if (!std::isfinite(v)) return std::string("-");
        char text[32];
        std::snprintf(text, sizeof text, "%.5g", v);
        return std::string(text);
    };
    const bool group = s.runId == 0;
    std::string out = (group ? "mean: " : "value: ") + number(i < s.raw.size() ? s.raw[i] : kNaN);
    if (smoothed) out += "\nsmoothed: " + number(i < s.smoothed.size() ? s.smoothed[i] : kNaN);
    if (group && i < s.count.size()) {
        out += "\nmean of " + std::to_string(s.count[i]) + " of " + std::to_string(s.runIds.size()) +
               (s.runIds.size() == 1 ? " run" : " runs");
    }
    return out;
}

bool curveMetricIsPercent(const std::string& metric) {
    const auto slash = metric.find('/');
    const std::string name = slash == std::string::npos ? metric : metric.substr(slash + 1);
    return name == "acc" || name == "error" || name == "top5" || name == "f1";
}

std::string curveMetricLabel(const std::string& metric) {
    if (metric == "step/loss") return "training loss per step";
    const auto slash = metric.find('/');
    const std::string split = metric.substr(0, slash);
    const std::string name = slash == std::string::npos ? metric : metric.substr(slash + 1);
    const std::string splitText = split == "train" ? "training" : split == "val" ? "validation" : split;
    std::string nameText = name == "acc" ? "accuracy" : name == "top5" ? "top-5 accuracy" : name == "ece" ? "ECE"
                         : name == "brier" ? "Brier score" : name == "f1" ? "F1" : name;
    return splitText + " " + nameText + (curveMetricIsPercent(metric) ? " (%)" : "");
}

std::string curveAxisLabel(CurveAxis axis) {
    switch (axis) {
    case CurveAxis::Epoch: return "epoch";
    case CurveAxis::Step: return "optimiser step";
    case CurveAxis::WallTime: return "training time (s)";
    }
    return {};
}

} // namespace losslab
