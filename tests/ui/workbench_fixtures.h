#pragma once
// Shared by the workbench tests: a scratch folder, a task registry with the toy task, and
// experiment YAML for it.
#include <QDir>
#include <QString>
#include <QTemporaryDir>

#include <memory>
#include <string>

#include "losslab/tasks/task_registry.h"
#include "toy_registry.h"

namespace losslab::fixtures {

// Two losses on the toy task, CPU, seconds to train. `epochs` bounds every run; with
// `sameEpochs` the square loss also trains for the CE run's epochs (a dependent run).
inline std::string toyExperimentYaml(const std::string& name, int epochs, bool sameEpochs = true,
                                     const std::string& task = "toy/blobs", const std::string& seeds = "[1]") {
    return "name: " + name + "\n"
           "task: " + task + "\n"
           "losses:\n"
           "  - loss: ce\n"
           "    lr: 0.05\n"
           "  - loss: square\n"
           "    lr: 0.1\n"
           "protocols: [early_stopping" + std::string(sameEpochs ? ", same_epochs_as_ce" : "") + "]\n"
           "seeds: " + seeds + "\n"
           "device: cpu\n"
           "train:\n"
           "  max_epochs: " + std::to_string(epochs) + "\n"
           "  batch_size: 32\n"
           "  patience: 50\n"
           "  log_every_steps: 5\n";
}

struct ToyWorld {
    QTemporaryDir dir;
    TaskRegistry tasks;
    ToyWorld() {
        addToyTask(tasks);
        addToyTask(tasks, "toy/slow", 40000); // an epoch takes a while: something to cancel
    }
    std::string databasePath() const { return QDir(dir.path()).filePath(QStringLiteral("runs.sqlite")).toStdString(); }
};

} // namespace losslab::fixtures
