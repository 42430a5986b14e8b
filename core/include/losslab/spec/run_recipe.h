#pragma once
// The recipe of a stored run: every resolved setting that shapes the numbers it trains to,
// read from the run's stored YAML (RunRecord::specYaml, written by RunSpec::toYaml()). The
// report pools runs into one group, and pairs square-loss runs with cross-entropy runs,
// only when their recipes are equal (docs/report.md, "Grouping and pairing").
//
// A recipe is a flat map from dotted keys to value text: "task", "protocol", "loss.name",
// "loss.lr", "data.val_fraction", "model.hidden" -> "[16]", ... Nested mappings become dotted
// keys, sequences their flow text ("[60, 120]"), scalars their text as stored. Keys are taken
// generically, whatever keys the YAML holds: a key one run has and another lacks makes their
// recipes differ. Values compare as text; RunSpec::toYaml() writes canonical values, so the
// same setting is the same text.
//
// Left out (recipeExcludedKeys(), the one list of them): the settings that do not change what
// a run trains to, only which run it is, where its data is read from, or how it is executed:
//   seed, device, experiment, sweep, data.root, train.eval_batch_size, train.log_every_steps,
//   runner.*
// (`sweep` lists which keys a sweep varied; their values are in the recipe already.)
//
// Pure functions; torch-free, Qt-free, registry-free; callable from any thread.
#include <map>
#include <string>
#include <vector>

namespace losslab {

using RunRecipe = std::map<std::string, std::string>;

// The keys left out of every recipe. An entry ending in ".*" stands for a whole section.
const std::vector<std::string>& recipeExcludedKeys();
// True when `key` (dotted) is left out of recipes.
bool isRecipeExcludedKey(const std::string& key);

// The recipe of a run from its stored YAML. Empty text gives an empty recipe (runs stored
// without their spec). Throws losslab::Error when the text is not a YAML mapping.
RunRecipe runRecipe(const std::string& specYaml);

// The recipe keys a sweep varied for this run (its stored `sweep:` list, RunSpec::sweepAxes):
// "loss.k", "model.hidden". Empty for runs outside sweeps and for unreadable text.
std::vector<std::string> runSweepAxes(const std::string& specYaml);

// What the square-loss and cross-entropy runs of one comparison share: the recipe without
// "task", "protocol" and the "loss.*" keys (the loss, its name, k, M, learning rate and preset
// are the loss's own, and the report keys them separately).
RunRecipe trainingRecipe(const RunRecipe& recipe);

// One line, for keys and notes: "key=value" pairs in key order joined by "; " ("" when empty).
std::string recipeText(const RunRecipe& recipe);

// For recipes of one task, what tells each apart from the others: for every key whose value
// is not the same in all of them, the key without its section prefix ("model.hidden" ->
// "hidden"; the full key where two differing keys would share a short name), a space and the
// value ("unset" where the recipe lacks the key); several keys joined by ", " in key order:
// "hidden [16]", "hidden [256], lr 0.1". All labels are "" when fewer than two distinct
// recipes are given. Result i belongs to recipes[i]; equal recipes get equal labels.
std::vector<std::string> recipeLabels(const std::vector<RunRecipe>& recipes);

} // namespace losslab
