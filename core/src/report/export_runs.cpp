#include "export_runs.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iterator>
#include <tuple>

#include "losslab/analysis/reliability.h"
#include "losslab/report/report_files.h"
#include "losslab/report/report_table.h"
#include "losslab/spec/run_recipe.h"
#include "losslab/store/run_store.h"

namespace losslab {

namespace {

std::string cell(const std::string& text) {
    std::string out;
    for (const char ch : text) {
        if (ch == '|') out += "\\|";
        else if (ch == '\n' || ch == '\r') out += ' ';
        else out.push_back(ch);
    }
    return out;
}

} // namespace

std::string runSummaryMarkdown(const RunRecord& r, const std::map<std::string, double>& reported) {
    std::string md = "| setting | value |\n| --- | --- |\n";
    const auto row = [&](const std::string& key, const std::string& value) {
        if (!value.empty()) md += "| " + key + " | " + cell(value) + " |\n";
    };
    row("run", std::to_string(r.id) + " (uid " + r.uid + ")");
    row("experiment", r.experiment + "#" + std::to_string(r.experimentId));
    row("task", r.taskId);
    row("loss", r.lossName + (r.loss == "square" ? " (square, k " + formatFull(r.k) + ", M " + formatFull(r.M) + ")" : " (" + r.loss + ")"));
    row("learning rate", formatFull(r.lr));
    row("protocol", r.protocol);
    row("seed", std::to_string(r.seed));
    row("status", std::string(runStatusName(r.status)));
    row("epochs", std::to_string(r.epochs) + (r.bestEpoch > 0 ? " (reported: epoch " + std::to_string(r.bestEpoch) + ")" : ""));
    std::string trainedBy = r.device;
    if (!r.library.empty()) trainedBy += ", " + r.library;
    if (r.threads > 0) trainedBy += ", " + std::to_string(r.threads) + " CPU thread(s)";
    row("trained on", trainedBy);
    if (!r.reusedFrom.empty()) row("epochs copied from", "run uid " + r.reusedFrom + " (runner.reuse_prefix)");
    row("error", r.error);
    row("tags", r.tags);
    row("notes", r.notes);
    for (const auto& [key, value] : reported) row(key + " at the reported epoch", formatFull(value));
    return md;
}

std::string reliabilityMarkdown(const CalibrationRow& row) {
    const double examples = row.bins.total();
    std::string md = "The " + row.bins.split + " examples at epoch " + std::to_string(row.epoch) +
                     ", the reported one, by the probability of their predicted class (" +
                     std::to_string(kCalibrationBins) + " bins): " + formatFull(examples) + " examples, ECE " +
                     formatFixed(eceOf(row.bins), 4) + ".\n\n"
                     "| confidence | examples | mean confidence | accuracy | accuracy - confidence |\n"
                     "|---|---:|---:|---:|---:|\n";
    for (const ReliabilityBin& bin : reliabilityBins(row.bins)) {
        if (!(bin.count > 0)) continue;
        md += std::string(bin.lower > 0 ? "| (" : "| [") + formatFixed(bin.lower, 3) + ", " + formatFixed(bin.upper, 3) + "] | " + formatFull(bin.count) + " | " +
              formatFixed(bin.confidence, 4) + " | " + formatFixed(bin.accuracy, 4) + " | " +
              formatFixed(bin.accuracy - bin.confidence, 4) + " |\n";
    }
    return md;
}

ExportSelection selectExportedRuns(const RunStore& store, const std::vector<std::string>& names) {
    const std::vector<ExperimentRecord> experiments = selectExperiments(store, names);
    ExportSelection out;
    out.experiments = static_cast<int>(experiments.size());
    for (RunRecord& r : runsOfExperiments(store, experiments)) out.runs.push_back({std::move(r), {}, {}});

    // The recipes that share an experiment, task, loss and protocol, and their labels.
    using Family = std::tuple<std::int64_t, std::string, std::string, std::string>;
    const auto familyOf = [](const RunRecord& r) { return Family{r.experimentId, r.taskId, r.lossName, r.protocol}; };
    std::map<Family, std::vector<RunRecipe>> recipesOf;
    std::vector<RunRecipe> recipe(out.runs.size());
    for (std::size_t i = 0; i < out.runs.size(); ++i) {
        recipe[i] = runRecipe(out.runs[i].record.specYaml);
        auto& list = recipesOf[familyOf(out.runs[i].record)];
        if (std::find(list.begin(), list.end(), recipe[i]) == list.end()) list.push_back(recipe[i]);
    }
    std::map<Family, std::map<RunRecipe, std::string>> labelOf;
    for (const auto& [family, list] : recipesOf) {
        const std::vector<std::string> labels = recipeLabels(list);
        for (std::size_t i = 0; i < list.size(); ++i) labelOf[family][list[i]] = labels[i];
    }
    std::vector<std::int64_t> ids;
    std::map<std::int64_t, std::size_t> indexOf;
    for (std::size_t i = 0; i < out.runs.size(); ++i) {
        out.runs[i].recipeLabel = labelOf[familyOf(out.runs[i].record)][recipe[i]];
        ids.push_back(out.runs[i].record.id);
        indexOf[out.runs[i].record.id] = i;
    }
    if (!ids.empty())
        for (const auto& row : store.reportedMetrics(ids))
            out.runs[indexOf.at(row.runId)].reported[row.value.split + "/" + row.value.metric] = row.value.value;
    return out;
}

bool hasStarted(const RunRecord& r) { return r.epochs > 0 || !r.startedAt.empty(); }

double unixSeconds(const std::string& iso) {
    std::tm parts{};
    const char* end = iso.empty() ? nullptr : ::strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &parts);
    if (!end || *end != '\0') return 0.0;
    return static_cast<double>(::timegm(&parts));
}

RunTimeline::RunTimeline(const RunRecord& r, const std::vector<EpochMetricRow>& epochs, const std::vector<StepMetricRow>& steps)
    : m_start(r.startedAt.empty() ? unixSeconds(r.createdAt) : unixSeconds(r.startedAt)) {
    std::map<int, double> trainSeconds; // epoch -> train/wall_s
    for (const auto& row : epochs)
        if (row.value.split == "train" && row.value.metric == "wall_s") trainSeconds[row.epoch] = row.value.value;
    double elapsed = 0.0;
    for (const auto& [epoch, seconds] : trainSeconds) m_endOf[epoch] = elapsed += std::isfinite(seconds) ? seconds : 0.0;
    for (const auto& s : steps) {
        auto [it, fresh] = m_stepRange.try_emplace(s.epoch, s.step, s.step);
        it->second.first = std::min(it->second.first, s.step);
        it->second.second = std::max(it->second.second, s.step);
    }
}

double RunTimeline::epochEnd(int epoch) const {
    const auto it = m_endOf.upper_bound(epoch); // the last epoch <= `epoch` with a time
    return m_start + (it == m_endOf.begin() ? 0.0 : std::prev(it)->second);
}

double RunTimeline::stepTime(const StepMetricRow& s) const {
    const auto range = m_stepRange.find(s.epoch);
    if (range == m_stepRange.end()) return epochEnd(s.epoch - 1);
    const auto [first, last] = range->second;
    const double from = epochEnd(s.epoch - 1), to = epochEnd(s.epoch);
    return to > from ? from + (to - from) * static_cast<double>(s.step - first + 1) / static_cast<double>(last - first + 1) : from;
}

} // namespace losslab
