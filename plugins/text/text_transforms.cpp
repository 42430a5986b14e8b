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
    torch::Tensor total = train.lengths.cpu();
    if (train.lengths2.defined()) total = total + train.lengths2.cpu();
    return bucketedBatches(total, batchSize, kBucketPool, gen);
}

ModelInput CharTransform::apply(const TensorSplit& batch, bool, at::Generator&) const {
    ModelInput input;
    input.features = batch.features.to(torch::kLong);
    return input;
}

} // namespace losslab::text
