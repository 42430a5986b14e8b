#include "losslab/spec/experiment_spec.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "../data/text/text_file.h"
#include "losslab/error.h"
#include "losslab/losses/paper_rescaling.h"
#include "losslab/spec/run_recipe.h"
#include "losslab/tasks/task_registry.h"

namespace losslab {
namespace {

constexpr std::size_t kMaxSpecBytes = 1 << 20; // an experiment file is small; refuse a huge one
// Real files have a few hundred nodes. Aliases make a small text a huge (or, through an anchor
// used inside itself, cyclic) tree that every later walk would follow, so they count at each use.
constexpr std::size_t kMaxSpecNodes = 100000;

// Where a node came from: "file:line:col", or the --set argument that produced it.
class Locator {
public:
    Locator(std::string file, std::map<std::string, std::string> overridden)
        : m_file(std::move(file)), m_overridden(std::move(overridden)) {}

    std::string at(const YAML::Node& node, const std::string& path) const {
        // A path at, below or above an overridden key came from --set (a misspelt section
        // given by --set is reported at the section's name, above the key).
        for (const auto& [key, arg] : m_overridden)
            if (path == key || path.rfind(key + ".", 0) == 0 || key.rfind(path + ".", 0) == 0) return arg;
        if (!node.IsDefined()) return m_file; // a missing key has no position
        const YAML::Mark mark = node.Mark();
        if (mark.is_null()) return m_file;
        return m_file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
    }
    const std::string& file() const { return m_file; }

private:
    std::string m_file;
    std::map<std::string, std::string> m_overridden;
};

std::string joinStrings(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::vector<std::string> splitDots(const std::string& key) {
    std::vector<std::string> parts;
    std::stringstream ss(key);
    std::string part;
    while (std::getline(ss, part, '.')) parts.push_back(part);
    return parts;
}

bool isIndex(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

YAML::Node parseOverrideValue(const std::string& text) {
    try {
        YAML::Node n = YAML::Load(text);
        if (n.IsNull() && !text.empty() && text != "null" && text != "~") return YAML::Node(text);
        return n;
    } catch (const YAML::Exception&) {
        return YAML::Node(text); // not YAML: take it as a plain string
    }
}

YAML::Node overrideValue(const SpecOverride& o) { return o.literal ? YAML::Node(o.value) : parseOverrideValue(o.value); }

void applyOverride(YAML::Node root, const SpecOverride& o) {
    const std::vector<std::string> parts = splitDots(o.key);
    if (parts.empty() || std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty(); }))
        throw Error("--set " + o.key + "=" + o.value + ": the key must be a dotted path such as train.patience");
    YAML::Node node = root;
    std::string path;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        const std::string& part = parts[i];
        path += (path.empty() ? "" : ".") + part;
        const bool last = i + 1 == parts.size();
        if (node.IsSequence()) {
            if (!isIndex(part) || part.size() > 9 || std::stoul(part) >= node.size())
                throw Error("--set " + o.key + "=" + o.value + ": '" + path + "' addresses a list of " +
                            std::to_string(node.size()) + " items; use an index from 0 to " +
                            std::to_string(node.size() == 0 ? 0 : node.size() - 1));
            const std::size_t idx = std::stoul(part);
            if (last) {
                node[idx] = overrideValue(o);
                return;
            }
            node.reset(node[idx]);
            continue;
        }
        if (!node.IsMap() && !node.IsNull())
            throw Error("--set " + o.key + "=" + o.value + ": '" + path + "' is inside a value that is not a mapping");
        if (last) {
            node[part] = overrideValue(o);
            return;
        }
        // yaml-cpp: "a = b" on nodes overwrites a's content; reset() rebinds a handle.
        if (!node[part].IsDefined() || node[part].IsNull()) node[part] = YAML::Node(YAML::NodeType::Map);
        YAML::Node child;
        child.reset(node[part]);
        node.reset(child);
    }
}

std::string scalarText(const YAML::Node& node) {
    if (node.IsScalar()) return node.Scalar();
    if (node.IsNull()) return "";
    if (node.IsSequence()) {
        std::string out = "[";
        for (std::size_t i = 0; i < node.size(); ++i) {
            if (!node[i].IsScalar()) return "\x01";
            out += (i ? ", " : "") + node[i].Scalar();
        }
        return out + "]";
    }
    return "\x01"; // a mapping where a value was expected
}

void emitValue(YAML::Emitter& out, const std::string& canonical, ParamType type) {
    if (type == ParamType::IntList || type == ParamType::DoubleList) {
        YAML::Node n = YAML::Load(canonical);
        out << YAML::Flow << n;
    } else if (type == ParamType::String || type == ParamType::Path) {
        out << YAML::DoubleQuoted << canonical; // "[shared]/data" or "" stay strings
    } else {
        out << canonical;
    }
}

void emitParams(YAML::Emitter& out, const ParamSet& params) {
    std::map<std::string, std::vector<std::string>> sections;
    for (const auto& kv : params.values()) {
        const auto dot = kv.first.find('.');
        sections[kv.first.substr(0, dot)].push_back(kv.first);
    }
    for (const auto& [section, keys] : sections) {
        out << YAML::Key << section << YAML::Value << YAML::BeginMap;
        for (const auto& key : keys) {
            out << YAML::Key << key.substr(section.size() + 1) << YAML::Value;
            emitValue(out, params.raw(key), params.type(key));
        }
        out << YAML::EndMap;
    }
}

void emitLoss(YAML::Emitter& out, const LossSpec& l) {
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << l.name;
    out << YAML::Key << "loss" << YAML::Value << lossKindName(l.kind);
    out << YAML::Key << "lr" << YAML::Value << formatShortest(l.lr);
    if (l.kind == LossKind::Square) {
        out << YAML::Key << "k" << YAML::Value << formatShortest(l.k);
        out << YAML::Key << "M" << YAML::Value << formatShortest(l.M);
        if (!l.preset.empty()) out << YAML::Key << "preset" << YAML::Value << l.preset;
    }
    out << YAML::EndMap;
}

const std::vector<std::string> kTopKeys = {"name", "description", "task", "losses", "protocols", "seeds",
                                           "device", "data", "train", "model", "runner", "sweep"};
const std::vector<std::string> kSweepLossKeys = {"lr", "k", "M"};
// A sweep larger than this is a typo (a list pasted twice), not a plan.
constexpr std::size_t kMaxGridPoints = 100000;
const std::vector<std::string> kSections = {"data", "train", "model", "runner"};
const std::vector<std::string> kLossKeys = {"loss", "name", "lr", "k", "M", "preset"};

class Resolver {
public:
    Resolver(const Locator& loc, const TaskRegistry& tasks) : m_loc(loc), m_tasks(tasks) {}

    ExperimentSpec resolve(const YAML::Node& root) {
        if (!root.IsMap())
            throw Error(m_loc.file() + ": expected a mapping of keys (name, task, losses, ...) at the top level");
        for (const auto& kv : root) {
            const std::string key = kv.first.Scalar();
            if (std::find(kTopKeys.begin(), kTopKeys.end(), key) == kTopKeys.end())
                throw Error(m_loc.at(kv.first, key) + ": unknown key '" + key + "'; known keys: " + joinStrings(kTopKeys));
        }
        ExperimentSpec spec;
        spec.sourcePath = m_loc.file();
        spec.taskId = requiredString(root, "task");
        if (!m_tasks.findInfo(spec.taskId))
            throw Error(m_loc.at(root["task"], "task") + ": unknown task '" + spec.taskId +
                        "'; known tasks: " + joinStrings(m_tasks.ids()));
        const TaskInfo& task = m_tasks.requireInfo(spec.taskId);
        spec.name = optionalString(root, "name", defaultName());
        if (root["name"].IsDefined() && !root["name"].IsNull()) checkName(spec.name, root["name"], "name");
        if (spec.name.empty()) // the runs are stored under it
            throw Error(m_loc.at(root["name"], "name") + ": name: expected a non-empty string (the name the runs are stored under)");
        spec.description = optionalString(root, "description", "");
        spec.device = optionalString(root, "device", "auto");
        checkDevice(spec.device, root["device"]);
        spec.params = resolveParams(root, task);
        spec.losses = resolveLosses(root, task, classCount(task, spec.params), spec.params.getDouble("train.lr"));
        spec.protocols = resolveProtocols(root);
        spec.seeds = resolveSeeds(root);
        spec.sweep = resolveSweep(root, task, spec);
        nameSweptLosses(root, spec);
        checkConsistency(spec, root);
        return spec;
    }

private:
    std::string defaultName() const {
        std::string f = m_loc.file();
        const auto slash = f.find_last_of('/');
        if (slash != std::string::npos) f = f.substr(slash + 1);
        const auto dot = f.find_last_of('.');
        return dot == std::string::npos ? f : f.substr(0, dot);
    }

    std::string requiredString(const YAML::Node& root, const std::string& key) {
        const YAML::Node n = root[key];
        if (!n.IsDefined() || n.IsNull())
            throw Error(m_loc.file() + ": missing key '" + key + "'" +
                        (key == "task" ? "; known tasks: " + joinStrings(m_tasks.ids()) : ""));
        if (!n.IsScalar()) throw Error(m_loc.at(n, key) + ": " + key + ": expected a string");
        return n.Scalar();
    }

    std::string optionalString(const YAML::Node& root, const std::string& key, const std::string& fallback) {
        const YAML::Node n = root[key];
        if (!n.IsDefined() || n.IsNull()) return fallback;
        if (!n.IsScalar()) throw Error(m_loc.at(n, key) + ": " + key + ": expected a string");
        return n.Scalar();
    }

    // Names are labels in every table and stored with the runs: "ce " next to "ce" would be two
    // losses that read the same, and a line break or tab breaks the CSV and Markdown rows.
    void checkName(const std::string& name, const YAML::Node& node, const std::string& path) {
        const std::string where = m_loc.at(node, path) + ": " + path;
        if (name.find_first_not_of(' ') == std::string::npos)
            throw Error(where + ": expected a non-empty string" + (path == "name" ? " (the name the runs are stored under)" : ""));
        for (const char c : name)
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
                throw Error(where + ": the name has a control character (" + Internal::hexByte(static_cast<unsigned char>(c)) +
                            "); expected a name on one line, without tabs");
        if (name.front() == ' ' || name.back() == ' ')
            throw Error(where + ": '" + name + "' has a space at its start or end; write the name without it");
    }

    void checkDevice(const std::string& device, const YAML::Node& node) {
        bool ok = device == "auto" || device == "cpu" || device == "cuda";
        if (!ok && device.rfind("cuda:", 0) == 0) ok = isIndex(device.substr(5));
        if (!ok)
            throw Error(m_loc.at(node, "device") + ": device: expected auto, cpu, cuda or cuda:N, got '" + device + "'");
    }

    ParamSet resolveParams(const YAML::Node& root, const TaskInfo& task) {
        std::map<std::string, ParamDecl> decls;
        for (const auto& d : coreParamDecls()) decls[d.key] = d;
        for (const auto& d : task.params) decls[d.key] = d;
        ParamSet params;
        for (const auto& [key, d] : decls) params.set(key, canonicalParamValue(d, d.defaultValue, "default of " + key), d.type);
        for (const auto& [key, value] : task.recipe) {
            const auto it = decls.find(key);
            if (it == decls.end()) throw Error("task " + task.id + ": its recipe sets unknown key '" + key + "'");
            params.set(key, canonicalParamValue(it->second, value, "recipe of task " + task.id), it->second.type);
        }
        for (const auto& section : kSections) {
            const YAML::Node sec = root[section];
            if (!sec.IsDefined() || sec.IsNull()) continue;
            if (!sec.IsMap())
                throw Error(m_loc.at(sec, section) + ": " + section + ": expected a mapping of keys");
            for (const auto& kv : sec) {
                const std::string key = section + "." + kv.first.Scalar();
                const auto it = decls.find(key);
                if (it == decls.end()) {
                    std::vector<std::string> known;
                    for (const auto& [k, d] : decls)
                        if (k.rfind(section + ".", 0) == 0) known.push_back(k);
                    throw Error(m_loc.at(kv.first, key) + ": unknown key '" + key + "'" +
                                (known.empty() ? " (task " + task.id + " has no " + section + " keys)"
                                               : "; known keys: " + joinStrings(known)));
                }
                const std::string text = scalarText(kv.second);
                if (text == "\x01")
                    throw Error(m_loc.at(kv.second, key) + ": " + key + ": expected " +
                                paramTypeName(it->second.type) + ", got a nested structure");
                params.set(key, canonicalParamValue(it->second, text, m_loc.at(kv.second, key)), it->second.type);
            }
        }
        return params;
    }

    double positiveNumber(const YAML::Node& n, const std::string& path) {
        if (!n.IsScalar())
            throw Error(m_loc.at(n, path) + ": " + path + ": expected a number > 0, got " +
                        (n.IsSequence() ? "a list" : n.IsMap() ? "a mapping" : "no value"));
        ParamDecl d{path, ParamType::Double, "", "", std::nullopt, std::nullopt, {}};
        const std::string canon = canonicalParamValue(d, n.IsScalar() ? n.Scalar() : "(not a number)", m_loc.at(n, path));
        const double v = parseFiniteNumber(canon, m_loc.at(n, path));
        if (v <= 0) throw Error(m_loc.at(n, path) + ": " + path + ": expected a number > 0, got '" + n.Scalar() + "'");
        return v;
    }

    std::vector<LossSpec> resolveLosses(const YAML::Node& root, const TaskInfo& task, std::int64_t classes, double defaultLr) {
        const YAML::Node losses = root["losses"];
        if (!losses.IsDefined() || losses.IsNull())
            throw Error(m_loc.file() + ": missing key 'losses' (for example: losses: [{loss: ce}, {loss: square}])");
        if (!losses.IsSequence() || losses.size() == 0)
            throw Error(m_loc.at(losses, "losses") + ": losses: expected a non-empty list of losses");
        std::vector<LossSpec> out;
        std::set<std::string> names;
        for (std::size_t i = 0; i < losses.size(); ++i) {
            const YAML::Node entry = losses[i];
            const std::string path = "losses." + std::to_string(i);
            LossSpec l;
            l.lr = defaultLr;
            YAML::Node kindNode = entry;
            if (entry.IsMap()) {
                for (const auto& kv : entry) {
                    const std::string key = kv.first.Scalar();
                    if (std::find(kLossKeys.begin(), kLossKeys.end(), key) == kLossKeys.end())
                        throw Error(m_loc.at(kv.first, path + "." + key) + ": unknown key '" + path + "." + key +
                                    "'; a loss has: " + joinStrings(kLossKeys));
                }
                kindNode.reset(entry["loss"].IsDefined() ? entry["loss"] : YAML::Node(YAML::NodeType::Undefined)); // rebind: "=" would overwrite the entry
                if (!kindNode.IsDefined())
                    throw Error(m_loc.at(entry, path) + ": " + path + ": missing 'loss' (ce or square)");
            } else if (!entry.IsScalar()) {
                throw Error(m_loc.at(entry, path) + ": " + path + ": expected a loss (ce or square) or a mapping");
            }
            if (!kindNode.IsScalar())
                throw Error(m_loc.at(kindNode, path + ".loss") + ": " + path + ".loss: expected ce or square");
            l.kind = parseLossKind(kindNode.Scalar(), m_loc.at(kindNode, path + ".loss"));
            if (entry.IsMap()) {
                if (entry["lr"].IsDefined()) l.lr = positiveNumber(entry["lr"], path + ".lr");
                const bool hasK = entry["k"].IsDefined(), hasM = entry["M"].IsDefined();
                const bool hasPreset = entry["preset"].IsDefined();
                if (l.kind == LossKind::CrossEntropy && (hasK || hasM || hasPreset)) {
                    const YAML::Node bad = hasK ? entry["k"] : hasM ? entry["M"] : entry["preset"];
                    throw Error(m_loc.at(bad, path) + ": " + path +
                                ": k, M and preset apply to the square loss only, not to cross-entropy");
                }
                if (hasPreset) {
                    const YAML::Node p = entry["preset"];
                    if (!p.IsScalar() || (p.Scalar() != "paper" && p.Scalar() != "none"))
                        throw Error(m_loc.at(p, path + ".preset") + ": " + path + ".preset: expected paper or none");
                    if (p.Scalar() == "paper") {
                        const Rescaling r = paperRescaling(task.paperDataset, classes);
                        l.k = r.k;
                        l.M = r.M;
                        l.preset = "paper";
                    }
                }
                if (hasK) l.k = positiveNumber(entry["k"], path + ".k");
                if (hasM) l.M = positiveNumber(entry["M"], path + ".M");
                if (entry["name"].IsDefined()) {
                    if (!entry["name"].IsScalar() || entry["name"].Scalar().empty())
                        throw Error(m_loc.at(entry["name"], path + ".name") + ": " + path + ".name: expected a non-empty string");
                    checkName(entry["name"].Scalar(), entry["name"], path + ".name");
                    l.name = entry["name"].Scalar();
                }
            }
            if (l.name.empty()) {
                l.name = lossKindName(l.kind);
                if (l.kind == LossKind::Square && (l.k != 1.0 || l.M != 1.0))
                    l.name = "square_k" + formatShortest(l.k) + "_M" + formatShortest(l.M); // every digit: k = 15.0000001 is not 15
            }
            if (!names.insert(l.name).second)
                throw Error(m_loc.at(entry, path) + ": two losses are named '" + l.name +
                            "'; give each a distinct 'name'");
            out.push_back(l);
        }
        return out;
    }

    std::vector<Protocol> resolveProtocols(const YAML::Node& root) {
        const YAML::Node n = root["protocols"];
        if (!n.IsDefined() || n.IsNull()) return {Protocol::EarlyStopping};
        std::vector<Protocol> out;
        auto add = [&](const YAML::Node& item, const std::string& path) {
            if (!item.IsScalar())
                throw Error(m_loc.at(item, path) + ": " + path + ": expected early_stopping, same_epochs_as_ce or fixed_epochs");
            const Protocol p = parseProtocol(item.Scalar(), m_loc.at(item, path));
            if (std::find(out.begin(), out.end(), p) == out.end()) out.push_back(p);
        };
        if (n.IsSequence()) {
            for (std::size_t i = 0; i < n.size(); ++i) add(n[i], "protocols." + std::to_string(i));
        } else {
            add(n, "protocols");
        }
        if (out.empty()) throw Error(m_loc.at(n, "protocols") + ": protocols: expected at least one protocol");
        return out;
    }

    std::vector<std::int64_t> resolveSeeds(const YAML::Node& root) {
        const YAML::Node n = root["seeds"];
        ParamDecl d{"seeds", ParamType::Int, "", "", 0.0, 1e15, {}};
        if (!n.IsDefined() || n.IsNull()) return {0, 1, 2, 3, 4};
        std::vector<std::int64_t> out;
        if (n.IsScalar()) {
            ParamDecl count{"seeds", ParamType::Int, "", "", 1.0, 10000.0, {}};
            const std::int64_t c = std::stoll(canonicalParamValue(count, n.Scalar(), m_loc.at(n, "seeds")));
            for (std::int64_t s = 0; s < c; ++s) out.push_back(s);
            return out;
        }
        if (!n.IsSequence() || n.size() == 0)
            throw Error(m_loc.at(n, "seeds") + ": seeds: expected a count (5) or a non-empty list of seeds ([0, 1, 2])");
        for (std::size_t i = 0; i < n.size(); ++i) {
            const std::string path = "seeds." + std::to_string(i);
            if (!n[i].IsScalar()) throw Error(m_loc.at(n[i], path) + ": " + path + ": expected a non-negative integer");
            d.key = path;
            const std::int64_t s = std::stoll(canonicalParamValue(d, n[i].Scalar(), m_loc.at(n[i], path)));
            if (std::find(out.begin(), out.end(), s) != out.end())
                throw Error(m_loc.at(n[i], path) + ": seed " + std::to_string(s) + " is listed twice");
            out.push_back(s);
        }
        return out;
    }

    std::vector<SweepAxis> resolveSweep(const YAML::Node& root, const TaskInfo& task, const ExperimentSpec& spec) {
        const YAML::Node n = root["sweep"];
        if (!n.IsDefined() || n.IsNull()) return {};
        if (!n.IsMap())
            throw Error(m_loc.at(n, "sweep") +
                        ": sweep: expected a mapping from dotted keys to lists of values, for example "
                        "{losses.1.k: [1, 5, 15], losses.1.M: [1, 10, 30]}");
        std::map<std::string, ParamDecl> decls;
        for (const auto& d : coreParamDecls()) decls[d.key] = d;
        for (const auto& d : task.params) decls[d.key] = d;
        std::vector<SweepAxis> axes;
        std::size_t points = 1;
        for (const auto& kv : n) {
            SweepAxis axis;
            axis.key = kv.first.Scalar();
            const std::string path = "sweep." + axis.key;
            const std::string where = m_loc.at(kv.first, path);
            const YAML::Node values = kv.second;
            if (!values.IsSequence() || values.size() == 0)
                throw Error(m_loc.at(values, path) + ": " + path + ": expected a non-empty list of values, for example [1, 5, 15]");
            const std::vector<std::string> parts = splitDots(axis.key);
            std::optional<ParamDecl> decl;
            if (!parts.empty() && parts[0] == "losses") {
                axis.lossIndex = lossAxisIndex(parts, axis.key, where, spec);
            } else {
                if (axis.key == "train.lr")
                    throw Error(where + ": sweep: train.lr is only the default of losses without their own lr; sweep "
                                        "losses.*.lr (every loss) or losses.N.lr (loss N) instead");
                const auto it = decls.find(axis.key);
                if (it == decls.end())
                    throw Error(where + ": sweep: unknown key '" + axis.key +
                                "'; a sweep varies losses.N.lr / losses.N.k / losses.N.M (N a loss's index from 0, or * "
                                "for every loss) or a declared key such as train.weight_decay or model.* (losslab-cli "
                                "tasks --verbose lists a task's keys)");
                if (isRecipeExcludedKey(axis.key))
                    throw Error(where + ": sweep: " + axis.key +
                                " does not change what a run trains to (where data is read, how fast it evaluates, "
                                "how it is executed), so its grid points would be the same runs; sweep a setting of "
                                "the training instead");
                decl = it->second;
            }
            for (std::size_t i = 0; i < values.size(); ++i) {
                const std::string itemPath = path + "." + std::to_string(i);
                const YAML::Node item = values[i];
                std::string canonical;
                if (decl) {
                    const std::string text = scalarText(item);
                    if (text == "\x01")
                        throw Error(m_loc.at(item, itemPath) + ": " + itemPath + ": expected " + paramTypeName(decl->type) +
                                    ", got a nested structure");
                    canonical = canonicalParamValue(*decl, text, m_loc.at(item, itemPath));
                } else {
                    canonical = formatShortest(positiveNumber(item, itemPath));
                }
                if (std::find(axis.values.begin(), axis.values.end(), canonical) != axis.values.end())
                    throw Error(m_loc.at(item, itemPath) + ": " + path + ": the value " + canonical +
                                " is listed twice; each grid point is run once per seed");
                axis.values.push_back(canonical);
            }
            for (const auto& other : axes)
                // Equal indices too: "losses.1.k" and "losses.01.k" are two keys for one value.
                if (other.isLossAxis() && axis.isLossAxis() && other.recipeKey() == axis.recipeKey() &&
                    (other.lossIndex == -1 || axis.lossIndex == -1 || other.lossIndex == axis.lossIndex))
                    throw Error(where + ": sweep: " + other.key + " and " + axis.key + " both sweep " +
                                axis.recipeKey().substr(5) + " of the same loss; keep one of them");
            points *= axis.values.size();
            if (points > kMaxGridPoints)
                throw Error(where + ": sweep: the grid has more than " + std::to_string(kMaxGridPoints) +
                            " points; split it into several experiments");
            axes.push_back(std::move(axis));
        }
        return axes;
    }

    // "losses.1.k" -> 1, "losses.*.lr" -> -1; errors name the key and what the losses are.
    int lossAxisIndex(const std::vector<std::string>& parts, const std::string& key, const std::string& where,
                      const ExperimentSpec& spec) {
        if (parts.size() != 3 || std::find(kSweepLossKeys.begin(), kSweepLossKeys.end(), parts[2]) == kSweepLossKeys.end())
            throw Error(where + ": sweep: '" + key + "': a loss key is losses.N.lr, losses.N.k or losses.N.M, with N " +
                        "a loss's index from 0 or * for every loss");
        const bool squareOnly = parts[2] != "lr";
        if (parts[1] == "*") {
            const bool anySquare = std::any_of(spec.losses.begin(), spec.losses.end(),
                                               [](const LossSpec& l) { return l.kind == LossKind::Square; });
            if (squareOnly && !anySquare)
                throw Error(where + ": sweep: " + key + ": k and M apply to square losses, and the experiment has none");
            return -1;
        }
        if (!isIndex(parts[1]) || parts[1].size() > 6 || std::stoul(parts[1]) >= spec.losses.size())
            throw Error(where + ": sweep: '" + key + "' names loss " + parts[1] + ", but the experiment has " +
                        std::to_string(spec.losses.size()) + " loss(es): use an index from 0 to " +
                        std::to_string(spec.losses.size() - 1) + ", or *");
        const int index = std::stoi(parts[1]);
        const LossSpec& loss = spec.losses[static_cast<std::size_t>(index)];
        if (squareOnly && loss.kind != LossKind::Square)
            throw Error(where + ": sweep: " + key + ": loss " + parts[1] + " ('" + loss.name +
                        "') is cross-entropy; k and M apply to square losses only");
        return index;
    }

    // A square loss whose k or M is swept, named by the program from one k and M
    // ("square_k15_M30"), would carry a name that fits one grid point only: it becomes "square".
    void nameSweptLosses(const YAML::Node& root, ExperimentSpec& spec) {
        for (std::size_t i = 0; i < spec.losses.size(); ++i) {
            LossSpec& loss = spec.losses[i];
            const YAML::Node entry = root["losses"][i];
            if (loss.kind != LossKind::Square || (entry.IsMap() && entry["name"].IsDefined())) continue;
            const bool swept = std::any_of(spec.sweep.begin(), spec.sweep.end(), [&](const SweepAxis& a) {
                return a.isLossAxis() && a.recipeKey() != "loss.lr" &&
                       (a.lossIndex == -1 || a.lossIndex == static_cast<int>(i));
            });
            if (!swept || loss.name == "square") continue;
            const bool taken = std::any_of(spec.losses.begin(), spec.losses.end(),
                                           [](const LossSpec& l) { return l.name == "square"; });
            if (!taken) loss.name = "square";
        }
    }

    // Two losses under two names that train the same (kind, k, M, lr; no sweep axis of one of
    // them alone) would repeat each other's runs number for number, as two losses in the report.
    void checkDistinctLosses(const ExperimentSpec& spec, const YAML::Node& root) {
        auto alone = [&](std::size_t i) {
            return std::any_of(spec.sweep.begin(), spec.sweep.end(), [&](const SweepAxis& x) { return x.lossIndex == static_cast<int>(i); });
        };
        for (std::size_t j = 1; j < spec.losses.size(); ++j)
            for (std::size_t i = 0; i < j; ++i) {
                const LossSpec &a = spec.losses[i], &b = spec.losses[j];
                if (a.kind != b.kind || a.k != b.k || a.M != b.M || a.lr != b.lr || alone(i) || alone(j)) continue;
                const bool ce = a.kind == LossKind::CrossEntropy;
                throw Error(m_loc.at(root["losses"][j], "losses." + std::to_string(j)) + ": losses." + std::to_string(j) + " ('" + b.name +
                            "') is the same loss as losses." + std::to_string(i) + " ('" + a.name + "'): " +
                            (ce ? "cross-entropy" : "square loss, k = " + formatShortest(a.k) + ", M = " + formatShortest(a.M)) +
                            ", lr = " + formatShortest(a.lr) + "; its runs would repeat those of '" + a.name +
                            "' number for number. Remove one, or give it another " + (ce ? "lr" : "k, M or lr"));
            }
    }

    // A schedule's own keys, set in the file, by --set or in the sweep to other than the task's
    // recipe (or the default) has, where no point of the grid uses that schedule: `train:
    // {milestones: [30, 60]}` alone kept the default constant rate. (A file written by toYaml()
    // holds every key; the recipe's values there are not the user's.)
    void checkScheduleKeys(const ExperimentSpec& spec, const std::vector<ParamSet>& grid, const YAML::Node& root) {
        static const std::vector<std::pair<std::string, std::string>> owned = {
            {"milestones", "multistep"}, {"gamma", "multistep"}, {"warmup", "linear"}};
        const ParamSet recipe = resolveParams(YAML::Node(YAML::NodeType::Map), m_tasks.requireInfo(spec.taskId));
        const YAML::Node train = root["train"];
        for (const auto& [leaf, schedule] : owned) {
            const std::string key = "train." + leaf;
            YAML::Node written(YAML::NodeType::Undefined);
            if (train.IsDefined() && train.IsMap() && spec.params.has(key) && spec.params.raw(key) != recipe.raw(key))
                written.reset(train[leaf]);
            const auto axis = std::find_if(spec.sweep.begin(), spec.sweep.end(), [&](const SweepAxis& a) { return a.key == key; });
            if ((!written.IsDefined() && axis == spec.sweep.end()) ||
                std::any_of(grid.begin(), grid.end(), [&](const ParamSet& p) { return p.getString("train.schedule") == schedule; }))
                continue;
            const std::string where = written.IsDefined() ? m_loc.at(written, key) : m_loc.at(root["sweep"], "sweep." + key);
            throw Error(where + ": " + key + " applies to train.schedule: " + schedule + ", but the schedule is " +
                        grid.front().getString("train.schedule") + ", so the rate would not follow it; set train.schedule: " +
                        schedule + ", or remove " + key);
        }
    }

    void checkConsistency(const ExperimentSpec& spec, const YAML::Node& root) {
        const std::vector<ParamSet> grid = spec.gridParams();
        for (const ParamSet& p : grid)
            if (p.getString("train.optimizer") == "sgd" && p.getBool("train.nesterov") && p.getDouble("train.momentum") <= 0)
                throw Error(m_loc.at(root["train"], "train.nesterov") +
                            ": train.nesterov: Nesterov momentum needs train.momentum > 0 (it is 0" +
                            (spec.sweep.empty() ? ")" : " at a point of the sweep)"));
        for (std::size_t i = 0; i < spec.losses.size(); ++i)
            if (spec.losses[i].lr <= 0)
                throw Error(m_loc.at(root["train"], "train.lr") + ": loss '" + spec.losses[i].name +
                            "' has learning rate 0: set train.lr or the loss's own lr to a number > 0");
        checkDistinctLosses(spec, root);
        checkScheduleKeys(spec, grid, root);
        const bool same = std::find(spec.protocols.begin(), spec.protocols.end(), Protocol::SameEpochsAsCe) != spec.protocols.end();
        if (!same) return;
        const std::string where = m_loc.at(root["protocols"], "protocols");
        const bool hasCe = std::any_of(spec.losses.begin(), spec.losses.end(),
                                       [](const LossSpec& l) { return l.kind == LossKind::CrossEntropy; });
        const bool hasSquare = std::any_of(spec.losses.begin(), spec.losses.end(),
                                           [](const LossSpec& l) { return l.kind == LossKind::Square; });
        const bool hasEs = std::find(spec.protocols.begin(), spec.protocols.end(), Protocol::EarlyStopping) != spec.protocols.end();
        if (!hasCe || !hasEs)
            throw Error(where + ": same_epochs_as_ce trains the square loss for the epochs chosen by the "
                                "cross-entropy early-stopping run: add a 'ce' loss and the early_stopping protocol");
        if (!hasSquare)
            throw Error(where + ": same_epochs_as_ce applies to square losses, and the experiment has none");
    }

    const Locator& m_loc;
    const TaskRegistry& m_tasks;
};

// yaml-cpp keeps the first of two equal keys and drops the second without a word; a user
// who wrote a section twice would lose settings silently. It also reads a merge key ("<<",
// YAML 1.1) as a key of that name, so the keys it would merge would not apply.
void rejectDuplicateKeys(const YAML::Node& node, const std::string& file) {
    if (node.IsMap()) {
        std::set<std::string> seen;
        for (const auto& kv : node) {
            const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
            if (key == "<<") {
                const YAML::Mark m = kv.first.Mark();
                throw Error(file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) +
                            ": '<<' (a YAML merge key) is not supported; write the keys out (an anchor and "
                            "alias of a whole value, such as 'train: *common', work)");
            }
            if (!seen.insert(key).second) {
                const YAML::Mark m = kv.first.Mark();
                throw Error(file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": key '" +
                            key + "' appears twice; write each key once");
            }
            rejectDuplicateKeys(kv.second, file);
        }
    } else if (node.IsSequence()) {
        for (const auto& item : node) rejectDuplicateKeys(item, file);
    }
}

// Counts nodes as found, stopping at the cap; iterative, so depth and cycles cannot exhaust the stack.
void rejectTooManyNodes(const YAML::Node& root, const std::string& file) {
    std::vector<YAML::Node> pending{root};
    std::size_t count = 1;
    auto found = [&](const YAML::Node& node) {
        if (++count > kMaxSpecNodes)
            throw Error(file + ": the YAML has more than " + std::to_string(kMaxSpecNodes) +
                        " nodes, the limit for an experiment file (an alias counts each time it is used)");
        pending.push_back(node);
    };
    while (!pending.empty()) {
        const YAML::Node node = pending.back();
        pending.pop_back();
        if (node.IsMap()) {
            for (const auto& kv : node) {
                found(kv.first);
                found(kv.second);
            }
        } else if (node.IsSequence()) {
            for (const auto& item : node) found(item);
        }
    }
}

ExperimentSpec loadFromRoot(YAML::Node root, const std::string& displayName,
                            const std::vector<SpecOverride>& overrides, const TaskRegistry& tasks) {
    std::map<std::string, std::string> overridden;
    if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
    rejectTooManyNodes(root, displayName);
    rejectDuplicateKeys(root, displayName);
    for (const auto& o : overrides) {
        for (const std::string* part : {&o.key, &o.value}) {
            const std::size_t bad = std::min(Internal::findInvalidUtf8(*part), part->find('\0'));
            if (bad != std::string::npos)
                throw Error((o.option.empty() ? "--set " + (part == &o.key ? std::string("argument") : o.key) : o.option) +
                            ": invalid UTF-8 (byte " +
                            Internal::hexByte(static_cast<unsigned char>((*part)[bad])) + " at byte " + std::to_string(bad + 1) + " of the " +
                            (part == &o.key ? "key" : "value") + "); expected UTF-8 text");
        }
        applyOverride(root, o);
        overridden[o.key] = o.option.empty() ? "--set " + o.key + "=" + o.value : o.option + " " + o.value;
    }
    Locator loc(displayName, overridden);
    return Resolver(loc, tasks).resolve(root);
}

} // namespace

const char* lossKindName(LossKind kind) { return kind == LossKind::CrossEntropy ? "ce" : "square"; }

const char* protocolName(Protocol protocol) {
    switch (protocol) {
    case Protocol::EarlyStopping: return "early_stopping";
    case Protocol::SameEpochsAsCe: return "same_epochs_as_ce";
    case Protocol::FixedEpochs: return "fixed_epochs";
    }
    return "?";
}

LossKind parseLossKind(const std::string& text, const std::string& where) {
    if (text == "ce" || text == "cross_entropy") return LossKind::CrossEntropy;
    if (text == "square" || text == "mse") return LossKind::Square;
    throw Error(where + ": unknown loss '" + text + "'; expected ce or square "
                        "(the rescaled square loss is 'square' with k and M, or preset: paper)");
}

Protocol parseProtocol(const std::string& text, const std::string& where) {
    if (text == "early_stopping") return Protocol::EarlyStopping;
    if (text == "same_epochs_as_ce") return Protocol::SameEpochsAsCe;
    if (text == "fixed_epochs") return Protocol::FixedEpochs;
    throw Error(where + ": unknown protocol '" + text + "'; expected early_stopping, same_epochs_as_ce or fixed_epochs");
}

SpecOverride parseOverride(const std::string& argument) {
    const auto eq = argument.find('=');
    if (eq == std::string::npos || eq == 0)
        throw Error("--set " + argument + ": expected key=value, for example --set train.patience=10");
    return {argument.substr(0, eq), argument.substr(eq + 1)};
}

std::string readExperimentFile(const std::string& path) {
    std::error_code ec;
    const std::filesystem::file_status status = std::filesystem::status(path, ec);
    if (std::filesystem::is_directory(status)) throw Error(path + " is a folder; expected an experiment YAML file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open the experiment file");
    // At most the limit and one byte: a stream (/dev/zero, a FIFO) has no size to check first.
    std::string text(kMaxSpecBytes + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) throw Error(path + ": cannot read the experiment file");
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxSpecBytes) {
        const std::uintmax_t size = std::filesystem::is_regular_file(status) ? std::filesystem::file_size(path, ec) : 0;
        throw Error(path + ": " + (size > kMaxSpecBytes && !ec ? std::to_string(size) : "more than " + std::to_string(kMaxSpecBytes)) +
                    " bytes is too large for an experiment file (limit 1 MiB)");
    }
    return text;
}

ExperimentSpec loadExperimentText(const std::string& yamlText, const std::string& displayName,
                                  const std::vector<SpecOverride>& overrides, const TaskRegistry& tasks) {
    if (yamlText.size() > kMaxSpecBytes)
        throw Error(displayName + ": " + std::to_string(yamlText.size()) + " bytes is too large for an experiment file (limit 1 MiB)");
    Internal::requireUtf8TextFile(yamlText, displayName);
    YAML::Node root;
    try {
        const std::vector<YAML::Node> documents = YAML::LoadAll(yamlText);
        if (!documents.empty()) root = documents.front();
        // A second document would be ignored without a word: what it sets would not apply.
        for (std::size_t i = 1; i < documents.size(); ++i)
            if (!documents[i].IsNull())
                throw Error(displayName + ":" + std::to_string(documents[i].Mark().line + 1) +
                            ": a second YAML document (after '---'); an experiment file holds one");
    } catch (const YAML::ParserException& e) {
        throw Error(displayName + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                    ": YAML syntax error: " + e.msg);
    } catch (const YAML::Exception& e) {
        throw Error(displayName + ": cannot read YAML: " + e.what());
    }
    try {
        return loadFromRoot(root, displayName, overrides, tasks);
    } catch (const YAML::Exception& e) {
        throw Error(displayName + ": " + e.what());
    }
}

ExperimentSpec loadExperimentFile(const std::string& path, const std::vector<SpecOverride>& overrides,
                                  const TaskRegistry& tasks) {
    return loadExperimentText(readExperimentFile(path), path, overrides, tasks);
}

std::string ExperimentSpec::toYaml() const {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << name;
    if (!description.empty()) out << YAML::Key << "description" << YAML::Value << description;
    out << YAML::Key << "task" << YAML::Value << taskId;
    out << YAML::Key << "device" << YAML::Value << device;
    out << YAML::Key << "seeds" << YAML::Value << YAML::Flow << seeds;
    out << YAML::Key << "protocols" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto p : protocols) out << protocolName(p);
    out << YAML::EndSeq;
    out << YAML::Key << "losses" << YAML::Value << YAML::BeginSeq;
    for (const auto& l : losses) emitLoss(out, l);
    out << YAML::EndSeq;
    emitParams(out, params);
    if (!sweep.empty()) {
        out << YAML::Key << "sweep" << YAML::Value << YAML::BeginMap;
        for (const auto& axis : sweep) {
            const ParamType type = axis.isLossAxis() ? ParamType::Double : params.type(axis.key);
            out << YAML::Key << axis.key << YAML::Value << YAML::Flow << YAML::BeginSeq;
            for (const auto& v : axis.values) emitValue(out, v, type);
            out << YAML::EndSeq;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

std::string RunSpec::toYaml() const {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "experiment" << YAML::Value << experiment;
    out << YAML::Key << "task" << YAML::Value << taskId;
    out << YAML::Key << "loss" << YAML::Value;
    emitLoss(out, loss);
    out << YAML::Key << "protocol" << YAML::Value << protocolName(protocol);
    out << YAML::Key << "seed" << YAML::Value << seed;
    out << YAML::Key << "device" << YAML::Value << device;
    if (!sweepAxes.empty()) out << YAML::Key << "sweep" << YAML::Value << YAML::Flow << sweepAxes;
    emitParams(out, params);
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

RunSpec parseRunSpecYaml(const std::string& yamlText, const std::string& displayName, const TaskRegistry& tasks) {
    YAML::Node root;
    try {
        root = YAML::Load(yamlText);
    } catch (const YAML::Exception& e) {
        throw Error(displayName + ": the stored run is not valid YAML: " + e.what());
    }
    auto text = [&](const YAML::Node& n, const std::string& key) {
        if (!n[key].IsDefined() || !n[key].IsScalar()) throw Error(displayName + ": the stored run has no '" + key + "'");
        return n[key].Scalar();
    };
    try {
        RunSpec r;
        r.experiment = text(root, "experiment");
        r.taskId = text(root, "task");
        const TaskInfo& task = tasks.requireInfo(r.taskId);
        const YAML::Node loss = root["loss"];
        if (!loss.IsMap()) throw Error(displayName + ": the stored run has no 'loss' mapping");
        r.loss.name = text(loss, "name");
        r.loss.kind = parseLossKind(text(loss, "loss"), displayName);
        r.loss.lr = parseFiniteNumber(text(loss, "lr"), displayName + ": loss.lr");
        if (loss["k"].IsDefined()) r.loss.k = parseFiniteNumber(text(loss, "k"), displayName + ": loss.k");
        if (loss["M"].IsDefined()) r.loss.M = parseFiniteNumber(text(loss, "M"), displayName + ": loss.M");
        if (loss["preset"].IsDefined()) r.loss.preset = text(loss, "preset");
        r.protocol = parseProtocol(text(root, "protocol"), displayName);
        r.seed = std::stoll(text(root, "seed"));
        r.device = text(root, "device");
        if (root["sweep"].IsSequence())
            for (const auto& item : root["sweep"])
                if (item.IsScalar()) r.sweepAxes.push_back(item.Scalar());
        std::map<std::string, ParamDecl> decls;
        for (const auto& d : coreParamDecls()) decls[d.key] = d;
        for (const auto& d : task.params) decls[d.key] = d;
        for (const auto& [key, d] : decls) r.params.set(key, canonicalParamValue(d, d.defaultValue, "default of " + key), d.type);
        for (const auto& section : kSections) {
            const YAML::Node sec = root[section];
            if (!sec.IsDefined() || !sec.IsMap()) continue;
            for (const auto& kv : sec) {
                const std::string key = section + "." + kv.first.Scalar();
                const auto it = decls.find(key);
                if (it == decls.end()) throw Error(displayName + ": the stored run has key '" + key + "', unknown to task " + r.taskId);
                r.params.set(key, canonicalParamValue(it->second, scalarText(kv.second), displayName), it->second.type);
            }
        }
        return r;
    } catch (const std::invalid_argument&) {
        throw Error(displayName + ": the stored run has a malformed number");
    } catch (const YAML::Exception& e) {
        throw Error(displayName + ": " + e.what());
    }
}

double defaultValidationFraction(Protocol protocol) {
    // fixed_epochs needs no validation set: it trains on the whole training set, as the
    // paper's fixed-epoch recipes do (Wide-ResNet: all 50,000 CIFAR-10 images). The square
    // loss's same-epochs run trains on the data of the early-stopping run it matches.
    return protocol == Protocol::FixedEpochs ? 0.0 : 0.1;
}

} // namespace losslab
