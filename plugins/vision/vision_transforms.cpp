#include "vision_transforms.h"

#include <string>

#include "losslab/error.h"

namespace losslab::vision {

ChannelStats mnistStats() { return {{0.1307}, {0.3081}}; }
ChannelStats fashionMnistStats() { return {{0.2860}, {0.3530}}; }
ChannelStats cifar10Stats() { return {{0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616}}; }

ChannelStats imageNetStats() { return {{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}}; }

torch::Tensor channelConstant(const std::vector<double>& values, const torch::Device& device) {
    const auto channels = static_cast<std::int64_t>(values.size());
    return torch::tensor(values, torch::TensorOptions().dtype(torch::kDouble))
        .to(device, torch::kFloat)
        .view({1, channels, 1, 1});
}

namespace {

// uint8 [B, ...] -> float in [0, 1]. Always a new tensor, so the dataset is never modified.
torch::Tensor toUnitFloat(const torch::Tensor& features, const char* what) {
    if (!features.defined() || features.scalar_type() != torch::kByte)
        throw Error(std::string(what) + ": expected uint8 images, got " +
                    (features.defined() ? std::string(c10::toString(features.scalar_type())) : "no tensor"));
    return features.to(torch::kFloat).div_(255.0);
}

} // namespace

torch::Tensor cropFlip(const torch::Tensor& images, std::int64_t padding, const torch::Tensor& rowOffset,
                       const torch::Tensor& colOffset, const torch::Tensor& flip) {
    const std::int64_t batch = images.size(0);
    const std::int64_t channels = images.size(1);
    const std::int64_t height = images.size(2);
    const std::int64_t width = images.size(3);
    const std::int64_t paddedWidth = width + 2 * padding;
    const auto longOnDevice = torch::TensorOptions().dtype(torch::kLong).device(images.device());

    const torch::Tensor padded = padding > 0
        ? at::constant_pad_nd(images, {padding, padding, padding, padding}, 0)
        : images;
    const torch::Tensor rows = rowOffset.view({batch, 1}) + torch::arange(height, longOnDevice).view({1, height});
    const torch::Tensor cols = torch::arange(width, longOnDevice).view({1, width});
    const torch::Tensor sourceCols =
        colOffset.view({batch, 1}) + torch::where(flip.view({batch, 1}).to(torch::kBool), (width - 1) - cols, cols);
    // Flat index into each padded HxW plane, shared by all channels of an image.
    const torch::Tensor index = (rows.view({batch, height, 1}) * paddedWidth + sourceCols.view({batch, 1, width}))
                                    .view({batch, 1, height * width})
                                    .expand({batch, channels, height * width});
    return padded.reshape({batch, channels, -1}).gather(2, index).view({batch, channels, height, width});
}

torch::Tensor randomCropFlip(const torch::Tensor& images, std::int64_t padding, at::Generator& gen) {
    const std::int64_t batch = images.size(0);
    const auto cpuLong = torch::TensorOptions().dtype(torch::kLong);
    // Drawn on the CPU (the same offsets on every device), then one copy that does not wait
    // for the device (copyToDevice), instead of three that do.
    const torch::Tensor rowOffset = at::randint(0, 2 * padding + 1, {batch}, gen, cpuLong);
    const torch::Tensor colOffset = at::randint(0, 2 * padding + 1, {batch}, gen, cpuLong);
    const torch::Tensor flip = at::randint(0, 2, {batch}, gen, cpuLong);
    const torch::Tensor drawn = copyToDevice(torch::stack({rowOffset, colOffset, flip}), images.device());
    return cropFlip(images, padding, drawn[0], drawn[1], drawn[2]);
}

ImageTransform::ImageTransform(const ChannelStats& stats, bool augment, std::int64_t cropPadding,
                               const torch::Device& device)
    : m_mean(channelConstant(stats.mean, device)),
      m_std(channelConstant(stats.std, device)),
      m_augment(augment),
      m_cropPadding(cropPadding) {
    if (cropPadding < 0)
        throw Error("data.crop_padding: expected at least 0, got " + std::to_string(cropPadding));
}

ModelInput ImageTransform::apply(const TensorSplit& batch, bool training, at::Generator& gen) const {
    torch::Tensor x = toUnitFloat(batch.features, "image transform");
    if (x.dim() != 4 || x.size(1) != m_mean.size(1))
        throw Error("image transform: expected images [batch, " + std::to_string(m_mean.size(1)) +
                    ", height, width], got " + c10::str(x.sizes()));
    if (training && m_augment) x = randomCropFlip(x, m_cropPadding, gen);
    ModelInput input;
    input.features = x.sub_(m_mean).div_(m_std);
    return input;
}

PermutedSequenceTransform::PermutedSequenceTransform(const ChannelStats& stats, const torch::Tensor& permutation,
                                                     const torch::Device& device)
    : m_mean(stats.mean.at(0)), m_std(stats.std.at(0)), m_permutation(permutation.to(device, torch::kLong)) {}

ModelInput PermutedSequenceTransform::apply(const TensorSplit& batch, bool /*training*/,
                                            at::Generator& /*gen*/) const {
    const torch::Tensor& images = batch.features;
    const std::int64_t steps = m_permutation.size(0);
    if (!images.defined() || images.dim() < 2 || images[0].numel() != steps)
        throw Error("permuted sequence transform: expected images of " + std::to_string(steps) +
                    " pixels each, got " + (images.defined() ? c10::str(images.sizes()) : std::string("no tensor")));
    // Reorder the bytes first, then convert: one float tensor instead of two.
    const torch::Tensor ordered = images.reshape({images.size(0), steps}).index_select(1, m_permutation);
    ModelInput input;
    input.features = toUnitFloat(ordered, "permuted sequence transform").sub_(m_mean).div_(m_std).unsqueeze(1);
    return input;
}

} // namespace losslab::vision
