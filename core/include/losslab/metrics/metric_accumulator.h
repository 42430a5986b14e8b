#pragma once
// Accumulates the per-split classification metrics over batches, on the device, with one
// host synchronisation in finish(). Metric names (stored as-is, see docs/losses-and-metrics.md):
//   loss   mean per-example loss of the run's loss function
//   acc    accuracy of argmax of raw outputs; error = 1 - acc
//   top5   top-5 accuracy (only when there are more than 5 classes)
//   f1     F1 of class 1 (only for two-class tasks)
//   ece    expected calibration error, 15 equal-width confidence bins
//   brier  multi-class Brier score: mean over examples of sum_i (p_i - y_i)^2
//   bpc    bits per symbol, -log2 p(true class), only when asked for (TaskInfo::metrics);
//          p as for ece / brier, floored at 1e-6 (at most 19.93 bits), so a square-loss model
//          that puts 0 on the true class gives a finite value
// Probabilities for ece / brier / bpc come from LossFunction::probabilities.
// Per-position scores [B, T, C] with labels [B, T] count every position as one example, except
// padded positions (kIgnoreLabel) when the loss ignores padding (plugin API 4).
#include <string>
#include <vector>

#include <torch/types.h>

#include "losslab/losses/loss_function.h"
#include "losslab/store/records.h"

namespace losslab {

constexpr int kEceBins = kCalibrationBins;

class MetricAccumulator {
public:
    // `extra`: the task's metrics beside the core's (TaskInfo::metrics); unknown names are an Error.
    MetricAccumulator(const LossFunction& loss, std::int64_t numClasses, const std::vector<std::string>& extra = {});

    // outputs [B, C] raw scores, labels [B] (or [B, T, C] and [B, T]); both on the same
    // device. No gradient is kept.
    void add(const torch::Tensor& outputs, const torch::Tensor& labels);
    // Examples added (real positions only); reads the count back from the device.
    std::int64_t count() const;

    // Values for `split` ("train", "val", "test"). Empty when nothing was added. One read
    // from the device.
    std::vector<MetricValue> finish(const std::string& split) const;
    // The same, and `calibration` receives the split's ECE bins (split set; all zero when
    // nothing was added).
    std::vector<MetricValue> finish(const std::string& split, CalibrationBins* calibration) const;

private:
    LossFunction m_loss;
    std::int64_t m_numClasses;
    bool m_bpc = false;
    torch::Tensor m_sums;     // [9]: loss, correct, top5, tp, fp, fn, brier, bits, count
    torch::Tensor m_binCount; // [kEceBins]
    torch::Tensor m_binConf;  // [kEceBins] summed confidence
    torch::Tensor m_binHit;   // [kEceBins] summed correctness
};

} // namespace losslab
