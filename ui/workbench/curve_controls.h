#pragma once
// CurveControls: the bar above a curve plot: metric, x-axis (epoch / step / wall time),
// smoothing (debiased EMA weight, 0 = off) and "group by loss" (mean +/- std over seeds).
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

    QComboBox* m_metric = nullptr;
    QComboBox* m_axis = nullptr;
    QSlider* m_smoothing = nullptr;
    QLabel* m_smoothingValue = nullptr;
    QCheckBox* m_group = nullptr;
    bool m_quiet = false;
};

} // namespace losslab
