#include "queue_panel.h"

#include <QApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPainter>
#include <QPushButton>
#include <QStyledItemDelegate>
#include <QTableView>
#include <QVBoxLayout>

#include <set>

#include "run_queue_model.h"

namespace losslab {

namespace {

// Draws the Progress column as the platform's progress bar.
class ProgressDelegate : public QStyledItemDelegate {
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter* painter, const QStyleOptionViewItem& option, const QModelIndex& index) const override {
        QStyleOptionProgressBar bar;
        bar.rect = option.rect.adjusted(2, 3, -2, -3);
        bar.minimum = 0;
        bar.maximum = 1000;
        bar.progress = qRound(index.data(RunQueueModel::ProgressRole).toDouble() * 1000);
        bar.text = index.data(Qt::DisplayRole).toString();
        bar.textVisible = true;
        bar.textAlignment = Qt::AlignCenter;
        bar.state = option.state | QStyle::State_Horizontal;
        QStyle* style = option.widget ? option.widget->style() : QApplication::style();
        style->drawControl(QStyle::CE_ProgressBar, &bar, painter, option.widget);
    }
};

} // namespace

QueuePanel::QueuePanel(RunQueueModel& model, QWidget* parent) : QWidget(parent), m_model(model) {
    setObjectName(QStringLiteral("queuePanel"));
    m_table = new QTableView(this);
    m_table->setObjectName(QStringLiteral("queueTable"));
    m_table->setModel(&m_model);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setItemDelegateForColumn(RunQueueModel::Progress, new ProgressDelegate(m_table));
    m_table->verticalHeader()->hide();
    m_table->setAlternatingRowColors(true);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    // The status text ("waiting for CE run 12", an error) is what grows.
    m_table->horizontalHeader()->setSectionResizeMode(RunQueueModel::Status, QHeaderView::Stretch);
    const QFontMetrics metrics(font());
    const int em = metrics.horizontalAdvance(QLatin1Char('M'));
    const int widths[RunQueueModel::ColumnCount] = {4, 12, 10, 13, 4, 5, 14, 6, 10, 6};
    for (int c = 0; c < RunQueueModel::ColumnCount; ++c) m_table->setColumnWidth(c, widths[c] * em);
    m_table->verticalHeader()->setDefaultSectionSize(metrics.height() + 8);

    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("queueSummary"));
    m_cancel = new QPushButton(tr("Cancel selected"), this);
    m_cancel->setObjectName(QStringLiteral("cancelSelectedButton"));
    m_cancelAll = new QPushButton(tr("Cancel all"), this);
    m_cancelAll->setObjectName(QStringLiteral("cancelAllButton"));
    m_clear = new QPushButton(tr("Clear finished"), this);
    m_clear->setObjectName(QStringLiteral("clearFinishedButton"));

    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_summary, 1);
    buttons->addWidget(m_clear);
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_cancelAll);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(buttons);
    layout->addWidget(m_table, 1);

    connect(m_cancel, &QPushButton::clicked, this, [this] {
        const QVector<qint64> ids = selectedRunIds();
        if (!ids.isEmpty()) emit cancelRequested(ids);
    });
    connect(m_cancelAll, &QPushButton::clicked, this, &QueuePanel::cancelAllRequested);
    connect(m_clear, &QPushButton::clicked, this, [this] { m_model.clearFinished(); });
    connect(m_table, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
        emit runActivated(m_model.runIdAt(index.row()));
    });
    connect(&m_model, &QAbstractItemModel::dataChanged, this, [this] { updateSummary(); updateButtons(); });
    connect(&m_model, &QAbstractItemModel::rowsInserted, this, [this] { updateSummary(); updateButtons(); });
    connect(&m_model, &QAbstractItemModel::modelReset, this, [this] { updateSummary(); updateButtons(); });
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, [this] { updateButtons(); });
    updateSummary();
    updateButtons();
}

QVector<qint64> QueuePanel::selectedRunIds() const {
    std::set<int> rows;
    for (const QModelIndex& index : m_table->selectionModel()->selectedIndexes()) rows.insert(index.row());
    QVector<qint64> ids;
    for (int row : rows) ids.push_back(m_model.runIdAt(row));
    return ids;
}

void QueuePanel::setQueuedBatches(int count) {
    m_queuedBatches = count;
    updateSummary();
    updateButtons();
}

void QueuePanel::updateSummary() {
    const int running = m_model.countWithStatus(RunStatus::Running);
    const int queued = m_model.countWithStatus(RunStatus::Queued);
    const int done = m_model.countWithStatus(RunStatus::Completed);
    const int problems = m_model.countWithStatus(RunStatus::Failed) + m_model.countWithStatus(RunStatus::Diverged);
    const int cancelled = m_model.countWithStatus(RunStatus::Cancelled);
    const int interrupted = m_model.countWithStatus(RunStatus::Interrupted);
    QString text = m_model.rowCount() == 0 ? tr("No runs yet: press Run to start the experiment.")
                                           : tr("%1 running, %2 queued, %3 completed").arg(running).arg(queued).arg(done);
    if (problems > 0) text += tr(", %1 failed or diverged").arg(problems);
    if (cancelled > 0) text += tr(", %1 cancelled").arg(cancelled);
    if (interrupted > 0) text += tr(", %1 interrupted (Run > Resume interrupted runs)").arg(interrupted);
    if (running + queued > 0) {
        const double left = m_model.queueEtaSeconds();
        if (left >= 0) text += tr("; all done in about %1").arg(RunQueueModel::durationText(left));
    }
    if (m_queuedBatches > 0) text += tr("; %n more experiment(s) waiting", nullptr, m_queuedBatches);
    m_summary->setText(text);
}

void QueuePanel::updateButtons() {
    m_cancelAll->setEnabled(m_model.hasActiveRuns() || m_queuedBatches > 0);
    bool activeSelected = false;
    for (qint64 id : selectedRunIds()) activeSelected = activeSelected || !isFinal(m_model.statusOf(id));
    m_cancel->setEnabled(activeSelected);
}

} // namespace losslab
