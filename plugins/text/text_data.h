#pragma once
// Turns the core's text readers' output (losslab/data/text) into the tensors the text models
// train on.
//   Word tasks: features int32 [N, W] token ids (0 = padding), lengths int64 [N] (each >= 1:
//   an empty text is one padding token), labels int64 [N]; pairs also features2/lengths2.
//   W is the longest training text after truncation to maxLength (0: no truncation);
//   longer dev/test texts are cut to W, as the paper sets the maximum length from the
//   training set (Table 10).
//   Character tasks: non-overlapping windows of `context` symbols: features uint8 [N, T]
//   (symbols i*T .. i*T+T-1) and labels uint8 [N, T] (the next symbol at each position).
#include <cstdint>
#include <string>

#include <torch/types.h>

#include "losslab/data/tensor_split.h"
#include "losslab/data/text/char_corpus.h"
#include "losslab/data/text/text_examples.h"
#include "losslab/data/text/vocabulary.h"

namespace losslab::text {

struct WordEncoding {
    std::int64_t maxLength = 0; // truncate texts to this many tokens; 0 = the longest
    VocabularyOptions vocabulary;
};

struct EncodedTextData {
    Vocabulary vocabulary;
    TensorSplit train, dev, test;
    std::int64_t width = 0; // W above
    std::int64_t truncated = 0; // training texts cut to W
};

// Builds the vocabulary from data.train and encodes train, dev and test (when present and
// labelled) with it.
EncodedTextData encodeTextData(const TextDataSet& data, const WordEncoding& encoding);

// Windows of one split of a character corpus (comment above). Fewer than context + 1
// symbols give zero windows.
TensorSplit charWindows(const std::vector<std::uint8_t>& symbols, std::int64_t context);

// Pretrained word vectors from a GloVe-format text file ("word v1 v2 ... vD" per line,
// space-separated; a first line "count dim" as word2vec's text format writes is skipped).
// Returns [vocabulary.size(), dim] float, rows of words the file lacks zero, and sets `found`
// [vocabulary.size()] bool. A line with another number of values than dim, or a value that is
// not a number, is an Error naming the file and the line.
torch::Tensor readWordVectors(const std::string& path, const Vocabulary& vocabulary, std::int64_t dim,
                              torch::Tensor& found);

} // namespace losslab::text
