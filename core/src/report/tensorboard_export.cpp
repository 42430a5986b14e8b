#include "losslab/report/tensorboard_export.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <system_error>

#include "export_runs.h"
#include "losslab/error.h"
#include "losslab/report/report_files.h"
#include "losslab/report/report_table.h"
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

std::string specText(const std::string& yaml) {
    std::string md; // an indented block: Markdown shows it as code
    std::istringstream in(yaml);
    for (std::string line; std::getline(in, line);) md += "    " + line + "\n";
    return md;
}

// The event file of one run; `group` is its folder without the seed.
std::string runEvents(const RunStore& store, const ExportedRun& run, const std::string& group) {
    const RunRecord& r = run.record;
    const std::vector<EpochMetricRow> epochs = store.epochMetrics({r.id});
    const std::vector<StepMetricRow> steps = store.stepMetrics(r.id);
    const RunTimeline time(r, epochs, steps);
    const double start = time.start();

    std::string out = tensorboard::record(tensorboard::fileVersionEvent(start));
    out += tensorboard::record(tensorboard::textEvent(start, 0, "run", runSummaryMarkdown(r, run.reported)));
    if (!r.specYaml.empty()) out += tensorboard::record(tensorboard::textEvent(start, 0, "spec", specText(r.specYaml)));
    std::map<std::string, std::string> texts = {{"experiment", r.experiment + "#" + std::to_string(r.experimentId)},
                                                {"task", r.taskId}, {"loss", r.lossName}, {"loss_type", r.loss},
                                                {"protocol", r.protocol}};
    if (!run.recipeLabel.empty()) texts["recipe"] = run.recipeLabel;
    out += tensorboard::record(tensorboard::sessionStartEvent(start, {{"k", r.k}, {"M", r.M}, {"lr", r.lr}}, texts, group));
    for (const auto& row : epochs)
        out += tensorboard::record(tensorboard::scalarEvent(time.epochEnd(row.epoch), row.epoch,
                                                            row.value.split + "/" + row.value.metric,
                                                            static_cast<float>(row.value.value)));
    if (r.bestEpoch > 0)
        for (const auto& [key, value] : run.reported)
            out += tensorboard::record(tensorboard::scalarEvent(time.epochEnd(r.bestEpoch), r.bestEpoch, "reported/" + key,
                                                                static_cast<float>(value)));
    // The reliability diagram's bins at the reported epoch, per split that stored them.
    if (r.bestEpoch > 0)
        for (const char* split : {"train", "val", "test"})
            for (const CalibrationRow& row : store.reportedCalibration({r.id}, split))
                out += tensorboard::record(tensorboard::textEvent(time.epochEnd(r.bestEpoch), r.bestEpoch,
                                                                  std::string("reliability/") + split, reliabilityMarkdown(row)));
    for (const auto& s : steps)
        out += tensorboard::record(tensorboard::scalarEvent(time.stepTime(s), s.step, "step/" + s.metric, static_cast<float>(s.value)));
    return out;
}

} // namespace

TensorBoardExportResult exportTensorBoard(const RunStore& store, const TensorBoardExportRequest& request) {
    const ExportSelection selection = selectExportedRuns(store, request.experiments);
    const std::vector<ExportedRun>& runs = selection.runs;

    // Folders: experiment, task, loss, protocol, then what tells apart the recipes that share
    // those (a sweep's values), then the seed.
    std::vector<fs::path> group(runs.size()), folder(runs.size());
    std::map<fs::path, int> uses;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const RunRecord& r = runs[i].record;
        group[i] = fs::path(folderName(r.experiment + "#" + std::to_string(r.experimentId))) / taskFolder(r.taskId) /
                   folderName(r.lossName) / folderName(r.protocol);
        if (!runs[i].recipeLabel.empty()) group[i] /= folderName(runs[i].recipeLabel);
        folder[i] = group[i] / ("seed" + std::to_string(r.seed));
        ++uses[folder[i]];
    }
    for (std::size_t i = 0; i < runs.size(); ++i) // two runs of one recipe and seed: tell them apart by id
        if (uses[folder[i]] > 1) folder[i] += "-run" + std::to_string(runs[i].record.id);

    TensorBoardExportResult result;
    result.experiments = selection.experiments;
    const fs::path root(request.outDir);
    prepareFolder(root.string(), "the folder " + root.string());
    const auto started = std::count_if(runs.begin(), runs.end(), [](const ExportedRun& run) { return hasStarted(run.record); });
    try {
        for (std::size_t i = 0; i < runs.size(); ++i) {
            const RunRecord& r = runs[i].record;
            if (!hasStarted(r)) {
                ++result.notStarted;
                continue;
            }
            const fs::path dir = root / folder[i];
            prepareFolder(dir.string(), "the folder " + dir.string());
            const std::string name = "events.out.tfevents." + std::to_string(static_cast<long long>(unixSeconds(r.createdAt))) + kFileMark + r.uid;
            // Written under a name without "tfevents", so TensorBoard never reads it half-written.
            writeFileAtomically((dir / name).string(), runEvents(store, runs[i], group[i].string()), ".losslab-export.tmp");
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
    } catch (const Error& e) {
        // Cut off half way (a full disk, a folder that cannot be written): say what was written.
        std::string written;
        const std::size_t shown = result.runDirs.size() <= 5 ? result.runDirs.size() : 3;
        for (std::size_t i = 0; i < shown; ++i) written += (i > 0 ? ", " : ": ") + result.runDirs[i];
        if (shown < result.runDirs.size())
            written += ", ... (" + std::to_string(result.runDirs.size() - shown - 1) + " more), " + result.runDirs.back();
        throw Error(std::string(e.what()) + "; " + std::to_string(result.runs) + " of " + std::to_string(started) +
                    " run(s) written before this" + written +
                    "; the others' folders keep what an earlier export wrote, if anything: export again once this is fixed");
    }
    return result;
}

} // namespace losslab
