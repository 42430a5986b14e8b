#pragma once
// Multi-layer perceptron for small images: flatten, then Linear - ReLU (- dropout) per hidden
// width, then Linear to the class scores. An empty hidden list gives a linear classifier.
// Initialisation: PyTorch's defaults, drawn from the run's generator.
#include <cstdint>
#include <vector>

#include <torch/nn/modules/linear.h>

#include "losslab/tasks/task.h"

namespace losslab::vision {

struct MlpImpl : ClassifierModule {
    // inputSize: values per example after flattening (784 for 28x28 grey images).
    MlpImpl(std::int64_t inputSize, const std::vector<std::int64_t>& hidden, std::int64_t numClasses,
            double dropout, at::Generator& init);

    // features [B, ...] with inputSize values per example -> scores [B, numClasses].
    torch::Tensor forward(const ModelInput& input) override;

private:
    std::vector<torch::nn::Linear> m_layers; // hidden layers, then the output layer
    double m_dropout;
};

} // namespace losslab::vision
