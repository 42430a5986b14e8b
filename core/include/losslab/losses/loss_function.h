#pragma once
// The losses of the study on raw network outputs f(x) in R^C (no softmax before the square loss):
//   cross-entropy: softmax + negative log-likelihood;
//   square loss, rescaled (Hui & Belkin 2021, Sec. 5):
//     l = (1/C) * [ k * (f_c - M)^2 + sum_{i != c} f_i^2 ]
//   k = M = 1 is exactly their Eq. 1. The batch loss is the mean of l over the batch.
// Prediction is argmax of the raw outputs for every loss.
// A task with a class at every position (plugin API 3) gives scores [B, T, C] and labels
// [B, T]: every position is one example (see flattenPositions).
#include <utility>

#include <torch/types.h>

#include "losslab/spec/experiment_spec.h"

namespace losslab {

// Scores and labels as one example per row: [B, T, C] and [B, T] become [B*T, C] and [B*T];
// [B, C] and [B] pass through. Labels come back as int64 (per-position labels may be stored
// as uint8). Scores [B, T', C] with T' < T (plugin API 4: padded labels past T') keep the
// labels' first T' positions.
std::pair<torch::Tensor, torch::Tensor> flattenPositions(const torch::Tensor& outputs, const torch::Tensor& labels);

class LossFunction {
public:
    explicit LossFunction(const LossSpec& spec) : m_kind(spec.kind), m_k(spec.k), m_M(spec.M) {}
    LossFunction(LossKind kind, double k, double M) : m_kind(kind), m_k(k), m_M(M) {}

    // Positions labelled kIgnoreLabel (-1) are padding (plugin API 4, TaskInfo::paddedLabels):
    // their per-example loss is 0 and the batch loss is the mean over the other positions.
    void setIgnorePadding(bool ignore) { m_ignorePadding = ignore; }
    bool ignoresPadding() const { return m_ignorePadding; }

    // Per-example loss [B] for outputs [B, C] and labels [B] (int64); [B*T] for [B, T, C] and
    // [B, T] (flattenPositions).
    torch::Tensor perExample(const torch::Tensor& outputs, const torch::Tensor& labels) const;
    // Mean over the batch (over the positions that are not padding): the training objective.
    torch::Tensor operator()(const torch::Tensor& outputs, const torch::Tensor& labels) const;

    // Class probabilities [B, C] for calibration metrics (ECE, Brier).
    // Cross-entropy: softmax. Square loss: the population minimiser of the rescaled loss is
    // f_i = k M p_i / (k p_i + 1 - p_i), so each output is clipped to [0, M], inverted to
    // p_i = f_i / (k (M - f_i) + f_i) (p_i = f_i / M when k = 1), and the row is renormalised
    // to sum to 1 (uniform when every output is <= 0).
    torch::Tensor probabilities(const torch::Tensor& outputs) const;

    LossKind kind() const { return m_kind; }
    double k() const { return m_k; }
    double M() const { return m_M; }

private:
    torch::Tensor lossOfRows(const torch::Tensor& outputs, const torch::Tensor& labels) const;

    LossKind m_kind;
    double m_k;
    double m_M;
    bool m_ignorePadding = false;
};

} // namespace losslab
