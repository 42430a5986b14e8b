// Image data layer (core/data/image): JPEG and PNG reading, the antialiased crop-and-resize,
// torchvision's crop boxes, and the class-per-folder listing of the image-folder tasks.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include "error_matchers.h"
#include "losslab/data/image/image_file.h"
#include "losslab/data/image/image_folder.h"
#include "losslab/data/image/image_resample.h"
#include "losslab/error.h"
#include "scratch_dir.h"

namespace losslab {
namespace {

namespace fs = std::filesystem;
using fixtures::throwsErrorWith;

// A smooth colour gradient (JPEG keeps it well).
RgbImage gradient(int width, int height) {
    RgbImage image{width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width * height * 3))};
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            std::uint8_t* p = &image.pixels[static_cast<std::size_t>((y * width + x) * 3)];
            p[0] = static_cast<std::uint8_t>(255 * x / std::max(1, width - 1));
            p[1] = static_cast<std::uint8_t>(255 * y / std::max(1, height - 1));
            p[2] = static_cast<std::uint8_t>(128 + 64 * std::sin(0.1 * (x + y)));
        }
    return image;
}

double meanAbsDifference(const RgbImage& a, const RgbImage& b) {
    double sum = 0;
    for (std::size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
    return sum / static_cast<double>(a.pixels.size());
}

class ImageFileTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!imageReaderAvailable()) GTEST_SKIP() << "built without libjpeg/libpng (the image reader)";
    }
    std::string path(const std::string& name) const { return (m_scratch.path() / name).string(); }
    fixtures::ScratchDir m_scratch{"losslab-image"};
};

TEST_F(ImageFileTest, PngRoundTripsExactly) {
    const RgbImage image = gradient(37, 23);
    writePng(path("a.png"), image);
    const DecodedImage read = readImage(path("a.png"));
    EXPECT_EQ(read.image.width, 37);
    EXPECT_EQ(read.image.height, 23);
    EXPECT_EQ(read.fullWidth, 37);
    EXPECT_EQ(read.fullHeight, 23);
    EXPECT_EQ(read.image.pixels, image.pixels);
}

TEST_F(ImageFileTest, JpegDecodesCloseToTheWrittenImage) {
    const RgbImage image = gradient(64, 48);
    writeJpeg(path("a.jpg"), image, 95);
    const DecodedImage read = readImage(path("a.jpg"));
    ASSERT_EQ(read.image.width, 64);
    ASSERT_EQ(read.image.height, 48);
    EXPECT_LT(meanAbsDifference(read.image, image), 2.0);
    // Another image is far away: the comparison can fail.
    RgbImage other = image;
    std::reverse(other.pixels.begin(), other.pixels.end());
    EXPECT_GT(meanAbsDifference(read.image, other), 20.0);
}

TEST_F(ImageFileTest, GreyAndCmykJpegsBecomeRgb) {
    const RgbImage image = gradient(16, 8);
    writeJpeg(path("grey.jpg"), image, 100, JpegColor::Grey);
    const DecodedImage grey = readImage(path("grey.jpg"));
    ASSERT_EQ(grey.image.pixels.size(), image.pixels.size());
    for (std::size_t i = 0; i < image.pixels.size(); i += 3) {
        EXPECT_EQ(grey.image.pixels[i], grey.image.pixels[i + 1]);
        EXPECT_EQ(grey.image.pixels[i], grey.image.pixels[i + 2]);
        const int mean = (image.pixels[i] + image.pixels[i + 1] + image.pixels[i + 2] + 1) / 3;
        EXPECT_NEAR(grey.image.pixels[i], mean, 4) << "pixel " << i / 3;
    }
    // Adobe CMYK (libjpeg writes the marker): stored bytes are inverted ink, so red = c * k / 255.
    std::vector<std::uint8_t> cmyk(16 * 8 * 4);
    for (std::size_t i = 0; i < cmyk.size(); i += 4) {
        cmyk[i] = 200;
        cmyk[i + 1] = 100;
        cmyk[i + 2] = 50;
        cmyk[i + 3] = 255;
    }
    writeJpeg(path("cmyk.jpg"), image, 100, JpegColor::Cmyk, cmyk);
    const DecodedImage colour = readImage(path("cmyk.jpg"));
    ASSERT_EQ(colour.image.pixels.size(), image.pixels.size());
    EXPECT_NEAR(colour.image.pixels[0], 200, 3);
    EXPECT_NEAR(colour.image.pixels[1], 100, 3);
    EXPECT_NEAR(colour.image.pixels[2], 50, 3);
}

TEST_F(ImageFileTest, JpegIsShrunkWhileDecodingToTheFactorAsked) {
    writeJpeg(path("big.jpg"), gradient(256, 192), 90);
    int seenWidth = 0;
    int seenHeight = 0;
    const DecodedImage read = readImage(path("big.jpg"), [&](int w, int h) {
        seenWidth = w;
        seenHeight = h;
        return 0.3; // the smallest n/8 >= 0.3 is 3/8
    });
    EXPECT_EQ(seenWidth, 256);
    EXPECT_EQ(seenHeight, 192);
    EXPECT_EQ(read.fullWidth, 256);
    EXPECT_EQ(read.fullHeight, 192);
    EXPECT_EQ(read.image.width, 96);
    EXPECT_EQ(read.image.height, 72);
    // A PNG is never shrunk.
    writePng(path("big.png"), gradient(256, 192));
    EXPECT_EQ(readImage(path("big.png"), [](int, int) { return 0.3; }).image.width, 256);
}

TEST_F(ImageFileTest, TheFormatComesFromTheBytesAndBadFilesAreNamed) {
    // ImageNet holds a PNG named .JPEG: it reads.
    writePng(path("png-inside.JPEG"), gradient(8, 8));
    EXPECT_EQ(readImage(path("png-inside.JPEG")).image.width, 8);

    { std::ofstream(path("text.jpg")) << "not an image"; }
    EXPECT_TRUE(throwsErrorWith([&] { readImage(path("text.jpg")); }, {path("text.jpg"), "expected JPEG or PNG"}));
    { std::ofstream touch(path("empty.jpg")); }
    EXPECT_TRUE(throwsErrorWith([&] { readImage(path("empty.jpg")); }, {path("empty.jpg"), "empty"}));
    EXPECT_TRUE(throwsErrorWith([&] { readImage(path("missing.jpg")); }, {path("missing.jpg"), "no such image file"}));

    // The first half of a JPEG, and of a PNG.
    for (const std::string name : {"whole.jpg", "whole.png"}) {
        if (name == "whole.jpg")
            writeJpeg(path(name), gradient(64, 64), 90);
        else
            writePng(path(name), gradient(64, 64));
        std::ifstream in(path(name), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const std::string cut = path("cut-" + name);
        std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
        EXPECT_TRUE(throwsErrorWith([&] { readImage(cut); }, {cut})) << name;
    }
}

// The file's bytes, and the file written with `bytes`.
std::string fileBytes(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeBytes(const std::string& file, const std::string& bytes) { std::ofstream(file, std::ios::binary) << bytes; }

void putBigEndian(std::string& bytes, std::size_t at, std::uint32_t value, int size) {
    for (int i = 0; i < size; ++i) bytes[at + static_cast<std::size_t>(i)] = static_cast<char>(value >> (8 * (size - 1 - i)));
}

// PNG's chunk checksum (CRC-32, ISO 3309).
std::uint32_t crc32(const std::string& bytes, std::size_t from, std::size_t count) {
    std::uint32_t crc = 0xffffffffu;
    for (std::size_t i = from; i < from + count; ++i) {
        crc ^= static_cast<unsigned char>(bytes[i]);
        for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xffffffffu;
}

// A small PNG whose header says width x height: IHDR is the first chunk (its data at byte 16:
// width, height), followed by its checksum over type and data.
std::string pngDeclaring(const std::string& bytes, std::uint32_t width, std::uint32_t height) {
    std::string out = bytes;
    putBigEndian(out, 16, width, 4);
    putBigEndian(out, 20, height, 4);
    putBigEndian(out, 29, crc32(out, 12, 17), 4);
    return out;
}

// A small baseline JPEG whose frame header (SOF0: length, precision, height, width) says
// width x height; the segments before it are walked by their lengths.
std::string jpegDeclaring(const std::string& bytes, std::uint32_t width, std::uint32_t height) {
    std::string out = bytes;
    std::size_t at = 2;
    while (at + 9 < out.size() && static_cast<unsigned char>(out[at + 1]) != 0xc0)
        at += 2 + (static_cast<std::size_t>(static_cast<unsigned char>(out[at + 2])) << 8) +
              static_cast<unsigned char>(out[at + 3]);
    EXPECT_LT(at + 9, out.size()) << "no SOF0 segment";
    putBigEndian(out, at + 5, height, 2);
    putBigEndian(out, at + 7, width, 2);
    return out;
}

// A JPEG whose compressed data stops early but still ends with the end-of-image marker (a file
// cut short and mended by a tool that closes it, or a download whose middle is missing):
// libjpeg decodes what is there and fills the rest of the picture with grey, with only a
// warning. It is refused, as a file that simply ends early is. Stray bytes before a marker, as
// in a few ImageNet files, leave every pixel there and still read.
TEST_F(ImageFileTest, AJpegWhoseDataStopsAtAMarkerIsRefusedAndStrayBytesBeforeOneAreNot) {
    writeJpeg(path("whole.jpg"), gradient(64, 64), 90);
    const std::string bytes = fileBytes(path("whole.jpg"));
    ASSERT_EQ(bytes.substr(bytes.size() - 2), "\xff\xd9");

    // Cut halfway through the compressed data, which starts after the start-of-scan segment.
    const std::size_t scan = bytes.find("\xff\xda");
    ASSERT_NE(scan, std::string::npos);
    const std::string closed = path("closed.jpg");
    writeBytes(closed, bytes.substr(0, scan + (bytes.size() - scan) / 2) + "\xff\xd9");
    EXPECT_TRUE(throwsErrorWith([&] { readImage(closed); }, {closed, "ends early"}));

    const std::string stray = path("stray.jpg");
    writeBytes(stray, bytes.substr(0, bytes.size() - 2) + std::string("\x12\x34\x56", 3) + "\xff\xd9");
    EXPECT_EQ(readImage(stray).image.pixels, readImage(path("whole.jpg")).image.pixels);
}

TEST_F(ImageFileTest, AHeaderDeclaringTooManyPixelsIsRefusedBeforeDecoding) {
    // A file of a few hundred bytes may declare a size whose decoding takes gigabytes. The
    // sizes here cost the old reader little to try (65536 x 65536 RGBA wraps libpng's 32-bit
    // buffer size to 0; the JPEG is decoded at 1/8), so the test is safe to run without the check.
    writePng(path("small.png"), gradient(8, 8));
    const std::string png = path("huge.png");
    writeBytes(png, pngDeclaring(fileBytes(path("small.png")), 65536, 65536));
    EXPECT_TRUE(throwsErrorWith([&] { readImage(png); }, {png, "PNG", "65536x65536", "at most 268435456"}));

    writeJpeg(path("small.jpg"), gradient(8, 8), 90);
    const std::string jpeg = path("huge.jpg");
    writeBytes(jpeg, jpegDeclaring(fileBytes(path("small.jpg")), 60000, 60000));
    // Refused by the full size even when it would be decoded shrunk: libjpeg's buffers for a
    // progressive file follow the full size.
    bool asked = false;
    const DecodeScale eighth = [&](int, int) {
        asked = true;
        return 0.125;
    };
    EXPECT_TRUE(throwsErrorWith([&] { readImage(jpeg, eighth); }, {jpeg, "JPEG", "60000x60000", "at most 268435456"}));
    EXPECT_FALSE(asked);

    // The limit is on the pixel count, not on a side: this header passes it, and decoding
    // starts (then stops, since the data is that of 8x8 pixels).
    const std::string wide = path("wide.jpg");
    writeBytes(wide, jpegDeclaring(fileBytes(path("small.jpg")), 60000, 8));
    EXPECT_TRUE(throwsErrorWith([&] { readImage(wide); }, {wide, "image data ends early"}));
}

// ---- resampling -------------------------------------------------------------------------

// out (channels-first) as an interleaved RgbImage.
RgbImage fromPlanes(const std::vector<std::uint8_t>& planes, int width, int height) {
    RgbImage image{width, height, std::vector<std::uint8_t>(planes.size())};
    const std::size_t plane = static_cast<std::size_t>(width * height);
    for (std::size_t i = 0; i < plane; ++i)
        for (std::size_t c = 0; c < 3; ++c) image.pixels[i * 3 + c] = planes[c * plane + i];
    return image;
}

RgbImage resampled(const RgbImage& image, const CropBox& box, int width, int height, bool flip) {
    std::vector<std::uint8_t> out(static_cast<std::size_t>(width * height * 3));
    resampleCrop(image, box, width, height, flip, out.data());
    return fromPlanes(out, width, height);
}

TEST(ImageResampleTest, TheWholeImageAtItsOwnSizeComesBackAndFlipMirrors) {
    const RgbImage image = gradient(20, 12);
    const CropBox whole{0, 0, 20, 12};
    EXPECT_EQ(resampled(image, whole, 20, 12, false).pixels, image.pixels);
    const RgbImage mirrored = resampled(image, whole, 20, 12, true);
    for (int y = 0; y < 12; ++y)
        for (int x = 0; x < 20; ++x)
            for (int c = 0; c < 3; ++c)
                ASSERT_EQ(mirrored.pixels[static_cast<std::size_t>((y * 20 + x) * 3 + c)],
                          image.pixels[static_cast<std::size_t>((y * 20 + 19 - x) * 3 + c)]);
    // A crop at its own size is the sub-image.
    const RgbImage part = resampled(image, CropBox{5, 3, 6, 4}, 6, 4, false);
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 6; ++x)
            ASSERT_EQ(part.pixels[static_cast<std::size_t>((y * 6 + x) * 3)],
                      image.pixels[static_cast<std::size_t>(((y + 3) * 20 + x + 5) * 3)]);
}

TEST(ImageResampleTest, ShrinkingAveragesInsteadOfAliasing) {
    // One-pixel stripes, black and white, shrunk 3x: a plain bilinear sample lands on one
    // stripe (0 or 255); the widened filter averages them.
    RgbImage stripes{48, 48, std::vector<std::uint8_t>(48 * 48 * 3)};
    for (int y = 0; y < 48; ++y)
        for (int x = 0; x < 48; ++x)
            for (int c = 0; c < 3; ++c) stripes.pixels[static_cast<std::size_t>((y * 48 + x) * 3 + c)] = x % 2 ? 255 : 0;
    const RgbImage small = resampled(stripes, CropBox{0, 0, 48, 48}, 16, 16, false);
    for (std::size_t i = 0; i < small.pixels.size(); ++i) {
        const auto x = static_cast<int>((i / 3) % 16);
        if (x == 0 || x == 15) continue; // the edges see fewer stripes
        EXPECT_NEAR(small.pixels[i], 127.5, 30) << "pixel " << i / 3;
    }
    // A constant image stays constant at any scale and crop.
    RgbImage grey{30, 20, std::vector<std::uint8_t>(30 * 20 * 3, 77)};
    for (const RgbImage& r : {resampled(grey, CropBox{2.5, 1.25, 20.5, 17}, 7, 5, false),
                              resampled(grey, CropBox{0, 0, 30, 20}, 64, 64, true)})
        for (std::uint8_t v : r.pixels) ASSERT_EQ(v, 77);
}

TEST(ImageCropBoxTest, RandomResizedCropFollowsTorchvision) {
    // Every draw 0.5 on a 100x80 image: area 8000 * (0.08 + 0.5 * 0.92) = 4320, ratio 1, so a
    // 66x66 box (round(sqrt(4320)) = 66) at int(0.5 * 35) = 17, int(0.5 * 15) = 7.
    std::vector<double> u(kRandomCropDraws, 0.5);
    CropBox box = randomResizedCropBox(100, 80, u.data(), 0.08);
    EXPECT_EQ(box.x, 17);
    EXPECT_EQ(box.y, 7);
    EXPECT_EQ(box.width, 66);
    EXPECT_EQ(box.height, 66);
    // Whole area at ratio 4/3 never fits a square image: ten failed tries, then the whole image.
    std::vector<double> wide(kRandomCropDraws, 0.0);
    for (int t = 0; t < 10; ++t) {
        wide[static_cast<std::size_t>(4 * t)] = 1.0;
        wide[static_cast<std::size_t>(4 * t + 1)] = 1.0;
    }
    box = randomResizedCropBox(50, 50, wide.data(), 0.08);
    EXPECT_EQ(box.x, 0);
    EXPECT_EQ(box.y, 0);
    EXPECT_EQ(box.width, 50);
    EXPECT_EQ(box.height, 50);
    // ... and on a tall image, the centred box of ratio 3/4: 30 wide, round(30 / 0.75) = 40 high.
    box = randomResizedCropBox(30, 100, wide.data(), 0.08);
    EXPECT_EQ(box.x, 0);
    EXPECT_EQ(box.y, 30);
    EXPECT_EQ(box.width, 30);
    EXPECT_EQ(box.height, 40);
}

TEST(ImageCropBoxTest, CenterCropIsResizeThenCrop) {
    // 400x300 resized to a shorter side of 256 is a 300/256 shrink; the 224 crop covers
    // 224 * 300 / 256 = 262.5 source pixels, centred.
    const CropBox box = centerCropBox(400, 300, 256, 224);
    EXPECT_DOUBLE_EQ(box.width, 262.5);
    EXPECT_DOUBLE_EQ(box.height, 262.5);
    EXPECT_DOUBLE_EQ(box.x, (400 - 262.5) / 2);
    EXPECT_DOUBLE_EQ(box.y, (300 - 262.5) / 2);
}

// ---- folders ----------------------------------------------------------------------------

class ImageFolderTest : public ::testing::Test {
protected:
    void touch(const std::string& relative) {
        const fs::path p = m_scratch.path() / relative;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << "x";
    }
    std::string dir(const std::string& relative) const { return (m_scratch.path() / relative).string(); }
    fixtures::ScratchDir m_scratch{"losslab-image-folder"};
};

TEST_F(ImageFolderTest, ListsClassesInOrderWithTheirImagesAndCountsOtherFiles) {
    touch("train/zebra/b.jpg");
    touch("train/zebra/a.JPEG");
    touch("train/ant/one.png");
    touch("train/ant/deeper/two.jpeg");
    touch("train/ant/notes.txt");
    touch("train/ant/.hidden.jpg");
    touch("train/.cache/x.jpg");
    touch("train/README"); // a file beside the class folders is not a class
    const ImageFolderListing train = listImageFolder(dir("train"));
    EXPECT_EQ(train.classes, (std::vector<std::string>{"ant", "zebra"}));
    EXPECT_EQ(train.files, (std::vector<std::string>{dir("train/ant/deeper/two.jpeg"), dir("train/ant/one.png"),
                                                     dir("train/zebra/a.JPEG"), dir("train/zebra/b.jpg")}));
    EXPECT_EQ(train.labels, (std::vector<std::int64_t>{0, 0, 1, 1}));
    EXPECT_EQ(train.skipped, 1);

    // A test set keeps the training labels, and may lack a class.
    touch("val/zebra/c.jpg");
    const ImageFolderListing val = listImageFolder(dir("val"), &train.classes);
    EXPECT_EQ(val.classes, train.classes);
    EXPECT_EQ(val.labels, (std::vector<std::int64_t>{1}));
}

TEST_F(ImageFolderTest, MissingFoldersUnknownAndEmptyClassesAreNamed) {
    EXPECT_TRUE(throwsErrorWith([&] { listImageFolder(dir("nowhere")); }, {dir("nowhere"), "no such folder"}));
    fs::create_directories(dir("bare"));
    EXPECT_TRUE(throwsErrorWith([&] { listImageFolder(dir("bare")); }, {dir("bare"), "no class folders"}));
    touch("train/cat/a.jpg");
    touch("train/dog/notes.txt");
    EXPECT_TRUE(throwsErrorWith([&] { listImageFolder(dir("train")); }, {dir("train") + "/dog", "no .jpg, .jpeg or .png"}));
    touch("val/bird/a.jpg");
    const std::vector<std::string> classes = {"cat", "dog"};
    EXPECT_TRUE(throwsErrorWith([&] { listImageFolder(dir("val"), &classes); }, {dir("val") + "/bird", "does not have"}));
}

TEST_F(ImageFolderTest, ALinkWhoseTargetIsMissingIsNamedNotSkipped) {
    // A data set of links into a disk that is not mounted: every link dangles.
    touch("train/cat/a.jpg");
    touch("train/dog/b.jpg");
    touch("elsewhere/c.jpg");
    const std::string unmounted = dir("unmounted");
    fs::create_symlink(dir("elsewhere/c.jpg"), dir("train/cat/c.jpg"));  // a live link is an image
    fs::create_symlink(unmounted + "/d.jpg", dir("train/cat/d.jpg"));
    EXPECT_TRUE(throwsErrorWith([&] { listImageFolder(dir("train")); },
                                {dir("train/cat/d.jpg"), unmounted + "/d.jpg", "does not exist"}));
    fs::remove(dir("train/cat/d.jpg"));
    EXPECT_EQ(listImageFolder(dir("train")).files.size(), 3u);

    // Below a class folder, whatever the link's name, and at the class level.
    fs::create_directories(dir("train/cat/deep"));
    fs::create_symlink("../../../unmounted/e.png", dir("train/cat/deep/e.png"));
    EXPECT_TRUE(throwsErrorWith([&] { listImageFolder(dir("train")); },
                                {dir("train/cat/deep/e.png"), "../../../unmounted/e.png", "does not exist"}));
    fs::remove(dir("train/cat/deep/e.png"));
    fs::create_symlink(unmounted + "/notes", dir("train/dog/notes.txt"));
    EXPECT_TRUE(throwsErrorWith([&] { listImageFolder(dir("train")); }, {dir("train/dog/notes.txt"), "does not exist"}));
    fs::remove(dir("train/dog/notes.txt"));
    fs::create_directory_symlink(unmounted + "/emu", dir("train/emu"));
    EXPECT_TRUE(throwsErrorWith([&] { listImageFolder(dir("train")); }, {dir("train/emu"), unmounted + "/emu", "does not exist"}));
    fs::remove(dir("train/emu"));

    // A link that cannot be followed (a loop) is named too; hidden names stay skipped.
    fs::create_symlink("loop.jpg", dir("train/cat/loop.jpg"));
    EXPECT_TRUE(throwsErrorWith([&] { listImageFolder(dir("train")); }, {dir("train/cat/loop.jpg"), "cannot be followed"}));
    fs::remove(dir("train/cat/loop.jpg"));
    fs::create_symlink(unmounted + "/f.jpg", dir("train/cat/.f.jpg"));
    EXPECT_EQ(listImageFolder(dir("train")).files.size(), 3u);
}

TEST_F(ImageFolderTest, AFolderThatCannotBeReadIsNamed) {
    if (::geteuid() == 0) GTEST_SKIP() << "root reads every folder";
    touch("train/cat/a.jpg");
    touch("train/cat/locked/b.jpg");
    fs::permissions(dir("train/cat/locked"), fs::perms::none);
    const ::testing::AssertionResult named = throwsErrorWith([&] { listImageFolder(dir("train")); },
                                                         {dir("train/cat/locked") + ": cannot read the folder"});
    fs::permissions(dir("train/cat/locked"), fs::perms::owner_all);
    EXPECT_TRUE(named);
}

// Sets every folder under (and including) `root` to a time an hour ago: the cache is written
// only for folders not changed in the last two seconds.
void ageFolders(const fs::path& root) {
    const auto past = fs::file_time_type::clock::now() - std::chrono::hours(1);
    fs::last_write_time(root, past);
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_directory()) fs::last_write_time(e.path(), past);
}

std::vector<std::string> cacheFiles(const fs::path& dir) {
    std::vector<std::string> out;
    if (!fs::exists(dir)) return out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().string());
    return out;
}

TEST_F(ImageFolderTest, TheCachedListingIsReusedUntilAFolderChanges) {
    touch("train/cat/a.jpg");
    touch("train/cat/deep/b.jpg");
    touch("train/dog/c.png");
    touch("train/dog/notes.txt");
    ageFolders(dir("train"));
    const std::string cache = dir("cache");
    const ImageFolderListing fresh = listImageFolder(dir("train"));
    const ImageFolderListing first = listImageFolderCached(dir("train"), nullptr, cache);
    EXPECT_EQ(first.files, fresh.files);
    EXPECT_EQ(first.labels, fresh.labels);
    EXPECT_EQ(first.classes, fresh.classes);
    EXPECT_EQ(first.skipped, 1);
    const std::vector<std::string> written = cacheFiles(cache);
    ASSERT_EQ(written.size(), 1u);

    // The second listing comes from the cache: a count changed in the file shows through.
    auto edit = [&](const std::string& from, const std::string& to) {
        std::ifstream in(written[0]);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const auto at = text.find(from);
        ASSERT_NE(at, std::string::npos);
        text.replace(at, from.size(), to);
        std::ofstream(written[0], std::ios::trunc) << text;
    };
    edit("skipped 1", "skipped 42");
    EXPECT_EQ(listImageFolderCached(dir("train"), nullptr, cache).skipped, 42);

    // A new image in a nested folder changes that folder's time: listed again, cache rewritten.
    touch("train/cat/deep/new.jpg");
    const ImageFolderListing changed = listImageFolderCached(dir("train"), nullptr, cache);
    EXPECT_EQ(changed.files.size(), 4u);
    EXPECT_EQ(changed.skipped, 1);
    // Just changed: too recent to be cached, so the next call lists again too.
    edit("skipped 42", "skipped 7");
    EXPECT_EQ(listImageFolderCached(dir("train"), nullptr, cache).files.size(), 4u);
    EXPECT_EQ(listImageFolderCached(dir("train"), nullptr, cache).skipped, 1);

    // A new class folder changes the top folder's time.
    ageFolders(dir("train"));
    (void)listImageFolderCached(dir("train"), nullptr, cache);
    touch("train/emu/d.jpg");
    EXPECT_EQ(listImageFolderCached(dir("train"), nullptr, cache).classes.size(), 3u);

    // A damaged cache file is listed around, and another class list is another cache.
    ageFolders(dir("train"));
    std::ofstream(written[0], std::ios::trunc) << "losslab image folder listing 2\ngarbage\n";
    EXPECT_EQ(listImageFolderCached(dir("train"), nullptr, cache).files.size(), 5u);
    const std::vector<std::string> classes = {"ant", "cat", "dog", "emu"};
    const ImageFolderListing relabelled = listImageFolderCached(dir("train"), &classes, cache);
    EXPECT_EQ(relabelled.labels.front(), 1);
    EXPECT_EQ(cacheFiles(cache).size(), 2u);
}

} // namespace
} // namespace losslab
