#include "losslab/data/text/glue_reader.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

#include "losslab/data_error.h"
#include "losslab/error.h"
#include "text_file.h"

namespace losslab {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kNoColumn = static_cast<std::size_t>(-1);

struct GlueFormat {
    const char* displayName;
    const char* columnA;
    const char* columnB; // nullptr for single-sentence tasks
    const char* labelColumn;
    std::array<const char*, 2> labelValues; // as written in the file; index = class id
    std::array<const char*, 2> classNames;
};

const GlueFormat& formatOf(GlueTask task) {
    static const GlueFormat kMrpc{"MRPC", "#1 String", "#2 String", "Quality", {"0", "1"},
                                  {"not_equivalent", "equivalent"}};
    static const GlueFormat kSst2{"SST-2", "sentence", nullptr, "label", {"0", "1"}, {"negative", "positive"}};
    static const GlueFormat kQnli{"QNLI", "question", "sentence", "label", {"entailment", "not_entailment"},
                                  {"entailment", "not_entailment"}};
    static const GlueFormat kQqp{"QQP", "question1", "question2", "is_duplicate", {"0", "1"},
                                 {"not_duplicate", "duplicate"}};
    switch (task) {
    case GlueTask::Mrpc: return kMrpc;
    case GlueTask::Sst2: return kSst2;
    case GlueTask::Qnli: return kQnli;
    case GlueTask::Qqp: return kQqp;
    }
    return kMrpc;
}

// One line without its line end (LF or CRLF); `pos` moves to the start of the next line.
std::string_view takeLine(std::string_view data, std::size_t& pos) {
    const std::size_t start = pos;
    const void* nl = std::memchr(data.data() + start, '\n', data.size() - start);
    const std::size_t end = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - data.data()) : data.size();
    pos = nl ? end + 1 : data.size();
    std::string_view line = data.substr(start, end - start);
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    return line;
}

// A carriage return left inside a line: the file's lines end with CR alone (classic Mac OS), so
// the whole file reads as its header, and a "column missing" would hide why.
void requireNoCarriageReturn(std::string_view line, const std::string& path, std::size_t lineNumber) {
    if (line.find('\r') != std::string_view::npos)
        throw Error(path + ":" + std::to_string(lineNumber) +
                    ": carriage return inside a line; expected LF or CRLF line ends (convert CR line ends, "
                    "for example with: tr '\\r' '\\n')");
}

std::vector<std::string_view> splitTabs(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t start = 0;
    while (true) {
        const std::size_t tab = line.find('\t', start);
        fields.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
        if (tab == std::string_view::npos)
            break;
        start = tab + 1;
    }
    return fields;
}

std::string listQuoted(const std::vector<std::string_view>& names) {
    std::string list;
    for (std::string_view name : names)
        list += (list.empty() ? "" : ", ") + Internal::quoteForMessage(name, 30);
    return list;
}

std::string expectedColumns(const GlueFormat& format) {
    std::string list = std::string("\"") + format.columnA + "\"";
    if (format.columnB)
        list += std::string(", \"") + format.columnB + "\"";
    return list + ", \"" + format.labelColumn + "\"";
}

} // namespace

GlueTask glueTaskFromName(const std::string& name) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "mrpc")
        return GlueTask::Mrpc;
    if (lower == "sst2" || lower == "sst-2")
        return GlueTask::Sst2;
    if (lower == "qnli")
        return GlueTask::Qnli;
    if (lower == "qqp")
        return GlueTask::Qqp;
    throw Error("unknown GLUE task \"" + name + "\"; expected one of mrpc, sst2, qnli, qqp");
}

std::string glueTaskName(GlueTask task) {
    switch (task) {
    case GlueTask::Mrpc: return "mrpc";
    case GlueTask::Sst2: return "sst2";
    case GlueTask::Qnli: return "qnli";
    case GlueTask::Qqp: return "qqp";
    }
    return "mrpc";
}

TextSplit readGlueFile(const std::string& path, GlueTask task, GlueLabels labels) {
    const GlueFormat& format = formatOf(task);
    const std::string bytes = Internal::readWholeFile(path, std::string("GLUE ") + format.displayName + " file");
    Internal::requireUtf8(bytes, path);
    const std::string_view data = std::string_view(bytes).substr(Internal::bomLength(bytes));

    std::size_t pos = 0;
    const std::string_view headerLine = takeLine(data, pos);
    requireNoCarriageReturn(headerLine, path, 1);
    if (headerLine.empty())
        throw Error(path + ":1: empty header row; expected the GLUE " + std::string(format.displayName)
                    + " columns " + expectedColumns(format) + " separated by tabs");
    const std::vector<std::string_view> header = splitTabs(headerLine);
    // A column the reader uses must be there once: with two, which one holds the data is a guess.
    auto column = [&](const char* name) {
        const auto it = std::find(header.begin(), header.end(), std::string_view(name));
        if (it == header.end()) return kNoColumn;
        const auto second = std::find(it + 1, header.end(), std::string_view(name));
        if (second != header.end())
            throw Error(path + ":1: column \"" + name + "\" appears twice (columns " +
                        std::to_string(it - header.begin() + 1) + " and " + std::to_string(second - header.begin() + 1) +
                        "); expected each of the GLUE " + format.displayName + " columns " + expectedColumns(format) +
                        " once");
        return static_cast<std::size_t>(it - header.begin());
    };
    auto requireColumn = [&](const char* name) {
        const std::size_t index = column(name);
        if (index == kNoColumn)
            throw Error(path + ": column \"" + name + "\" missing; the header has " + listQuoted(header)
                        + "; expected the GLUE " + format.displayName + " columns " + expectedColumns(format)
                        + " separated by tabs");
        return index;
    };
    const std::size_t columnA = requireColumn(format.columnA);
    const std::size_t columnB = format.columnB ? requireColumn(format.columnB) : kNoColumn;
    const std::size_t labelColumn = labels == GlueLabels::Required ? requireColumn(format.labelColumn)
                                                                   : column(format.labelColumn);

    TextSplit split;
    split.source = path;
    split.labelled = labelColumn != kNoColumn;
    split.classNames.assign(format.classNames.begin(), format.classNames.end());
    split.examples.reserve(static_cast<std::size_t>(std::count(data.begin(), data.end(), '\n')));

    // Fields are visited in one pass per line instead of split into a vector: QQP has 400k rows.
    const std::size_t fieldCount = header.size();
    std::size_t lineNumber = 1;
    while (pos < data.size()) {
        ++lineNumber;
        const std::string_view line = takeLine(data, pos);
        if (line.empty())
            continue;
        requireNoCarriageReturn(line, path, lineNumber);
        std::size_t field = 0;
        std::size_t start = 0;
        std::string_view a, b, label;
        while (true) {
            const std::size_t tab = line.find('\t', start);
            const std::size_t end = tab == std::string_view::npos ? line.size() : tab;
            if (field == columnA)
                a = line.substr(start, end - start);
            else if (field == columnB)
                b = line.substr(start, end - start);
            if (field == labelColumn)
                label = line.substr(start, end - start);
            ++field;
            if (tab == std::string_view::npos)
                break;
            start = tab + 1;
        }
        if (field != fieldCount)
            throw Error(path + ":" + std::to_string(lineNumber) + ": " + std::to_string(field)
                        + " tab-separated fields, expected " + std::to_string(fieldCount)
                        + " as in the header (GLUE files have no quoting, so a tab cannot be inside a text)");
        TextExample example;
        example.textA.assign(a);
        example.textB.assign(b);
        if (split.labelled) {
            const auto& values = format.labelValues;
            const auto it = std::find(values.begin(), values.end(), label);
            if (it == values.end())
                throw Error(path + ":" + std::to_string(lineNumber) + ": label " + Internal::quoteForMessage(label)
                            + " in column \"" + format.labelColumn + "\"; expected one of \"" + values[0]
                            + "\", \"" + values[1] + "\"");
            example.label = static_cast<int>(it - values.begin());
        }
        split.examples.push_back(std::move(example));
    }
    return split;
}

TextDataSet loadGlueFolder(const std::string& folder, GlueTask task) {
    const fs::path root(folder);
    const std::string train = (root / "train.tsv").string();
    const std::string dev = (root / "dev.tsv").string();
    const std::string test = (root / "test.tsv").string();

    std::vector<std::string_view> missing;
    std::error_code ec;
    if (!fs::is_regular_file(train, ec))
        missing.push_back(train);
    if (!fs::is_regular_file(dev, ec))
        missing.push_back(dev);
    if (!missing.empty()) {
        std::string list;
        for (std::string_view path : missing)
            list += (list.empty() ? "" : ", ") + std::string(path);
        throw DataNotFoundError("GLUE " + std::string(formatOf(task).displayName) + " files missing: " + list
                    + "; expected the task folder as GLUE distributes it (train.tsv, dev.tsv, test.tsv)");
    }

    TextDataSet set;
    set.source = root.string();
    set.pairs = formatOf(task).columnB != nullptr;
    set.train = readGlueFile(train, task, GlueLabels::Required);
    set.dev = readGlueFile(dev, task, GlueLabels::Required);
    // A header without rows would reach the run as an empty split, far from the file at fault.
    for (const TextSplit* split : {&set.train, &set.dev})
        if (split->examples.empty())
            throw Error(split->source + ": no rows after the header row; expected at least one labelled "
                        + std::string(formatOf(task).displayName) + " example");
    set.hasDev = true;
    if (fs::is_regular_file(test, ec)) {
        set.test = readGlueFile(test, task, GlueLabels::IfPresent);
        set.hasTest = true;
    }
    return set;
}

} // namespace losslab
