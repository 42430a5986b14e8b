#include "encoder_transforms.h"

#include <torch/nn/functional/upsampling.h>

#include "vision_transforms.h"

namespace losslab::torchscript {

ModelInput BertInputTransform::apply(const TensorSplit& batch, bool, at::Generator&) const {
    ModelInput input;
    torch::Tensor ids = batch.features;
    torch::Tensor types = batch.features2;
    if (m_trim && batch.size() > 0) {
        const std::int64_t longest = batch.lengths.max().item<std::int64_t>();
        ids = ids.narrow(1, 0, longest);
        types = types.narrow(1, 0, longest);
    }
    input.features = ids.to(torch::kLong);
    input.features2 = types.to(torch::kLong);
    input.lengths = batch.lengths;
    return input;
}

EncoderImageTransform::EncoderImageTransform(const ImageOptions& options, const torch::Device& device)
    : m_options(options),
      m_mean(torch::tensor(options.mean, torch::kDouble).to(torch::kFloat).view({1, 3, 1, 1}).to(device)),
      m_std(torch::tensor(options.std, torch::kDouble).to(torch::kFloat).view({1, 3, 1, 1}).to(device)) {}

ModelInput EncoderImageTransform::apply(const TensorSplit& batch, bool training, at::Generator& gen) const {
    torch::Tensor x = batch.features.to(torch::kFloat).div_(255.0);
    if (x.size(1) == 1) x = x.expand({-1, 3, -1, -1}).contiguous();
    if (training && m_options.augment) x = vision::randomCropFlip(x, 4, gen);
    if (x.size(2) != m_options.size || x.size(3) != m_options.size)
        x = torch::nn::functional::interpolate(x, torch::nn::functional::InterpolateFuncOptions()
                                                      .size(std::vector<std::int64_t>{m_options.size, m_options.size})
                                                      .mode(torch::kBilinear)
                                                      .align_corners(false));
    ModelInput input;
    input.features = x.sub_(m_mean).div_(m_std);
    return input;
}

} // namespace losslab::torchscript
