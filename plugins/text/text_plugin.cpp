// Entry point of the text plugin, looked up by name when the core loads the library.
#include "losslab/tasks/task_registry.h"
#include "text_tasks.h"

extern "C" __attribute__((visibility("default"))) void losslab_register_tasks(losslab::TaskRegistry* registry) {
    if (!registry) return;
    for (auto& task : losslab::text::makeTextTasks()) registry->add(std::move(task));
}
