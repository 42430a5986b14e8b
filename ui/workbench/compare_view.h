#pragma once
// CompareView: chosen runs (from the run browser, or a whole experiment) side by side:
// overlaid in one plot, or in panels split by loss, protocol, task or run, with linked axes
// on one scale so that panels compare at a glance. "Figure 2 layout" gives the paper's
// Figure 2: validation accuracy per epoch, one panel per task, mean +/- std over seeds.
// Curves are read from the store on a background thread.
//
// Thread rules: GUI thread only.
#include <QFutureWatcher>
#include <QVector>
#include <QWidget>

#include <cstdint>
#include <functional>
#include <vector>

#include "background_job.h"
#include "curve_book.h"
#include "curve_series.h"

class QCheckBox;
class QComboBox;
class QGridLayout;
class QLabel;

namespace losslab {

class CurveControls;
class CurvePlot;
class RunStore;

class CompareView : public QWidget {
    Q_OBJECT
public:
    enum class Split { Overlay, ByLoss, ByProtocol, ByTask, ByRun };

    explicit CompareView(RunStore& store, QWidget* parent = nullptr);
    ~CompareView() override; // waits for its background read (it uses the store)

    // Loads the runs' curves in the background, then draws them (emits loaded()).
    void setRuns(const QVector<qint64>& runIds);
    void reload(); // same runs, fresh from the store
    // Every run of a stored experiment (read in the background).
    void setExperiment(qint64 experimentId);
    void setSplit(Split split);
    void setLinkedAxes(bool linked);
    void applyFigure2Layout();

    const CurveBook& book() const { return m_book; }
    QVector<qint64> runIds() const { return m_runIds; }
    std::vector<CurvePlot*> panels() const { return m_panels; }
    CurveControls* controls() const { return m_controls; }

signals:
    void loaded();
    // "Current experiment" was pressed: the owner answers with setExperiment().
    void currentExperimentRequested();
    void errorOccurred(const QString& message);

private:
    void rebuildPanels();
    // One load at a time: asked for while one runs, `job` waits for it and replaces any other
    // load still waiting, and the running one's result is dropped (it is no longer wanted).
    // So the destructor's wait covers every read of the store.
    void load(std::function<Outcome<CurveBook>()> job);
    void linkFrom(CurvePlot* source);
    void unifyRanges();

    RunStore& m_store;
    CurveBook m_book;
    QVector<qint64> m_runIds;
    QFutureWatcher<Outcome<CurveBook>> m_loader;
    std::function<Outcome<CurveBook>()> m_nextLoad;
    CurveControls* m_controls = nullptr;
    QComboBox* m_split = nullptr;
    QCheckBox* m_linked = nullptr;
    QLabel* m_hint = nullptr;
    QWidget* m_panelArea = nullptr;
    QGridLayout* m_grid = nullptr;
    std::vector<CurvePlot*> m_panels;
    bool m_linking = false;
};

} // namespace losslab
