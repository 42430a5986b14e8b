#include "workbench/run_browser_view.h"

#include <QAction>
#include <QComboBox>
#include <QCompleter>
#include <QEvent>
#include <QFormLayout>
#include <QFrame>
#include <QFutureWatcher>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelection>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSet>
#include <QSplitter>
#include <QStringListModel>
#include <QTableView>
#include <QToolButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <algorithm>
#include <exception>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "losslab/error.h"
#include "losslab/store/records.h"
#include "losslab/store/run_deletion.h"
#include "losslab/store/run_store.h"
#include "workbench/run_filter_proxy.h"
#include "workbench/run_table_model.h"

namespace losslab {

// What one background read returns.
struct RunBrowserView::Snapshot {
    std::vector<RunRecord> runs;
    QHash<QString, QHash<qint64, double>> reported; // "split/metric" -> run id -> value
    QHash<qint64, RunTableModel::RecipeSummary> recipes;
    QString error;
};

namespace {

// What a background deletion returns.
struct DeleteOutcome {
    int deleted = 0;
    QString error;
};

QString qs(const std::string& text) { return QString::fromStdString(text); }

int splitRank(const QString& split) {
    if (split == QLatin1String("train")) return 0;
    if (split == QLatin1String("val")) return 1;
    if (split == QLatin1String("test")) return 2;
    return 3;
}

// train/..., val/..., test/..., then anything else; metrics alphabetically within a split.
bool metricKeyLess(const QString& a, const QString& b) {
    const QString splitA = a.section(QLatin1Char('/'), 0, 0), splitB = b.section(QLatin1Char('/'), 0, 0);
    if (splitRank(splitA) != splitRank(splitB)) return splitRank(splitA) < splitRank(splitB);
    return a < b;
}

// Rebuilds a filter combo: "All ..." (no filter) then the sorted values. The chosen value
// stays chosen, even when no run has it any more, so a filter never changes by itself.
void refillCombo(QComboBox* combo, const QString& anyText, QStringList values) {
    const QString chosen = combo->currentData().toString();
    if (!chosen.isEmpty() && !values.contains(chosen)) values << chosen;
    std::sort(values.begin(), values.end(),
              [](const QString& a, const QString& b) { return a.compare(b, Qt::CaseInsensitive) < 0; });
    const QSignalBlocker blocker(combo);
    combo->clear();
    combo->addItem(anyText, QString());
    for (const QString& value : values) combo->addItem(value, value);
    combo->setCurrentIndex(std::max(0, combo->findData(chosen)));
}

} // namespace

RunBrowserView::RunBrowserView(RunStore& store, QWidget* parent)
    : QWidget(parent), m_store(store), m_model(new RunTableModel(this)), m_proxy(new RunFilterProxy(this)),
      m_recipeCache(std::make_shared<RunRecipeCache>()) {
    m_pool.setMaxThreadCount(1); // reads and deletions in the order they were asked for
    m_proxy->setSourceModel(m_model);
    m_confirm = [this](const QString& question) {
        return QMessageBox::question(this, tr("Delete runs"), question, QMessageBox::Yes | QMessageBox::No,
                                     QMessageBox::No) == QMessageBox::Yes;
    };
    connect(m_model, &RunTableModel::tagsEdited, this, &RunBrowserView::onTagsEdited);
    connect(m_model, &RunTableModel::notesEdited, this, &RunBrowserView::onNotesEdited);
    buildUi();
    updateBanner();
    updateActions();
}

RunBrowserView::~RunBrowserView() {
    m_notesEdit->removeEventFilter(this);
    saveNotes(); // typed but not yet saved: keep it
    m_pool.waitForDone();
    // Their answers are posted to this view: it must still exist when they are.
    std::unique_lock<std::mutex> lock(m_writes->mutex);
    m_writes->idle.wait(lock, [this] { return m_writes->count == 0; });
}

void RunBrowserView::buildUi() {
    setObjectName(QStringLiteral("runBrowser"));
    auto* layout = new QVBoxLayout(this);

    // Banner: runs a stopped LossLab left behind.
    m_banner = new QFrame(this);
    m_banner->setObjectName(QStringLiteral("interruptedBanner"));
    m_banner->setFrameShape(QFrame::StyledPanel);
    m_banner->setStyleSheet(QStringLiteral("#interruptedBanner { background: #fff4d6; border: 1px solid #e0b050; }"));
    auto* bannerLayout = new QHBoxLayout(m_banner);
    bannerLayout->setContentsMargins(8, 4, 4, 4);
    m_bannerLabel = new QLabel(m_banner);
    m_bannerLabel->setObjectName(QStringLiteral("interruptedLabel"));
    auto* resumeAll = new QPushButton(tr("Resume"), m_banner);
    resumeAll->setObjectName(QStringLiteral("resumeInterruptedButton"));
    auto* showThem = new QPushButton(tr("Show"), m_banner);
    showThem->setObjectName(QStringLiteral("showInterruptedButton"));
    auto* dismiss = new QToolButton(m_banner);
    dismiss->setObjectName(QStringLiteral("dismissBannerButton"));
    dismiss->setText(QStringLiteral("×"));
    dismiss->setToolTip(tr("Hide until more runs are interrupted"));
    dismiss->setAutoRaise(true);
    bannerLayout->addWidget(m_bannerLabel, 1);
    bannerLayout->addWidget(resumeAll);
    bannerLayout->addWidget(showThem);
    bannerLayout->addWidget(dismiss);
    layout->addWidget(m_banner);
    connect(resumeAll, &QPushButton::clicked, this, &RunBrowserView::resumeInterrupted);
    connect(showThem, &QPushButton::clicked, this, [this] {
        const int index = m_statusCombo->findData(QStringLiteral("interrupted"));
        if (index >= 0) m_statusCombo->setCurrentIndex(index);
    });
    connect(dismiss, &QToolButton::clicked, this, [this] {
        m_dismissedInterrupted = m_interrupted;
        updateBanner();
    });

    // Filter bar.
    auto* filterBar = new QHBoxLayout;
    const auto makeCombo = [this, filterBar](const char* name, const QString& anyText,
                                             void (RunFilterProxy::*setter)(const QString&)) {
        auto* combo = new QComboBox(this);
        combo->setObjectName(QString::fromLatin1(name));
        combo->setSizeAdjustPolicy(QComboBox::AdjustToContents);
        combo->addItem(anyText, QString());
        filterBar->addWidget(combo);
        connect(combo, &QComboBox::currentIndexChanged, this, [this, combo, setter] {
            (m_proxy->*setter)(combo->currentData().toString());
            updateActions();
        });
        return combo;
    };
    m_experimentCombo = makeCombo("experimentFilter", tr("All experiments"), &RunFilterProxy::setExperimentFilter);
    m_taskCombo = makeCombo("taskFilter", tr("All tasks"), &RunFilterProxy::setTaskFilter);
    m_lossCombo = makeCombo("lossFilter", tr("All losses"), &RunFilterProxy::setLossFilter);
    m_protocolCombo = makeCombo("protocolFilter", tr("All protocols"), &RunFilterProxy::setProtocolFilter);
    m_statusCombo = makeCombo("statusFilter", tr("Any status"), &RunFilterProxy::setStatusFilter);

    m_tagFilterEdit = new QLineEdit(this);
    m_tagFilterEdit->setObjectName(QStringLiteral("tagFilter"));
    m_tagFilterEdit->setPlaceholderText(tr("Tag"));
    m_tagFilterEdit->setClearButtonEnabled(true);
    m_tagCompletions = new QStringListModel(this);
    auto* completer = new QCompleter(m_tagCompletions, m_tagFilterEdit);
    completer->setCaseSensitivity(Qt::CaseInsensitive);
    m_tagFilterEdit->setCompleter(completer);
    filterBar->addWidget(m_tagFilterEdit);
    connect(m_tagFilterEdit, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_proxy->setTagFilter(text);
        updateActions();
    });

    m_searchEdit = new QLineEdit(this);
    m_searchEdit->setObjectName(QStringLiteral("searchField"));
    m_searchEdit->setPlaceholderText(tr("Search all columns"));
    m_searchEdit->setClearButtonEnabled(true);
    filterBar->addWidget(m_searchEdit, 1);
    connect(m_searchEdit, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_proxy->setTextFilter(text);
        updateActions();
    });

    auto* metricLabel = new QLabel(tr("Metric:"), this);
    m_extraMetricCombo = new QComboBox(this);
    m_extraMetricCombo->setObjectName(QStringLiteral("extraMetricCombo"));
    m_extraMetricCombo->setToolTip(tr("The extra column: any split/metric at the reported epoch"));
    m_extraMetricCombo->addItem(m_extraKey, m_extraKey);
    metricLabel->setBuddy(m_extraMetricCombo);
    filterBar->addWidget(metricLabel);
    filterBar->addWidget(m_extraMetricCombo);
    connect(m_extraMetricCombo, &QComboBox::currentIndexChanged, this,
            [this] { setExtraMetric(m_extraMetricCombo->currentData().toString()); });
    m_model->setExtraMetric(m_extraKey, {});
    layout->addLayout(filterBar);

    // Table | current run.
    auto* splitter = new QSplitter(Qt::Horizontal, this);
    m_table = new QTableView(splitter);
    m_table->setObjectName(QStringLiteral("runTable"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(RunTableModel::IdColumn, Qt::DescendingOrder); // newest first
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_table->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    m_table->verticalHeader()->setVisible(false);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_table, &QWidget::customContextMenuRequested, this, &RunBrowserView::showContextMenu);
    auto* deleteAction = new QAction(tr("Delete"), m_table);
    deleteAction->setShortcut(QKeySequence::Delete);
    deleteAction->setShortcutContext(Qt::WidgetShortcut); // not while typing in an editor
    connect(deleteAction, &QAction::triggered, this, &RunBrowserView::deleteSelected);
    m_table->addAction(deleteAction);
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &RunBrowserView::updateActions);
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            &RunBrowserView::onCurrentRowChanged);

    auto* pane = new QGroupBox(tr("Run"), splitter);
    pane->setObjectName(QStringLiteral("runDetails"));
    auto* paneLayout = new QVBoxLayout(pane);
    m_runLabel = new QLabel(tr("No run selected"), pane);
    m_runLabel->setObjectName(QStringLiteral("currentRunLabel"));
    m_runLabel->setWordWrap(true);
    m_errorLabel = new QLabel(pane);
    m_errorLabel->setObjectName(QStringLiteral("runErrorLabel"));
    m_errorLabel->setWordWrap(true);
    m_errorLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_errorLabel->setStyleSheet(QStringLiteral("color: #c02828;"));
    m_errorLabel->hide();
    auto* form = new QFormLayout;
    m_tagsEdit = new QLineEdit(pane);
    m_tagsEdit->setObjectName(QStringLiteral("tagsEdit"));
    m_tagsEdit->setPlaceholderText(tr("comma-separated, e.g. paper, baseline"));
    form->addRow(tr("Tags:"), m_tagsEdit);
    m_notesEdit = new QPlainTextEdit(pane);
    m_notesEdit->setObjectName(QStringLiteral("notesEdit"));
    m_notesEdit->setPlaceholderText(tr("Notes on this run"));
    m_notesEdit->installEventFilter(this);
    m_saveNotesButton = new QPushButton(tr("Save notes"), pane);
    m_saveNotesButton->setObjectName(QStringLiteral("saveNotesButton"));
    paneLayout->addWidget(m_runLabel);
    paneLayout->addWidget(m_errorLabel);
    m_settingsView = new QPlainTextEdit(pane);
    m_settingsView->setObjectName(QStringLiteral("runSettings"));
    m_settingsView->setReadOnly(true);
    m_settingsView->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_settingsView->setToolTip(tr("Everything this run was trained with, as stored with it"));
    paneLayout->addWidget(new QLabel(tr("Settings:"), pane));
    paneLayout->addWidget(m_settingsView, 1);
    paneLayout->addLayout(form);
    paneLayout->addWidget(new QLabel(tr("Notes:"), pane));
    paneLayout->addWidget(m_notesEdit, 1);
    paneLayout->addWidget(m_saveNotesButton, 0, Qt::AlignRight);
    connect(m_tagsEdit, &QLineEdit::editingFinished, this, &RunBrowserView::saveTags);
    connect(m_saveNotesButton, &QPushButton::clicked, this, &RunBrowserView::saveNotes);
    connect(m_notesEdit, &QPlainTextEdit::modificationChanged, this,
            [this](bool modified) { m_saveNotesButton->setEnabled(modified && m_editorRunId >= 0); });
    splitter->addWidget(m_table);
    splitter->addWidget(pane);
    splitter->setStretchFactor(0, 4);
    splitter->setStretchFactor(1, 1);
    splitter->setSizes({1000, 280});
    layout->addWidget(splitter, 1);

    // Actions.
    auto* buttons = new QHBoxLayout;
    m_countLabel = new QLabel(this);
    m_countLabel->setObjectName(QStringLiteral("runCountLabel"));
    m_compareButton = new QPushButton(tr("Compare selected"), this);
    m_compareButton->setObjectName(QStringLiteral("compareButton"));
    m_compareButton->setToolTip(tr("Overlay the curves of the selected runs"));
    m_diffButton = new QPushButton(tr("Diff settings"), this);
    m_diffButton->setObjectName(QStringLiteral("diffButton"));
    m_diffButton->setToolTip(tr("Two runs selected: every setting they differ in"));
    m_resumeButton = new QPushButton(tr("Resume"), this);
    m_resumeButton->setObjectName(QStringLiteral("resumeButton"));
    m_resumeButton->setToolTip(tr("Continue the selected interrupted or cancelled runs"));
    m_deleteButton = new QPushButton(tr("Delete…"), this);
    m_deleteButton->setObjectName(QStringLiteral("deleteButton"));
    m_refreshButton = new QPushButton(tr("Refresh"), this);
    m_refreshButton->setObjectName(QStringLiteral("refreshButton"));
    buttons->addWidget(m_countLabel, 1);
    buttons->addWidget(m_compareButton);
    buttons->addWidget(m_diffButton);
    buttons->addWidget(m_resumeButton);
    buttons->addWidget(m_deleteButton);
    buttons->addWidget(m_refreshButton);
    layout->addLayout(buttons);
    connect(m_compareButton, &QPushButton::clicked, this, &RunBrowserView::compareSelected);
    connect(m_diffButton, &QPushButton::clicked, this, &RunBrowserView::diffSelected);
    connect(m_resumeButton, &QPushButton::clicked, this, &RunBrowserView::resumeSelected);
    connect(m_deleteButton, &QPushButton::clicked, this, &RunBrowserView::deleteSelected);
    connect(m_refreshButton, &QPushButton::clicked, this, &RunBrowserView::refresh);

    loadEditorFor(-1);
}

RunTableModel* RunBrowserView::model() { return m_model; }
RunFilterProxy* RunBrowserView::proxy() { return m_proxy; }

void RunBrowserView::setConfirmation(std::function<bool(const QString& question)> confirm) {
    m_confirm = std::move(confirm);
}

// --- loading ---

void RunBrowserView::refresh() {
    if (m_reading) {
        m_readAgain = true; // one more read once this one is done; it sees every change since
        return;
    }
    m_reading = true;
    ++m_reads;
    RunStore* store = &m_store;
    auto* watcher = new QFutureWatcher<Snapshot>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher] {
        watcher->deleteLater();
        m_reading = false;
        Snapshot snapshot = watcher->result();
        // Asked again meanwhile: the next read starts first (while this one is shown), and
        // refreshed() waits for it.
        const bool again = std::exchange(m_readAgain, false);
        if (again) refresh();
        if (!snapshot.error.isEmpty()) {
            if (!again) emit errorOccurred(snapshot.error);
            return;
        }
        applySnapshot(std::move(snapshot));
        if (!again) emit refreshed();
    });
    watcher->setFuture(QtConcurrent::run(&m_pool, [store, cache = m_recipeCache]() {
        Snapshot snapshot;
        try {
            snapshot.runs = store->runs();
            // YAML parsing: here, not on the GUI thread, and only of runs not read before.
            snapshot.recipes = RunTableModel::recipeSummaries(snapshot.runs, cache.get());
            std::map<std::pair<std::string, std::string>, QHash<qint64, double>*> byKey;
            for (const EpochMetricRow& row : store->reportedMetrics({})) {
                const auto key = std::make_pair(row.value.split, row.value.metric);
                auto found = byKey.find(key);
                if (found == byKey.end()) {
                    QHash<qint64, double>& values =
                        snapshot.reported[qs(row.value.split) + QLatin1Char('/') + qs(row.value.metric)];
                    found = byKey.emplace(key, &values).first;
                }
                found->second->insert(row.runId, row.value.value);
            }
        } catch (const std::exception& e) {
            snapshot = Snapshot{};
            snapshot.error = tr("Could not read the runs from %1: %2").arg(qs(store->path()), qs(e.what()));
        }
        return snapshot;
    }));
}

void RunBrowserView::applySnapshot(Snapshot snapshot) {
    const QVector<qint64> selected = selectedRunIds();
    const qint64 current = currentRunId();

    // Edits still queued on the writer when the read ran: lay them over it; an edit the read
    // already shows is confirmed and forgotten.
    QSet<qint64> present;
    for (RunRecord& run : snapshot.runs) {
        present.insert(run.id);
        if (auto it = m_unconfirmedTags.find(run.id); it != m_unconfirmedTags.end()) {
            if (qs(run.tags) == *it) m_unconfirmedTags.erase(it);
            else run.tags = it->toStdString();
        }
        if (auto it = m_unconfirmedNotes.find(run.id); it != m_unconfirmedNotes.end()) {
            if (qs(run.notes) == *it) m_unconfirmedNotes.erase(it);
            else run.notes = it->toStdString();
        }
    }
    for (auto* edits : {&m_unconfirmedTags, &m_unconfirmedNotes})
        for (auto it = edits->begin(); it != edits->end();)
            it = present.contains(it.key()) ? std::next(it) : edits->erase(it);

    m_reported = std::move(snapshot.reported);
    {
        // The reset clears selection and current row; the editor must not follow that.
        const QSignalBlocker blocker(m_table->selectionModel());
        m_model->setRuns(std::move(snapshot.runs), std::move(snapshot.recipes));
    }
    m_model->setExtraMetric(m_extraKey, m_reported.value(m_extraKey));

    m_interrupted.clear();
    QSet<QString> tags;
    for (const RunRecord& run : m_model->runs()) {
        if (run.status == RunStatus::Interrupted) m_interrupted.push_back(run.id);
        for (const QString& tag : qs(run.tags).split(QLatin1Char(','), Qt::SkipEmptyParts)) tags.insert(tag);
    }
    QStringList tagList(tags.begin(), tags.end());
    tagList.sort(Qt::CaseInsensitive);
    m_tagCompletions->setStringList(tagList);

    refillFilterCombos();
    refillExtraMetricCombo();
    restoreSelection(selected, current);

    // The editor keeps what the user is typing; otherwise it shows the current run afresh.
    const qint64 now = currentRunId();
    if (!(now == m_editorRunId && now >= 0 && m_notesEdit->document()->isModified())) loadEditorFor(now);

    if (!m_columnsSized && m_model->rowCount() > 0) {
        m_table->resizeColumnsToContents();
        for (int column : {int(RunTableModel::TagsColumn), int(RunTableModel::NotesColumn)})
            m_table->setColumnWidth(column, std::min(m_table->columnWidth(column), 240));
        m_columnsSized = true;
    }
    updateBanner();
    updateActions();
}

void RunBrowserView::restoreSelection(const QVector<qint64>& selected, qint64 current) {
    QItemSelectionModel* selection = m_table->selectionModel();
    QItemSelection rows;
    for (qint64 id : selected) {
        const int sourceRow = m_model->rowOfRun(id);
        if (sourceRow < 0) continue;
        const QModelIndex index = m_proxy->mapFromSource(m_model->index(sourceRow, 0));
        if (index.isValid()) rows.select(index, index);
    }
    const QSignalBlocker blocker(selection); // selectionChanged handled by the caller
    selection->select(rows, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    const int currentRow = m_model->rowOfRun(current);
    const QModelIndex currentIndex =
        currentRow < 0 ? QModelIndex() : m_proxy->mapFromSource(m_model->index(currentRow, 0));
    selection->setCurrentIndex(currentIndex, QItemSelectionModel::NoUpdate);
    m_table->viewport()->update();
}

void RunBrowserView::refillFilterCombos() {
    std::set<std::string> experiments, tasks, losses, protocols, statuses;
    for (const RunRecord& run : m_model->runs()) {
        experiments.insert(RunTableModel::experimentLabel(run).toStdString());
        tasks.insert(run.taskId);
        losses.insert(run.lossName);
        protocols.insert(run.protocol);
        statuses.insert(runStatusName(run.status));
    }
    const auto list = [](const std::set<std::string>& values) {
        QStringList out;
        for (const std::string& value : values)
            if (!value.empty()) out << qs(value);
        return out;
    };
    refillCombo(m_experimentCombo, tr("All experiments"), list(experiments));
    refillCombo(m_taskCombo, tr("All tasks"), list(tasks));
    refillCombo(m_lossCombo, tr("All losses"), list(losses));
    refillCombo(m_protocolCombo, tr("All protocols"), list(protocols));
    refillCombo(m_statusCombo, tr("Any status"), list(statuses));
}

void RunBrowserView::refillExtraMetricCombo() {
    QStringList keys = m_reported.keys();
    if (!m_extraKey.isEmpty() && !keys.contains(m_extraKey)) keys << m_extraKey;
    std::sort(keys.begin(), keys.end(), metricKeyLess);
    const QSignalBlocker blocker(m_extraMetricCombo);
    m_extraMetricCombo->clear();
    for (const QString& key : keys) m_extraMetricCombo->addItem(key, key);
    m_extraMetricCombo->setCurrentIndex(m_extraMetricCombo->findData(m_extraKey));
}

void RunBrowserView::setExtraMetric(const QString& key) {
    m_extraKey = key;
    m_model->setExtraMetric(key, m_reported.value(key));
    if (m_extraMetricCombo->currentData().toString() != key) refillExtraMetricCombo();
}

QString RunBrowserView::extraMetric() const { return m_extraKey; }

// --- selection and actions ---

qint64 RunBrowserView::currentRunId() const {
    const QModelIndex index = m_proxy->mapToSource(m_table->selectionModel()->currentIndex());
    const RunRecord* run = index.isValid() ? m_model->runAt(index.row()) : nullptr;
    return run ? run->id : -1;
}

QVector<qint64> RunBrowserView::selectedRunIds() const {
    QModelIndexList rows = m_table->selectionModel()->selectedRows();
    std::sort(rows.begin(), rows.end(), [](const QModelIndex& a, const QModelIndex& b) { return a.row() < b.row(); });
    QVector<qint64> ids;
    ids.reserve(rows.size());
    for (const QModelIndex& row : rows)
        if (const RunRecord* run = m_model->runAt(m_proxy->mapToSource(row).row())) ids.push_back(run->id);
    return ids;
}

void RunBrowserView::selectRuns(const QVector<qint64>& runIds) {
    QItemSelection rows;
    QModelIndex first;
    for (qint64 id : runIds) {
        const int sourceRow = m_model->rowOfRun(id);
        if (sourceRow < 0) continue;
        const QModelIndex index = m_proxy->mapFromSource(m_model->index(sourceRow, 0));
        if (!index.isValid()) continue;
        rows.select(index, index);
        if (!first.isValid()) first = index;
    }
    QItemSelectionModel* selection = m_table->selectionModel();
    if (first.isValid()) {
        selection->setCurrentIndex(first, QItemSelectionModel::NoUpdate);
        m_table->scrollTo(first);
    }
    selection->select(rows, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

QVector<qint64> RunBrowserView::interruptedRunIds() const { return m_interrupted; }

QVector<qint64> RunBrowserView::resumableSelectedIds() const {
    QVector<qint64> ids;
    for (qint64 id : selectedRunIds()) {
        const RunRecord* run = m_model->runAt(m_model->rowOfRun(id));
        if (run && (run->status == RunStatus::Interrupted || run->status == RunStatus::Cancelled))
            ids.push_back(id);
    }
    return ids;
}

void RunBrowserView::updateActions() {
    const QVector<qint64> selected = selectedRunIds();
    m_compareButton->setEnabled(!selected.isEmpty());
    m_diffButton->setEnabled(selected.size() == 2);
    m_resumeButton->setEnabled(!resumableSelectedIds().isEmpty());
    m_deleteButton->setEnabled(!selected.isEmpty() && !m_deleting);
    QString text = tr("%1 of %2 runs").arg(m_proxy->rowCount()).arg(m_model->rowCount());
    if (!selected.isEmpty()) text += tr(", %1 selected").arg(selected.size());
    m_countLabel->setText(text);
}

void RunBrowserView::updateBanner() {
    const int count = static_cast<int>(m_interrupted.size());
    const bool show = count > 0 && m_interrupted != m_dismissedInterrupted;
    if (count > 0) {
        m_bannerLabel->setText(count == 1 ? tr("1 run was interrupted when LossLab last stopped.")
                                          : tr("%1 runs were interrupted when LossLab last stopped.").arg(count));
    }
    m_banner->setVisible(show);
}

void RunBrowserView::compareSelected() {
    const QVector<qint64> ids = selectedRunIds();
    if (!ids.isEmpty()) emit compareRequested(ids);
}

void RunBrowserView::diffSelected() {
    const QVector<qint64> ids = selectedRunIds();
    if (ids.size() != 2) return;
    const RunRecord* a = m_model->runAt(m_model->rowOfRun(ids[0]));
    const RunRecord* b = m_model->runAt(m_model->rowOfRun(ids[1]));
    if (!a || !b) return;
    const QStringList lines = RunTableModel::settingsDifferences(*a, *b);
    auto* box = new QMessageBox(QMessageBox::Information, tr("Run %1 against run %2").arg(a->id).arg(b->id),
                                lines.isEmpty() ? tr("Runs %1 and %2 have the same settings.").arg(a->id).arg(b->id)
                                                : tr("Runs %1 and %2 differ in:").arg(a->id).arg(b->id),
                                QMessageBox::Close, this);
    box->setObjectName(QStringLiteral("settingsDiff"));
    box->setInformativeText(lines.join(QLatin1Char('\n')));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open(); // not modal to the application: the table stays usable
}

void RunBrowserView::resumeSelected() {
    const QVector<qint64> ids = resumableSelectedIds();
    if (!ids.isEmpty()) emit resumeRequested(ids);
}

void RunBrowserView::resumeInterrupted() {
    if (!m_interrupted.isEmpty()) emit resumeRequested(m_interrupted);
}

void RunBrowserView::deleteSelected() {
    if (m_deleting) return;
    const QVector<qint64> ids = selectedRunIds();
    if (ids.isEmpty()) return;
    QString question =
        ids.size() == 1
            ? tr("Delete run %1 with its metrics and checkpoint? This cannot be undone.").arg(ids.front())
            : tr("Delete %1 runs with their metrics and checkpoints? This cannot be undone.").arg(ids.size());
    // Runs that stay but took their epoch count or epochs from a run that goes: said first.
    std::vector<RunRecord> all;
    for (int row = 0; row < m_model->rowCount(); ++row)
        if (const RunRecord* run = m_model->runAt(row)) all.push_back(*run);
    const std::vector<std::string> notes = deletionNotes(all, std::set<std::int64_t>(ids.begin(), ids.end()));
    for (const std::string& note : notes) question += QStringLiteral("\n\n") + tr("Note: %1").arg(QString::fromStdString(note));
    if (!m_confirm || !m_confirm(question)) return;

    m_deleting = true;
    updateActions();
    RunStore* store = &m_store;
    const std::vector<std::int64_t> runIds(ids.begin(), ids.end());
    auto* watcher = new QFutureWatcher<DeleteOutcome>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, ids] {
        watcher->deleteLater();
        const DeleteOutcome outcome = watcher->result();
        m_deleting = false;
        refresh(); // after an error too: the table was out of date (a run started, say)
        updateActions();
        if (!outcome.error.isEmpty()) {
            emit errorOccurred(tr("Nothing was deleted: %1").arg(outcome.error));
            return;
        }
        emit runsDeleted(ids);
    });
    watcher->setFuture(QtConcurrent::run(&m_pool, [store, runIds]() {
        DeleteOutcome outcome;
        try {
            outcome.deleted = store->deleteRuns(runIds);
        } catch (const std::exception& e) {
            outcome.error = qs(e.what());
        }
        return outcome;
    }));
}

void RunBrowserView::showContextMenu(const QPoint& position) {
    if (selectedRunIds().isEmpty()) return;
    QMenu menu(this);
    menu.addAction(tr("Compare selected"), this, &RunBrowserView::compareSelected)
        ->setEnabled(m_compareButton->isEnabled());
    menu.addAction(tr("Resume"), this, &RunBrowserView::resumeSelected)->setEnabled(m_resumeButton->isEnabled());
    menu.addSeparator();
    menu.addAction(tr("Delete…"), this, &RunBrowserView::deleteSelected)->setEnabled(m_deleteButton->isEnabled());
    menu.exec(m_table->viewport()->mapToGlobal(position));
}

// --- tags and notes ---

void RunBrowserView::onCurrentRowChanged() {
    saveNotes(); // the run being left keeps what was typed
    loadEditorFor(currentRunId());
}

void RunBrowserView::loadEditorFor(qint64 runId) {
    const RunRecord* run = m_model->runAt(m_model->rowOfRun(runId));
    m_editorRunId = run ? run->id : -1;
    m_tagsEdit->setEnabled(run != nullptr);
    m_notesEdit->setEnabled(run != nullptr);
    m_tagsEdit->setText(run ? qs(run->tags) : QString());
    m_notesEdit->setPlainText(run ? qs(run->notes) : QString());
    m_notesEdit->document()->setModified(false);
    m_saveNotesButton->setEnabled(false);
    if (!run) {
        m_runLabel->setText(tr("No run selected"));
        m_errorLabel->hide();
        m_settingsView->clear();
        return;
    }
    // The run's full settings: its stored spec, and what trained it.
    QString settings = qs(run->specYaml).trimmed();
    if (!run->device.empty()) settings += QStringLiteral("\n# device: %1").arg(qs(run->device));
    if (!run->library.empty()) settings += QStringLiteral("\n# library: %1").arg(qs(run->library));
    if (run->threads > 0) settings += QStringLiteral("\n# threads: %1").arg(run->threads);
    if (!run->reusedFrom.empty())
        settings += QStringLiteral("\n# epochs 1-%1 copied from run uid %2 (runner.reuse_prefix), not trained again")
                        .arg(run->targetEpochs)
                        .arg(qs(run->reusedFrom));
    m_settingsView->setPlainText(settings);
    m_runLabel->setText(tr("Run %1 · %2 · %3 · %4 · seed %5 · %6")
                            .arg(run->id)
                            .arg(qs(run->experiment), qs(run->lossName), qs(run->protocol))
                            .arg(run->seed)
                            .arg(QString::fromLatin1(runStatusName(run->status))));
    m_errorLabel->setText(qs(run->error));
    m_errorLabel->setVisible(!run->error.empty());
}

void RunBrowserView::saveNotes() {
    if (m_editorRunId < 0 || !m_notesEdit->document()->isModified()) return;
    m_notesEdit->document()->setModified(false);
    const int row = m_model->rowOfRun(m_editorRunId);
    if (row < 0) return; // deleted meanwhile
    m_model->setData(m_model->index(row, RunTableModel::NotesColumn), m_notesEdit->toPlainText());
}

void RunBrowserView::saveTags() {
    if (m_editorRunId < 0) return;
    const int row = m_model->rowOfRun(m_editorRunId);
    if (row < 0) return;
    const QModelIndex index = m_model->index(row, RunTableModel::TagsColumn);
    m_model->setData(index, m_tagsEdit->text());
    m_tagsEdit->setText(index.data(Qt::EditRole).toString()); // as normalised
}

void RunBrowserView::onTagsEdited(qint64 runId, const QString& tags) {
    m_unconfirmedTags.insert(runId, tags);
    if (runId == m_editorRunId && !m_tagsEdit->hasFocus()) m_tagsEdit->setText(tags);
    storeRunText(runId, false, tags);
}

void RunBrowserView::storeRunText(qint64 runId, bool notes, const QString& text) {
    const std::shared_ptr<PendingWrites> writes = m_writes;
    {
        const std::lock_guard<std::mutex> lock(writes->mutex);
        ++writes->count;
    }
    const auto finished = [writes] {
        {
            const std::lock_guard<std::mutex> lock(writes->mutex);
            --writes->count;
        }
        writes->idle.notify_all();
    };
    // On the writer thread. The view exists until `finished` (its destructor waits for it).
    RunStore::WriteDone done = [this, runId, notes, text, finished](const std::string& error) {
        if (!error.empty()) {
            // Also on stderr: a window closed meanwhile shows no dialog.
            std::cerr << "losslab: the " << (notes ? "notes" : "tags") << " of run " << runId
                      << " were not saved: " << error << "\n";
        }
        const QString why = qs(error);
        QMetaObject::invokeMethod(this, [this, runId, notes, text, why] { onRunTextStored(runId, notes, text, why); },
                                  Qt::QueuedConnection);
        finished();
    };
    try {
        if (notes)
            m_store.setRunNotes(runId, text.toStdString(), std::move(done));
        else
            m_store.setRunTags(runId, text.toStdString(), std::move(done));
    } catch (const std::exception& e) { // not queued (a store open read-only)
        finished();
        onRunTextStored(runId, notes, text, qs(e.what()));
    }
}

void RunBrowserView::onRunTextStored(qint64 runId, bool notes, const QString& text, const QString& error) {
    if (error.isEmpty()) return; // the next read confirms it
    QHash<qint64, QString>& unconfirmed = notes ? m_unconfirmedNotes : m_unconfirmedTags;
    if (auto it = unconfirmed.find(runId); it != unconfirmed.end() && *it == text) unconfirmed.erase(it);
    const QString what = notes ? tr("notes") : tr("tags");
    emit saveFailed(tr("The %1 of run %2 were not saved").arg(what).arg(runId),
                    tr("The run database refused the %1 of run %2: %3\n\nWhat was not saved:\n%4")
                        .arg(what)
                        .arg(runId)
                        .arg(error, text));
    refresh(); // the table shows what is stored
}

void RunBrowserView::onNotesEdited(qint64 runId, const QString& notes) {
    m_unconfirmedNotes.insert(runId, notes);
    // An edit in the table's cell: show it in the pane unless the pane holds its own edit.
    if (runId == m_editorRunId && !m_notesEdit->document()->isModified()) {
        if (m_notesEdit->toPlainText() != notes) {
            m_notesEdit->setPlainText(notes);
            m_notesEdit->document()->setModified(false);
        }
    }
    storeRunText(runId, true, notes);
}

bool RunBrowserView::eventFilter(QObject* watched, QEvent* event) {
    if (watched == m_notesEdit && event->type() == QEvent::FocusOut) saveNotes();
    return QWidget::eventFilter(watched, event);
}

} // namespace losslab
