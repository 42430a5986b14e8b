#include "workbench/run_filter_proxy.h"

#include <QStringList>

#include <cmath>

#include "workbench/run_table_model.h"

namespace losslab {

namespace {

bool isNumber(const QVariant& value) {
    switch (value.typeId()) {
    case QMetaType::Double:
    case QMetaType::Float:
    case QMetaType::Int:
    case QMetaType::UInt:
    case QMetaType::LongLong:
    case QMetaType::ULongLong: return true;
    default: return false;
    }
}

bool isMissing(const QVariant& value) {
    if (!value.isValid() || value.isNull()) return true;
    if (isNumber(value)) return std::isnan(value.toDouble());
    return value.toString().isEmpty();
}

} // namespace

RunFilterProxy::RunFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
    setSortRole(Qt::UserRole);
    setDynamicSortFilter(true);
}

// Qt 6.10 replaced invalidateFilter() (deprecated there) by a pair around the change.
template <typename Change>
void RunFilterProxy::changeFilter(Change change) {
#if QT_VERSION >= QT_VERSION_CHECK(6, 10, 0)
    beginFilterChange();
    change();
    endFilterChange(QSortFilterProxyModel::Direction::Rows);
#else
    change();
    invalidateFilter();
#endif
}

void RunFilterProxy::setFilterValue(QString& member, const QString& value) {
    if (member == value) return;
    changeFilter([&] { member = value; });
}

void RunFilterProxy::setExperimentFilter(const QString& experiment) { setFilterValue(m_experiment, experiment); }
void RunFilterProxy::setTaskFilter(const QString& taskId) { setFilterValue(m_task, taskId); }
void RunFilterProxy::setLossFilter(const QString& lossName) { setFilterValue(m_loss, lossName); }
void RunFilterProxy::setProtocolFilter(const QString& protocol) { setFilterValue(m_protocol, protocol); }
void RunFilterProxy::setStatusFilter(const QString& status) { setFilterValue(m_status, status); }
void RunFilterProxy::setTagFilter(const QString& tag) { setFilterValue(m_tag, tag.trimmed()); }
void RunFilterProxy::setTextFilter(const QString& text) { setFilterValue(m_text, text.trimmed()); }

void RunFilterProxy::clearFilters() {
    changeFilter([this] {
        m_experiment.clear();
        m_task.clear();
        m_loss.clear();
        m_protocol.clear();
        m_status.clear();
        m_tag.clear();
        m_text.clear();
    });
}

bool RunFilterProxy::hasTag(const QString& tags, const QString& tag) {
    const QString wanted = tag.trimmed();
    if (wanted.isEmpty()) return true;
    const QStringList items = tags.split(QLatin1Char(','));
    for (const QString& item : items)
        if (item.trimmed().compare(wanted, Qt::CaseInsensitive) == 0) return true;
    return false;
}

bool RunFilterProxy::matchesExactly(int sourceRow, int column, const QString& wanted) const {
    if (wanted.isEmpty()) return true;
    return sourceModel()->index(sourceRow, column).data(Qt::UserRole).toString() == wanted;
}

bool RunFilterProxy::matchesText(int sourceRow) const {
    if (m_text.isEmpty()) return true;
    const QAbstractItemModel* model = sourceModel();
    for (int column = 0; column < model->columnCount(); ++column) {
        const QModelIndex index = model->index(sourceRow, column);
        if (index.data(Qt::DisplayRole).toString().contains(m_text, Qt::CaseInsensitive)) return true;
    }
    // Shown text may be shortened (notes show one line); search the full text too.
    for (int column : {RunTableModel::TagsColumn, RunTableModel::NotesColumn}) {
        if (column >= model->columnCount()) continue;
        if (model->index(sourceRow, column).data(Qt::UserRole).toString().contains(m_text, Qt::CaseInsensitive))
            return true;
    }
    return false;
}

bool RunFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    if (sourceParent.isValid() || !sourceModel()) return false;
    if (!matchesExactly(sourceRow, RunTableModel::ExperimentColumn, m_experiment)) return false;
    if (!matchesExactly(sourceRow, RunTableModel::TaskColumn, m_task)) return false;
    if (!matchesExactly(sourceRow, RunTableModel::LossColumn, m_loss)) return false;
    if (!matchesExactly(sourceRow, RunTableModel::ProtocolColumn, m_protocol)) return false;
    if (!matchesExactly(sourceRow, RunTableModel::StatusColumn, m_status)) return false;
    if (!m_tag.isEmpty()) {
        const QString tags = sourceModel()->index(sourceRow, RunTableModel::TagsColumn).data(Qt::UserRole).toString();
        if (!hasTag(tags, m_tag)) return false;
    }
    return matchesText(sourceRow);
}

bool RunFilterProxy::lessThan(const QModelIndex& left, const QModelIndex& right) const {
    const QVariant a = left.data(sortRole());
    const QVariant b = right.data(sortRole());
    // Qt sorts descending by asking lessThan(right, left); to keep missing values last in both
    // directions they count as largest ascending and as smallest descending.
    const bool missingA = isMissing(a), missingB = isMissing(b);
    if (missingA || missingB) {
        if (missingA && missingB) return false;
        const bool ascending = sortOrder() == Qt::AscendingOrder;
        return ascending ? missingB : missingA;
    }
    if (isNumber(a) && isNumber(b)) {
        if (a.typeId() != QMetaType::Double && b.typeId() != QMetaType::Double)
            return a.toLongLong() < b.toLongLong();
        return a.toDouble() < b.toDouble();
    }
    return a.toString().compare(b.toString(), Qt::CaseInsensitive) < 0;
}

} // namespace losslab
