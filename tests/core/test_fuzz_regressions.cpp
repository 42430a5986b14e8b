// Inputs the fuzzers found (tests/data/fuzz-regressions/<target>/), replayed through the same
// entry points the fuzz targets run (fuzz/fuzz_entry_points.h): each must load, or be refused
// with losslab::Error; another exception type, a crash or a sanitizer report fails. Plus the
// limits that keep a small file from asking for a lot: the experiment file's node cap and the
// IDX reader's dimension checks. docs/fuzzing.md tells how the inputs were found.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "../../fuzz/fuzz_entry_points.h"
#include "error_matchers.h"
#include "losslab/data/idx_reader.h"
#include "losslab/error.h"
#include "losslab/spec/experiment_spec.h"

namespace {

namespace fs = std::filesystem;
using losslab::fixtures::throwsErrorWith;

using EntryPoint = void (*)(const std::uint8_t*, std::size_t);

struct Target {
    const char* name; // folder under tests/data/fuzz-regressions, as in fuzz/corpus
    EntryPoint run;
};

const Target kTargets[] = {
    {"idx", losslab::fuzz::runIdxInput},
    {"cifar10", losslab::fuzz::runCifar10Input},
    {"experiment_yaml", losslab::fuzz::runExperimentYamlInput},
    {"run_store", losslab::fuzz::runRunStoreInput},
};

struct SavedInput {
    Target target;
    fs::path file;
};

std::vector<SavedInput> savedInputs() {
    std::vector<SavedInput> inputs;
    const fs::path root = fs::path(LOSSLAB_TEST_DATA_DIR) / "fuzz-regressions";
    for (const Target& target : kTargets) {
        std::error_code ec;
        if (!fs::is_directory(root / target.name, ec)) continue;
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(root / target.name))
            if (entry.is_regular_file() && entry.path().filename() != "README.md") files.push_back(entry.path());
        std::sort(files.begin(), files.end());
        for (const fs::path& file : files) inputs.push_back({target, file});
    }
    return inputs;
}

// ctest shows the parameter: the file, not the struct's bytes.
void PrintTo(const SavedInput& input, std::ostream* out) {
    *out << input.file.string();
}

std::string testName(const testing::TestParamInfo<SavedInput>& info) {
    std::string name = std::string(info.param.target.name) + "_" + info.param.file.filename().string();
    for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return name;
}

std::vector<std::uint8_t> readBytes(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FuzzRegression : public testing::TestWithParam<SavedInput> {};

TEST_P(FuzzRegression, LoadsOrIsRefusedWithError) {
    const SavedInput& input = GetParam();
    const std::vector<std::uint8_t> bytes = readBytes(input.file);
    ASSERT_TRUE(fs::file_size(input.file) == bytes.size()) << "cannot read " << input.file;
    try {
        input.target.run(bytes.data(), bytes.size());
    } catch (const losslab::Error&) {
        // Refused the way every loader promises.
    } catch (const std::exception& e) {
        FAIL() << input.file << ": threw something other than losslab::Error: " << e.what();
    }
}

INSTANTIATE_TEST_SUITE_P(SavedInputs, FuzzRegression, testing::ValuesIn(savedInputs()), testName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(FuzzRegression);

// ---------------------------------------------------------------- experiment node cap

losslab::ExperimentSpec loadText(const std::string& text) {
    return losslab::loadExperimentText(text, "fuzz.yaml", {}, losslab::fuzz::fuzzTaskRegistry());
}

// 10 levels of 10 aliases each: 10^10 nodes as a tree, a few hundred bytes as text.
std::string billionLaughs() {
    std::string text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int level = 1; level < 10; ++level) {
        const std::string prev = "*l" + std::to_string(level - 1);
        text += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
        for (int i = 0; i < 10; ++i) text += (i ? ", " : "") + prev;
        text += "]\n";
    }
    return text + "task: toy/blobs\nlosses: [ce]\n";
}

TEST(ExperimentNodeCap, AliasExpansionIsRefusedNamingFileAndLimit) {
    EXPECT_TRUE(throwsErrorWith([] { loadText(billionLaughs()); }, {"fuzz.yaml", "100000 nodes"}));
}

TEST(ExperimentNodeCap, SelfReferencingAnchorIsRefusedNotRecursedInto) {
    // yaml-cpp registers an anchor before its content, so this sequence contains itself.
    EXPECT_TRUE(throwsErrorWith([] { loadText("task: toy/blobs\nlosses: [ce]\nloop: &a [*a]\n"); },
                                {"fuzz.yaml", "100000 nodes"}));
}

TEST(ExperimentNodeCap, LargeHonestFileStillLoads) {
    // About 40,000 nodes: well under the cap, and still under the 1 MiB size cap.
    std::string milestones;
    for (int i = 1; i <= 40000; ++i) milestones += (i > 1 ? ", " : "") + std::to_string(i);
    const losslab::ExperimentSpec spec =
        loadText("task: toy/blobs\nlosses: [ce]\ntrain: {schedule: multistep, milestones: [" + milestones + "]}\n");
    EXPECT_EQ(spec.params.raw("train.milestones").substr(0, 10), "[1, 2, 3, ");
}

// ---------------------------------------------------------------- IDX header limits

std::string writeScratch(const std::string& name, const std::vector<std::uint8_t>& bytes) {
    return losslab::fuzz::Internal::ScratchDir::instance().write(name, bytes.data(), bytes.size());
}

std::vector<std::uint8_t> idxHeader(const std::vector<std::uint32_t>& dims) {
    std::vector<std::uint8_t> out{0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
    for (std::uint32_t d : dims)
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(d >> shift));
    return out;
}

TEST(IdxHeaderLimits, ZeroDimensionDoesNotHideOverflowingDimensions) {
    // Found by fuzz_idx: the data is empty, but LibTorch multiplies the other dimensions and
    // threw c10::Error ("Storage size calculation overflowed") past the reader.
    for (const char* suffix : {"", ".gz"}) {
        const std::string path = writeScratch(std::string("overflow-then-zero") + suffix, idxHeader({0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0}));
        EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(path); }, {path, "2^63", "corrupt"}));
    }
}

TEST(IdxHeaderLimits, ZeroDimensionWithOrdinaryDimensionsIsAnEmptyTensor) {
    const torch::Tensor t = losslab::readIdxUint8(writeScratch("empty-ubyte", idxHeader({0, 28, 28})));
    EXPECT_EQ(t.sizes(), torch::IntArrayRef({0, 28, 28}));
}

TEST(IdxHeaderLimits, TwentyByteFileClaimingHundredGigabytesIsRefusedUnread) {
    // 16-byte header for 100,000 x 1,000 x 1,000 bytes (100 GB), then 4 bytes of data.
    std::vector<std::uint8_t> bytes = idxHeader({100000, 1000, 1000});
    bytes.insert(bytes.end(), {1, 2, 3, 4});
    ASSERT_EQ(bytes.size(), 20u);
    const std::string plain = writeScratch("huge-claim-ubyte", bytes);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(plain); }, {plain, "truncated", "100000000000"}));
    // Named .gz, the bytes pass through zlib and the header is checked against what arrives.
    const std::string gz = writeScratch("huge-claim-ubyte.gz", bytes);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(gz); }, {gz, "truncated", "100000000000"}));
}

} // namespace
