#include "curve_plot.h"

#include <QToolTip>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <cmath>
#include <functional>
#include <limits>
#include <set>

namespace losslab {

namespace {

Qt::PenStyle styleFor(const std::string& protocol) {
    if (protocol == "same_epochs_as_ce") return Qt::DashLine;
    if (protocol == "fixed_epochs") return Qt::DotLine;
    return Qt::SolidLine;
}

QVector<QCPGraphData> points(const std::vector<double>& x, const std::vector<double>& y) {
    QVector<QCPGraphData> data;
    data.reserve(static_cast<int>(x.size()));
    for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) data.append(QCPGraphData(x[i], y[i]));
    return data;
}

// x must be sorted for QCustomPlot's fast path; live curves always are, a merged group
// could in principle not be (mean x of runs with different paces).
bool sorted(const std::vector<double>& x) {
    for (std::size_t i = 1; i < x.size(); ++i)
        if (x[i] < x[i - 1]) return false;
    return true;
}

} // namespace

QColor CurvePlot::colorFor(const std::string& loss, const std::string& lossName) {
    static const QColor ce[] = {QColor(31, 119, 180), QColor(23, 160, 190), QColor(70, 90, 200), QColor(60, 150, 110)};
    static const QColor square[] = {QColor(230, 110, 20), QColor(148, 103, 189), QColor(200, 40, 50),
                                    QColor(140, 86, 75), QColor(210, 100, 170)};
    const std::size_t h = std::hash<std::string>{}(lossName);
    if (loss == "square") return lossName == "square" ? square[0] : square[h % 5];
    return lossName == "ce" ? ce[0] : ce[h % 4];
}

CurvePlot::CurvePlot(QWidget* parent) : QWidget(parent) {
    m_plot = new QCustomPlot(this);
    m_plot->setObjectName(QStringLiteral("curvePlot"));
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->legend->setVisible(true);
    m_plot->legend->setBrush(QColor(255, 255, 255, 210));
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_plot->setNoAntialiasingOnDrag(true);
    m_plot->setMinimumSize(240, 180);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);

    connect(m_plot, &QCustomPlot::mousePress, this, [this] { m_userZoomed = true; });
    connect(m_plot, &QCustomPlot::mouseWheel, this, [this] {
        m_userZoomed = true;
        emit userChangedRange();
    });
    connect(m_plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* event) {
        if (event->buttons() & Qt::LeftButton) {
            emit userChangedRange();
        } else {
            showPointNear(event);
        }
    });
    connect(m_plot, &QCustomPlot::mouseDoubleClick, this, [this] { fitToData(); emit userChangedRange(); });
}

void CurvePlot::setOptions(const CurveOptions& options) {
    m_options = options;
    m_optionsChanged = true;
    m_userZoomed = false;
    if (m_book) draw(*m_book, m_runIds, true);
}

void CurvePlot::setTitle(const QString& title) {
    if (m_plot->plotLayout()->rowCount() == 1) {
        m_plot->plotLayout()->insertRow(0);
        auto* text = new QCPTextElement(m_plot, title, QFont(font().family(), font().pointSize(), QFont::Bold));
        text->setObjectName(QStringLiteral("title"));
        m_plot->plotLayout()->addElement(0, 0, text);
    } else if (auto* text = qobject_cast<QCPTextElement*>(m_plot->plotLayout()->element(0, 0))) {
        text->setText(title);
    }
}

void CurvePlot::draw(const CurveBook& book, const std::vector<std::int64_t>& runIds, bool force) {
    const bool same = m_book == &book && m_revision == book.revision() && m_runIds == runIds;
    m_book = &book;
    m_runIds = runIds;
    if (same && !force && !m_optionsChanged) return;
    m_revision = book.revision();
    m_optionsChanged = false;
    m_series = buildCurveSeries(book, runIds, m_options);
    rebuild();
}

QCPGraph* CurvePlot::graph(const QString& objectName) const {
    for (int i = 0; i < m_plot->graphCount(); ++i)
        if (m_plot->graph(i)->objectName() == objectName) return m_plot->graph(i);
    return nullptr;
}

void CurvePlot::rebuild() {
    ++m_redraws;
    m_plot->clearGraphs();
    std::set<std::string> inLegend;
    const bool smoothing = m_options.smoothing > 0.0;
    for (const CurveSeries& s : m_series) {
        const QColor color = colorFor(s.loss, s.lossName);
        const QString key = QString::fromStdString(s.key);
        const bool isSorted = sorted(s.x);
        if (!s.low.empty()) {
            QColor bandColor = color;
            bandColor.setAlpha(45);
            QCPGraph* low = m_plot->addGraph();
            low->setObjectName(key + "/low");
            low->setPen(Qt::NoPen);
            low->data()->set(points(s.x, s.low), isSorted);
            low->removeFromLegend();
            QCPGraph* high = m_plot->addGraph();
            high->setObjectName(key + "/high");
            high->setPen(Qt::NoPen);
            high->setBrush(bandColor);
            high->setChannelFillGraph(low);
            high->data()->set(points(s.x, s.high), isSorted);
            high->removeFromLegend();
        }
        if (smoothing) {
            QColor faint = color;
            faint.setAlpha(60);
            QCPGraph* raw = m_plot->addGraph();
            raw->setObjectName(key + "/raw");
            raw->setPen(QPen(faint, 1.0, styleFor(s.protocol)));
            raw->data()->set(points(s.x, s.raw), isSorted);
            raw->removeFromLegend();
        }
        QCPGraph* line = m_plot->addGraph();
        line->setObjectName(key);
        line->setProperty("runId", QVariant::fromValue<qint64>(s.runId));
        line->setPen(QPen(color, 1.8, styleFor(s.protocol)));
        line->data()->set(points(s.x, smoothing ? s.smoothed : s.raw), isSorted);
        line->setName(QString::fromStdString(s.label));
        // One legend entry per loss x protocol (seeds share colour and style).
        if (!inLegend.insert(s.lossName + "|" + s.protocol).second) line->removeFromLegend();
        if (s.x.size() == 1) line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 5));
    }
    m_plot->xAxis->setLabel(QString::fromStdString(curveAxisLabel(m_options.axis)));
    m_plot->yAxis->setLabel(QString::fromStdString(curveMetricLabel(m_options.metric)));
    m_plot->legend->setVisible(!inLegend.empty());
    if (!m_userZoomed) {
        m_plot->rescaleAxes(true);
        // A little air above and below the data.
        const QCPRange y = m_plot->yAxis->range();
        const double pad = y.size() > 0 ? y.size() * 0.05 : 0.5;
        m_plot->yAxis->setRange(y.lower - pad, y.upper + pad);
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void CurvePlot::fitToData() {
    m_userZoomed = false;
    m_plot->rescaleAxes(true);
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void CurvePlot::showPointNear(QMouseEvent* event) {
    const QPointF at = event->position();
    double bestDistance = 12.0; // pixels
    QString text;
    for (int i = 0; i < m_plot->graphCount(); ++i) {
        QCPGraph* g = m_plot->graph(i);
        const QString name = g->objectName();
        if (name.contains(QLatin1Char('/')) && (name.endsWith("/raw") || name.endsWith("/low") || name.endsWith("/high"))) continue;
        if (g->data()->isEmpty()) continue;
        const double key = m_plot->xAxis->pixelToCoord(at.x());
        auto it = g->data()->findBegin(key, true);
        for (int k = 0; k < 2 && it != g->data()->constEnd(); ++k, ++it) {
            if (!std::isfinite(it->value)) continue;
            const QPointF p(m_plot->xAxis->coordToPixel(it->key), m_plot->yAxis->coordToPixel(it->value));
            const double d = std::hypot(p.x() - at.x(), p.y() - at.y());
            if (d < bestDistance) {
                bestDistance = d;
                const qint64 runId = g->property("runId").toLongLong();
                const QString who = runId > 0 ? tr("run %1 (%2)").arg(runId).arg(g->name()) : g->name();
                text = QStringLiteral("%1\n%2 %3: %4")
                           .arg(who, m_plot->xAxis->label())
                           .arg(it->key, 0, 'g', 6)
                           .arg(it->value, 0, 'g', 5);
            }
        }
    }
    if (text.isEmpty()) {
        QToolTip::hideText();
    } else {
        QToolTip::showText(event->globalPosition().toPoint(), text, m_plot);
    }
}

} // namespace losslab
