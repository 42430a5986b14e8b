#pragma once
// Input transforms of the TorchScript tasks. Stored features: token ids int32 [N, W] (W =
// model.max_length, or the longest example with model.padding: longest), token type ids
// int8 [N, W] (features2) and lengths int64 [N]; or images uint8 [N, C, H, W].
#include <cstdint>
#include <vector>

#include <torch/types.h>

#include "losslab/tasks/task.h"

namespace losslab::torchscript {

// int64 ids, token types and lengths on the device. With `trimToLongest` a batch is cut to
// its longest example (the positions after it are padding in every row).
class BertInputTransform : public InputTransform {
public:
    explicit BertInputTransform(bool trimToLongest) : m_trim(trimToLongest) {}
    ModelInput apply(const TensorSplit& batch, bool training, at::Generator& gen) const override;

private:
    bool m_trim;
};

struct ImageOptions {
    std::int64_t size = 224;       // S: images are resized (bilinear) to S x S
    std::vector<double> mean, std; // per channel, of the [0, 1]-scaled images
    bool augment = false;          // training: 4-pixel random crop and horizontal flip, before resizing
};

// uint8 images [B, C, H, W] to float [B, 3, S, S]: scaled to [0, 1], grey images repeated
// over three channels, augmented (training only, draws from `gen`), resized, normalised.
class EncoderImageTransform : public InputTransform {
public:
    EncoderImageTransform(const ImageOptions& options, const torch::Device& device);
    ModelInput apply(const TensorSplit& batch, bool training, at::Generator& gen) const override;

private:
    ImageOptions m_options;
    torch::Tensor m_mean, m_std; // [1, 3, 1, 1] on the device
};

} // namespace losslab::torchscript
