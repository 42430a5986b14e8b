#pragma once
// Precompiled header for targets that use torch: the parts of the C++ API the project uses,
// compiled once per target instead of once per file (~20 s each on two cores).
#include <ATen/ATen.h>
#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/types.h>
