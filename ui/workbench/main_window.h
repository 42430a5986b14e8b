#pragma once
// MainWindow: composes the workbench. The experiment designer sits in a dock on the left,
// the run queue in a dock at the bottom, and the centre has tabs for live curves, the
// comparison of curves, the results (tables and Figures 1 and 3) and the run browser.
// It wires the views to the RunController and holds no view logic of its own.
//
// Thread rules: GUI thread only. The store and the task registry must outlive it.
#include <QMainWindow>

#include <functional>

class QTabWidget;
class QLabel;

namespace losslab {

class CompareView;
class ExperimentDesigner;
class LiveCurvesView;
class QueuePanel;
class ResultsView;
class RunBrowserView;
class RunController;
class RunQueueModel;
class RunStore;
class TaskRegistry;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    MainWindow(RunStore& store, const TaskRegistry& tasks, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens an experiment file into the designer; on error shows it and returns false.
    bool openExperiment(const QString& path);
    // At start: `requested` (the command line's file) when given; else the last experiment,
    // and when that is gone or no longer opens, the default preset (the status bar says why).
    bool openStartupExperiment(const QString& requested);
    void startExperiment(); // the designer's experiment, through the run queue
    // Questions ("cancel the runs and quit?") go through this; tests replace it.
    void setConfirmation(std::function<bool(const QString& question)> confirm);
    // "Save the changes?" before the edited experiment is replaced or the window closes.
    enum class UnsavedChoice { Save, Discard, Cancel };
    void setUnsavedChangesQuestion(std::function<UnsavedChoice()> ask);

    ExperimentDesigner* designer() const { return m_designer; }
    RunController* controller() const { return m_controller; }
    RunQueueModel* queueModel() const { return m_queueModel; }
    QueuePanel* queuePanel() const { return m_queue; }
    LiveCurvesView* liveCurves() const { return m_live; }
    CompareView* compareView() const { return m_compare; }
    ResultsView* resultsView() const { return m_results; }
    RunBrowserView* runBrowser() const { return m_browser; }
    QTabWidget* tabs() const { return m_tabs; }

signals:
    // Every queued experiment has finished: `summary` is the last batch's counts. The window
    // also asks for attention (the task bar entry flashes) when it is not the active one.
    void queueFinished(const QString& summary);

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildMenus();
    void connectViews();
    bool saveExperiment(bool chooseName);
    bool maybeSaveChanges();
    void updateTitle();
    void showError(const QString& title, const QString& message);

    RunStore& m_store;
    const TaskRegistry& m_tasks;
    RunController* m_controller = nullptr;
    RunQueueModel* m_queueModel = nullptr;
    ExperimentDesigner* m_designer = nullptr;
    QueuePanel* m_queue = nullptr;
    LiveCurvesView* m_live = nullptr;
    CompareView* m_compare = nullptr;
    ResultsView* m_results = nullptr;
    RunBrowserView* m_browser = nullptr;
    QTabWidget* m_tabs = nullptr;
    QLabel* m_databaseLabel = nullptr;
    QString m_experimentPath;
    QString m_lastBatchSummary;
    std::function<bool(const QString&)> m_confirm;
    std::function<UnsavedChoice()> m_askUnsaved;
};

} // namespace losslab
