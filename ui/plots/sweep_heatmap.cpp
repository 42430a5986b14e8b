#include "sweep_heatmap.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <qcustomplot.h>

#include "paper_figures.h"

namespace losslab {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kCellPoints = 7; // as the tick labels of applyColumnStyle()

QString toQ(const std::string& text) { return QString::fromStdString(text); }

QString protocolText(const std::string& protocol) {
    if (protocol == "early_stopping") return QStringLiteral("early stopping");
    if (protocol == "same_epochs_as_ce") return QStringLiteral("same epochs as CE");
    if (protocol == "fixed_epochs") return QStringLiteral("fixed epochs");
    return toQ(protocol);
}

// Viridis at five stops: ordered in lightness, readable in greyscale and for colour-blind readers.
QCPColorGradient sequentialGradient() {
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.0, QColor(0x44, 0x01, 0x54));
    g.setColorStopAt(0.25, QColor(0x3B, 0x52, 0x8B));
    g.setColorStopAt(0.5, QColor(0x21, 0x90, 0x8D));
    g.setColorStopAt(0.75, QColor(0x5D, 0xC9, 0x63));
    g.setColorStopAt(1.0, QColor(0xFD, 0xE7, 0x25));
    return g;
}

// ColorBrewer RdBu: red where cross-entropy is better, white at 0, blue where square is better.
QCPColorGradient divergingGradient() {
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.0, QColor(0xB2, 0x18, 0x2B));
    g.setColorStopAt(0.25, QColor(0xEF, 0x8A, 0x62));
    g.setColorStopAt(0.5, QColor(0xF7, 0xF7, 0xF7));
    g.setColorStopAt(0.75, QColor(0x67, 0xA9, 0xCF));
    g.setColorStopAt(1.0, QColor(0x21, 0x66, 0xAC));
    return g;
}

const QColor kEmptyCell(0xE0, 0xE0, 0xE0);

QString cellText(double v, SweepValue value, bool percent) {
    if (!std::isfinite(v)) return QStringLiteral("–");
    QString text = percent ? QString::number(v, 'f', 2) : QString::number(v, 'g', 4);
    if (value == SweepValue::Diff && v > 0) text.prepend(QLatin1Char('+'));
    return text;
}

} // namespace

const char* sweepValueName(SweepValue value) {
    switch (value) {
    case SweepValue::Mean: return "mean";
    case SweepValue::Std: return "std";
    case SweepValue::Diff: return "diff";
    }
    return "mean";
}

bool sweepHasValue(const SweepFamily& family, SweepValue value) { return value != SweepValue::Diff || family.loss == "square"; }

std::vector<std::vector<std::string>> sweepSlices(const SweepFamily& family) {
    std::vector<std::vector<std::string>> out = {{}};
    for (std::size_t a = 2; a < family.axisValues.size(); ++a) {
        std::vector<std::vector<std::string>> next;
        for (const auto& prefix : out)
            for (const auto& v : family.axisValues[a]) {
                auto combo = prefix;
                combo.push_back(v);
                next.push_back(combo);
            }
        out = next;
    }
    return out;
}

std::string sweepSliceLabel(const SweepFamily& family, const std::vector<std::string>& fixed) {
    std::string out;
    for (std::size_t i = 0; i < fixed.size() && i + 2 < family.axes.size(); ++i)
        out += (out.empty() ? "" : ", ") + sweepAxisName(family.axes[i + 2]) + "=" + fixed[i];
    return out;
}

int SweepGrid::filled() const {
    int n = 0;
    for (const auto& row : values)
        for (const double v : row) n += std::isfinite(v) ? 1 : 0;
    return n;
}

SweepGrid sweepGrid(const SweepAnalysis& sweeps, const SweepFamily& family, SweepValue value,
                    const std::vector<std::string>& fixed) {
    SweepGrid grid;
    if (family.axes.empty()) return grid;
    grid.columnAxis = family.axes[0];
    grid.columns = family.axisValues[0];
    if (family.axes.size() > 1) {
        grid.rowAxis = family.axes[1];
        grid.rows = family.axisValues[1];
    } else {
        grid.rows = {std::string()};
    }
    const double scale = isPercentMetric(sweeps.metric) ? 100.0 : 1.0;
    grid.values.assign(grid.rows.size(), std::vector<double>(grid.columns.size(), kNaN));
    for (std::size_t r = 0; r < grid.rows.size(); ++r)
        for (std::size_t c = 0; c < grid.columns.size(); ++c) {
            std::vector<std::string> values = {grid.columns[c]};
            if (family.axes.size() > 1) values.push_back(grid.rows[r]);
            values.insert(values.end(), fixed.begin(), fixed.end());
            const SweepPoint* p = family.find(values);
            if (!p) continue;
            double v = kNaN;
            if (value == SweepValue::Mean && p->test.n > 0) v = p->test.mean;
            if (value == SweepValue::Std && p->test.n > 1) v = p->test.std;
            if (value == SweepValue::Diff && p->paired && p->diff.n > 0) v = p->diff.mean;
            grid.values[r][c] = std::isfinite(v) ? scale * v : kNaN;
        }
    return grid;
}

void plotSweepHeatmap(QCustomPlot& plot, const SweepAnalysis& sweeps, const SweepFamily& family, SweepValue value,
                      const std::vector<std::string>& fixed) {
    plot.clearPlottables();
    plot.clearItems();
    for (QCPMarginGroup* group : plot.findChildren<QCPMarginGroup*>(QString(), Qt::FindDirectChildrenOnly)) delete group;
    plot.plotLayout()->clear();
    plot.plotLayout()->simplify();

    const bool percent = isPercentMetric(sweeps.metric);
    const QString metric = toQ(metricDisplayName(sweeps.metric));
    const QString unit = percent ? (value == SweepValue::Mean ? QStringLiteral(" (%)") : QStringLiteral(" (pp)")) : QString();
    QString what;
    switch (value) {
    case SweepValue::Mean: what = QStringLiteral("mean %1%2 over seeds").arg(metric, unit); break;
    case SweepValue::Std: what = QStringLiteral("std of %1%2 over seeds").arg(metric, unit); break;
    case SweepValue::Diff: what = QStringLiteral("square − CE by seed, %1%2").arg(metric, unit); break;
    }
    QString heading = QStringLiteral("%1: %2, %3").arg(toQ(family.taskLabel()), toQ(family.lossName), protocolText(family.protocol));
    const std::string slice = sweepSliceLabel(family, fixed);
    if (!slice.empty()) heading += QStringLiteral(" (%1)").arg(toQ(slice));
    auto* title = new QCPTextElement(&plot, heading + QLatin1Char('\n') + what);
    title->setObjectName(QStringLiteral("title"));
    plot.plotLayout()->addElement(0, 0, title);
    plot.plotLayout()->setRowStretchFactor(0, 0.001);

    // The map and its colour scale share a row of their own, so that a title wider than the
    // map never squeezes the scale.
    auto* body = new QCPLayoutGrid;
    plot.plotLayout()->addElement(1, 0, body);
    plot.plotLayout()->setRowStretchFactor(1, 1.0);
    auto* rect = new QCPAxisRect(&plot, true);
    body->addElement(0, 0, rect);
    plot.xAxis = rect->axis(QCPAxis::atBottom);
    plot.yAxis = rect->axis(QCPAxis::atLeft);
    plot.xAxis2 = rect->axis(QCPAxis::atTop);
    plot.yAxis2 = rect->axis(QCPAxis::atRight);

    const SweepGrid grid = sweepGrid(sweeps, family, value, fixed);
    const int nc = std::max<int>(1, static_cast<int>(grid.columns.size()));
    const int nr = std::max<int>(1, static_cast<int>(grid.rows.size()));

    auto* map = new QCPColorMap(plot.xAxis, plot.yAxis);
    map->setObjectName(QStringLiteral("heatmap"));
    map->setName(what);
    map->setInterpolate(false);
    map->setTightBoundary(false);
    // QCPColorMap sizes its cells by the distance between cell centres: a single column or row
    // (a sweep of one axis, or an axis of one value) has none and was drawn 0 wide or high, so
    // the cells showed no colour and white numbers vanished. Such a dimension holds two equal
    // cells centred at -0.5 and 0.5, which the axis range (-0.5 to 0.5) shows as one.
    const int keyCells = nc == 1 ? 2 : nc;
    const int valueCells = nr == 1 ? 2 : nr;
    map->data()->setSize(keyCells, valueCells);
    map->data()->setRange(nc == 1 ? QCPRange(-0.5, 0.5) : QCPRange(0, nc - 1), nr == 1 ? QCPRange(-0.5, 0.5) : QCPRange(0, nr - 1));
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int r = 0; r < nr; ++r)
        for (int c = 0; c < nc; ++c) {
            const double v = r < static_cast<int>(grid.values.size()) && c < static_cast<int>(grid.values[r].size())
                                 ? grid.values[r][c] : kNaN;
            for (int kc = c; kc < (nc == 1 ? keyCells : c + 1); ++kc)
                for (int vc = r; vc < (nr == 1 ? valueCells : r + 1); ++vc) map->data()->setCell(kc, vc, v);
            if (std::isfinite(v)) {
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
        }
    QCPRange range;
    QCPColorGradient gradient = value == SweepValue::Diff ? divergingGradient() : sequentialGradient();
    if (value == SweepValue::Diff) {
        double m = std::isfinite(lo) ? std::max(std::abs(lo), std::abs(hi)) : 1.0;
        if (m == 0.0) m = 1.0;
        range = QCPRange(-m, m);
    } else if (!std::isfinite(lo)) {
        range = QCPRange(0.0, 1.0);
    } else {
        const double pad = hi > lo ? 0.0 : std::max(0.5, std::abs(lo) * 0.01);
        range = QCPRange(lo - pad, hi + pad);
    }
    gradient.setNanHandling(QCPColorGradient::nhNanColor);
    gradient.setNanColor(kEmptyCell);
    map->setGradient(gradient);
    map->setDataRange(range);

    auto* scale = new QCPColorScale(&plot);
    scale->setObjectName(QStringLiteral("colour scale"));
    body->addElement(0, 1, scale);
    body->setColumnStretchFactor(1, 0.001);
    scale->setType(QCPAxis::atRight);
    scale->setBarWidth(8);
    scale->setGradient(gradient);
    scale->setDataRange(range);
    scale->setLabel(value == SweepValue::Diff ? QStringLiteral("> 0: square better") + unit
                    : value == SweepValue::Std ? QStringLiteral("std") + unit
                                               : QStringLiteral("mean") + unit);
    map->setColorScale(scale);
    map->setDataRange(range); // setColorScale takes the scale's range; keep ours
    auto* group = new QCPMarginGroup(&plot);
    rect->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);

    // Ticks at the cells, named by their values.
    auto columnTicks = QSharedPointer<QCPAxisTickerText>::create();
    for (int c = 0; c < static_cast<int>(grid.columns.size()); ++c) columnTicks->addTick(c, toQ(grid.columns[c]));
    plot.xAxis->setTicker(columnTicks);
    plot.xAxis->setLabel(toQ(sweepAxisName(grid.columnAxis)));
    plot.xAxis->setRange(-0.5, nc - 0.5);
    plot.xAxis->grid()->setVisible(false);
    auto rowTicks = QSharedPointer<QCPAxisTickerText>::create();
    for (int r = 0; r < static_cast<int>(grid.rows.size()); ++r) rowTicks->addTick(r, toQ(grid.rows[r]));
    plot.yAxis->setTicker(rowTicks);
    plot.yAxis->setLabel(grid.rowAxis.empty() ? QString() : toQ(sweepAxisName(grid.rowAxis)));
    plot.yAxis->setTickLabels(!grid.rowAxis.empty());
    plot.yAxis->setRange(-0.5, nr - 0.5);
    plot.yAxis->grid()->setVisible(false);

    // Each cell's number, dark on light cells and light on dark ones.
    for (int r = 0; r < nr; ++r)
        for (int c = 0; c < nc; ++c) {
            const double v = map->data()->cell(c, r);
            auto* text = new QCPItemText(&plot);
            text->setObjectName(QStringLiteral("cell/%1/%2").arg(c).arg(r));
            text->setClipAxisRect(rect);
            text->position->setAxes(plot.xAxis, plot.yAxis);
            text->position->setType(QCPItemPosition::ptPlotCoords);
            text->position->setCoords(c, r);
            text->setPositionAlignment(Qt::AlignCenter);
            text->setText(cellText(v, value, percent));
            const QColor fill = std::isfinite(v) ? gradient.color(v, range) : kEmptyCell;
            const double luminance = 0.2126 * fill.redF() + 0.7152 * fill.greenF() + 0.0722 * fill.blueF();
            text->setColor(luminance < 0.5 ? Qt::white : Qt::black);
        }
}

void applyHeatmapStyle(QCustomPlot& plot) {
    QFont font = plot.font();
    font.setFamily(QStringLiteral("sans-serif"));
    font.setStyleHint(QFont::SansSerif);
    font.setPixelSize(kCellPoints);
    QFont label = font;
    label.setPixelSize(kCellPoints + 1);
    for (QCPLayoutElement* element : plot.plotLayout()->elements(true)) {
        if (auto* scale = qobject_cast<QCPColorScale*>(element)) {
            scale->axis()->setTickLabelFont(font);
            scale->axis()->setLabelFont(label);
            scale->axis()->setBasePen(QPen(Qt::black, 0.6));
            scale->axis()->setTickPen(QPen(Qt::black, 0.6));
            scale->axis()->setSubTicks(false);
            scale->axis()->setTickLength(0, 3);
            scale->axis()->setTickLabelPadding(2);
            scale->axis()->setLabelPadding(2);
            scale->setBarWidth(6);
        } else if (auto* title = qobject_cast<QCPTextElement*>(element)) {
            title->setFont(label);
            title->setMargins(QMargins(2, 2, 2, 0));
        }
    }
    for (int i = 0; i < plot.itemCount(); ++i)
        if (auto* text = qobject_cast<QCPItemText*>(plot.item(i))) text->setFont(font);
}

} // namespace losslab
