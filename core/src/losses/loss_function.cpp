#include "losslab/losses/loss_function.h"

#include <torch/nn/functional/loss.h>

namespace losslab {

std::pair<torch::Tensor, torch::Tensor> flattenPositions(const torch::Tensor& outputs, const torch::Tensor& labels) {
    const torch::Tensor longLabels = labels.scalar_type() == torch::kLong ? labels : labels.to(torch::kLong);
    if (outputs.dim() <= 2) return {outputs, longLabels};
    const torch::Tensor positions =
        outputs.size(1) < longLabels.size(1) ? longLabels.narrow(1, 0, outputs.size(1)) : longLabels;
    return {outputs.reshape({-1, outputs.size(-1)}), positions.reshape({-1})};
}

torch::Tensor LossFunction::perExample(const torch::Tensor& outputsIn, const torch::Tensor& labelsIn) const {
    const auto [outputs, labels] = flattenPositions(outputsIn, labelsIn);
    if (!m_ignorePadding) return lossOfRows(outputs, labels);
    // Padding: computed on class 0 and zeroed, so that no row is dropped (no host sync).
    const torch::Tensor real = labels.ge(0);
    return lossOfRows(outputs, labels.clamp_min(0)) * real.to(outputs.scalar_type());
}

torch::Tensor LossFunction::lossOfRows(const torch::Tensor& outputs, const torch::Tensor& labels) const {
    if (m_kind == LossKind::CrossEntropy) {
        namespace F = torch::nn::functional;
        return F::cross_entropy(outputs, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone));
    }
    const auto numClasses = outputs.size(1);
    // Target M * one-hot; the true class's squared error is weighted by k.
    torch::Tensor target = torch::zeros_like(outputs).scatter_(1, labels.unsqueeze(1), m_M);
    torch::Tensor sq = (outputs - target).pow(2);
    if (m_k != 1.0) {
        const torch::Tensor trueTerm = sq.gather(1, labels.unsqueeze(1));
        sq = sq.scatter(1, labels.unsqueeze(1), trueTerm * m_k);
    }
    return sq.sum(1) / static_cast<double>(numClasses);
}

torch::Tensor LossFunction::operator()(const torch::Tensor& outputs, const torch::Tensor& labels) const {
    if (!m_ignorePadding) return perExample(outputs, labels).mean();
    const torch::Tensor real = flattenPositions(outputs, labels).second.ge(0);
    return perExample(outputs, labels).sum() / real.sum().clamp_min(1).to(outputs.scalar_type());
}

torch::Tensor LossFunction::probabilities(const torch::Tensor& outputs) const {
    if (m_kind == LossKind::CrossEntropy) return torch::softmax(outputs, 1);
    const torch::Tensor f = outputs.clamp(0.0, m_M);
    torch::Tensor p = m_k == 1.0 ? f / m_M : f / (m_k * (m_M - f) + f).clamp_min(1e-12);
    const torch::Tensor sum = p.sum(1, /*keepdim=*/true);
    const torch::Tensor uniform = torch::full_like(p, 1.0 / static_cast<double>(outputs.size(1)));
    return torch::where(sum > 0, p / torch::where(sum > 0, sum, torch::ones_like(sum)), uniform);
}

} // namespace losslab
