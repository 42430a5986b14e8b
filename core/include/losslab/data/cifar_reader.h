#pragma once
// Reader for the CIFAR-10 binary version: records of 1 label byte + 3072 pixel bytes
// (3 x 32 x 32, channel-major). Throws Error naming the file when its size is not a
// multiple of 3073 or a label is out of range.
#include <string>
#include <vector>

#include "losslab/data/tensor_split.h"

namespace losslab {

constexpr std::int64_t kCifarRecordBytes = 3073;

// features [N, 3, 32, 32] uint8, labels [N] int64.
TensorSplit readCifar10Files(const std::vector<std::string>& paths);

// <root>/data_batch_1.bin .. data_batch_5.bin and <root>/test_batch.bin. Also accepts the
// folder above (".../cifar-10-batches-bin" inside root). Missing files: Error listing them.
DataBundle loadCifar10(const std::string& root);

} // namespace losslab
