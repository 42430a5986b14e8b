#include "toy_registry.h"

#include <memory>

#include "losslab/tasks/task_registry.h"
#include "toy_task.h"

namespace losslab::fixtures {

void addToyTask(TaskRegistry& registry, const std::string& id, std::int64_t examples, bool pathKey) {
    ToyTaskOptions options;
    options.pathKey = pathKey;
    options.id = id;
    options.examples = examples;
    registry.add(std::make_shared<ToyTask>(options));
}

} // namespace losslab::fixtures
