#pragma once
// RunFilterProxy: filters and sorts a RunTableModel for the run browser.
//
// A row passes when it passes every filter that is set. Experiment, task, loss (the loss's
// name), protocol and status match exactly; an empty string means "any". The tag filter
// passes runs that carry that tag among their comma-separated tags (trimmed, case-
// insensitive). The text filter passes runs where any column's shown text, or the full tags
// and notes, contain the text (case-insensitive).
//
// Sorting uses Qt::UserRole (raw values): numbers compare numerically, text case-
// insensitively, and a missing value (NaN, empty text) sorts last in either direction.
//
// Thread rules: a Qt model; use it from the GUI thread only.
#include <QSortFilterProxyModel>
#include <QString>

namespace losslab {

class RunFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT
public:
    explicit RunFilterProxy(QObject* parent = nullptr);

    void setExperimentFilter(const QString& experiment);
    void setTaskFilter(const QString& taskId);
    void setLossFilter(const QString& lossName);
    void setProtocolFilter(const QString& protocol);
    void setStatusFilter(const QString& status); // "completed", "failed", ...
    void setTagFilter(const QString& tag);
    void setTextFilter(const QString& text);
    void clearFilters();

    const QString& experimentFilter() const { return m_experiment; }
    const QString& taskFilter() const { return m_task; }
    const QString& lossFilter() const { return m_loss; }
    const QString& protocolFilter() const { return m_protocol; }
    const QString& statusFilter() const { return m_status; }
    const QString& tagFilter() const { return m_tag; }
    const QString& textFilter() const { return m_text; }

    // True when `tags` ("a,b,c") holds `tag` (trimmed, case-insensitive).
    static bool hasTag(const QString& tags, const QString& tag);

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;
    bool lessThan(const QModelIndex& left, const QModelIndex& right) const override;

private:
    void setFilterValue(QString& member, const QString& value);
    template <typename Change>
    void changeFilter(Change change);
    bool matchesExactly(int sourceRow, int column, const QString& wanted) const;
    bool matchesText(int sourceRow) const;

    QString m_experiment, m_task, m_loss, m_protocol, m_status, m_tag, m_text;
};

} // namespace losslab
