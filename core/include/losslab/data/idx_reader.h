#pragma once
// Readers for the IDX format (MNIST, Fashion-MNIST), plain or gzip-compressed.
// Sizes are checked against the file before anything is allocated; every failure throws
// Error naming the file and what was wrong (magic, truncation, dimensions, label range).
#include <string>

#include <torch/types.h>

#include "losslab/data/tensor_split.h"

namespace losslab {

// Reads an IDX file holding unsigned bytes (type code 0x08). Returns a uint8 CPU tensor
// with the file's dimensions. `path` ending in ".gz" is decompressed (also detected by magic).
torch::Tensor readIdxUint8(const std::string& path);

// Reads images (idx3, [N, rows, cols]) and labels (idx1, [N]); checks that the counts agree
// and every label is below numClasses. Returns features [N, 1, rows, cols] uint8 and labels int64.
TensorSplit readIdxImagesAndLabels(const std::string& imagesPath, const std::string& labelsPath,
                                   std::int64_t numClasses);

// Finds "<root>/<stem>" or "<root>/<stem>.gz" (either spelling of MNIST's names:
// "train-images-idx3-ubyte" and "train-images.idx3-ubyte"). Throws Error listing the
// paths tried when none exists.
std::string findIdxFile(const std::string& root, const std::string& stem);

} // namespace losslab
