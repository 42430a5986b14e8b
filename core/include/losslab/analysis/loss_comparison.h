#pragma once
// The study's analysis over stored runs (pure functions; torch-free, Qt-free):
//  - per task x training recipe x loss (name, k, M, lr) x protocol, over seeds: n, mean,
//    sample std, min, max of every reported metric on train / val / test, taken at the epoch
//    the protocol reports. The training recipe is everything else that defines how a run
//    trains (spec/run_recipe.h): runs pool only when it is the same, whatever experiment
//    stored them; within a group a seed counts once (its newest run);
//  - pairing by seed of each square-loss group with its cross-entropy group of the same task
//    and recipe: differences
//    oriented so that positive always means "square is better" (square - CE for accuracies,
//    CE - square for errors, losses and calibration errors), with a 95 % t interval, the
//    paired t-test and the exact Wilcoxon signed-rank test; unpaired seeds are listed;
//  - across tasks: "square >= CE in X of Y tasks" per metric and domain, and a stricter
//    win / tie / loss count where a tie is an interval that contains 0;
//  - the paper's Table 8: std over seeds per task and loss, the smaller marked.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "losslab/analysis/seed_stats.h"
#include "losslab/analysis/paired_statistics.h"
#include "losslab/spec/run_recipe.h"
#include "losslab/store/records.h"

namespace losslab {

// One run with its metrics at the reported epoch: key "split/metric" ("test/acc").
struct RunResult {
    RunRecord run;
    std::map<std::string, double> reported;
};

// What the analysis knows about a task beyond its id (from the task registry when available).
struct TaskMeta {
    std::string domain = "unknown";
    std::int64_t numClasses = 0;
    std::string testSetNote; // TaskInfo::testSetNote: said under the report's tables
};

struct LossGroupKey {
    std::string taskId;
    RunRecipe recipe; // trainingRecipe(runRecipe(specYaml)): what square and CE runs share
    std::string lossName;
    std::string loss; // "ce" | "square"
    double k = 1.0, M = 1.0, lr = 0.0;
    std::string protocol;
    // What tells `recipe` apart from the task's other recipes in the same analysis
    // (recipeLabels(): "hidden [16]"); "" when the task has one recipe. Not part of the
    // comparisons below: it follows from `recipe`.
    std::string recipeLabel;
    bool operator<(const LossGroupKey& other) const;
    bool operator==(const LossGroupKey& other) const;
    std::string label() const;     // "square (k=1, M=1, lr=0.2), early_stopping"
    std::string taskLabel() const; // "fashion_mnist/mlp (hidden [16])"; the task id alone without a recipe label
};

// The group key of a run, recipeLabel empty. A stored spec that is not readable YAML gives
// the recipe {"spec": "unreadable"}.
LossGroupKey groupKeyOf(const RunRecord& run);
// Sets every key's recipeLabel: per task, recipeLabels() over the task's distinct recipes
// among `keys` (in order of first appearance).
void labelRecipes(std::vector<LossGroupKey*> keys);

struct LossGroup {
    LossGroupKey key;
    int runs = 0;                      // every run of the group
    std::vector<std::int64_t> seeds;   // seeds of completed runs, ascending
    std::map<std::int64_t, std::int64_t> runIds; // seed -> id of the completed run used for it
    std::vector<std::string> notCompleted; // "seed 3: diverged"
    std::map<std::string, SeedStats> stats;                // "test/acc" -> over completed runs
    std::map<std::string, std::map<std::int64_t, double>> values; // "test/acc" -> seed -> value
};

// true for metrics where lower is better (error, loss, ece, brier, and the error rates below).
bool lowerIsBetter(const std::string& metric);

// The error rates of speech tasks by edit distance, in the order tables show them: word,
// phone and character error rate ("wer", "per", "cer"), fractions like "error".
const std::vector<std::string>& errorRateMetrics();
// true for "wer", "per", "cer" with or without a split ("test/wer").
bool isErrorRate(const std::string& metric);

struct SeedComparison {
    std::string taskId;          // square.recipe == ce.recipe: pairs never cross recipes
    std::string metric;          // "test/acc"
    LossGroupKey square;         // the square-loss group
    LossGroupKey ce;             // the cross-entropy group it is paired with
    std::vector<std::int64_t> pairedSeeds;
    std::vector<double> differences; // per paired seed, positive = square better
    std::vector<std::int64_t> squareOnlySeeds, ceOnlySeeds;
    PairedTest test;
};

struct HeadlineCount {
    std::string metric;  // "test/acc"
    std::string domain;  // "all" or a domain
    std::string protocol; // protocol of the square-loss group compared
    int squareAtLeastCe = 0; // by mean over seeds
    int tasks = 0;           // comparisons counted: one per task and recipe
    int wins = 0, ties = 0, losses = 0, undecided = 0; // by the interval (undecided: n < 2)
};

struct StdComparison {
    std::string taskId;
    std::string metric;
    LossGroupKey square, ce;
    double squareStd = 0.0, ceStd = 0.0;
    int squareN = 0, ceN = 0;
    std::string smaller; // "square", "ce", "tie" or "" when undefined
};

struct LossAnalysis {
    std::vector<LossGroup> groups;              // ordered by task, loss (ce first), protocol
    std::vector<SeedComparison> comparisons;
    std::vector<HeadlineCount> headline;
    std::vector<StdComparison> stds;
    int squareSmallerStd = 0, stdComparable = 0; // "square has the smaller std in X of Y"
    std::vector<std::string> notes;             // e.g. "only one loss: no pairing", experiments pooled, duplicate seeds
    std::vector<std::string> taskIds;           // in order of first appearance
    std::map<std::string, TaskMeta> tasks;
    // A square group whose runs took their epoch counts from cross-entropy runs
    // (same_epochs_as_ce, RunRecord::dependsOn) -> the CE group most of them came from: the
    // group it is paired with, here and in the sweep analysis.
    std::map<LossGroupKey, LossGroupKey> epochSources;
};

struct AnalysisOptions {
    std::string split = "test";       // the split of the paired statistics and headline counts
    // empty: acc, and top5 / f1 when present; error rates (wer, per, cer) when present, first
    // when every group has one (a speech-only analysis), after the others otherwise
    std::vector<std::string> metrics;
    double level = 0.95;
};

// Square groups are paired with the CE group of the same task, recipe and protocol (the CE
// early-stopping group for same_epochs_as_ce); when there are several such CE groups, the one
// whose runs the square group's runs name in RunRecord::dependsOn (the CE that chose their
// epoch counts), else the one of the same learning rate (a losses.*.lr sweep: each rate against
// its own, as the sweep heatmaps pair), else the first. When one group holds runs of several experiments (the same recipe stored twice), a
// note names the experiments pooled. When a group holds a seed more than once, the newest run
// (highest id) is used, whatever its status, and a note names the runs left out.
LossAnalysis analyzeRuns(const std::vector<RunResult>& runs, const std::map<std::string, TaskMeta>& tasks,
                         const AnalysisOptions& options = {});

// Protocols in the order tables list them: early stopping, same epochs as CE, fixed epochs,
// then anything else.
int protocolRank(const std::string& protocol);

// The protocol of the CE group that a square-loss group of `squareProtocol` is paired with.
std::string ceProtocolFor(const std::string& squareProtocol);

// The metrics that the main table and the statistics show for `analysis` (acc, then top5
// and f1 where any run has them; error rates as AnalysisOptions::metrics says).
std::vector<std::string> headlineMetrics(const LossAnalysis& analysis, const AnalysisOptions& options);

} // namespace losslab
