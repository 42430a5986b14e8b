// Writes the seed corpora of the fuzz targets: small valid inputs in each target's input format
// (see fuzz_entry_points.h), from which libFuzzer mutates.
//   losslab_fuzz_seeds <corpus folder> <resources/experiments folder>
// writes <corpus>/{idx,cifar10,experiment_yaml,run_store}/<name>. The same files every time,
// except that the databases hold the time, host and process id RunStore records with a run.
#include <sqlite3.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "losslab/error.h"
#include "losslab/store/run_store.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

void writeFile(const fs::path& path, const Bytes& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

Bytes readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

// The mode byte the IDX target reads first, then the file.
Bytes withMode(std::uint8_t mode, const Bytes& file) {
    Bytes out{mode};
    append(out, file);
    return out;
}

void appendBigEndian(Bytes& out, std::uint32_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

// An IDX file of unsigned bytes with the given dimensions; data bytes follow a simple pattern,
// or all equal `fill` (labels must stay below the class count).
Bytes idxFile(const std::vector<std::uint32_t>& dims, int fill = -1) {
    Bytes out{0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
    std::uint64_t count = 1;
    for (std::uint32_t d : dims) {
        appendBigEndian(out, d, 4);
        count *= d;
    }
    for (std::uint64_t i = 0; i < count; ++i)
        out.push_back(static_cast<std::uint8_t>(fill >= 0 ? fill : (i * 37) % 256));
    return out;
}

Bytes gzip(const Bytes& plain, const fs::path& scratch) {
    gzFile gz = gzopen(scratch.c_str(), "wb9");
    if (!gz) throw std::runtime_error("cannot write " + scratch.string());
    gzwrite(gz, plain.data(), static_cast<unsigned>(plain.size()));
    gzclose(gz);
    Bytes out = readFile(scratch);
    fs::remove(scratch);
    return out;
}

// Mode byte, then the split point (2 bytes), then the image file and the label file.
Bytes idxPair(std::uint8_t flags, const Bytes& images, const Bytes& labels) {
    Bytes out{flags};
    appendBigEndian(out, static_cast<std::uint32_t>(images.size()), 2);
    append(out, images);
    append(out, labels);
    return out;
}

void writeIdxSeeds(const fs::path& dir) {
    const fs::path scratch = dir / "scratch.gz";
    const Bytes images = idxFile({3, 4, 4});
    const Bytes labels = idxFile({3}, 7);
    writeFile(dir / "single-images", withMode(0x00, images));
    writeFile(dir / "single-labels", withMode(0x00, labels));
    writeFile(dir / "single-empty-dimension", withMode(0x00, idxFile({0, 28, 28})));
    writeFile(dir / "single-images-gz", withMode(0x01, gzip(images, scratch)));
    // numClasses 10 in the mode byte's upper bits.
    writeFile(dir / "pair", idxPair((10 << 2) | 2, images, labels));
    writeFile(dir / "pair-gz", idxPair((10 << 2) | 3, gzip(images, scratch), gzip(labels, scratch)));
}

// Mode byte (file count), two split points, then whole 3073-byte records.
void writeCifarSeeds(const fs::path& dir) {
    constexpr std::uint32_t kRecord = 3073;
    auto records = [](int count) {
        Bytes out;
        for (int r = 0; r < count; ++r) {
            out.push_back(static_cast<std::uint8_t>((3 * r + 1) % 10));
            for (std::uint32_t i = 0; i + 1 < kRecord; ++i) out.push_back(static_cast<std::uint8_t>((i * 7 + r) % 256));
        }
        return out;
    };
    for (int files = 1; files <= 3; ++files) {
        Bytes out{static_cast<std::uint8_t>(files)};
        appendBigEndian(out, kRecord, 2);
        appendBigEndian(out, files == 3 ? 2 * kRecord : kRecord, 2);
        append(out, records(files));
        writeFile(dir / ("records-" + std::to_string(files)), out);
    }
}

std::string readText(const fs::path& path) {
    const Bytes bytes = readFile(path);
    return std::string(bytes.begin(), bytes.end());
}

// The preset with its model section replaced by the toy task's one key, and without the data
// keys its real task declares (permutation_seed, augment), so that it validates to the end.
std::string withToyModel(const std::string& preset) {
    std::istringstream in(preset);
    std::string line, out;
    std::string section;
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] != ' ' && line[0] != '#') section = line.substr(0, line.find(':'));
        const bool taskDataKey = section == "data" && line.rfind("  ", 0) == 0 && line.rfind("  root:", 0) != 0
                                 && line.rfind("  val_fraction:", 0) != 0 && line.rfind("  limit_", 0) != 0;
        if (section != "model" && !taskDataKey) out += line + "\n";
    }
    return out + "model:\n  hidden: 32\n";
}

void writeYamlSeeds(const fs::path& dir, const fs::path& presets) {
    for (const auto& entry : fs::directory_iterator(presets)) {
        if (entry.path().extension() != ".yaml") continue;
        const std::string text = readText(entry.path());
        const std::string stem = entry.path().stem().string();
        writeFile(dir / (stem + ".yaml"), Bytes(text.begin(), text.end()));
        const std::string toy = withToyModel(text);
        writeFile(dir / (stem + "-toy-model.yaml"), Bytes(toy.begin(), toy.end()));
    }
    const std::string minimal = "task: toy/blobs\nlosses: [ce, square]\n";
    const std::string full = R"(#set train.patience=10
#set losses.1.lr=0.5
name: full
description: "every key: set"
task: toy/blobs
device: cuda:1
seeds: [3, 1, 4]
protocols: [early_stopping, same_epochs_as_ce, fixed_epochs]
losses:
  - ce
  - {loss: square, preset: paper}
  - {loss: square, k: 15, M: 30, name: big, lr: 0.01}
data:
  root: "[shared]/blobs"
  val_fraction: 0.2
  limit_train: 1000
  limit_test: 100
train:
  batch_size: 64
  eval_batch_size: 500
  lr: 0.2
  optimizer: sgd
  momentum: 0.5
  nesterov: yes
  weight_decay: 1e-4
  schedule: multistep
  milestones: [10, 20]
  gamma: 0.5
  grad_clip: 1.0
  log_every_steps: 10
  train_metrics: running
model:
  hidden: 16
runner:
  threads: 2
  runs_per_device: 2
)";
    const std::string aliases = R"(task: &t toy/blobs
name: *t
losses: &l
  - &ce {loss: ce, lr: 0.1}
  - {loss: mse, preset: none}
protocols: [fixed_epochs]
seeds: 2
train: &train {optimizer: adamw, schedule: cosine, max_epochs: 3}
)";
    for (const auto& [name, text] : {std::pair<std::string, std::string>{"minimal.yaml", minimal},
                                     {"full.yaml", full}, {"aliases.yaml", aliases}})
        writeFile(dir / name, Bytes(text.begin(), text.end()));
}

void sqlite(const fs::path& file, const std::string& sql) {
    sqlite3* db = nullptr;
    if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) throw std::runtime_error("cannot open " + file.string());
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    const std::string text = message ? message : "";
    sqlite3_free(message);
    sqlite3_close(db);
    if (rc != SQLITE_OK) throw std::runtime_error(file.string() + ": " + text);
}

// The store leaves a WAL-mode file with 4 KiB pages; 512-byte pages in rollback mode hold the
// same content in a seed a fraction of the size (and RunStore switches it back to WAL).
void compact(const fs::path& file) {
    sqlite(file, "PRAGMA journal_mode = DELETE; PRAGMA page_size = 512; VACUUM;");
}

void writeRunStoreSeeds(const fs::path& dir) {
    fs::create_directories(dir);
    const fs::path empty = dir / "empty-losslab.sqlite";
    const fs::path filled = dir / "small-losslab.sqlite";
    const fs::path foreign = dir / "foreign.sqlite";
    for (const fs::path& p : {empty, filled, foreign}) fs::remove(p);
    { losslab::RunStore store(empty.string()); }
    {
        losslab::RunStore store(filled.string());
        losslab::ExperimentRecord e;
        e.name = "seed";
        e.taskId = "toy/blobs";
        e.specYaml = "task: toy/blobs\nlosses: [ce, square]\n";
        e.createdAt = "2026-11-26T00:00:00Z";
        const std::int64_t id = store.addExperiment(e);
        losslab::RunRecord ce;
        ce.taskId = "toy/blobs";
        ce.lossName = "ce";
        ce.loss = "ce";
        ce.protocol = "early_stopping";
        losslab::RunRecord square = ce;
        square.lossName = square.loss = "square";
        square.protocol = "same_epochs_as_ce";
        square.dependsOn = 0;
        const std::vector<std::int64_t> runs = store.addRuns(id, {ce, square});
        store.markStarted(runs[0], "cpu", 2);
        for (int epoch = 1; epoch <= 2; ++epoch)
            store.appendEpoch(runs[0], epoch, {{"val", "acc", 0.5 + 0.1 * epoch}, {"test", "acc", 0.4 + 0.1 * epoch},
                                                {"train", "loss", 1.0 / epoch}});
        store.appendSteps({{runs[0], 1, 1, "train_loss", 2.0}, {runs[0], 2, 1, "train_loss", 1.5}});
        store.finishRun(runs[0], losslab::RunStatus::Completed, 2, 2, 1.5, "");
        store.flush();
    }
    sqlite(foreign, "CREATE TABLE people(name TEXT, age INTEGER); INSERT INTO people VALUES('ada', 36);"
                    "CREATE TABLE meta(key TEXT, value TEXT); INSERT INTO meta VALUES('application', 'other');");
    for (const fs::path& p : {empty, filled, foreign}) compact(p);
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " <corpus folder> <resources/experiments folder>\n";
        return 2;
    }
    try {
        const fs::path corpus(argv[1]);
        writeIdxSeeds(corpus / "idx");
        writeCifarSeeds(corpus / "cifar10");
        writeYamlSeeds(corpus / "experiment_yaml", argv[2]);
        writeRunStoreSeeds(corpus / "run_store");
    } catch (const std::exception& e) {
        std::cerr << "losslab_fuzz_seeds: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
