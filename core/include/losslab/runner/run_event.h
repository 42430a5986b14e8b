#pragma once
// Progress of runs as plain values, for observers (CLI progress bar, GUI bridge). Torch-free.
#include <cstdint>
#include <string>
#include <vector>

#include "losslab/store/records.h"

namespace losslab {

struct RunEvent {
    enum class Kind {
        Waiting,  // queued behind its CE run
        Started,  // on a worker; `message` holds the device
        Step,     // every train.log_every_steps optimiser steps: metrics {train, loss}
        Epoch,    // an epoch finished and was evaluated: metrics for train / val / test
        Finished, // final status in `status`, error text (if any) in `message`
        Note,     // something the user should know about how the run trains, in `message`
                  // (e.g. "CUDA graphs off: ..."); changes nothing in its state
    };
    Kind kind = Kind::Started;
    std::int64_t runId = 0;
    int epoch = 0;              // 1-based epoch in progress or finished
    int maxEpochs = 0;          // upper bound on epochs for this run
    std::int64_t step = 0;      // optimiser steps so far in this run
    std::int64_t stepsPerEpoch = 0;
    std::vector<MetricValue> metrics;
    RunStatus status = RunStatus::Running;
    int bestEpoch = 0;
    std::string message;
    std::string label; // Waiting / Started / Finished: "<task> <loss> <protocol> seed <n>"
};

} // namespace losslab
