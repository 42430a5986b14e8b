#pragma once
// Private to the store: which process recorded a run, and whether that process still exists.
// Used by every read that reports a status (a run whose recorder is gone is `interrupted`)
// and by markOrphansInterrupted(), which persists the same answer.
#include <cstdint>
#include <optional>
#include <string>

namespace losslab::Internal {

// What the runs table keeps about the process that recorded a run (columns pid, host,
// pid_start, boot_id). Old rows may lack the start time and boot id.
struct RecorderProcess {
    std::optional<std::int64_t> pid;
    std::string host;
    std::optional<std::int64_t> startTicks; // field 22 of /proc/<pid>/stat: ticks since boot
    std::string bootId;                     // /proc/sys/kernel/random/boot_id
};

// This process, as addRuns() and markStarted() record it.
RecorderProcess currentProcess();

// Start time of `pid` in clock ticks since boot, or nothing when /proc cannot tell.
std::optional<std::int64_t> processStartTicks(std::int64_t pid);

// True when the run's recorder is known to be gone, seen from `self`:
// - no pid recorded: it can never be checked, and nothing will finish the run;
// - another host: cannot be checked here, so never gone;
// - another boot of this host: gone;
// - this very process: alive;
// - no such pid, a zombie (killed, not yet reaped by its parent), or a pid whose start time
//   differs from the recorded one (reused): gone.
// A pid that exists but belongs to another user counts as alive.
bool recorderIsGone(const RecorderProcess& recorder, const RecorderProcess& self);

} // namespace losslab::Internal
