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

struct RunSpec {
    std::string experiment;
    std::string taskId;
    LossSpec loss;
    Protocol protocol = Protocol::EarlyStopping;
    std::int64_t seed = 0;
    std::string device;        // as requested: "auto", "cpu", "cuda", "cuda:1"
    ParamSet params;           // data.*, train.*, model.*, runner.*
    int dependsOn = -1;        // index into the expanded run list (the CE early-stopping run)

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

    std::string toYaml() const; // resolved experiment: re-loadable by loadExperimentText
    std::vector<RunSpec> expand() const; // task x loss x protocol x seed, dependencies set
};

struct SpecOverride {
    std::string key;   // dotted path; list items by index ("losses.1.lr")
    std::string value; // YAML scalar or flow text ("[1, 2, 3]")
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

// Loads and validates. Errors name the file, line and column (or the --set argument),
// the key and what was expected; unknown keys and tasks list the known ones.
ExperimentSpec loadExperimentFile(const std::string& path, const std::vector<SpecOverride>& overrides,
                                  const TaskRegistry& tasks);
ExperimentSpec loadExperimentText(const std::string& yamlText, const std::string& displayName,
                                  const std::vector<SpecOverride>& overrides,
                                  const TaskRegistry& tasks);

} // namespace losslab
