#pragma once
// Reading speech audio: WAV, FLAC and NIST SPHERE (TIMIT's .WAV files) through libsndfile
// (libsndfile1-dev, installed by scripts/install-deps.sh; optional at build time: a build
// without it has no audio reader). Every error is a losslab::Error naming the file.
#include <cstdint>
#include <string>
#include <vector>

namespace losslab {

struct AudioClip {
    // Mono samples in [-1, 1] (a float file's overs from clipping up to +-2 kept as they are); a
    // file with several channels is averaged over them.
    std::vector<float> samples;
    int sampleRate = 0; // Hz
    int channels = 1;   // in the file, before averaging
    std::string source; // the file
};

// The whole file. Errors: missing or unreadable file, a format libsndfile does not know,
// a file that ends before the samples its header announces (a truncated WAV, Wave64, AIFF, AU,
// SPHERE or FLAC; docs/audio-data.md), a sample that is NaN or infinite or beyond +-2 (float
// files; integer values stored as float), no samples.
AudioClip readAudio(const std::string& path);

// Error naming the file unless clip.sampleRate == rate: LossLab does not resample; the
// message says how to convert the corpus (sox).
void requireSampleRate(const AudioClip& clip, int rate);

// Writes 16-bit PCM WAV or FLAC (by the file name's extension, .wav or .flac) at `sampleRate`,
// clipping to [-1, 1]: for tests and generated corpora.
void writeAudio(const std::string& path, const std::vector<float>& samples, int sampleRate);

} // namespace losslab
