#pragma once
// CUDA-only tests skip without a CUDA device, except under LOSSLAB_REQUIRE_CUDA=1
// (scripts/gpu-check.sh on the GPU machine), where a missing device is a failure: there every
// CUDA test must run.
#include <cstdlib>
#include <string>

#include <torch/cuda.h>

namespace losslab::fixtures {

inline bool cudaRequired() {
    const char* value = std::getenv("LOSSLAB_REQUIRE_CUDA");
    return value && *value && std::string(value) != "0";
}

} // namespace losslab::fixtures

#define LOSSLAB_SKIP_WITHOUT_CUDA()                                                                  \
    do {                                                                                             \
        if (!torch::cuda::is_available()) {                                                          \
            if (::losslab::fixtures::cudaRequired())                                                 \
                FAIL() << "LOSSLAB_REQUIRE_CUDA is set, but LibTorch sees no CUDA device";           \
            GTEST_SKIP() << "no CUDA device";                                                        \
        }                                                                                            \
    } while (0)
