#include "losslab/spec/param_set.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <utility>

#include "losslab/error.h"

namespace losslab {
namespace {

std::string trim(const std::string& s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string::npos) return {};
    const auto last = s.find_last_not_of(" \t");
    return s.substr(first, last - first + 1);
}

bool parseInt(const std::string& text, std::int64_t& out) {
    const std::string t = trim(text);
    if (t.empty()) return false;
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    if (errno != 0 || *end != '\0') return false;
    out = v;
    return true;
}

bool parseDouble(const std::string& text, double& out) {
    const std::string t = trim(text);
    if (t.empty()) return false;
    // from_chars ignores the C locale (a GUI may set one with a decimal comma).
    double v = 0;
    const char* first = t.data() + (t.front() == '+' ? 1 : 0);
    const auto [ptr, ec] = std::from_chars(first, t.data() + t.size(), v);
    if (ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v)) return false;
    out = v;
    return true;
}

} // namespace

double parseFiniteNumber(const std::string& text, const std::string& where) {
    double v = 0;
    if (!parseDouble(text, v)) throw Error(where + ": expected a number, got '" + text + "'");
    return v;
}

namespace {

bool parseBool(const std::string& text, bool& out) {
    const std::string t = trim(text);
    if (t == "true" || t == "yes" || t == "on" || t == "1") { out = true; return true; }
    if (t == "false" || t == "no" || t == "off" || t == "0") { out = false; return true; }
    return false;
}

// "[1, 2, 3]" or "1, 2" or "" -> items. Nested lists are not parameters.
std::vector<std::string> splitList(const std::string& text) {
    std::string t = trim(text);
    if (!t.empty() && t.front() == '[') {
        if (t.back() != ']') return {"\x01"}; // malformed marker
        t = t.substr(1, t.size() - 2);
    }
    std::vector<std::string> items;
    if (trim(t).empty()) return items;
    std::stringstream ss(t);
    std::string item;
    while (std::getline(ss, item, ',')) items.push_back(trim(item));
    return items;
}

std::string formatDouble(double v) { return formatShortest(v); }

std::string boundsText(const ParamDecl& d) {
    if (d.min && d.max) return " in [" + formatDouble(*d.min) + ", " + formatDouble(*d.max) + "]";
    if (d.min) return *d.min == 0 ? " >= 0" : " >= " + formatDouble(*d.min);
    if (d.max) return " <= " + formatDouble(*d.max);
    return "";
}

[[noreturn]] void fail(const ParamDecl& d, const std::string& text, const std::string& where,
                       const std::string& expected) {
    throw Error(where + ": " + d.key + ": expected " + expected + ", got '" + text + "'");
}

// A Path value as a run stores it: absolute and lexically normal, without a trailing '/'; "~" and
// "~/..." name the home folder, as torchvision's dataset roots do. Empty stays empty (the key's
// "not set"). A relative value is read from the folder the program runs in, so a run planned in
// one folder and resumed, reported or opened in the window from another names the same file.
std::string absolutePath(const ParamDecl& d, const std::string& text, const std::string& where) {
    namespace fs = std::filesystem;
    const std::string t = trim(text);
    if (t.empty()) return t;
    fs::path p(t);
    if (t == "~" || t.rfind("~/", 0) == 0) {
        const char* home = std::getenv("HOME");
        if (home == nullptr || *home == '\0')
            fail(d, text, where, "a file or folder ('~' names the home folder, but HOME is not set)");
        p = fs::path(home) / t.substr(t.size() > 1 ? 2 : 1);
    }
    if (p.is_relative()) {
        std::error_code ec;
        const fs::path cwd = fs::current_path(ec);
        if (ec)
            fail(d, text, where,
                 "an absolute file or folder (a relative one is read from the folder the program runs in, which "
                 "cannot be found: " + ec.message() + ")");
        p = cwd / p;
    }
    std::string out = p.lexically_normal().string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

void checkBounds(const ParamDecl& d, double v, const std::string& text, const std::string& where,
                 const std::string& what) {
    if ((d.min && v < *d.min) || (d.max && v > *d.max)) fail(d, text, where, what + boundsText(d));
}

} // namespace

std::string formatShortest(double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    std::string text;
    for (int precision = 1; precision <= 17; ++precision) {
        std::ostringstream s;
        s.imbue(std::locale::classic());
        s.precision(precision);
        s << v;
        text = s.str();
        double back = 0;
        std::from_chars(text.data(), text.data() + text.size(), back);
        if (back == v) break;
    }
    return text;
}

const char* paramTypeName(ParamType type) {
    switch (type) {
    case ParamType::Int: return "an integer";
    case ParamType::Double: return "a number";
    case ParamType::Bool: return "true or false";
    case ParamType::String: return "a string";
    case ParamType::IntList: return "a list of integers";
    case ParamType::DoubleList: return "a list of numbers";
    case ParamType::Path: return "a file or folder";
    }
    return "a value";
}

ParamDecl declareParam(std::string key, ParamType type, std::string defaultValue, std::string help,
                       std::optional<double> min, std::optional<double> max) {
    ParamDecl d;
    d.key = std::move(key);
    d.type = type;
    d.defaultValue = std::move(defaultValue);
    d.help = std::move(help);
    d.min = min;
    d.max = max;
    return d;
}

std::string canonicalParamValue(const ParamDecl& d, const std::string& text, const std::string& where) {
    // A number key with choices also takes those words ("auto").
    std::string words;
    if (d.type == ParamType::Int || d.type == ParamType::Double) {
        const std::string t = trim(text);
        for (const auto& c : d.choices) {
            if (c == t) return t;
            words += " or " + c;
        }
    }
    switch (d.type) {
    case ParamType::Int: {
        std::int64_t v = 0;
        if (!parseInt(text, v)) fail(d, text, where, std::string("an integer") + boundsText(d) + words);
        checkBounds(d, static_cast<double>(v), text, where, "an integer");
        return std::to_string(v);
    }
    case ParamType::Double: {
        double v = 0;
        if (!parseDouble(text, v)) fail(d, text, where, std::string("a number") + boundsText(d) + words);
        checkBounds(d, v, text, where, "a number");
        return formatDouble(v);
    }
    case ParamType::Bool: {
        bool v = false;
        if (!parseBool(text, v)) fail(d, text, where, "true or false");
        return v ? "true" : "false";
    }
    case ParamType::String: {
        const std::string t = trim(text);
        if (!d.choices.empty()) {
            bool ok = false;
            for (const auto& c : d.choices) ok = ok || c == t;
            if (!ok) {
                std::string list;
                for (const auto& c : d.choices) list += (list.empty() ? "" : ", ") + c;
                fail(d, text, where, "one of: " + list);
            }
        }
        return t;
    }
    case ParamType::Path: return absolutePath(d, text, where);
    case ParamType::IntList:
    case ParamType::DoubleList: {
        const bool isInt = d.type == ParamType::IntList;
        const std::string what = isInt ? "a list of integers" : "a list of numbers";
        std::string out = "[";
        for (const auto& item : splitList(text)) {
            std::string canon;
            if (isInt) {
                std::int64_t v = 0;
                if (!parseInt(item, v)) fail(d, text, where, what + boundsText(d));
                checkBounds(d, static_cast<double>(v), text, where, what);
                canon = std::to_string(v);
            } else {
                double v = 0;
                if (!parseDouble(item, v)) fail(d, text, where, what + boundsText(d));
                checkBounds(d, v, text, where, what);
                canon = formatDouble(v);
            }
            out += (out.size() > 1 ? ", " : "") + canon;
        }
        return out + "]";
    }
    }
    return text;
}

void ParamSet::set(const std::string& key, const std::string& canonicalValue, ParamType type) {
    m_values[key] = canonicalValue;
    m_types[key] = type;
}

ParamType ParamSet::type(const std::string& key) const {
    const auto it = m_types.find(key);
    return it == m_types.end() ? ParamType::String : it->second;
}

bool ParamSet::has(const std::string& key) const { return m_values.count(key) != 0; }

const std::string& ParamSet::raw(const std::string& key) const {
    const auto it = m_values.find(key);
    if (it == m_values.end()) throw Error("parameter '" + key + "' is not set");
    return it->second;
}

std::int64_t ParamSet::getInt(const std::string& key) const {
    std::int64_t v = 0;
    if (!parseInt(raw(key), v)) throw Error("parameter '" + key + "': expected an integer, got '" + raw(key) + "'");
    return v;
}

double ParamSet::getDouble(const std::string& key) const {
    double v = 0;
    if (!parseDouble(raw(key), v)) throw Error("parameter '" + key + "': expected a number, got '" + raw(key) + "'");
    return v;
}

bool ParamSet::getBool(const std::string& key) const {
    bool v = false;
    if (!parseBool(raw(key), v)) throw Error("parameter '" + key + "': expected true or false, got '" + raw(key) + "'");
    return v;
}

const std::string& ParamSet::getString(const std::string& key) const { return raw(key); }

std::vector<std::int64_t> ParamSet::getIntList(const std::string& key) const {
    std::vector<std::int64_t> out;
    for (const auto& item : splitList(raw(key))) {
        std::int64_t v = 0;
        if (!parseInt(item, v)) throw Error("parameter '" + key + "': expected a list of integers, got '" + raw(key) + "'");
        out.push_back(v);
    }
    return out;
}

std::vector<double> ParamSet::getDoubleList(const std::string& key) const {
    std::vector<double> out;
    for (const auto& item : splitList(raw(key))) {
        double v = 0;
        if (!parseDouble(item, v)) throw Error("parameter '" + key + "': expected a list of numbers, got '" + raw(key) + "'");
        out.push_back(v);
    }
    return out;
}

} // namespace losslab
