// losslab-bench-audio-features: the speech data layer's speed as a real-time factor (seconds of
// audio per second of work): reading a 16 kHz 16-bit WAV file with libsndfile
// (losslab/data/audio/audio_file.h) and computing 80-bin Kaldi filterbank features with
// deltas (losslab/data/audio/fbank.h), in utterances of --utterance seconds as a corpus would
// give them. bench/audio_features_bench.py does the same with torchaudio (load,
// compliance.kaldi.fbank, functional.compute_deltas); bench/run_audio_features_bench.sh writes
// the file, runs both and prints the ratio. It measures; it never passes or fails on time.
//   losslab-bench-audio-features --wav FILE [--utterance SECONDS] [--repeats N] [--threads N]
// Prints one line: "cpp <read s> <features s> <audio s>" (medians over the repeats).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/Parallel.h>

#include "losslab/data/audio/audio_file.h"
#include "losslab/data/audio/fbank.h"
#include "losslab/error.h"

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    std::string wav;
    double utterance = 10.0;
    int repeats = 3, threads = 1;
    try {
        for (int i = 1; i + 1 < argc; i += 2) {
            const std::string a = argv[i], v = argv[i + 1];
            if (a == "--wav") wav = v;
            else if (a == "--utterance") utterance = std::stod(v);
            else if (a == "--repeats") repeats = std::max(1, std::stoi(v));
            else if (a == "--threads") threads = std::max(1, std::stoi(v));
            else throw losslab::Error(a + ": unknown option");
        }
        if (wav.empty()) throw losslab::Error("--wav FILE is required");
        at::set_num_threads(threads);
        std::vector<double> reads, features;
        double audioSeconds = 0;
        for (int r = 0; r < repeats; ++r) {
            auto t0 = Clock::now();
            const losslab::AudioClip clip = losslab::readAudio(wav);
            reads.push_back(secondsSince(t0));
            audioSeconds = static_cast<double>(clip.samples.size()) / clip.sampleRate;
            const auto step = static_cast<std::size_t>(utterance * clip.sampleRate);
            t0 = Clock::now();
            std::int64_t frames = 0;
            for (std::size_t start = 0; start < clip.samples.size(); start += step) {
                const std::vector<float> piece(clip.samples.begin() + static_cast<std::ptrdiff_t>(start),
                                               clip.samples.begin() + static_cast<std::ptrdiff_t>(std::min(clip.samples.size(), start + step)));
                frames += losslab::addDeltas(losslab::fbank(piece)).size(0);
            }
            features.push_back(secondsSince(t0));
            if (frames <= 0) throw losslab::Error(wav + ": no frames");
        }
        std::cout << "cpp " << median(reads) << " " << median(features) << " " << audioSeconds << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "losslab-bench-audio-features: " << e.what() << "\n";
        return 2;
    }
}
