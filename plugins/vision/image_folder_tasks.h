#pragma once
// The vision plugin's image-folder tasks: images stored one folder per class, decoded per batch
// (folder_image_transform.h), with an ImageNet ResNet (imagenet_resnet.h) or EfficientNet-B0
// (efficientnet.h).
//   imagenet/resnet50         ImageNet (ILSVRC-2012), 1000 classes: the paper's Table 9 row
//   imagenet/efficientnet_b0  the same data, the paper's other ImageNet model
//   image_folder/resnet       any class-per-folder JPEG/PNG set, data.classes classes
#include <memory>
#include <vector>

#include "losslab/tasks/task.h"

namespace losslab::vision {

std::vector<std::shared_ptr<const Task>> makeImageFolderTasks();

} // namespace losslab::vision
