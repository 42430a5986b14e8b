#pragma once
// The few places where LibTorch 1.13 (Debian 12) and 2.x (Debian 13's 2.6, PyTorch's wheels)
// differ for LossLab, in one header, so that no other file needs a version #if. Each function
// keeps the behaviour of 1.13 on every version, so a run gives the same numbers on both.

#include <torch/optim/optimizer.h>
#include <torch/version.h>

namespace losslab {

// Zeroes the gradients of the optimizer's parameters, keeping the gradient tensors.
// LibTorch 2.x's zero_grad() sets them to undefined instead (set_to_none = true); then a
// parameter that a step does not reach keeps no zero gradient, and SGD skips its momentum and
// weight decay update, which 1.13 applied. The bench's PyTorch side does the same
// (zero_grad(set_to_none=False)), so both sides time the same work.
inline void zeroGradients(torch::optim::Optimizer& optimizer) {
#if TORCH_VERSION_MAJOR >= 2
    optimizer.zero_grad(/*set_to_none=*/false);
#else
    optimizer.zero_grad();
#endif
}

} // namespace losslab
