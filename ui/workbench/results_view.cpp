#include "results_view.h"

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFontMetrics>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <qcustomplot.h>

#include <memory>
#include <string>
#include <utility>

#include "losslab/error.h"
#include "losslab/report/paper_tables.h"
#include "losslab/report/sweep_tables.h"
#include "losslab/report/mlflow_export.h"
#include "losslab/report/tensorboard_export.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/task_registry.h"
#include "plots/figure_export.h"
#include "plots/paper_figures.h"
#include "plots/sweep_heatmap.h"
#include "report_table_model.h"
#include "view_export.h"

namespace losslab {

namespace {

// The experiment chooser's items: the id as the item's data, the stored name under this role
// (the item's text, "name #id  (date)", cannot give it back when the name holds " #").
constexpr int kExperimentNameRole = Qt::UserRole + 1;

// The figures' metric and protocol, falling back to what the analysis has (as the report does).
bool hasComparison(const LossAnalysis& analysis, const std::string& metric, const std::string& protocol) {
    for (const SeedComparison& c : analysis.comparisons)
        if (c.metric == metric && c.square.protocol == protocol) return true;
    return false;
}

void showMessage(QCustomPlot& plot, const QString& text) {
    plot.clearPlottables();
    plot.clearItems();
    plot.plotLayout()->clear();
    auto* message = new QCPTextElement(&plot, text);
    message->setObjectName(QStringLiteral("message"));
    plot.plotLayout()->addElement(0, 0, message);
    plot.replot();
}

} // namespace

ResultsView::ResultsView(RunStore& store, const TaskRegistry& tasks, QWidget* parent)
    : QWidget(parent), m_store(store) {
    setObjectName(QStringLiteral("resultsView"));
    for (const TaskInfo& t : tasks.list()) m_metas[t.id] = {t.domain, t.numClasses, t.testSetNote};

    m_experiment = new QComboBox(this);
    m_experiment->setObjectName(QStringLiteral("experimentCombo"));
    m_experiment->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_split = new QComboBox(this);
    m_split->setObjectName(QStringLiteral("splitCombo"));
    m_split->addItem(tr("test"), QStringLiteral("test"));
    m_split->addItem(tr("validation"), QStringLiteral("val"));
    m_protocol = new QComboBox(this);
    m_protocol->setObjectName(QStringLiteral("protocolCombo"));
    m_protocol->addItem(tr("square: early stopping"), QStringLiteral("early_stopping"));
    m_protocol->addItem(tr("square: same epochs as CE"), QStringLiteral("same_epochs_as_ce"));
    m_protocol->addItem(tr("square: fixed epochs"), QStringLiteral("fixed_epochs"));
    m_protocol->setToolTip(tr("Which square-loss runs Figures 1 and 3 compare with cross-entropy"));
    auto* refreshButton = new QPushButton(tr("Refresh"), this);
    auto* exportButton = new QPushButton(tr("Export report…"), this);
    exportButton->setObjectName(QStringLiteral("exportReportButton"));
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("resultsSummary"));
    m_summary->setWordWrap(true);

    auto* top = new QHBoxLayout;
    top->addWidget(new QLabel(tr("Experiment"), this));
    top->addWidget(m_experiment, 1);
    top->addWidget(new QLabel(tr("Split"), this));
    top->addWidget(m_split);
    top->addWidget(m_protocol);
    top->addWidget(refreshButton);
    top->addWidget(exportButton);

    m_main = new ReportTableModel(this);
    m_std = new ReportTableModel(this);
    m_stats = new ReportTableModel(this);
    m_headline = new ReportTableModel(this);
    m_tables = new QTabWidget(this);
    m_tables->setObjectName(QStringLiteral("resultTables"));
    // File names as the report writes them (losslab-cli report, File > Export report).
    m_tables->addTab(tablePage(m_main, QStringLiteral("mainTable"), QStringLiteral("table-main")), tr("Main table"));
    m_tables->addTab(tablePage(m_std, QStringLiteral("stdTable"), QStringLiteral("table-std")), tr("Std over seeds"));
    m_tables->addTab(tablePage(m_stats, QStringLiteral("statsTable"), QStringLiteral("stats")), tr("Paired statistics"));
    m_tables->addTab(tablePage(m_headline, QStringLiteral("headlineTable"), QStringLiteral("headline")), tr("Headline"));
    m_tuned = new ReportTableModel(this);
    m_tunedTab = m_tables->addTab(tablePage(m_tuned, QStringLiteral("tunedTable"), QStringLiteral("table-tuned")),
                                  tr("Tuned (sweep)"));
    m_tables->setTabToolTip(m_tunedTab, tr("Each loss at its grid point chosen on validation, with the number of "
                                           "configurations it was given"));
    m_tables->setTabVisible(m_tunedTab, false);

    m_figure1 = new QCustomPlot(this);
    m_figure1->setObjectName(QStringLiteral("figure1Plot"));
    m_figure3 = new QCustomPlot(this);
    m_figure3->setObjectName(QStringLiteral("figure3Plot"));
    auto* figures = new QSplitter(Qt::Horizontal, this);
    figures->addWidget(figurePage(m_figure1, tr("Figure 1: per-seed difference (square − CE)"),
                                  QStringLiteral("fig1-seed-differences")));
    figures->addWidget(figurePage(m_figure3, tr("Figure 3: per-seed results per loss"), QStringLiteral("fig3-seed-spread")));
    {
        // The sweep heatmap: a family (and, beyond two axes, a slice) and what the cells show.
        m_sweepPage = new QWidget(this);
        m_sweepPage->setObjectName(QStringLiteral("sweepPage"));
        m_sweepPlot = new QCustomPlot(m_sweepPage);
        m_sweepPlot->setObjectName(QStringLiteral("sweepHeatmapPlot"));
        m_sweepPlot->setMinimumSize(280, 200);
        m_sweepFamily = new QComboBox(m_sweepPage);
        m_sweepFamily->setObjectName(QStringLiteral("sweepFamilyCombo"));
        m_sweepFamily->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        m_sweepFamily->setMinimumContentsLength(16);
        m_sweepValue = new QComboBox(m_sweepPage);
        m_sweepValue->setObjectName(QStringLiteral("sweepValueCombo"));
        m_sweepValue->addItem(tr("mean"), QStringLiteral("mean"));
        m_sweepValue->addItem(tr("std"), QStringLiteral("std"));
        m_sweepValue->addItem(tr("square − CE"), QStringLiteral("diff"));
        auto* exportButton = new QPushButton(tr("Export figure…"), m_sweepPage);
        exportButton->setObjectName(QStringLiteral("sweepHeatmapPlotExport"));
        connect(exportButton, &QPushButton::clicked, this, [this] {
            const QString path = askExportPath(this, tr("Export figure"), plotExportFilters(), QStringLiteral("figure-sweep"));
            if (path.isEmpty()) return;
            try {
                exportPlot(*m_sweepPlot, path);
                emit fileExported(path);
            } catch (const std::exception& e) {
                emit errorOccurred(QString::fromUtf8(e.what()));
            }
        });
        auto* top = new QHBoxLayout;
        top->addWidget(new QLabel(QStringLiteral("<b>%1</b>").arg(tr("Sweep heatmap").toHtmlEscaped()), m_sweepPage));
        top->addWidget(m_sweepFamily, 1);
        top->addWidget(m_sweepValue);
        top->addWidget(exportButton);
        auto* layout = new QVBoxLayout(m_sweepPage);
        layout->setContentsMargins(2, 2, 2, 2);
        layout->addLayout(top);
        layout->addWidget(m_sweepPlot, 1);
        figures->addWidget(m_sweepPage);
        m_sweepPage->hide();
        connect(m_sweepFamily, &QComboBox::currentIndexChanged, this, &ResultsView::drawSweepHeatmap);
        connect(m_sweepValue, &QComboBox::currentIndexChanged, this, &ResultsView::drawSweepHeatmap);
    }
    {
        m_reliabilityPlot = new QCustomPlot(this);
        m_reliabilityPlot->setObjectName(QStringLiteral("reliabilityPlot"));
        m_reliabilityTask = new QComboBox(this);
        m_reliabilityTask->setObjectName(QStringLiteral("reliabilityTaskCombo"));
        m_reliabilityTask->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        m_reliabilityTask->setMinimumContentsLength(12);
        m_reliabilityTask->setToolTip(tr("Accuracy against confidence per confidence bin at each run's reported epoch, "
                                         "examples pooled over seeds"));
        m_reliabilityPage = figurePage(m_reliabilityPlot, tr("Reliability"), QStringLiteral("fig4-reliability"),
                                       {m_reliabilityTask});
        figures->addWidget(m_reliabilityPage);
        m_reliabilityPage->hide();
        connect(m_reliabilityTask, &QComboBox::currentIndexChanged, this, &ResultsView::drawReliability);
    }
    auto* split = new QSplitter(Qt::Vertical, this);
    split->addWidget(m_tables);
    split->addWidget(figures);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 3);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(top);
    layout->addWidget(m_summary);
    layout->addWidget(split, 1);

    m_debounce.setSingleShot(true);
    m_debounce.setInterval(500);
    connect(&m_debounce, &QTimer::timeout, this, &ResultsView::refresh);
    connect(m_experiment, &QComboBox::currentIndexChanged, this, &ResultsView::refresh);
    connect(m_split, &QComboBox::currentIndexChanged, this, &ResultsView::refresh);
    connect(m_protocol, &QComboBox::currentIndexChanged, this, &ResultsView::drawFigures);
    connect(refreshButton, &QPushButton::clicked, this, [this] { reloadExperiments(); });
    connect(exportButton, &QPushButton::clicked, this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Export the report into"));
        if (!folder.isEmpty()) exportReport(folder);
    });
    connect(&m_loader, &QFutureWatcher<ReportData>::finished, this, [this] {
        const Outcome<ReportData> outcome = m_loader.result();
        if (outcome.error.empty()) {
            apply(outcome.value);
        } else {
            apply(ReportData{}); // not the last experiment's numbers under this one's name
            m_summary->setText(tr("Cannot analyse this experiment: %1").arg(QString::fromStdString(outcome.error)));
            emit errorOccurred(m_summary->text());
        }
        if (m_refreshAgain) {
            m_refreshAgain = false;
            refresh();
        } else {
            emit refreshed();
        }
    });
    connect(&m_experimentLoader, &QFutureWatcher<std::vector<ExperimentRecord>>::finished, this, [this] {
        const Outcome<std::vector<ExperimentRecord>> outcome = m_experimentLoader.result();
        const std::vector<ExperimentRecord>& list = outcome.value;
        if (!outcome.error.empty())
            emit errorOccurred(tr("Cannot list the experiments: %1").arg(QString::fromStdString(outcome.error)));
        const qint64 keep = m_pendingSelect > 0 ? m_pendingSelect : experimentId();
        m_pendingSelect = 0;
        m_experiment->blockSignals(true);
        m_experiment->clear();
        for (auto it = list.rbegin(); it != list.rend(); ++it) { // newest first
            m_experiment->addItem(QStringLiteral("%1 #%2  (%3)")
                                      .arg(QString::fromStdString(it->name))
                                      .arg(it->id)
                                      .arg(QString::fromStdString(it->createdAt)),
                                  QVariant::fromValue<qint64>(it->id));
            m_experiment->setItemData(m_experiment->count() - 1, QString::fromStdString(it->name), kExperimentNameRole);
        }
        const int index = m_experiment->findData(QVariant::fromValue<qint64>(keep));
        m_experiment->setCurrentIndex(index >= 0 ? index : 0);
        m_experiment->blockSignals(false);
        refresh();
    });
    showMessage(*m_figure1, tr("No results yet"));
    showMessage(*m_figure3, tr("No results yet"));
    reloadExperiments();
}

QWidget* ResultsView::tablePage(ReportTableModel* model, const QString& objectName, const QString& fileName) {
    auto* page = new QWidget(this);
    auto* view = new QTableView(page);
    view->setObjectName(objectName);
    view->setModel(model);
    view->setAlternatingRowColors(true);
    view->verticalHeader()->hide();
    // Columns as wide as their numbers: a stretched last column pushes its values far right.
    view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    // Long texts (a loss with its k, M and lr, the notes) wrap within a few words' width
    // instead of widening the table past the window: rows grow instead.
    const int em = QFontMetrics(view->font()).horizontalAdvance(QLatin1Char('M'));
    view->horizontalHeader()->setMaximumSectionSize(22 * em);
    view->setWordWrap(true);
    view->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    auto* exportButton = new QPushButton(tr("Export table…"), page);
    exportButton->setObjectName(objectName + QStringLiteral("Export"));
    connect(exportButton, &QPushButton::clicked, this, [this, model, fileName] {
        const QString path = askExportPath(this, tr("Export table"), tableExportFilters(), fileName);
        if (path.isEmpty()) return;
        try {
            exportTable(model->table(), model->dataTable(), path);
            emit fileExported(path);
        } catch (const std::exception& e) {
            emit errorOccurred(QString::fromUtf8(e.what()));
        }
    });
    auto* buttons = new QHBoxLayout;
    buttons->addStretch(1);
    buttons->addWidget(exportButton);
    auto* layout = new QVBoxLayout(page);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addWidget(view, 1);
    layout->addLayout(buttons);
    return page;
}

QWidget* ResultsView::figurePage(QCustomPlot* plot, const QString& what, const QString& fileName,
                                 const QList<QWidget*>& controls) {
    auto* page = new QWidget(this);
    plot->setParent(page);
    plot->setMinimumSize(280, 200);
    auto* title = new QLabel(QStringLiteral("<b>%1</b>").arg(what.toHtmlEscaped()), page);
    auto* exportButton = new QPushButton(tr("Export figure…"), page);
    exportButton->setObjectName(plot->objectName() + QStringLiteral("Export"));
    connect(exportButton, &QPushButton::clicked, this, [this, plot, fileName] {
        const QString path = askExportPath(this, tr("Export figure"), plotExportFilters(), fileName);
        if (path.isEmpty()) return;
        try {
            exportPlot(*plot, path);
            emit fileExported(path);
        } catch (const std::exception& e) {
            emit errorOccurred(QString::fromUtf8(e.what()));
        }
    });
    auto* top = new QHBoxLayout;
    top->addWidget(title, controls.isEmpty() ? 1 : 0);
    for (QWidget* control : controls) {
        control->setParent(page);
        top->addWidget(control, 1);
    }
    top->addWidget(exportButton);
    auto* layout = new QVBoxLayout(page);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->addLayout(top);
    layout->addWidget(plot, 1);
    return page;
}

ResultsView::~ResultsView() {
    // The store may go right after the view: no read may still be using it.
    for (QFutureWatcherBase* watcher : findChildren<QFutureWatcherBase*>()) watcher->waitForFinished();
    m_loader.waitForFinished();
    m_experimentLoader.waitForFinished();
}

void ResultsView::reloadExperiments(qint64 select) {
    if (select > 0) m_pendingSelect = select;
    if (m_experimentLoader.isRunning()) return; // its result applies m_pendingSelect
    const RunStore* store = &m_store;
    m_experimentLoader.setFuture(QtConcurrent::run([store] { return catching([&] { return store->experiments(); }); }));
}

void ResultsView::setExperiment(qint64 experimentId) {
    const int index = m_experiment->findData(QVariant::fromValue<qint64>(experimentId));
    if (index < 0) {
        reloadExperiments(experimentId);
    } else if (index == m_experiment->currentIndex()) {
        refresh();
    } else {
        m_experiment->setCurrentIndex(index); // refreshes
    }
}

qint64 ResultsView::experimentId() const { return m_experiment->currentData().toLongLong(); }

ReportRequest ResultsView::request() const {
    ReportRequest request;
    const int index = m_experiment->currentIndex();
    if (index >= 0) {
        const std::string name = m_experiment->itemData(index, kExperimentNameRole).toString().toStdString();
        // NAME#ID; when another experiment is named exactly that, "NAME#0ID", which reads as the
        // same instance and no name (selectExperiments would call the value ambiguous).
        std::string digits = std::to_string(experimentId());
        const auto storedAs = [&](const std::string& value) {
            for (int i = 0; i < m_experiment->count(); ++i)
                if (m_experiment->itemData(i, kExperimentNameRole).toString().toStdString() == value) return true;
            return false;
        };
        while (storedAs(name + "#" + digits)) digits.insert(0, "0");
        request.experiments = {name + "#" + digits};
    }
    request.split = m_split->currentData().toString().toStdString();
    return request;
}

void ResultsView::scheduleRefresh() { m_debounce.start(); }

void ResultsView::refresh() {
    if (m_experiment->currentIndex() < 0) {
        m_summary->setText(tr("No experiment in the database yet: design one and press Run."));
        emit refreshed();
        return;
    }
    if (m_loader.isRunning()) {
        m_refreshAgain = true;
        return;
    }
    const RunStore* store = &m_store;
    const ReportRequest request = this->request();
    const auto metas = m_metas;
    m_loader.setFuture(QtConcurrent::run([store, request, metas] { return catching([&] { return loadReportData(*store, request, metas); }); }));
}

void ResultsView::apply(const ReportData& data) {
    m_data = data;
    const auto show = [](ReportTableModel& model, const PaperTable& table) { model.setTable(table.display, table.data); };
    show(*m_main, mainTable(data.analysis, data.options));
    show(*m_std, stdTable(data.analysis));
    show(*m_stats, statsTable(data.analysis));
    show(*m_headline, headlineTable(data.analysis));
    int completed = 0;
    for (const RunResult& r : data.runs) completed += r.run.status == RunStatus::Completed ? 1 : 0;
    QString text = tr("%1 runs, %2 completed.").arg(data.runs.size()).arg(completed);
    for (const std::string& note : data.analysis.notes) text += QLatin1Char(' ') + QString::fromStdString(note);
    const bool sweeps = !data.sweeps.empty();
    if (sweeps) {
        show(*m_tuned, tunedTable(data.sweeps));
        const int families = static_cast<int>(data.sweeps.families.size());
        text += QLatin1Char(' ') + tr("Sweep: heatmaps of %1 of grid points; the tuned comparison chooses on validation.")
                                       .arg(families == 1 ? tr("1 family") : tr("%1 families").arg(families));
    } else {
        m_tuned->setTable({}, {});
    }
    m_tables->setTabVisible(m_tunedTab, sweeps);
    m_sweepPage->setVisible(sweeps);
    m_reliabilityPage->setVisible(!data.reliability.empty());
    m_summary->setText(text);
    drawFigures();
    fillSweepFamilies();
    fillReliabilityTasks();
}

bool ResultsView::reliabilityShown() const { return !m_reliabilityPage->isHidden(); }

void ResultsView::fillReliabilityTasks() {
    // Keeps the chosen task across refreshes when it is still there.
    const QString keep = m_reliabilityTask->currentText();
    m_reliabilityTask->blockSignals(true);
    m_reliabilityTask->clear();
    for (const ReliabilityGroup& group : m_data.reliability) {
        const QString task = QString::fromStdString(group.key.taskId);
        if (m_reliabilityTask->findText(task) < 0) m_reliabilityTask->addItem(task);
    }
    const int index = m_reliabilityTask->findText(keep);
    m_reliabilityTask->setCurrentIndex(index >= 0 ? index : 0);
    m_reliabilityTask->blockSignals(false);
    drawReliability();
}

void ResultsView::drawReliability() {
    const std::string task = m_reliabilityTask->currentText().toStdString();
    std::vector<ReliabilityGroup> groups;
    for (const ReliabilityGroup& group : m_data.reliability)
        if (group.key.taskId == task) groups.push_back(group);
    if (groups.empty()) {
        showMessage(*m_reliabilityPlot, tr("No completed run with calibration bins yet"));
        return;
    }
    plotReliability(*m_reliabilityPlot, groups);
    m_reliabilityPlot->replot();
}

bool ResultsView::sweepShown() const { return m_tables->isTabVisible(m_tunedTab) && !m_sweepPage->isHidden(); }

void ResultsView::fillSweepFamilies() {
    // Keeps the chosen family across refreshes (runs finishing) when it is still there.
    const QString keep = m_sweepFamily->currentText();
    m_sweepFamily->blockSignals(true);
    m_sweepFamily->clear();
    const auto& families = m_data.sweeps.families;
    for (std::size_t f = 0; f < families.size(); ++f) {
        const auto slices = sweepSlices(families[f]);
        for (std::size_t i = 0; i < slices.size(); ++i) {
            const std::string slice = sweepSliceLabel(families[f], slices[i]);
            QString label = QString::fromStdString(families[f].taskLabel() + ": " + families[f].label());
            if (!slice.empty()) label += QStringLiteral(" (%1)").arg(QString::fromStdString(slice));
            m_sweepFamily->addItem(label, QVariantList{static_cast<int>(f), static_cast<int>(i)});
        }
    }
    const int index = m_sweepFamily->findText(keep);
    m_sweepFamily->setCurrentIndex(index >= 0 ? index : 0);
    m_sweepFamily->blockSignals(false);
    drawSweepHeatmap();
}

void ResultsView::drawSweepHeatmap() {
    const auto& families = m_data.sweeps.families;
    const QVariantList at = m_sweepFamily->currentData().toList();
    if (at.size() != 2 || at[0].toInt() < 0 || at[0].toInt() >= static_cast<int>(families.size())) {
        showMessage(*m_sweepPlot, tr("No sweep in this experiment"));
        return;
    }
    const SweepFamily& family = families[static_cast<std::size_t>(at[0].toInt())];
    const auto slices = sweepSlices(family);
    const auto& fixed = slices[std::min<std::size_t>(static_cast<std::size_t>(std::max(0, at[1].toInt())), slices.size() - 1)];
    const QString name = m_sweepValue->currentData().toString();
    const SweepValue value = name == QStringLiteral("std") ? SweepValue::Std
                             : name == QStringLiteral("diff") ? SweepValue::Diff
                                                               : SweepValue::Mean;
    if (!sweepHasValue(family, value)) {
        showMessage(*m_sweepPlot, tr("Cross-entropy has no difference to itself: choose a square-loss family"));
        return;
    }
    if (sweepGrid(m_data.sweeps, family, value, fixed).filled() == 0) {
        showMessage(*m_sweepPlot, value == SweepValue::Diff ? tr("No grid point paired with cross-entropy yet")
                                  : value == SweepValue::Std ? tr("No grid point has two completed seeds yet")
                                                             : tr("No grid point has a completed run yet"));
        return;
    }
    plotSweepHeatmap(*m_sweepPlot, m_data.sweeps, family, value, fixed);
    m_sweepPlot->replot();
}

void ResultsView::drawFigures() {
    const LossAnalysis& analysis = m_data.analysis;
    // The first headline metric: accuracy, or a speech task's error rate (WER, PER, CER).
    const std::string metric = headlineMetrics(analysis, m_data.options).front();
    const std::string protocol = m_protocol->currentData().toString().toStdString();
    if (!hasComparison(analysis, metric, protocol)) {
        const QString why = analysis.comparisons.empty()
                                ? tr("Nothing to compare yet: each figure needs completed runs of both losses with the same seeds.")
                                : tr("No square-loss runs with this protocol to compare.");
        showMessage(*m_figure1, why);
        showMessage(*m_figure3, why);
        return;
    }
    plotSeedDifferences(*m_figure1, analysis, metric, protocol);
    plotSeedSpread(*m_figure3, analysis, metric, protocol);
    m_figure1->replot();
    m_figure3->replot();
}

void ResultsView::exportReport(const QString& folder) {
    ReportRequest request = this->request();
    request.outDir = folder.toStdString();
    const RunStore* store = &m_store;
    const auto metas = m_metas;
    auto* watcher = new QFutureWatcher<Outcome<std::pair<ReportData, std::vector<std::string>>>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, folder] {
        watcher->deleteLater();
        auto outcome = watcher->result();
        if (!outcome.error.empty()) {
            emit errorOccurred(tr("Export failed: %1").arg(QString::fromStdString(outcome.error)));
            return;
        }
        try {
            auto& [data, written] = outcome.value;
            // Figures paint widgets: GUI thread (a few hundred ms for a whole report).
            std::vector<std::string> warnings;
            const auto figures = writeReportFigures(data.analysis, data.curves, folder.toStdString(), FigureFormats{}, warnings);
            const auto heatmaps = writeSweepFigures(data.sweeps, folder.toStdString(), FigureFormats{}, warnings);
            const auto reliability = writeReliabilityFigures(data.reliability, folder.toStdString(), FigureFormats{});
            emit reportExported(folder, static_cast<int>(written.size() + figures.size() + heatmaps.size() + reliability.size()));
        } catch (const std::exception& e) {
            emit errorOccurred(tr("Export failed: %1").arg(QString::fromUtf8(e.what())));
        }
    });
    watcher->setFuture(QtConcurrent::run([store, request, metas] {
        return catching([&] {
            ReportData data = loadReportData(*store, request, metas);
            std::vector<std::string> written = writeReportTables(*store, data, request);
            return std::make_pair(std::move(data), std::move(written));
        });
    }));
}

void ResultsView::exportTensorBoard(const QString& folder) {
    TensorBoardExportRequest request;
    request.experiments = this->request().experiments;
    request.outDir = folder.toStdString();
    const RunStore* store = &m_store;
    auto* watcher = new QFutureWatcher<Outcome<TensorBoardExportResult>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, folder] {
        watcher->deleteLater();
        const auto outcome = watcher->result();
        if (!outcome.error.empty()) emit errorOccurred(tr("Export failed: %1").arg(QString::fromStdString(outcome.error)));
        else emit tensorBoardExported(folder, outcome.value.runs);
    });
    watcher->setFuture(QtConcurrent::run([store, request] { return catching([&] { return losslab::exportTensorBoard(*store, request); }); }));
}

void ResultsView::exportMlflow(const QString& trackingUri) {
    MlflowExportRequest request;
    request.experiments = this->request().experiments;
    const mlflow::ServerOptions server = mlflow::serverOptionsFromEnvironment(trackingUri.trimmed().toStdString());
    const RunStore* store = &m_store;
    auto* watcher = new QFutureWatcher<Outcome<MlflowExportResult>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, trackingUri] {
        watcher->deleteLater();
        const auto outcome = watcher->result();
        const MlflowExportResult& result = outcome.value;
        if (!outcome.error.empty())
            emit errorOccurred(tr("Sending to MLflow failed: %1").arg(QString::fromStdString(outcome.error)));
        else
            emit mlflowExported(trackingUri.trimmed(), result.created + result.appended + result.unchanged + result.replaced,
                                static_cast<qint64>(result.points), result.duplicates);
    });
    watcher->setFuture(QtConcurrent::run([store, request, server] {
        return catching([&] {
            const std::unique_ptr<mlflow::Connection> connection = mlflow::connectHttp(server);
            return losslab::exportMlflow(*store, request, *connection);
        });
    }));
}

} // namespace losslab
