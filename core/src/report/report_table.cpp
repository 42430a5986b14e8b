#include "losslab/report/report_table.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "losslab/error.h"

namespace losslab {
std::string csvField(const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

namespace {

bool wordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80; }

// A cell's text as Markdown shows it literally: '|' would end the cell; '*', '`' and '\' would
// start emphasis, code or an escape; '<' before a letter, '/', '!' or '?' an HTML tag (which a
// renderer drops); '_' at a word's edge emphasis ("_tmp_ task" rendered as italics). '_' inside a
// word ("early_stopping") and '<' before a space or digit ("p < 0.05") are left alone, as
// GitHub's Markdown shows them as written. Cells, the caption and the notes under a table (which
// name tasks, losses and experiments) all go through it.
std::string markdownText(const std::string& t) {
    std::string out;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const char c = t[i];
        const char next = i + 1 < t.size() ? t[i + 1] : ' ';
        if (c == '|' || c == '*' || c == '`' || c == '\\') out += std::string("\\") + c;
        else if (c == '_' && !(i > 0 && wordChar(t[i - 1]) && wordChar(next))) out += "\\_";
        else if (c == '<' && (std::isalpha(static_cast<unsigned char>(next)) || next == '/' || next == '!' || next == '?')) out += "&lt;";
        else if (c == '\n') out += ' ';
        else out += c;
    }
    return out;
}

std::string markdownCell(const TableCell& cell) {
    const std::string out = markdownText(cell.text);
    return cell.emphasis && !out.empty() ? "**" + out + "**" : out;
}

std::string latexEscape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        // "±" (UTF-8 C2 B1) becomes math, so that the file needs no Unicode set-up.
        if (static_cast<unsigned char>(c) == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xB1) {
            out += "$\\pm$";
            ++i;
            continue;
        }
        // "−" (U+2212, E2 88 92) becomes a math minus.
        if (static_cast<unsigned char>(c) == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x88 &&
            static_cast<unsigned char>(s[i + 2]) == 0x92) {
            out += "$-$";
            i += 2;
            continue;
        }
        // A minus sign that starts a number ("-0.48", "[-0.55, -0.40]") is set as math: in text
        // it would print as a hyphen. "1e-05", "toy-1" and a lone "-" (no value) stay as they are.
        if (c == '-' && i + 1 < s.size() && (std::isdigit(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '.') &&
            (i == 0 || s[i - 1] == ' ' || s[i - 1] == '[' || s[i - 1] == '(')) {
            out += "$-$";
            continue;
        }
        switch (c) {
        case '&': case '%': case '$': case '#': case '_': case '{': case '}': out += '\\'; out += c; break;
        case '|': out += "\\textbar{}"; break; // in the default OT1 font encoding '|' prints as an em dash
        case '~': out += "\\textasciitilde{}"; break;
        case '^': out += "\\textasciicircum{}"; break;
        case '\\': out += "\\textbackslash{}"; break;
        case '<': out += "\\textless{}"; break;
        case '>': out += "\\textgreater{}"; break;
        default: out += c;
        }
    }
    return out;
}

} // namespace

std::string formatFixed(double value, int decimals) {
    if (std::isnan(value)) return "-";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed, decimals);
    std::string out(buf, res.ptr);
    if (out.find_first_not_of("-0.") == std::string::npos && out[0] == '-') out.erase(0, 1); // no "-0.00"
    return out;
}

std::string formatFull(double value) {
    if (std::isnan(value)) return "";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, res.ptr);
}

std::string toCsv(const ReportTable& t) {
    std::string out;
    for (std::size_t i = 0; i < t.header.size(); ++i) out += (i ? "," : "") + csvField(t.header[i]);
    out += "\r\n";
    for (const auto& row : t.rows) {
        for (std::size_t i = 0; i < row.size(); ++i) out += (i ? "," : "") + csvField(row[i].text);
        out += "\r\n";
    }
    return out;
}

std::string toMarkdown(const ReportTable& t) {
    std::string out;
    if (!t.title.empty()) out += "### " + markdownText(t.title) + "\n\n";
    out += "|";
    for (const auto& h : t.header) out += " " + markdownCell({h, false}) + " |";
    out += "\n|";
    for (std::size_t i = 0; i < t.header.size(); ++i)
        out += (i < t.numeric.size() && t.numeric[i]) ? " ---: |" : " --- |";
    out += "\n";
    for (const auto& row : t.rows) {
        out += "|";
        for (const auto& cell : row) out += " " + markdownCell(cell) + " |";
        out += "\n";
    }
    if (!t.notes.empty()) {
        out += "\n";
        for (const auto& n : t.notes) out += "- " + markdownText(n) + "\n";
    }
    return out;
}

std::string toLatex(const ReportTable& t) {
    std::string spec;
    for (std::size_t i = 0; i < t.header.size(); ++i) spec += (i < t.numeric.size() && t.numeric[i]) ? 'r' : 'l';
    std::string out = "% Generated by LossLab. Needs \\usepackage{booktabs}.\n";
    out += "\\begin{table}[t]\n\\centering\n";
    if (!t.title.empty()) out += "\\caption{" + latexEscape(t.title) + "}\n";
    if (!t.label.empty()) out += "\\label{" + t.label + "}\n";
    out += "\\begin{tabular}{" + spec + "}\n\\toprule\n";
    for (std::size_t i = 0; i < t.header.size(); ++i) out += (i ? " & " : "") + latexEscape(t.header[i]);
    out += " \\\\\n\\midrule\n";
    for (const auto& row : t.rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            std::string text = latexEscape(row[i].text);
            if (row[i].emphasis && !text.empty()) text = "\\textbf{" + text + "}";
            // A row's first cell follows "\\" or "\\midrule", which would read a leading "[" as the
            // start of their optional argument ("[w]/mlp": "Missing number, treated as zero").
            if (i == 0 && !text.empty() && text[0] == '[') text = "{}" + text;
            out += (i ? " & " : "") + text;
        }
        out += " \\\\\n";
    }
    out += "\\bottomrule\n\\end{tabular}\n";
    if (!t.notes.empty()) {
        out += "\\par\\smallskip\n{\\footnotesize\n";
        for (const auto& n : t.notes) out += latexEscape(n) + "\\par\n";
        out += "}\n";
    }
    out += "\\end{table}\n";
    return out;
}

void prepareFolder(const std::string& folder, const std::string& named) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(folder, ec) && !fs::is_directory(folder, ec))
        throw Error("cannot create " + named + ": a file of that name is in the way");
    fs::create_directories(folder, ec);
    if (ec || !fs::is_directory(folder, ec)) throw Error("cannot create " + named + ": " + (ec ? ec.message() : "not a folder"));
    if (::access(folder.c_str(), W_OK) != 0) throw Error("cannot write into " + named + ": " + std::strerror(errno));
}

void writeFileAtomically(const std::string& path, const std::string& content, const std::string& tmpName) {
    const std::string tmp = (tmpName.empty() ? path + ".tmp" : (std::filesystem::path(path).parent_path() / tmpName).string()) + "-" +
                            std::to_string(::getpid());
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw Error("cannot write " + path + ": " + std::strerror(errno));
    const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size() && std::fflush(f) == 0 &&
                    ::fsync(fileno(f)) == 0;
    const int err = errno;
    std::fclose(f);
    if (!ok) {
        std::remove(tmp.c_str());
        throw Error("cannot write " + path + ": " + std::strerror(err));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int renameErr = errno;
        std::remove(tmp.c_str());
        throw Error("cannot write " + path + ": " + std::strerror(renameErr));
    }
}

} // namespace losslab
