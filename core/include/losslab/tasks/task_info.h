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
    // 0 when the classes come with the data (a user's CSV set): the data.classes key says how
    // many (classCount below).
    std::int64_t numClasses = 0;
    std::vector<std::string> classNames;
    // Key of the paper's Table 9 row ("mnist", "cifar10", ...); empty when the paper has none,
    // in which case the class-count rule gives k and M.
    std::string paperDataset;
    std::string defaultDataRoot; // used when data.root is not set
    std::string dataHint;        // how to get the data, shown when it is missing
    // The files the task reads, in a few words ("GLUE TSV: train.tsv, dev.tsv"), for
    // `losslab-cli tasks` and the window. Empty: the dataset's name says it.
    std::string dataFormat;
    // What the "test" split of this task is when it is not a labelled test set, said in
    // reports (GLUE: "GLUE's dev set; its test files have no labels").
    std::string testSetNote;
    // Metrics beside the core's (loss, acc, error, top5, f1, ece, brier), by name (plugin API
    // 3). Known: "bpc", bits per symbol, for next-symbol prediction.
    std::vector<std::string> metrics;
    // Per-position labels padded with kIgnoreLabel (plugin API 4: label sequences of different
    // lengths, e.g. transcripts): the loss and metrics skip padded positions, and the model may
    // return fewer positions than the labels have.
    bool paddedLabels = false;
    // Task-specific keys (model.*, data.*; train.* only for a setting of the task's recipe
    // that the core lacks, such as the TorchScript tasks' train.warmup) with their defaults,
    // and overrides of the core's defaults (train.*) that make up the task's recipe.
    std::vector<ParamDecl> params;
    std::vector<std::pair<std::string, std::string>> recipe; // key -> canonical value
    std::string plugin; // name of the plugin that registered it
};

// Where a task's loader may keep files derived from the data (plugin API 4).
struct DataContext {
    // A folder beside the run database (RunStore::dataCacheDir), for caches such as computed
    // features; "" when there is none (tests, benchmarks): then nothing is cached.
    std::string cacheDir;
};

// The class count of a run of `info` with `params`: numClasses, or data.classes for a task
// whose classes come with the data (numClasses 0).
inline std::int64_t classCount(const TaskInfo& info, const ParamSet& params) {
    if (info.numClasses > 0 || !params.has("data.classes")) return info.numClasses;
    return params.getInt("data.classes");
}

// Why data of `found` classes (counted as `what`: "classes", "class folders", ...) does not fit
// a run whose data.classes is `declared`, for a task whose classes come with the data. The
// advice to set data.classes is given only where it can be followed: a classifier needs two.
inline std::string classCountMismatch(const std::string& source, std::size_t found, const std::string& what,
                                      std::int64_t declared) {
    if (found < 2)
        return source + ": " + what + " found: " + std::to_string(found) +
               "; a classifier needs at least 2 in the training data (data.classes says " + std::to_string(declared) +
               ")";
    return source + ": has " + std::to_string(found) + " " + what + "; data.classes says " + std::to_string(declared) +
           " (set data.classes: " + std::to_string(found) + ")";
}

} // namespace losslab
