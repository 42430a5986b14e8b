#include "losslab/data/tensor_split.h"

namespace losslab {

namespace {

// lengths and the pair members are optional (sequence and pair tasks only), so every member is carried only if present.
torch::Tensor selectRows(const torch::Tensor& t, const torch::Tensor& idx) {
    return t.defined() ? t.index_select(0, idx) : t;
}

torch::Tensor moveTo(const torch::Tensor& t, const torch::Device& device) {
    return t.defined() ? t.to(device) : t;
}

} // namespace

torch::Tensor copyToDevice(const torch::Tensor& cpu, const torch::Device& device) {
    if (!cpu.defined() || !device.is_cuda() || !cpu.is_cpu()) return cpu.defined() ? cpu.to(device) : cpu;
    // The caching host allocator keeps the pinned block until the copy has run.
    return cpu.pin_memory().to(device, /*non_blocking=*/true);
}

TensorSplit TensorSplit::index(const torch::Tensor& idx) const { return index(idx, idx); }

TensorSplit TensorSplit::index(const torch::Tensor& idx, const torch::Tensor& hostIdx) const {
    auto rows = [&](const torch::Tensor& t) {
        return selectRows(t, !t.defined() || t.device() == idx.device() ? idx : hostIdx);
    };
    TensorSplit out;
    out.features = rows(features);
    out.labels = rows(labels);
    out.lengths = rows(lengths);
    out.features2 = rows(features2);
    out.lengths2 = rows(lengths2);
    return out;
}

TensorSplit TensorSplit::to(const torch::Device& device) const {
    TensorSplit out;
    out.features = moveTo(features, device);
    out.labels = moveTo(labels, device);
    out.lengths = moveTo(lengths, device);
    out.features2 = moveTo(features2, device);
    out.lengths2 = moveTo(lengths2, device);
    return out;
}

} // namespace losslab
