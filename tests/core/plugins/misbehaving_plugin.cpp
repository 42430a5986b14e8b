// A task plugin that misbehaves on purpose, for the PluginLoader tests: its entry point does what
// LOSSLAB_TEST_PLUGIN_MODE says when it runs.
//   clash          registers mine/first, toy/blobs (a task id the test's first plugin registers), mine/last
//   throw          registers mine/first, then throws a std::runtime_error
//   throw-int      registers mine/first, then throws an int (not a std::exception)
//   twice          registers mine/first twice
//   no-classes     registers a task that leaves TaskInfo::numClasses at 0 without a data.classes key
//   (else)         registers toy/blobs
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "losslab/tasks/task_registry.h"
#include "toy_task.h"

namespace {

std::shared_ptr<losslab::fixtures::ToyTask> toy(const std::string& id) {
    losslab::fixtures::ToyTaskOptions options;
    options.id = id;
    return std::make_shared<losslab::fixtures::ToyTask>(options);
}

// The toy task with TaskInfo::numClasses left at its default, 0.
class NoClassesTask : public losslab::fixtures::ToyTask {
public:
    NoClassesTask() : ToyTask(options()) { m_info = ToyTask::info(), m_info.numClasses = 0; }
    const losslab::TaskInfo& info() const override { return m_info; }

private:
    static losslab::fixtures::ToyTaskOptions options() {
        losslab::fixtures::ToyTaskOptions o;
        o.id = "mine/no-classes";
        return o;
    }
    losslab::TaskInfo m_info;
};

} // namespace

extern "C" __attribute__((visibility("default"))) void losslab_register_tasks(losslab::TaskRegistry* registry) {
    const char* env = std::getenv("LOSSLAB_TEST_PLUGIN_MODE");
    const std::string mode = env ? env : "";
    if (mode == "clash") {
        registry->add(toy("mine/first"));
        registry->add(toy("toy/blobs"));
        registry->add(toy("mine/last"));
    } else if (mode == "throw") {
        registry->add(toy("mine/first"));
        throw std::runtime_error("registration failed on purpose");
    } else if (mode == "throw-int") {
        registry->add(toy("mine/first"));
        throw 3;
    } else if (mode == "twice") {
        registry->add(toy("mine/first"));
        registry->add(toy("mine/first"));
    } else if (mode == "no-classes") {
        registry->add(std::make_shared<NoClassesTask>());
    } else {
        registry->add(toy("toy/blobs"));
    }
}
