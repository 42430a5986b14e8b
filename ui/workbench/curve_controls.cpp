#include "curve_controls.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSlider>

namespace losslab {

namespace {

const char* const kMetrics[] = {"step/loss", "train/loss", "train/acc", "val/acc", "test/acc",
                                "val/loss", "test/loss", "test/ece", "test/brier"};

} // namespace

CurveControls::CurveControls(QWidget* parent) : QWidget(parent) {
    m_metric = new QComboBox(this);
    m_metric->setObjectName(QStringLiteral("metricCombo"));
    for (const char* metric : kMetrics) {
        m_metric->addItem(QString::fromStdString(curveMetricLabel(metric)), QString::fromLatin1(metric));
    }
    m_axis = new QComboBox(this);
    m_axis->setObjectName(QStringLiteral("axisCombo"));
    m_axis->addItem(tr("epoch"), int(CurveAxis::Epoch));
    m_axis->addItem(tr("step"), int(CurveAxis::Step));
    m_axis->addItem(tr("wall time"), int(CurveAxis::WallTime));
    m_smoothing = new QSlider(Qt::Horizontal, this);
    m_smoothing->setObjectName(QStringLiteral("smoothingSlider"));
    m_smoothing->setRange(0, 99);
    m_smoothing->setToolTip(tr("Debiased exponential moving average; the raw curve stays faint underneath"));
    m_smoothing->setMaximumWidth(140);
    m_smoothingValue = new QLabel(this);
    m_smoothingValue->setMinimumWidth(m_smoothingValue->fontMetrics().horizontalAdvance(QStringLiteral("0.00 ")));
    m_group = new QCheckBox(tr("Group by loss (mean ± std over seeds)"), this);
    m_group->setObjectName(QStringLiteral("groupByLossCheck"));
    m_logY = new QCheckBox(tr("Log y"), this);
    m_logY->setObjectName(QStringLiteral("logYCheck"));
    m_logY->setToolTip(tr("Logarithmic y axis: losses that differ by orders of magnitude (cross-entropy and the "
                          "square loss) stay readable on one axis"));

    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(new QLabel(tr("Metric"), this));
    layout->addWidget(m_metric);
    layout->addWidget(new QLabel(tr("x-axis"), this));
    layout->addWidget(m_axis);
    layout->addWidget(new QLabel(tr("Smoothing"), this));
    layout->addWidget(m_smoothing);
    layout->addWidget(m_smoothingValue);
    layout->addWidget(m_group);
    layout->addWidget(m_logY);
    layout->addStretch(1);

    setOptions(CurveOptions{});
    connect(m_metric, &QComboBox::currentIndexChanged, this, &CurveControls::onMetricChanged);
    connect(m_axis, &QComboBox::currentIndexChanged, this, &CurveControls::emitChanged);
    connect(m_smoothing, &QSlider::valueChanged, this, &CurveControls::emitChanged);
    connect(m_group, &QCheckBox::toggled, this, &CurveControls::emitChanged);
    connect(m_logY, &QCheckBox::toggled, this, &CurveControls::emitChanged);
}

CurveOptions CurveControls::options() const {
    CurveOptions o;
    o.metric = m_metric->currentData().toString().toStdString();
    o.axis = static_cast<CurveAxis>(m_axis->currentData().toInt());
    o.smoothing = m_smoothing->value() / 100.0;
    o.groupByLoss = m_group->isChecked();
    o.logY = m_logY->isChecked();
    return o;
}

void CurveControls::setOptions(const CurveOptions& options) {
    m_quiet = true;
    const int metric = m_metric->findData(QString::fromStdString(options.metric));
    m_metric->setCurrentIndex(metric >= 0 ? metric : 0);
    m_axis->setCurrentIndex(m_axis->findData(int(options.axis)));
    m_stepShown = isStepMetric(m_metric->currentData().toString());
    m_smoothing->setValue(qRound(options.smoothing * 100));
    (m_stepShown ? m_stepSmoothing : m_epochSmoothing) = m_smoothing->value();
    m_group->setChecked(options.groupByLoss);
    m_logY->setChecked(options.logY);
    m_quiet = false;
    emitChanged();
}

void CurveControls::onMetricChanged() {
    const bool step = isStepMetric(m_metric->currentData().toString());
    if (step != m_stepShown) {
        (m_stepShown ? m_stepSmoothing : m_epochSmoothing) = m_smoothing->value();
        m_stepShown = step;
        const bool quiet = m_quiet;
        m_quiet = true; // one optionsChanged for the metric and its smoothing together
        m_smoothing->setValue(step ? m_stepSmoothing : m_epochSmoothing);
        m_quiet = quiet;
    }
    emitChanged();
}

void CurveControls::emitChanged() {
    m_smoothingValue->setText(QString::number(m_smoothing->value() / 100.0, 'f', 2));
    if (!m_quiet) emit optionsChanged(options());
}

} // namespace losslab
