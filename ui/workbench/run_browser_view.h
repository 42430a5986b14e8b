#pragma once
// RunBrowserView: every run in the database, across experiments. Filters (experiment, task,
// loss, protocol, status, tag, free text), sorting by any column, an extra metric column
// (any split/metric at the reported epoch), tags and notes editing, deletion (asks first),
// and the hand-off of selected runs to the compare and resume actions.
//
// Thread rules: a widget; call it from the GUI thread only. Reads and deletions run on a
// private one-thread pool (one at a time, in the order asked), so the GUI thread never waits
// on SQLite; results come back through queued signals. Tag and note edits are queued on the
// store's writer (RunStore::setRunTags / setRunNotes return at once); one that fails comes
// back as saveFailed(), with the text that was not saved. `store` must outlive the view; the
// destructor waits for a read, deletion, tag or note write still in progress.
#include <QHash>
#include <QPointer>
#include <QString>
#include <QThreadPool>
#include <QVector>
#include <QWidget>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

namespace losslab {

class RunStore;
class RunRecipeCache;
class RunTableModel;
class RunFilterProxy;
}

class QComboBox;
class QFrame;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QTableView;
class QStringListModel;

namespace losslab {

class RunBrowserView : public QWidget {
    Q_OBJECT
public:
    explicit RunBrowserView(RunStore& store, QWidget* parent = nullptr);
    ~RunBrowserView() override;

    // Reloads every run and its reported metrics in the background; the table keeps its
    // selection, current run and sort where the runs still exist. Emits refreshed() once a
    // read started after the last call is applied; errorOccurred() if the read fails. One
    // read at a time: calls while one is on its way ask for one more read after it, however
    // many they are (runs that start and end faster than a large database is read cost one
    // read after another, never a growing backlog).
    void refresh();

    // Selected runs in the order the table shows them.
    QVector<qint64> selectedRunIds() const;
    // Selects these runs (those shown; others are ignored) and makes the first one current.
    void selectRuns(const QVector<qint64>& runIds);
    // Runs whose status is `interrupted` as of the last refresh (what the banner offers).
    QVector<qint64> interruptedRunIds() const;

    // Asked before deleting; returns true to go ahead. Default: QMessageBox::question.
    void setConfirmation(std::function<bool(const QString& question)> confirm);

    // The extra column's metric, "split/metric" ("test/ece"); "" for none.
    void setExtraMetric(const QString& key);
    QString extraMetric() const;

    RunTableModel* model();
    RunFilterProxy* proxy();
    int readCount() const { return m_reads; } // background reads of every run so far (tests)

public slots:
    void compareSelected();       // emits compareRequested for the selection (if any)
    void diffSelected();          // two runs selected: a window listing the settings they differ in
    void resumeSelected();        // emits resumeRequested for selected interrupted / cancelled runs
    void deleteSelected();        // asks, then deletes in the background
    void resumeInterrupted();     // emits resumeRequested for every interrupted run

signals:
    void compareRequested(const QVector<qint64>& runIds);
    void resumeRequested(const QVector<qint64>& runIds);
    void runsDeleted(const QVector<qint64>& runIds);
    void refreshed();
    void errorOccurred(const QString& message);
    // A tag or note edit the database refused: for a dialog, since the text is not stored
    // (`message` quotes it); the table goes back to what is stored.
    void saveFailed(const QString& title, const QString& message);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    struct Snapshot;

    void buildUi();
    void applySnapshot(Snapshot snapshot); // emits refreshed() unless another read follows
    void restoreSelection(const QVector<qint64>& selected, qint64 current);
    void refillFilterCombos();
    void refillExtraMetricCombo();
    void updateBanner();
    void updateActions();
    void onCurrentRowChanged();
    void loadEditorFor(qint64 runId);
    void saveNotes();
    void saveTags();
    void onTagsEdited(qint64 runId, const QString& tags);
    void onNotesEdited(qint64 runId, const QString& notes);
    // Queues the write of a run's tags or notes; its outcome comes back to onRunTextStored.
    void storeRunText(qint64 runId, bool notes, const QString& text);
    void onRunTextStored(qint64 runId, bool notes, const QString& text, const QString& error);
    void showContextMenu(const QPoint& position);
    qint64 currentRunId() const;
    QVector<qint64> resumableSelectedIds() const;

    RunStore& m_store;
    RunTableModel* m_model = nullptr;
    RunFilterProxy* m_proxy = nullptr;
    std::function<bool(const QString&)> m_confirm;
    QThreadPool m_pool;
    // Recipes of the runs read so far: a refresh parses only new runs' YAML (background reads).
    std::shared_ptr<RunRecipeCache> m_recipeCache;

    // Background reads: one at a time; m_readAgain asks for another once it is done.
    bool m_reading = false;
    bool m_readAgain = false;
    int m_reads = 0;
    // Tag / note edits not yet seen in a read (the writer commits them later): laid over
    // each read's result until a read shows them.
    QHash<qint64, QString> m_unconfirmedTags;
    QHash<qint64, QString> m_unconfirmedNotes;
    // Tag and note writes the store's writer has not answered yet (the destructor waits).
    struct PendingWrites {
        std::mutex mutex;
        std::condition_variable idle;
        int count = 0;
    };
    std::shared_ptr<PendingWrites> m_writes = std::make_shared<PendingWrites>();
    bool m_deleting = false;
    bool m_columnsSized = false;

    // Reported metrics per "split/metric", per run id.
    QHash<QString, QHash<qint64, double>> m_reported;
    QString m_extraKey = QStringLiteral("test/ece");
    QVector<qint64> m_interrupted;
    QVector<qint64> m_dismissedInterrupted;

    qint64 m_editorRunId = -1;

    QFrame* m_banner = nullptr;
    QLabel* m_bannerLabel = nullptr;
    QComboBox* m_experimentCombo = nullptr;
    QComboBox* m_taskCombo = nullptr;
    QComboBox* m_lossCombo = nullptr;
    QComboBox* m_protocolCombo = nullptr;
    QComboBox* m_statusCombo = nullptr;
    QLineEdit* m_tagFilterEdit = nullptr;
    QLineEdit* m_searchEdit = nullptr;
    QComboBox* m_extraMetricCombo = nullptr;
    QTableView* m_table = nullptr;
    QLabel* m_countLabel = nullptr;
    QPushButton* m_compareButton = nullptr;
    QPushButton* m_diffButton = nullptr;
    QPushButton* m_resumeButton = nullptr;
    QPushButton* m_deleteButton = nullptr;
    QPushButton* m_refreshButton = nullptr;
    QLabel* m_runLabel = nullptr;
    QLabel* m_errorLabel = nullptr;
    QPlainTextEdit* m_settingsView = nullptr; // the selected run's settings, read-only
    QLineEdit* m_tagsEdit = nullptr;
    QPlainTextEdit* m_notesEdit = nullptr;
    QPushButton* m_saveNotesButton = nullptr;
    QStringListModel* m_tagCompletions = nullptr;
};

} // namespace losslab
