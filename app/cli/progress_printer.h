#pragma once
// Turns run events into progress output on stderr: on a terminal one status line redrawn
// in place (progress bar, epoch, ETA), otherwise plain lines, one per epoch and per run.
// Thread-safe: events arrive on worker threads.
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "losslab/runner/run_event.h"

namespace losslab::cli {

class ProgressPrinter {
public:
    ProgressPrinter(int totalRuns, bool terminal, bool quiet);
    void onEvent(const RunEvent& event);
    void finishLine(); // ends the in-place line before other output

private:
    struct RunState {
        std::string label;
        int epoch = 0, maxEpochs = 0;
        std::int64_t step = 0, stepsPerEpoch = 0, stepAtEpochStart = 0;
        std::chrono::steady_clock::time_point started;
        double secondsPerEpoch = 0;
    };
    void redraw(const RunState& state);
    std::string eta(const RunState& state) const;
    void line(const std::string& text);

    std::mutex m_mutex;
    int m_total;
    int m_finished = 0;
    double m_finishedSeconds = 0; // summed wall time of finished runs
    bool m_terminal;
    bool m_quiet;
    bool m_lineOpen = false;
    std::chrono::steady_clock::time_point m_lastDraw;
    std::map<std::int64_t, RunState> m_runs;
};

std::string formatDuration(double seconds);

} // namespace losslab::cli
