#include "text_transforms.h"

#include <algorithm>
#include <numeric>

namespace losslab::text {

namespace {

// The ids cut to the longest length of the batch, as int64.
torch::Tensor trimmed(const torch::Tensor& ids, const torch::Tensor& lengths) {
    const std::int64_t width = std::max<std::int64_t>(1, lengths.max().item<std::int64_t>());
    return ids.narrow(1, 0, std::min(width, ids.size(1))).to(torch::kLong);
}

} // namespace

ModelInput TokenTransform::apply(const TensorSplit& batch, bool, at::Generator&) const {
    ModelInput input;
    input.features = trimmed(batch.features, batch.lengths);
    input.lengths = batch.lengths;
    if (batch.features2.defined()) {
        input.features2 = trimmed(batch.features2, batch.lengths2);
        input.lengths2 = batch.lengths2;
    }
    return input;
}

std::vector<torch::Tensor> TokenTransform::batchOrder(const TensorSplit& train, std::int64_t batchSize,
                                                      at::Generator& gen) const {
    if (!m_bucket || batchSize <= 0) return InputTransform::batchOrder(train, batchSize, gen);
    const std::int64_t n = train.size();
    torch::Tensor total = train.lengths.cpu();
    if (train.lengths2.defined()) total = total + train.lengths2.cpu();
    const auto* length = total.data_ptr<std::int64_t>();
    const torch::Tensor order = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong));
    const auto* shuffled = order.data_ptr<std::int64_t>();
    std::vector<torch::Tensor> batches;
    const std::int64_t pool = batchSize * kBucketPool;
    std::vector<std::int64_t> rows;
    for (std::int64_t start = 0; start < n; start += pool) {
        rows.assign(shuffled + start, shuffled + std::min(n, start + pool));
        std::stable_sort(rows.begin(), rows.end(), [&](std::int64_t a, std::int64_t b) { return length[a] > length[b]; });
        for (std::size_t b = 0; b < rows.size(); b += static_cast<std::size_t>(batchSize)) {
            const std::size_t end = std::min(rows.size(), b + static_cast<std::size_t>(batchSize));
            std::vector<std::int64_t> part(rows.begin() + static_cast<std::ptrdiff_t>(b),
                                           rows.begin() + static_cast<std::ptrdiff_t>(end));
            batches.push_back(torch::tensor(part, torch::TensorOptions().dtype(torch::kLong)));
        }
    }
    const torch::Tensor batchOrder =
        torch::randperm(static_cast<std::int64_t>(batches.size()), gen, torch::TensorOptions().dtype(torch::kLong));
    std::vector<torch::Tensor> out;
    out.reserve(batches.size());
    for (std::int64_t i = 0; i < batchOrder.size(0); ++i) out.push_back(batches[static_cast<std::size_t>(batchOrder[i].item<std::int64_t>())]);
    return out;
}

ModelInput CharTransform::apply(const TensorSplit& batch, bool, at::Generator&) const {
    ModelInput input;
    input.features = batch.features.to(torch::kLong);
    return input;
}

} // namespace losslab::text
