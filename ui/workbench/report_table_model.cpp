#include "report_table_model.h"

#include <QFont>

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

QVariant ReportTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
    if (section < 0 || section >= static_cast<int>(m_table.header.size())) return {};
    return QString::fromStdString(m_table.header[static_cast<std::size_t>(section)]);
}

} // namespace losslab
