#include "compare_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <qcustomplot.h>

#include <cmath>
#include <map>
#include <utility>

#include "curve_controls.h"
#include "curve_plot.h"
#include "losslab/error.h"
#include "losslab/store/run_store.h"

namespace losslab {

CompareView::CompareView(RunStore& store, QWidget* parent) : QWidget(parent), m_store(store) {
    setObjectName(QStringLiteral("compareView"));
    m_controls = new CurveControls(this);
    m_split = new QComboBox(this);
    m_split->setObjectName(QStringLiteral("splitCombo"));
    m_split->addItem(tr("Overlay (one plot)"), int(Split::Overlay));
    m_split->addItem(tr("Panel per loss"), int(Split::ByLoss));
    m_split->addItem(tr("Panel per protocol"), int(Split::ByProtocol));
    m_split->addItem(tr("Panel per task"), int(Split::ByTask));
    m_split->addItem(tr("Panel per run"), int(Split::ByRun));
    m_linked = new QCheckBox(tr("Linked axes, same scale"), this);
    m_linked->setObjectName(QStringLiteral("linkedAxesCheck"));
    m_linked->setChecked(true);
    auto* current = new QPushButton(tr("Current experiment"), this);
    current->setObjectName(QStringLiteral("currentExperimentButton"));
    current->setToolTip(tr("Compare every run of the experiment shown in the Results tab"));
    auto* figure2 = new QPushButton(tr("Figure 2 layout"), this);
    figure2->setObjectName(QStringLiteral("figure2Button"));
    figure2->setToolTip(tr("Validation accuracy per epoch, one panel per task, mean ± std over seeds (the paper's Figure 2)"));
    m_hint = new QLabel(tr("Select runs in the Runs tab and press “Compare selected”, or press “Current experiment”."), this);
    m_hint->setWordWrap(true);

    auto* top = new QHBoxLayout;
    top->addWidget(m_split);
    top->addWidget(m_linked);
    top->addWidget(current);
    top->addWidget(figure2);
    top->addStretch(1);
    m_panelArea = new QWidget(this);
    m_grid = new QGridLayout(m_panelArea);
    m_grid->setContentsMargins(0, 0, 0, 0);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(m_controls);
    layout->addLayout(top);
    layout->addWidget(m_hint);
    layout->addWidget(m_panelArea, 1);

    connect(m_controls, &CurveControls::optionsChanged, this, [this] { rebuildPanels(); });
    connect(m_split, &QComboBox::currentIndexChanged, this, [this] { rebuildPanels(); });
    connect(m_linked, &QCheckBox::toggled, this, [this] { rebuildPanels(); });
    connect(figure2, &QPushButton::clicked, this, &CompareView::applyFigure2Layout);
    connect(current, &QPushButton::clicked, this, &CompareView::currentExperimentRequested);
    connect(&m_loader, &QFutureWatcherBase::finished, this, [this] {
        if (m_nextLoad) {
            load(std::exchange(m_nextLoad, {}));
            return;
        }
        Outcome<CurveBook> outcome = m_loader.result();
        if (!outcome.error.empty()) {
            emit errorOccurred(tr("Cannot load the runs' curves: %1").arg(QString::fromStdString(outcome.error)));
            return;
        }
        m_book = std::move(outcome.value);
        const std::vector<std::int64_t> ids = m_book.runIds();
        m_runIds = QVector<qint64>(ids.begin(), ids.end());
        rebuildPanels();
        emit loaded();
    });
}

CompareView::~CompareView() {
    // The store may go right after the view: no read may still be using it.
    m_nextLoad = {};
    for (QFutureWatcherBase* watcher : findChildren<QFutureWatcherBase*>()) watcher->waitForFinished();
    m_loader.waitForFinished();
}

void CompareView::load(std::function<Outcome<CurveBook>()> job) {
    if (m_loader.isRunning()) {
        m_nextLoad = std::move(job);
        return;
    }
    m_loader.setFuture(QtConcurrent::run(std::move(job)));
}

void CompareView::setRuns(const QVector<qint64>& runIds) {
    m_runIds = runIds;
    reload();
}

void CompareView::reload() {
    std::vector<std::int64_t> ids(m_runIds.begin(), m_runIds.end());
    RunStore* store = &m_store;
    load([store, ids] { return catching([&] { return CurveBook::load(*store, ids); }); });
}

void CompareView::setExperiment(qint64 experimentId) {
    RunStore* store = &m_store;
    load([store, experimentId] {
        return catching([&] {
            RunFilter filter;
            filter.experimentIds = {experimentId};
            std::vector<std::int64_t> ids;
            for (const RunRecord& run : store->runs(filter)) ids.push_back(run.id);
            return CurveBook::load(*store, ids);
        });
    });
}

void CompareView::setSplit(Split split) { m_split->setCurrentIndex(m_split->findData(int(split))); }

void CompareView::setLinkedAxes(bool linked) { m_linked->setChecked(linked); }

void CompareView::applyFigure2Layout() {
    CurveOptions options;
    options.metric = "val/acc";
    options.axis = CurveAxis::Epoch;
    options.smoothing = 0.0;
    options.groupByLoss = true;
    m_split->blockSignals(true);
    setSplit(Split::ByTask);
    m_split->blockSignals(false);
    m_controls->setOptions(options); // rebuilds
}

void CompareView::rebuildPanels() {
    for (CurvePlot* panel : m_panels) panel->deleteLater();
    m_panels.clear();
    const std::vector<std::int64_t> ids = m_book.runIds();
    m_hint->setVisible(ids.empty());
    if (ids.empty()) return;

    const auto split = static_cast<Split>(m_split->currentData().toInt());
    std::vector<std::string> order;
    std::map<std::string, std::vector<std::int64_t>> members;
    for (std::int64_t id : ids) {
        const RunRecord& run = m_book.find(id)->run;
        std::string key;
        switch (split) {
        case Split::Overlay: key = ""; break;
        case Split::ByLoss: key = run.lossName; break;
        case Split::ByProtocol:
            key = run.protocol == "early_stopping" ? "early stopping"
                : run.protocol == "same_epochs_as_ce" ? "same epochs as CE"
                : run.protocol == "fixed_epochs" ? "fixed epochs" : run.protocol;
            break;
        case Split::ByTask: key = run.taskId; break;
        case Split::ByRun: key = "run " + std::to_string(run.id) + " · " + run.lossName + " · seed " + std::to_string(run.seed); break;
        }
        if (!members.count(key)) order.push_back(key);
        members[key].push_back(id);
    }
    const int columns = order.size() <= 3 ? static_cast<int>(order.size()) : order.size() <= 4 ? 2 : 3;
    const CurveOptions options = m_controls->options();
    for (std::size_t i = 0; i < order.size(); ++i) {
        auto* panel = new CurvePlot(m_panelArea);
        panel->setObjectName(QStringLiteral("comparePanel%1").arg(i));
        panel->setOptions(options);
        if (!order[i].empty()) panel->setTitle(QString::fromStdString(order[i]));
        panel->draw(m_book, members[order[i]], true);
        m_grid->addWidget(panel, static_cast<int>(i) / columns, static_cast<int>(i) % columns);
        // rangeChanged fires for drags, wheel zoom and double-click fits alike.
        connect(panel->plot()->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
                [this, panel] { linkFrom(panel); });
        connect(panel->plot()->yAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this,
                [this, panel] { linkFrom(panel); });
        m_panels.push_back(panel);
    }
    unifyRanges();
}

void CompareView::unifyRanges() {
    if (!m_linked->isChecked() || m_panels.size() < 2) return;
    m_linking = true;
    QCPRange x = m_panels.front()->plot()->xAxis->range();
    QCPRange y = m_panels.front()->plot()->yAxis->range();
    for (CurvePlot* panel : m_panels) {
        x.expand(panel->plot()->xAxis->range());
        y.expand(panel->plot()->yAxis->range());
    }
    for (CurvePlot* panel : m_panels) {
        panel->plot()->xAxis->setRange(x);
        panel->plot()->yAxis->setRange(y);
        panel->plot()->replot(QCustomPlot::rpQueuedReplot);
    }
    m_linking = false;
}

void CompareView::linkFrom(CurvePlot* source) {
    if (!m_linked->isChecked() || m_linking) return;
    m_linking = true;
    for (CurvePlot* panel : m_panels) {
        if (panel == source) continue;
        panel->plot()->xAxis->setRange(source->plot()->xAxis->range());
        panel->plot()->yAxis->setRange(source->plot()->yAxis->range());
        panel->plot()->replot(QCustomPlot::rpQueuedReplot);
    }
    m_linking = false;
}

} // namespace losslab
