#pragma once
// The speech plugin's tasks (see docs/speech-tasks.md).
#include <memory>
#include <vector>

#include "losslab/tasks/task.h"

namespace losslab::speech {

std::vector<std::shared_ptr<const Task>> makeSpeechTasks();

} // namespace losslab::speech
