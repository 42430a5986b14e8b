#pragma once
// An LSTM over a padded batch of sequences of different lengths (plugin API 6), for task
// plugins' models: LibTorch's packed sequences take the lengths on the CPU, and its
// pack_padded_sequence and pad_packed_sequence each make the host wait for the device on a GPU
// (a plain copy of the sort order to the device; the lengths reordered with device indices).
#include <torch/nn/modules/rnn.h>
#include <torch/types.h>

namespace losslab {

// lstm (batch_first) over x [B, T, I] whose row b holds hostLengths[b] real steps ->
// [B, T, D * H], zeros past each length. hostLengths: [B] integers on the CPU
// (ModelInput::hostLengths), each in 1..T. The same values as
// pad_packed_sequence(lstm(pack_padded_sequence(x, lengths, true, false)), true, 0, T), but the
// host never waits for the device. Rows are run longest first and returned in their order.
torch::Tensor runPackedLstm(torch::nn::LSTM& lstm, const torch::Tensor& x, const torch::Tensor& hostLengths);

} // namespace losslab
