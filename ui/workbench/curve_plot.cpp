#include "curve_plot.h"

#include <QMenu>
#include <QMessageBox>
#include <QToolTip>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>

#include "view_export.h"

namespace losslab {

namespace {

Qt::PenStyle styleFor(const std::string& protocol) {
    if (protocol == "same_epochs_as_ce") return Qt::DashLine;
    if (protocol == "fixed_epochs") return Qt::DotLine;
    return Qt::SolidLine;
}

constexpr std::size_t kDensePoints = 4000;
// Beyond this many points a curve is decimated to its visible pixel columns.
constexpr std::size_t kDecimateAbove = 8000;

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

// A run's main line: colour by loss, style by protocol; a run stopped before its protocol's
// end (cancelled, interrupted, failed) faded, so it is not read as a finished curve.
QPen linePen(const QColor& color, const CurveSeries& s) {
    QColor c = color;
    if (!s.stopped.empty()) c.setAlpha(90);
    return QPen(c, 1.8, styleFor(s.protocol));
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
    // Polylines instead of one drawLine per segment: long curves replot many times faster.
    m_plot->setPlottingHint(QCP::phFastPolylines, true);
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
    // After a zoom or pan, dense curves are decimated again for the new range (once per
    // event-loop turn, however many range changes came in it).
    connect(m_plot->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] {
        if (!m_dense || m_refillQueued) return;
        m_refillQueued = true;
        QMetaObject::invokeMethod(this, [this] {
            if (!m_refillQueued) return;
            const std::vector<const QCPGraph*> none; // the decimated graphs, if the range moved since filled
            fillGraphs(&none);
            m_plot->replot(QCustomPlot::rpQueuedReplot);
        }, Qt::QueuedConnection);
    });
    // Right click: fit, or export what is shown (PNG / SVG / PDF by the chosen suffix).
    m_plot->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_plot, &QWidget::customContextMenuRequested, this, [this](const QPoint& at) {
        QMenu menu(this);
        menu.addAction(tr("Fit to data"), this, [this] { fitToData(); });
        menu.addAction(tr("Export plot…"), this, [this] {
            const QString path = askExportPath(this, tr("Export plot"), plotExportFilters(), QStringLiteral("curves"));
            if (path.isEmpty()) return;
            try {
                exportPlot(*m_plot, path);
            } catch (const std::exception& e) {
                QMessageBox::warning(this, tr("Export failed"), QString::fromUtf8(e.what()));
            }
        });
        menu.exec(m_plot->mapToGlobal(at));
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
    const bool sameRuns = m_book == &book && m_runIds == runIds;
    const bool same = sameRuns && m_revision == book.revision();
    m_book = &book;
    m_runIds = runIds;
    if (same && !force && !m_optionsChanged) return;
    // Groups mix their runs' points: a changed run changes its group, drawn again in full.
    const bool incremental = sameRuns && !force && !m_optionsChanged && !m_options.groupByLoss;
    m_revision = book.revision();
    m_optionsChanged = false;
    if (incremental && updateChangedRuns(book)) return;
    m_series = buildCurveSeries(book, runIds, m_options);
    rebuild();
}

bool CurvePlot::updateChangedRuns(const CurveBook& book) {
    if (m_runGraphs.size() != m_series.size()) return false;
    // The runs drawn must be those the book has now, in the same order.
    std::vector<std::size_t> changed;
    std::size_t i = 0;
    for (std::int64_t id : m_runIds) {
        const RunCurves* curves = book.find(id);
        if (!curves) continue;
        if (i >= m_series.size() || m_series[i].runId != id || !m_runGraphs[i].line) return false;
        if (curves->revision != m_runGraphs[i].revision) changed.push_back(i);
        ++i;
    }
    if (i != m_series.size()) return false;
    if (changed.empty()) return true;
    std::vector<CurveSeries> fresh;
    fresh.reserve(changed.size());
    for (std::size_t k : changed) {
        std::vector<CurveSeries> one = buildCurveSeries(book, {m_series[k].runId}, m_options);
        if (one.size() != 1 || sorted(one.front().x) != m_runGraphs[k].sorted) return false;
        fresh.push_back(std::move(one.front()));
    }
    const bool smoothing = m_options.smoothing > 0.0;
    std::vector<const QCPGraph*> refill;
    for (std::size_t n = 0; n < changed.size(); ++n) {
        const std::size_t k = changed[n];
        // Assigned in place: m_drawn points at this element's vectors, which stay where they are.
        m_series[k] = std::move(fresh[n]);
        const CurveSeries& s = m_series[k];
        RunGraphs& g = m_runGraphs[k];
        g.revision = book.find(s.runId)->revision;
        g.line->setPen(linePen(colorFor(s.loss, s.lossName), s));
        g.line->setAntialiased(s.x.size() <= kDensePoints);
        g.line->setScatterStyle(s.x.size() == 1 ? QCPScatterStyle(QCPScatterStyle::ssDisc, 5) : QCPScatterStyle());
        if (g.sorted) {
            refill.push_back(g.line);
            if (g.raw) refill.push_back(g.raw);
        } else {
            g.line->data()->set(points(s.x, smoothing ? s.smoothed : s.raw), false);
            if (g.raw) g.raw->data()->set(points(s.x, s.raw), false);
        }
    }
    m_dense = std::any_of(m_series.begin(), m_series.end(),
                          [](const CurveSeries& s) { return s.x.size() > kDecimateAbove; });
    m_updates += static_cast<int>(changed.size());
    if (m_userZoomed) {
        fillGraphs(&refill);
    } else {
        fitAxes(&refill);
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    return true;
}

QCPGraph* CurvePlot::graph(const QString& objectName) const {
    for (int i = 0; i < m_plot->graphCount(); ++i)
        if (m_plot->graph(i)->objectName() == objectName) return m_plot->graph(i);
    return nullptr;
}

void CurvePlot::rebuild() {
    ++m_redraws;
    m_plot->clearGraphs();
    m_drawn.clear();
    m_seriesOf.clear();
    m_runGraphs.assign(m_series.size(), RunGraphs{});
    m_filledColumns = -1;
    m_dense = false;
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
            raw->setPen(QPen(faint, 0, styleFor(s.protocol))); // cosmetic: the fastest pen
            raw->setAntialiased(false); // faint and thin: antialiasing costs more than it shows
            if (isSorted) {
                m_drawn.push_back({raw, &s.x, &s.raw});
            } else {
                raw->data()->set(points(s.x, s.raw), false);
            }
            raw->removeFromLegend();
            m_runGraphs[static_cast<std::size_t>(&s - m_series.data())].raw = raw;
        }
        // Antialiasing costs more than it shows once a curve is denser than the pixels.
        const bool dense = s.x.size() > kDensePoints;
        m_dense = m_dense || s.x.size() > kDecimateAbove;
        QCPGraph* line = m_plot->addGraph();
        line->setAntialiased(!dense);
        line->setObjectName(key);
        line->setProperty("runId", QVariant::fromValue<qint64>(s.runId));
        m_seriesOf[line] = static_cast<std::size_t>(&s - m_series.data());
        line->setPen(linePen(color, s));
        if (isSorted) {
            m_drawn.push_back({line, &s.x, smoothing ? &s.smoothed : &s.raw});
        } else {
            line->data()->set(points(s.x, smoothing ? s.smoothed : s.raw), false);
        }
        line->setName(QString::fromStdString(s.label));
        // One legend entry per loss x protocol (seeds share colour and style).
        if (!inLegend.insert(s.lossName + "|" + s.protocol).second) line->removeFromLegend();
        if (s.x.size() == 1) line->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 5));
        if (s.runIds.size() == 1 && s.runId != 0) { // a run's own series: drawn again alone when it changes
            RunGraphs& g = m_runGraphs[static_cast<std::size_t>(&s - m_series.data())];
            g.line = line;
            g.sorted = isSorted;
            if (const RunCurves* curves = m_book ? m_book->find(s.runId) : nullptr) g.revision = curves->revision;
        }
    }
    m_plot->xAxis->setLabel(QString::fromStdString(curveAxisLabel(m_options.axis)));
    m_plot->yAxis->setLabel(QString::fromStdString(curveMetricLabel(m_options.metric)));
    m_plot->legend->setVisible(!inLegend.empty());
    // Log scale: cross-entropy and the square loss differ by orders of magnitude on one axis.
    if (m_options.logY != (m_plot->yAxis->scaleType() == QCPAxis::stLogarithmic)) {
        if (m_options.logY) {
            m_plot->yAxis->setScaleType(QCPAxis::stLogarithmic);
            m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        } else {
            m_plot->yAxis->setScaleType(QCPAxis::stLinear);
            m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
        }
    }
    // Losses fall and accuracies rise: the legend goes where the curves end up least.
    const bool falling = m_options.metric.find("loss") != std::string::npos ||
                         m_options.metric.find("error") != std::string::npos ||
                         m_options.metric.find("ece") != std::string::npos ||
                         m_options.metric.find("brier") != std::string::npos;
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignRight | (falling ? Qt::AlignTop : Qt::AlignBottom));
    if (m_userZoomed) {
        fillGraphs();
    } else {
        fitAxes();
    }
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void CurvePlot::decimate(const std::vector<double>& x, const std::vector<double>& y, double lower, double upper,
                         int columns, QVector<double>& outX, QVector<double>& outY) {
    outX.clear();
    outY.clear();
    const std::size_t n = std::min(x.size(), y.size());
    auto begin = static_cast<std::size_t>(std::lower_bound(x.begin(), x.begin() + static_cast<long>(n), lower) - x.begin());
    auto end = static_cast<std::size_t>(std::upper_bound(x.begin(), x.begin() + static_cast<long>(n), upper) - x.begin());
    if (begin > 0) --begin;  // the line enters the view from outside
    if (end < n) ++end;
    const std::size_t count = end - begin;
    if (count <= static_cast<std::size_t>(4 * std::max(columns, 1))) {
        for (std::size_t i = begin; i < end; ++i) {
            outX.append(x[i]);
            outY.append(y[i]);
        }
        return;
    }
    // Per column its lowest and highest point, in x order: at one column per pixel that is
    // the vertical stroke the full curve would paint there.
    const double perColumn = std::max(columns, 1) / (upper - lower);
    std::size_t i = begin;
    auto append = [&](std::size_t p) {
        outX.append(x[p]);
        outY.append(y[p]);
    };
    append(begin);
    while (i < end) {
        const auto column = static_cast<long>((x[i] - lower) * perColumn);
        std::size_t low = i, high = i;
        for (; i < end && static_cast<long>((x[i] - lower) * perColumn) == column; ++i) {
            if (!std::isfinite(y[i])) continue;
            if (!std::isfinite(y[low]) || y[i] < y[low]) low = i;
            if (!std::isfinite(y[high]) || y[i] > y[high]) high = i;
        }
        const std::size_t a = std::min(low, high), b = std::max(low, high);
        if (a != begin) append(a);
        if (b != a && b != end - 1) append(b);
    }
    append(end - 1);
}

void CurvePlot::fillGraphs(const std::vector<const QCPGraph*>* only) {
    m_refillQueued = false;
    const QCPRange range = m_plot->xAxis->range();
    const int columns = std::max(100, m_plot->axisRect()->width());
    // Decimated graphs hold the visible range only: refilled whenever it moved.
    const bool moved = range.lower != m_filledLower || range.upper != m_filledUpper || columns != m_filledColumns;
    m_filledLower = range.lower;
    m_filledUpper = range.upper;
    m_filledColumns = columns;
    QVector<double> x, y;
    for (const Drawn& d : m_drawn) {
        const bool decimated = d.x->size() > kDecimateAbove;
        if (only && !(decimated && moved) && std::find(only->begin(), only->end(), d.graph) == only->end()) continue;
        if (decimated) {
            decimate(*d.x, *d.y, range.lower, range.upper, columns, x, y);
            d.graph->setData(x, y, true);
        } else {
            d.graph->data()->set(points(*d.x, *d.y), true);
        }
    }
}

void CurvePlot::fitAxes(const std::vector<const QCPGraph*>* only) {
    // x from the full curves (the graphs may hold only a zoomed range), then the graphs for
    // that range, then y from them (decimation keeps each column's extremes).
    double lower = std::numeric_limits<double>::infinity(), upper = -lower;
    for (const CurveSeries& s : m_series)
        if (!s.x.empty()) {
            lower = std::min(lower, s.x.front());
            upper = std::max(upper, s.x.back());
        }
    if (lower <= upper) m_plot->xAxis->setRange(lower, lower == upper ? upper + 1 : upper);
    fillGraphs(only);
    m_plot->yAxis->rescale(true);
    const QCPRange y = m_plot->yAxis->range();
    if (m_options.logY) {
        // rescale() keeps to positive values on a log axis; pad by a factor, not a difference.
        if (y.lower > 0) m_plot->yAxis->setRange(y.lower / 1.2, y.upper * 1.2);
        return;
    }
    const double pad = y.size() > 0 ? y.size() * 0.05 : 0.5;
    m_plot->yAxis->setRange(y.lower - pad, y.upper + pad);
}

void CurvePlot::fitToData() {
    m_userZoomed = false;
    fitAxes();
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
                QString who = runId > 0 ? tr("run %1 (%2)").arg(runId).arg(g->name()) : g->name();
                // The stored value, not the smoothed line's: the smoothed one comes labelled.
                QString values = QStringLiteral("%1").arg(it->value, 0, 'g', 5);
                const auto found = m_seriesOf.find(g);
                if (found != m_seriesOf.end()) {
                    const CurveSeries& s = m_series[found->second];
                    if (!s.stopped.empty()) who += QStringLiteral(", ") + QString::fromStdString(s.stopped);
                    const auto at = std::find(s.x.begin(), s.x.end(), it->key);
                    if (at != s.x.end())
                        values = QString::fromStdString(describeCurvePoint(
                            s, static_cast<std::size_t>(at - s.x.begin()), m_options.smoothing > 0.0));
                }
                text = QStringLiteral("%1\n%2 %3\n%4")
                           .arg(who, m_plot->xAxis->label())
                           .arg(it->key, 0, 'g', 6)
                           .arg(values);
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
