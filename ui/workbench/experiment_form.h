#pragma once
// The experiment designer's form, without Qt: an experiment as the keys its YAML file states.
// Every key the form holds is written by toYaml(); a key it does not hold falls back to the
// task's recipe and the built-in defaults, exactly as it would in a hand-written file.
//
// Promises:
// - fromYaml(text) throws Error (file, line, key: the loader's message) on a file that
//   losslab-cli would refuse, and builds nothing then.
// - For a form built by fromYaml(text), loading toYaml() with loadExperimentText gives an
//   ExperimentSpec whose expand() equals that of `text`, run by run.
// - fromYaml(toYaml()) writes the same text again.
// - Keys written in the file with their default value are kept when the file states them in
//   block (`train:` then `  lr: 0.1`) or flow (`train: {lr: 0.1}`) style; a key the reader
//   misses is one that equals its default, so dropping it changes no run.
// A plain value type: use it from one thread at a time.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "losslab/losses/paper_rescaling.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/spec/param_set.h"
#include "losslab/tasks/task_info.h"

namespace losslab {

class TaskRegistry;

// One entry of `losses:` as the file states it.
struct FormLoss {
    LossKind kind = LossKind::CrossEntropy;
    std::string name;          // "" : the name the loader generates from the loss, k and M
    double lr = 0.05;          // always written: every loss carries its own learning rate
    bool paperPreset = false;  // `preset: paper` (square loss only)
    std::optional<double> k;   // explicit k (square loss only); unset: the preset's or 1
    std::optional<double> M;   // explicit M (square loss only); unset: the preset's or 1

    // The k and M the loader resolves, given the task's paper values.
    double effectiveK(const Rescaling& paper) const;
    double effectiveM(const Rescaling& paper) const;
    // "ce", "square" or "square_k15_M30", as the loader names a loss without `name`.
    std::string generatedName(const Rescaling& paper) const;
    std::string displayName(const Rescaling& paper) const; // name, or the generated one

    bool operator==(const FormLoss& other) const;
    bool operator!=(const FormLoss& other) const { return !(*this == other); }
};

struct ExperimentForm {
    std::string name;        // "" : not written (the loader uses the file name)
    std::string description; // "" : not written
    std::string taskId;
    std::string device = "auto";
    std::vector<FormLoss> losses;
    std::vector<Protocol> protocols{Protocol::EarlyStopping}; // in file order (it orders the runs)
    bool seedsAsList = false;        // false: `seeds: seedCount` (seeds 0 .. count-1)
    std::int64_t seedCount = 5;
    std::vector<std::int64_t> seedList; // used when seedsAsList
    // data.*, train.*, model.*, runner.* keys the file states, dotted, canonical value text.
    std::map<std::string, std::string> params;

    // Parses, checks and resolves `yamlText` (loadExperimentText) and keeps what it states.
    static ExperimentForm fromYaml(const std::string& yamlText, const std::string& displayName,
                                   const TaskRegistry& tasks);
    // The form of a resolved experiment: keys in `statedKeys` and keys whose value differs
    // from the task's recipe or default are kept; loss k, M and names only where they differ
    // from what the loader would give them.
    static ExperimentForm fromSpec(const ExperimentSpec& spec, const std::set<std::string>& statedKeys,
                                   const TaskRegistry& tasks);

    std::string toYaml() const;
    // toYaml() through loadExperimentText: throws Error naming `displayName` and the key.
    ExperimentSpec resolve(const std::string& displayName, const TaskRegistry& tasks) const;

    // The value in use for `key`: the form's own, else the task's recipe or default ("" when
    // neither the core nor the task declares it).
    std::string paramValue(const std::string& key, const TaskRegistry& tasks) const;

    // Changes the task. Keys the new task does not declare are removed (they would be refused)
    // and returned; everything else is kept.
    std::vector<std::string> switchTask(const std::string& taskId, const TaskRegistry& tasks);

    bool operator==(const ExperimentForm& other) const;
    bool operator!=(const ExperimentForm& other) const { return !(*this == other); }
};

// Declarations that apply to `task`: the core's keys, then the task's own (a task's
// declaration of a core key wins, as in the loader).
std::vector<ParamDecl> taskParamDecls(const TaskInfo& task);
// The value of every declared key before the file is read: core default, then task recipe.
ParamSet taskBaseline(const TaskInfo& task);
// The paper's k and M for `task` (Table 9 row, else the class-count rule).
Rescaling taskPaperRescaling(const TaskInfo& task);

// Dotted keys ("train.lr") that the text states under data:, train:, model: and runner:.
// A tolerant line reader for block and one-level flow mappings, not a YAML parser: only used
// to keep keys that equal their default.
std::set<std::string> sectionKeysStated(const std::string& yamlText);

// Parses "3, 17, 42" or "[3, 17, 42]" into seeds (non-negative integers). Returns nothing on
// malformed text; duplicates are left for the loader to report.
std::optional<std::vector<std::int64_t>> parseSeedList(const std::string& text);
std::string formatSeedList(const std::vector<std::int64_t>& seeds); // "3, 17, 42"

} // namespace losslab
