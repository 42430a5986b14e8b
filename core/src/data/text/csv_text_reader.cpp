#include "losslab/data/text/csv_text_reader.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <set>
#include <string_view>
#include <unordered_map>

#include "losslab/data_error.h"
#include "losslab/error.h"
#include "text_file.h"

namespace losslab {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kNoColumn = static_cast<std::size_t>(-1);

std::string at(const std::string& path, std::size_t line) {
    return path + ":" + std::to_string(line);
}

// Calls `onRecord(fields, line)` for every record of an RFC 4180 file, `line` being the
// physical line the record starts on. Blank lines outside quotes are skipped.
void parseCsv(std::string_view data, const std::string& path,
              const std::function<void(std::vector<std::string>&, std::size_t)>& onRecord) {
    std::vector<std::string> fields;
    std::size_t pos = 0;
    std::size_t line = 1;
    const std::size_t size = data.size();
    while (pos < size) {
        const std::size_t recordLine = line;
        fields.clear();
        bool anyQuoted = false;
        while (true) {
            std::string field;
            if (pos < size && data[pos] == '"') {
                anyQuoted = true;
                const std::size_t openLine = line;
                ++pos;
                while (true) {
                    const std::size_t quote = data.find('"', pos);
                    if (quote == std::string_view::npos)
                        throw Error(at(path, openLine) + ": a quoted field starts here and is never closed"
                                    " (the file ends inside it); expected a closing double quote");
                    const std::string_view chunk = data.substr(pos, quote - pos);
                    line += static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
                    field.append(chunk);
                    pos = quote + 1;
                    if (pos < size && data[pos] == '"') { // "" is one quote character
                        field.push_back('"');
                        ++pos;
                        continue;
                    }
                    break;
                }
                if (pos < size && data[pos] == '\r' && (pos + 1 == size || data[pos + 1] == '\n'))
                    ++pos; // CRLF
                if (pos < size && data[pos] != ',' && data[pos] != '\n')
                    throw Error(at(path, line) + ": " + Internal::quoteForMessage(data.substr(pos, 1))
                                + " after a closing quote; expected a comma or the end of the line"
                                  " (a quote inside a quoted field is written twice: \"\")");
            } else {
                const std::size_t start = pos;
                const std::size_t end = data.find_first_of(",\n", pos);
                pos = end == std::string_view::npos ? size : end;
                std::size_t stop = pos;
                if ((end == std::string_view::npos || data[end] == '\n') && stop > start && data[stop - 1] == '\r')
                    --stop; // CRLF
                field.assign(data.substr(start, stop - start));
            }
            fields.push_back(std::move(field));
            if (pos >= size)
                break;
            const char separator = data[pos++];
            if (separator == '\n') {
                ++line;
                break;
            }
        }
        if (fields.size() == 1 && fields[0].empty() && !anyQuoted)
            continue; // blank line
        onRecord(fields, recordLine);
    }
}

struct Columns {
    std::size_t text = kNoColumn;
    std::size_t label = kNoColumn;
    std::size_t count = 0;
};

Columns findColumns(const std::vector<std::string>& header, const std::string& path, bool labelRequired) {
    Columns columns;
    columns.count = header.size();
    for (std::size_t i = 0; i < header.size(); ++i) {
        std::size_t* found = header[i] == "text" ? &columns.text : header[i] == "label" ? &columns.label : nullptr;
        if (!found) continue;
        // Two of a column: which one holds the data would be a guess.
        if (*found != kNoColumn)
            throw Error(path + ":1: column \"" + header[i] + "\" appears twice (columns " + std::to_string(*found + 1) +
                        " and " + std::to_string(i + 1) + "); expected the columns \"text\" and \"label\" once each");
        *found = i;
    }
    std::string names;
    for (const std::string& name : header)
        names += (names.empty() ? "" : ", ") + Internal::quoteForMessage(name, 30);
    if (columns.text == kNoColumn)
        throw Error(path + ": column \"text\" missing; the header row has " + names
                    + "; expected a header row with the columns \"text\" and \"label\"");
    if (labelRequired && columns.label == kNoColumn)
        throw Error(path + ": column \"label\" missing; the header row has " + names
                    + "; expected a header row with the columns \"text\" and \"label\"");
    return columns;
}

// Rows of one file: texts and label strings, checked for field count and empty labels.
struct RawRows {
    std::vector<std::string> texts;
    std::vector<std::string> labels;
    std::vector<std::size_t> lines;
    bool labelled = false;
};

RawRows readRows(const std::string& path, bool labelRequired) {
    const std::string bytes = Internal::readWholeFile(path, "CSV file");
    Internal::requireUtf8(bytes, path);
    const std::string_view data = std::string_view(bytes).substr(Internal::bomLength(bytes));

    RawRows rows;
    Columns columns;
    bool haveHeader = false;
    parseCsv(data, path, [&](std::vector<std::string>& fields, std::size_t line) {
        if (!haveHeader) {
            columns = findColumns(fields, path, labelRequired);
            rows.labelled = columns.label != kNoColumn;
            haveHeader = true;
            return;
        }
        if (fields.size() != columns.count)
            throw Error(at(path, line) + ": " + std::to_string(fields.size()) + " fields, expected "
                        + std::to_string(columns.count)
                        + " as in the header row (a text with a comma must be in double quotes)");
        if (rows.labelled) {
            if (fields[columns.label].empty())
                throw Error(at(path, line) + ": empty label; expected a class name in column \"label\"");
            rows.labels.push_back(std::move(fields[columns.label]));
        }
        rows.texts.push_back(std::move(fields[columns.text]));
        rows.lines.push_back(line);
    });
    if (!haveHeader)
        throw Error(path + ": the file is empty; expected a header row with the columns \"text\" and \"label\"");
    return rows;
}

// A header without rows would reach the run as an empty split, far from the file at fault.
void requireRows(const RawRows& rows, const std::string& path) {
    if (rows.texts.empty())
        throw Error(path + ": no rows after the header row; expected at least one text"
                    + std::string(rows.labelled ? " with its label" : ""));
}

bool isInteger(const std::string& s) {
    std::size_t i = (s.size() > 1 && s[0] == '-') ? 1 : 0;
    if (i == s.size() || s.size() - i > 18) // longer ones would overflow; they sort byte-wise
        return false;
    for (; i < s.size(); ++i)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

std::vector<std::string> sortedClasses(const std::vector<std::string>& labels) {
    const std::set<std::string> unique(labels.begin(), labels.end());
    std::vector<std::string> classes(unique.begin(), unique.end());
    const bool numeric = std::all_of(classes.begin(), classes.end(), isInteger);
    if (numeric)
        std::stable_sort(classes.begin(), classes.end(), [](const std::string& a, const std::string& b) {
            return std::stoll(a) < std::stoll(b);
        });
    return classes;
}

TextSplit toSplit(RawRows rows, const std::string& path, const std::vector<std::string>& classNames,
                  const std::string& trainPath) {
    std::unordered_map<std::string, int> ids;
    for (std::size_t i = 0; i < classNames.size(); ++i)
        ids.emplace(classNames[i], static_cast<int>(i));

    TextSplit split;
    split.source = path;
    split.classNames = classNames;
    split.labelled = rows.labelled;
    split.examples.resize(rows.texts.size());
    for (std::size_t i = 0; i < rows.texts.size(); ++i) {
        TextExample& example = split.examples[i];
        example.textA = std::move(rows.texts[i]);
        if (!rows.labelled)
            continue;
        const auto it = ids.find(rows.labels[i]);
        if (it == ids.end()) {
            std::string known;
            for (std::size_t c = 0; c < classNames.size() && c < 20; ++c)
                known += (known.empty() ? "" : ", ") + Internal::quoteForMessage(classNames[c], 30);
            if (classNames.size() > 20)
                known += ", ... (" + std::to_string(classNames.size()) + " in all)";
            throw Error(at(path, rows.lines[i]) + ": label " + Internal::quoteForMessage(rows.labels[i])
                        + " is not a class of "
                        + (trainPath.empty() ? std::string("the training data") : "the training file " + trainPath)
                        + "; expected one of " + known);
        }
        example.label = it->second;
    }
    return split;
}

} // namespace

TextSplit readTextCsvTrain(const std::string& path) {
    RawRows rows = readRows(path, true);
    requireRows(rows, path);
    const std::vector<std::string> classes = sortedClasses(rows.labels);
    return toSplit(std::move(rows), path, classes, path);
}

TextSplit readTextCsvFile(const std::string& path, const std::vector<std::string>& classNames, CsvLabels labels) {
    return toSplit(readRows(path, labels == CsvLabels::Required), path, classNames, "");
}

TextDataSet loadTextCsvFolder(const std::string& folder) {
    const fs::path root(folder);
    const std::string train = (root / "train.csv").string();
    std::error_code ec;
    if (!fs::is_regular_file(train, ec))
        throw DataNotFoundError(train + ": training file not found; expected a CSV data set folder with train.csv"
                            " (and optionally dev.csv, test.csv), each with a header row \"text,label\"");
    TextDataSet set;
    set.source = root.string();
    set.train = readTextCsvTrain(train);
    const std::string dev = (root / "dev.csv").string();
    if (fs::is_regular_file(dev, ec)) {
        RawRows rows = readRows(dev, true);
        requireRows(rows, dev);
        set.dev = toSplit(std::move(rows), dev, set.train.classNames, train);
        set.hasDev = true;
    }
    const std::string test = (root / "test.csv").string();
    if (fs::is_regular_file(test, ec)) {
        RawRows rows = readRows(test, false);
        if (rows.labelled) requireRows(rows, test); // a labelled test.csv is the test split
        set.test = toSplit(std::move(rows), test, set.train.classNames, train);
        set.hasTest = true;
    }
    return set;
}

} // namespace losslab
