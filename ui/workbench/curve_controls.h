#pragma once
// CurveControls: the bar above a curve plot: metric, x-axis (epoch / step / wall time),
// smoothing (debiased EMA weight, 0 = off) and "group by loss" (mean +/- std over seeds).
// Smoothing is remembered apart for the per-step training loss (noisy: 0.6 at first) and the
// epoch-level metrics (one point per epoch: off at first), and follows the chosen metric.
//
// Thread rules: GUI thread only.
#include <QWidget>

#include "curve_series.h"

class QCheckBox;
class QComboBox;
class QSlider;
class QLabel;

namespace losslab {

class CurveControls : public QWidget {
    Q_OBJECT
public:
    explicit CurveControls(QWidget* parent = nullptr);

    CurveOptions options() const;
    void setOptions(const CurveOptions& options); // emits optionsChanged once

signals:
    void optionsChanged(const losslab::CurveOptions& options);

private:
    void emitChanged();
    void onMetricChanged();
    static bool isStepMetric(const QString& metric) { return metric.startsWith(QStringLiteral("step/")); }

    QComboBox* m_metric = nullptr;
    QComboBox* m_axis = nullptr;
    QSlider* m_smoothing = nullptr;
    QLabel* m_smoothingValue = nullptr;
    QCheckBox* m_group = nullptr;
    QCheckBox* m_logY = nullptr;
    bool m_quiet = false;
    int m_stepSmoothing = 60;  // slider value for the per-step metric
    int m_epochSmoothing = 0;  // ... and for the epoch-level ones
    bool m_stepShown = true;   // which of the two the slider holds now
};

} // namespace losslab
