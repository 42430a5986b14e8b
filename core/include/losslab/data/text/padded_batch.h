#pragma once
// A batch of token-id sequences padded to one width, as plain vectors laid out row-major
// [batchSize, width], ready to wrap as int64 / bool tensors without a copy per row.
// Positions past a sequence's length hold Vocabulary::kPaddingId and mask 0.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace losslab {

struct PaddedBatch {
    std::size_t batchSize = 0;
    std::size_t width = 0;              // the longest (truncated) length, at least 1
    std::vector<std::int64_t> ids;      // batchSize * width
    std::vector<std::uint8_t> mask;     // batchSize * width; 1 = a real token
    std::vector<std::int64_t> lengths;  // batchSize; after truncation, may be 0

    std::int64_t idAt(std::size_t row, std::size_t column) const { return ids[row * width + column]; }
    bool maskAt(std::size_t row, std::size_t column) const { return mask[row * width + column] != 0; }
};

// Pads `sequences` (keeping their order) to the longest one. maxLength > 0 truncates longer
// sequences to their first maxLength ids (the paper's BERT recipe uses 128). The width is at
// least 1 even when every sequence is empty, so the batch never has a zero-sized dimension.
PaddedBatch padBatch(const std::vector<std::vector<std::int32_t>>& sequences, std::size_t maxLength = 0);

} // namespace losslab
