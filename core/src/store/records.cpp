#include "losslab/store/records.h"

#include "losslab/error.h"

namespace losslab {
namespace {

// Every status, in the order users see them listed; parsing and error text both use it.
constexpr RunStatus kAllStatuses[] = {
    RunStatus::Queued,   RunStatus::Running,   RunStatus::Completed,  RunStatus::Diverged,
    RunStatus::Failed,   RunStatus::Cancelled, RunStatus::Interrupted,
};

} // namespace

const char* runStatusName(RunStatus status) {
    switch (status) {
    case RunStatus::Queued: return "queued";
    case RunStatus::Running: return "running";
    case RunStatus::Completed: return "completed";
    case RunStatus::Diverged: return "diverged";
    case RunStatus::Failed: return "failed";
    case RunStatus::Cancelled: return "cancelled";
    case RunStatus::Interrupted: return "interrupted";
    }
    // Only reachable through a value cast from a bad integer; a name keeps messages readable.
    return "unknown";
}

RunStatus parseRunStatus(const std::string& text) {
    for (RunStatus status : kAllStatuses) {
        if (text == runStatusName(status)) return status;
    }
    std::string valid;
    for (RunStatus status : kAllStatuses) {
        if (!valid.empty()) valid += ", ";
        valid += runStatusName(status);
    }
    throw Error("unknown run status '" + text + "'; expected one of: " + valid);
}

bool isFinal(RunStatus status) {
    return status != RunStatus::Queued && status != RunStatus::Running;
}

double CalibrationBins::total() const {
    double sum = 0;
    for (const double c : count) sum += c;
    return sum;
}

} // namespace losslab
