#pragma once
// Precompiled header for targets that use torch. Only the parts the project uses.
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules.h>
#include <torch/nn/functional.h>
#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/types.h>
#include <torch/utils.h>
