#include "speech_features.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <unistd.h>
#include <mutex>
#include <system_error>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/serialize.h>

#include "losslab/data/audio/audio_file.h"
#include "losslab/error.h"
#include "losslab/training/archive_file.h"
#include "losslab/training/compute_setup.h"

namespace losslab::speech {
namespace {

namespace fs = std::filesystem;

// Kaldi's extract-segments accepts a segment ending this far past the recording's end.
constexpr double kMaxOvershootSeconds = 0.5;

std::uint64_t fnv1a(const std::string& text, std::uint64_t seed) {
    std::uint64_t h = seed;
    for (const unsigned char c : text) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

std::string hex(std::uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// What the bank is computed from, one line per utterance: file, size, time, segment.
std::string cacheKey(const std::vector<Utterance>& utterances, const FeatureSettings& settings) {
    std::string key = "losslab speech features v1\n" + settings.describe() + "\n";
    for (const Utterance& u : utterances) {
        std::error_code ec;
        const auto size = fs::file_size(u.audio, ec);
        const auto time = fs::last_write_time(u.audio, ec);
        key += u.audio + "\t" + std::to_string(ec ? 0 : size) + "\t" +
               std::to_string(ec ? 0 : time.time_since_epoch().count()) + "\t" + std::to_string(u.start) + "\t" +
               std::to_string(u.end) + "\n";
    }
    return key;
}

torch::Tensor textTensor(const std::string& text) {
    return torch::from_blob(const_cast<char*>(text.data()), {static_cast<std::int64_t>(text.size())}, torch::kUInt8).clone();
}

std::string tensorText(const torch::Tensor& t) {
    const torch::Tensor c = t.contiguous();
    return std::string(reinterpret_cast<const char*>(c.data_ptr<std::uint8_t>()), static_cast<std::size_t>(c.numel()));
}

bool loadCache(const std::string& file, const std::string& key, std::size_t count, FeatureBank& bank) {
    std::error_code ec;
    if (!fs::exists(file, ec)) return false;
    try {
        torch::serialize::InputArchive archive;
        archive.load_from(file);
        torch::Tensor storedKey, frames, offsets, counts;
        archive.read("key", storedKey);
        if (tensorText(storedKey) != key) return false;
        archive.read("frames", frames);
        archive.read("offsets", offsets);
        archive.read("counts", counts);
        if (offsets.numel() != static_cast<std::int64_t>(count) || counts.numel() != offsets.numel()) return false;
        bank.frames = frames;
        const auto* o = offsets.data_ptr<std::int64_t>();
        const auto* c = counts.data_ptr<std::int64_t>();
        bank.offsets.assign(o, o + count);
        bank.counts.assign(c, c + count);
        return true;
    } catch (const std::exception&) {
        return false; // damaged: computed again and replaced
    }
}

void saveCache(const std::string& file, const std::string& key, const FeatureBank& bank) {
    std::error_code ec;
    fs::create_directories(fs::path(file).parent_path(), ec);
    try {
        torch::serialize::OutputArchive archive;
        archive.write("key", textTensor(key));
        archive.write("frames", bank.frames);
        archive.write("offsets", torch::tensor(bank.offsets, torch::kLong));
        archive.write("counts", torch::tensor(bank.counts, torch::kLong));
        // Not LibTorch's own file writer: on a full disk it throws from a destructor, which
        // ends the process; here a cache that cannot be written costs only time.
        saveArchiveAtomically(archive, file, ".tmp" + std::to_string(::getpid()));
    } catch (const std::exception&) {
    }
}

// The samples of one utterance: its segment of the file, padded to minSeconds.
std::vector<float> utteranceSamples(const Utterance& u, const FeatureSettings& settings) {
    AudioClip clip = readAudio(u.audio);
    requireSampleRate(clip, settings.fbank.sampleRate);
    std::vector<float> samples = std::move(clip.samples);
    if (u.start > 0 || u.end >= 0) {
        const auto rate = static_cast<double>(clip.sampleRate);
        const double fileSeconds = static_cast<double>(samples.size()) / rate;
        const double end = u.end < 0 ? fileSeconds : u.end;
        if (u.start < 0 || end <= u.start || u.start >= fileSeconds || end > fileSeconds + kMaxOvershootSeconds)
            throw Error(u.audio + ": utterance " + u.id + " is the segment " + std::to_string(u.start) + " s to " +
                        std::to_string(end) + " s, but the recording lasts " + std::to_string(fileSeconds) + " s");
        const auto first = static_cast<std::size_t>(std::llround(u.start * rate));
        const auto last = std::min(samples.size(), static_cast<std::size_t>(std::llround(end * rate)));
        samples = std::vector<float>(samples.begin() + static_cast<std::ptrdiff_t>(first),
                                     samples.begin() + static_cast<std::ptrdiff_t>(last));
    }
    const auto minSamples = static_cast<std::size_t>(std::llround(settings.minSeconds * settings.fbank.sampleRate));
    if (samples.size() < minSamples) samples.resize(minSamples, 0.0f);
    return samples;
}

} // namespace

std::string FeatureSettings::describe() const {
    char buf[256];
    std::snprintf(buf, sizeof buf, "fbank rate=%d len=%.6g shift=%.6g bins=%lld preemph=%.6g low=%.6g high=%.6g scale=%.6g deltas=%d half=%d min=%.6g",
                  fbank.sampleRate, fbank.frameLengthMs, fbank.frameShiftMs, static_cast<long long>(fbank.numMelBins),
                  fbank.preemphasis, fbank.lowFreq, fbank.highFreq, fbank.sampleScale, deltaOrder, half ? 1 : 0, minSeconds);
    return buf;
}

torch::Tensor FeatureBank::utterance(std::size_t i) const {
    return frames.narrow(0, offsets.at(i), counts.at(i)).to(torch::kFloat);
}

FeatureBank computeFeatures(const std::vector<Utterance>& utterances, const FeatureSettings& settings,
                            const std::string& cacheDir, int threads, FeatureProgress* progress) {
    const std::string key = cacheKey(utterances, settings);
    const std::string file = cacheDir.empty() ? std::string()
                                              : (fs::path(cacheDir) / ("speech-features-" + hex(fnv1a(key, 0xcbf29ce484222325ull)) +
                                                                       hex(fnv1a(key, 0x84222325cbf29ce4ull)) + ".pt")).string();
    FeatureBank bank;
    if (progress) progress->cacheFile = file;
    if (!file.empty() && loadCache(file, key, utterances.size(), bank)) {
        if (progress) progress->fromCache = true;
        return bank;
    }

    std::vector<torch::Tensor> parts(utterances.size());
    std::atomic<std::size_t> next{0};
    std::mutex errorMutex;
    std::exception_ptr error;
    auto work = [&] {
        at::init_num_threads();
        try {
            for (std::size_t i = next++; i < utterances.size(); i = next++) {
                if (error) return;
                const Utterance& u = utterances[i];
                torch::Tensor f = fbank(utteranceSamples(u, settings), settings.fbank);
                if (f.size(0) == 0) throw Error(u.audio + ": utterance " + u.id + " is shorter than one frame (" +
                                                std::to_string(settings.fbank.frameLengthMs) + " ms)");
                if (settings.deltaOrder > 0) f = addDeltas(f, settings.deltaOrder);
                parts[i] = settings.half ? f.to(torch::kHalf) : f;
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(errorMutex);
            if (!error) error = std::current_exception();
        }
    };
    const auto cores = static_cast<unsigned>(usableCores());
    const auto count = static_cast<unsigned>(std::clamp<std::size_t>(utterances.size(), 1, threads > 0 ? threads : cores));
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < count; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);

    std::int64_t offset = 0;
    for (const torch::Tensor& p : parts) {
        bank.offsets.push_back(offset);
        bank.counts.push_back(p.size(0));
        offset += p.size(0);
    }
    bank.frames = parts.empty() ? torch::zeros({0, settings.fbank.numMelBins * (settings.deltaOrder + 1)})
                                : torch::cat(parts, 0);
    if (progress) progress->seconds = static_cast<double>(offset) * settings.fbank.frameShiftMs * 0.001;
    if (!file.empty()) saveCache(file, key, bank);
    return bank;
}

std::pair<torch::Tensor, torch::Tensor> globalMeanStd(const FeatureBank& bank) {
    const std::int64_t d = bank.dim();
    if (bank.frames.size(0) == 0) return {torch::zeros({d}), torch::ones({d})};
    torch::Tensor sum = torch::zeros({d}, torch::kDouble), sq = torch::zeros({d}, torch::kDouble);
    constexpr std::int64_t kChunk = 1 << 16; // rows at a time: no double copy of a whole bank
    for (std::int64_t start = 0; start < bank.frames.size(0); start += kChunk) {
        const torch::Tensor x = bank.frames.narrow(0, start, std::min(kChunk, bank.frames.size(0) - start)).to(torch::kDouble);
        sum += x.sum(0);
        sq += x.pow(2).sum(0);
    }
    const double n = static_cast<double>(bank.frames.size(0));
    const torch::Tensor mean = sum / n;
    const torch::Tensor var = (sq / n - mean.pow(2)).clamp_min(0);
    return {mean.to(torch::kFloat), var.sqrt().clamp_min(1e-5).to(torch::kFloat)};
}

} // namespace losslab::speech
