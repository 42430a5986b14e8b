#include "cli_args.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "losslab/error.h"

namespace losslab::cli {

Args::Args(std::vector<OptionSpec> specs, std::string command) : m_specs(std::move(specs)), m_command(std::move(command)) {
    m_specs.push_back({"help", false, false, "", "show this help"});
}

const OptionSpec* Args::find(const std::string& name) const {
    for (const auto& s : m_specs)
        if (s.name == name) return &s;
    return nullptr;
}

void Args::parse(const std::vector<std::string>& argv) {
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (a.rfind("--", 0) != 0 || a == "--") {
            m_positional.push_back(a);
            continue;
        }
        std::string name = a.substr(2);
        std::optional<std::string> inlineValue;
        if (const auto eq = name.find('='); eq != std::string::npos) {
            inlineValue = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        const OptionSpec* spec = find(name);
        if (!spec) throw Error(m_command + ": unknown option --" + name + " (see " + m_command + " --help)");
        if (!spec->repeatable && m_values.count(name))
            throw Error(m_command + ": --" + name + " is given twice");
        if (!spec->takesValue) {
            if (inlineValue) throw Error(m_command + ": --" + name + " takes no value");
            m_values[name].push_back("1");
            continue;
        }
        std::string value;
        if (inlineValue) {
            value = *inlineValue; // --name=--x: meant as written
        } else {
            if (i + 1 >= argv.size()) throw Error(m_command + ": --" + name + " needs a value (" + spec->valueName + ")");
            value = argv[++i];
            // `--db --quiet` is a forgotten value far more often than a file named "--quiet".
            if (value.rfind("--", 0) == 0) {
                const bool isPath = spec->valueName == "FILE" || spec->valueName == "DIR" || spec->valueName == "PATH";
                throw Error(m_command + ": --" + name + ": expected " + spec->valueName + ", got the option '" + value + "' (" +
                            (isPath ? "for a file of that name write ./" + value : "for a value of that form write --" + name + "=" + value) +
                            ")");
            }
        }
        m_values[name].push_back(value);
    }
}

bool Args::flag(const std::string& name) const { return m_values.count(name) != 0; }

std::optional<std::string> Args::value(const std::string& name) const {
    const auto it = m_values.find(name);
    if (it == m_values.end()) return std::nullopt;
    return it->second.back();
}

std::vector<std::string> Args::values(const std::string& name) const {
    const auto it = m_values.find(name);
    return it == m_values.end() ? std::vector<std::string>{} : it->second;
}

std::optional<long long> Args::integer(const std::string& name, long long min) const {
    const auto v = value(name);
    if (!v) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const long long n = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end != '\0' || errno != 0 || n < min)
        throw Error(m_command + ": --" + name + ": expected an integer >= " + std::to_string(min) + ", got '" + *v + "'");
    return n;
}

std::string Args::optionsHelp() const {
    std::string out;
    for (const auto& s : m_specs) {
        std::string left = "  --" + s.name + (s.takesValue ? " " + s.valueName : "");
        if (left.size() < 26) left.resize(26, ' ');
        else left += "  ";
        out += left + s.help + (s.repeatable ? " (repeatable)" : "") + "\n";
    }
    return out;
}

std::string shellQuote(const std::string& s) {
    std::string out = "'";
    for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string shellWord(const std::string& s) {
    const bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("_./-+:=@%", c) != nullptr;
    });
    return plain ? s : shellQuote(s);
}

} // namespace losslab::cli
