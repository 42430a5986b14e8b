#pragma once
// The vision plugin's tasks for the vision tests, loaded from the build tree the way the
// core loads plugins (LOSSLAB_PLUGIN_BUILD_DIR). Other plugins of that folder (the example
// plugin) load too: tests that count tasks use visionTaskInfos().
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task_registry.h"

namespace losslab::fixtures {

inline const TaskRegistry& visionTasks() {
    static const std::unique_ptr<TaskRegistry> registry = [] {
        auto r = std::make_unique<TaskRegistry>();
        for (const auto& warning : loadPlugins(*r, {LOSSLAB_PLUGIN_BUILD_DIR}).warnings)
            std::cerr << "plugin warning: " << warning << "\n";
        return r;
    }();
    return *registry;
}

// The tasks the vision plugin registered, sorted by id.
inline std::vector<TaskInfo> visionTaskInfos() {
    std::vector<TaskInfo> infos;
    for (const TaskInfo& info : visionTasks().list())
        if (info.plugin == "vision") infos.push_back(info);
    return infos;
}

} // namespace losslab::fixtures
