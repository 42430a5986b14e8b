#pragma once
// Typed parameters of a run, addressed by dotted keys ("train.batch_size", "model.depth").
// A ParamDecl says what a key may hold; a ParamSet holds resolved values as canonical
// strings (lists in YAML flow form, "[60, 120]") and parses them on read. Torch-free.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace losslab {

// Path: a file or folder. A relative value is made absolute against the folder the program
// runs in when the value is read (a leading "~/" is the home folder), so a stored run names
// the same file wherever it is resumed or reported from (plugin API 7).
enum class ParamType { Int, Double, Bool, String, IntList, DoubleList, Path };

const char* paramTypeName(ParamType type);

// The shortest decimal text that reads back to exactly `v` (C locale): 0.05, 1e+30.
std::string formatShortest(double v);

// `text` as a finite number (C locale; subnormal values such as 1e-310 included, which
// std::stod refuses with std::out_of_range). Throws Error "<where>: expected a number, got '<text>'".
double parseFiniteNumber(const std::string& text, const std::string& where);

struct ParamDecl {
    std::string key;          // dotted, e.g. "train.patience"
    ParamType type = ParamType::String;
    std::string defaultValue; // canonical text; empty string list "[]" for lists
    std::string help;         // one line for docs and `losslab-cli tasks`
    std::optional<double> min; // inclusive bounds for numbers and list elements
    std::optional<double> max;
    // Allowed values for String; for Int and Double, words accepted besides a number ("auto").
    std::vector<std::string> choices;
};

// A declaration in one call, as task plugins list their keys (TaskInfo::params).
ParamDecl declareParam(std::string key, ParamType type, std::string defaultValue, std::string help,
                       std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt);

// Checks `text` against `decl` and returns its canonical form; throws Error naming
// `where` (for example "default.yaml:12:5" or "--set train.patience=x").
std::string canonicalParamValue(const ParamDecl& decl, const std::string& text,
                                const std::string& where);

class ParamSet {
public:
    void set(const std::string& key, const std::string& canonicalValue, ParamType type = ParamType::String);
    ParamType type(const std::string& key) const; // String when unknown
    bool has(const std::string& key) const;
    const std::string& raw(const std::string& key) const; // throws Error if missing

    std::int64_t getInt(const std::string& key) const;
    double getDouble(const std::string& key) const;
    bool getBool(const std::string& key) const;
    const std::string& getString(const std::string& key) const;
    std::vector<std::int64_t> getIntList(const std::string& key) const;
    std::vector<double> getDoubleList(const std::string& key) const;

    const std::map<std::string, std::string>& values() const { return m_values; }

private:
    std::map<std::string, std::string> m_values;
    std::map<std::string, ParamType> m_types;
};

} // namespace losslab
