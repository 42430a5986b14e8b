#pragma once
// Loads task plugins. A plugin is a shared library plus a JSON file next to it:
//   {"name": "vision", "version": "0.1.0", "api": 4, "library": "liblosslab-vision.so"}
// The JSON is read first; an API mismatch is refused before the library is opened.
// The library exports `extern "C" void losslab_register_tasks(losslab::TaskRegistry*)`.
#include <string>
#include <vector>

namespace losslab {

class TaskRegistry;

// 2: makeModel takes the run's init generator; ModelInput carries the run's device generator.
// 3: sequence tasks: sentence pairs, per-position classes, a data set's own validation split,
//    loader tensors for the model (prepareModel), batch order (bucketing), task metrics.
// 4: sequence-to-sequence tasks: padded label sequences, teacher-forcing targets, a model's own
//    loss in the objective, task evaluators (error rates), the transform sees the loaded data.
// 5: features that stay on the CPU (InputTransform::featuresOnHost), read without a device wait.
// 6: a batch's lengths reach the transform on the CPU; the model gets them, and padded labels,
//    on the CPU too (ModelInput::hostLengths, hostTargets), so that reading them never waits.
// 7: ParamType::Path: a declared file or folder key is made absolute when read, so stored runs
//    name their files wherever they are resumed.
constexpr int kPluginApiVersion = 7;

struct PluginLoadReport {
    std::vector<std::string> loaded;   // "vision 0.1.0 (/path/liblosslab-vision.so)"
    // One sentence each: "plugin skipped: <file>: <why>" for a plugin none of whose tasks is
    // loaded, "task skipped: <file>: ..." for a task id that an earlier plugin registered (the
    // plugin's other tasks are loaded).
    std::vector<std::string> warnings;
};

// The folders searched, in order: every entry of $LOSSLAB_PLUGIN_PATH (':'-separated),
// then <dir of the executable>/../lib/losslab/plugins (build tree and install prefix alike).
std::vector<std::string> defaultPluginDirs();

// Loads every plugin found in `dirs` (first one wins for a name, and for a task id). Never
// throws for a single bad plugin: it is reported in warnings. A plugin whose entry point fails
// (throws anything, registers a task id twice) adds none of its tasks.
PluginLoadReport loadPlugins(TaskRegistry& registry, const std::vector<std::string>& dirs);

} // namespace losslab
