#pragma once
// Holds the tasks that plugins registered. Torch-free: the Task type itself is only
// forward-declared, so ui/ can list tasks. Register during start-up only; after that
// the registry is read-only and may be read from any thread.
#include <memory>
#include <string>
#include <vector>

#include "losslab/tasks/task_info.h"

namespace losslab {

class Task;

class TaskRegistry {
public:
    TaskRegistry();
    ~TaskRegistry();
    TaskRegistry(const TaskRegistry&) = delete;
    TaskRegistry& operator=(const TaskRegistry&) = delete;

    // Throws Error if a task with the same id exists.
    void add(std::shared_ptr<const Task> task);

    // nullptr when unknown.
    std::shared_ptr<const Task> find(const std::string& id) const;
    const TaskInfo* findInfo(const std::string& id) const;
    // Like find(), but throws Error listing the known ids.
    std::shared_ptr<const Task> require(const std::string& id) const;
    const TaskInfo& requireInfo(const std::string& id) const;

    std::vector<TaskInfo> list() const; // sorted by id
    std::vector<std::string> ids() const;

    // Plugin currently registering (set by the loader, stamped into TaskInfo::plugin).
    void setCurrentPlugin(const std::string& name) { m_currentPlugin = name; }

private:
    struct Entry;
    std::vector<Entry> m_entries;
    std::string m_currentPlugin;
};

} // namespace losslab
