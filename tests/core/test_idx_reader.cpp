#include "losslab/data/idx_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "losslab/error.h"
#include "error_matchers.h"

using losslab::fixtures::throwsErrorWith;

namespace {

namespace fs = std::filesystem;
using losslab::Error;

using Bytes = std::vector<std::uint8_t>;

// A fresh folder per test so that tests can run side by side and leave nothing behind.
class IdxReaderTest : public testing::Test {
protected:
    void SetUp() override {
        std::random_device random;
        m_dir = fs::temp_directory_path()
                / ("losslab-idx-test-" + std::to_string(random()) + "-"
                   + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
        fs::create_directories(m_dir);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }

    std::string path(const std::string& name) const { return (m_dir / name).string(); }

    std::string writePlain(const std::string& name, const Bytes& bytes) const {
        const std::string p = path(name);
        std::ofstream out(p, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
        return p;
    }

    std::string writeGzip(const std::string& name, const Bytes& bytes) const {
        const std::string p = path(name);
        gzFile file = gzopen(p.c_str(), "wb");
        EXPECT_NE(file, nullptr);
        if (!bytes.empty()) {
            EXPECT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
                      static_cast<int>(bytes.size()));
        }
        gzclose(file);
        return p;
    }

    fs::path m_dir;
};

Bytes idxBytes(std::uint8_t type, const std::vector<std::uint32_t>& dims, const Bytes& data) {
    Bytes bytes{0, 0, type, static_cast<std::uint8_t>(dims.size())};
    for (std::uint32_t d : dims) {
        bytes.push_back(static_cast<std::uint8_t>(d >> 24));
        bytes.push_back(static_cast<std::uint8_t>(d >> 16));
        bytes.push_back(static_cast<std::uint8_t>(d >> 8));
        bytes.push_back(static_cast<std::uint8_t>(d));
    }
    bytes.insert(bytes.end(), data.begin(), data.end());
    return bytes;
}

Bytes counting(std::size_t n) {
    Bytes data(n);
    for (std::size_t i = 0; i < n; ++i)
        data[i] = static_cast<std::uint8_t>(i * 3 + 1);
    return data;
}

void expectBytes(const torch::Tensor& t, const Bytes& expected) {
    ASSERT_EQ(t.scalar_type(), torch::kUInt8);
    ASSERT_TRUE(t.is_contiguous());
    ASSERT_EQ(t.numel(), static_cast<std::int64_t>(expected.size()));
    const std::uint8_t* p = t.data_ptr<std::uint8_t>();
    for (std::size_t i = 0; i < expected.size(); ++i)
        ASSERT_EQ(p[i], expected[i]) << "at " << i;
}

TEST_F(IdxReaderTest, ReadsPlainFile) {
    const Bytes data = counting(24);
    const std::string p = writePlain("a-idx3-ubyte", idxBytes(0x08, {2, 3, 4}, data));
    const torch::Tensor t = losslab::readIdxUint8(p);
    EXPECT_EQ(t.sizes(), (std::vector<std::int64_t>{2, 3, 4}));
    EXPECT_EQ(t.device().type(), torch::kCPU);
    expectBytes(t, data);
}

TEST_F(IdxReaderTest, ReadsGzipFileByExtension) {
    const Bytes data = counting(6);
    const std::string p = writeGzip("a-idx1-ubyte.gz", idxBytes(0x08, {6}, data));
    const torch::Tensor t = losslab::readIdxUint8(p);
    EXPECT_EQ(t.sizes(), (std::vector<std::int64_t>{6}));
    expectBytes(t, data);
}

TEST_F(IdxReaderTest, DetectsGzipByMagic) {
    const Bytes data = counting(12);
    const std::string p = writeGzip("no-extension", idxBytes(0x08, {3, 4}, data));
    const torch::Tensor t = losslab::readIdxUint8(p);
    EXPECT_EQ(t.sizes(), (std::vector<std::int64_t>{3, 4}));
    expectBytes(t, data);
}

TEST_F(IdxReaderTest, ReadsZeroSizedDimension) {
    const std::string p = writePlain("empty", idxBytes(0x08, {0, 28, 28}, {}));
    const torch::Tensor t = losslab::readIdxUint8(p);
    EXPECT_EQ(t.sizes(), (std::vector<std::int64_t>{0, 28, 28}));
}

TEST_F(IdxReaderTest, RejectsMissingFile) {
    const std::string p = path("does-not-exist");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(p); }, {p}));
}

TEST_F(IdxReaderTest, RejectsWrongMagic) {
    Bytes bytes = idxBytes(0x08, {2}, {1, 2});
    bytes[0] = 0x12;
    bytes[1] = 0x34;
    const std::string p = writePlain("bad-magic", bytes);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(p); },
                                {p, "not an IDX file", "0x00 0x00", "0x12 0x34"}));
}

TEST_F(IdxReaderTest, RejectsUnsupportedTypeCode) {
    const std::string p = writePlain("floats", idxBytes(0x0D, {1}, {0, 0, 0, 0}));
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(p); },
                                {p, "0x0D", "float32", "0x08"}));
}

TEST_F(IdxReaderTest, RejectsZeroDimensions) {
    const std::string p = writePlain("scalar", idxBytes(0x08, {}, {7}));
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(p); }, {p, "0 dimensions"}));
}

TEST_F(IdxReaderTest, RejectsTruncatedHeader) {
    Bytes bytes = idxBytes(0x08, {5, 5, 5}, {});
    bytes.resize(9);
    const std::string p = writePlain("short-header", bytes);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(p); }, {p, "truncated"}));

    const std::string tiny = writePlain("tiny", {0, 0});
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(tiny); }, {tiny, "truncated"}));
}

TEST_F(IdxReaderTest, RejectsTruncatedData) {
    const Bytes bytes = idxBytes(0x08, {10}, counting(5));
    const std::string plain = writePlain("short", bytes);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(plain); },
                                {plain, "truncated: header says 10 bytes of data", "file has 5"}));
    const std::string gz = writeGzip("short.gz", bytes);
    EXPECT_TRUE(throwsErrorWith(
        [&] { losslab::readIdxUint8(gz); },
        {gz, "truncated: header says 10 bytes of data", "decompressed file has 5"}));
}

TEST_F(IdxReaderTest, RejectsTrailingBytes) {
    const Bytes bytes = idxBytes(0x08, {4}, counting(7));
    const std::string plain = writePlain("long", bytes);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(plain); },
                                {plain, "header says 4 bytes of data", "file has 7", "trailing"}));
    const std::string gz = writeGzip("long.gz", bytes);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(gz); },
                                {gz, "header says 4 bytes of data", "has 7", "trailing"}));
}

TEST_F(IdxReaderTest, RejectsHugeClaimWithoutAllocating) {
    // 100000 x 1000 x 1000 = 100 GB claimed by a file of a few bytes: must fail on the size
    // check, not by trying to allocate (or read) 100 GB.
    const Bytes bytes = idxBytes(0x08, {100000, 1000, 1000}, counting(4));
    const std::string plain = writePlain("huge", bytes);
    const std::string gz = writeGzip("huge.gz", bytes);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(plain); },
                                {plain, "truncated: header says 100000000000 bytes", "has 4"}));
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(gz); },
                                {gz, "truncated: header says 100000000000 bytes", "has 4"}));
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(IdxReaderTest, RejectsOverflowingDimensions) {
    const Bytes bytes = idxBytes(0x08, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, counting(4));
    const std::string p = writePlain("overflow", bytes);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(p); }, {p, "4294967295", "corrupt"}));
    const std::string gz = writeGzip("overflow.gz", bytes);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(gz); }, {gz, "corrupt"}));
}

TEST_F(IdxReaderTest, RejectsCorruptGzip) {
    Bytes bytes{0x1F, 0x8B, 0x08, 0x00};
    const Bytes junk = counting(40);
    bytes.insert(bytes.end(), junk.begin(), junk.end());
    const std::string p = writePlain("corrupt.gz", bytes);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(p); }, {p}));
}

TEST_F(IdxReaderTest, RejectsCutGzipStream) {
    // Noise-like data so that the compressed stream is long enough to cut in half.
    Bytes data(20000);
    std::mt19937 random(3);
    for (std::uint8_t& b : data)
        b = static_cast<std::uint8_t>(random());
    const std::string whole = writeGzip("whole.gz", idxBytes(0x08, {20000}, data));
    Bytes compressed(fs::file_size(whole));
    std::ifstream in(whole, std::ios::binary);
    in.read(reinterpret_cast<char*>(compressed.data()),
            static_cast<std::streamsize>(compressed.size()));
    compressed.resize(compressed.size() / 2);
    const std::string cut = writePlain("cut.gz", compressed);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxUint8(cut); }, {cut, "truncated"}));
}

TEST_F(IdxReaderTest, ReadsImagesAndLabels) {
    const Bytes pixels = counting(3 * 2 * 2);
    const std::string images = writePlain("images", idxBytes(0x08, {3, 2, 2}, pixels));
    const std::string labels = writeGzip("labels.gz", idxBytes(0x08, {3}, {0, 9, 4}));
    const losslab::TensorSplit split = losslab::readIdxImagesAndLabels(images, labels, 10);
    EXPECT_EQ(split.features.sizes(), (std::vector<std::int64_t>{3, 1, 2, 2}));
    EXPECT_EQ(split.features.scalar_type(), torch::kUInt8);
    expectBytes(split.features.contiguous(), pixels);
    ASSERT_EQ(split.labels.scalar_type(), torch::kLong);
    ASSERT_EQ(split.labels.sizes(), (std::vector<std::int64_t>{3}));
    EXPECT_EQ(split.labels[0].item<std::int64_t>(), 0);
    EXPECT_EQ(split.labels[1].item<std::int64_t>(), 9);
    EXPECT_EQ(split.labels[2].item<std::int64_t>(), 4);
    EXPECT_FALSE(split.lengths.defined());
    EXPECT_EQ(split.size(), 3);
}

TEST_F(IdxReaderTest, RejectsLabelOutOfRange) {
    const std::string images = writePlain("images", idxBytes(0x08, {3, 2, 2}, counting(12)));
    const std::string labels = writePlain("labels", idxBytes(0x08, {3}, {1, 12, 200}));
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxImagesAndLabels(images, labels, 10); },
                                {labels, "index 1", "is 12", "[0, 10)"}));
}

TEST_F(IdxReaderTest, RejectsCountMismatch) {
    const std::string images = writePlain("images", idxBytes(0x08, {3, 2, 2}, counting(12)));
    const std::string labels = writePlain("labels", idxBytes(0x08, {2}, {1, 2}));
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxImagesAndLabels(images, labels, 10); },
                                {images, labels, "3 images", "2 labels"}));
}

TEST_F(IdxReaderTest, RejectsWrongRanks) {
    const std::string flat = writePlain("flat", idxBytes(0x08, {3, 4}, counting(12)));
    const std::string images = writePlain("images", idxBytes(0x08, {3, 2, 2}, counting(12)));
    const std::string labels = writePlain("labels", idxBytes(0x08, {3}, {1, 2, 3}));
    const std::string labels2d = writePlain("labels2d", idxBytes(0x08, {3, 1}, {1, 2, 3}));
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxImagesAndLabels(flat, labels, 10); },
                                {flat, "3 dimensions", "[3, 4]"}));
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readIdxImagesAndLabels(images, labels2d, 10); },
                                {labels2d, "1 dimension", "[3, 1]"}));
}

TEST_F(IdxReaderTest, FindsEitherSpellingWithOrWithoutGzip) {
    const std::string root = m_dir.string();
    const std::string dotted = writeGzip("train-images.idx3-ubyte.gz", idxBytes(0x08, {1}, {1}));
    EXPECT_EQ(losslab::findIdxFile(root, "train-images-idx3-ubyte"), dotted);
    EXPECT_EQ(losslab::findIdxFile(root, "train-images.idx3-ubyte"), dotted);

    // The exact, uncompressed name wins when both are there.
    const std::string plain = writePlain("train-images-idx3-ubyte", idxBytes(0x08, {1}, {1}));
    EXPECT_EQ(losslab::findIdxFile(root, "train-images-idx3-ubyte"), plain);
}

TEST_F(IdxReaderTest, FindListsEveryPathTried) {
    const std::string root = m_dir.string();
    EXPECT_TRUE(throwsErrorWith(
        [&] { losslab::findIdxFile(root, "t10k-labels-idx1-ubyte"); },
        {path("t10k-labels-idx1-ubyte"), path("t10k-labels-idx1-ubyte.gz"),
         path("t10k-labels.idx1-ubyte"), path("t10k-labels.idx1-ubyte.gz"), "may be wrong"}));
}

TEST(IdxReaderRealData, ReadsDebianFashionMnist) {
    const std::string root = "/usr/share/datasets/fashion-mnist";
    if (!fs::is_directory(root))
        GTEST_SKIP() << root << " not installed";
    const losslab::TensorSplit train =
        losslab::readIdxImagesAndLabels(losslab::findIdxFile(root, "train-images-idx3-ubyte"),
                                        losslab::findIdxFile(root, "train-labels-idx1-ubyte"), 10);
    EXPECT_EQ(train.features.sizes(), (std::vector<std::int64_t>{60000, 1, 28, 28}));
    EXPECT_EQ(train.features.scalar_type(), torch::kUInt8);
    EXPECT_EQ(train.labels.sizes(), (std::vector<std::int64_t>{60000}));

    const losslab::TensorSplit test =
        losslab::readIdxImagesAndLabels(losslab::findIdxFile(root, "t10k-images-idx3-ubyte"),
                                        losslab::findIdxFile(root, "t10k-labels-idx1-ubyte"), 10);
    EXPECT_EQ(test.features.sizes(), (std::vector<std::int64_t>{10000, 1, 28, 28}));
    ASSERT_EQ(test.labels.sizes(), (std::vector<std::int64_t>{10000}));
    EXPECT_EQ(test.labels.scalar_type(), torch::kLong);
    EXPECT_GE(test.labels.min().item<std::int64_t>(), 0);
    EXPECT_LT(test.labels.max().item<std::int64_t>(), 10);
    EXPECT_GE(train.labels.min().item<std::int64_t>(), 0);
    EXPECT_LT(train.labels.max().item<std::int64_t>(), 10);
}

} // namespace
