#include "view_export.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLocale>
#include <QPainter>
#include <QRegularExpression>
#include <QSvgGenerator>

#include <qcustomplot.h>

#include "losslab/error.h"
#include "workbench_settings.h"

namespace losslab {

namespace {

std::string pathText(const QString& path) { return QDir::toNativeSeparators(path).toStdString(); }

// Writes through `write(tmp)` into a temporary file next to `path`, then renames.
template <typename Write>
void writeAtomically(const QString& path, Write write) {
    const QString tmp = path + QStringLiteral(".%1.tmp").arg(QCoreApplication::applicationPid());
    bool ok = false;
    try {
        ok = write(tmp);
    } catch (...) {
        QFile::remove(tmp);
        throw;
    }
    if (!ok) {
        QFile::remove(tmp);
        throw Error(pathText(path) + ": cannot write the file (is the folder writable and the disk not full?)");
    }
    QFile::remove(path);
    if (!QFile::rename(tmp, path)) {
        QFile::remove(tmp);
        throw Error(pathText(path) + ": cannot replace the file");
    }
}

// Tick labels as `losslab-cli report`'s figures write them, "0.5" whatever the locale
// (applyColumnStyle): QCustomPlot formats them with the plot's locale, which is the system's, so
// under LC_ALL=de_DE.UTF-8 an exported plot read "0,5". The plot on screen keeps its locale.
class CLocaleNumbers {
public:
    explicit CLocaleNumbers(QCustomPlot& plot) : m_plot(plot), m_previous(plot.locale()) {
        QLocale numbers = QLocale::c();
        numbers.setNumberOptions(QLocale::OmitGroupSeparator);
        m_plot.setLocale(numbers);
    }
    ~CLocaleNumbers() {
        m_plot.setLocale(m_previous);
        m_plot.replot(QCustomPlot::rpQueuedReplot);
    }
    CLocaleNumbers(const CLocaleNumbers&) = delete;
    CLocaleNumbers& operator=(const CLocaleNumbers&) = delete;

private:
    QCustomPlot& m_plot;
    QLocale m_previous;
};

} // namespace

QStringList tableExportFilters() {
    return {QCoreApplication::translate("losslab", "CSV (*.csv)"),
            QCoreApplication::translate("losslab", "Markdown (*.md)"),
            QCoreApplication::translate("losslab", "LaTeX (*.tex)")};
}

QStringList plotExportFilters() {
    return {QCoreApplication::translate("losslab", "PNG image (*.png)"),
            QCoreApplication::translate("losslab", "SVG drawing (*.svg)"),
            QCoreApplication::translate("losslab", "PDF document (*.pdf)")};
}

QString withFilterSuffix(const QString& path, const QString& filter) {
    const QRegularExpression pattern(QStringLiteral("\\*\\.(\\w+)"));
    auto match = pattern.globalMatch(filter);
    QStringList suffixes;
    while (match.hasNext()) suffixes << match.next().captured(1);
    if (suffixes.isEmpty() || suffixes.contains(QFileInfo(path).suffix(), Qt::CaseInsensitive)) return path;
    return path + QLatin1Char('.') + suffixes.front();
}

QString askExportPath(QWidget* parent, const QString& title, const QStringList& filters, const QString& defaultName) {
    QString folder = WorkbenchSettings::exportFolder();
    if (folder.isEmpty() || !QFileInfo(folder).isDir()) folder = QDir::homePath();
    QString filter = filters.value(0);
    const QString start = defaultName.isEmpty() ? folder : withFilterSuffix(QDir(folder).filePath(defaultName), filter);
    QString path = QFileDialog::getSaveFileName(parent, title, start, filters.join(QStringLiteral(";;")), &filter);
    if (path.isEmpty()) return path;
    path = withFilterSuffix(path, filter);
    WorkbenchSettings::setExportFolder(QFileInfo(path).absolutePath());
    return path;
}

void exportTable(const ReportTable& display, const ReportTable& data, const QString& path) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    std::string text;
    if (suffix == QLatin1String("csv")) {
        text = toCsv(data);
    } else if (suffix == QLatin1String("md") || suffix == QLatin1String("markdown")) {
        text = toMarkdown(display);
    } else if (suffix == QLatin1String("tex")) {
        text = toLatex(display);
    } else {
        throw Error(pathText(path) + ": unknown table format '." + suffix.toStdString() +
                    "' (expected .csv, .md or .tex)");
    }
    writeFileAtomically(path.toStdString(), text);
}

void exportPlot(QCustomPlot& plot, const QString& path, double scale) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    const int width = plot.width(), height = plot.height();
    const CLocaleNumbers numbers(plot);
    if (suffix == QLatin1String("png")) {
        writeAtomically(path, [&](const QString& tmp) { return plot.savePng(tmp, width, height, scale, -1); });
    } else if (suffix == QLatin1String("pdf")) {
        writeAtomically(path, [&](const QString& tmp) { return plot.savePdf(tmp, width, height); });
    } else if (suffix == QLatin1String("svg")) {
        writeAtomically(path, [&](const QString& tmp) {
            QSvgGenerator svg;
            svg.setFileName(tmp);
            svg.setSize(QSize(width, height));
            svg.setViewBox(QRect(0, 0, width, height));
            svg.setTitle(QStringLiteral("LossLab plot"));
            QCPPainter painter;
            if (!painter.begin(&svg)) return false;
            plot.toPainter(&painter, width, height);
            return painter.end() && QFileInfo(tmp).size() > 0;
        });
    } else {
        throw Error(pathText(path) + ": unknown image format '." + suffix.toStdString() +
                    "' (expected .png, .svg or .pdf)");
    }
}

} // namespace losslab
