#pragma once
// A small CNN for keyword classification (Speech Commands, Warden 2018) on log-mel input: a
// short stack of 3x3 convolution - batch norm - ReLU - 2x2 max-pooling blocks, global average
// pooling over time and frequency, dropout and one linear layer. This is the plain (residual-
// free) form of Tang & Lin (2018), "Deep residual learning for small-footprint keyword
// spotting" (3x3 convolutions, batch norm, global average pooling, a single linear classifier),
// sized to train on a CPU in seconds per epoch on a few hundred one-second clips; it is smaller
// than TensorFlow's speech_commands "conv" model (after Sainath & Parada 2015,
// cnn-trad-fpool3), whose fully connected layer holds most of its ~1M weights.
//
// Input: ModelInput::features [B, T, F] float (T ~ 101 frames of a 1 s clip, F mel bins; any
// T, F >= 1: pooling stops halving a side once it is 1). Clips are padded to a fixed length
// by the data, so lengths are not read. Output: raw scores [B, C].
// Initialisation: PyTorch's defaults (initLikePyTorch) from the run's generator; dropout masks
// from ModelInput::generator. Batch norm uses batch statistics in training and its running
// statistics in eval(). Not thread-safe.
#include <cstdint>
#include <vector>

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "losslab/tasks/task.h"

namespace losslab::speech {

struct CommandsCnnOptions {
    // Warden (2018)'s 12-way task: ten keywords, _silence_ and _unknown_.
    std::int64_t numClasses = 12;
    // Output channels of the blocks, one block each (three blocks: time and frequency / 8).
    std::vector<std::int64_t> channels = {16, 32, 64};
    // Before the linear layer.
    double dropout = 0.1;
};

class CommandsCnnImpl : public ClassifierModule {
public:
    // Throws losslab::Error naming the option when a size or rate is out of range.
    CommandsCnnImpl(const CommandsCnnOptions& options, at::Generator& init);
    torch::Tensor forward(const ModelInput& input) override;
    const CommandsCnnOptions& options() const { return m_options; }

private:
    CommandsCnnOptions m_options;
    std::vector<torch::nn::Conv2d> m_convs;
    std::vector<torch::nn::BatchNorm2d> m_norms;
    torch::nn::Linear m_out{nullptr};
};

TORCH_MODULE(CommandsCnn);

} // namespace losslab::speech
