// Linked into every test program that trains: the process sets itself up as losslab-cli and
// the window do before training (configureProcess: BLAS threads, cuDNN benchmark, oneDNN on or
// off), so that a test training a model outside a RunQueue computes as a run would.
#include <gtest/gtest.h>

#include "losslab/training/compute_setup.h"

namespace {

class ProcessSetup : public ::testing::Environment {
public:
    void SetUp() override { losslab::configureProcess(); }
};

[[maybe_unused]] ::testing::Environment* const kProcessSetup = ::testing::AddGlobalTestEnvironment(new ProcessSetup);

} // namespace
