#include "small_cnn.h"

#include <string>

#include "losslab/error.h"
#include "losslab/tasks/model_random.h"

namespace losslab::vision {

SmallCnnImpl::SmallCnnImpl(std::int64_t inChannels, std::int64_t imageSize, std::int64_t numClasses,
                           double dropout, at::Generator& init)
    : m_dropout(dropout) {
    if (imageSize < 4)
        throw Error("small CNN: images must be at least 4x4 pixels, got " + std::to_string(imageSize));
    const std::int64_t pooled = imageSize / 2 / 2; // two 2x2 max-pools, floor like PyTorch
    m_conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(inChannels, 32, 3).padding(1)));
    m_conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).padding(1)));
    m_fc1 = register_module("fc1", torch::nn::Linear(64 * pooled * pooled, 128));
    m_fc2 = register_module("fc2", torch::nn::Linear(128, numClasses));
    initLikePyTorch(*this, init);
}

torch::Tensor SmallCnnImpl::forward(const ModelInput& input) {
    torch::Tensor x = at::max_pool2d(at::relu(m_conv1->forward(input.features)), {2, 2});
    x = at::max_pool2d(at::relu(m_conv2->forward(x)), {2, 2});
    x = at::relu(m_fc1->forward(x.flatten(1)));
    if (m_dropout > 0) x = dropout(x, m_dropout, is_training(), input.generator);
    return m_fc2->forward(x);
}

} // namespace losslab::vision
