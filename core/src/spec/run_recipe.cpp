#include "losslab/spec/run_recipe.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "losslab/error.h"

namespace losslab {
namespace {

// Flow text of a value below the top level of the mapping: "[16]", "[a, b]", "{x: 1}".
std::string valueText(const YAML::Node& node) {
    if (node.IsScalar()) return node.Scalar();
    if (node.IsSequence()) {
        std::string out = "[";
        for (std::size_t i = 0; i < node.size(); ++i) out += (i ? ", " : "") + valueText(node[i]);
        return out + "]";
    }
    if (node.IsMap()) {
        std::string out = "{";
        bool first = true;
        for (const auto& kv : node) {
            out += (first ? "" : ", ") + kv.first.Scalar() + ": " + valueText(kv.second);
            first = false;
        }
        return out + "}";
    }
    return ""; // null
}

void flatten(const YAML::Node& node, const std::string& prefix, RunRecipe& out) {
    for (const auto& kv : node) {
        const std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
        if (isRecipeExcludedKey(key)) continue;
        if (kv.second.IsMap()) flatten(kv.second, key, out);
        else out[key] = valueText(kv.second);
    }
}

std::string shortKey(const std::string& key) {
    const auto dot = key.find('.');
    return dot == std::string::npos ? key : key.substr(dot + 1);
}

} // namespace

const std::vector<std::string>& recipeExcludedKeys() {
    // Which run this is, where it runs, where its data is read from, how fast it evaluates,
    // how often it logs and how it launches its kernels (a CUDA graph replays the same ones):
    // none of these changes the numbers a run trains to.
    static const std::vector<std::string> keys = {"seed", "device", "experiment", "sweep", "data.root", "train.eval_batch_size",
                                                  "train.log_every_steps", "train.cuda_graphs", "runner.*"};
    return keys;
}

bool isRecipeExcludedKey(const std::string& key) {
    for (const auto& excluded : recipeExcludedKeys()) {
        if (excluded.size() > 2 && excluded.compare(excluded.size() - 2, 2, ".*") == 0) {
            const std::string section = excluded.substr(0, excluded.size() - 1); // "runner."
            if (key.compare(0, section.size(), section) == 0 || key == section.substr(0, section.size() - 1)) return true;
        } else if (key == excluded) {
            return true;
        }
    }
    return false;
}

RunRecipe runRecipe(const std::string& specYaml) {
    RunRecipe out;
    if (specYaml.find_first_not_of(" \t\r\n") == std::string::npos) return out;
    YAML::Node root;
    try {
        root = YAML::Load(specYaml);
    } catch (const YAML::Exception& e) {
        throw Error(std::string("stored run spec: not valid YAML: ") + e.what());
    }
    if (!root.IsMap()) throw Error("stored run spec: expected a mapping of keys (task, loss, protocol, ...)");
    flatten(root, "", out);
    return out;
}

std::vector<std::string> runSweepAxes(const std::string& specYaml) {
    std::vector<std::string> axes;
    try {
        const YAML::Node root = YAML::Load(specYaml);
        if (!root.IsMap() || !root["sweep"].IsSequence()) return axes;
        for (const auto& item : root["sweep"])
            if (item.IsScalar()) axes.push_back(item.Scalar());
    } catch (const YAML::Exception&) {
    }
    return axes;
}

RunRecipe trainingRecipe(const RunRecipe& recipe) {
    RunRecipe out;
    for (const auto& [key, value] : recipe)
        if (key != "task" && key != "protocol" && key != "loss" && key.compare(0, 5, "loss.") != 0) out[key] = value;
    return out;
}

std::string recipeText(const RunRecipe& recipe) {
    std::string out;
    for (const auto& [key, value] : recipe) out += (out.empty() ? "" : "; ") + key + "=" + value;
    return out;
}

std::vector<std::string> recipeLabels(const std::vector<RunRecipe>& recipes) {
    std::vector<std::string> labels(recipes.size());
    if (recipes.empty()) return labels;
    // Keys whose value (or presence) is not the same in every recipe.
    std::set<std::string> keys;
    for (const auto& r : recipes)
        for (const auto& kv : r) keys.insert(kv.first);
    std::vector<std::string> differing;
    for (const auto& key : keys) {
        const auto first = recipes.front().find(key);
        for (const auto& r : recipes) {
            const auto it = r.find(key);
            const bool same = (it == r.end()) == (first == recipes.front().end()) &&
                              (it == r.end() || it->second == first->second);
            if (!same) {
                differing.push_back(key);
                break;
            }
        }
    }
    std::map<std::string, int> shortCount;
    for (const auto& key : differing) ++shortCount[shortKey(key)];
    for (std::size_t i = 0; i < recipes.size(); ++i) {
        std::string label;
        for (const auto& key : differing) {
            const std::string name = shortCount[shortKey(key)] > 1 ? key : shortKey(key);
            const auto it = recipes[i].find(key);
            const std::string value = it == recipes[i].end() ? "unset" : it->second.empty() ? "\"\"" : it->second;
            label += (label.empty() ? "" : ", ") + name + " " + value;
        }
        labels[i] = label;
    }
    return labels;
}

} // namespace losslab
