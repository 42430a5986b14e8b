// The report's tables as a paper's author uses them: the LaTeX files compile with the preamble
// docs/report.md names (\usepackage{booktabs}) whatever the task and loss names hold, and the
// CSV of table-main has a row for every cell the display table shows. The LaTeX checks come
// twice: by the text (always) and by pdflatex (skipped when it is not installed).
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "losslab/report/paper_tables.h"
#include "losslab/report/report_files.h"
#include "losslab/report/report_table.h"
#include "losslab/store/run_store.h"
#include "scratch_dir.h"

namespace fs = std::filesystem;
using namespace losslab;

namespace {

// Every character LaTeX treats specially, a leading bracket (the first cell of a row) and a
// Latin letter with an accent, which pdflatex's default UTF-8 set-up prints.
const std::string kTask = "[w]_100%&#${x}~^\\|<y> \xC3\xA9/mlp";
const std::string kSquareName = "sq_a%&#$ {x}~^\\|<q>, \xC3\xA9";

// Experiment "names": task kTask; losses "ce" (lr 0.1) and kSquareName (lr 0.2); protocols
// early_stopping and same_epochs_as_ce; seeds 0-2, one epoch each. The square loss is worse by
// 0.01 + 0.002 * seed (negative differences). With `squareDiverges` every square-loss
// early-stopping run diverged.
void buildStore(RunStore& store, bool squareDiverges) {
    ExperimentRecord e;
    e.name = "names";
    e.taskId = kTask;
    const std::int64_t id = store.addExperiment(e);
    std::vector<RunRecord> runs;
    for (const auto& [loss, protocol] : std::vector<std::pair<std::string, std::string>>{
             {"ce", "early_stopping"}, {"square", "early_stopping"}, {"square", "same_epochs_as_ce"}})
        for (int seed = 0; seed < 3; ++seed) {
            RunRecord r;
            r.taskId = kTask;
            r.lossName = loss == "ce" ? "ce" : kSquareName;
            r.loss = loss;
            r.lr = loss == "ce" ? 0.1 : 0.2;
            r.protocol = protocol;
            r.seed = seed;
            runs.push_back(r);
        }
    const std::vector<std::int64_t> ids = store.addRuns(id, runs);
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const RunRecord& r = runs[i];
        const bool diverged = squareDiverges && r.loss == "square" && r.protocol == "early_stopping";
        const double acc = 0.8 + 0.004 * r.seed - (r.loss == "square" ? 0.01 + 0.002 * r.seed : 0.0);
        store.markStarted(ids[i], "cpu", 0, "LibTorch 2.6.0", 2);
        store.appendEpoch(ids[i], 1, {{"val", "acc", acc}, {"test", "acc", diverged ? std::nan("") : acc}});
        store.finishRun(ids[i], diverged ? RunStatus::Diverged : RunStatus::Completed, 1, 1, 1.0,
                        diverged ? "loss became NaN" : "");
    }
    store.flush();
}

ReportTable oneRowTable(const std::vector<std::string>& cells) {
    ReportTable t;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        t.header.push_back("c" + std::to_string(i));
        t.numeric.push_back(false);
    }
    std::vector<TableCell> row;
    for (const auto& c : cells) row.push_back({c, false});
    t.rows.push_back(row);
    return t;
}

// The line of the table body (after \midrule) that starts the first row.
std::string firstBodyLine(const std::string& latex) {
    const auto mid = latex.find("\\midrule\n");
    if (mid == std::string::npos) return {};
    const auto start = mid + 9;
    return latex.substr(start, latex.find('\n', start) - start);
}

// What pdflatex would choke on or misprint in one line of a generated file, checked by its text:
// a character special to LaTeX outside a command ('%' ends the line, '#', '_', '^', '~', '|',
// '<', '>' or a '$' outside the generated "$\pm$" and "$-$"), a '}' without its '{' (`depth`
// counts the open braces from line to line: the notes' "{\footnotesize" group spans lines), and
// in the tabular's body a line that starts with '[' (read as the optional argument of the "\\"
// or "\midrule" before it). Empty when fine.
std::string latexProblem(const std::string& line, bool inBody, int& depth) {
    if (inBody && !line.empty() && line[0] == '[') return "starts with '['";
    std::string text = line;
    for (const std::string math : {"$\\pm$", "$-$"})
        for (auto at = text.find(math); at != std::string::npos; at = text.find(math)) text.replace(at, math.size(), "M");
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\\') {
            ++i; // "\%", "\\", or the first letter of a command name
            while (i + 1 < text.size() && std::isalpha(static_cast<unsigned char>(text[i])) &&
                   std::isalpha(static_cast<unsigned char>(text[i + 1])))
                ++i;
            continue;
        }
        if (c == '{') ++depth;
        if (c == '}' && --depth < 0) return "unbalanced '}'";
        if (std::string("%#_^~|<>$").find(c) != std::string::npos) return std::string("raw '") + c + "'";
    }
    return {};
}

class ReportLatexTest : public ::testing::Test {
protected:
    std::vector<std::string> writeTables(bool squareDiverges) {
        RunStore store((m_scratch.path() / (squareDiverges ? "diverged.sqlite" : "runs.sqlite")).string());
        buildStore(store, squareDiverges);
        ReportRequest request;
        request.outDir = (m_scratch.path() / "out").string();
        const ReportData data = loadReportData(store, request, {});
        std::vector<std::string> tex;
        for (const auto& path : writeReportTables(store, data, request))
            if (fs::path(path).extension() == ".tex") tex.push_back(path);
        return tex;
    }
    fixtures::ScratchDir m_scratch{"losslab-report-latex"};
};

} // namespace

TEST(ReportLatex, EscapesEveryCharacterSpecialToLatex) {
    const std::string latex = toLatex(oneRowTable({"x", "a_b%c&d#e$f{g}h~i^j\\k|l<m>n"}));
    EXPECT_EQ(firstBodyLine(latex),
              "x & a\\_b\\%c\\&d\\#e\\$f\\{g\\}h\\textasciitilde{}i\\textasciicircum{}j\\textbackslash{}k"
              "\\textbar{}l\\textless{}m\\textgreater{}n \\\\")
        << "'|' prints as an em dash in LaTeX's default font encoding: it needs \\textbar";
}

TEST(ReportLatex, ARowStartingWithABracketIsNotReadAsAnOptionalArgument) {
    // "\\" and "\midrule" take an optional argument in brackets: "\midrule\n[w]/mlp & ..." is
    // "Missing number, treated as zero" in pdflatex.
    const std::string latex = toLatex(oneRowTable({"[w]/mlp", "[1.01, 1.79]"}));
    EXPECT_EQ(firstBodyLine(latex), "{}[w]/mlp & [1.01, 1.79] \\\\");
    ReportTable bold = oneRowTable({"[w]/mlp", "1"});
    bold.rows[0][0].emphasis = true;
    EXPECT_EQ(firstBodyLine(toLatex(bold)), "\\textbf{[w]/mlp} & 1 \\\\");
}

TEST(ReportLatex, NegativeNumbersGetAMinusSignNotAHyphen) {
    const std::string latex = toLatex(oneRowTable({"toy-1", "-0.48", "[-0.55, -0.40]", "1.8e-05", "-", "-0.48 (n=4)"}));
    EXPECT_EQ(firstBodyLine(latex), "toy-1 & $-$0.48 & [$-$0.55, $-$0.40] & 1.8e-05 & - & $-$0.48 (n=4) \\\\");
}

// Before, only '|' was escaped in Markdown: a loss named "*sq*" showed in italics, "<wide>/mlp"
// vanished as an HTML tag, "_tmp_" turned italic and "a\\b" lost its backslash on GitHub.
TEST(ReportMarkdown, NamesShowAsWrittenWhileNumbersAndWordsStayPlain) {
    const std::string md = toMarkdown(oneRowTable({"<wide>/mlp_1", "*sq*", "_tmp_ a\\b `c`", "p < 0.05", "early_stopping",
                                                   "a|b"}));
    const std::string row = md.substr(md.rfind("\n|", md.size() - 2) + 1);
    EXPECT_EQ(row, "| &lt;wide>/mlp_1 | \\*sq\\* | \\_tmp\\_ a\\\\b \\`c\\` | p < 0.05 | early_stopping | a\\|b |\n");
}

// Before, the notes under a table and its caption went into the Markdown as written: a note
// naming the loss "*sq*" showed it in italics and one naming "<wide>/mlp" lost the task.
TEST(ReportMarkdown, NotesAndCaptionShowNamesAsWritten) {
    ReportTable table = oneRowTable({"x"});
    table.title = "Results of <wide>/mlp";
    table.notes = {"<wide>/mlp *sq* (k=1, M=1, lr=0.2), early_stopping: left out (not completed): seed 4: diverged",
                   "experiments _tmp_ and a|b\\c pooled"};
    const std::string md = toMarkdown(table);
    EXPECT_EQ(md.substr(0, md.find('\n')), "### Results of &lt;wide>/mlp");
    const std::string notes = md.substr(md.find("\n\n- ") + 2);
    EXPECT_EQ(notes, "- &lt;wide>/mlp \\*sq\\* (k=1, M=1, lr=0.2), early_stopping: left out (not completed): seed 4: "
                     "diverged\n- experiments \\_tmp\\_ and a\\|b\\\\c pooled\n");
}

TEST_F(ReportLatexTest, EveryTableIsValidLatexWhateverTheNamesHold) {
    for (const bool squareDiverges : {false, true}) {
        const std::vector<std::string> files = writeTables(squareDiverges);
        ASSERT_EQ(files.size(), 4u);
        for (const auto& path : files) {
            const std::string text = fixtures::readFile(path);
            std::istringstream lines(text);
            std::string line;
            int number = 0, columns = 0, depth = 0;
            bool body = false;
            while (std::getline(lines, line)) {
                ++number;
                if (line.rfind("%", 0) == 0) continue; // the file's comment line
                if (line.rfind("\\begin{tabular}{", 0) == 0) columns = static_cast<int>(line.size() - 17);
                if (line == "\\bottomrule") body = false;
                EXPECT_EQ(latexProblem(line, body, depth), "") << path << ":" << number << ": " << line;
                if (line == "\\midrule") body = true;
                if (body && line != "\\midrule") {
                    int ampersands = 0;
                    for (std::size_t i = 0; i < line.size(); ++i)
                        if (line[i] == '&' && (i == 0 || line[i - 1] != '\\')) ++ampersands;
                    EXPECT_EQ(ampersands, columns - 1) << path << ":" << number << ": " << line;
                }
            }
            EXPECT_EQ(depth, 0) << path << ": a '{' without its '}'";
            EXPECT_GT(columns, 0) << path;
        }
    }
}

TEST_F(ReportLatexTest, EveryTableCompilesWithPdflatex) {
    if (std::system("command -v pdflatex > /dev/null 2>&1") != 0) GTEST_SKIP() << "pdflatex is not installed";
    for (const bool squareDiverges : {false, true}) {
        const std::vector<std::string> files = writeTables(squareDiverges);
        ASSERT_EQ(files.size(), 4u);
        const fs::path dir = m_scratch.path() / "out";
        std::ofstream doc(dir / "paper.tex");
        doc << "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n";
        for (const auto& path : files) doc << "\\input{" << fs::path(path).stem().string() << "}\n";
        doc << "\\end{document}\n";
        doc.close();
        const std::string command = "cd '" + dir.string() +
                                    "' && pdflatex -interaction=nonstopmode -halt-on-error -no-shell-escape paper.tex "
                                    "> pdflatex.out 2>&1";
        EXPECT_EQ(std::system(command.c_str()), 0)
            << "pdflatex failed (square early stopping diverged: " << squareDiverges << "):\n"
            << fixtures::readFile(dir / "pdflatex.out");
        EXPECT_TRUE(fs::exists(dir / "paper.pdf"));
        fs::remove(dir / "paper.pdf");
    }
}

TEST_F(ReportLatexTest, MainCsvHasARowForAGroupWithoutCompletedRuns) {
    // The display shows "-" for the diverged square loss; the CSV says so with n = 0.
    RunStore store((m_scratch.path() / "runs.sqlite").string());
    buildStore(store, true);
    const ReportData data = loadReportData(store, ReportRequest{}, {});
    const PaperTable table = mainTable(data.analysis, data.options);
    ASSERT_EQ(table.display.rows.size(), 1u);
    ASSERT_EQ(table.display.rows[0].size(), 5u);
    EXPECT_EQ(table.display.rows[0][2].text, "-"); // square loss, early stopping
    std::map<std::string, std::vector<std::string>> byProtocolAndLoss;
    for (const auto& row : table.data.rows) {
        std::vector<std::string> cells;
        for (const auto& c : row) cells.push_back(c.text);
        byProtocolAndLoss[cells[10] + " " + cells[6]] = cells;
    }
    EXPECT_EQ(table.data.rows.size(), 3u) << "one CSV row per cell of the display row";
    ASSERT_EQ(byProtocolAndLoss.count("early_stopping square"), 1u);
    const auto& diverged = byProtocolAndLoss["early_stopping square"];
    EXPECT_EQ(diverged[5], kSquareName);
    EXPECT_EQ(diverged[11], "0"); // n
    for (int i = 12; i <= 15; ++i) EXPECT_EQ(diverged[i], "") << table.data.header[i];
    EXPECT_EQ(diverged[16], "false");
    EXPECT_EQ(byProtocolAndLoss["early_stopping ce"][11], "3");
}
