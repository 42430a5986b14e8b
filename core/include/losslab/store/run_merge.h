#pragma once
// Merging run databases: the parts that the array tasks of a Slurm plan write (one database
// each) go into one target database, after which reports, the window and `losslab-cli resume`
// work on it as if every run had been run there. Torch-free.
//
// Experiments and runs are matched by their uid (ExperimentRecord::uid, RunRecord::uid): one
// already in the target is skipped, so merging the same parts again adds nothing. New runs get
// new ids in the target; depends_on, metrics, tags, notes and checkpoint files follow them.
//
// Thread rules: opens its own connections, so it may run on any thread, also while a RunStore
// (in this process or another) has the target open; those see each part's runs once it is
// committed.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace losslab {

// What merging one part did.
struct MergePartResult {
    std::string path;                // the part ("" in MergeResult::total)
    int experimentsAdded = 0;        // new in the target
    int experimentsPresent = 0;      // matched by uid: their runs went to the target's experiment
    int runsAdded = 0;               // new runs, with new ids
    int runsPresent = 0;             // their uid was already in the target: skipped
    int runsReplaced = 0;            // interrupted or cancelled in the target, finished in the part: the part's copy
                                     // replaced the target's under its id (rows and files too)
    int runsInterrupted = 0;         // of runsAdded: left queued / running in the part, stored as interrupted
    std::int64_t epochRows = 0;      // epoch_metrics rows copied
    std::int64_t stepRows = 0;       // step_metrics rows copied
    int filesCopied = 0;             // checkpoint and resume files, hard-linked or copied
    int filesLinked = 0;             // of filesCopied: hard links (part and target on one file system)
    double seconds = 0.0;            // wall time of this part
};

struct MergeResult {
    std::vector<MergePartResult> parts; // in the order given; fewer when stopped
    MergePartResult total;              // the sums over `parts`
    // Things the user should know that did not stop the merge: a checkpoint file a run names
    // but that is missing, a run that the target holds queued or running while its part holds
    // it finished (the target's copy is kept: a process may be training it there).
    std::vector<std::string> warnings;
    bool stopped = false; // MergeOptions::progress returned false
};

struct MergeOptions {
    // A part whose run is still `queued` or `running` (its process alive on this host, or on
    // another host, where it cannot be checked) is refused, since it is still being written.
    // With this set, such runs are merged and stored as `interrupted` (for array tasks that
    // were killed; `losslab-cli resume` continues them in the target).
    bool allowUnfinished = false;
    // Called after each part is committed, with its counts and its index among `parts`;
    // returning false stops before the next part. May be empty.
    std::function<bool(const MergePartResult& part, std::size_t index, std::size_t count)> progress;
    // Called once every part has passed its checks and the target is open, before the first
    // part is written: an Error after it is a failed write (disk full), not refused input.
    // May be empty.
    std::function<void()> checked;
};

// Merges `parts` (database files) into `target` (created when missing; migrated when older).
// Every part is checked before anything is written; Error naming the part (and the run) when
// one is missing, not a LossLab database, newer than this program, the target itself, or still
// being written (see MergeOptions::allowUnfinished); then nothing was written. A part of an
// older schema is brought to the current one first (it is LossLab's own file; Error when it
// cannot be written). Each part is then merged in one transaction on the target: a failure
// (disk full) leaves the parts before it merged and nothing of the failing one, and the Error
// says so. Checkpoint and resume files go to the target's checkpoint folder under the new ids
// (RunStore::checkpointPathFor / resumePathFor), hard-linked when possible, else copied.
MergeResult mergeRunStores(const std::vector<std::string>& parts, const std::string& target,
                           const MergeOptions& options = {});

} // namespace losslab
