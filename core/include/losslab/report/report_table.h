#pragma once
// A table as a report shows it, and its three renderings:
//   CSV      RFC 4180 (CRLF line ends, quotes only where needed), C locale, UTF-8;
//   Markdown pipe table, emphasis as **bold**, notes as a list under it;
//   LaTeX    booktabs (\toprule, \midrule, \bottomrule), no vertical rules, emphasis as
//            \textbf, special characters escaped; needs \usepackage{booktabs}.
// Torch-free, Qt-free.
#include <string>
#include <vector>

namespace losslab {

struct TableCell {
    std::string text;
    bool emphasis = false; // the better value of a row
};

struct ReportTable {
    std::string title;                 // caption (Markdown heading, LaTeX \caption)
    std::string label;                 // LaTeX \label, e.g. "tab:main"
    std::vector<std::string> header;
    std::vector<bool> numeric;         // per column: right-aligned
    std::vector<std::vector<TableCell>> rows;
    std::vector<std::string> notes;    // sentences shown under the table (not in CSV)
};

std::string toCsv(const ReportTable& table);
// One CSV field: quoted (with doubled quotes) only when it holds a comma, quote or line break.
std::string csvField(const std::string& text);
std::string toMarkdown(const ReportTable& table);
std::string toLatex(const ReportTable& table);

// Numbers as text, independent of the process locale.
std::string formatFixed(double value, int decimals); // "85.28"; "-" for NaN
std::string formatFull(double value);                // shortest text that reads back exactly; "" for NaN

// Writes `content` to `path` through a temporary file in the same folder that is flushed
// and renamed, so a reader never sees a partial file. Throws Error naming the path. The
// temporary file is `path`.tmp-<pid>, or `tmpName`-<pid> in the same folder when given (for
// readers that would pick up a file by part of its name).
void writeFileAtomically(const std::string& path, const std::string& content, const std::string& tmpName = {});

// Creates `folder` with its parents if missing and checks that it can be written into.
// Throws Error "cannot create <named>: a file of that name is in the way" (or the OS reason),
// "cannot write into <named>: ..."; `named` says which folder ("the report folder /x").
void prepareFolder(const std::string& folder, const std::string& named);

} // namespace losslab
