#pragma once
// What each fuzz target does with one input, shared by the libFuzzer executables (fuzz_*.cpp)
// and by the regression test that replays saved crashes (tests/core/test_fuzz_regressions.cpp).
//
// Contract of every run*Input(): it returns, or throws losslab::Error for input it refuses
// (the loaders' promise), or throws PropertyViolation when a loader accepted the input but
// returned something inconsistent with it. Anything else escaping, and any sanitizer
// report, is a finding. Callers catch losslab::Error only.
//
// The loaders read files, so each input is written to a scratch folder first (/dev/shm when
// there is one: no disk I/O per execution), one folder per process. Not thread-safe: one
// input at a time per process, as libFuzzer runs them.
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <torch/types.h>

#include "losslab/data/cifar_reader.h"
#include "losslab/data/idx_reader.h"
#include "losslab/error.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/task_registry.h"
#include "toy_task.h" // tests/core: the fake task experiment files are validated against

namespace losslab::fuzz {

// A loader accepted an input and returned something that contradicts it (a tensor whose bytes
// differ from the file's, a resolved experiment that does not load again). Not a losslab::Error
// on purpose: it must not be mistaken for a refusal.
class PropertyViolation : public std::logic_error {
public:
    explicit PropertyViolation(const std::string& what) : std::logic_error("fuzz property violated: " + what) {}
};

namespace Internal {

namespace fs = std::filesystem;

// Per-process scratch folder, removed when the process exits normally.
class ScratchDir {
public:
    static ScratchDir& instance() {
        static ScratchDir dir;
        return dir;
    }

    std::string path(const std::string& name) const { return (m_dir / name).string(); }

    std::string write(const std::string& name, const std::uint8_t* data, std::size_t size) {
        const std::string file = path(name);
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        out.close();
        if (!out) throw std::runtime_error("fuzz harness: cannot write " + file); // harness failure, not input
        return file;
    }

    void remove(const std::string& name) const {
        std::error_code ec;
        fs::remove(m_dir / name, ec);
    }

    ~ScratchDir() {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }

private:
    ScratchDir() {
        std::error_code ec;
        fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
        m_dir = base / ("losslab-fuzz-" + std::to_string(getpid()));
        fs::create_directories(m_dir);
    }
    fs::path m_dir;
};

inline std::uint32_t bigEndian32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

inline std::size_t bigEndian16(const std::uint8_t* p) {
    return (std::size_t{p[0]} << 8) | std::size_t{p[1]};
}

// Reads every byte of a uint8 tensor through instrumented code, so that ASan sees a tensor
// whose sizes claim more than its storage holds.
inline void requireReadableUint8(const torch::Tensor& t, const std::string& what) {
    if (t.scalar_type() != torch::kUInt8 || !t.is_contiguous())
        throw PropertyViolation(what + ": expected a contiguous uint8 tensor");
    const std::int64_t n = t.numel();
    if (n == 0) return;
    const std::uint8_t* p = t.data_ptr<std::uint8_t>();
    volatile unsigned sum = 0;
    for (std::int64_t i = 0; i < n; ++i) sum = sum + p[i];
}

// Plain IDX: the tensor must have the header's dimensions and the bytes after the header.
inline void checkPlainIdx(const torch::Tensor& t, const std::uint8_t* file, std::size_t size) {
    requireReadableUint8(t, "readIdxUint8");
    const std::size_t dims = file[3];
    const std::size_t header = 4 + 4 * dims;
    if (t.dim() != static_cast<std::int64_t>(dims)) throw PropertyViolation("IDX tensor has the wrong number of dimensions");
    for (std::size_t d = 0; d < dims; ++d)
        if (t.size(static_cast<std::int64_t>(d)) != static_cast<std::int64_t>(bigEndian32(file + 4 + 4 * d)))
            throw PropertyViolation("IDX tensor dimension " + std::to_string(d) + " differs from the header");
    if (static_cast<std::size_t>(t.numel()) != size - header) throw PropertyViolation("IDX tensor size differs from the file's data");
    if (t.numel() > 0 && std::memcmp(t.data_ptr<std::uint8_t>(), file + header, size - header) != 0)
        throw PropertyViolation("IDX tensor bytes differ from the file's data");
}

inline bool looksGzip(const std::uint8_t* p, std::size_t size) {
    return size >= 2 && p[0] == 0x1F && p[1] == 0x8B;
}

} // namespace Internal

// The tasks experiment files are checked against: the engine tests' ToyTask under its own id
// and under the ids of the shipped presets (resources/experiments/*.yaml), so that those seeds
// get past the task lookup.
inline const TaskRegistry& fuzzTaskRegistry() {
    static const std::unique_ptr<TaskRegistry> tasks = [] {
        auto r = std::make_unique<TaskRegistry>();
        for (const char* id : {"toy/blobs", "fashion_mnist/mlp", "mnist/tcn_permuted", "cifar10/wrn"}) {
            fixtures::ToyTaskOptions options;
            options.id = id;
            r->add(std::make_shared<fixtures::ToyTask>(options));
        }
        return r;
    }();
    return *tasks;
}

// IDX. Byte 0 chooses: bit 0 names the file(s) ".gz" (the gzip path, which also reads plain
// bytes: zlib passes non-gzip data through); bit 1 reads an image/label pair with
// readIdxImagesAndLabels, numClasses = byte0 >> 2, bytes 1-2 the split point of the rest
// between the two files; otherwise the rest is one file for readIdxUint8.
inline void runIdxInput(const std::uint8_t* data, std::size_t size) {
    using namespace Internal;
    if (size == 0) return;
    const std::uint8_t flags = data[0];
    const std::string suffix = (flags & 1) ? ".gz" : "";
    ScratchDir& scratch = ScratchDir::instance();
    if (!(flags & 2)) {
        const std::uint8_t* file = data + 1;
        const std::size_t fileSize = size - 1;
        const torch::Tensor t = readIdxUint8(scratch.write("single-ubyte" + suffix, file, fileSize));
        if (suffix.empty() && !looksGzip(file, fileSize)) checkPlainIdx(t, file, fileSize);
        else requireReadableUint8(t, "readIdxUint8 (gzip)");
        return;
    }
    if (size < 3) return;
    const std::uint8_t* rest = data + 3;
    const std::size_t restSize = size - 3;
    const std::size_t split = bigEndian16(data + 1) % (restSize + 1);
    const std::int64_t numClasses = flags >> 2;
    const std::string images = scratch.write("images-idx3-ubyte" + suffix, rest, split);
    const std::string labels = scratch.write("labels-idx1-ubyte" + suffix, rest + split, restSize - split);
    const TensorSplit s = readIdxImagesAndLabels(images, labels, numClasses);
    if (s.features.dim() != 4 || s.features.size(1) != 1) throw PropertyViolation("IDX images are not [N, 1, rows, cols]");
    if (s.labels.dim() != 1 || s.labels.scalar_type() != torch::kLong || s.labels.size(0) != s.features.size(0))
        throw PropertyViolation("IDX labels are not int64 [N] with N images");
    requireReadableUint8(s.features.contiguous(), "IDX images");
    const std::int64_t* label = s.labels.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < s.labels.size(0); ++i)
        if (label[i] < 0 || label[i] >= numClasses) throw PropertyViolation("IDX label out of [0, numClasses) was accepted");
}

// CIFAR-10. Byte 0 % 4 is the number of batch files (0: an empty list); bytes 1-2 and 3-4 are
// split points of the rest (from byte 5) between the files.
inline void runCifar10Input(const std::uint8_t* data, std::size_t size) {
    using namespace Internal;
    constexpr std::size_t kHeader = 5;
    if (size < kHeader) return;
    const std::size_t files = data[0] % 4;
    const std::uint8_t* rest = data + kHeader;
    const std::size_t restSize = size - kHeader;
    std::size_t cuts[2] = {bigEndian16(data + 1) % (restSize + 1), bigEndian16(data + 3) % (restSize + 1)};
    std::sort(cuts, cuts + 2);
    std::vector<std::size_t> bounds{0};
    if (files >= 3) bounds.push_back(cuts[0]);
    if (files >= 2) bounds.push_back(cuts[1]);
    bounds.push_back(restSize);

    std::vector<std::string> paths;
    ScratchDir& scratch = ScratchDir::instance();
    for (std::size_t f = 0; f < files; ++f)
        paths.push_back(scratch.write("data_batch_" + std::to_string(f + 1) + ".bin", rest + bounds[f],
                                      bounds[f + 1] - bounds[f]));
    const TensorSplit s = readCifar10Files(paths);

    // Accepted: every file is whole records, so the records are the rest's bytes in order.
    const auto record = static_cast<std::size_t>(kCifarRecordBytes);
    const std::int64_t n = static_cast<std::int64_t>(restSize / record);
    if (restSize % record != 0) throw PropertyViolation("CIFAR-10 input with a partial record was accepted");
    if (s.features.sizes() != torch::IntArrayRef({n, 3, 32, 32}) || s.labels.sizes() != torch::IntArrayRef({n})
        || s.labels.scalar_type() != torch::kLong)
        throw PropertyViolation("CIFAR-10 tensors do not have the shapes [N, 3, 32, 32] and [N]");
    requireReadableUint8(s.features, "CIFAR-10 features");
    const std::uint8_t* pixels = s.features.data_ptr<std::uint8_t>();
    const std::int64_t* labels = s.labels.data_ptr<std::int64_t>();
    for (std::int64_t r = 0; r < n; ++r) {
        const std::uint8_t* in = rest + static_cast<std::size_t>(r) * record;
        if (labels[r] != in[0] || labels[r] >= 10) throw PropertyViolation("CIFAR-10 label differs from the file");
        if (std::memcmp(pixels + r * (record - 1), in + 1, record - 1) != 0)
            throw PropertyViolation("CIFAR-10 pixels differ from the file");
    }
}

// Experiment YAML. The input is the file's text; every line starting "#set " (a YAML comment,
// so the text stays as written) is also given as a --set argument, through parseOverride.
// An accepted experiment must survive its own round trip: toYaml() loads again to the same
// YAML, and (when it expands to few runs) the first run's stored YAML reads back.
inline void runExperimentYamlInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    std::vector<SpecOverride> overrides;
    for (std::size_t pos = 0; pos < text.size();) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        if (text.compare(pos, 5, "#set ") == 0) {
            try {
                overrides.push_back(parseOverride(text.substr(pos + 5, end - pos - 5)));
            } catch (const Error&) {
                // A malformed --set is refused by itself; the file is still worth loading.
            }
        }
        pos = end + 1;
    }
    const TaskRegistry& tasks = fuzzTaskRegistry();
    const ExperimentSpec spec = loadExperimentText(text, "fuzz.yaml", overrides, tasks);

    const std::string resolved = spec.toYaml();
    ExperimentSpec again;
    try {
        again = loadExperimentText(resolved, "fuzz-resolved.yaml", {}, tasks);
    } catch (const Error& e) {
        throw PropertyViolation(std::string("the resolved experiment does not load again: ") + e.what() +
                                "\n--- resolved YAML ---\n" + resolved);
    }
    if (again.toYaml() != resolved)
        throw PropertyViolation("the resolved experiment changes when loaded again:\n" + resolved + "--- became ---\n" +
                                again.toYaml());

    if (spec.seeds.size() * spec.losses.size() * spec.protocols.size() > 64) return;
    const std::vector<RunSpec> runs = spec.expand();
    if (runs.empty()) throw PropertyViolation("an accepted experiment expands to no runs");
    const std::string stored = runs.front().toYaml();
    try {
        if (parseRunSpecYaml(stored, "fuzz-run.yaml", tasks).toYaml() != stored)
            throw PropertyViolation("a stored run reads back different:\n" + stored);
    } catch (const Error& e) {
        throw PropertyViolation(std::string("a stored run does not read back: ") + e.what() + "\n" + stored);
    }
}

// Run database. The input is the whole file; when RunStore opens it, every read runs once.
inline void runRunStoreInput(const std::uint8_t* data, std::size_t size) {
    using namespace Internal;
    ScratchDir& scratch = ScratchDir::instance();
    // SQLite's side files from the previous input would be taken as this file's journal.
    for (const char* name : {"runs.sqlite", "runs.sqlite-wal", "runs.sqlite-shm", "runs.sqlite-journal"})
        scratch.remove(name);
    const std::string path = scratch.write("runs.sqlite", data, size);
    RunStore store(path);
    const std::vector<ExperimentRecord> experiments = store.experiments();
    if (!experiments.empty()) store.experimentsNamed(experiments.front().name);
    const std::vector<RunRecord> runs = store.runs();
    store.epochMetrics({});
    store.reportedMetrics({});
    if (!runs.empty()) store.stepMetrics(runs.front().id);
    if (store.schemaVersion() < 1 || store.schemaVersion() > kSchemaVersion)
        throw PropertyViolation("an opened store reports schema version " + std::to_string(store.schemaVersion()));
}

} // namespace losslab::fuzz
