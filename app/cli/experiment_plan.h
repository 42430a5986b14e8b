#pragma once
// What `losslab-cli run --dry-run` and `losslab-cli plan` share: the experiment options of the
// command line, estimates of run times from stored runs, the independent units of a plan, and
// the Slurm job-array files (docs/slurm.md).
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cli_args.h"
#include "losslab/spec/experiment_spec.h"

namespace losslab {
class TaskRegistry;
}

namespace losslab::cli {

// --seeds, --max-epochs, --limit-train, --device and --set, as `run` and `plan` take them.
std::vector<OptionSpec> experimentOptions();
std::vector<SpecOverride> experimentOverrides(const Args& args);
// "default" or "tcn_permuted_mnist" name a shipped preset; anything else is a path.
std::string resolveExperimentPath(const std::string& arg);

// The experiment uid every array task of one plan gives its part: derived from the frozen
// experiment file's bytes (which name the plan), so the same file gives the same uid.
std::string planExperimentUid(const std::string& frozenText);

// Expected wall seconds of each run, from the completed runs stored in `dbPath` (when it
// exists) of the same task: those with the same training recipe and protocol, else the same
// protocol, else any. Nothing when no stored run matches. `basis` says what was used.
struct RunEstimates {
    std::vector<std::optional<double>> seconds; // per run of `runs`
    std::string basis;                          // "12 stored runs of mnist/mlp in FILE"
    bool complete() const;                      // every run has an estimate
};
RunEstimates estimateRuns(const std::vector<RunSpec>& runs, const std::string& dbPath);

// Packs independent units into array tasks by their costs (longest processing time first,
// each unit to the least loaded task): as many tasks as the total over the costliest unit,
// rounded up, so that no task is much longer than the unit that cannot be split, and at most
// `maxTasks` (Slurm's MaxArraySize). Returns per task the run indices, ascending; tasks in
// order of their first run.
std::vector<std::vector<int>> packUnits(const std::vector<std::vector<int>>& units, const std::vector<double>& unitCost,
                                        std::size_t maxTasks);

// A frozen plan file's text with its digest line first ("# losslab-plan-digest: HEX", a hash of
// the rest), which checkPlanDigest compares with the text: every array task of a plan must
// train the runs that were planned, whatever happened to the file since.
std::string withPlanDigest(const std::string& frozenText);
// Error naming `path` when its digest line does not match its text (the file was edited after
// `plan` wrote it). A file without a digest line (not a plan, or one of an older LossLab) passes.
void checkPlanDigest(const std::string& frozenText, const std::string& path);

// The array tasks a frozen plan file states ("# losslab-plan-task I: 0,5,6" lines), or none
// when the file has no such lines (then task i is independent unit i).
std::vector<std::vector<int>> plannedTasks(const std::string& frozenText);
// Those lines for `tasks`.
std::string plannedTaskLines(const std::vector<std::vector<int>>& tasks);

// The summary `run --dry-run` prints: grid, runs per loss, protocols, seeds, estimate, and
// one line per run.
void printDryRun(std::ostream& out, const ExperimentSpec& spec, const std::vector<RunSpec>& runs,
                 const RunEstimates& estimates, int slots, bool listRuns);

} // namespace losslab::cli
