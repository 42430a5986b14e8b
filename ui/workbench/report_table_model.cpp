#include "report_table_model.h"

#include <QCoreApplication>
#include <QFont>

#include <map>

namespace losslab {

void ReportTableModel::setTable(const ReportTable& table, const ReportTable& data) {
    beginResetModel();
    m_table = table;
    m_data = data;
    endResetModel();
}

int ReportTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_table.rows.size());
}

int ReportTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_table.header.size());
}

QVariant ReportTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid()) return {};
    const auto& row = m_table.rows.at(static_cast<std::size_t>(index.row()));
    const auto column = static_cast<std::size_t>(index.column());
    if (column >= row.size()) return {};
    const TableCell& cell = row[column];
    switch (role) {
    case Qt::DisplayRole: return QString::fromStdString(cell.text);
    case Qt::FontRole:
        if (cell.emphasis) {
            QFont bold;
            bold.setBold(true);
            return bold;
        }
        return {};
    case Qt::TextAlignmentRole:
        if (column < m_table.numeric.size() && m_table.numeric[column]) return int(Qt::AlignRight | Qt::AlignVCenter);
        return int(Qt::AlignLeft | Qt::AlignVCenter);
    case Qt::ToolTipRole: {
        QString notes;
        for (const std::string& note : m_table.notes) notes += QString::fromStdString(note) + QLatin1Char('\n');
        return notes.trimmed().isEmpty() ? QVariant() : QVariant(notes.trimmed());
    }
    default: return {};
    }
}

namespace {

// What a column of the statistics and headline tables means, for its header's tooltip.
QString columnHelp(const std::string& header) {
    static const std::map<std::string, const char*> help = {
        {"Square >= CE (by mean)", "Tasks where the square loss's mean is at least cross-entropy's (at most, where "
                                   "lower is better), of the tasks with both means"},
        {"Square better", "Tasks where the 95% interval of the paired differences (square minus CE, by seed) lies "
                          "above 0: the square loss is better at that confidence"},
        {"Tie", "Tasks where the 95% interval of the paired differences contains 0: the runs do not decide"},
        {"CE better", "Tasks where the 95% interval of the paired differences lies below 0: cross-entropy is better "
                      "at that confidence"},
        {"Undecided", "Tasks with fewer than 2 seed pairs: no interval"},
        {"Pairs", "Seeds with a result on both sides"},
        {"Mean diff.", "Mean of the per-seed differences, square minus CE (percentage points for accuracies)"},
        {"Std", "Sample standard deviation of the per-seed differences"},
        {"95% CI", "Student's t interval of the mean difference: above 0, square better; below 0, CE better"},
        {"t-test p", "Paired t-test, two-sided"},
        {"Wilcoxon p", "Exact Wilcoxon signed-rank test, two-sided"},
    };
    const auto it = help.find(header);
    return it == help.end() ? QString() : QCoreApplication::translate("losslab", it->second);
}

// A long header ("Validation acc of the chosen configuration") broken at spaces into lines of
// about `width` characters: the view caps a column's width, and a header line does not wrap
// by itself, so it would be cut off.
QString wrappedHeader(const std::string& header, std::size_t width = 20) {
    if (header.size() <= width) return QString::fromStdString(header);
    std::string out, line;
    std::size_t start = 0;
    while (start <= header.size()) {
        std::size_t end = header.find(' ', start);
        if (end == std::string::npos) end = header.size();
        const std::string word = header.substr(start, end - start);
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            out += line + "\n";
            line = word;
        } else {
            line += (line.empty() ? "" : " ") + word;
        }
        start = end + 1;
    }
    return QString::fromStdString(out + line);
}

} // namespace

QVariant ReportTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (section < 0 || section >= static_cast<int>(m_table.header.size())) return {};
    const std::string& header = m_table.header[static_cast<std::size_t>(section)];
    if (role == Qt::DisplayRole) return wrappedHeader(header);
    if (role == Qt::ToolTipRole) {
        const QString help = columnHelp(header);
        if (!help.isEmpty()) return help;
        // A wrapped header's tool tip gives it on one line.
        return wrappedHeader(header).contains(QLatin1Char('\n')) ? QVariant(QString::fromStdString(header)) : QVariant();
    }
    return {};
}

} // namespace losslab
