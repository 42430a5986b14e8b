#pragma once
// Features of a speech corpus, computed once and kept: Kaldi-compatible log-mel filterbanks
// (losslab/data/audio/fbank.h) of every utterance, optionally with deltas, in one bank of
// frames [F, D] (float16 by default: half the memory of LibriSpeech-100's 11 GB in float32),
// each utterance a range of rows. A bank is cached as a file in the run database's cache folder
// (DataContext::cacheDir), named by a hash of what it was computed from: every utterance's
// audio file, its size and modification time, its segment, and the feature settings. A change to
// any of them computes the features again; a damaged cache file is computed again and replaced.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "losslab/data/audio/fbank.h"
#include "speech_corpus.h"

namespace losslab::speech {

struct FeatureSettings {
    FbankOptions fbank;     // 80 bins, 25 ms / 10 ms at the corpus's sample rate
    int deltaOrder = 0;     // 0: none; 1: + deltas; 2: + deltas and delta-deltas
    bool half = true;       // store as float16
    double minSeconds = 0;  // pad shorter clips with silence to this length (Speech Commands: 1 s)
    std::string describe() const; // the settings in the cache key
};

struct FeatureBank {
    torch::Tensor frames;               // [F, D] float16 or float32, CPU
    std::vector<std::int64_t> offsets;  // per utterance: first row in `frames`
    std::vector<std::int64_t> counts;   // per utterance: frames
    std::int64_t dim() const { return frames.defined() ? frames.size(1) : 0; }
    // The features of utterance i as float32 [counts[i], D].
    torch::Tensor utterance(std::size_t i) const;
};

struct FeatureProgress {
    bool fromCache = false;
    std::string cacheFile; // "" when nothing is cached
    double seconds = 0;    // audio seconds processed (computed or not)
};

// The bank of `utterances` in order. `cacheDir` "" computes without caching. Audio errors (a
// truncated FLAC, a wrong sample rate, a segment past the file's end) name the file. Runs on
// `threads` threads (0: every core this process may use, usableCores()).
FeatureBank computeFeatures(const std::vector<Utterance>& utterances, const FeatureSettings& settings,
                            const std::string& cacheDir, int threads = 0, FeatureProgress* progress = nullptr);

// Global mean and standard deviation per feature dimension over the frames of `bank` (float32
// [D] each; a standard deviation below 1e-5 counts as 1e-5): the training split's statistics for
// mean and variance normalisation, computed in double precision.
std::pair<torch::Tensor, torch::Tensor> globalMeanStd(const FeatureBank& bank);

} // namespace losslab::speech
