#include "losslab/tasks/task_registry.h"

#include <algorithm>

#include "losslab/error.h"
#include "losslab/tasks/task.h"

namespace losslab {

struct TaskRegistry::Entry {
    TaskInfo info; // copy stamped with the plugin name
    std::shared_ptr<const Task> task;
};

TaskRegistry::TaskRegistry() = default;
TaskRegistry::~TaskRegistry() = default;

void TaskRegistry::add(std::shared_ptr<const Task> task) {
    if (!task) throw Error("a plugin registered an empty task");
    TaskInfo info = task->info();
    if (findInfo(info.id))
        throw Error("task '" + info.id + "' is registered twice (plugins '" + findInfo(info.id)->plugin +
                    "' and '" + m_currentPlugin + "')");
    info.plugin = m_currentPlugin;
    m_entries.push_back(Entry{std::move(info), std::move(task)});
    std::sort(m_entries.begin(), m_entries.end(),
              [](const Entry& a, const Entry& b) { return a.info.id < b.info.id; });
}

std::shared_ptr<const Task> TaskRegistry::find(const std::string& id) const {
    for (const auto& e : m_entries)
        if (e.info.id == id) return e.task;
    return nullptr;
}

const TaskInfo* TaskRegistry::findInfo(const std::string& id) const {
    for (const auto& e : m_entries)
        if (e.info.id == id) return &e.info;
    return nullptr;
}

namespace {
std::string joined(const std::vector<std::string>& ids) {
    std::string out;
    for (const auto& id : ids) out += (out.empty() ? "" : ", ") + id;
    return out.empty() ? "(none: no task plugin was loaded; check LOSSLAB_PLUGIN_PATH)" : out;
}
} // namespace

std::shared_ptr<const Task> TaskRegistry::require(const std::string& id) const {
    if (auto t = find(id)) return t;
    throw Error("unknown task '" + id + "'; known tasks: " + joined(ids()));
}

const TaskInfo& TaskRegistry::requireInfo(const std::string& id) const {
    if (const auto* info = findInfo(id)) return *info;
    throw Error("unknown task '" + id + "'; known tasks: " + joined(ids()));
}

std::vector<TaskInfo> TaskRegistry::list() const {
    std::vector<TaskInfo> out;
    for (const auto& e : m_entries) out.push_back(e.info);
    return out;
}

std::vector<std::string> TaskRegistry::ids() const {
    std::vector<std::string> out;
    for (const auto& e : m_entries) out.push_back(e.info.id);
    return out;
}

} // namespace losslab
