#pragma once
// Taking over runs that a killed process left queued or running on another host, where this
// process cannot check that process: a Slurm array task requeued onto another node after its
// first node went down or SIGKILLed it finds its runs so in its part. Torch-free.
//
// Thread rules: opens its own connection, so it may run while a RunStore (in this process or
// another) has the database open; they see the change once it is committed.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace losslab {

// A run stored as queued or running whose process is not known to have ended.
struct HeldRun {
    std::int64_t id = 0;
    std::string status;               // "queued" or "running"
    std::string host;                 // where its process runs (or ran)
    std::optional<std::int64_t> pid;  // that process
    bool aliveHere = false;           // on this host, and that process is alive
};

// Of `runIds` in the database at `path`, those stored queued or running whose process is alive
// on this host or was recorded on another host; a run whose process is known to have ended
// (killed on this host, the host restarted) is not among them. Changes nothing.
std::vector<HeldRun> heldRuns(const std::string& path, const std::vector<std::int64_t>& runIds);

// Marks those runs recorded on another host as interrupted, so that resume continues them here:
// for the caller who knows that their process has ended (Slurm requeued the array task that
// recorded them, or the user says so). In one transaction, checked again inside it: a run whose
// process is alive on this host is refused (Error naming it, nothing changed). Returns the runs
// it changed.
std::vector<HeldRun> takeOverRuns(const std::string& path, const std::vector<std::int64_t>& runIds);

} // namespace losslab
