#include "losslab/data/text/padded_batch.h"

#include <algorithm>

#include "losslab/data/text/vocabulary.h"

namespace losslab {

PaddedBatch padBatch(const std::vector<std::vector<std::int32_t>>& sequences, std::size_t maxLength) {
    PaddedBatch batch;
    batch.batchSize = sequences.size();
    batch.lengths.reserve(sequences.size());
    std::size_t width = 1;
    for (const auto& sequence : sequences) {
        const std::size_t length = maxLength > 0 ? std::min(sequence.size(), maxLength) : sequence.size();
        batch.lengths.push_back(static_cast<std::int64_t>(length));
        width = std::max(width, length);
    }
    batch.width = width;
    batch.ids.assign(batch.batchSize * width, Vocabulary::kPaddingId);
    batch.mask.assign(batch.batchSize * width, 0);
    for (std::size_t row = 0; row < sequences.size(); ++row) {
        const auto length = static_cast<std::size_t>(batch.lengths[row]);
        std::copy(sequences[row].begin(), sequences[row].begin() + static_cast<std::ptrdiff_t>(length),
                  batch.ids.begin() + static_cast<std::ptrdiff_t>(row * width));
        std::fill_n(batch.mask.begin() + static_cast<std::ptrdiff_t>(row * width), length, std::uint8_t{1});
    }
    return batch;
}

} // namespace losslab
