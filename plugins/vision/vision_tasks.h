#pragma once
// The tasks of the vision plugin: Fashion-MNIST and MNIST with an MLP and a small CNN,
// permuted pixel MNIST with a TCN, CIFAR-10 with a Wide-ResNet and a ResNet-18, then the
// image-folder tasks (ImageNet with ResNet-50, a user's image folders: image_folder_tasks.h).
#include <memory>
#include <vector>

#include "losslab/tasks/task.h"

namespace losslab::vision {

// Fresh, immutable Task objects, one per task id, in a fixed order.
std::vector<std::shared_ptr<const Task>> makeVisionTasks();

} // namespace losslab::vision
