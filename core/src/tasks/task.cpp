#include "losslab/tasks/task.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "losslab/data_error.h"
#include "losslab/error.h"

namespace losslab {

std::string withDataHint(const std::string& message, const TaskInfo& info) {
    return info.dataHint.empty() ? message : message + ". " + info.dataHint;
}

void rethrowDataError(const TaskInfo& info) {
    try {
        throw;
    } catch (const DataNotFoundError& e) {
        throw DataNotFoundError(withDataHint(info.id + ": " + e.what(), info));
    } catch (const Error& e) {
        throw Error(info.id + ": " + e.what());
    }
}

std::string requireDataRoot(const TaskInfo& info, const ParamSet& params) {
    const std::string root = params.has("data.root") ? params.getString("data.root") : std::string();
    if (root.empty()) throw DataNotFoundError(withDataHint(info.id + ": data.root is not set", info));
    std::error_code ec;
    if (!std::filesystem::exists(root, ec)) {
        // A relative folder is read from the folder the program started in: say which, since a
        // run resumed (or a window opened) elsewhere than where it was planned reads another.
        const std::filesystem::path path(root);
        std::string where;
        if (path.is_relative()) {
            const std::filesystem::path cwd = std::filesystem::current_path(ec);
            if (!ec) where = " in " + cwd.string() + " (a relative data.root is read from the folder the program started in)";
        }
        throw DataNotFoundError(
            withDataHint(info.id + ": the data folder '" + root + "' (data.root) does not exist" + where, info));
    }
    return root;
}

std::vector<torch::Tensor> shuffledBatches(std::int64_t rows, std::int64_t batchSize, at::Generator& gen) {
    const torch::Tensor order = torch::randperm(rows, gen, torch::TensorOptions().dtype(torch::kLong));
    std::vector<torch::Tensor> batches;
    if (batchSize <= 0) return batches;
    batches.reserve(static_cast<std::size_t>((rows + batchSize - 1) / batchSize));
    for (std::int64_t start = 0; start < rows; start += batchSize)
        batches.push_back(order.slice(0, start, std::min(rows, start + batchSize)));
    return batches;
}

std::vector<torch::Tensor> bucketedBatches(const torch::Tensor& lengths, std::int64_t batchSize, std::int64_t pool,
                                           at::Generator& gen) {
    const torch::Tensor total = lengths.cpu().to(torch::kLong).contiguous();
    const std::int64_t n = total.size(0);
    const auto* length = total.data_ptr<std::int64_t>();
    const torch::Tensor order = torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kLong));
    const auto* shuffled = order.data_ptr<std::int64_t>();
    std::vector<torch::Tensor> batches;
    if (batchSize <= 0) return batches;
    const std::int64_t poolRows = batchSize * std::max<std::int64_t>(1, pool);
    std::vector<std::int64_t> rows;
    for (std::int64_t start = 0; start < n; start += poolRows) {
        rows.assign(shuffled + start, shuffled + std::min(n, start + poolRows));
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
    const auto* pick = batchOrder.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < batchOrder.size(0); ++i) out.push_back(batches[static_cast<std::size_t>(pick[i])]);
    return out;
}

std::vector<torch::Tensor> InputTransform::batchOrder(const TensorSplit& train, std::int64_t batchSize,
                                                      at::Generator& gen) const {
    return shuffledBatches(train.size(), batchSize, gen);
}

DataBundle Task::loadDataIn(const ParamSet& params, const DataContext&) const { return loadData(params); }

void Task::prepareModel(ClassifierModule&, const DataBundle&, const ParamSet&) const {}

std::unique_ptr<InputTransform> Task::makeTransformFor(const ParamSet& params, const torch::Device& device,
                                                       const DataBundle&) const {
    return makeTransform(params, device);
}

std::unique_ptr<TaskEvaluator> Task::makeEvaluator(const ParamSet&, const std::string&) const { return nullptr; }

} // namespace losslab
