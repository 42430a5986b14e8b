#include "figure_export.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <system_error>

#include <QApplication>
#include <QImage>
#include <QImageWriter>
#include <QSvgGenerator>
#include <QThread>
#include <qcustomplot.h>

#include "losslab/error.h"
#include "paper_figures.h"
#include "sweep_heatmap.h"

namespace losslab {
namespace {

namespace fs = std::filesystem;

// Figures are laid out in typographic points: one logical pixel = 1 pt = 1/72 inch. The
// fonts of applyColumnStyle() are then true point sizes in every format.
constexpr double kLogicalDpi = 72.0;

struct FigureSize {
    int logicalWidth = 0, logicalHeight = 0; // points
    int pixelWidth = 0, pixelHeight = 0;     // PNG
    int dpi = 0;
};

void ensureApplication() {
    if (QCoreApplication* existing = QCoreApplication::instance()) {
        if (!qobject_cast<QApplication*>(existing))
            throw Error("figure export needs a QApplication (Qt widgets), but this program created a "
                        "QCoreApplication");
        if (QThread::currentThread() != existing->thread())
            throw Error("figure export must run on the GUI thread, not on a worker thread");
        return;
    }
    // Export never shows a window: do not depend on a display (see the header).
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    static int argc = 1;
    static char name[] = "losslab";
    static char* argv[] = {name, nullptr};
    static QApplication application(argc, argv);
}

// A task, loss or protocol name in a file name (figure_export.h): letters, digits, '.', '-' and
// '_' stay, '/' becomes '_', and a run of any other bytes (spaces, % # | " < > : \\, non-ASCII)
// one '_'; a name with such bytes ends in '+' and 8 hex digits of its FNV-1a hash, so that two
// names differing there do not share a file. '+' appears nowhere else in a stem.
std::string fileSafe(const std::string& name) {
    if (name.empty()) return "unnamed";
    std::string out;
    bool plain = true;
    for (const char c : name) {
        const bool keep = std::isalnum(static_cast<unsigned char>(c)) && static_cast<unsigned char>(c) < 0x80;
        if (keep || c == '.' || c == '-' || c == '_') out += c;
        else if (c == '/') out += '_';
        else {
            plain = false;
            if (out.empty() || out.back() != '_') out += '_';
        }
    }
    if (plain) return out;
    std::uint32_t hash = 2166136261u;
    for (const char c : name) hash = (hash ^ static_cast<unsigned char>(c)) * 16777619u;
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(hash));
    return out + "+" + hex;
}

// Stems that no two of `names` share: fileSafe's, and where two still meet ("a/b" and "a_b", or
// equal hashes) the later in byte order gets "+2", "+3", ...; the same names give the same stems.
std::map<std::string, std::string> fileSafeStems(const std::vector<std::string>& names) {
    const std::set<std::string> sorted(names.begin(), names.end());
    std::map<std::string, std::string> out;
    std::set<std::string> used;
    for (const std::string& name : sorted) {
        std::string stem = fileSafe(name);
        for (int n = 2; used.count(stem); ++n) stem = fileSafe(name) + "+" + std::to_string(n);
        used.insert(stem);
        out[name] = stem;
    }
    return out;
}

// Recipe labels and axis values in file names: letters, digits, '.', '-' and '=' stay, brackets
// and quotes go, runs of anything else become one '_' ("hidden [64, 32]" -> "hidden_64_32",
// "hidden=[16]" -> "hidden=16").
std::string fileSafeWords(const std::string& text) {
    std::string out;
    for (const char c : text) {
        const bool keep = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '=';
        if (keep) out += c;
        else if (c == '[' || c == ']' || c == '{' || c == '}' || c == '"' || c == '\'') continue;
        else if (!out.empty() && out.back() != '_' && out.back() != '=') out += '_';
    }
    while (!out.empty() && out.back() == '_') out.pop_back();
    return out;
}

std::string tempPathFor(const fs::path& target) {
    return target.string() + "." + std::to_string(QCoreApplication::applicationPid()) + ".tmp";
}

// Writes through `write` to a temporary name next to `target`, then renames it over `target`.
void writeAtomically(const fs::path& target, const std::function<bool(const QString&)>& write) {
    const std::string temp = tempPathFor(target);
    std::error_code ignored;
    fs::remove(temp, ignored);
    bool ok = write(QString::fromStdString(temp));
    std::error_code ec;
    if (ok) ok = fs::exists(temp, ec) && fs::file_size(temp, ec) > 0 && !ec;
    if (!ok) {
        fs::remove(temp, ignored);
        throw Error("cannot write figure " + target.string() + ": writing " + temp + " failed");
    }
    fs::rename(temp, target, ec);
    if (ec) {
        fs::remove(temp, ignored);
        throw Error("cannot write figure " + target.string() + ": " + ec.message());
    }
}

bool writePng(QCustomPlot& plot, const QString& path, const FigureSize& size, const QString& title) {
    // Rendered here rather than by QCustomPlot::savePng, which rounds width x scale and
    // height x scale separately from integer logical sizes and can miss the requested
    // pixel size by a pixel or two; this is the same drawing path with exact pixels.
    QImage image(size.pixelWidth, size.pixelHeight, QImage::Format_ARGB32_Premultiplied);
    image.fill(Qt::white);
    {
        QCPPainter painter(&image);
        if (!painter.isActive()) return false;
        painter.setMode(QCPPainter::pmNoCaching);
        painter.setMode(QCPPainter::pmNonCosmetic);
        painter.scale(double(size.pixelWidth) / size.logicalWidth, double(size.pixelHeight) / size.logicalHeight);
        plot.toPainter(&painter, size.logicalWidth, size.logicalHeight);
        painter.end();
    }
    const int dotsPerMeter = int(std::lround(size.dpi / 0.0254));
    image.setDotsPerMeterX(dotsPerMeter);
    image.setDotsPerMeterY(dotsPerMeter);
    QImageWriter writer(path, "png");
    writer.setText(QStringLiteral("Title"), title);
    writer.setText(QStringLiteral("Software"), QStringLiteral("LossLab"));
    return writer.write(image);
}

// Qt 6.4's QSvgGenerator writes <title> and <desc> without escaping them; keep the markup
// characters out (escaping here would come out twice once Qt escapes).
QString svgSafe(QString text) {
    text.replace(QLatin1Char('&'), QStringLiteral("and"));
    text.replace(QLatin1Char('<'), QLatin1Char('('));
    text.replace(QLatin1Char('>'), QLatin1Char(')'));
    return text;
}

bool writeSvg(QCustomPlot& plot, const QString& path, const FigureSize& size, const QString& title,
              const QString& description) {
    QSvgGenerator generator;
    generator.setFileName(path);
    generator.setSize(QSize(size.logicalWidth, size.logicalHeight));
    generator.setViewBox(QRect(0, 0, size.logicalWidth, size.logicalHeight));
    generator.setResolution(int(kLogicalDpi)); // width / height attributes in mm = physical size
    generator.setTitle(svgSafe(title));
    generator.setDescription(svgSafe(description));
    QCPPainter painter;
    if (!painter.begin(&generator)) return false;
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    painter.setMode(QCPPainter::pmNonCosmetic);
    plot.toPainter(&painter, size.logicalWidth, size.logicalHeight);
    return painter.end();
}

// The figure's size from the export options; throws when it is not positive.
FigureSize checkedFigureSize(const FigureFormats& formats) {
    if (formats.widthPx <= 0 || formats.heightPx <= 0 || formats.dpi <= 0)
        throw Error("figure size must be positive: got " + std::to_string(formats.widthPx) + " x " +
                    std::to_string(formats.heightPx) + " pixels at " + std::to_string(formats.dpi) + " dpi");
    FigureSize size;
    size.pixelWidth = formats.widthPx;
    size.pixelHeight = formats.heightPx;
    size.dpi = formats.dpi;
    size.logicalWidth = std::max(1, int(std::lround(formats.widthPx * kLogicalDpi / formats.dpi)));
    size.logicalHeight = std::max(1, int(std::lround(formats.heightPx * kLogicalDpi / formats.dpi)));
    return size;
}

// Creates the output folder; throws when it cannot.
fs::path figureFolder(const std::string& outDir) {
    const fs::path dir(outDir);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
        throw Error("cannot create the figure folder " + outDir + (ec ? ": " + ec.message() : std::string()));
    return dir;
}

class FigureWriter {
public:
    FigureWriter(const fs::path& dir, const FigureFormats& formats, const FigureSize& size,
                 std::vector<std::string>& written)
        : m_dir(dir), m_formats(formats), m_size(size), m_written(written) {}

    // `restyle` runs after applyColumnStyle(), for figures with elements it does not know.
    void write(QCustomPlot& plot, const std::string& baseName, const QString& title, const QString& description,
               const std::function<void(QCustomPlot&)>& restyle = {}) {
        applyColumnStyle(plot, m_size.logicalWidth);
        if (restyle) restyle(plot);
        plot.setAntialiasedElements(QCP::aeAll);
        if (m_formats.png) {
            const fs::path target = m_dir / (baseName + ".png");
            writeAtomically(target, [&](const QString& temp) { return writePng(plot, temp, m_size, title); });
            m_written.push_back(target.string());
        }
        if (m_formats.svg) {
            const fs::path target = m_dir / (baseName + ".svg");
            writeAtomically(target,
                            [&](const QString& temp) { return writeSvg(plot, temp, m_size, title, description); });
            m_written.push_back(target.string());
        }
        if (m_formats.pdf) {
            // Page size = logical size in points: the same physical size as the PNG.
            const fs::path target = m_dir / (baseName + ".pdf");
            writeAtomically(target, [&](const QString& temp) {
                return plot.savePdf(temp, m_size.logicalWidth, m_size.logicalHeight, QCP::epNoCosmetic,
                                    QStringLiteral("LossLab"), title);
            });
            m_written.push_back(target.string());
        }
    }

private:
    fs::path m_dir;
    FigureFormats m_formats;
    FigureSize m_size;
    std::vector<std::string>& m_written;
};

// The writer of an optional set of figures (sweeps, reliability): none when there is nothing
// to draw or no format is chosen (writeReportFigures says so); else the folder exists and Qt
// is ready.
std::unique_ptr<FigureWriter> writerFor(bool anything, const std::string& outDir, const FigureFormats& formats,
                                        std::vector<std::string>& written) {
    if (!anything) return nullptr;
    const FigureSize size = checkedFigureSize(formats);
    if (!formats.png && !formats.svg && !formats.pdf) return nullptr;
    const fs::path dir = figureFolder(outDir);
    ensureApplication();
    return std::make_unique<FigureWriter>(dir, formats, size, written);
}

int pointsWithData(const QCustomPlot& plot, const QString& objectNamePrefix) {
    int points = 0;
    for (int i = 0; i < plot.graphCount(); ++i) {
        const QCPGraph* graph = plot.graph(i);
        if (!graph->objectName().startsWith(objectNamePrefix)) continue;
        for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it)
            if (std::isfinite(it->value)) ++points;
    }
    return points;
}

QString protocolWords(const std::string& protocol) {
    if (protocol == "early_stopping") return QStringLiteral("early stopping");
    if (protocol == "same_epochs_as_ce") return QStringLiteral("same epochs as cross-entropy");
    if (protocol == "fixed_epochs") return QStringLiteral("fixed epochs");
    return QString::fromStdString(protocol);
}

std::string joinedNotes(const LossAnalysis& analysis) {
    std::string text;
    for (const auto& note : analysis.notes) text += (text.empty() ? "" : "; ") + note;
    return text.empty() ? std::string() : " (" + text + ")";
}

} // namespace

std::vector<std::string> writeReportFigures(const LossAnalysis& analysis,
                                            const std::map<std::string, std::vector<CurveGroup>>& curvesByTask,
                                            const std::string& outDir, const FigureFormats& formats,
                                            std::vector<std::string>& warnings) {
    std::vector<std::string> written;
    const FigureSize size = checkedFigureSize(formats);
    if (!formats.png && !formats.svg && !formats.pdf) {
        warnings.push_back("figures: no format selected (png, svg, pdf), nothing written");
        return written;
    }
    const fs::path dir = figureFolder(outDir);

    ensureApplication();
    FigureWriter writer(dir, formats, size, written);

    // Figures 1 and 3: test accuracy of the early-stopping pairs (a speech-only analysis: its
    // error rate, CE minus square as the paper draws it), or what the analysis has.
    std::string metric = headlineMetrics(analysis, AnalysisOptions{}).front();
    std::string protocol = "early_stopping";
    bool haveMetric = false, haveProtocol = false;
    for (const auto& comparison : analysis.comparisons) haveMetric = haveMetric || comparison.metric == metric;
    if (!haveMetric && !analysis.comparisons.empty()) {
        metric = analysis.comparisons.front().metric;
        warnings.push_back("Figure 1: no comparison of " + headlineMetrics(analysis, AnalysisOptions{}).front() +
                           "; drawing " + metric + " instead");
    }
    for (const auto& comparison : analysis.comparisons)
        haveProtocol = haveProtocol || (comparison.metric == metric && comparison.square.protocol == protocol);
    if (!haveProtocol) {
        for (const auto& comparison : analysis.comparisons) {
            if (comparison.metric != metric) continue;
            protocol = comparison.square.protocol;
            warnings.push_back("Figures 1 and 3: no early_stopping pairs; drawing the " + protocol + " pairs instead");
            break;
        }
    }

    {
        QCustomPlot plot;
        plotSeedDifferences(plot, analysis, metric, protocol);
        if (analysis.comparisons.empty()) {
            warnings.push_back("Figure 1 (per-seed differences) skipped: no square-loss / cross-entropy pairs, so "
                               "there are no differences to draw" +
                               joinedNotes(analysis));
        } else if (pointsWithData(plot, QStringLiteral("seeds")) == 0) {
            warnings.push_back("Figure 1 (per-seed differences) skipped: the pairs of " + metric +
                               " have no seed with a result on both losses");
        } else {
            writer.write(plot, "fig1-seed-differences",
                         QStringLiteral("Per-seed differences, square loss vs cross-entropy"),
                         QStringLiteral("Figure 1 after Hui and Belkin (ICLR 2021): %1, %2; per-seed difference "
                                        "(positive = square loss better), mean and one standard deviation.")
                             .arg(QString::fromStdString(metricDisplayName(metric)), protocolWords(protocol)));
        }
    }

    std::vector<std::string> curveTasks;
    for (const auto& entry : curvesByTask) curveTasks.push_back(entry.first);
    const std::map<std::string, std::string> curveStems = fileSafeStems(curveTasks);
    for (const auto& [task, groups] : curvesByTask) {
        const std::string name = "fig2-curves-" + curveStems.at(task);
        QCustomPlot plot;
        plotLearningCurves(plot, groups, std::string());
        if (groups.empty() || pointsWithData(plot, QStringLiteral("mean/")) == 0) {
            warnings.push_back("Figure 2 (learning curves) for " + task + " skipped: no per-epoch values");
            continue;
        }
        const std::string curveMetric = groups.front().metric;
        writer.write(plot, name, QStringLiteral("Learning curves, %1").arg(QString::fromStdString(task)),
                     QStringLiteral("Figure 2 after Hui and Belkin (ICLR 2021): %1 per epoch for %2, mean over seeds "
                                    "with a one-std band and each seed as a thin line.")
                         .arg(QString::fromStdString(metricDisplayName(curveMetric)), QString::fromStdString(task)));
    }

    {
        QCustomPlot plot;
        plotSeedSpread(plot, analysis, metric, protocol);
        if (pointsWithData(plot, QStringLiteral("square seeds/")) + pointsWithData(plot, QStringLiteral("ce seeds/")) == 0) {
            warnings.push_back("Figure 3 (seed spread) skipped: no group has a value of " + metric + " for the " +
                               protocol + " protocol");
        } else {
            writer.write(plot, "fig3-seed-spread", QStringLiteral("Per-seed results, square loss and cross-entropy"),
                         QStringLiteral("Figure 3 after Hui and Belkin (ICLR 2021): %1, %2; each seed's result per "
                                        "loss (square left, cross-entropy right), mean and one standard deviation.")
                             .arg(QString::fromStdString(metricDisplayName(metric)), protocolWords(protocol)));
        }
    }
    return written;
}

std::vector<std::string> writeSweepFigures(const SweepAnalysis& sweeps, const std::string& outDir,
                                           const FigureFormats& formats, std::vector<std::string>& warnings) {
    std::vector<std::string> written;
    const std::unique_ptr<FigureWriter> writer = writerFor(!sweeps.empty(), outDir, formats, written);
    if (!writer) return written;

    std::set<std::string> usedNames;
    for (const SweepFamily& family : sweeps.families) {
        std::string stem = "figure-sweep-" + fileSafe(family.taskId);
        if (!family.recipeLabel.empty()) stem += "-" + fileSafeWords(family.recipeLabel);
        stem += "-" + fileSafe(family.lossName) + "-" + fileSafe(family.protocol);
        for (const auto& fixed : sweepSlices(family))
            for (const SweepValue value : {SweepValue::Mean, SweepValue::Std, SweepValue::Diff}) {
                if (!sweepHasValue(family, value)) continue;
                const std::string slice = sweepSliceLabel(family, fixed);
                const std::string what = family.taskLabel() + " " + family.label() + (slice.empty() ? "" : " (" + slice + ")");
                if (sweepGrid(sweeps, family, value, fixed).filled() == 0) {
                    warnings.push_back("sweep heatmap (" + std::string(sweepValueName(value)) + ") of " + what +
                                       " skipped: no grid point has a value" +
                                       (value == SweepValue::Diff ? " (no cross-entropy pairs)" :
                                        value == SweepValue::Std ? " (fewer than 2 completed seeds)" : " (no completed run)"));
                    continue;
                }
                std::string name = stem + "-" + sweepValueName(value) + (slice.empty() ? "" : "-" + fileSafeWords(slice));
                const std::string base = name;
                for (int n = 2; usedNames.count(name); ++n) name = base + "+" + std::to_string(n);
                usedNames.insert(name);
                QCustomPlot plot;
                plotSweepHeatmap(plot, sweeps, family, value, fixed);
                writer->write(plot, name, QStringLiteral("Sweep heatmap, %1").arg(QString::fromStdString(what)),
                             QStringLiteral("%1 per grid point of the sweep (%2), %3.")
                                 .arg(QString::fromStdString(sweepValueName(value)),
                                      QString::fromStdString(what),
                                      QString::fromStdString(metricDisplayName(sweeps.metric))),
                             applyHeatmapStyle);
            }
    }
    return written;
}

std::vector<std::string> writeReliabilityFigures(const std::vector<ReliabilityGroup>& groups, const std::string& outDir,
                                                 const FigureFormats& formats) {
    std::vector<std::string> written;
    const std::unique_ptr<FigureWriter> writer = writerFor(!groups.empty(), outDir, formats, written);
    if (!writer) return written;

    std::vector<std::string> tasks;
    for (const ReliabilityGroup& group : groups)
        if (std::find(tasks.begin(), tasks.end(), group.key.taskId) == tasks.end()) tasks.push_back(group.key.taskId);
    const std::map<std::string, std::string> stems = fileSafeStems(tasks);
    for (const std::string& task : tasks) {
        std::vector<ReliabilityGroup> ofTask;
        for (const ReliabilityGroup& group : groups)
            if (group.key.taskId == task) ofTask.push_back(group);
        const std::string name = "fig4-reliability-" + stems.at(task);
        QCustomPlot plot;
        plotReliability(plot, ofTask);
        const QString split = QString::fromStdString(ofTask.front().split);
        writer->write(plot, name, QStringLiteral("Reliability diagram, %1").arg(QString::fromStdString(task)),
                     QStringLiteral("Reliability diagram of %1 on the %2 split at each run's reported epoch: accuracy "
                                    "against mean confidence per confidence bin (15 equal-width bins), examples pooled "
                                    "over seeds; below, the share of examples per bin. Square-loss confidences come from "
                                    "inverting the rescaled loss's population minimiser (docs/losses-and-metrics.md).")
                         .arg(QString::fromStdString(task), split));
    }
    return written;
}

} // namespace losslab
