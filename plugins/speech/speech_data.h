#pragma once
// A speech corpus as the core trains on it (plugin API 4). Every utterance is a row:
//   features [N, 2] int64: (first frame, frame count) in the bank of frames, a loader tensor
//            (DataBundle::tensors["frames"], [F, D] float16/float32, kept on the CPU);
//   lengths  [N] int64: frame counts;
//   labels   recognition: [N, L + 1] int64, the unit ids of the transcript then <eos>, padded
//            with kIgnoreLabel; classification (Speech Commands): [N] int64.
// tensors also hold the training split's global mean and standard deviation per feature
// ("cmvn_mean", "cmvn_std") and the output units' names ("units", UTF-8 joined by '\n').
// SpeechTransform pads a batch's frames to [B, T, D] float on the training device, normalises
// them with the training statistics and, when training, applies SpecAugment.
#include <cstdint>
#include <string>
#include <vector>

#include "losslab/tasks/task.h"
#include "speech_corpus.h"
#include "speech_features.h"
#include "unit_set.h"

namespace losslab::speech {

struct SpeechSplits {
    std::vector<Utterance> train, val, test;
    std::string source; // where they were read, for the run record
};

// The bundle of `splits`: features computed (or read from the cache in `cacheDir`), labels
// encoded with `units` (nullptr: classification, each utterance's text is one of
// `classNames`). Errors name the file: an empty transcript, a label not among the classes.
DataBundle makeSpeechBundle(const SpeechSplits& splits, const FeatureSettings& settings, const UnitSet* units,
                            const std::vector<std::string>& classNames, const std::string& cacheDir);

// "units" of a bundle back as names.
std::vector<std::string> unitNamesOf(const DataBundle& data);

struct SpecAugmentOptions {
    bool enabled = false;
    std::int64_t freqMasks = 2, freqWidth = 30; // widths drawn from [0, width]
    std::int64_t timeMasks = 2, timeWidth = 40;
};

class SpeechTransform final : public InputTransform {
public:
    SpeechTransform(const DataBundle& data, SpecAugmentOptions specAugment, const torch::Device& device);
    ModelInput apply(const TensorSplit& batch, bool training, at::Generator& gen) const override;
    // Utterances of similar length together (bucketedBatches): less padding.
    std::vector<torch::Tensor> batchOrder(const TensorSplit& train, std::int64_t batchSize,
                                          at::Generator& gen) const override;
    // The features are row offsets into the frames, which stay on the CPU: apply() reads
    // them without waiting for the device.
    bool featuresOnHost() const override { return true; }

private:
    torch::Tensor m_frames; // [F, D], CPU
    torch::Tensor m_mean, m_std;
    SpecAugmentOptions m_specAugment;
    torch::Device m_device;
};

// SpecAugment's frequency and time masks (Park et al. 2019, without time warping) on
// normalised features [B, T, D] with `lengths` [B]: masked cells become 0, the training mean.
// Every draw from `gen` (CPU). In place; returns `features`.
torch::Tensor specAugment(torch::Tensor features, const torch::Tensor& lengths, const SpecAugmentOptions& options,
                          at::Generator& gen);

} // namespace losslab::speech
