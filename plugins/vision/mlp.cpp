#include "mlp.h"

#include <string>

#include "losslab/error.h"
#include "losslab/tasks/model_random.h"

namespace losslab::vision {

MlpImpl::MlpImpl(std::int64_t inputSize, const std::vector<std::int64_t>& hidden,
                 std::int64_t numClasses, double dropout, at::Generator& init)
    : m_dropout(dropout) {
    std::int64_t width = inputSize;
    for (std::size_t i = 0; i < hidden.size(); ++i) {
        if (hidden[i] < 1)
            throw Error("model.hidden: every width must be at least 1, got " + std::to_string(hidden[i]));
        m_layers.push_back(register_module("fc" + std::to_string(i + 1), torch::nn::Linear(width, hidden[i])));
        width = hidden[i];
    }
    m_layers.push_back(register_module("out", torch::nn::Linear(width, numClasses)));
    initLikePyTorch(*this, init);
}

torch::Tensor MlpImpl::forward(const ModelInput& input) {
    torch::Tensor x = input.features.flatten(1);
    for (std::size_t i = 0; i + 1 < m_layers.size(); ++i) {
        x = at::relu(m_layers[i]->forward(x));
        if (m_dropout > 0) x = dropout(x, m_dropout, is_training(), input.generator);
    }
    return m_layers.back()->forward(x);
}

} // namespace losslab::vision
