#include "curve_book.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <set>

#include "losslab/store/run_store.h"

namespace losslab {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Run revisions come from one counter for every book (books are loaded on background threads):
// a plot handed a new book never takes a changed run for the one it drew.
std::atomic<std::uint64_t> g_runRevisions{0};

// Training seconds at `step`, interpolated between the ends of epochs (whose steps and times
// are known) and extrapolated at the last epoch's pace; 0 before anything is known.
double wallAtStep(const RunCurves& curves, double step) {
    const auto& s = curves.epochSteps;
    const auto& w = curves.epochWall;
    if (s.empty()) return 0.0;
    auto it = std::lower_bound(s.begin(), s.end(), step);
    const std::size_t i = static_cast<std::size_t>(it - s.begin());
    const double s0 = i == 0 ? 0.0 : s[i - 1], w0 = i == 0 ? 0.0 : w[i - 1];
    double s1, w1;
    if (i < s.size()) {
        s1 = s[i];
        w1 = w[i];
    } else { // past the last epoch: its pace
        const double lastSteps = s.back() - (s.size() > 1 ? s[s.size() - 2] : 0.0);
        const double lastWall = w.back() - (w.size() > 1 ? w[w.size() - 2] : 0.0);
        s1 = s.back() + lastSteps;
        w1 = w.back() + lastWall;
    }
    if (s1 <= s0) return w0;
    return w0 + (step - s0) / (s1 - s0) * (w1 - w0);
}

} // namespace

void CurveBook::touch(RunCurves& curves) {
    curves.revision = ++g_runRevisions;
    ++m_revision;
}

void CurveBook::addRun(const RunRecord& run) {
    auto [it, inserted] = m_runs.try_emplace(run.id);
    if (it->second.run.specYaml != run.specYaml) it->second.trainingRecipe.reset();
    it->second.run = run;
    if (inserted) m_order.push_back(run.id);
    touch(it->second);
}

void CurveBook::appendEpoch(RunCurves& curves, int epoch, std::int64_t step, const std::vector<MetricValue>& metrics) {
    // A resumed run trains its last epochs again: drop them and what followed.
    std::size_t keep = curves.epochs.size();
    while (keep > 0 && curves.epochs[keep - 1] >= epoch) --keep;
    if (keep != curves.epochs.size()) {
        curves.epochs.resize(keep);
        curves.epochSteps.resize(keep);
        curves.epochWall.resize(keep);
        for (auto& [name, values] : curves.epochValues) values.resize(keep);
        const double lastStep = keep == 0 ? 0.0 : curves.epochSteps.back();
        std::size_t steps = curves.steps.size();
        while (steps > 0 && curves.steps[steps - 1] > lastStep) --steps;
        curves.steps.resize(steps);
        curves.stepLoss.resize(steps);
        curves.stepWall.resize(steps);
    }
    double epochSeconds = 0.0;
    for (const MetricValue& m : metrics)
        if (m.split == "train" && m.metric == "wall_s") epochSeconds = m.value;
    curves.epochs.push_back(epoch);
    curves.epochSteps.push_back(static_cast<double>(step));
    curves.epochWall.push_back((keep == 0 ? 0.0 : curves.epochWall[keep - 1]) + epochSeconds);
    for (auto& [name, values] : curves.epochValues) values.push_back(kNaN);
    for (const MetricValue& m : metrics) {
        std::vector<double>& values = curves.epochValues[m.split + "/" + m.metric];
        values.resize(curves.epochs.size(), kNaN);
        values.back() = m.value;
    }
}

void CurveBook::appendStep(RunCurves& curves, std::int64_t step, double loss) {
    const auto x = static_cast<double>(step);
    if (!curves.steps.empty() && x <= curves.steps.back()) {
        // Steps of an epoch trained again after a resume.
        std::size_t keep = curves.steps.size();
        while (keep > 0 && curves.steps[keep - 1] >= x) --keep;
        curves.steps.resize(keep);
        curves.stepLoss.resize(keep);
        curves.stepWall.resize(keep);
    }
    curves.steps.push_back(x);
    curves.stepLoss.push_back(loss);
    curves.stepWall.push_back(wallAtStep(curves, x));
}

void CurveBook::apply(const RunEvent& event) {
    auto it = m_runs.find(event.runId);
    if (it == m_runs.end()) return;
    RunCurves& curves = it->second;
    switch (event.kind) {
    case RunEvent::Kind::Started:
        curves.run.status = RunStatus::Running;
        curves.run.device = event.message;
        break;
    case RunEvent::Kind::Step:
        for (const MetricValue& m : event.metrics)
            if (m.metric == "loss") appendStep(curves, event.step, m.value);
        break;
    case RunEvent::Kind::Epoch:
        appendEpoch(curves, event.epoch, event.step, event.metrics);
        curves.run.epochs = event.epoch;
        curves.run.bestEpoch = event.bestEpoch;
        break;
    case RunEvent::Kind::Finished:
        curves.run.status = event.status;
        curves.run.bestEpoch = event.bestEpoch;
        curves.run.error = event.message;
        break;
    case RunEvent::Kind::Waiting:
    case RunEvent::Kind::Note: return;
    }
    touch(curves);
}

void CurveBook::remove(std::int64_t runId) {
    if (m_runs.erase(runId) == 0) return;
    m_order.erase(std::remove(m_order.begin(), m_order.end(), runId), m_order.end());
    ++m_revision;
}

void CurveBook::clear() {
    m_runs.clear();
    m_order.clear();
    ++m_revision;
}

const RunCurves* CurveBook::find(std::int64_t runId) const {
    auto it = m_runs.find(runId);
    return it == m_runs.end() ? nullptr : &it->second;
}

std::vector<std::int64_t> CurveBook::runIds() const { return m_order; }

std::vector<std::string> CurveBook::epochMetricNames() const {
    std::set<std::string> names;
    for (const auto& [id, curves] : m_runs)
        for (const auto& [name, values] : curves.epochValues) names.insert(name);
    return {names.begin(), names.end()};
}

CurveBook CurveBook::load(const RunStore& store, const std::vector<std::int64_t>& runIds) {
    CurveBook book;
    if (runIds.empty()) return book;
    RunFilter filter;
    filter.runIds = runIds;
    for (const RunRecord& run : store.runs(filter)) book.addRun(run);
    // Rows come ordered by run, epoch, split, metric: gather one epoch at a time.
    std::int64_t runId = -1;
    int epoch = 0;
    std::vector<MetricValue> metrics;
    auto flush = [&] {
        if (runId < 0 || metrics.empty()) return;
        auto it = book.m_runs.find(runId);
        if (it != book.m_runs.end()) book.appendEpoch(it->second, epoch, 0, metrics);
        metrics.clear();
    };
    for (const EpochMetricRow& row : store.epochMetrics(book.m_order)) {
        if (row.runId != runId || row.epoch != epoch) {
            flush();
            runId = row.runId;
            epoch = row.epoch;
        }
        metrics.push_back(row.value);
    }
    flush();
    for (std::int64_t id : book.m_order) {
        RunCurves& curves = book.m_runs[id];
        // Steps at the end of each epoch: the last logged step of that epoch.
        std::map<int, double> lastStepOfEpoch;
        std::vector<std::pair<double, double>> losses;
        for (const StepMetricRow& row : store.stepMetrics(id)) {
            if (row.metric != "train_loss") continue;
            losses.emplace_back(static_cast<double>(row.step), row.value);
            lastStepOfEpoch[row.epoch] = std::max(lastStepOfEpoch[row.epoch], static_cast<double>(row.step));
        }
        for (std::size_t i = 0; i < curves.epochs.size(); ++i) {
            auto it = lastStepOfEpoch.find(static_cast<int>(curves.epochs[i]));
            curves.epochSteps[i] = it != lastStepOfEpoch.end() ? it->second : (i > 0 ? curves.epochSteps[i - 1] : 0.0);
        }
        for (const auto& [step, loss] : losses) book.appendStep(curves, static_cast<std::int64_t>(step), loss);
        book.touch(curves);
    }
    ++book.m_revision;
    return book;
}

} // namespace losslab
