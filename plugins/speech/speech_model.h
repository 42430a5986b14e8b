#pragma once
// What the speech tasks hand the core: a model that keeps, beside its network, the training
// split's normalisation statistics (buffers "cmvn_mean", "cmvn_std", saved with the run's
// weights) and its output units' names; and the evaluator that decodes the validation and test
// sets after every epoch and stores error rates with their substitution, deletion and insertion
// counts.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "losslab/metrics/edit_distance.h"
#include "losslab/tasks/task.h"
#include "unit_set.h"

namespace losslab::speech {

class SpeechModelImpl final : public ClassifierModule {
public:
    SpeechModelImpl(std::shared_ptr<ClassifierModule> net, std::int64_t featureDim);
    torch::Tensor forward(const ModelInput& input) override;
    torch::Tensor objective(const torch::Tensor& studyLoss) override;

    void setStatistics(const torch::Tensor& mean, const torch::Tensor& std, std::vector<std::string> units);
    ClassifierModule& net() { return *m_net; }
    const std::vector<std::string>& units() const { return m_units; }

private:
    std::shared_ptr<ClassifierModule> m_net;
    torch::Tensor m_mean, m_std;
    std::vector<std::string> m_units;
};

struct DecodeSettings {
    std::int64_t beam = 1;    // 1: greedy
    double lengthBonus = 0;   // beam search: added per output unit
    bool normaliseLength = false; // beam search: rank by score / (units + 2)
    double ctcWeight = 0;     // beam search: weight of CTC prefix scores
    UnitKind units = UnitKind::Characters;
    std::vector<std::string> rates; // of "wer", "cer", "per"
};

// The text of unit ids by their names: characters joined ("<space>" a space), SentencePiece
// pieces joined ("\u2581" starts a word), tokens (phones) joined by spaces. Ids of specials
// (<blank>, <eos>) and out-of-range ids are left out. <unk> is kept as UnitSet::decode writes
// it: UnitSet::kUnkCharacter (one character of the CER) among characters, " \u2047 " among
// SentencePiece pieces, "<unk>" among tokens.
std::string unitsText(const std::vector<std::int64_t>& ids, const std::vector<std::string>& names, UnitKind kind);

// The reference ids of a label row: up to <eos> or padding.
std::vector<std::int64_t> referenceIds(const torch::Tensor& labelRow, std::int64_t eos);

class RecognitionEvaluator final : public TaskEvaluator {
public:
    explicit RecognitionEvaluator(DecodeSettings settings) : m_settings(std::move(settings)) {}
    void add(ClassifierModule& model, const ModelInput& input, const TensorSplit& batch) override;
    // Per rate r: r (errors / reference length), r_sub, r_del, r_ins (counts) and r_ref
    // (reference units).
    std::vector<MetricValue> finish(const std::string& split) const override;

private:
    DecodeSettings m_settings;
    EditCounts m_wer, m_cer, m_per;
};

} // namespace losslab::speech
