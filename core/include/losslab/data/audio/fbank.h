#pragma once
// Log-mel filterbank features computed as Kaldi's compute-fbank-feats does (and
// torchaudio.compliance.kaldi.fbank, which the tests compare against), so that users can
// check them against their own Kaldi or ESPnet pipelines: frames of frameLengthMs every
// frameShiftMs (snip_edges: only whole frames), each with its mean removed (remove_dc_offset),
// pre-emphasised (x[i] - 0.97 x[i-1], the first sample against itself), multiplied by the
// Povey window (a Hann window to the power 0.85), zero-padded to a power of two, its power
// spectrum |FFT|^2 mapped by triangular filters equally spaced on Kaldi's mel scale
// (1127 ln(1 + f / 700)) between lowFreq and highFreq, and the natural log of each energy
// (floored at float's epsilon). No dither: the features are a function of the audio alone.
//
// Samples are multiplied by sampleScale first: Kaldi reads 16-bit samples as numbers in
// [-32768, 32767], so the default 32768 gives Kaldi's values for audio in [-1, 1].
#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace losslab {

struct FbankOptions {
    int sampleRate = 16000;
    double frameLengthMs = 25.0;
    double frameShiftMs = 10.0;
    std::int64_t numMelBins = 80;
    double preemphasis = 0.97;
    double lowFreq = 20.0;
    double highFreq = 0.0; // <= 0: Nyquist + highFreq (Kaldi's convention)
    double sampleScale = 32768.0;
};

// [frames, numMelBins] float: frames = 1 + (samples - frame length) / frame shift, 0 when the
// audio is shorter than one frame. losslab::Error for options Kaldi would refuse.
torch::Tensor fbank(const std::vector<float>& samples, const FbankOptions& options = {});

// Features [T, F] with their deltas appended: [T, F * (order + 1)]. A delta is
// sum_{n=1..window} n (x[t+n] - x[t-n]) / (2 sum n^2), the first and last frames repeated
// beyond the edges (torchaudio.functional.compute_deltas with win_length 2 window + 1); order
// 2 appends the delta of the delta.
torch::Tensor addDeltas(const torch::Tensor& features, int order = 2, int window = 2);

} // namespace losslab
