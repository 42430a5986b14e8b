#include "speech_model.h"

#include <algorithm>

#include "ctc_attention.h"
#include "losslab/error.h"

namespace losslab::speech {
namespace {

// SentencePiece's word-start mark, U+2581.
const std::string kWordStart = "\xE2\x96\x81";

std::vector<std::int32_t> narrow32(const std::vector<std::int64_t>& ids) {
    return std::vector<std::int32_t>(ids.begin(), ids.end());
}

// The hypotheses of a batch: greedy, or a beam search per utterance.
std::vector<std::vector<std::int64_t>> decodeBatch(CtcAttentionImpl& net, const ModelInput& input, const DecodeSettings& s) {
    if (s.beam <= 1) return net.greedy(input);
    BeamOptions options;
    options.beamSize = s.beam;
    options.lengthBonus = s.lengthBonus;
    options.normalizeByLength = s.normaliseLength;
    options.ctcWeight = s.ctcWeight;
    std::vector<std::vector<std::int64_t>> out;
    for (std::int64_t i = 0; i < input.features.size(0); ++i) out.push_back(net.beamSearch(input, i, options));
    return out;
}

} // namespace

SpeechModelImpl::SpeechModelImpl(std::shared_ptr<ClassifierModule> net, std::int64_t featureDim) {
    m_net = register_module("net", std::move(net));
    m_mean = register_buffer("cmvn_mean", torch::zeros({featureDim}));
    m_std = register_buffer("cmvn_std", torch::ones({featureDim}));
}

torch::Tensor SpeechModelImpl::forward(const ModelInput& input) { return m_net->forward(input); }

torch::Tensor SpeechModelImpl::objective(const torch::Tensor& studyLoss) { return m_net->objective(studyLoss); }

void SpeechModelImpl::setStatistics(const torch::Tensor& mean, const torch::Tensor& std, std::vector<std::string> units) {
    torch::NoGradGuard noGrad;
    if (mean.numel() != m_mean.numel())
        throw Error("speech features have " + std::to_string(mean.numel()) + " dimensions; the model expects " +
                    std::to_string(m_mean.numel()));
    m_mean.copy_(mean);
    m_std.copy_(std);
    m_units = std::move(units);
}

std::string unitsText(const std::vector<std::int64_t>& ids, const std::vector<std::string>& names, UnitKind kind) {
    const auto size = static_cast<std::int64_t>(names.size());
    std::string text;
    for (const std::int64_t id : ids) {
        if (id <= 0 || id >= size - 1) continue; // <blank>, <eos>, out of range
        const std::string& name = names[static_cast<std::size_t>(id)];
        // <unk> (id 1) as UnitSet::decode writes it: one character for characters (its name,
        // "<unk>", would count as five in the CER), SentencePiece's " ⁇ ", a token of its own.
        const bool unk = id == 1;
        switch (kind) {
        case UnitKind::Characters:
            text += unk ? std::string(UnitSet::kUnkCharacter) : name == "<space>" ? std::string(" ") : name;
            break;
        case UnitKind::Tokens: text += (text.empty() ? "" : " ") + name; break;
        case UnitKind::SentencePiece: {
            std::string piece = unk ? std::string(" ") + UnitSet::kUnkCharacter + " " : name;
            for (std::size_t at = piece.find(kWordStart); at != std::string::npos; at = piece.find(kWordStart, at + 1))
                piece.replace(at, kWordStart.size(), " ");
            text += piece;
            break;
        }
        }
    }
    const auto first = text.find_first_not_of(' ');
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

std::vector<std::int64_t> referenceIds(const torch::Tensor& labelRow, std::int64_t eos) {
    const torch::Tensor row = labelRow.cpu().to(torch::kLong).contiguous();
    const auto* p = row.data_ptr<std::int64_t>();
    std::vector<std::int64_t> ids;
    for (std::int64_t i = 0; i < row.numel() && p[i] >= 0 && p[i] != eos; ++i) ids.push_back(p[i]);
    return ids;
}

void RecognitionEvaluator::add(ClassifierModule& model, const ModelInput& input, const TensorSplit& batch) {
    auto* speech = dynamic_cast<SpeechModelImpl*>(&model);
    auto* net = speech ? dynamic_cast<CtcAttentionImpl*>(&speech->net()) : nullptr;
    if (!net) throw Error("the speech evaluator needs a speech recogniser model");
    const std::vector<std::string>& names = speech->units();
    const auto eos = static_cast<std::int64_t>(names.size()) - 1;
    const std::vector<std::vector<std::int64_t>> hyps = decodeBatch(*net, input, m_settings);
    const torch::Tensor labels = hostCopy(input.hostTargets, batch.labels);
    for (std::size_t i = 0; i < hyps.size(); ++i) {
        const std::vector<std::int64_t> ref = referenceIds(labels[static_cast<std::int64_t>(i)], eos);
        std::vector<std::int64_t> hyp;
        for (const std::int64_t id : hyps[i])
            if (id != eos) hyp.push_back(id);
        for (const std::string& rate : m_settings.rates) {
            if (rate == "per") {
                m_per += editCounts(narrow32(ref), narrow32(hyp));
                continue;
            }
            const std::string refText = unitsText(ref, names, m_settings.units);
            const std::string hypText = unitsText(hyp, names, m_settings.units);
            if (rate == "wer") m_wer += wordEdits(refText, hypText);
            if (rate == "cer") m_cer += characterEdits(refText, hypText);
        }
    }
}

std::vector<MetricValue> RecognitionEvaluator::finish(const std::string& split) const {
    std::vector<MetricValue> out;
    for (const std::string& rate : m_settings.rates) {
        const EditCounts& c = rate == "wer" ? m_wer : rate == "cer" ? m_cer : m_per;
        out.push_back({split, rate, c.rate()});
        out.push_back({split, rate + "_sub", static_cast<double>(c.substitutions)});
        out.push_back({split, rate + "_del", static_cast<double>(c.deletions)});
        out.push_back({split, rate + "_ins", static_cast<double>(c.insertions)});
        out.push_back({split, rate + "_ref", static_cast<double>(c.referenceLength)});
    }
    return out;
}

} // namespace losslab::speech
