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
    if (!task) throw Error("registered an empty task (a null pointer)");
    TaskInfo info = task->info();
    if (info.id.empty()) throw Error("registered a task with an empty id (TaskInfo::id)");
    if (info.numClasses < 0)
        throw Error("task '" + info.id + "': numClasses is " + std::to_string(info.numClasses) +
                    "; expected the number of classes, or 0 when a data.classes key gives it");
    // 0 is TaskInfo's default: without a data.classes key every label would be out of range.
    const bool declaresClasses = std::any_of(info.params.begin(), info.params.end(),
                                             [](const ParamDecl& p) { return p.key == "data.classes"; });
    if (info.numClasses == 0 && !declaresClasses)
        throw Error("task '" + info.id + "': numClasses is 0 (TaskInfo's default), which means that the classes "
                    "come with the data, but the task declares no data.classes key; set TaskInfo::numClasses");
    if (const TaskInfo* earlier = findInfo(info.id))
        throw Error(earlier->plugin == m_currentPlugin
                        ? "task '" + info.id + "' is registered twice" +
                              (m_currentPlugin.empty() ? std::string() : " by plugin '" + m_currentPlugin + "'")
                        : "task '" + info.id + "' is registered twice (plugins '" + earlier->plugin + "' and '" +
                              m_currentPlugin + "')");
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
