// Reading the speech corpora's audio (readAudio): files whose header announces more samples than
// they hold, float samples that are not numbers or are at another scale. The files are written
// byte by byte here, so that every header field the reader checks is the test's choice.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "error_matchers.h"
#include "losslab/data/audio/audio_file.h"
#include "scratch_dir.h"

namespace losslab {
namespace {

namespace fs = std::filesystem;
using fixtures::ScratchDir;
using fixtures::throwsErrorWith;

void putU16(std::string& out, std::uint16_t v) {
    out += static_cast<char>(v & 0xFF);
    out += static_cast<char>(v >> 8);
}

void putU32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

void putU64(std::string& out, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

void putU16BE(std::string& out, std::uint16_t v) {
    out += static_cast<char>(v >> 8);
    out += static_cast<char>(v & 0xFF);
}

void putU32BE(std::string& out, std::uint32_t v) {
    for (int i = 3; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

void writeBytes(const fs::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

// `bytes` written as `name` reads whole, `frames` samples; its first `kept` bytes, written as
// "cut_<name>", are refused as ending early, with `present` ("500 of the 600 bytes") and
// `presentFrames` ("250 of the 300 frames") in the message.
::testing::AssertionResult readsWholeAndRefusesItCut(const ScratchDir& dir, const std::string& name,
                                                     const std::string& bytes, std::size_t frames, std::size_t kept,
                                                     const std::string& present, const std::string& presentFrames) {
    const fs::path whole = dir.path() / name;
    writeBytes(whole, bytes);
    const std::size_t read = readAudio(whole.string()).samples.size();
    if (read != frames) return ::testing::AssertionFailure() << name << ": read " << read << " samples, expected " << frames;
    const fs::path cut = dir.path() / ("cut_" + name);
    writeBytes(cut, bytes.substr(0, kept));
    return throwsErrorWith([&] { readAudio(cut.string()); }, {cut.string(), "ends early", present, presentFrames});
}

// 16-bit PCM samples, little-endian: a quiet ramp, `frames` frames of `channels` channels.
std::string pcm16(std::size_t frames, int channels = 1) {
    std::string out;
    for (std::size_t i = 0; i < frames * static_cast<std::size_t>(channels); ++i)
        putU16(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(i % 200) - 100));
    return out;
}

std::string floatSamples(const std::vector<float>& samples) {
    std::string out(samples.size() * 4, '\0');
    std::memcpy(out.data(), samples.data(), out.size()); // the test machines are little-endian, as WAV
    return out;
}

struct WavLayout {
    std::uint16_t formatTag = 1; // 1 PCM, 3 IEEE float
    std::uint16_t channels = 1;
    std::uint16_t bitsPerSample = 16;
    std::uint32_t rate = 16000;
    std::string beforeData;      // chunks between fmt and data (with their padding)
    bool dataSizeGiven = false;  // write dataSize instead of the samples' length
    std::uint32_t dataSize = 0;
};

// A RIFF/WAVE file: "fmt ", the extra chunks, then "data" holding `samples`.
std::string wavFile(const std::string& samples, const WavLayout& layout = {}) {
    std::string fmt;
    putU16(fmt, layout.formatTag);
    putU16(fmt, layout.channels);
    putU32(fmt, layout.rate);
    const std::uint16_t blockAlign = static_cast<std::uint16_t>(layout.channels * layout.bitsPerSample / 8);
    putU32(fmt, layout.rate * blockAlign);
    putU16(fmt, blockAlign);
    putU16(fmt, layout.bitsPerSample);
    std::string body = "WAVE";
    body += "fmt ";
    putU32(body, static_cast<std::uint32_t>(fmt.size()));
    body += fmt;
    body += layout.beforeData;
    body += "data";
    putU32(body, layout.dataSizeGiven ? layout.dataSize : static_cast<std::uint32_t>(samples.size()));
    body += samples;
    std::string file = "RIFF";
    putU32(file, static_cast<std::uint32_t>(body.size()));
    return file + body;
}

// 16-bit PCM samples, big-endian (AIFF, AU): `count` samples of a quiet ramp.
std::string pcm16BigEndian(std::size_t count) {
    std::string out;
    for (std::size_t i = 0; i < count; ++i)
        putU16BE(out, static_cast<std::uint16_t>(static_cast<std::int16_t>(i % 200) - 100));
    return out;
}

std::string floatSamplesBigEndian(const std::vector<float>& samples) {
    std::string out;
    for (const float v : samples) {
        std::uint32_t bits = 0;
        std::memcpy(&bits, &v, 4);
        putU32BE(out, bits);
    }
    return out;
}

struct AiffLayout {
    std::uint16_t channels = 1;
    std::uint16_t sampleSize = 16;
    std::string compression;     // empty: AIFF; "fl32", "sowt", ...: AIFF-C
    std::string beforeData;      // chunks between COMM and SSND (with their padding)
    bool framesGiven = false;    // write frames as COMM's numSampleFrames instead of the samples' count
    std::uint32_t frames = 0;
    bool ssndSizeGiven = false;  // write ssndSize as the SSND chunk's size instead of 8 + the samples' length
    std::uint32_t ssndSize = 0;
};

// An AIFF (AIFF-C with a compression type) file at 16 kHz: COMM, the extra chunks, then SSND
// holding `samples` (offset 0).
std::string aiffFile(const std::string& samples, const AiffLayout& layout = {}) {
    const std::size_t sampleBytes = layout.compression == "fl32" ? 4 : layout.sampleSize / 8;
    std::string comm;
    putU16BE(comm, layout.channels);
    putU32BE(comm, layout.framesGiven ? layout.frames
                                      : static_cast<std::uint32_t>(samples.size() / (sampleBytes * layout.channels)));
    putU16BE(comm, layout.sampleSize);
    comm += std::string("\x40\x0C\xFA\x00\x00\x00\x00\x00\x00\x00", 10); // 16000 as an 80-bit float
    std::string body;
    if (layout.compression.empty()) {
        body = "AIFF";
    } else {
        comm += layout.compression + std::string(2, '\0'); // and an empty name, padded
        body = "AIFCFVER";
        putU32BE(body, 4);
        putU32BE(body, 0xA2805140u);
    }
    body += "COMM";
    putU32BE(body, static_cast<std::uint32_t>(comm.size()));
    body += comm + layout.beforeData + "SSND";
    putU32BE(body, layout.ssndSizeGiven ? layout.ssndSize : static_cast<std::uint32_t>(8 + samples.size()));
    putU32BE(body, 0); // offset
    putU32BE(body, 0); // block size
    body += samples;
    std::string file = "FORM";
    putU32BE(file, static_cast<std::uint32_t>(body.size()));
    return file + body;
}

// A Sun/NeXT AU file: 16-bit PCM (encoding 3), mono, 16 kHz, `dataSize` in the header.
std::string auFile(const std::string& samples, std::uint32_t dataSize) {
    std::string file = ".snd";
    putU32BE(file, 24); // header size: the samples' offset
    putU32BE(file, dataSize);
    putU32BE(file, 3);
    putU32BE(file, 16000);
    putU32BE(file, 1);
    return file + samples;
}

// A Sony Wave64 file: RIFF's layout with GUIDs for names and 64-bit sizes that count the
// 24-byte chunk header; 16-bit PCM mono at 16 kHz.
std::string w64File(const std::string& samples) {
    const std::string tail("\xF3\xAC\xD3\x11\x8C\xD1\x00\xC0\x4F\x8E\xDB\x8A", 12);
    std::string fmt;
    putU16(fmt, 1);
    putU16(fmt, 1);
    putU32(fmt, 16000);
    putU32(fmt, 32000);
    putU16(fmt, 2);
    putU16(fmt, 16);
    std::string file = std::string("riff\x2E\x91\xCF\x11\xA5\xD6\x28\xDB\x04\xC1\x00\x00", 16);
    putU64(file, 0); // filled below
    file += "wave" + tail + "fmt " + tail;
    putU64(file, 24 + fmt.size());
    file += fmt + "data" + tail;
    putU64(file, 24 + samples.size());
    file += samples;
    for (int i = 0; i < 8; ++i) file[16 + i] = static_cast<char>((file.size() >> (8 * i)) & 0xFF);
    return file;
}

// ---- a file that ends before the samples its header announces -------------------------------

TEST(SpeechAudio, ATruncatedWavIsRefusedWithTheAnnouncedAndPresentLengths) {
    ScratchDir dir("speech-audio");
    // As a user meets it: a one-second clip cut short (head -c 1000).
    const fs::path clip = dir.path() / "yes" / "cut_nohash_0.wav";
    fs::create_directories(clip.parent_path());
    writeAudio(clip.string(), std::vector<float>(16000, 0.25f), 16000);
    ASSERT_EQ(readAudio(clip.string()).samples.size(), 16000u);
    fs::resize_file(clip, 1000);
    EXPECT_TRUE(throwsErrorWith([&] { readAudio(clip.string()); },
                                {clip.string(), "ends early", "956 of the 32000 bytes", "478 of the 16000 frames"}));

    // One byte short is short too.
    const fs::path oneShort = dir.path() / "one_short.wav";
    writeBytes(oneShort, wavFile(pcm16(100)).substr(0, 44 + 199));
    EXPECT_TRUE(throwsErrorWith([&] { readAudio(oneShort.string()); },
                                {oneShort.string(), "199 of the 200 bytes", "99 of the 100 frames"}));

    // A stereo file: frames are both channels.
    const fs::path stereo = dir.path() / "stereo.wav";
    WavLayout two;
    two.channels = 2;
    writeBytes(stereo, wavFile(pcm16(100, 2), two).substr(0, 44 + 40));
    EXPECT_TRUE(throwsErrorWith([&] { readAudio(stereo.string()); },
                                {stereo.string(), "40 of the 400 bytes", "10 of the 100 frames"}));
}

TEST(SpeechAudio, WavChunksArePaddedToEvenLengthsAndTheLastPadByteMayBeMissing) {
    ScratchDir dir("speech-audio");
    // An odd-sized LIST chunk before the data, with its pad byte: read whole, and a cut is found.
    WavLayout listed;
    listed.beforeData = std::string("LIST") + std::string("\x05\x00\x00\x00", 4) + "INFOx" + std::string(1, '\0');
    const std::string whole = wavFile(pcm16(300), listed);
    EXPECT_TRUE(readsWholeAndRefusesItCut(dir, "listed.wav", whole, 300, whole.size() - 100, "500 of the 600 bytes",
                                          "250 of the 300 frames"));

    // 8-bit mono with an odd number of frames, the data chunk last and its pad byte left out (as
    // many writers do): nothing is missing.
    WavLayout narrow;
    narrow.bitsPerSample = 8;
    const fs::path odd = dir.path() / "odd.wav";
    writeBytes(odd, wavFile(std::string(101, '\x80'), narrow));
    EXPECT_EQ(readAudio(odd.string()).samples.size(), 101u);

    // A chunk after the data (metadata at the end) is not audio: the data is whole.
    const fs::path trailing = dir.path() / "trailing.wav";
    writeBytes(trailing, wavFile(pcm16(50)) + "LIST" + std::string("\x04\x00\x00\x00", 4) + "INFO");
    EXPECT_EQ(readAudio(trailing.string()).samples.size(), 50u);
}

TEST(SpeechAudio, StreamedWavSizesAreReadToTheEndOrRefusedWhenZero) {
    ScratchDir dir("speech-audio");
    // 0xFFFFFFFF: a streaming writer's "unknown length"; the samples run to the end of the file.
    WavLayout unknown;
    unknown.dataSizeGiven = true;
    unknown.dataSize = 0xFFFFFFFFu;
    const fs::path streamed = dir.path() / "streamed.wav";
    writeBytes(streamed, wavFile(pcm16(400), unknown));
    EXPECT_EQ(readAudio(streamed.string()).samples.size(), 400u);

    // 0 with samples after it: the header announces none, and libsndfile would read none.
    WavLayout zero;
    zero.dataSizeGiven = true;
    zero.dataSize = 0;
    const fs::path unfinished = dir.path() / "unfinished.wav";
    writeBytes(unfinished, wavFile(pcm16(400), zero));
    EXPECT_TRUE(throwsErrorWith([&] { readAudio(unfinished.string()); },
                                {unfinished.string(), "announces no samples", "800 bytes follow"}));
}

TEST(SpeechAudio, Rf64AndSphereFilesAreCheckedAgainstTheirHeaders) {
    ScratchDir dir("speech-audio");
    // RF64: the data size is in the ds64 chunk.
    const std::string samples = pcm16(1000);
    std::string fmt;
    putU16(fmt, 1);
    putU16(fmt, 1);
    putU32(fmt, 16000);
    putU32(fmt, 32000);
    putU16(fmt, 2);
    putU16(fmt, 16);
    std::string body = "WAVEds64";
    putU32(body, 28);
    putU64(body, 0); // RIFF size, filled below
    putU64(body, samples.size());
    putU64(body, 1000);
    putU32(body, 0); // no table
    body += "fmt ";
    putU32(body, static_cast<std::uint32_t>(fmt.size()));
    body += fmt + "data";
    putU32(body, 0xFFFFFFFFu);
    body += samples;
    std::string rf64 = "RF64";
    putU32(rf64, 0xFFFFFFFFu);
    rf64 += body;
    for (int i = 0; i < 8; ++i) rf64[20 + i] = static_cast<char>(((rf64.size() - 8) >> (8 * i)) & 0xFF);
    EXPECT_TRUE(readsWholeAndRefusesItCut(dir, "whole.rf64.wav", rf64, 1000, rf64.size() - 1000,
                                          "1000 of the 2000 bytes", "500 of the 1000 frames"));

    // NIST SPHERE (TIMIT): sample_count samples of sample_n_bytes after a 1024-byte header.
    std::string header = "NIST_1A\n   1024\nsample_count -i 16000\nsample_n_bytes -i 2\nchannel_count -i 1\n"
                         "sample_byte_format -s2 01\nsample_rate -i 16000\nsample_coding -s3 pcm\nend_head\n";
    header.resize(1024, ' ');
    const std::string sphere = header + pcm16(16000);
    EXPECT_TRUE(readsWholeAndRefusesItCut(dir, "SX1.WAV", sphere, 16000, 5000, "3976 of the 32000 bytes",
                                          "1988 of the 16000 frames"));
}

// libsndfile reads AIFF, AU and Wave64 files cut short as shorter files too (its log: "SSND :
// 32008 (should be 954)", "Data Size : 32000 (should be 976)"), so their headers are checked as
// WAV's are.
TEST(SpeechAudio, TruncatedAiffAuAndW64FilesAreRefusedWithTheAnnouncedAndPresentLengths) {
    ScratchDir dir("speech-audio");
    // AIFF: the SSND chunk's size, after an odd-sized chunk and its pad byte.
    AiffLayout named;
    named.beforeData = std::string("NAME") + std::string("\x00\x00\x00\x03", 4) + "abc" + std::string(1, '\0');
    const std::string aiff = aiffFile(pcm16BigEndian(1000), named);
    EXPECT_TRUE(readsWholeAndRefusesItCut(dir, "named.aiff", aiff, 1000, aiff.size() - 1000, "1000 of the 2000 bytes",
                                          "500 of the 1000 frames"));

    // AIFF: COMM's frame count, where the SSND size was rewritten to what is left.
    AiffLayout moreFrames;
    moreFrames.framesGiven = true;
    moreFrames.frames = 1000;
    const fs::path commLonger = dir.path() / "comm_longer.aiff";
    writeBytes(commLonger, aiffFile(pcm16BigEndian(600), moreFrames));
    EXPECT_TRUE(throwsErrorWith([&] { readAudio(commLonger.string()); },
                                {commLonger.string(), "1200 of the 2000 bytes", "600 of the 1000 frames"}));

    // AIFF-C with 32-bit float samples (libsndfile writes float AIFF so): frames of 4 bytes.
    AiffLayout floats;
    floats.compression = "fl32";
    floats.sampleSize = 32;
    const std::string aifc = aiffFile(floatSamplesBigEndian(std::vector<float>(400, 0.25f)), floats);
    EXPECT_TRUE(readsWholeAndRefusesItCut(dir, "float.aifc", aifc, 400, aifc.size() - 399, "1201 of the 1600 bytes",
                                          "300 of the 400 frames"));

    // AU: the header's data size.
    const std::string au = auFile(pcm16BigEndian(1000), 2000);
    EXPECT_TRUE(readsWholeAndRefusesItCut(dir, "sized.au", au, 1000, 24 + 976, "976 of the 2000 bytes",
                                          "488 of the 1000 frames"));
    // 0xFFFFFFFF is AU's "unknown size": the samples run to the end of the file, as libsndfile reads them.
    const fs::path auStreamed = dir.path() / "streamed.au";
    writeBytes(auStreamed, auFile(pcm16BigEndian(700), 0xFFFFFFFFu));
    EXPECT_EQ(readAudio(auStreamed.string()).samples.size(), 700u);

    // Wave64: the data chunk's 64-bit size, less its 24-byte header.
    const std::string w64 = w64File(pcm16(1000));
    EXPECT_TRUE(readsWholeAndRefusesItCut(dir, "pcm.w64", w64, 1000, w64.size() - 1104, "896 of the 2000 bytes",
                                          "448 of the 1000 frames"));
}

// ---- float samples that are not numbers -----------------------------------------------------

TEST(SpeechAudio, NanAndInfiniteFloatSamplesAreRefusedNamingTheFirst) {
    ScratchDir dir("speech-audio");
    WavLayout floats;
    floats.formatTag = 3;
    floats.bitsPerSample = 32;
    std::vector<float> samples(1600, 0.1f);
    const fs::path good = dir.path() / "good.wav";
    writeBytes(good, wavFile(floatSamples(samples), floats));
    EXPECT_EQ(readAudio(good.string()).samples.size(), 1600u);

    samples[700] = std::numeric_limits<float>::infinity();
    samples[1200] = std::numeric_limits<float>::quiet_NaN();
    const fs::path inf = dir.path() / "inf.wav";
    writeBytes(inf, wavFile(floatSamples(samples), floats));
    EXPECT_TRUE(throwsErrorWith([&] { readAudio(inf.string()); }, {inf.string(), "sample 700", "inf", "finite"}));

    samples[700] = 0.1f;
    const fs::path nan = dir.path() / "nan.wav";
    writeBytes(nan, wavFile(floatSamples(samples), floats));
    EXPECT_TRUE(throwsErrorWith([&] { readAudio(nan.string()); }, {nan.string(), "sample 1200", "NaN"}));

    // Stereo: the frame and the channel.
    WavLayout stereo = floats;
    stereo.channels = 2;
    std::vector<float> pairs(200, -0.1f);
    pairs[2 * 40 + 1] = -std::numeric_limits<float>::infinity();
    const fs::path both = dir.path() / "stereo.wav";
    writeBytes(both, wavFile(floatSamples(pairs), stereo));
    EXPECT_TRUE(throwsErrorWith([&] { readAudio(both.string()); }, {both.string(), "sample 40", "channel 2 of 2", "-inf"}));
}

// ---- float samples at another scale ---------------------------------------------------------

TEST(SpeechAudio, FloatSamplesFarOutsideMinusOneToOneAreRefusedAsMisScaled) {
    ScratchDir dir("speech-audio");
    WavLayout floats;
    floats.formatTag = 3;
    floats.bitsPerSample = 32;
    // Overs from clipping, as real float recordings have them, are read as they are.
    std::vector<float> samples(1600, 0.1f);
    samples[10] = 1.0001f;
    samples[11] = 1.2f;
    samples[12] = -1.9f;
    samples[13] = 2.0f;
    const fs::path overs = dir.path() / "overs.wav";
    writeBytes(overs, wavFile(floatSamples(samples), floats));
    const AudioClip clip = readAudio(overs.string());
    ASSERT_EQ(clip.samples.size(), 1600u);
    EXPECT_FLOAT_EQ(clip.samples[11], 1.2f);
    EXPECT_FLOAT_EQ(clip.samples[13], 2.0f);

    // 16-bit values stored as float (32767.0): refused at the first one beyond 2.
    std::vector<float> integers(1600);
    for (std::size_t i = 0; i < integers.size(); ++i)
        integers[i] = std::round(3000.0f * std::sin(0.05f * static_cast<float>(i)));
    integers[0] = 0.0f;
    integers[1] = 1.0f;
    integers[2] = -2.0f;
    integers[3] = 32767.0f;
    const fs::path scaled = dir.path() / "integer_scaled.wav";
    writeBytes(scaled, wavFile(floatSamples(integers), floats));
    EXPECT_TRUE(throwsErrorWith([&] { readAudio(scaled.string()); },
                                {scaled.string(), "sample 3 ", "32767", "expected float audio in [-1, 1]"}));

    // Stereo: the frame and the channel; the sign is kept.
    WavLayout stereo = floats;
    stereo.channels = 2;
    std::vector<float> pairs(200, 0.5f);
    pairs[2 * 60 + 1] = -2.5f;
    const fs::path both = dir.path() / "stereo.wav";
    writeBytes(both, wavFile(floatSamples(pairs), stereo));
    EXPECT_TRUE(throwsErrorWith([&] { readAudio(both.string()); },
                                {both.string(), "sample 60", "channel 2 of 2", "-2.5", "[-1, 1]"}));
}

} // namespace
} // namespace losslab
