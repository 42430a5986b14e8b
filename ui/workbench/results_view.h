#pragma once
// ResultsView: the comparison of one stored experiment, as the report shows it and updated
// as its runs finish: the main table and the std table (the paper's layouts), the paired
// statistics and headline counts, Figure 1 (per-seed differences with error bars) and
// Figure 3 (per-seed spread per loss); when the experiment's runs come from a sweep, also the
// tuned comparison (table-tuned) and a heatmap per sweep family (mean, std or paired difference
// to CE per grid point, chosen in two combo boxes; hidden otherwise). Every table and plot
// exports; "Export report"
// writes the same files as `losslab-cli report`. Reading and analysing happen on a
// background thread; only drawing is on the GUI thread.
//
// Thread rules: GUI thread only.
#include <QFutureWatcher>
#include <QTimer>
#include <QWidget>

#include <map>
#include <string>

#include "losslab/analysis/loss_comparison.h"
#include "losslab/report/report_files.h"
#include "workbench/background_job.h"

class QComboBox;
class QCustomPlot;
class QLabel;
class QTabWidget;
class QTableView;

namespace losslab {

class ReportTableModel;
class RunStore;
class TaskRegistry;

class ResultsView : public QWidget {
    Q_OBJECT
public:
    ResultsView(RunStore& store, const TaskRegistry& tasks, QWidget* parent = nullptr);
    ~ResultsView() override; // waits for its background reads and exports (they use the store)

    // Reloads the list of experiments (keeps the selection; selects `select` when > 0).
    void reloadExperiments(qint64 select = 0);
    void setExperiment(qint64 experimentId);
    qint64 experimentId() const;
    void refresh();         // re-reads and re-analyses now (in the background)
    void scheduleRefresh(); // the same after a short pause: many runs finishing cost one refresh

    // Writes the report's tables (background) and figures into `folder`; emits
    // reportExported or errorOccurred.
    void exportReport(const QString& folder);
    // Writes the selected experiment's runs as TensorBoard event files into `folder`, as
    // `losslab-cli export` does (background); emits tensorBoardExported or errorOccurred.
    void exportTensorBoard(const QString& folder);
    // Sends the selected experiment's runs to the MLflow tracking server at `trackingUri`
    // (MLflow's credentials from the environment), as `losslab-cli export --format mlflow`
    // does (background); emits mlflowExported or errorOccurred.
    void exportMlflow(const QString& trackingUri);

    const ReportData& data() const { return m_data; }
    ReportTableModel* mainTableModel() const { return m_main; }
    ReportTableModel* stdTableModel() const { return m_std; }
    ReportTableModel* statsTableModel() const { return m_stats; }
    ReportTableModel* headlineTableModel() const { return m_headline; }
    QCustomPlot* figure1() const { return m_figure1; }
    QCustomPlot* figure3() const { return m_figure3; }
    // The sweep part: empty / hidden when the experiment has no swept runs.
    ReportTableModel* tunedTableModel() const { return m_tuned; }
    QCustomPlot* sweepHeatmap() const { return m_sweepPlot; }
    QComboBox* sweepFamilyCombo() const { return m_sweepFamily; } // one entry per family (and slice)
    QComboBox* sweepValueCombo() const { return m_sweepValue; }   // data: "mean", "std", "diff"
    bool sweepShown() const; // the tuned tab and the heatmap are visible
    // The reliability diagram of one task (plotReliability): hidden when no run of the
    // experiment has stored ECE bins (runs from before schema 7).
    QCustomPlot* reliabilityPlot() const { return m_reliabilityPlot; }
    QComboBox* reliabilityTaskCombo() const { return m_reliabilityTask; } // one entry per task
    bool reliabilityShown() const;

signals:
    void refreshed();
    void errorOccurred(const QString& message);
    void reportExported(const QString& folder, int files);
    void tensorBoardExported(const QString& folder, int runs);
    // `runs` sent (created, appended, replaced or found unchanged), `points` metric points sent.
    // `duplicates`: MLflow runs that held a run's losslab.uid beside the one kept, moved to
    // MLflow's trash (the runs of a request a proxy sent twice).
    void mlflowExported(const QString& trackingUri, int runs, qint64 points, int duplicates);
    void fileExported(const QString& path); // a table or figure written by its Export button

private:
    void apply(const ReportData& data);
    void drawFigures();
    void fillSweepFamilies();
    void drawSweepHeatmap();
    void fillReliabilityTasks();
    void drawReliability();
    QWidget* tablePage(ReportTableModel* model, const QString& objectName, const QString& fileName);
    // A titled plot with an "Export figure…" button (default file name `fileName`) and, after
    // the title, `controls`.
    QWidget* figurePage(QCustomPlot* plot, const QString& what, const QString& fileName,
                        const QList<QWidget*>& controls = {});
    ReportRequest request() const;

    RunStore& m_store;
    std::map<std::string, TaskMeta> m_metas;
    ReportData m_data;
    QFutureWatcher<Outcome<ReportData>> m_loader;
    QFutureWatcher<Outcome<std::vector<ExperimentRecord>>> m_experimentLoader;
    qint64 m_pendingSelect = 0;
    QTimer m_debounce;
    QWidget* m_reliabilityPage = nullptr;
    QCustomPlot* m_reliabilityPlot = nullptr;
    QComboBox* m_reliabilityTask = nullptr;
    QComboBox* m_experiment = nullptr;
    QComboBox* m_split = nullptr;
    QComboBox* m_protocol = nullptr;
    QLabel* m_summary = nullptr;
    QTabWidget* m_tables = nullptr;
    ReportTableModel* m_main = nullptr;
    ReportTableModel* m_std = nullptr;
    ReportTableModel* m_stats = nullptr;
    ReportTableModel* m_headline = nullptr;
    QCustomPlot* m_figure1 = nullptr;
    QCustomPlot* m_figure3 = nullptr;
    ReportTableModel* m_tuned = nullptr;
    int m_tunedTab = -1;
    QWidget* m_sweepPage = nullptr;
    QComboBox* m_sweepFamily = nullptr;
    QComboBox* m_sweepValue = nullptr;
    QCustomPlot* m_sweepPlot = nullptr;
    bool m_refreshAgain = false;
};

} // namespace losslab
