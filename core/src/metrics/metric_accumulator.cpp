#include "losslab/metrics/metric_accumulator.h"

#include <cmath>
#include <limits>

#include <torch/csrc/autograd/grad_mode.h>

#include "losslab/error.h"

namespace losslab {

MetricAccumulator::MetricAccumulator(const LossFunction& loss, std::int64_t numClasses, const std::vector<std::string>& extra)
    : m_loss(loss), m_numClasses(numClasses) {
    for (const std::string& name : extra) {
        if (name == "bpc")
            m_bpc = true;
        else
            throw Error("unknown task metric '" + name + "'; known: bpc");
    }
}

void MetricAccumulator::add(const torch::Tensor& outputsIn, const torch::Tensor& labelsIn) {
    torch::NoGradGuard noGrad;
    const auto [flatOutputs, rawLabels] = flattenPositions(outputsIn, labelsIn);
    if (rawLabels.size(0) == 0) return;
    const torch::Tensor outputs = flatOutputs.detach().to(torch::kFloat);
    const auto opts = outputs.options().dtype(torch::kDouble);
    // Padded positions (when the loss ignores padding) are scored as class 0 and weighted 0,
    // so that no row is dropped: selecting the real rows would make the host wait for the
    // device in every batch.
    const bool padded = m_loss.ignoresPadding();
    const torch::Tensor labels = padded ? rawLabels.clamp_min(0) : rawLabels;
    const torch::Tensor weight = padded ? rawLabels.ge(0).to(torch::kDouble) : torch::Tensor();
    // Per-row values [N] (double) with padded rows zeroed; unpadded tasks pay for no weighting.
    auto real = [&](const torch::Tensor& perRow) { return padded ? perRow * weight : perRow; };
    if (!m_sums.defined()) {
        m_sums = torch::zeros({9}, opts);
        m_binCount = torch::zeros({kEceBins}, opts);
        m_binConf = torch::zeros({kEceBins}, opts);
        m_binHit = torch::zeros({kEceBins}, opts);
    }
    const torch::Tensor pred = outputs.argmax(1);
    const torch::Tensor hit = real(pred.eq(labels).to(torch::kDouble));
    // perExample gives padded positions 0 itself.
    const torch::Tensor lossSum = m_loss.perExample(outputs, rawLabels).to(torch::kDouble).sum();

    torch::Tensor top5 = torch::zeros({}, opts);
    if (m_numClasses > 5) {
        const torch::Tensor top = std::get<1>(outputs.topk(5, 1));
        top5 = real(top.eq(labels.unsqueeze(1)).any(1).to(torch::kDouble)).sum();
    }
    torch::Tensor tp = torch::zeros({}, opts), fp = tp, fn = tp;
    if (m_numClasses == 2) {
        const torch::Tensor predPos = pred.eq(1), truePos = labels.eq(1);
        tp = real((predPos & truePos).to(torch::kDouble)).sum();
        fp = real((predPos & truePos.logical_not()).to(torch::kDouble)).sum();
        fn = real((predPos.logical_not() & truePos).to(torch::kDouble)).sum();
    }
    const torch::Tensor probs = m_loss.probabilities(outputs).to(torch::kDouble);
    const torch::Tensor oneHot = torch::zeros_like(probs).scatter_(1, labels.unsqueeze(1), 1.0);
    const torch::Tensor brier = real((probs - oneHot).pow(2).sum(1)).sum();
    torch::Tensor bits = torch::zeros({}, opts);
    if (m_bpc) bits = real(probs.gather(1, labels.unsqueeze(1)).squeeze(1).clamp_min(1e-6).log2().neg()).sum();
    const torch::Tensor count = padded ? weight.sum() : torch::full({}, static_cast<double>(labels.size(0)), opts);
    m_sums += torch::stack({lossSum, hit.sum(), top5, tp, fp, fn, brier, bits, count});

    // Confidence of the predicted class; bins are (i/15, (i+1)/15], with 0 in the first. A NaN
    // confidence (a diverging model) goes to the first bin, where it makes the ECE NaN: as a
    // long it would be INT64_MIN, an index out of range.
    const torch::Tensor conf = probs.gather(1, pred.unsqueeze(1)).squeeze(1);
    const torch::Tensor bin =
        (conf * kEceBins).ceil().sub(1).nan_to_num(0.0).clamp(0, kEceBins - 1).to(torch::kLong);
    m_binCount.index_add_(0, bin, padded ? weight : torch::ones_like(conf));
    m_binConf.index_add_(0, bin, real(conf));
    m_binHit.index_add_(0, bin, hit);
}

std::int64_t MetricAccumulator::count() const {
    return m_sums.defined() ? static_cast<std::int64_t>(m_sums[8].item<double>()) : 0;
}

std::vector<MetricValue> MetricAccumulator::finish(const std::string& split) const { return finish(split, nullptr); }

std::vector<MetricValue> MetricAccumulator::finish(const std::string& split, CalibrationBins* calibration) const {
    if (calibration) *calibration = CalibrationBins{split, {}, {}, {}};
    if (!m_sums.defined()) return {};
    // One copy to the host: the sums, then the bins' counts, confidences and hits.
    const torch::Tensor all = torch::cat({m_sums, m_binCount, m_binConf, m_binHit}).cpu();
    const auto a = all.accessor<double, 1>();
    constexpr std::int64_t kBinCount = 9, kConf = kBinCount + kEceBins, kHit = kConf + kEceBins;
    const double n = a[8];
    if (n == 0) return {};
    const double acc = a[1] / n;
    std::vector<MetricValue> out = {
        {split, "loss", a[0] / n},
        {split, "acc", acc},
        {split, "error", 1.0 - acc},
    };
    if (m_numClasses > 5) out.push_back({split, "top5", a[2] / n});
    if (m_numClasses == 2) {
        const double denom = 2 * a[3] + a[4] + a[5];
        out.push_back({split, "f1", denom > 0 ? 2 * a[3] / denom : 0.0});
    }
    double ece = 0;
    // Confidences that are not numbers (a diverging model) make the ECE NaN and leave the split
    // without bins: a reliability diagram has nothing to show for them.
    bool finiteBins = true;
    for (int b = 0; b < kEceBins; ++b) finiteBins = finiteBins && std::isfinite(a[kConf + b]);
    for (int b = 0; b < kEceBins; ++b) {
        const double c = a[kBinCount + b], conf = a[kConf + b], hit = a[kHit + b];
        if (c > 0) ece += (c / n) * std::abs(hit / c - conf / c);
        if (calibration && finiteBins) {
            calibration->count[static_cast<std::size_t>(b)] = c;
            calibration->confidence[static_cast<std::size_t>(b)] = conf;
            calibration->correct[static_cast<std::size_t>(b)] = hit;
        }
    }
    out.push_back({split, "ece", ece});
    out.push_back({split, "brier", a[6] / n});
    if (m_bpc) out.push_back({split, "bpc", a[7] / n});
    return out;
}

} // namespace losslab
