#pragma once
// The engine tests' toy task (Gaussian blobs, trains in milliseconds) for Qt test files.
// Torch stays in toy_registry.cpp: Qt's `slots` macro and torch headers do not mix.
#include <cstdint>
#include <string>

namespace losslab {
class TaskRegistry;
}

namespace losslab::fixtures {

// Registers "toy/blobs" (or `id`) with `examples` training examples.
// pathKey: the task also declares data.labels_file, a path key (ParamType::Path) it does not read.
void addToyTask(TaskRegistry& registry, const std::string& id = "toy/blobs", std::int64_t examples = 600,
                bool pathKey = false);

} // namespace losslab::fixtures
