#include "losslab/data/audio/fbank.h"

#include <cmath>
#include <string>

#include <torch/fft.h>
#include <torch/nn/functional/padding.h>

#include "losslab/error.h"

namespace losslab {

namespace {

torch::Tensor melScale(const torch::Tensor& hz) { return 1127.0 * torch::log(1.0 + hz / 700.0); }

double melScale(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }

std::int64_t nextPowerOfTwo(std::int64_t n) {
    std::int64_t p = 1;
    while (p < n) p *= 2;
    return p;
}

// Triangular filters [bins, padded / 2 + 1], the Nyquist column zero (as Kaldi's).
torch::Tensor melBanks(const FbankOptions& o, std::int64_t padded) {
    const double nyquist = 0.5 * o.sampleRate;
    const double high = o.highFreq <= 0 ? nyquist + o.highFreq : o.highFreq;
    if (o.lowFreq < 0 || o.lowFreq >= nyquist || high <= o.lowFreq || high > nyquist)
        throw Error("fbank: expected 0 <= low frequency < high frequency <= " + std::to_string(nyquist) +
                    " Hz, got " + std::to_string(o.lowFreq) + " and " + std::to_string(high));
    const std::int64_t fftBins = padded / 2;
    const double melLow = melScale(o.lowFreq), melHigh = melScale(high);
    const double delta = (melHigh - melLow) / static_cast<double>(o.numMelBins + 1);
    const torch::Tensor bin = torch::arange(o.numMelBins, torch::kFloat).unsqueeze(1);
    const torch::Tensor left = melLow + bin * delta;
    const torch::Tensor center = melLow + (bin + 1.0) * delta;
    const torch::Tensor right = melLow + (bin + 2.0) * delta;
    const torch::Tensor mel = melScale(torch::arange(fftBins, torch::kFloat) * (o.sampleRate / static_cast<double>(padded))).unsqueeze(0);
    const torch::Tensor up = (mel - left) / (center - left);
    const torch::Tensor down = (right - mel) / (right - center);
    const torch::Tensor banks = torch::clamp_min(torch::minimum(up, down), 0.0);
    return torch::constant_pad_nd(banks, {0, 1}, 0.0);
}

} // namespace

torch::Tensor fbank(const std::vector<float>& samples, const FbankOptions& o) {
    if (o.sampleRate <= 0) throw Error("fbank: the sample rate must be > 0");
    if (o.numMelBins < 3) throw Error("fbank: expected at least 3 mel bins, got " + std::to_string(o.numMelBins));
    const auto length = static_cast<std::int64_t>(o.sampleRate * o.frameLengthMs * 0.001);
    const auto shift = static_cast<std::int64_t>(o.sampleRate * o.frameShiftMs * 0.001);
    if (length < 2 || shift < 1) throw Error("fbank: the frame length and shift are too short for the sample rate");
    const auto n = static_cast<std::int64_t>(samples.size());
    if (n < length) return torch::zeros({0, o.numMelBins}, torch::kFloat);
    const std::int64_t frames = 1 + (n - length) / shift;
    const torch::Tensor wave = torch::from_blob(const_cast<float*>(samples.data()), {n}, torch::kFloat) * o.sampleScale;
    torch::Tensor x = wave.as_strided({frames, length}, {shift, 1}).clone();
    x -= x.mean(1, /*keepdim=*/true);
    if (o.preemphasis != 0) {
        const torch::Tensor previous = torch::cat({x.narrow(1, 0, 1), x.narrow(1, 0, length - 1)}, 1);
        x = x - o.preemphasis * previous;
    }
    const torch::Tensor window =
        torch::hann_window(length, /*periodic=*/false, torch::TensorOptions().dtype(torch::kFloat)).pow(0.85);
    x = x * window;
    const std::int64_t padded = nextPowerOfTwo(length);
    x = torch::constant_pad_nd(x, {0, padded - length}, 0.0);
    const torch::Tensor power = torch::fft::rfft(x).abs().pow(2.0);
    const torch::Tensor energies = torch::matmul(power, melBanks(o, padded).t());
    return torch::clamp_min(energies, std::numeric_limits<float>::epsilon()).log();
}

torch::Tensor addDeltas(const torch::Tensor& features, int order, int window) {
    if (features.dim() != 2) throw Error("addDeltas: expected features [frames, dims]");
    if (order < 0 || window < 1) throw Error("addDeltas: expected order >= 0 and window >= 1");
    const double denominator = window * (window + 1) * (2.0 * window + 1) / 3.0;
    std::vector<torch::Tensor> parts = {features};
    torch::Tensor current = features;
    const std::int64_t frames = features.size(0);
    for (int k = 0; k < order; ++k) {
        torch::Tensor delta = torch::zeros_like(current);
        if (frames > 0) {
            for (int m = 1; m <= window; ++m) {
                const torch::Tensor index = torch::arange(frames, torch::kLong);
                const torch::Tensor ahead = current.index_select(0, torch::clamp(index + m, 0, frames - 1));
                const torch::Tensor behind = current.index_select(0, torch::clamp(index - m, 0, frames - 1));
                delta += static_cast<double>(m) * (ahead - behind);
            }
            delta /= denominator;
        }
        parts.push_back(delta);
        current = delta;
    }
    return torch::cat(parts, 1);
}

} // namespace losslab
