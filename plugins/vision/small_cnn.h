#pragma once
// A small convolutional network for 28x28 grey images:
// conv 32 3x3 - ReLU - max-pool 2 - conv 64 3x3 - ReLU - max-pool 2 - fc 128 - ReLU
// (- dropout) - fc to the class scores. The convolutions keep the size (padding 1), so a
// 28x28 image reaches the first fc layer as 64 x 7 x 7.
#include <cstdint>

#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "losslab/tasks/task.h"

namespace losslab::vision {

struct SmallCnnImpl : ClassifierModule {
    SmallCnnImpl(std::int64_t inChannels, std::int64_t imageSize, std::int64_t numClasses, double dropout,
                 at::Generator& init);

    // features [B, inChannels, imageSize, imageSize] -> scores [B, numClasses].
    torch::Tensor forward(const ModelInput& input) override;

private:
    torch::nn::Conv2d m_conv1{nullptr};
    torch::nn::Conv2d m_conv2{nullptr};
    torch::nn::Linear m_fc1{nullptr};
    torch::nn::Linear m_fc2{nullptr};
    double m_dropout;
};

} // namespace losslab::vision
