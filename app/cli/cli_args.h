#pragma once
// A small command-line parser: "--name value", "--name=value", repeatable options, flags
// and positional arguments. Unknown options are errors (losslab::Error naming them).
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace losslab::cli {

struct OptionSpec {
    std::string name;      // without dashes: "db"
    bool takesValue = true;
    bool repeatable = false;
    std::string valueName; // for --help: "FILE"
    std::string help;
};

class Args {
public:
    Args(std::vector<OptionSpec> specs, std::string command);
    // Throws Error on an unknown option, a missing value, a non-repeatable option given twice,
    // or a separate value that starts with "--" (`--db --quiet`: a value forgotten; `--db=--x`
    // passes such a value on purpose).
    void parse(const std::vector<std::string>& argv);

    bool flag(const std::string& name) const;
    std::optional<std::string> value(const std::string& name) const;
    std::vector<std::string> values(const std::string& name) const;
    const std::vector<std::string>& positional() const { return m_positional; }
    // Parses a non-negative integer option; Error names the option on bad input.
    std::optional<long long> integer(const std::string& name, long long min) const;

    std::string optionsHelp() const;

private:
    const OptionSpec* find(const std::string& name) const;

    std::vector<OptionSpec> m_specs;
    std::string m_command;
    std::map<std::string, std::vector<std::string>> m_values;
    std::vector<std::string> m_positional;
};

// `s` in single quotes for a shell script or a command to copy ('\'' for a quote inside).
std::string shellQuote(const std::string& s);
// `s` as one shell word: as it is when it holds only letters, digits and _ . / - + : = @ %,
// else shellQuote(s).
std::string shellWord(const std::string& s);

} // namespace losslab::cli
