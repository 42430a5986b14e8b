#pragma once
// CurvePlot: a QCustomPlot that draws CurveSeries. Colour by loss (cross-entropy blues,
// square-loss warm colours; the same loss name always gets the same colour), line style by
// protocol (early stopping solid, same epochs as CE dashed, fixed epochs dotted). With
// smoothing the raw values stay as a faint line under the smoothed one; grouped series get
// a +/- 1 std band. Drag to pan, wheel to zoom, double click to fit; hovering shows the
// nearest point; right click fits or exports the plot. The legend has one entry per loss x
// protocol.
//
// Dense curves (more points in view than ~4 per pixel column) are handed to QCustomPlot as
// the lowest and highest point of each pixel column of the visible x range,
// recomputed after a zoom or pan: the drawn shape is the same, the cost follows the width
// of the plot instead of the length of the curve.
//
// Graphs carry objectNames: "<key>" (the line), "<key>/raw", "<key>/low", "<key>/high"
// with keys as in CurveSeries ("run/12", "group/<task>|<loss>|<protocol>").
//
// Thread rules: GUI thread only.
#include <QString>
#include <QWidget>

#include <cstdint>
#include <map>
#include <vector>

#include "curve_series.h"

class QCustomPlot;
class QCPGraph;
class QMouseEvent;

namespace losslab {

class CurvePlot : public QWidget {
    Q_OBJECT
public:
    explicit CurvePlot(QWidget* parent = nullptr);

    void setOptions(const CurveOptions& options);
    const CurveOptions& options() const { return m_options; }
    void setTitle(const QString& title);

    // Redraws when the book changed (its revision), the runs or the options did, or `force`.
    // Keeps the user's zoom; otherwise fits the axes to the data. When only some runs' curves
    // changed (the same runs and options, not grouped), only their series are computed again
    // and only their graphs refilled: a live epoch of one run costs that run, not every run.
    void draw(const CurveBook& book, const std::vector<std::int64_t>& runIds, bool force = false);
    void fitToData(); // forgets the user's zoom

    QCustomPlot* plot() const { return m_plot; }
    const std::vector<CurveSeries>& series() const { return m_series; }
    QCPGraph* graph(const QString& objectName) const; // nullptr when absent
    int redrawCount() const { return m_redraws; }      // full redraws so far (tests, bench)
    int seriesUpdateCount() const { return m_updates; } // run series drawn again without a full redraw

    static QColor colorFor(const std::string& loss, const std::string& lossName);
    // Points of (x, y) to draw for x in [lower, upper] at `columns` pixel columns: all of
    // them when few, else per column the lowest and highest (in x order) and the first and
    // last point; either way with the nearest point outside the range on each side. x must
    // be sorted.
    static void decimate(const std::vector<double>& x, const std::vector<double>& y, double lower, double upper,
                         int columns, QVector<double>& outX, QVector<double>& outY);

signals:
    void userChangedRange(); // pan or zoom by the user (linked panels follow)

private:
    void rebuild();
    // Draws again only the runs whose curves changed since drawn; false when that cannot be
    // done (the runs shown changed) and a full rebuild is needed.
    bool updateChangedRuns(const CurveBook& book);
    // Graph data from m_series for the visible x range: every graph, or those in `only` (and
    // the decimated ones when the range or width changed since they were filled).
    void fillGraphs(const std::vector<const QCPGraph*>* only = nullptr);
    void fitAxes(const std::vector<const QCPGraph*>* only = nullptr); // axes to the whole of every curve
    void showPointNear(QMouseEvent* event);

    QCustomPlot* m_plot = nullptr;
    CurveOptions m_options;
    std::vector<CurveSeries> m_series;
    std::vector<std::int64_t> m_runIds;
    std::uint64_t m_revision = ~std::uint64_t(0);
    const CurveBook* m_book = nullptr;
    bool m_userZoomed = false;
    bool m_optionsChanged = true;
    int m_redraws = 0;
    struct Drawn {
        QCPGraph* graph;
        const std::vector<double>* x;
        const std::vector<double>* y;
    };
    std::vector<Drawn> m_drawn; // what fillGraphs() puts into which graph
    std::map<const QCPGraph*, std::size_t> m_seriesOf; // main line -> index in m_series
    // Per run series (not groups), by index in m_series: its graphs and the run's revision drawn.
    struct RunGraphs {
        QCPGraph* line = nullptr;
        QCPGraph* raw = nullptr; // with smoothing
        bool sorted = true;      // x sorted: data handed over by fillGraphs()
        std::uint64_t revision = 0;
    };
    std::vector<RunGraphs> m_runGraphs;
    int m_updates = 0;
    double m_filledLower = 0, m_filledUpper = 0; // x range and width the decimated graphs were filled for
    int m_filledColumns = -1;
    bool m_dense = false;       // some curve is long enough to be decimated
    bool m_refillQueued = false;
};

} // namespace losslab
