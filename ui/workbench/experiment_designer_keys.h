#pragma once
// Private to ExperimentDesigner (experiment_designer.cpp and experiment_designer_layout.cpp):
// the keys with a widget of their own, and small helpers both files use.
#include <QString>

#include <string>

namespace losslab::designer {

// Keys with a widget of their own; every other key goes to the "Other keys" table.
inline const char* const kDataRoot = "data.root";
inline const char* const kBatchSize = "train.batch_size";
inline const char* const kMaxEpochs = "train.max_epochs";
inline const char* const kPatience = "train.patience";
inline const char* const kOptimizer = "train.optimizer";
inline const char* const kRunsPerDevice = "runner.runs_per_device";

inline bool isDedicated(const std::string& key) {
    return key == kDataRoot || key == kBatchSize || key == kMaxEpochs || key == kPatience || key == kOptimizer ||
           key == kRunsPerDevice;
}

inline QString qs(const std::string& s) { return QString::fromStdString(s); }

inline const char* const kWarningStyle =
    "QLabel { background: #fff3cd; color: #5c3c00; border: 1px solid #e0a800; border-radius: 3px; padding: 4px; }";
inline const char* const kNoteStyle = "QLabel { color: #a15c00; }";

} // namespace losslab::designer
