#include "losslab/tasks/packed_lstm.h"

#include <string>
#include <tuple>

#include <torch/nn/utils/rnn.h>

#include "losslab/data/tensor_split.h"
#include "losslab/error.h"

namespace losslab {

torch::Tensor runPackedLstm(torch::nn::LSTM& lstm, const torch::Tensor& x, const torch::Tensor& hostLengths) {
    namespace rnn = torch::nn::utils::rnn;
    if (!hostLengths.defined() || !hostLengths.is_cpu() || hostLengths.dim() != 1 || hostLengths.size(0) != x.size(0))
        throw Error("runPackedLstm: expected the " + std::to_string(x.size(0)) +
                    " lengths of the batch on the CPU (ModelInput::hostLengths)");
    // The order pack_padded_sequence(enforce_sorted = false) runs the rows in: the same sort.
    const auto [sorted, order] = torch::sort(hostLengths.to(torch::kLong), /*dim=*/-1, /*descending=*/true);
    const torch::Tensor toSorted = copyToDevice(order, x.device());
    const torch::Tensor fromSorted = copyToDevice(torch::empty_like(order).scatter_(0, order, torch::arange(order.numel())), x.device());
    const auto [data, batchSizes] = torch::_pack_padded_sequence(x.index_select(0, toSorted), sorted, /*batch_first=*/true);
    const rnn::PackedSequence out =
        std::get<0>(lstm->forward_with_packed_input(rnn::PackedSequence(data, batchSizes, toSorted, fromSorted)));
    // Not pad_packed_sequence: it also puts the lengths back in order, indexing them on the CPU
    // with the device's indices (a wait).
    const torch::Tensor padded =
        std::get<0>(torch::_pad_packed_sequence(out.data(), out.batch_sizes(), /*batch_first=*/true, 0.0, x.size(1)));
    return padded.index_select(0, fromSorted);
}

} // namespace losslab
