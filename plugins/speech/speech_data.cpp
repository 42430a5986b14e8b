#include "speech_data.h"

#include <algorithm>
#include <iostream>

#include "losslab/error.h"

namespace losslab::speech {
namespace {

// Rows within a pool of batchSize * kBucketPool utterances are sorted by length.
constexpr std::int64_t kBucketPool = 50;

TensorSplit splitRows(const std::vector<Utterance>& utterances, std::size_t first, const FeatureBank& bank,
                      const UnitSet* units, const std::vector<std::string>& classNames) {
    const auto n = static_cast<std::int64_t>(utterances.size());
    TensorSplit split;
    split.features = torch::zeros({n, 2}, torch::kLong);
    split.lengths = torch::zeros({n}, torch::kLong);
    auto rows = split.features.accessor<std::int64_t, 2>();
    auto lengths = split.lengths.accessor<std::int64_t, 1>();
    std::vector<std::vector<std::int64_t>> sequences;
    if (units) { // all at once: SentencePiece encodes them with one child process
        std::vector<std::string> texts;
        texts.reserve(utterances.size());
        for (const Utterance& u : utterances) texts.push_back(u.text);
        sequences = units->encodeAll(texts);
    }
    std::vector<std::int64_t> classes;
    for (std::int64_t i = 0; i < n; ++i) {
        const Utterance& u = utterances[static_cast<std::size_t>(i)];
        rows[i][0] = bank.offsets[first + static_cast<std::size_t>(i)];
        rows[i][1] = bank.counts[first + static_cast<std::size_t>(i)];
        lengths[i] = rows[i][1];
        if (units) {
            std::vector<std::int64_t>& ids = sequences[static_cast<std::size_t>(i)];
            if (ids.empty())
                throw Error(u.audio + ": utterance " + u.id + " has an empty transcript; every utterance needs text to recognise");
            ids.push_back(units->eos());
        } else {
            const auto it = std::find(classNames.begin(), classNames.end(), u.text);
            if (it == classNames.end()) throw Error(u.audio + ": label '" + u.text + "' is not one of the task's classes");
            classes.push_back(it - classNames.begin());
        }
    }
    if (units) {
        std::size_t width = 1;
        for (const auto& s : sequences) width = std::max(width, s.size());
        split.labels = torch::full({n, static_cast<std::int64_t>(width)}, kIgnoreLabel, torch::kLong);
        auto labels = split.labels.accessor<std::int64_t, 2>();
        for (std::int64_t i = 0; i < n; ++i) {
            const auto& s = sequences[static_cast<std::size_t>(i)];
            for (std::size_t j = 0; j < s.size(); ++j) labels[i][static_cast<std::int64_t>(j)] = s[j];
        }
    } else {
        split.labels = torch::tensor(classes, torch::kLong);
    }
    return split;
}

torch::Tensor namesTensor(const std::vector<std::string>& names) {
    std::string joined;
    for (const std::string& n : names) joined += (joined.empty() ? "" : "\n") + n;
    return torch::from_blob(joined.data(), {static_cast<std::int64_t>(joined.size())}, torch::kUInt8).clone();
}

} // namespace

DataBundle makeSpeechBundle(const SpeechSplits& splits, const FeatureSettings& settings, const UnitSet* units,
                            const std::vector<std::string>& classNames, const std::string& cacheDir) {
    std::vector<Utterance> all = splits.train;
    all.insert(all.end(), splits.val.begin(), splits.val.end());
    all.insert(all.end(), splits.test.begin(), splits.test.end());
    FeatureProgress progress;
    const FeatureBank bank = computeFeatures(all, settings, cacheDir, 0, &progress);
    if (!progress.fromCache && !progress.cacheFile.empty())
        std::cerr << "losslab: speech features of " << all.size() << " utterances cached in " << progress.cacheFile << "\n";

    DataBundle bundle;
    bundle.train = splitRows(splits.train, 0, bank, units, classNames);
    bundle.val = splitRows(splits.val, splits.train.size(), bank, units, classNames);
    bundle.test = splitRows(splits.test, splits.train.size() + splits.val.size(), bank, units, classNames);
    bundle.source = splits.source;
    // Mean and variance normalisation from the training utterances alone (they come first).
    std::int64_t trainFrames = 0;
    for (std::size_t i = 0; i < splits.train.size(); ++i) trainFrames += bank.counts[i];
    FeatureBank train;
    train.frames = bank.frames.narrow(0, 0, trainFrames);
    const auto [mean, std] = globalMeanStd(train);
    bundle.tensors["frames"] = bank.frames;
    bundle.tensors["cmvn_mean"] = mean;
    bundle.tensors["cmvn_std"] = std;
    bundle.tensors["units"] = namesTensor(units ? units->names() : classNames);
    return bundle;
}

std::vector<std::string> unitNamesOf(const DataBundle& data) {
    const auto it = data.tensors.find("units");
    if (it == data.tensors.end()) return {};
    const torch::Tensor t = it->second.contiguous();
    const std::string joined(reinterpret_cast<const char*>(t.data_ptr<std::uint8_t>()), static_cast<std::size_t>(t.numel()));
    std::vector<std::string> names;
    std::size_t start = 0;
    while (start <= joined.size()) {
        const std::size_t end = std::min(joined.find('\n', start), joined.size());
        names.push_back(joined.substr(start, end - start));
        start = end + 1;
    }
    return names;
}

SpeechTransform::SpeechTransform(const DataBundle& data, SpecAugmentOptions specAugment, const torch::Device& device)
    : m_frames(data.tensors.at("frames")), m_mean(data.tensors.at("cmvn_mean").to(device)),
      m_std(data.tensors.at("cmvn_std").to(device)), m_specAugment(specAugment), m_device(device) {}

ModelInput SpeechTransform::apply(const TensorSplit& batch, bool training, at::Generator& gen) const {
    // [B, 2] (first frame, frame count), on the CPU (featuresOnHost): no wait for the device.
    const torch::Tensor rows = batch.features.cpu().contiguous();
    const auto r = rows.accessor<std::int64_t, 2>();
    const std::int64_t b = rows.size(0);
    std::int64_t longest = 1;
    for (std::int64_t i = 0; i < b; ++i) longest = std::max(longest, r[i][1]);
    torch::Tensor padded = torch::zeros({b, longest, m_frames.size(1)}, m_frames.options());
    for (std::int64_t i = 0; i < b; ++i) padded[i].narrow(0, 0, r[i][1]).copy_(m_frames.narrow(0, r[i][0], r[i][1]));
    const torch::Tensor lengths = rows.select(1, 1).contiguous();
    torch::Tensor x = (copyToDevice(padded, m_device).to(torch::kFloat) - m_mean) / m_std;
    // Padding stays 0 after normalisation.
    const torch::Tensor valid = copyToDevice(torch::arange(longest, torch::TensorOptions().dtype(torch::kLong))
                                                 .unsqueeze(0)
                                                 .lt(lengths.unsqueeze(1)),
                                             m_device);
    x = x * valid.unsqueeze(2).to(torch::kFloat);
    if (training && m_specAugment.enabled) x = specAugment(x, lengths, m_specAugment, gen);
    ModelInput input;
    input.features = x;
    input.lengths = lengths; // on the CPU: the core copies them to the device (plugin API 6)
    return input;
}

std::vector<torch::Tensor> SpeechTransform::batchOrder(const TensorSplit& train, std::int64_t batchSize,
                                                       at::Generator& gen) const {
    return bucketedBatches(train.lengths, batchSize, kBucketPool, gen);
}

torch::Tensor specAugment(torch::Tensor features, const torch::Tensor& lengthsIn, const SpecAugmentOptions& o,
                          at::Generator& gen) {
    const torch::Tensor lengths = lengthsIn.cpu().to(torch::kLong).contiguous();
    const std::int64_t b = features.size(0), dim = features.size(2);
    auto draw = [&](std::int64_t highInclusive) {
        if (highInclusive <= 0) return std::int64_t{0};
        return torch::randint(highInclusive + 1, {1}, gen, torch::TensorOptions().dtype(torch::kLong)).item<std::int64_t>();
    };
    torch::NoGradGuard noGrad;
    for (std::int64_t i = 0; i < b; ++i) {
        const std::int64_t length = lengths[i].item<std::int64_t>();
        for (std::int64_t m = 0; m < o.freqMasks; ++m) {
            const std::int64_t width = draw(std::min(o.freqWidth, dim));
            const std::int64_t start = draw(dim - width);
            if (width > 0) features[i].narrow(0, 0, length).narrow(1, start, width).zero_();
        }
        for (std::int64_t m = 0; m < o.timeMasks; ++m) {
            const std::int64_t width = draw(std::min(o.timeWidth, length));
            const std::int64_t start = draw(length - width);
            if (width > 0) features[i].narrow(0, start, width).zero_();
        }
    }
    return features;
}

} // namespace losslab::speech
