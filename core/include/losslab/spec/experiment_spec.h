#pragma once
// An experiment file, resolved: every key has a value (built-in default < task recipe <
// file < --set), checked against its declaration, and expanded into RunSpecs. Torch-free.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "losslab/spec/param_set.h"

namespace losslab {

class TaskRegistry;

enum class LossKind { CrossEntropy, Square };
enum class Protocol { EarlyStopping, SameEpochsAsCe, FixedEpochs };

const char* lossKindName(LossKind kind);   // "ce", "square"
const char* protocolName(Protocol protocol); // "early_stopping", ...
LossKind parseLossKind(const std::string& text, const std::string& where);
Protocol parseProtocol(const std::string& text, const std::string& where);

struct LossSpec {
    std::string name;  // label, unique in the experiment ("ce", "square", "square_k15_M30")
    LossKind kind = LossKind::CrossEntropy;
    double k = 1.0;    // weight of the true class term (square loss only)
    double M = 1.0;    // scale of the one-hot target (square loss only)
    double lr = 0.0;   // this loss's learning rate
    std::string preset; // "paper" when k and M came from Table 9 / the class-count rule
};

// One line of an experiment's `sweep:` block: a dotted key and the values it takes. The grid
// is the product of every axis; each point is run for every seed (docs/sweeps.md).
//  - a loss key: "losses.N.lr" / "losses.N.k" / "losses.N.M" (loss N only) or "losses.*.lr",
//    "losses.*.k", "losses.*.M" (every loss; k and M: every square loss);
//  - any other declared key ("model.hidden", "train.weight_decay", "data.limit_train"), which
//    applies to every loss. train.lr is refused: it is only the default of losses.*.lr.
struct SweepAxis {
    std::string key;                 // as written
    std::vector<std::string> values; // canonical texts, in the order written, distinct
    int lossIndex = -2;              // loss N; -1 for "losses.*"; -2 for a key outside losses
    bool isLossAxis() const { return lossIndex != -2; }
    // The key a run's recipe holds for this axis (spec/run_recipe.h): "loss.k", "loss.M",
    // "loss.lr" for a loss axis, `key` otherwise.
    std::string recipeKey() const;
};

struct RunSpec {
    std::string experiment;
    std::string taskId;
    LossSpec loss;
    Protocol protocol = Protocol::EarlyStopping;
    std::int64_t seed = 0;
    std::string device;        // as requested: "auto", "cpu", "cuda", "cuda:1"
    ParamSet params;           // data.*, train.*, model.*, runner.*
    int dependsOn = -1;        // index into the expanded run list (the CE early-stopping run)
    // Recipe keys of the sweep axes that vary this run ("loss.k", "model.hidden"); empty
    // outside sweeps. Stored as the run's `sweep:` list; the report draws heatmaps over them.
    std::vector<std::string> sweepAxes;

    std::string toYaml() const; // the fully resolved run, stored with it
};

struct ExperimentSpec {
    std::string name;
    std::string description;
    std::string taskId;
    std::string sourcePath; // file it came from ("" for built in)
    std::vector<LossSpec> losses;
    std::vector<Protocol> protocols;
    std::vector<std::int64_t> seeds;
    std::string device = "auto";
    ParamSet params;
    std::vector<SweepAxis> sweep; // empty: no sweep

    std::string toYaml() const; // resolved experiment: re-loadable by loadExperimentText
    // The parameters of each point of the sweep's axes outside `losses` (one ParamSet, equal
    // to `params`, without such axes), first axis varying slowest.
    std::vector<ParamSet> gridParams() const;
    // Grid points of the whole sweep, and how many configurations loss `i` is given (its own
    // loss axes x the axes outside `losses`); 1 and 1 without a sweep.
    std::size_t gridPointCount() const;
    std::size_t configurationsOf(std::size_t lossIndex) const;
    // grid point x loss (x its own sweep values) x protocol x seed, dependencies set. Runs of
    // one seed and grid point come together, those others depend on first. A square loss's
    // same_epochs_as_ce run depends on the CE early-stopping run of its seed and grid point
    // that has the same values on the axes both are swept over (losses.*.lr), else the first.
    std::vector<RunSpec> expand() const;
};

// For each run, the index of the run whose first epochs it repeats bit for bit where runs
// are deterministic, or -1: a square loss's same_epochs_as_ce run trains exactly what the
// early-stopping run of the same loss, recipe and seed trains in its first epochs (same data,
// initialisation, batch order, augmentation and learning-rate schedule). runner.reuse_prefix
// takes its result from there instead of training it again.
std::vector<int> prefixSources(const std::vector<RunSpec>& runs);

// The expanded runs in independent units: each run together with the run it depends on
// and every run that depends on the same run, so a unit never waits on another. A run's
// prefix source (prefixSources) may fall in another unit: then that run trains itself, which
// keeps the units small enough to spread over a cluster. Units in
// order of their first run; run indices ascending. `losslab-cli plan --slurm` makes one
// array task of each; `run --task-index i` runs unit i.
std::vector<std::vector<int>> independentUnits(const std::vector<RunSpec>& runs);

struct SpecOverride {
    // A constructor rather than an aggregate: {"seeds", "3"} leaves `literal` and `option` at
    // their defaults without g++ 14's -Wmissing-field-initializers.
    SpecOverride() = default;
    SpecOverride(std::string key, std::string value, bool literal = false, std::string option = {})
        : key(std::move(key)), value(std::move(value)), literal(literal), option(std::move(option)) {}
    std::string key;   // dotted path; list items by index ("losses.1.lr")
    std::string value; // YAML scalar or flow text ("[1, 2, 3]")
    bool literal = false; // value is a plain string, not YAML: `--device cuda:` is "cuda:", not a mapping
    std::string option;   // the shortcut that gave it ("--device"), named in errors; empty: --set key=value
};
// Parses "key=value"; throws Error on a malformed argument.
SpecOverride parseOverride(const std::string& argument);

// Reads back a run stored with RunSpec::toYaml() (for resuming it). Throws Error when the
// text is not such a run or names a task that is not registered.
RunSpec parseRunSpecYaml(const std::string& yamlText, const std::string& displayName, const TaskRegistry& tasks);

// What data.val_fraction "auto" means for a protocol: 0.1 where the protocol needs a
// validation set (early_stopping, and same_epochs_as_ce, which trains on the data of the
// early-stopping run it matches), 0 for fixed_epochs.
double defaultValidationFraction(Protocol protocol);

// The core's own keys (data.*, train.*, runner.*) with defaults and bounds.
const std::vector<ParamDecl>& coreParamDecls();

// The text of an experiment file. Error naming the path for a folder, a file that cannot be
// read, and one over 1 MiB; at most 1 MiB and a byte is read, so a stream (/dev/zero) ends too.
std::string readExperimentFile(const std::string& path);

// Loads and validates. Errors name the file, line and column (or the --set argument),
// the key and what was expected; unknown keys and tasks list the known ones.
ExperimentSpec loadExperimentFile(const std::string& path, const std::vector<SpecOverride>& overrides,
                                  const TaskRegistry& tasks);
ExperimentSpec loadExperimentText(const std::string& yamlText, const std::string& displayName,
                                  const std::vector<SpecOverride>& overrides,
                                  const TaskRegistry& tasks);

} // namespace losslab
