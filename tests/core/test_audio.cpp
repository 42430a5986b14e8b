// The speech data layer: reading audio with libsndfile (losslab/data/audio/audio_file.h) and
// Kaldi-compatible log-mel filterbank features with deltas (losslab/data/audio/fbank.h),
// checked against torchaudio.compliance.kaldi.fbank from Debian's python3-torchaudio, run by
// the test (tests/core/fbank_ref.py).
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "error_matchers.h"
#include "losslab/data/audio/audio_file.h"
#include "losslab/data/audio/fbank.h"
#include "losslab/error.h"
#include "reference_python.h"
#include "scratch_dir.h"

namespace fs = std::filesystem;
using namespace losslab;
using losslab::fixtures::ScratchDir;

namespace {

// 1.3 s at 16 kHz: two tones, a sweep and deterministic pseudo-noise, within [-0.9, 0.9].
std::vector<float> testSignal(int rate = 16000, double seconds = 1.3) {
    std::vector<float> s(static_cast<std::size_t>(rate * seconds));
    std::uint32_t state = 12345;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const double t = static_cast<double>(i) / rate;
        state = state * 1664525u + 1013904223u;
        const double noise = (static_cast<double>(state >> 8) / 16777216.0 - 0.5) * 0.1;
        s[i] = static_cast<float>(0.3 * std::sin(2 * M_PI * 440 * t) + 0.2 * std::sin(2 * M_PI * 1700 * t) +
                                  0.2 * std::sin(2 * M_PI * (200 + 1500 * t) * t) + noise);
    }
    return s;
}

// A 16-bit PCM WAV file with `channels` interleaved channels, written by hand.
void writeWav(const fs::path& path, const std::vector<std::int16_t>& interleaved, int channels, int rate) {
    std::ofstream out(path, std::ios::binary);
    auto u32 = [&](std::uint32_t v) { for (int k = 0; k < 4; ++k) out.put(static_cast<char>((v >> (8 * k)) & 0xFF)); };
    auto u16 = [&](std::uint16_t v) { out.put(static_cast<char>(v & 0xFF)); out.put(static_cast<char>(v >> 8)); };
    const auto bytes = static_cast<std::uint32_t>(interleaved.size() * 2);
    out.write("RIFF", 4); u32(36 + bytes); out.write("WAVEfmt ", 8); u32(16); u16(1); u16(static_cast<std::uint16_t>(channels));
    u32(static_cast<std::uint32_t>(rate)); u32(static_cast<std::uint32_t>(rate * channels * 2));
    u16(static_cast<std::uint16_t>(channels * 2)); u16(16); out.write("data", 4); u32(bytes);
    for (const auto v : interleaved) u16(static_cast<std::uint16_t>(v));
}

} // namespace

TEST(AudioFile, WavAndFlacRoundTripAt16Bits) {
    ScratchDir dir("losslab-audio");
    const std::vector<float> signal = testSignal();
    for (const std::string name : {"a.wav", "a.flac"}) {
        writeAudio(dir.file(name), signal, 16000);
        const AudioClip clip = readAudio(dir.file(name));
        EXPECT_EQ(clip.sampleRate, 16000) << name;
        EXPECT_EQ(clip.channels, 1);
        ASSERT_EQ(clip.samples.size(), signal.size()) << name;
        float worst = 0;
        for (std::size_t i = 0; i < signal.size(); ++i) worst = std::max(worst, std::abs(clip.samples[i] - signal[i]));
        // 16-bit quantisation only: libsndfile writes floats scaled by 32767 and reads samples
        // back divided by 32768, so a value moves by at most |v| / 32768 + 1 / 32768.
        EXPECT_LE(worst, 2.0f / 32768.0f) << name;
    }
}

TEST(AudioFile, ChannelsAreAveragedToMono) {
    ScratchDir dir("losslab-audio");
    writeWav(dir.path() / "stereo.wav", {1000, 3000, -2000, 2000, 16384, -16384}, 2, 8000);
    const AudioClip clip = readAudio(dir.file("stereo.wav"));
    EXPECT_EQ(clip.channels, 2);
    EXPECT_EQ(clip.sampleRate, 8000);
    ASSERT_EQ(clip.samples.size(), 3u);
    EXPECT_FLOAT_EQ(clip.samples[0], 2000.0f / 32768.0f);
    EXPECT_FLOAT_EQ(clip.samples[1], 0.0f);
    EXPECT_FLOAT_EQ(clip.samples[2], 0.0f);
}

TEST(AudioFile, BadAudioIsRefusedNamingTheFile) {
    ScratchDir dir("losslab-audio");
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { readAudio(dir.file("none.flac")); }, {"none.flac: no such audio file"}));
    std::ofstream(dir.path() / "text.wav") << "this is not audio\n";
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { readAudio(dir.file("text.wav")); },
                                          {"text.wav: cannot read it as audio", "expected WAV, FLAC, NIST SPHERE, AIFF, AU, Wave64 or another format libsndfile reads"}));
    writeAudio(dir.file("cut.flac"), testSignal(), 16000);
    fs::resize_file(dir.path() / "cut.flac", fs::file_size(dir.path() / "cut.flac") / 2);
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { readAudio(dir.file("cut.flac")); }, {"cut.flac: the audio ends early"}));
    writeAudio(dir.file("narrow.wav"), testSignal(8000, 0.5), 8000);
    const AudioClip narrow = readAudio(dir.file("narrow.wav"));
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { requireSampleRate(narrow, 16000); },
                                          {"narrow.wav: sampled at 8000 Hz; the recipe needs 16000 Hz", "sox"}));
    EXPECT_NO_THROW(requireSampleRate(narrow, 8000));
    writeWav(dir.path() / "empty.wav", {}, 1, 16000);
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { readAudio(dir.file("empty.wav")); }, {"empty.wav", "no samples"}));
}

TEST(Fbank, MatchesTorchaudiosKaldiFbankWithDeltas) {
    ScratchDir dir("losslab-fbank");
    writeAudio(dir.file("speech.wav"), testSignal(), 16000);
    const AudioClip clip = readAudio(dir.file("speech.wav"));
    const torch::Tensor ours = addDeltas(fbank(clip.samples), 2, 2);
    // 1.3 s: 1 + (20800 - 400) / 160 = 128 frames of 80 bins, x3 with the deltas.
    ASSERT_EQ(ours.sizes(), (std::vector<std::int64_t>{128, 240}));
    const std::string out = fixtures::runReferencePython(std::string(LOSSLAB_SOURCE_DIR) + "/tests/core/fbank_ref.py '" + dir.file("speech.wav") + "' '" +
                                      dir.file("ref.f32") + "'");
    EXPECT_EQ(out, "128 240\n");
    std::ifstream in(dir.path() / "ref.f32", std::ios::binary);
    std::vector<float> ref(128 * 240);
    in.read(reinterpret_cast<char*>(ref.data()), static_cast<std::streamsize>(ref.size() * sizeof(float)));
    ASSERT_TRUE(in) << "the reference file is short";
    const torch::Tensor theirs = torch::from_blob(ref.data(), {128, 240}, torch::kFloat).clone();
    // Log energies of order 10-20: float rounding in a different order of operations only.
    const double logDiff = (ours.narrow(1, 0, 80) - theirs.narrow(1, 0, 80)).abs().max().item<double>();
    const double deltaDiff = (ours.narrow(1, 80, 160) - theirs.narrow(1, 80, 160)).abs().max().item<double>();
    EXPECT_LT(logDiff, 1e-3) << "log-mel energies";
    EXPECT_LT(deltaDiff, 1e-3) << "deltas";
    EXPECT_GT(ours.narrow(1, 0, 80).mean().item<double>(), 5.0) << "Kaldi's scale: samples x 32768";
}

TEST(Fbank, ShortAudioAndBadOptions) {
    EXPECT_EQ(fbank(std::vector<float>(399, 0.1f)).size(0), 0) << "shorter than one 400-sample frame";
    EXPECT_EQ(fbank(std::vector<float>(400, 0.1f)).size(0), 1);
    EXPECT_EQ(fbank(std::vector<float>(559, 0.1f)).size(0), 1);
    EXPECT_EQ(fbank(std::vector<float>(560, 0.1f)).size(0), 2);
    FbankOptions o;
    o.highFreq = 9000;
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { fbank(testSignal(), o); }, {"high frequency <= 8000"}));
    o = FbankOptions();
    o.numMelBins = 2;
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { fbank(testSignal(), o); }, {"at least 3 mel bins"}));
    // Silence floors at log(float epsilon) rather than -inf.
    const torch::Tensor silent = fbank(std::vector<float>(1600, 0.0f));
    EXPECT_NEAR(silent.max().item<double>(), std::log(std::numeric_limits<float>::epsilon()), 1e-4);
}

TEST(Fbank, DeltasOfALinearRampAreItsSlope) {
    const torch::Tensor ramp = torch::arange(10, torch::kFloat).unsqueeze(1) * 3.0; // [10, 1]
    const torch::Tensor d = addDeltas(ramp, 2, 2);
    ASSERT_EQ(d.sizes(), (std::vector<std::int64_t>{10, 3}));
    for (std::int64_t t = 2; t < 8; ++t) EXPECT_NEAR(d[t][1].item<double>(), 3.0, 1e-5) << t; // interior: the slope
    EXPECT_NEAR(d[0][1].item<double>(), (1 * (3 - 0) + 2 * (6 - 0)) / 10.0, 1e-5) << "edges repeat the first frame";
    EXPECT_NEAR(d[4][2].item<double>(), 0.0, 1e-5) << "a constant slope has no second delta";
}
