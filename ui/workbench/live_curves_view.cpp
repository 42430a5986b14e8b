#include "live_curves_view.h"

#include <QHBoxLayout>
#include <QPushButton>
#include <QVBoxLayout>

#include "curve_controls.h"
#include "curve_plot.h"

namespace losslab {

LiveCurvesView::LiveCurvesView(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("liveCurvesView"));
    m_controls = new CurveControls(this);
    m_plot = new CurvePlot(this);
    m_plot->setObjectName(QStringLiteral("liveCurvePlot"));
    auto* clearButton = new QPushButton(tr("Clear"), this);
    clearButton->setToolTip(tr("Forget the curves shown here (the runs stay in the database)"));
    auto* top = new QHBoxLayout;
    top->addWidget(m_controls, 1);
    top->addWidget(clearButton);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(top);
    layout->addWidget(m_plot, 1);
    m_plot->setOptions(m_controls->options());
    connect(m_controls, &CurveControls::optionsChanged, m_plot, &CurvePlot::setOptions);
    connect(clearButton, &QPushButton::clicked, this, &LiveCurvesView::clear);
}

void LiveCurvesView::addRuns(const std::vector<RunRecord>& runs) {
    for (const RunRecord& run : runs) m_book.addRun(run);
    redraw();
}

void LiveCurvesView::applyEvents(const std::vector<RunEvent>& events) {
    for (const RunEvent& event : events) m_book.apply(event);
    redraw();
}

void LiveCurvesView::removeRuns(const std::vector<std::int64_t>& runIds) {
    const std::uint64_t before = m_book.revision();
    for (std::int64_t id : runIds) m_book.remove(id);
    if (m_book.revision() != before) redraw();
}

void LiveCurvesView::clear() {
    m_book.clear();
    redraw();
}

void LiveCurvesView::redraw() {
    m_plot->draw(m_book, m_book.runIds());
}

} // namespace losslab
