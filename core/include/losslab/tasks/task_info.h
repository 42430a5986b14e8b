#pragma once
// What a task is, without torch: enough for the spec resolver, `losslab-cli tasks` and the GUI.
#include <cstdint>
#include <string>
#include <vector>

#include "losslab/spec/param_set.h"

namespace losslab {

struct TaskInfo {
    std::string id;           // "<dataset>/<model>", e.g. "fashion_mnist/mlp"
    std::string description;  // one line
    std::string domain;       // "vision", later "text", "speech"
    std::string dataset;      // human name, e.g. "Fashion-MNIST"
    std::string model;        // human name, e.g. "MLP 784-512-512-10"
    std::int64_t numClasses = 0;
    std::vector<std::string> classNames;
    // Key of the paper's Table 9 row ("mnist", "cifar10", ...); empty when the paper has none,
    // in which case the class-count rule gives k and M.
    std::string paperDataset;
    std::string defaultDataRoot; // used when data.root is not set
    std::string dataHint;        // how to get the data, shown when it is missing
    // Task-specific keys (model.*, data.*) with their defaults, and overrides of the core's
    // defaults (train.*) that make up the task's recipe.
    std::vector<ParamDecl> params;
    std::vector<std::pair<std::string, std::string>> recipe; // key -> canonical value
    std::string plugin; // name of the plugin that registered it
};

} // namespace losslab
