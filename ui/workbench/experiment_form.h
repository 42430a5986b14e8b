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
// - The `sweep:` block is kept as the file states it: its keys as written, in file order, and
//   each axis's values as the text of its flow list (`[1, 5e-4]` stays "1, 5e-4"); an axis
//   written as a block list gets the loader's canonical values. The form does not check the
//   values: resolve() does, as losslab-cli would.
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

// One axis of `sweep:` as the file states it.
struct FormSweepAxis {
    std::string key;    // "losses.1.k", "losses.*.lr", "model.hidden"
    std::string values; // the text inside the list's brackets: "1, 5, 15", "[16], [64]"

    bool operator==(const FormSweepAxis& other) const { return key == other.key && values == other.values; }
    bool operator!=(const FormSweepAxis& other) const { return !(*this == other); }
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
    std::vector<FormSweepAxis> sweep; // in file order; empty: no `sweep:` block

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

    // Changes the task. Keys the new task does not declare are removed (they would be refused),
    // from the sections and from the sweep, and returned; everything else is kept.
    std::vector<std::string> switchTask(const std::string& taskId, const TaskRegistry& tasks);

    // Fits the sweep to a changed list of losses (`losses` holds the new list already):
    // `newIndexOf[i]` is where old loss i went, -1 when it was removed. Axes of a removed loss
    // are dropped, those of a moved one renumbered ("losses.2.k" -> "losses.1.k"); losses.N.k
    // and .M of a loss that is not a square loss, and losses.*.k and .M when no square loss is
    // left, are dropped too. Returns the keys dropped, as they were written.
    std::vector<std::string> refitSweep(const std::vector<int>& newIndexOf);
    // Removes loss `index` (refitSweep); returns the sweep keys dropped.
    std::vector<std::string> removeLoss(std::size_t index);
    // Moves loss `from` to position `to` (refitSweep): its axes follow it.
    void moveLoss(std::size_t from, std::size_t to);

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

// The values of a sweep axis as typed: comma-separated ("1, 5, 15") or a YAML flow list
// ("[1, 5, 15]"). Returns the text inside the list's brackets, trimmed, on one line: "1, 5, 15".
// "[16], [64]" (two list values) is kept; "[[16], [64]]" gives it too. For a list-valued key
// (`listValued`) brackets around plain items are one value: "[64, 64]" stays.
std::string normaliseSweepValues(const std::string& text, bool listValued = false);
// Canonical values (SweepAxis::values, ParamSet texts) as the values text of an axis:
// "1, 5, 15", "[16], [64]"; text the loader would not read back unchanged is quoted.
std::string formatSweepValues(const std::vector<std::string>& canonicalValues);
// The axes of the top-level `sweep:` mapping (block or flow style) whose value is a flow list,
// each with the text inside its brackets as written (comments removed, lines joined). Axes
// written as block lists are left out. A tolerant line reader like sectionKeysStated.
std::vector<FormSweepAxis> sweepAxesStated(const std::string& yamlText);

} // namespace losslab
