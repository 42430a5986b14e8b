#include "losslab/data/cifar_reader.h"

#include <gtest/gtest.h>

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

constexpr int kPixels = 3 * 32 * 32;

// Distinct per record, channel and position, so a wrong layout shows up as a wrong value.
std::uint8_t pixelValue(int record, int channel, int offset) {
    return static_cast<std::uint8_t>((record * 7 + channel * 50 + offset) % 256);
}

Bytes cifarRecords(const std::vector<std::uint8_t>& labels, int firstRecord = 0) {
    Bytes bytes;
    for (std::size_t r = 0; r < labels.size(); ++r) {
        bytes.push_back(labels[r]);
        for (int c = 0; c < 3; ++c)
            for (int i = 0; i < 32 * 32; ++i)
                bytes.push_back(pixelValue(firstRecord + static_cast<int>(r), c, i));
    }
    return bytes;
}

class CifarReaderTest : public testing::Test {
protected:
    void SetUp() override {
        std::random_device random;
        m_dir = fs::temp_directory_path()
                / ("losslab-cifar-test-" + std::to_string(random()) + "-"
                   + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
        fs::create_directories(m_dir);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }

    std::string path(const std::string& name) const { return (m_dir / name).string(); }

    std::string write(const std::string& name, const Bytes& bytes) const {
        const std::string p = path(name);
        fs::create_directories(fs::path(p).parent_path());
        std::ofstream out(p, std::ios::binary);
        out.write(reinterpret_cast<const char*>(bytes.data()),
                  static_cast<std::streamsize>(bytes.size()));
        return p;
    }

    // One record per batch file; the record's label is the file's position, so the order of
    // the loaded rows is visible.
    void writeAllBatches(const std::string& folder) const {
        for (int b = 1; b <= 5; ++b)
            write(folder + "data_batch_" + std::to_string(b) + ".bin",
                  cifarRecords({static_cast<std::uint8_t>(b)}, b));
        write(folder + "test_batch.bin", cifarRecords({0}));
    }

    fs::path m_dir;
};

TEST_F(CifarReaderTest, ReadsRecordsChannelMajor) {
    const std::string p = write("batch.bin", cifarRecords({3, 0, 9}));
    const losslab::TensorSplit split = losslab::readCifar10Files({p});
    ASSERT_EQ(split.features.sizes(), (std::vector<std::int64_t>{3, 3, 32, 32}));
    ASSERT_EQ(split.features.scalar_type(), torch::kUInt8);
    ASSERT_EQ(split.labels.sizes(), (std::vector<std::int64_t>{3}));
    ASSERT_EQ(split.labels.scalar_type(), torch::kLong);
    EXPECT_EQ(split.labels[0].item<std::int64_t>(), 3);
    EXPECT_EQ(split.labels[1].item<std::int64_t>(), 0);
    EXPECT_EQ(split.labels[2].item<std::int64_t>(), 9);
    EXPECT_EQ(split.size(), 3);

    const torch::Tensor features = split.features.contiguous();
    const std::uint8_t* data = features.data_ptr<std::uint8_t>();
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c)
            for (int y = 0; y < 32; ++y)
                for (int x = 0; x < 32; ++x)
                    ASSERT_EQ(data[((r * 3 + c) * 32 + y) * 32 + x], pixelValue(r, c, y * 32 + x))
                        << "record " << r << " channel " << c << " y " << y << " x " << x;
    // Spot checks through tensor indexing, independent of the flat arithmetic above.
    EXPECT_EQ(split.features[1][2][0][5].item<int>(), pixelValue(1, 2, 5));
    EXPECT_EQ(split.features[2][1][31][31].item<int>(), pixelValue(2, 1, 1023));
}

TEST_F(CifarReaderTest, ConcatenatesFilesInOrder) {
    const std::string a = write("a.bin", cifarRecords({1, 2}, 0));
    const std::string b = write("b.bin", cifarRecords({7, 8, 9}, 2));
    const losslab::TensorSplit split = losslab::readCifar10Files({a, b});
    ASSERT_EQ(split.size(), 5);
    const std::vector<std::int64_t> expected{1, 2, 7, 8, 9};
    for (std::int64_t i = 0; i < 5; ++i) {
        EXPECT_EQ(split.labels[i].item<std::int64_t>(), expected[static_cast<std::size_t>(i)]);
        EXPECT_EQ(split.features[i][0][0][0].item<int>(), pixelValue(static_cast<int>(i), 0, 0));
    }
}

TEST_F(CifarReaderTest, RejectsSizeNotMultipleOfRecord) {
    Bytes bytes = cifarRecords({1, 2});
    bytes.resize(bytes.size() + 5);
    const std::string p = write("odd.bin", bytes);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readCifar10Files({p}); },
                                {p, std::to_string(2 * 3073 + 5), "multiple of 3073"}));
}

TEST_F(CifarReaderTest, RejectsEmptyFile) {
    const std::string p = write("empty.bin", {});
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readCifar10Files({p}); },
                                {p, "is 0 bytes", "positive multiple of 3073"}));
}

TEST_F(CifarReaderTest, RejectsMissingFile) {
    const std::string good = write("good.bin", cifarRecords({1}));
    const std::string missing = path("missing.bin");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readCifar10Files({good, missing}); }, {missing}));
}

TEST_F(CifarReaderTest, RejectsLabelOutOfRange) {
    const std::string p = write("bad-label.bin", cifarRecords({4, 10, 2}));
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readCifar10Files({p}); },
                                {p, "record 1", "label 10", "[0, 10)"}));
}

TEST_F(CifarReaderTest, LoadsFromRoot) {
    writeAllBatches("");
    const losslab::DataBundle bundle = losslab::loadCifar10(m_dir.string());
    EXPECT_EQ(bundle.source, m_dir.string());
    ASSERT_EQ(bundle.train.size(), 5);
    ASSERT_EQ(bundle.test.size(), 1);
    for (std::int64_t i = 0; i < 5; ++i)
        EXPECT_EQ(bundle.train.labels[i].item<std::int64_t>(), i + 1);
    EXPECT_EQ(bundle.test.labels[0].item<std::int64_t>(), 0);
    EXPECT_EQ(bundle.train.features.sizes(), (std::vector<std::int64_t>{5, 3, 32, 32}));
}

TEST_F(CifarReaderTest, LoadsFromBatchesSubfolder) {
    writeAllBatches("cifar-10-batches-bin/");
    const losslab::DataBundle bundle = losslab::loadCifar10(m_dir.string());
    EXPECT_EQ(bundle.source, (m_dir / "cifar-10-batches-bin").string());
    EXPECT_EQ(bundle.train.size(), 5);
    EXPECT_EQ(bundle.test.size(), 1);
}

TEST_F(CifarReaderTest, MissingFilesAreListedWithDownloadHint) {
    EXPECT_TRUE(throwsErrorWith(
        [&] { losslab::loadCifar10(m_dir.string()); },
        {path("data_batch_1.bin"), path("data_batch_5.bin"), path("test_batch.bin"),
         "CIFAR-10 binary version", "https://www.cs.toronto.edu/~kriz/cifar.html", "data.root",
         "cifar-10-batches-bin"}));
}

TEST_F(CifarReaderTest, PartialFolderListsOnlyWhatIsMissing) {
    writeAllBatches("cifar-10-batches-bin/");
    fs::remove(m_dir / "cifar-10-batches-bin" / "data_batch_4.bin");
    try {
        losslab::loadCifar10(m_dir.string());
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        const std::string message = e.what();
        const std::string folder = (m_dir / "cifar-10-batches-bin").string();
        EXPECT_NE(message.find((fs::path(folder) / "data_batch_4.bin").string()),
                  std::string::npos)
            << message;
        EXPECT_EQ(message.find((fs::path(folder) / "data_batch_3.bin").string()),
                  std::string::npos)
            << message;
    }
}

} // namespace
