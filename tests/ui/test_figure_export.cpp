// Report figures as files: names, formats, pixel size and resolution, atomic writes, and the
// figures that are skipped with a reason. Runs without a QApplication of its own, like the
// CLI: writeReportFigures creates one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include <QGuiApplication>
#include <QLocale>
#include <QRegularExpression>
#include <QString>
#include <QXmlStreamReader>

#include "losslab/error.h"
#include "plots/figure_export.h"
#include "sample_analysis.h"

using namespace losslab;
using namespace losslab::testing;
namespace fs = std::filesystem;

namespace {

class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "losslab-figures-XXXXXX").string();
        if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
        m_path = pattern;
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(m_path, ignored);
    }
    const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

std::string readFile(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::uint32_t bigEndian32(const std::string& bytes, std::size_t at) {
    return (std::uint32_t(std::uint8_t(bytes[at])) << 24) | (std::uint32_t(std::uint8_t(bytes[at + 1])) << 16) |
           (std::uint32_t(std::uint8_t(bytes[at + 2])) << 8) | std::uint32_t(std::uint8_t(bytes[at + 3]));
}

struct PngInfo {
    bool signatureOk = false;
    std::uint32_t width = 0, height = 0;
    bool hasPhys = false;
    std::uint32_t physX = 0, physY = 0;
    int physUnit = -1;
    bool hasEnd = false;
};

// Walks the PNG chunks (length, type, data, CRC).
PngInfo readPng(const fs::path& path) {
    const std::string bytes = readFile(path);
    PngInfo info;
    info.signatureOk = bytes.size() > 8 && bytes.compare(0, 8, std::string("\x89PNG\r\n\x1a\n", 8)) == 0;
    std::size_t at = 8;
    while (info.signatureOk && at + 12 <= bytes.size()) {
        const std::uint32_t length = bigEndian32(bytes, at);
        const std::string type = bytes.substr(at + 4, 4);
        const std::size_t data = at + 8;
        if (data + length + 4 > bytes.size()) break;
        if (type == "IHDR") {
            info.width = bigEndian32(bytes, data);
            info.height = bigEndian32(bytes, data + 4);
        } else if (type == "pHYs") {
            info.hasPhys = true;
            info.physX = bigEndian32(bytes, data);
            info.physY = bigEndian32(bytes, data + 4);
            info.physUnit = std::uint8_t(bytes[data + 8]);
        } else if (type == "IEND") {
            info.hasEnd = true;
        }
        at = data + length + 4;
    }
    return info;
}

struct SvgInfo {
    bool wellFormed = false;
    QString root, width, height, viewBox, title;
};

SvgInfo readSvg(const fs::path& path) {
    SvgInfo info;
    QXmlStreamReader xml(QByteArray::fromStdString(readFile(path)));
    if (xml.readNextStartElement()) {
        info.root = xml.name().toString();
        info.width = xml.attributes().value("width").toString();
        info.height = xml.attributes().value("height").toString();
        info.viewBox = xml.attributes().value("viewBox").toString();
    }
    while (!xml.atEnd()) {
        xml.readNext();
        if (xml.isStartElement() && xml.name() == QLatin1String("title") && info.title.isEmpty())
            info.title = xml.readElementText();
    }
    info.wellFormed = !xml.hasError();
    return info;
}

double millimetres(const QString& length) {
    EXPECT_TRUE(length.endsWith("mm")) << length.toStdString();
    return length.chopped(2).toDouble();
}

std::map<std::string, std::vector<CurveGroup>> sampleCurvesByTask() {
    return {{"toy/alpha", sampleCurves("toy/alpha")}, {"toy/beta", sampleCurves("toy/beta")}};
}

std::set<std::string> filesIn(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
    return names;
}

} // namespace

TEST(FigureExport, WritesEveryFigureInEveryFormatAndNothingElse) {
    TempDir dir;
    std::vector<std::string> warnings;
    const auto written = writeReportFigures(sampleAnalysis(), sampleCurvesByTask(), dir.path().string(), {}, warnings);
    EXPECT_TRUE(warnings.empty()) << warnings.front();
    std::set<std::string> expected;
    for (const char* base :
         {"fig1-seed-differences", "fig2-curves-toy_alpha", "fig2-curves-toy_beta", "fig3-seed-spread"})
        for (const char* ext : {".png", ".svg", ".pdf"}) expected.insert(std::string(base) + ext);
    std::set<std::string> returned;
    for (const auto& path : written) {
        EXPECT_EQ(fs::path(path).parent_path(), dir.path());
        returned.insert(fs::path(path).filename().string());
    }
    EXPECT_EQ(written.size(), 12u);
    EXPECT_EQ(returned, expected);
    // No temporary file is left behind.
    EXPECT_EQ(filesIn(dir.path()), expected);
}

TEST(FigureExport, PngHasTheRequestedPixelsAndSays300Dpi) {
    TempDir dir;
    std::vector<std::string> warnings;
    const auto written = writeReportFigures(sampleAnalysis(), sampleCurvesByTask(), dir.path().string(), {}, warnings);
    int pngs = 0;
    for (const auto& path : written) {
        if (fs::path(path).extension() != ".png") continue;
        ++pngs;
        const PngInfo png = readPng(path);
        EXPECT_TRUE(png.signatureOk) << path;
        EXPECT_EQ(png.width, 1050u) << path;
        EXPECT_EQ(png.height, 700u) << path;
        EXPECT_TRUE(png.hasPhys) << path;
        EXPECT_EQ(png.physX, 11811u) << path; // 300 dpi in pixels per metre
        EXPECT_EQ(png.physY, 11811u) << path;
        EXPECT_EQ(png.physUnit, 1) << path;   // metre
        EXPECT_TRUE(png.hasEnd) << path;
    }
    EXPECT_EQ(pngs, 4);
}

TEST(FigureExport, ReliabilityDiagramsOnePerTaskInEveryFormat) {
    TempDir dir;
    const auto written = writeReliabilityFigures(sampleReliability(), dir.path().string(), {});
    std::set<std::string> expected;
    for (const char* base : {"fig4-reliability-toy_alpha", "fig4-reliability-toy_beta"})
        for (const char* ext : {".png", ".svg", ".pdf"}) expected.insert(std::string(base) + ext);
    std::set<std::string> returned;
    for (const auto& path : written) returned.insert(fs::path(path).filename().string());
    EXPECT_EQ(written.size(), 6u);
    EXPECT_EQ(returned, expected);
    EXPECT_EQ(filesIn(dir.path()), expected);
    const PngInfo png = readPng(dir.path() / "fig4-reliability-toy_alpha.png");
    EXPECT_TRUE(png.signatureOk);
    EXPECT_EQ(png.width, 1050u);
    EXPECT_EQ(png.height, 700u);
    EXPECT_TRUE(png.hasEnd);
    // Without bins (runs stored before schema 7) nothing is written, not even the folder.
    EXPECT_TRUE(writeReliabilityFigures({}, (dir.path() / "none").string(), {}).empty());
    EXPECT_FALSE(fs::exists(dir.path() / "none"));
}

TEST(FigureExport, SvgIsWellFormedXmlWithSizedSvgRootAndTitle) {
    TempDir dir;
    std::vector<std::string> warnings;
    const auto written = writeReportFigures(sampleAnalysis(), sampleCurvesByTask(), dir.path().string(), {}, warnings);
    int svgs = 0;
    for (const auto& path : written) {
        if (fs::path(path).extension() != ".svg") continue;
        ++svgs;
        const SvgInfo svg = readSvg(path);
        EXPECT_TRUE(svg.wellFormed) << path;
        EXPECT_EQ(svg.root, "svg") << path;
        ASSERT_FALSE(svg.width.isEmpty()) << path;
        ASSERT_FALSE(svg.height.isEmpty()) << path;
        // 3.5 x 2.33 inches, the same physical size as the PNG at 300 dpi.
        EXPECT_NEAR(millimetres(svg.width), 1050.0 / 300.0 * 25.4, 0.5) << path;
        EXPECT_NEAR(millimetres(svg.height), 700.0 / 300.0 * 25.4, 0.5) << path;
        EXPECT_FALSE(svg.viewBox.isEmpty()) << path;
        EXPECT_FALSE(svg.title.isEmpty()) << path;
    }
    EXPECT_EQ(svgs, 4);
}

TEST(FigureExport, PdfIsACompleteDocumentOfColumnSize) {
    TempDir dir;
    std::vector<std::string> warnings;
    const auto written = writeReportFigures(sampleAnalysis(), sampleCurvesByTask(), dir.path().string(), {}, warnings);
    int pdfs = 0;
    for (const auto& path : written) {
        if (fs::path(path).extension() != ".pdf") continue;
        ++pdfs;
        std::string bytes = readFile(path);
        EXPECT_EQ(bytes.rfind("%PDF-", 0), 0u) << path;
        while (!bytes.empty() && std::isspace(static_cast<unsigned char>(bytes.back()))) bytes.pop_back();
        ASSERT_GE(bytes.size(), 5u);
        EXPECT_EQ(bytes.substr(bytes.size() - 5), "%%EOF") << path;
        // Page: 3.5 x 2.33 inches = 252 x 168 points.
        const auto box = bytes.find("/MediaBox [");
        ASSERT_NE(box, std::string::npos) << path;
        std::istringstream numbers(bytes.substr(box + 11, 60));
        double x0 = -1, y0 = -1, x1 = 0, y1 = 0;
        numbers >> x0 >> y0 >> x1 >> y1;
        EXPECT_EQ(x0, 0.0);
        EXPECT_EQ(y0, 0.0);
        EXPECT_NEAR(x1, 252.0, 0.5) << path;
        EXPECT_NEAR(y1, 168.0, 0.5) << path;
    }
    EXPECT_EQ(pdfs, 4);
}

TEST(FigureExport, MarkupCharactersInTaskIdsKeepTheSvgWellFormed) {
    TempDir dir;
    FigureFormats formats;
    formats.png = formats.pdf = false;
    std::vector<std::string> warnings;
    const auto written = writeReportFigures(sampleAnalysis(), {{"toy/a&b<c>", sampleCurves("toy/a&b<c>")}},
                                            dir.path().string(), formats, warnings);
    ASSERT_EQ(written.size(), 3u);
    EXPECT_TRUE(fs::path(written[1]).filename().string().rfind("fig2-curves-toy_a_b_c_+", 0) == 0) << written[1];
    for (const auto& path : written) EXPECT_TRUE(readSvg(path).wellFormed) << path;
}

// Before, a figure's file name kept the task's characters: "toy/50% a#b" gave
// "fig2-curves-toy_50% a#b.pdf", which \includegraphics cannot read ('%' ends its line, '#' is a
// parameter), and "toy/a" and "toy_a" met in one name, the second told apart only by a "-2" that
// a task named "toy_a-2" also gets.
TEST(FigureExport, FileNamesHoldOnlySafeCharactersAndDifferentNamesNeverShareOne) {
    TempDir dir;
    FigureFormats formats;
    formats.png = formats.svg = false;
    const std::vector<std::string> tasks = {"toy/a", "toy_a", "toy_a-2", "toy/50% a#b", "toy/50% a#c",
                                            "toy/x|y\"z<w>:v", "toy/\xC3\xA9t\xC3\xA9"};
    std::map<std::string, std::vector<CurveGroup>> curves;
    std::vector<ReliabilityGroup> reliability;
    for (const auto& task : tasks) {
        curves[task] = sampleCurves(task);
        for (ReliabilityGroup group : sampleReliability()) {
            if (group.key.taskId != "toy/alpha") continue;
            group.key.taskId = task;
            reliability.push_back(group);
        }
    }
    std::vector<std::string> warnings;
    std::vector<std::string> written = writeReportFigures(sampleAnalysis(), curves, dir.path().string(), formats, warnings);
    for (const auto& path : writeReliabilityFigures(reliability, dir.path().string(), formats)) written.push_back(path);
    const QRegularExpression safe(QStringLiteral("^[A-Za-z0-9._+=-]+\\.pdf$"));
    std::set<std::string> fig2, fig4;
    for (const auto& path : written) {
        const std::string name = fs::path(path).filename().string();
        EXPECT_TRUE(safe.match(QString::fromStdString(name)).hasMatch()) << name;
        if (name.rfind("fig2-curves-", 0) == 0) fig2.insert(name);
        if (name.rfind("fig4-reliability-", 0) == 0) fig4.insert(name);
    }
    EXPECT_EQ(fig2.size(), tasks.size()) << "one file per task, none written over another";
    EXPECT_EQ(fig4.size(), tasks.size());
    // Readable and deterministic: the plain names as before, the first of "toy/a" and "toy_a" in
    // byte order keeps the name, the other gets "+2" (a '+' no task's own stem has).
    for (const char* name : {"fig2-curves-toy_a.pdf", "fig2-curves-toy_a+2.pdf", "fig2-curves-toy_a-2.pdf",
                             "fig4-reliability-toy_a.pdf", "fig4-reliability-toy_a+2.pdf"})
        EXPECT_TRUE(fs::exists(dir.path() / name)) << name;
    const QRegularExpression hashed(QStringLiteral("^fig2-curves-toy_50_a_b\\+[0-9a-f]{8}\\.pdf$"));
    EXPECT_EQ(std::count_if(fig2.begin(), fig2.end(),
                            [&](const std::string& n) { return hashed.match(QString::fromStdString(n)).hasMatch(); }),
              1);
    // The same task gets the same name in another report.
    TempDir again;
    const auto alone = writeReportFigures(sampleAnalysis(), {{"toy/50% a#b", sampleCurves("toy/50% a#b")}},
                                          again.path().string(), formats, warnings);
    EXPECT_EQ(std::count_if(alone.begin(), alone.end(),
                            [&](const std::string& p) { return fig2.count(fs::path(p).filename().string()) == 1; }),
              1);
}

TEST(FigureExport, NumbersHaveADecimalPointWhateverTheLocale) {
    // Qt's default locale is the system's: under LC_ALL=de_DE.UTF-8 the tick labels read "0,5"
    // while the tables (and the legends' "ECE 0.050") write "0.5".
    const QLocale previous;
    QLocale::setDefault(QLocale(QLocale::German, QLocale::Germany));
    TempDir dir;
    FigureFormats formats;
    formats.png = formats.pdf = false;
    std::vector<std::string> warnings;
    std::vector<std::string> written =
        writeReportFigures(sampleAnalysis(), sampleCurvesByTask(), dir.path().string(), formats, warnings);
    for (const auto& path : writeReliabilityFigures(sampleReliability(), dir.path().string(), formats)) written.push_back(path);
    QLocale::setDefault(previous);
    const QRegularExpression comma(QStringLiteral("[0-9],[0-9]")), point(QStringLiteral("[0-9]\\.[0-9]"));
    int decimals = 0;
    for (const auto& path : written) {
        QXmlStreamReader xml(QByteArray::fromStdString(readFile(path)));
        while (!xml.atEnd()) {
            xml.readNext();
            if (!xml.isStartElement() || xml.name() != QLatin1String("text")) continue;
            const QString text = xml.readElementText(QXmlStreamReader::IncludeChildElements);
            EXPECT_FALSE(text.contains(comma)) << path << ": " << text.toStdString();
            if (text.contains(point)) ++decimals;
        }
    }
    EXPECT_GT(decimals, 0) << "no number with decimals in the figures: nothing was checked";
}

TEST(FigureExport, OtherSizeAndResolutionAreHonoured) {
    TempDir dir;
    FigureFormats formats;
    formats.svg = formats.pdf = false;
    formats.widthPx = 1400;
    formats.heightPx = 1000;
    formats.dpi = 200;
    std::vector<std::string> warnings;
    const auto written = writeReportFigures(sampleAnalysis(), {}, dir.path().string(), formats, warnings);
    ASSERT_EQ(written.size(), 2u); // figures 1 and 3; no curves given
    for (const auto& path : written) {
        EXPECT_EQ(fs::path(path).extension(), ".png");
        const PngInfo png = readPng(path);
        EXPECT_EQ(png.width, 1400u);
        EXPECT_EQ(png.height, 1000u);
        EXPECT_EQ(png.physX, 7874u); // 200 dpi
    }
}

TEST(FigureExport, WithOnlyOneLossFigure1IsSkippedWithAReasonAndFigure3Drawn) {
    LossAnalysis analysis = sampleAnalysis();
    analysis.comparisons.clear();
    analysis.groups.erase(std::remove_if(analysis.groups.begin(), analysis.groups.end(),
                                         [](const LossGroup& g) { return g.key.loss == "square"; }),
                          analysis.groups.end());
    analysis.notes.push_back("only one loss: no pairing");
    TempDir dir;
    FigureFormats formats;
    formats.svg = formats.pdf = false;
    std::vector<std::string> warnings;
    const auto written = writeReportFigures(analysis, {}, dir.path().string(), formats, warnings);
    ASSERT_EQ(written.size(), 1u);
    EXPECT_EQ(fs::path(written[0]).filename(), "fig3-seed-spread.png");
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("Figure 1"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("no square-loss / cross-entropy pairs"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("only one loss"), std::string::npos) << warnings[0];
}

TEST(FigureExport, CurvesWithoutPointsAreSkippedWithAWarning) {
    TempDir dir;
    FigureFormats formats;
    formats.svg = formats.pdf = false;
    std::vector<std::string> warnings;
    std::map<std::string, std::vector<CurveGroup>> curves = {{"toy/empty", {}}, {"toy/alpha", sampleCurves("toy/alpha")}};
    const auto written = writeReportFigures(sampleAnalysis(), curves, dir.path().string(), formats, warnings);
    EXPECT_EQ(filesIn(dir.path()),
              (std::set<std::string>{"fig1-seed-differences.png", "fig2-curves-toy_alpha.png", "fig3-seed-spread.png"}));
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("toy/empty"), std::string::npos) << warnings[0];
}

TEST(FigureExport, RewritingReplacesTheFilesAtomically) {
    TempDir dir;
    FigureFormats formats;
    formats.png = formats.svg = false;
    std::vector<std::string> warnings;
    writeReportFigures(sampleAnalysis(), {}, dir.path().string(), formats, warnings);
    std::ofstream(dir.path() / "fig1-seed-differences.pdf", std::ios::trunc) << "stale";
    writeReportFigures(sampleAnalysis(), {}, dir.path().string(), formats, warnings);
    EXPECT_EQ(readFile(dir.path() / "fig1-seed-differences.pdf").rfind("%PDF-", 0), 0u);
    EXPECT_EQ(filesIn(dir.path()), (std::set<std::string>{"fig1-seed-differences.pdf", "fig3-seed-spread.pdf"}));
}

TEST(FigureExport, AFolderThatCannotBeCreatedIsAnErrorNamingIt) {
    TempDir dir;
    std::ofstream(dir.path() / "plain-file") << "x";
    const std::string bad = (dir.path() / "plain-file" / "figures").string();
    std::vector<std::string> warnings;
    try {
        writeReportFigures(sampleAnalysis(), {}, bad, {}, warnings);
        FAIL() << "expected losslab::Error";
    } catch (const Error& error) {
        EXPECT_NE(std::string(error.what()).find(bad), std::string::npos) << error.what();
    }
}

TEST(FigureExport, NonPositiveSizeIsAnError) {
    TempDir dir;
    FigureFormats formats;
    formats.dpi = 0;
    std::vector<std::string> warnings;
    EXPECT_THROW(writeReportFigures(sampleAnalysis(), {}, dir.path().string(), formats, warnings), Error);
    EXPECT_TRUE(filesIn(dir.path()).empty());
}

// Registered once more in ctest with QT_QPA_PLATFORM empty and a DISPLAY that does not
// exist: the export must still work (it picks the offscreen platform itself).
TEST(FigureExportPlatform, CreatesItsOwnOffscreenApplication) {
    if (QCoreApplication::instance()) GTEST_SKIP() << "needs a fresh process (ctest runs each test alone)";
    TempDir dir;
    FigureFormats formats;
    formats.svg = formats.pdf = false;
    std::vector<std::string> warnings;
    const auto written = writeReportFigures(sampleAnalysis(), {}, dir.path().string(), formats, warnings);
    EXPECT_EQ(written.size(), 2u);
    ASSERT_NE(QCoreApplication::instance(), nullptr);
    EXPECT_EQ(QGuiApplication::platformName(), "offscreen");
}
