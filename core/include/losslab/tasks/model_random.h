#pragma once
// The run's randomness as a model sees it (plugin API 2). Every random draw of a run must come
// from generators that the run owns, so that a seeded run gives the same numbers alone or
// beside other runs in the same process: torch's global generators are shared by every
// thread, and whatever draws from them (nn::init, at::dropout, torch::manual_seed) makes a run
// depend on what else is training. The core hands a model two generators:
//   - at construction (Task::makeModel), a CPU generator for the initial weights;
//   - at every forward pass (ModelInput::generator), a generator on the training device for
//     dropout masks and any other in-model randomness.
// The functions below draw only from the generator they are given. Thread-safe: a generator
// belongs to one run, and one run trains on one thread.
#include <cstdint>
#include <mutex>

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/types.h>

namespace losslab {

// Re-initialises, from `gen`, every parameter of `model` and its sub-modules that has a
// PyTorch default initialisation, exactly as PyTorch's reset_parameters() draws it:
//   Linear, Conv1d/2d/3d, ConvTranspose1d/2d/3d: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//     (kaiming_uniform with a = sqrt(5), the default), fan_in = weight.size(1) * kernel size;
//   BatchNorm1d/2d/3d, LayerNorm, GroupNorm: weight 1, bias 0 (running statistics reset);
//   Embedding: N(0, 1);  LSTM, GRU, RNN: every parameter U(-1/sqrt(hidden), 1/sqrt(hidden)).
// Modules are visited in registration order (depth first), so the draws are reproducible.
// Parameters registered directly on a custom module are left alone: initialise them with the
// functions below. Constructing torch::nn layers still draws from the global generator; that
// draw is overwritten here and never reaches the run's numbers.
void initLikePyTorch(torch::nn::Module& model, at::Generator& gen);

// In-place initialisers drawing from `gen` (under NoGradGuard).
void uniformInit(torch::Tensor& tensor, double low, double high, at::Generator& gen);
void normalInit(torch::Tensor& tensor, double mean, double std, at::Generator& gen);
// He (Kaiming) normal for ReLU nets: N(0, 2 / fan), fan = fan_out (PyTorch's mode='fan_out')
// or fan_in.
void kaimingNormalInit(torch::Tensor& weight, bool fanOut, at::Generator& gen);
// fan_in and fan_out of a weight as PyTorch computes them: size(1) (resp. size(0)) times the
// number of kernel elements.
std::int64_t fanIn(const torch::Tensor& weight);
std::int64_t fanOut(const torch::Tensor& weight);

// Inverted dropout as at::dropout computes it (zero with probability p, scale the rest by
// 1 / (1 - p)), the mask drawn from `gen`, which must live on x's device. Identity when
// `training` is false or p == 0. Throws losslab::Error when a mask is needed and `gen` is
// undefined (a model called for training without the run's generator).
torch::Tensor dropout(const torch::Tensor& x, double p, bool training, const at::Generator& gen);

// One process-wide lock for code that cannot help drawing from torch's global generators:
// the layer constructors of torch::nn draw their (later overwritten) initial weights there,
// and code in a TorchScript file draws its dropout masks there. The core holds it while a
// task builds a model (Task::makeModel); a plugin that seeds a global generator from the
// run's own one and then runs such code holds it until that code has drawn (the TorchScript
// plugin does, for a training forward pass). Nothing else of a run may draw from them.
std::mutex& globalGeneratorMutex();

// A generator of the kind `device` needs (CPU, or that CUDA device's), seeded with `seed`,
// owned by the caller and independent of torch's global ones.
at::Generator makeGenerator(const torch::Device& device, std::uint64_t seed);

} // namespace losslab
