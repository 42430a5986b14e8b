// torch_compat.h: what LibTorch 1.13 and 2.x do differently is pinned to 1.13's behaviour.
#include <gtest/gtest.h>

#include <torch/optim/sgd.h>
#include <torch/types.h>

#include "losslab/torch_compat.h"

namespace {

// zeroGradients keeps the gradient tensors (zeroed), as 1.13's zero_grad() did; 2.x's
// zero_grad() would leave them undefined.
TEST(TorchCompat, ZeroGradientsKeepsZeroedGradients) {
    torch::Tensor w = torch::ones({3}, torch::requires_grad());
    torch::optim::SGD sgd({w}, torch::optim::SGDOptions(0.1));
    (w * 2.0).sum().backward();
    ASSERT_TRUE(w.grad().defined());
    losslab::zeroGradients(sgd);
    ASSERT_TRUE(w.grad().defined());
    EXPECT_EQ(w.grad().abs().sum().item<double>(), 0.0);
}

// The consequence for training: a parameter that a step does not reach still gets its
// momentum and weight decay update, on every LibTorch version.
TEST(TorchCompat, UnreachedParameterKeepsMomentumAndWeightDecay) {
    torch::Tensor used = torch::ones({2}, torch::requires_grad());
    torch::Tensor unused = torch::ones({2}, torch::requires_grad());
    torch::optim::SGD sgd({used, unused}, torch::optim::SGDOptions(0.5).momentum(0.5).weight_decay(0.25));
    losslab::zeroGradients(sgd);
    (used.sum() + unused.sum()).backward();  // step 1 reaches both
    sgd.step();
    losslab::zeroGradients(sgd);
    used.sum().backward();  // step 2 reaches only `used`
    sgd.step();
    // Step 1: g = 1 + 0.25 * 1 = 1.25, buffer 1.25, unused = 1 - 0.5 * 1.25 = 0.375.
    // Step 2: g = 0 + 0.25 * 0.375 = 0.09375, buffer = 0.5 * 1.25 + 0.09375 = 0.71875,
    //         unused = 0.375 - 0.5 * 0.71875 = 0.015625 (with set_to_none it would stay 0.375).
    const torch::Tensor expected = torch::full({2}, 0.015625);
    EXPECT_TRUE(torch::allclose(unused.detach(), expected)) << unused;
}

} // namespace
