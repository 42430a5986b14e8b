// losslab-cli export: stored runs as TensorBoard event files (TFRecord framing around
// tensorflow.Event protocol buffers). The files are read back here with a decoder written
// from the formats' specifications, independent of the writer.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "error_matchers.h"
#include "losslab/error.h"
#include "losslab/report/tensorboard_export.h"
#include "losslab/store/run_store.h"
#include "report_fixture.h"
#include "scratch_dir.h"

namespace losslab {
namespace {
namespace fs = std::filesystem;
using fixtures::ScratchDir;

// --- a protocol buffer reader: every field of one message, by number ---
struct Field {
    unsigned wireType = 0;
    std::uint64_t number = 0; // varint, fixed32 and fixed64 values
    std::string bytes;        // length-delimited values
};
using Message = std::multimap<unsigned, Field>;

std::uint64_t readVarint(const std::string& s, std::size_t& at) {
    std::uint64_t v = 0;
    for (int shift = 0; at < s.size(); shift += 7) {
        const auto byte = static_cast<unsigned char>(s[at++]);
        v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return v;
    }
    throw std::runtime_error("truncated varint");
}
std::uint64_t readLittleEndian(const std::string& s, std::size_t at, int bytes) {
    if (at + bytes > s.size()) throw std::runtime_error("truncated fixed field");
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i);
    return v;
}
Message parse(const std::string& s) {
    Message out;
    std::size_t at = 0;
    while (at < s.size()) {
        const std::uint64_t key = readVarint(s, at);
        Field f;
        f.wireType = key & 7;
        if (f.wireType == 0) f.number = readVarint(s, at);
        else if (f.wireType == 1) f.number = readLittleEndian(s, at, 8), at += 8;
        else if (f.wireType == 5) f.number = readLittleEndian(s, at, 4), at += 4;
        else if (f.wireType == 2) {
            const std::uint64_t n = readVarint(s, at);
            if (at + n > s.size()) throw std::runtime_error("truncated bytes");
            f.bytes = s.substr(at, n);
            at += n;
        } else throw std::runtime_error("unexpected wire type");
        out.emplace(static_cast<unsigned>(key >> 3), f);
    }
    return out;
}
const Field& one(const Message& m, unsigned field) {
    if (m.count(field) != 1) throw std::runtime_error("field " + std::to_string(field) + " is not there once");
    return m.find(field)->second;
}
double asDouble(const Field& f) { double d; std::memcpy(&d, &f.number, 8); return d; }
float asFloat(const Field& f) { const auto bits = static_cast<std::uint32_t>(f.number); float v; std::memcpy(&v, &bits, 4); return v; }

// Bitwise CRC-32C, the specification's form (the writer uses a table).
std::uint32_t referenceCrc32c(const std::string& s) {
    std::uint32_t crc = 0xffffffffu;
    for (const char ch : s) {
        crc ^= static_cast<unsigned char>(ch);
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
    }
    return ~crc;
}
std::uint32_t referenceMasked(const std::string& s) {
    const std::uint32_t c = referenceCrc32c(s);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

// The records of an event file, each checked against its length and CRCs.
std::vector<std::string> readRecords(const std::string& file) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < file.size()) {
        const std::uint64_t n = readLittleEndian(file, at, 8);
        EXPECT_EQ(readLittleEndian(file, at + 8, 4), referenceMasked(file.substr(at, 8))) << "length CRC of record " << out.size();
        const std::string data = file.substr(at + 12, n);
        EXPECT_EQ(data.size(), n) << "record " << out.size() << " is cut short";
        EXPECT_EQ(readLittleEndian(file, at + 12 + n, 4), referenceMasked(data)) << "data CRC of record " << out.size();
        out.push_back(data);
        at += 16 + n;
    }
    return out;
}

struct Scalar {
    double wallTime;
    std::int64_t step;
    float value;
};
struct EventFile {
    std::string fileVersion;
    std::map<std::string, std::vector<Scalar>> scalars; // by tag, in file order
    std::map<std::string, std::string> texts;           // by tag
    // The HParams session start: hparams as text ("0.1" for numbers), group, start time.
    std::map<std::string, std::string> hparams;
    std::map<std::string, double> numericHparams;
    std::string group;
    double sessionStart = 0;
};

EventFile readEventFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EventFile out;
    for (const std::string& data : readRecords(bytes)) {
        const Message event = parse(data);
        const double wall = asDouble(one(event, 1));
        const std::int64_t step = event.count(2) ? static_cast<std::int64_t>(one(event, 2).number) : 0;
        if (event.count(3)) {
            out.fileVersion = one(event, 3).bytes;
            continue;
        }
        const Message value = parse(one(parse(one(event, 5).bytes), 1).bytes);
        const std::string tag = one(value, 1).bytes;
        if (value.count(2)) {
            out.scalars[tag].push_back({wall, step, asFloat(one(value, 2))});
        } else if (one(parse(one(parse(one(value, 9).bytes), 1).bytes), 1).bytes == "hparams") {
            EXPECT_EQ(tag, "_hparams_/session_start_info");
            EXPECT_EQ(value.count(8), 0u) << "no tensor, as TensorBoard's own writer";
            const Message pluginData = parse(one(parse(one(value, 9).bytes), 1).bytes);
            const Message content = parse(one(pluginData, 2).bytes);
            EXPECT_EQ(content.count(1), 0u) << "plugin data version 0";
            const Message info = parse(one(content, 3).bytes);
            for (auto [it, end] = info.equal_range(1); it != end; ++it) {
                const Message entry = parse(it->second.bytes);
                const Message v = parse(one(entry, 2).bytes);
                if (v.count(2)) out.numericHparams[one(entry, 1).bytes] = asDouble(one(v, 2));
                else out.hparams[one(entry, 1).bytes] = one(v, 3).bytes;
            }
            out.group = one(info, 4).bytes;
            out.sessionStart = asDouble(one(info, 5));
        } else {
            const Message metadata = parse(one(value, 9).bytes);
            EXPECT_EQ(one(parse(one(metadata, 1).bytes), 1).bytes, "text") << tag;
            const Message tensor = parse(one(value, 8).bytes);
            EXPECT_EQ(one(tensor, 1).number, 7u) << tag << ": DT_STRING";
            out.texts[tag] = one(tensor, 8).bytes;
        }
    }
    return out;
}

// The one event file in `dir`.
fs::path eventFileIn(const fs::path& dir) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find("tfevents") != std::string::npos) files.push_back(e.path());
    if (files.size() != 1) throw std::runtime_error(dir.string() + " holds " + std::to_string(files.size()) + " event files");
    return files.front();
}

TEST(TensorBoardEventsTest, Crc32cGivesTheStandardCheckValues) {
    EXPECT_EQ(tensorboard::crc32c("123456789"), 0xe3069283u); // the CRC catalogue's check value
    EXPECT_EQ(tensorboard::crc32c(std::string(32, '\0')), 0x8a9136aau); // RFC 3720, B.4
    EXPECT_EQ(tensorboard::crc32c(std::string(32, '\xff')), 0x62a8ab43u);
    EXPECT_EQ(tensorboard::crc32c("6789", tensorboard::crc32c("12345")), 0xe3069283u); // continued
}

TEST(TensorBoardEventsTest, ScalarEventHasTheProtocolBufferBytes) {
    // Event{wall_time: 1.5, step: 3, summary{value{tag: "a", simple_value: 0.5}}}, by hand:
    const std::string expected("\x09\x00\x00\x00\x00\x00\x00\xf8\x3f"  // 1: double 1.5
                               "\x10\x03"                              // 2: varint 3
                               "\x2a\x0a"                              // 5: 10 bytes
                               "\x0a\x08"                              //   1: 8 bytes
                               "\x0a\x01" "a"                          //     1: "a"
                               "\x15\x00\x00\x00\x3f",                 //     2: float 0.5
                               23);
    EXPECT_EQ(tensorboard::scalarEvent(1.5, 3, "a", 0.5f), expected);
    // A record: length 23, then the masked CRCs around the data.
    const std::string rec = tensorboard::record(expected);
    ASSERT_EQ(rec.size(), 8u + 4 + 23 + 4);
    EXPECT_EQ(readLittleEndian(rec, 0, 8), 23u);
    EXPECT_EQ(readRecords(rec), std::vector<std::string>{expected});
}

TEST(TensorBoardEventsTest, FirstEventNamesTheFileVersion) {
    const Message event = parse(tensorboard::fileVersionEvent(12.0));
    EXPECT_EQ(asDouble(one(event, 1)), 12.0);
    EXPECT_EQ(one(event, 3).bytes, "brain.Event:2");
    EXPECT_EQ(event.count(2), 0u);
}

class TensorBoardExportTest : public ::testing::Test {
protected:
    ScratchDir dir{"losslab-tb"};
    std::unique_ptr<RunStore> store = std::make_unique<RunStore>((dir.path() / "runs.sqlite").string());
    fs::path out = dir.path() / "logs";

    TensorBoardExportResult exportAll(const std::vector<std::string>& experiments = {}) {
        TensorBoardExportRequest request;
        request.experiments = experiments;
        request.outDir = out.string();
        return exportTensorBoard(*store, request);
    }
    const RunRecord& runNamed(const std::vector<RunRecord>& runs, const std::string& task, const std::string& loss,
                              const std::string& protocol, int seed) {
        for (const auto& r : runs)
            if (r.taskId == task && r.lossName == loss && r.protocol == protocol && r.seed == seed) return r;
        throw std::runtime_error("no such run");
    }
};

TEST_F(TensorBoardExportTest, EveryRunGetsAFolderWithItsStoredMetrics) {
    fixtures::buildReportFixture(*store);
    const std::vector<RunRecord> runs = store->runs();
    // Two epochs of steps for one run, with the epochs' training seconds.
    const RunRecord& withSteps = runNamed(runs, "toy/a", "square", "early_stopping", 2);
    store->appendSteps({{withSteps.id, 1, 1, "train_loss", 0.9}, {withSteps.id, 2, 1, "train_loss", 0.7},
                        {withSteps.id, 3, 2, "train_loss", 0.5}, {withSteps.id, 4, 2, "train_loss", 0.4}});
    store->appendEpoch(withSteps.id, 1, {{"train", "wall_s", 2.0}});
    store->appendEpoch(withSteps.id, 2, {{"train", "wall_s", 4.0}});
    store->flush();

    const TensorBoardExportResult result = exportAll();
    EXPECT_EQ(result.experiments, 1);
    EXPECT_EQ(result.runs, 30);
    EXPECT_EQ(result.notStarted, 0);
    ASSERT_EQ(result.runDirs.size(), 30u);
    EXPECT_EQ(result.runDirs.front(), "fixture#1/toy/a/ce/early_stopping/seed0");
    EXPECT_EQ(std::set<std::string>(result.runDirs.begin(), result.runDirs.end()).size(), 30u);

    for (const RunRecord& r : runs) {
        const fs::path runDir = out / ("fixture#1/" + r.taskId + "/" + r.lossName + "/" + r.protocol + "/seed" + std::to_string(r.seed));
        const EventFile file = readEventFile(eventFileIn(runDir));
        EXPECT_EQ(file.fileVersion, "brain.Event:2");
        std::map<std::string, std::map<int, double>> stored; // tag -> epoch -> value
        for (const auto& row : store->epochMetrics({r.id})) stored[row.value.split + "/" + row.value.metric][row.epoch] = row.value.value;
        std::set<std::string> tags;
        for (const auto& [tag, list] : file.scalars)
            if (tag.rfind("step/", 0) != 0 && tag.rfind("reported/", 0) != 0) tags.insert(tag);
        std::set<std::string> storedTags;
        for (const auto& [tag, byEpoch] : stored) storedTags.insert(tag);
        EXPECT_EQ(tags, storedTags) << runDir;
        for (const auto& [tag, byEpoch] : stored) {
            const auto& list = file.scalars.at(tag);
            ASSERT_EQ(list.size(), byEpoch.size()) << runDir << " " << tag;
            std::size_t i = 0;
            for (const auto& [epoch, value] : byEpoch) {
                EXPECT_EQ(list[i].step, epoch) << tag;
                if (std::isnan(value)) EXPECT_TRUE(std::isnan(list[i].value)) << tag; // the diverged run's NaN stays NaN
                else EXPECT_EQ(list[i].value, static_cast<float>(value)) << tag << " epoch " << epoch;
                ++i;
            }
        }
        // The reported epoch's metrics, one point each at that epoch.
        std::set<std::string> reportedTags;
        for (const auto& [tag, byEpoch] : stored) {
            const auto at = byEpoch.find(r.bestEpoch);
            if (at == byEpoch.end()) continue;
            reportedTags.insert("reported/" + tag);
            const auto& list = file.scalars.at("reported/" + tag);
            ASSERT_EQ(list.size(), 1u) << tag;
            EXPECT_EQ(list[0].step, r.bestEpoch) << tag;
            if (std::isnan(at->second)) EXPECT_TRUE(std::isnan(list[0].value)) << tag;
            else EXPECT_EQ(list[0].value, static_cast<float>(at->second)) << tag;
        }
        std::set<std::string> writtenReported;
        for (const auto& [tag, list] : file.scalars)
            if (tag.rfind("reported/", 0) == 0) writtenReported.insert(tag);
        EXPECT_EQ(writtenReported, reportedTags) << runDir;
        // HParams: the seeds of one recipe share a group; the seed is not an hparam.
        EXPECT_EQ(file.group, "fixture#1/" + r.taskId + "/" + r.lossName + "/" + r.protocol);
        EXPECT_EQ(file.hparams, (std::map<std::string, std::string>{{"experiment", "fixture#1"}, {"task", r.taskId},
                                                                    {"loss", r.lossName}, {"loss_type", r.loss},
                                                                    {"protocol", r.protocol}}));
        EXPECT_EQ(file.numericHparams, (std::map<std::string, double>{{"k", 1.0}, {"M", 1.0}, {"lr", r.loss == "ce" ? 0.1 : 0.2}}));
        EXPECT_GT(file.sessionStart, 1.7e9);
        const std::string& text = file.texts.at("run");
        EXPECT_NE(text.find("| seed | " + std::to_string(r.seed) + " |"), std::string::npos) << text;
        EXPECT_NE(text.find("| trained on | cpu, LibTorch 2.6.0, 2 CPU thread(s) |"), std::string::npos) << text;
        EXPECT_NE(text.find("| status | " + std::string(runStatusName(r.status)) + " |"), std::string::npos) << text;
    }

    // The steps, at their global step, spread over their epoch's training time: the run
    // started at startedAt; epoch 1 ends 2 s later, epoch 2 another 4 s later.
    const fs::path stepDir = out / "fixture#1/toy/a/square/early_stopping/seed2";
    const EventFile file = readEventFile(eventFileIn(stepDir));
    const auto& steps = file.scalars.at("step/train_loss");
    ASSERT_EQ(steps.size(), 4u);
    const std::vector<float> losses = {0.9f, 0.7f, 0.5f, 0.4f};
    const double start = file.scalars.at("train/wall_s").front().wallTime - 2.0;
    const std::vector<double> offsets = {1.0, 2.0, 4.0, 6.0};
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(steps[i].step, static_cast<std::int64_t>(i + 1));
        EXPECT_EQ(steps[i].value, losses[i]);
        EXPECT_DOUBLE_EQ(steps[i].wallTime - start, offsets[i]) << "step " << i + 1;
    }
    EXPECT_GT(start, 1.7e9) << "wall times count from the run's start (2023 or later), not from 0";
    EXPECT_DOUBLE_EQ(file.scalars.at("test/acc").back().wallTime - start, 6.0) << "epoch 3 stores no time: the last one known";
}

// The ECE bins of the reported epoch, per split that stored them, as a text table (the run's
// reliability diagram in numbers); bins of other epochs are not it.
TEST_F(TensorBoardExportTest, TheReportedEpochsEceBinsAreATablePerSplit) {
    fixtures::buildReportFixture(*store);
    const std::vector<RunRecord> runs = store->runs();
    const RunRecord& r = runNamed(runs, "toy/a", "ce", "early_stopping", 0);
    ASSERT_GT(r.bestEpoch, 1);
    CalibrationBins test;
    test.split = "test";
    test.count[14] = 8, test.confidence[14] = 7.6, test.correct[14] = 7;  // mean 0.95, accuracy 0.875
    test.count[10] = 2, test.confidence[10] = 1.4, test.correct[10] = 2;  // mean 0.7, accuracy 1
    test.count[0] = 1, test.confidence[0] = 0.05, test.correct[0] = 0;    // mean 0.05, accuracy 0
    CalibrationBins earlier = test;
    earlier.count[3] = 5, earlier.confidence[3] = 1.2;
    store->appendEpoch(r.id, r.bestEpoch, {}, {test});
    store->appendEpoch(r.id, r.bestEpoch - 1, {}, {earlier});
    store->flush();

    exportAll();
    const EventFile file = readEventFile(eventFileIn(out / "fixture#1/toy/a/ce/early_stopping/seed0"));
    ASSERT_EQ(file.texts.count("reliability/test"), 1u);
    EXPECT_EQ(file.texts.count("reliability/val"), 0u) << "no bins stored for val";
    EXPECT_EQ(file.texts.count("reliability/train"), 0u);
    // ECE = (8 |0.875 - 0.95| + 2 |1 - 0.7| + 1 |0 - 0.05|) / 11 = 1.25 / 11.
    const std::string& text = file.texts.at("reliability/test");
    EXPECT_NE(text.find("The test examples at epoch " + std::to_string(r.bestEpoch) + ", the reported one"), std::string::npos) << text;
    EXPECT_NE(text.find(": 11 examples, ECE 0.1136."), std::string::npos) << text;
    const std::string rows = "| [0.000, 0.067] | 1 | 0.0500 | 0.0000 | -0.0500 |\n"
                             "| (0.667, 0.733] | 2 | 0.7000 | 1.0000 | 0.3000 |\n"
                             "| (0.933, 1.000] | 8 | 0.9500 | 0.8750 | -0.0750 |\n";
    EXPECT_NE(text.find("|---:|\n" + rows), std::string::npos) << "the bins with examples, in order, and only those:\n" << text;
    // A run without stored bins has no table.
    const EventFile other = readEventFile(eventFileIn(out / "fixture#1/toy/a/ce/early_stopping/seed1"));
    EXPECT_EQ(other.texts.count("reliability/test"), 0u);
}

TEST_F(TensorBoardExportTest, ExportingAgainReplacesItsOwnFilesAndKeepsOthers) {
    fixtures::buildReportFixture(*store);
    exportAll();
    const fs::path runDir = out / "fixture#1/toy/b/ce/early_stopping/seed1";
    const fs::path first = eventFileIn(runDir);
    const fs::path foreign = runDir / "events.out.tfevents.1700000000.otherhost";
    const fs::path stale = runDir / "events.out.tfevents.1600000000.losslab.0123456789abcdef";
    { std::ofstream(foreign) << "not ours"; }
    { std::ofstream(stale) << "an earlier export"; }
    exportAll();
    EXPECT_TRUE(fs::exists(first));
    EXPECT_TRUE(fs::exists(foreign)) << "another program's file is left alone";
    EXPECT_FALSE(fs::exists(stale)) << "an earlier export's file of another name is removed";
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(runDir)) names.insert(e.path().filename().string());
    EXPECT_EQ(names, (std::set<std::string>{first.filename().string(), foreign.filename().string()})) << "no temporary file left";
}

TEST_F(TensorBoardExportTest, RecipesThatDifferBeyondTheSeedGetTheirOwnFolder) {
    ExperimentRecord e;
    e.name = "lr/sweep"; // a '/' in a name does not make a folder
    const std::int64_t id = store->addExperiment(e);
    std::vector<RunRecord> runs;
    for (const char* lr : {"0.1", "0.2"})
        for (int seed : {1, 2}) {
            RunRecord r;
            r.taskId = "toy/a";
            r.lossName = "square";
            r.loss = "square";
            r.protocol = "early_stopping";
            r.seed = seed;
            r.specYaml = std::string("task: toy/a\nseed: ") + std::to_string(seed) + "\nloss: {name: square, lr: " + lr + "}\n";
            runs.push_back(r);
        }
    RunRecord queued = runs.front();
    queued.seed = 3;
    runs.push_back(queued);
    const std::vector<std::int64_t> ids = store->addRuns(id, runs);
    for (std::size_t i = 0; i + 1 < ids.size(); ++i) {
        store->markStarted(ids[i], "cpu", 0, "LibTorch 2.6.0", 1);
        store->appendEpoch(ids[i], 1, {{"val", "acc", 0.5}});
    }
    store->flush();

    const TensorBoardExportResult result = exportAll({"lr/sweep"});
    EXPECT_EQ(result.runs, 4);
    EXPECT_EQ(result.notStarted, 1) << "the queued run has nothing to show";
    const std::string base = "lr_sweep#" + std::to_string(id) + "/toy/a/square/early_stopping/";
    EXPECT_EQ(result.runDirs, (std::vector<std::string>{base + "lr 0.1/seed1", base + "lr 0.1/seed2", base + "lr 0.2/seed1",
                                                         base + "lr 0.2/seed2"}));
    const EventFile file = readEventFile(eventFileIn(out / result.runDirs[2]));
    EXPECT_NE(file.texts.at("spec").find("    loss: {name: square, lr: 0.2}"), std::string::npos) << file.texts.at("spec");
    EXPECT_EQ(file.hparams.at("recipe"), "lr 0.2");
    EXPECT_EQ(file.group, base + "lr 0.2");
}

TEST_F(TensorBoardExportTest, BadSelectionsAndPathsAreErrorsThatNameThem) {
    fixtures::buildReportFixture(*store);
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { exportAll({"nope"}); }, {"no experiment 'nope'", "stored experiments: fixture"}));
    { std::ofstream(dir.path() / "file") << "x"; }
    out = dir.path() / "file" / "logs";
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { exportAll(); }, {"cannot create the folder " + out.string()}));
}

TEST_F(TensorBoardExportTest, AnExportCutOffHalfWaySaysWhichRunsItWrote) {
    // A full disk or a folder that cannot be written after some runs: the error says how many
    // runs were written and which, not only the file that failed.
    fixtures::buildReportFixture(*store);
    const TensorBoardExportResult whole = exportAll();
    ASSERT_GE(whole.runs, 3);
    out = dir.path() / "again";
    fs::create_directories((out / whole.runDirs[2]).parent_path());
    { std::ofstream(out / whole.runDirs[2]) << "in the way"; }
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { exportAll(); },
                                          {"cannot create the folder " + (out / whole.runDirs[2]).string() + ": a file of that name is in the way",
                                           "2 of " + std::to_string(whole.runs) + " run(s) written before this: " + whole.runDirs[0] + ", " +
                                               whole.runDirs[1],
                                           "export again"}));
    EXPECT_TRUE(fs::exists(out / whole.runDirs[1]));
    EXPECT_FALSE(fs::exists(out / whole.runDirs[3]));
}

} // namespace
} // namespace losslab
