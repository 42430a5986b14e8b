#pragma once
// The TorchScript tasks: torchscript/text (a BERT-style encoder on GLUE or CSV text, tokenised
// with the model's vocab.txt) and torchscript/image (a ViT-style encoder on CIFAR-10 or IDX
// images), each fine-tuned with a linear head (docs/torchscript-models.md).
#include <memory>
#include <vector>

#include "losslab/tasks/task.h"

namespace losslab::torchscript {

std::vector<std::shared_ptr<const Task>> makeTorchScriptTasks();

} // namespace losslab::torchscript
