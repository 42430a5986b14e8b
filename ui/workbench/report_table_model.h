#pragma once
// ReportTableModel: a report table (core's ReportTable: the paper-style main, std, stats or
// headline table) as a read-only Qt model. Emphasised cells (the better value of a row)
// are bold; numeric columns right-aligned; the notes come as the tooltip of every cell.
//
// Thread rules: GUI thread only.
#include <QAbstractTableModel>

#include "losslab/report/report_table.h"

namespace losslab {

class ReportTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    using QAbstractTableModel::QAbstractTableModel;

    // `table` is what the view shows; `data` the same numbers as tidy data (numeric mean,
    // std, n ... columns, as the report's CSV files), what a CSV export writes.
    void setTable(const ReportTable& table, const ReportTable& data = {});
    const ReportTable& table() const { return m_table; }
    const ReportTable& dataTable() const { return m_data.header.empty() ? m_table : m_data; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    ReportTable m_table;
    ReportTable m_data;
};

} // namespace losslab
