#pragma once
// LiveCurvesView: the curves of the runs started in this session, updated as their events
// arrive (RunController delivers them at most ~25 times a second; the plot redraws once
// per delivery at most).
//
// Thread rules: GUI thread only.
#include <QWidget>

#include <cstdint>
#include <vector>

#include "curve_book.h"

namespace losslab {

class CurveControls;
class CurvePlot;

class LiveCurvesView : public QWidget {
    Q_OBJECT
public:
    explicit LiveCurvesView(QWidget* parent = nullptr);

    void addRuns(const std::vector<RunRecord>& runs);
    void applyEvents(const std::vector<RunEvent>& events);
    void removeRuns(const std::vector<std::int64_t>& runIds); // deleted from the database: their curves go
    void clear();

    const CurveBook& book() const { return m_book; }
    CurvePlot* plot() const { return m_plot; }
    CurveControls* controls() const { return m_controls; }

private:
    void redraw();

    CurveBook m_book;
    CurveControls* m_controls = nullptr;
    CurvePlot* m_plot = nullptr;
};

} // namespace losslab
