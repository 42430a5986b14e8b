#include "losslab/report/tensorboard_export.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <map>
#include <sstream>
#include <system_error>
#include <tuple>

#include "losslab/analysis/reliability.h"
#include "losslab/error.h"
#include "losslab/report/report_files.h"
#include "losslab/report/report_table.h"
#include "losslab/spec/run_recipe.h"
#include "losslab/store/run_store.h"

namespace losslab {
namespace fs = std::filesystem;

namespace tensorboard {
namespace {

// Protocol buffer wire format: a key is (field number << 3) | wire type.
enum WireType : unsigned { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void putVarint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7f) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}
void putKey(std::string& out, unsigned field, WireType type) { putVarint(out, (field << 3) | type); }
void putLittleEndian(std::string& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void putBytes(std::string& out, unsigned field, std::string_view bytes) {
    putKey(out, field, kLengthDelimited);
    putVarint(out, bytes.size());
    out.append(bytes);
}
void putDouble(std::string& out, unsigned field, double v) {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    putKey(out, field, kFixed64);
    putLittleEndian(out, bits, 8);
}
void putFloat(std::string& out, unsigned field, float v) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    putKey(out, field, kFixed32);
    putLittleEndian(out, bits, 4);
}
void putInt(std::string& out, unsigned field, std::int64_t v) {
    putKey(out, field, kVarint);
    putVarint(out, static_cast<std::uint64_t>(v)); // int64: two's complement, as protobuf does
}

// tensorflow.Event: wall_time = 1 (double), step = 2 (int64), file_version = 3, summary = 5.
std::string event(double wallTime, std::int64_t step) {
    std::string out;
    putDouble(out, 1, wallTime);
    if (step != 0) putInt(out, 2, step);
    return out;
}
// An Event holding a Summary (value = 1) with one Summary.Value.
std::string summaryEvent(double wallTime, std::int64_t step, const std::string& value) {
    std::string summary;
    putBytes(summary, 1, value);
    std::string out = event(wallTime, step);
    putBytes(out, 5, summary);
    return out;
}

const std::array<std::uint32_t, 256>& crcTable() {
    static const std::array<std::uint32_t, 256> table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1; // reflected Castagnoli
            t[i] = c;
        }
        return t;
    }();
    return table;
}

} // namespace

std::uint32_t crc32c(std::string_view data, std::uint32_t crc) {
    const auto& table = crcTable();
    crc = ~crc;
    for (const char ch : data) crc = table[(crc ^ static_cast<unsigned char>(ch)) & 0xff] ^ (crc >> 8);
    return ~crc;
}

std::uint32_t maskedCrc32c(std::string_view data) {
    const std::uint32_t crc = crc32c(data);
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string record(std::string_view data) {
    std::string length;
    putLittleEndian(length, data.size(), 8);
    std::string out = length;
    putLittleEndian(out, maskedCrc32c(length), 4);
    out.append(data);
    putLittleEndian(out, maskedCrc32c(data), 4);
    return out;
}

std::string fileVersionEvent(double wallTime) {
    std::string out = event(wallTime, 0);
    putBytes(out, 3, "brain.Event:2");
    return out;
}

std::string scalarEvent(double wallTime, std::int64_t step, std::string_view tag, float value) {
    std::string value_; // Summary.Value: tag = 1, simple_value = 2
    putBytes(value_, 1, tag);
    putFloat(value_, 2, value);
    return summaryEvent(wallTime, step, value_);
}

std::string textEvent(double wallTime, std::int64_t step, std::string_view tag, std::string_view markdown) {
    // SummaryMetadata: plugin_data = 1 (PluginData: plugin_name = 1, content = 2, here the
    // empty TextPluginData of version 0), data_class = 4 (DATA_CLASS_TENSOR = 2).
    std::string pluginData;
    putBytes(pluginData, 1, "text");
    std::string metadata;
    putBytes(metadata, 1, pluginData);
    putInt(metadata, 4, 2);
    // TensorProto: dtype = 1 (DT_STRING = 7), tensor_shape = 2 (a scalar: no dims), string_val = 8.
    std::string tensor;
    putInt(tensor, 1, 7);
    putBytes(tensor, 2, "");
    putBytes(tensor, 8, markdown);
    std::string value; // Summary.Value: tag = 1, tensor = 8, metadata = 9
    putBytes(value, 1, tag);
    putBytes(value, 8, tensor);
    putBytes(value, 9, metadata);
    return summaryEvent(wallTime, step, value);
}

std::string sessionStartEvent(double wallTime, const std::map<std::string, double>& numbers,
                              const std::map<std::string, std::string>& texts, std::string_view group) {
    // SessionStartInfo: hparams = 1 (map<string, google.protobuf.Value>: entries of key = 1,
    // value = 2; Value: number_value = 2, string_value = 3), group_name = 4, start_time_secs = 5.
    std::string info;
    const auto entry = [&info](const std::string& key, const std::string& value) {
        std::string e;
        putBytes(e, 1, key);
        putBytes(e, 2, value);
        putBytes(info, 1, e);
    };
    for (const auto& [key, number] : numbers) {
        std::string value;
        putDouble(value, 2, number);
        entry(key, value);
    }
    for (const auto& [key, text] : texts) {
        std::string value;
        putBytes(value, 3, text);
        entry(key, value);
    }
    putBytes(info, 4, group);
    putDouble(info, 5, wallTime);
    // HParamsPluginData: version = 1 (0, left out), session_start_info = 3. Like TensorBoard's
    // own writer, the value has metadata only; TensorBoard gives it its tensor when reading.
    std::string content;
    putBytes(content, 3, info);
    std::string pluginData;
    putBytes(pluginData, 1, "hparams");
    putBytes(pluginData, 2, content);
    std::string metadata;
    putBytes(metadata, 1, pluginData);
    std::string value;
    putBytes(value, 1, "_hparams_/session_start_info");
    putBytes(value, 9, metadata);
    return summaryEvent(wallTime, 0, value);
}

} // namespace tensorboard

namespace {

// This exporter's files carry this mark in their name; only those are replaced.
constexpr const char* kFileMark = ".losslab.";

// A folder name from stored text: '/' and control characters become '_', and names the
// file system treats specially ("", ".", "..") become "_".
std::string folderName(const std::string& text) {
    std::string out;
    for (const char ch : text) out.push_back(ch == '/' || static_cast<unsigned char>(ch) < 0x20 ? '_' : ch);
    if (out.empty() || out == "." || out == "..") return "_";
    return out;
}

// A task id keeps its '/' as folders ("cifar10/wrn" -> cifar10/wrn).
fs::path taskFolder(const std::string& taskId) {
    fs::path out;
    std::string part;
    std::istringstream in(taskId);
    while (std::getline(in, part, '/')) out /= folderName(part);
    return out.empty() ? fs::path("_") : out;
}

// "2026-12-06T11:02:29Z" as seconds since 1970; 0 when empty or not in that form.
double unixSeconds(const std::string& iso) {
    std::tm parts{};
    const char* end = iso.empty() ? nullptr : ::strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &parts);
    if (!end || *end != '\0') return 0.0;
    return static_cast<double>(::timegm(&parts));
}

std::string cell(const std::string& text) {
    std::string out;
    for (const char ch : text) {
        if (ch == '|') out += "\\|";
        else if (ch == '\n' || ch == '\r') out += ' ';
        else out.push_back(ch);
    }
    return out;
}

std::string runSummary(const RunRecord& r, const std::map<std::string, double>& reported) {
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

std::string specText(const std::string& yaml) {
    std::string md; // an indented block: Markdown shows it as code
    std::istringstream in(yaml);
    for (std::string line; std::getline(in, line);) md += "    " + line + "\n";
    return md;
}

// The ECE bins of one split at the reported epoch as a table (TensorBoard's Text dashboard
// renders Markdown): the run's reliability diagram in numbers, the bins with examples only.
std::string reliabilityText(const CalibrationRow& row) {
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

// The event file of one run; `group` is its folder without the seed.
std::string runEvents(const RunStore& store, const RunRecord& r, const std::map<std::string, double>& reported,
                      const std::string& recipeLabel, const std::string& group) {
    const double start = r.startedAt.empty() ? unixSeconds(r.createdAt) : unixSeconds(r.startedAt);
    const std::vector<EpochMetricRow> epochs = store.epochMetrics({r.id});
    std::map<int, double> trainSeconds; // epoch -> train/wall_s
    for (const auto& row : epochs)
        if (row.value.split == "train" && row.value.metric == "wall_s") trainSeconds[row.epoch] = row.value.value;
    std::map<int, double> endOf; // epoch -> seconds from the start to its end
    double elapsed = 0.0;
    for (const auto& [epoch, seconds] : trainSeconds) endOf[epoch] = elapsed += std::isfinite(seconds) ? seconds : 0.0;
    const auto epochEnd = [&](int epoch) {
        const auto it = endOf.upper_bound(epoch); // the last epoch <= `epoch` with a time
        return it == endOf.begin() ? 0.0 : std::prev(it)->second;
    };

    std::string out = tensorboard::record(tensorboard::fileVersionEvent(start));
    out += tensorboard::record(tensorboard::textEvent(start, 0, "run", runSummary(r, reported)));
    if (!r.specYaml.empty()) out += tensorboard::record(tensorboard::textEvent(start, 0, "spec", specText(r.specYaml)));
    std::map<std::string, std::string> texts = {{"experiment", r.experiment + "#" + std::to_string(r.experimentId)},
                                                {"task", r.taskId}, {"loss", r.lossName}, {"loss_type", r.loss},
                                                {"protocol", r.protocol}};
    if (!recipeLabel.empty()) texts["recipe"] = recipeLabel;
    out += tensorboard::record(tensorboard::sessionStartEvent(start, {{"k", r.k}, {"M", r.M}, {"lr", r.lr}}, texts, group));
    for (const auto& row : epochs)
        out += tensorboard::record(tensorboard::scalarEvent(start + epochEnd(row.epoch), row.epoch,
                                                            row.value.split + "/" + row.value.metric,
                                                            static_cast<float>(row.value.value)));
    if (r.bestEpoch > 0)
        for (const auto& [key, value] : reported)
            out += tensorboard::record(tensorboard::scalarEvent(start + epochEnd(r.bestEpoch), r.bestEpoch, "reported/" + key,
                                                                static_cast<float>(value)));
    // The reliability diagram's bins at the reported epoch, per split that stored them.
    if (r.bestEpoch > 0)
        for (const char* split : {"train", "val", "test"})
            for (const CalibrationRow& row : store.reportedCalibration({r.id}, split))
                out += tensorboard::record(tensorboard::textEvent(start + epochEnd(r.bestEpoch), r.bestEpoch,
                                                                  std::string("reliability/") + split, reliabilityText(row)));
    // Steps: spread evenly over their epoch's training time.
    const std::vector<StepMetricRow> steps = store.stepMetrics(r.id);
    std::map<int, std::pair<std::int64_t, std::int64_t>> stepRange; // epoch -> first, last step
    for (const auto& s : steps) {
        auto [it, fresh] = stepRange.try_emplace(s.epoch, s.step, s.step);
        it->second.first = std::min(it->second.first, s.step);
        it->second.second = std::max(it->second.second, s.step);
    }
    for (const auto& s : steps) {
        const auto [first, last] = stepRange.at(s.epoch);
        const double from = epochEnd(s.epoch - 1), to = epochEnd(s.epoch);
        const double at = to > from ? from + (to - from) * static_cast<double>(s.step - first + 1) / static_cast<double>(last - first + 1) : from;
        out += tensorboard::record(tensorboard::scalarEvent(start + at, s.step, "step/" + s.metric, static_cast<float>(s.value)));
    }
    return out;
}

void createFolder(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir)) throw Error("cannot create the folder " + dir.string() + ": " + (ec ? ec.message() : "a file of that name is in the way"));
}

} // namespace

TensorBoardExportResult exportTensorBoard(const RunStore& store, const TensorBoardExportRequest& request) {
    const std::vector<ExperimentRecord> experiments = selectExperiments(store, request.experiments);
    const std::vector<RunRecord> runs = runsOfExperiments(store, experiments);

    // Folders: experiment, task, loss, protocol, then what tells apart the recipes that share
    // those (a sweep's values), then the seed.
    using Family = std::tuple<std::int64_t, std::string, std::string, std::string>;
    std::map<Family, std::vector<RunRecipe>> recipesOf;
    std::vector<RunRecipe> recipe(runs.size());
    for (std::size_t i = 0; i < runs.size(); ++i) {
        recipe[i] = runRecipe(runs[i].specYaml);
        auto& list = recipesOf[{runs[i].experimentId, runs[i].taskId, runs[i].lossName, runs[i].protocol}];
        if (std::find(list.begin(), list.end(), recipe[i]) == list.end()) list.push_back(recipe[i]);
    }
    std::map<Family, std::map<RunRecipe, std::string>> labelOf;
    for (const auto& [family, list] : recipesOf) {
        const std::vector<std::string> labels = recipeLabels(list);
        for (std::size_t i = 0; i < list.size(); ++i) labelOf[family][list[i]] = labels[i];
    }
    std::vector<fs::path> group(runs.size()), folder(runs.size());
    std::vector<std::string> label(runs.size());
    std::map<fs::path, int> uses;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const RunRecord& r = runs[i];
        group[i] = fs::path(folderName(r.experiment + "#" + std::to_string(r.experimentId))) / taskFolder(r.taskId) /
                   folderName(r.lossName) / folderName(r.protocol);
        label[i] = labelOf[{r.experimentId, r.taskId, r.lossName, r.protocol}][recipe[i]];
        if (!label[i].empty()) group[i] /= folderName(label[i]);
        folder[i] = group[i] / ("seed" + std::to_string(r.seed));
        ++uses[folder[i]];
    }
    for (std::size_t i = 0; i < runs.size(); ++i) // two runs of one recipe and seed: tell them apart by id
        if (uses[folder[i]] > 1) folder[i] += "-run" + std::to_string(runs[i].id);

    std::vector<std::int64_t> ids;
    for (const auto& r : runs) ids.push_back(r.id);
    std::map<std::int64_t, std::map<std::string, double>> reported;
    for (const auto& row : store.reportedMetrics(ids)) reported[row.runId][row.value.split + "/" + row.value.metric] = row.value.value;

    TensorBoardExportResult result;
    result.experiments = static_cast<int>(experiments.size());
    const fs::path root(request.outDir);
    createFolder(root);
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const RunRecord& r = runs[i];
        if (r.epochs == 0 && r.startedAt.empty()) {
            ++result.notStarted;
            continue;
        }
        const fs::path dir = root / folder[i];
        createFolder(dir);
        const std::string name = "events.out.tfevents." + std::to_string(static_cast<long long>(unixSeconds(r.createdAt))) + kFileMark + r.uid;
        // Written under a name without "tfevents", so TensorBoard never reads it half-written.
        writeFileAtomically((dir / name).string(), runEvents(store, r, reported[r.id], label[i], group[i].string()), ".losslab-export.tmp");
        std::vector<fs::path> stale; // an earlier export's file of another name
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(dir, ec)) {
            const std::string other = entry.path().filename().string();
            if (other != name && other.rfind("events.out.tfevents.", 0) == 0 && other.find(kFileMark) != std::string::npos)
                stale.push_back(entry.path());
        }
        for (const auto& path : stale) fs::remove(path, ec);
        result.runDirs.push_back(folder[i].string());
        ++result.runs;
    }
    return result;
}

} // namespace losslab
