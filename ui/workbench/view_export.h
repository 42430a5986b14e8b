#pragma once
// Exports of what a view shows, by file suffix:
//   tables: .csv (RFC 4180), .md (Markdown), .tex (LaTeX booktabs), as `losslab-cli report`;
//   plots:  .png (at the widget's size x `scale`), .svg, .pdf (vector); numbers with a decimal
//           point whatever the locale, as the report's figures (the plot on screen keeps its own).
// Every file is written under a temporary name and renamed, so a failed export leaves no
// partial file. Errors throw losslab::Error naming the path and what went wrong.
//
// Thread rules: exportPlot on the GUI thread (it paints a widget); exportTable anywhere.
#include <QString>
#include <QStringList>

#include "losslab/report/report_table.h"

class QCustomPlot;
class QWidget;

namespace losslab {

QStringList tableExportFilters(); // for QFileDialog: "CSV (*.csv)", ...
QStringList plotExportFilters();

// Writes a table to `path` in the format its suffix names: CSV writes `data` (tidy, numeric
// columns, as the report's CSV files), Markdown and LaTeX write `display` (what the view shows).
// Throws Error for another suffix.
void exportTable(const ReportTable& display, const ReportTable& data, const QString& path);
void exportPlot(QCustomPlot& plot, const QString& path, double scale = 2.0);

// `path` with the suffix that the chosen filter names ("Markdown (*.md)" -> ".md") when it
// has none of the filter's suffixes.
QString withFilterSuffix(const QString& path, const QString& filter);

// Asks for a file to export to (a save dialog offering `filters`, proposing `defaultName`,
// e.g. "table-main", in the folder of the last export); "" when cancelled. The answer carries
// the chosen filter's suffix; its folder is remembered (WorkbenchSettings). GUI thread only.
QString askExportPath(QWidget* parent, const QString& title, const QStringList& filters,
                      const QString& defaultName = QString());

} // namespace losslab
