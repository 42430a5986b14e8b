#include "losslab/report/report_files.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "losslab/error.h"
#include "losslab/report/paper_tables.h"
#include "losslab/report/report_table.h"
#include "losslab/report/sweep_tables.h"
#include "losslab/store/run_store.h"

namespace losslab {
namespace fs = std::filesystem;

namespace {

std::string knownExperiments(const RunStore& store) {
    std::set<std::string> names;
    for (const auto& e : store.experiments()) names.insert(e.name);
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? "(none stored yet)" : out;
}

// A buffered file written under a temporary name and renamed on commit().
class AtomicFile {
public:
    explicit AtomicFile(std::string path) : m_path(std::move(path)), m_tmp(m_path + ".tmp-" + std::to_string(::getpid())) {
        m_file = std::fopen(m_tmp.c_str(), "wb");
        if (!m_file) throw Error("cannot write " + m_path + ": " + std::strerror(errno));
        std::setvbuf(m_file, nullptr, _IOFBF, 1 << 20);
    }
    ~AtomicFile() {
        if (m_file) {
            std::fclose(m_file);
            std::remove(m_tmp.c_str());
        }
    }
    void write(const std::string& s) {
        if (std::fwrite(s.data(), 1, s.size(), m_file) != s.size()) m_failed = true;
    }
    void commit() {
        const bool ok = !m_failed && std::fflush(m_file) == 0 && ::fsync(fileno(m_file)) == 0;
        const int err = errno;
        std::fclose(m_file);
        m_file = nullptr;
        if (!ok || std::rename(m_tmp.c_str(), m_path.c_str()) != 0) {
            std::remove(m_tmp.c_str());
            throw Error("cannot write " + m_path + ": " + std::strerror(ok ? errno : err));
        }
    }

private:
    std::string m_path, m_tmp;
    FILE* m_file = nullptr;
    bool m_failed = false;
};

// One row per group and bin, empty bins included (count 0, no confidence or accuracy), so
// that every group has all kCalibrationBins rows.
ReportTable reliabilityTable(const std::vector<ReliabilityGroup>& groups) {
    ReportTable table;
    table.header = {"task", "recipe", "loss_name", "loss", "k", "M", "lr", "protocol", "split", "seeds", "examples",
                    "ece_mean", "ece_std", "ece_pooled", "bin", "lower", "upper", "count", "confidence", "accuracy"};
    for (const ReliabilityGroup& g : groups) {
        for (std::size_t b = 0; b < g.bins.size(); ++b) {
            const ReliabilityBin& bin = g.bins[b];
            std::vector<TableCell> row;
            for (const auto& cell : {g.key.taskId, g.key.recipeLabel, g.key.lossName, g.key.loss, formatFull(g.key.k),
                                     formatFull(g.key.M), formatFull(g.key.lr), g.key.protocol, g.split,
                                     std::to_string(g.seeds.size()), formatFull(g.examples), formatFull(g.ece.mean),
                                     formatFull(g.ece.std), formatFull(g.pooledEce), std::to_string(b), formatFull(bin.lower),
                                     formatFull(bin.upper), formatFull(bin.count), formatFull(bin.confidence),
                                     formatFull(bin.accuracy)})
                row.push_back({cell, false});
            table.rows.push_back(std::move(row));
        }
    }
    return table;
}

} // namespace

ExperimentMatch matchExperiment(const std::string& value, const std::vector<ExperimentRecord>& all) {
    ExperimentMatch match;
    for (const auto& e : all)
        if (e.name == value) match.named.push_back(e);
    const auto hash = value.rfind('#');
    const std::string digits = hash == std::string::npos ? std::string() : value.substr(hash + 1);
    if (!digits.empty() && digits.size() < 19 &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        const std::int64_t id = std::stoll(digits);
        for (const auto& e : all)
            if (e.id == id && e.name == value.substr(0, hash)) match.instance = e;
    }
    if (match.named.empty() || !match.instance) return match;
    // Both readings are stored (an instance never has the value as its name): say how to write
    // each so that it means one.
    std::string padded = value.substr(0, hash + 1) + "0" + digits;
    while (std::any_of(all.begin(), all.end(), [&](const ExperimentRecord& e) { return e.name == padded; }))
        padded.insert(hash + 1, "0");
    std::string ids;
    for (const auto& e : match.named) ids += (ids.empty() ? "#" : ", #") + std::to_string(e.id);
    match.ambiguity = "it is the name of experiment" + std::string(match.named.size() > 1 ? "s " : " ") + ids +
                      " and also instance #" + std::to_string(match.instance->id) + " of '" + value.substr(0, hash) +
                      "'; write '" + value + "#" + std::to_string(match.named.back().id) + "' for the first, '" + padded +
                      "' for the second";
    return match;
}

std::vector<ExperimentRecord> selectExperiments(const RunStore& store, const std::vector<std::string>& names) {
    std::vector<ExperimentRecord> all = store.experiments();
    std::vector<ExperimentRecord> out;
    if (names.empty()) {
        std::map<std::string, ExperimentRecord> latest;
        for (const auto& e : all) latest[e.name] = e; // ordered by id: the last one wins
        for (const auto& e : all)
            if (latest[e.name].id == e.id) out.push_back(e);
        return out;
    }
    for (const auto& name : names) {
        const ExperimentMatch match = matchExperiment(name, all);
        if (!match.ambiguity.empty())
            throw Error("experiment '" + name + "' is ambiguous in " + store.path() + ": " + match.ambiguity);
        const ExperimentRecord* found = !match.named.empty() ? &match.named.back() // the latest of that name
                                                              : match.instance ? &*match.instance : nullptr;
        if (!found)
            throw Error("no experiment '" + name + "' in " + store.path() + "; stored experiments: " + knownExperiments(store));
        if (std::none_of(out.begin(), out.end(), [&](const ExperimentRecord& e) { return e.id == found->id; }))
            out.push_back(*found);
    }
    return out;
}

std::vector<RunRecord> runsOfExperiments(const RunStore& store, const std::vector<ExperimentRecord>& experiments) {
    if (experiments.empty()) throw Error("no experiments stored in " + store.path() + ": run one first");
    RunFilter filter;
    for (const auto& e : experiments) filter.experimentIds.push_back(e.id);
    std::vector<RunRecord> runs = store.runs(filter);
    if (runs.empty()) {
        std::string names;
        for (const auto& e : experiments) names += (names.empty() ? "" : ", ") + e.name + "#" + std::to_string(e.id);
        throw Error("the selected experiment(s) " + names + " have no runs in " + store.path());
    }
    return runs;
}

ReportData loadReportData(const RunStore& store, const ReportRequest& request, const std::map<std::string, TaskMeta>& tasks) {
    if (request.split != "test" && request.split != "val" && request.split != "train")
        throw Error("--split: expected test, val or train, got '" + request.split + "'");
    ReportData data;
    data.experiments = selectExperiments(store, request.experiments);
    const std::vector<RunRecord> runs = runsOfExperiments(store, data.experiments);
    std::vector<std::int64_t> ids;
    std::map<std::int64_t, std::size_t> index;
    for (const auto& r : runs) {
        index[r.id] = data.runs.size();
        ids.push_back(r.id);
        data.runs.push_back({r, {}});
    }
    for (const auto& row : store.reportedMetrics(ids))
        data.runs[index.at(row.runId)].reported[row.value.split + "/" + row.value.metric] = row.value.value;
    data.options.split = request.split;
    data.analysis = analyzeRuns(data.runs, tasks, data.options);
    data.sweeps = analyzeSweeps(data.runs, data.analysis, data.options);

    // Figure 2: validation accuracy per epoch, or a speech task's error rate (WER, else PER, else CER).
    std::vector<std::string> curveMetrics = {"acc"};
    curveMetrics.insert(curveMetrics.end(), errorRateMetrics().begin(), errorRateMetrics().end());
    std::vector<EpochMetricRow> curveRows;
    std::map<std::int64_t, std::set<std::string>> metricsOfRun; // run -> "val/wer", ...
    store.forEachEpochMetric(ids, [&](const EpochMetricRow& row) {
        curveRows.push_back(row);
        metricsOfRun[row.runId].insert(row.value.split + "/" + row.value.metric);
    }, curveMetrics);
    for (const auto& task : data.analysis.taskIds) {
        std::vector<RunRecord> taskRuns;
        for (const auto& r : runs)
            if (r.taskId == task) taskRuns.push_back(r);
        std::string metric = "val/acc";
        for (const std::string& rate : errorRateMetrics())
            if (std::any_of(taskRuns.begin(), taskRuns.end(), [&](const RunRecord& r) { return metricsOfRun[r.id].count("val/" + rate) != 0; })) {
                metric = "val/" + rate;
                break;
            }
        data.curves[task] = buildCurves(taskRuns, curveRows, metric);
    }
    data.reliability = buildReliability(data.analysis, store.reportedCalibration(ids, request.split), request.split);
    return data;
}

void prepareReportFolder(const std::string& outDir) { prepareFolder(outDir, "the report folder " + outDir); }

std::vector<std::string> writeReportTables(const RunStore& store, const ReportData& data, const ReportRequest& request) {
    prepareReportFolder(request.outDir);
    std::vector<std::string> written;
    auto write = [&](const std::string& name, const std::string& content) {
        const std::string path = (fs::path(request.outDir) / name).string();
        writeFileAtomically(path, content);
        written.push_back(path);
    };
    const std::vector<std::pair<std::string, PaperTable>> tables = {
        {"table-main", mainTable(data.analysis, data.options)},
        {"table-std", stdTable(data.analysis)},
        {"stats", statsTable(data.analysis)},
        {"headline", headlineTable(data.analysis)},
    };
    for (const auto& [name, table] : tables) {
        if (request.csv) write(name + ".csv", toCsv(table.data));
        if (request.markdown) write(name + ".md", toMarkdown(table.display));
        if (request.latex) write(name + ".tex", toLatex(table.display));
    }
    // Sweeps: only when some runs come from one, so that other reports stay as they were.
    if (!data.sweeps.empty()) {
        const PaperTable tuned = tunedTable(data.sweeps);
        if (request.csv) write("table-tuned.csv", toCsv(tuned.data));
        if (request.markdown) write("table-tuned.md", toMarkdown(tuned.display));
        if (request.latex) write("table-tuned.tex", toLatex(tuned.display));
        if (request.csv) write("sweep-grid.csv", toCsv(sweepGridTable(data.sweeps)));
    }

    if (request.csv && !data.reliability.empty()) write("reliability.csv", toCsv(reliabilityTable(data.reliability)));

    // seed-results.csv: one row per run with every reported metric.
    std::set<std::string> metricKeys;
    for (const auto& rr : data.runs)
        for (const auto& [k, v] : rr.reported) metricKeys.insert(k);
    // Each run's recipe label, as the analysis labels its group (the same runs, so the same labels).
    std::map<std::int64_t, std::string> recipeLabel;
    {
        std::vector<LossGroupKey> keys;
        for (const auto& rr : data.runs) keys.push_back(groupKeyOf(rr.run));
        std::vector<LossGroupKey*> pointers;
        for (auto& k : keys) pointers.push_back(&k);
        labelRecipes(pointers);
        for (std::size_t i = 0; i < keys.size(); ++i) recipeLabel[data.runs[i].run.id] = keys[i].recipeLabel;
    }
    ReportTable seeds;
    seeds.header = {"run_id", "experiment", "task", "recipe", "loss_name", "loss", "k", "M", "lr", "protocol", "seed", "status",
                    "epochs", "best_epoch", "wall_s", "device", "library", "threads"};
    for (const auto& k : metricKeys) {
        std::string col = k;
        std::replace(col.begin(), col.end(), '/', '_');
        seeds.header.push_back(col);
    }
    for (const auto& rr : data.runs) {
        const RunRecord& r = rr.run;
        std::vector<TableCell> row;
        for (const auto& cell : {std::to_string(r.id), r.experiment, r.taskId, recipeLabel[r.id], r.lossName, r.loss, formatFull(r.k),
                                 formatFull(r.M), formatFull(r.lr), r.protocol, std::to_string(r.seed),
                                 std::string(runStatusName(r.status)), std::to_string(r.epochs), std::to_string(r.bestEpoch),
                                 formatFull(r.wallSeconds), r.device, r.library, r.threads > 0 ? std::to_string(r.threads) : std::string()})
            row.push_back({cell, false});
        for (const auto& k : metricKeys) {
            const auto it = rr.reported.find(k);
            row.push_back({it == rr.reported.end() ? "" : formatFull(it->second), false});
        }
        seeds.rows.push_back(row);
    }
    write("seed-results.csv", toCsv(seeds));

    // metrics-long.csv: every stored epoch metric, streamed.
    {
        const std::string path = (fs::path(request.outDir) / "metrics-long.csv").string();
        AtomicFile out(path);
        out.write("run_id,experiment,task,recipe,loss,k,M,protocol,seed,epoch,split,metric,value\r\n");
        std::map<std::int64_t, std::string> prefix; // the run's columns, formatted once
        std::vector<std::int64_t> ids;
        for (const auto& rr : data.runs) {
            const RunRecord& r = rr.run;
            ids.push_back(r.id);
            prefix[r.id] = std::to_string(r.id) + "," + csvField(r.experiment) + "," + csvField(r.taskId) + "," + csvField(recipeLabel[r.id]) + "," + r.loss + "," +
                           formatFull(r.k) + "," + formatFull(r.M) + "," + r.protocol + "," + std::to_string(r.seed) + ",";
        }
        std::string line;
        store.forEachEpochMetric(ids, [&](const EpochMetricRow& row) {
            line = prefix[row.runId];
            line += std::to_string(row.epoch);
            line += ',';
            line += row.value.split;
            line += ',';
            line += row.value.metric;
            line += ',';
            line += formatFull(row.value.value);
            line += "\r\n";
            out.write(line);
        });
        out.commit();
        written.push_back(path);
    }
    return written;
}

} // namespace losslab
