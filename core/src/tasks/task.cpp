#include "losslab/tasks/task.h"

#include <algorithm>

namespace losslab {

std::vector<torch::Tensor> shuffledBatches(std::int64_t rows, std::int64_t batchSize, at::Generator& gen) {
    const torch::Tensor order = torch::randperm(rows, gen, torch::TensorOptions().dtype(torch::kLong));
    std::vector<torch::Tensor> batches;
    if (batchSize <= 0) return batches;
    batches.reserve(static_cast<std::size_t>((rows + batchSize - 1) / batchSize));
    for (std::int64_t start = 0; start < rows; start += batchSize)
        batches.push_back(order.slice(0, start, std::min(rows, start + batchSize)));
    return batches;
}

std::vector<torch::Tensor> InputTransform::batchOrder(const TensorSplit& train, std::int64_t batchSize,
                                                      at::Generator& gen) const {
    return shuffledBatches(train.size(), batchSize, gen);
}

void Task::prepareModel(ClassifierModule&, const DataBundle&, const ParamSet&) const {}

} // namespace losslab
