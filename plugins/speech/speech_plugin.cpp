// Entry point of the speech plugin, looked up by name when the core loads the library.
#include "losslab/tasks/task_registry.h"
#include "speech_tasks.h"

extern "C" __attribute__((visibility("default"))) void losslab_register_tasks(losslab::TaskRegistry* registry) {
    if (!registry) return;
    for (auto& task : losslab::speech::makeSpeechTasks()) registry->add(task);
}
