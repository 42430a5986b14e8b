#pragma once
// Input transforms of the text tasks. Token batches are cut to their longest sequence (so a
// batch of short texts costs what it holds) and made int64; character windows are made
// int64. Neither draws at random, except the word tasks' batch order.
#include <cstdint>

#include "losslab/tasks/task.h"

namespace losslab::text {

// Word tasks. With `bucket`, an epoch's batches hold texts of similar length: the rows are
// shuffled, cut into pools of kBucketPool batches, each pool is sorted by length (longest
// first; pairs by the sum of both lengths, ties by the shuffled order) and cut into batches,
// and the batches are shuffled. Without it, the core's plain shuffled batches.
class TokenTransform : public InputTransform {
public:
    static constexpr std::int64_t kBucketPool = 50;
    explicit TokenTransform(bool bucket) : m_bucket(bucket) {}
    ModelInput apply(const TensorSplit& batch, bool training, at::Generator& gen) const override;
    std::vector<torch::Tensor> batchOrder(const TensorSplit& train, std::int64_t batchSize,
                                          at::Generator& gen) const override;

private:
    bool m_bucket;
};

class CharTransform : public InputTransform {
public:
    ModelInput apply(const TensorSplit& batch, bool training, at::Generator& gen) const override;
};

} // namespace losslab::text
