#pragma once
// The text tasks: GLUE sentence pairs and SST-2, CSV text classification, text8 and enwik8.
#include <memory>
#include <vector>

#include "losslab/tasks/task.h"

namespace losslab::text {

std::vector<std::shared_ptr<const Task>> makeTextTasks();

} // namespace losslab::text
