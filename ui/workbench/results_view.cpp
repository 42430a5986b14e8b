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

#include "losslab/error.h"
#include "losslab/report/paper_tables.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/task_registry.h"
#include "plots/figure_export.h"
#include "plots/paper_figures.h"
#include "report_table_model.h"
#include "view_export.h"

namespace losslab {

namespace {

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

    m_figure1 = new QCustomPlot(this);
    m_figure1->setObjectName(QStringLiteral("figure1Plot"));
    m_figure3 = new QCustomPlot(this);
    m_figure3->setObjectName(QStringLiteral("figure3Plot"));
    auto* figures = new QSplitter(Qt::Horizontal, this);
    figures->addWidget(figurePage(m_figure1, tr("Figure 1: per-seed difference (square − CE)")));
    figures->addWidget(figurePage(m_figure3, tr("Figure 3: per-seed results per loss")));
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
        try {
            apply(m_loader.result());
        } catch (const std::exception& e) {
            m_summary->setText(tr("Cannot analyse this experiment: %1").arg(QString::fromUtf8(e.what())));
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
        std::vector<ExperimentRecord> list;
        try {
            list = m_experimentLoader.result();
        } catch (const std::exception& e) {
            emit errorOccurred(QString::fromUtf8(e.what()));
        }
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

QWidget* ResultsView::figurePage(QCustomPlot* plot, const QString& what) {
    auto* page = new QWidget(this);
    plot->setParent(page);
    plot->setMinimumSize(280, 200);
    auto* title = new QLabel(QStringLiteral("<b>%1</b>").arg(what.toHtmlEscaped()), page);
    auto* exportButton = new QPushButton(tr("Export figure…"), page);
    exportButton->setObjectName(plot->objectName() + QStringLiteral("Export"));
    const QString fileName = plot == m_figure1 ? QStringLiteral("fig1-seed-differences") : QStringLiteral("fig3-seed-spread");
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
    top->addWidget(title, 1);
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
    m_experimentLoader.setFuture(QtConcurrent::run([store] { return store->experiments(); }));
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
        const QString name = m_experiment->currentText().section(QStringLiteral(" #"), 0, 0);
        request.experiments = {name.toStdString() + "#" + std::to_string(experimentId())};
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
    m_loader.setFuture(QtConcurrent::run([store, request, metas] { return loadReportData(*store, request, metas); }));
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
    m_summary->setText(text);
    drawFigures();
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
    auto* watcher = new QFutureWatcher<std::pair<ReportData, std::vector<std::string>>>(this);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, folder] {
        watcher->deleteLater();
        try {
            auto [data, written] = watcher->result();
            // Figures paint widgets: GUI thread (a few hundred ms for a whole report).
            std::vector<std::string> warnings;
            const auto figures = writeReportFigures(data.analysis, data.curves, folder.toStdString(), FigureFormats{}, warnings);
            emit reportExported(folder, static_cast<int>(written.size() + figures.size()));
        } catch (const std::exception& e) {
            emit errorOccurred(tr("Export failed: %1").arg(QString::fromUtf8(e.what())));
        }
    });
    watcher->setFuture(QtConcurrent::run([store, request, metas] {
        ReportData data = loadReportData(*store, request, metas);
        std::vector<std::string> written = writeReportTables(*store, data, request);
        return std::make_pair(std::move(data), std::move(written));
    }));
}

} // namespace losslab
