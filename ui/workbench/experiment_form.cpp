#include "workbench/experiment_form.h"

#include <algorithm>
#include <cctype>
#include <sstream>

#include "losslab/error.h"
#include "losslab/tasks/task_registry.h"

namespace losslab {
namespace {

const std::vector<std::string> kSections = {"data", "train", "model", "runner"};

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t\r");
    if (first == std::string::npos) return {};
    const auto last = s.find_last_not_of(" \t\r");
    return s.substr(first, last - first + 1);
}

bool isNullWord(const std::string& s) {
    return s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// Text the loader reads back unchanged as a plain scalar: no YAML indicator, comment or
// mapping syntax, and not one of the words YAML reads as null. Inside a flow mapping
// (`{loss: square, name: x}`) a comma would end the value, so there it is quoted.
bool isPlainSafe(const std::string& s, bool inFlow) {
    if (s.empty() || isNullWord(s)) return false;
    if (s.front() == ' ' || s.back() == ' ' || s.front() == ',') return false;
    if (s.front() == '-' && (s.size() == 1 || s[1] == ' ')) return false;
    return std::all_of(s.begin(), s.end(), [inFlow](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '.' || c == '/' || c == '+' || c == '-' || c == ' ' ||
               (c == ',' && !inFlow);
    });
}

std::string doubleQuoted(const std::string& s) {
    std::string out = "\"";
    for (const unsigned char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20 || c == 0x7f) {
                static const char* kHex = "0123456789abcdef";
                out += "\\x";
                out += kHex[c >> 4];
                out += kHex[c & 0xf];
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    return out + "\"";
}

std::string yamlScalar(const std::string& s, bool inFlow = false) {
    return isPlainSafe(s, inFlow) ? s : doubleQuoted(s);
}

// A parameter's value: a flow list of numbers stays a list, everything else is a scalar
// (the loader reads numbers, booleans and strings from the scalar's text).
std::string yamlValue(const std::string& s) {
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']' &&
        std::all_of(s.begin() + 1, s.end() - 1, [](unsigned char c) {
            return std::isdigit(c) || c == 'e' || c == 'E' || c == '+' || c == '-' || c == '.' || c == ',' || c == ' ';
        }))
        return s;
    return yamlScalar(s);
}

int sectionOrder(const std::string& section) {
    const auto it = std::find(kSections.begin(), kSections.end(), section);
    return it == kSections.end() ? static_cast<int>(kSections.size()) : static_cast<int>(it - kSections.begin());
}

// Removes a comment: '#' at the start or after a blank, outside quotes.
std::string stripComment(const std::string& line) {
    char quote = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quote) {
            if (c == '\\' && quote == '"') ++i;
            else if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
            return line.substr(0, i);
        }
    }
    return line;
}

std::size_t indentOf(const std::string& line) {
    std::size_t i = 0;
    while (i < line.size() && line[i] == ' ') ++i;
    return i;
}

// "key: value" / "'key': value" -> key; "" when the text is not a mapping entry.
std::string entryKey(const std::string& text, std::string* rest = nullptr) {
    const std::string t = trim(text);
    if (t.empty()) return {};
    std::string key;
    std::size_t pos = 0;
    if (t.front() == '"' || t.front() == '\'') {
        const auto close = t.find(t.front(), 1);
        if (close == std::string::npos) return {};
        key = t.substr(1, close - 1);
        pos = close + 1;
        while (pos < t.size() && t[pos] == ' ') ++pos;
        if (pos >= t.size() || t[pos] != ':') return {};
    } else {
        pos = 0;
        while (pos < t.size() && !(t[pos] == ':' && (pos + 1 == t.size() || t[pos + 1] == ' ' || t[pos + 1] == '\t')))
            ++pos;
        if (pos >= t.size()) return {};
        key = trim(t.substr(0, pos));
    }
    if (rest) *rest = trim(t.substr(pos + 1));
    return key;
}

// Splits the inside of a flow mapping "{a: 1, b: [1, 2]}" at its top-level commas.
std::vector<std::string> flowItems(const std::string& inside) {
    std::vector<std::string> items;
    int depth = 0;
    char quote = 0;
    std::string current;
    for (std::size_t i = 0; i < inside.size(); ++i) {
        const char c = inside[i];
        if (quote) {
            if (c == '\\' && quote == '"' && i + 1 < inside.size()) current += inside[i++];
            else if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '[' || c == '{') {
            ++depth;
        } else if (c == ']' || c == '}') {
            --depth;
        } else if (c == ',' && depth == 0) {
            items.push_back(current);
            current.clear();
            continue;
        }
        current += c;
    }
    items.push_back(current);
    return items;
}


// Depth of [ ] and { } nesting at the end of `text`, outside quotes.
int bracketDepth(const std::string& text) {
    int depth = 0;
    char quote = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quote) {
            if (c == '\\' && quote == '"') ++i;
            else if (c == quote) quote = 0;
        } else if (c == '"' || c == '\'') {
            quote = c;
        } else if (c == '[' || c == '{') {
            ++depth;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return depth;
}

// "[a, [b]]" -> "a, [b]" when the first bracket closes at the very end; nullopt otherwise.
std::optional<std::string> insideFlowList(const std::string& text) {
    const std::string t = trim(text);
    if (t.size() < 2 || t.front() != '[' || t.back() != ']') return std::nullopt;
    // The first bracket must close at the end, not earlier ("[16], [64]" is two items).
    for (std::size_t end = 1; end < t.size(); ++end)
        if (bracketDepth(t.substr(0, end)) == 0) return std::nullopt;
    return trim(t.substr(1, t.size() - 2));
}

std::string oneLine(std::string text) {
    for (char& c : text)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    return text;
}

// A sweep key as the loader reads it back: "losses.*.lr" needs no quotes (a '*' after the
// first character is not an alias).
std::string sweepKeyScalar(const std::string& key) {
    const bool plain = !key.empty() && std::isalnum(static_cast<unsigned char>(key.front())) &&
                       std::all_of(key.begin(), key.end(), [](unsigned char c) {
                           return std::isalnum(c) || c == '_' || c == '.' || c == '*' || c == '-';
                       });
    return plain ? key : doubleQuoted(key);
}

// A canonical value as an item of a flow list: lists of numbers as they are, other text plain
// where the loader reads it back unchanged, else quoted.
std::string flowListItem(const std::string& value) {
    if (value.size() >= 2 && value.front() == '[' && value.back() == ']') return yamlValue(value);
    return yamlScalar(value, true);
}

std::vector<std::string> splitDots(const std::string& key) {
    std::vector<std::string> parts;
    std::string part;
    std::stringstream ss(key);
    while (std::getline(ss, part, '.')) parts.push_back(part);
    if (!key.empty() && key.back() == '.') parts.push_back({});
    return parts;
}

bool isSquareOnlySweepField(const std::string& field) { return field == "k" || field == "M"; }

} // namespace

// ---- FormLoss -------------------------------------------------------------------------------

double FormLoss::effectiveK(const Rescaling& paper) const {
    if (kind != LossKind::Square) return 1.0;
    return k ? *k : paperPreset ? paper.k : 1.0;
}

double FormLoss::effectiveM(const Rescaling& paper) const {
    if (kind != LossKind::Square) return 1.0;
    return M ? *M : paperPreset ? paper.M : 1.0;
}

std::string FormLoss::generatedName(const Rescaling& paper) const {
    if (kind == LossKind::CrossEntropy) return lossKindName(kind);
    const double kv = effectiveK(paper), mv = effectiveM(paper);
    if (kv == 1.0 && mv == 1.0) return lossKindName(kind);
    // Written the way the loader writes it (default stream formatting), so the names agree.
    std::ostringstream os;
    os << "square_k" << kv << "_M" << mv;
    return os.str();
}

std::string FormLoss::displayName(const Rescaling& paper) const { return name.empty() ? generatedName(paper) : name; }

bool FormLoss::operator==(const FormLoss& o) const {
    return kind == o.kind && name == o.name && lr == o.lr && paperPreset == o.paperPreset && k == o.k && M == o.M;
}

// ---- task helpers ---------------------------------------------------------------------------

std::vector<ParamDecl> taskParamDecls(const TaskInfo& task) {
    std::vector<ParamDecl> decls = coreParamDecls();
    for (const auto& d : task.params) {
        const auto it = std::find_if(decls.begin(), decls.end(), [&](const ParamDecl& c) { return c.key == d.key; });
        if (it != decls.end()) *it = d;
        else decls.push_back(d);
    }
    return decls;
}

ParamSet taskBaseline(const TaskInfo& task) {
    ParamSet params;
    const std::vector<ParamDecl> decls = taskParamDecls(task);
    // A plugin's bad default or recipe is reported by the loader; here the raw text will do.
    auto canonical = [](const ParamDecl& d, const std::string& text) {
        try {
            return canonicalParamValue(d, text, "default of " + d.key);
        } catch (const Error&) {
            return text;
        }
    };
    for (const auto& d : decls) params.set(d.key, canonical(d, d.defaultValue), d.type);
    for (const auto& [key, value] : task.recipe) {
        const auto it = std::find_if(decls.begin(), decls.end(), [&](const ParamDecl& d) { return d.key == key; });
        if (it != decls.end()) params.set(key, canonical(*it, value), it->type);
    }
    return params;
}

Rescaling taskPaperRescaling(const TaskInfo& task) { return paperRescaling(task.paperDataset, task.numClasses); }

// ---- reading --------------------------------------------------------------------------------

std::set<std::string> sectionKeysStated(const std::string& yamlText) {
    std::vector<std::string> lines;
    {
        std::stringstream ss(yamlText);
        std::string line;
        while (std::getline(ss, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            lines.push_back(stripComment(line));
        }
    }
    std::set<std::string> keys;
    std::optional<std::size_t> top; // indentation of the top-level mapping
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        if (trim(line).empty()) continue;
        if (line.rfind("---", 0) == 0 || line.rfind("...", 0) == 0 || line.rfind('%', 0) == 0) continue;
        const std::size_t indent = indentOf(line);
        if (!top) top = indent;
        if (indent != *top) continue;
        std::string rest;
        const std::string section = entryKey(line, &rest);
        if (std::find(kSections.begin(), kSections.end(), section) == kSections.end()) continue;
        if (!rest.empty() && rest.front() == '{') {
            // Flow mapping, possibly over several lines.
            std::string text = rest;
            auto balance = [](const std::string& t) {
                int depth = 0;
                for (const char c : t) depth += c == '{' ? 1 : c == '}' ? -1 : 0;
                return depth;
            };
            std::size_t j = i + 1;
            while (balance(text) > 0 && j < lines.size()) text += " " + lines[j++];
            const auto close = text.rfind('}');
            if (close == std::string::npos) continue;
            for (const auto& item : flowItems(text.substr(1, close - 1))) {
                const std::string key = entryKey(item);
                if (!key.empty()) keys.insert(section + "." + key);
            }
            continue;
        }
        if (!rest.empty() && rest.front() != '&' && rest.front() != '!') continue; // a scalar: not a section
        std::optional<std::size_t> child;
        for (std::size_t j = i + 1; j < lines.size(); ++j) {
            const std::string& inner = lines[j];
            if (trim(inner).empty()) continue;
            const std::size_t innerIndent = indentOf(inner);
            if (innerIndent <= *top) break;
            if (!child) child = innerIndent;
            if (innerIndent != *child) continue;
            const std::string key = entryKey(inner);
            if (!key.empty()) keys.insert(section + "." + key);
        }
    }
    return keys;
}

std::optional<std::vector<std::int64_t>> parseSeedList(const std::string& text) {
    std::string t = trim(text);
    if (!t.empty() && t.front() == '[') {
        if (t.back() != ']') return std::nullopt;
        t = t.substr(1, t.size() - 2);
    }
    std::vector<std::int64_t> seeds;
    if (trim(t).empty()) return seeds;
    std::stringstream ss(t);
    std::string item;
    while (std::getline(ss, item, ',')) {
        const std::string s = trim(item);
        if (s.empty() || s.size() > 16 || !std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); }))
            return std::nullopt;
        seeds.push_back(std::stoll(s));
    }
    return seeds;
}

std::string formatSeedList(const std::vector<std::int64_t>& seeds) {
    std::string out;
    for (const auto s : seeds) out += (out.empty() ? "" : ", ") + std::to_string(s);
    return out;
}

std::string normaliseSweepValues(const std::string& text, bool listValued) {
    const std::string t = trim(oneLine(text));
    const auto inside = insideFlowList(t);
    if (!inside || (listValued && (inside->empty() || inside->front() != '['))) return t;
    return *inside;
}

std::string formatSweepValues(const std::vector<std::string>& canonicalValues) {
    std::string out;
    for (const auto& v : canonicalValues) out += (out.empty() ? "" : ", ") + flowListItem(v);
    return out;
}

std::vector<FormSweepAxis> sweepAxesStated(const std::string& yamlText) {
    std::vector<std::string> lines;
    {
        std::stringstream ss(yamlText);
        std::string line;
        while (std::getline(ss, line)) {
            if (!line.empty() && line.back() == '\r') line.pop_back();
            lines.push_back(stripComment(line));
        }
    }
    std::vector<FormSweepAxis> axes;
    // "key: [..]" -> the axis, when the value is one flow list.
    auto take = [&axes](const std::string& entry) {
        std::string rest;
        const std::string key = entryKey(entry, &rest);
        if (key.empty()) return;
        const auto inside = insideFlowList(rest);
        if (inside) axes.push_back({key, *inside});
    };
    // Text from line i on, joined until its brackets balance.
    auto joined = [&lines](std::size_t& i, std::string text) {
        while (bracketDepth(text) > 0 && i + 1 < lines.size()) text += " " + trim(lines[++i]);
        return text;
    };
    std::optional<std::size_t> top;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const std::string& line = lines[i];
        if (trim(line).empty()) continue;
        if (line.rfind("---", 0) == 0 || line.rfind("...", 0) == 0 || line.rfind('%', 0) == 0) continue;
        const std::size_t indent = indentOf(line);
        if (!top) top = indent;
        if (indent != *top) continue;
        std::string rest;
        if (entryKey(line, &rest) != "sweep") continue;
        if (!rest.empty() && rest.front() == '{') {
            const std::string text = joined(i, rest);
            const auto close = text.rfind('}');
            if (close == std::string::npos) return {};
            for (const auto& item : flowItems(text.substr(1, close - 1))) take(item);
            return axes;
        }
        if (!rest.empty()) return {}; // not a mapping: the loader has refused it
        std::optional<std::size_t> child;
        for (std::size_t j = i + 1; j < lines.size(); ++j) {
            const std::string& inner = lines[j];
            if (trim(inner).empty()) continue;
            const std::size_t innerIndent = indentOf(inner);
            if (innerIndent <= *top) break;
            if (!child) child = innerIndent;
            if (innerIndent != *child) continue;
            take(joined(j, trim(inner)));
        }
        return axes;
    }
    return axes;
}

ExperimentForm ExperimentForm::fromYaml(const std::string& yamlText, const std::string& displayName,
                                        const TaskRegistry& tasks) {
    const ExperimentSpec spec = loadExperimentText(yamlText, displayName, {}, tasks);
    ExperimentForm form = fromSpec(spec, sectionKeysStated(yamlText), tasks);
    // The values as written, where the reader finds them and they hold as many items as the
    // loader read (a check against the reader's own mistakes); else the canonical values.
    const std::vector<FormSweepAxis> stated = sweepAxesStated(yamlText);
    for (std::size_t i = 0; i < form.sweep.size(); ++i) {
        const auto it = std::find_if(stated.begin(), stated.end(),
                                     [&](const FormSweepAxis& a) { return a.key == form.sweep[i].key; });
        if (it != stated.end() && flowItems(it->values).size() == spec.sweep[i].values.size())
            form.sweep[i].values = it->values;
    }
    return form;
}

ExperimentForm ExperimentForm::fromSpec(const ExperimentSpec& spec, const std::set<std::string>& statedKeys,
                                        const TaskRegistry& tasks) {
    ExperimentForm form;
    form.name = spec.name;
    form.description = spec.description;
    form.taskId = spec.taskId;
    form.device = spec.device;
    form.protocols = spec.protocols;

    bool counted = !spec.seeds.empty();
    for (std::size_t i = 0; i < spec.seeds.size(); ++i) counted = counted && spec.seeds[i] == static_cast<std::int64_t>(i);
    form.seedsAsList = !counted;
    if (counted) form.seedCount = static_cast<std::int64_t>(spec.seeds.size());
    else form.seedList = spec.seeds;

    const TaskInfo& task = tasks.requireInfo(spec.taskId);
    const Rescaling paper = taskPaperRescaling(task);
    const ParamSet baseline = taskBaseline(task);
    for (const auto& [key, value] : spec.params.values())
        if (statedKeys.count(key) || !baseline.has(key) || baseline.raw(key) != value) form.params[key] = value;

    for (const auto& l : spec.losses) {
        FormLoss f;
        f.kind = l.kind;
        f.lr = l.lr;
        if (l.kind == LossKind::Square) {
            f.paperPreset = l.preset == "paper";
            if (l.k != f.effectiveK(paper)) f.k = l.k;
            if (l.M != f.effectiveM(paper)) f.M = l.M;
        }
        // A square loss whose k or M is swept is named "square" by the loader when it has no
        // name of its own (a generated name would fit one grid point only).
        const std::size_t index = form.losses.size();
        const bool kmSwept = l.kind == LossKind::Square &&
                             std::any_of(spec.sweep.begin(), spec.sweep.end(), [&](const SweepAxis& a) {
                                 return a.isLossAxis() && a.recipeKey() != "loss.lr" &&
                                        (a.lossIndex == -1 || a.lossIndex == static_cast<int>(index));
                             });
        if (l.name != f.generatedName(paper) && !(kmSwept && l.name == "square")) f.name = l.name;
        form.losses.push_back(f);
    }

    for (const auto& axis : spec.sweep) {
        form.sweep.push_back({axis.key, formatSweepValues(axis.values)});
    }
    return form;
}

// ---- writing --------------------------------------------------------------------------------

std::string ExperimentForm::toYaml() const {
    std::ostringstream out;
    if (!name.empty()) out << "name: " << yamlScalar(name) << "\n";
    if (!description.empty()) out << "description: " << yamlScalar(description) << "\n";
    out << "task: " << yamlScalar(taskId) << "\n";
    out << "device: " << yamlScalar(device) << "\n";
    if (seedsAsList) out << "seeds: [" << formatSeedList(seedList) << "]\n";
    else out << "seeds: " << seedCount << "\n";
    out << "protocols: [";
    for (std::size_t i = 0; i < protocols.size(); ++i) out << (i ? ", " : "") << protocolName(protocols[i]);
    out << "]\n";
    if (losses.empty()) out << "losses: []\n";
    else out << "losses:\n";
    for (const auto& l : losses) {
        out << "  - {loss: " << lossKindName(l.kind);
        if (!l.name.empty()) out << ", name: " << yamlScalar(l.name, true);
        if (l.kind == LossKind::Square) {
            if (l.paperPreset) out << ", preset: paper";
            if (l.k) out << ", k: " << formatShortest(*l.k);
            if (l.M) out << ", M: " << formatShortest(*l.M);
        }
        out << ", lr: " << formatShortest(l.lr) << "}\n";
    }

    // Sections in the documentation's order; keys in the core's declaration order, then the
    // task's own keys by name.
    const std::vector<ParamDecl>& core = coreParamDecls();
    auto keyOrder = [&](const std::string& key) {
        const auto it = std::find_if(core.begin(), core.end(), [&](const ParamDecl& d) { return d.key == key; });
        return it == core.end() ? static_cast<long>(core.size()) : static_cast<long>(it - core.begin());
    };
    std::vector<std::string> keys;
    for (const auto& kv : params) keys.push_back(kv.first);
    auto sectionOf = [](const std::string& key) { return key.substr(0, key.find('.')); };
    std::stable_sort(keys.begin(), keys.end(), [&](const std::string& a, const std::string& b) {
        const std::string sa = sectionOf(a), sb = sectionOf(b);
        if (sa != sb) {
            const int oa = sectionOrder(sa), ob = sectionOrder(sb);
            return oa != ob ? oa < ob : sa < sb;
        }
        const long ka = keyOrder(a), kb = keyOrder(b);
        return ka != kb ? ka < kb : a < b;
    });
    std::string current;
    for (const auto& key : keys) {
        const std::string section = sectionOf(key);
        if (section != current) {
            out << section << ":\n";
            current = section;
        }
        const std::string leaf = key.find('.') == std::string::npos ? key : key.substr(section.size() + 1);
        out << "  " << yamlScalar(leaf) << ": " << yamlValue(params.at(key)) << "\n";
    }
    if (!sweep.empty()) {
        out << "sweep:\n";
        for (const auto& axis : sweep)
            out << "  " << sweepKeyScalar(axis.key) << ": [" << trim(oneLine(axis.values)) << "]\n";
    }
    return out.str();
}

ExperimentSpec ExperimentForm::resolve(const std::string& displayName, const TaskRegistry& tasks) const {
    return loadExperimentText(toYaml(), displayName, {}, tasks);
}

std::string ExperimentForm::paramValue(const std::string& key, const TaskRegistry& tasks) const {
    const auto own = params.find(key);
    if (own != params.end()) return own->second;
    const TaskInfo* task = tasks.findInfo(taskId);
    if (task) {
        const ParamSet baseline = taskBaseline(*task);
        return baseline.has(key) ? baseline.raw(key) : std::string();
    }
    for (const auto& d : coreParamDecls())
        if (d.key == key) return d.defaultValue;
    return {};
}

std::vector<std::string> ExperimentForm::switchTask(const std::string& newTaskId, const TaskRegistry& tasks) {
    taskId = newTaskId;
    std::vector<std::string> dropped;
    const TaskInfo* task = tasks.findInfo(newTaskId);
    if (!task) return dropped;
    const std::vector<ParamDecl> decls = taskParamDecls(*task);
    for (auto it = params.begin(); it != params.end();) {
        const bool known = std::any_of(decls.begin(), decls.end(), [&](const ParamDecl& d) { return d.key == it->first; });
        if (known) {
            ++it;
        } else {
            dropped.push_back(it->first);
            it = params.erase(it);
        }
    }
    for (auto it = sweep.begin(); it != sweep.end();) {
        const bool known = it->key.rfind("losses.", 0) == 0 ||
                           std::any_of(decls.begin(), decls.end(), [&](const ParamDecl& d) { return d.key == it->key; });
        if (known) {
            ++it;
        } else {
            dropped.push_back("sweep " + it->key);
            it = sweep.erase(it);
        }
    }
    return dropped;
}

std::vector<std::string> ExperimentForm::refitSweep(const std::vector<int>& newIndexOf) {
    const bool anySquare =
        std::any_of(losses.begin(), losses.end(), [](const FormLoss& l) { return l.kind == LossKind::Square; });
    std::vector<std::string> dropped;
    for (auto it = sweep.begin(); it != sweep.end();) {
        const std::vector<std::string> parts = splitDots(it->key);
        bool keep = true;
        if (parts.size() == 3 && parts[0] == "losses") {
            const bool squareOnly = isSquareOnlySweepField(parts[2]);
            const std::string& n = parts[1];
            if (n == "*") {
                keep = !squareOnly || anySquare;
            } else if (!n.empty() && n.size() <= 6 &&
                       std::all_of(n.begin(), n.end(), [](unsigned char c) { return std::isdigit(c); })) {
                const std::size_t old = std::stoul(n);
                // An index that was out of range already is left for the loader to report.
                if (old < newIndexOf.size()) {
                    const int now = newIndexOf[old];
                    keep = now >= 0 && static_cast<std::size_t>(now) < losses.size() &&
                           (!squareOnly || losses[static_cast<std::size_t>(now)].kind == LossKind::Square);
                    if (keep) it->key = "losses." + std::to_string(now) + "." + parts[2];
                }
            }
        }
        if (keep) {
            ++it;
        } else {
            dropped.push_back(it->key);
            it = sweep.erase(it);
        }
    }
    return dropped;
}

std::vector<std::string> ExperimentForm::removeLoss(std::size_t index) {
    if (index >= losses.size()) return {};
    std::vector<int> newIndexOf(losses.size());
    for (std::size_t i = 0; i < losses.size(); ++i)
        newIndexOf[i] = i == index ? -1 : static_cast<int>(i < index ? i : i - 1);
    losses.erase(losses.begin() + static_cast<long>(index));
    return refitSweep(newIndexOf);
}

void ExperimentForm::moveLoss(std::size_t from, std::size_t to) {
    if (from >= losses.size() || to >= losses.size() || from == to) return;
    std::vector<std::size_t> order(losses.size()); // order[new] = old
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    order.erase(order.begin() + static_cast<long>(from));
    order.insert(order.begin() + static_cast<long>(to), from);
    std::vector<int> newIndexOf(losses.size());
    std::vector<FormLoss> moved;
    for (std::size_t now = 0; now < order.size(); ++now) {
        newIndexOf[order[now]] = static_cast<int>(now);
        moved.push_back(losses[order[now]]);
    }
    losses = std::move(moved);
    refitSweep(newIndexOf);
}

bool ExperimentForm::operator==(const ExperimentForm& o) const {
    return name == o.name && description == o.description && taskId == o.taskId && device == o.device &&
           losses == o.losses && protocols == o.protocols && seedsAsList == o.seedsAsList &&
           (seedsAsList ? seedList == o.seedList : seedCount == o.seedCount) && params == o.params &&
           sweep == o.sweep;
}

} // namespace losslab
