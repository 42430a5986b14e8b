#pragma once
// A SentencePiece model trained on the training transcripts, for a recipe that asks for
// SentencePiece units without giving a model (model.units sentencepiece, model.spm_model empty):
// ESPnet's recipes train one the same way (spm_train --model_type=unigram|bpe
// --character_coverage=1.0 --input_sentence_size=100000000; the paper's LibriSpeech row: 1,000
// unigram units). The model is kept in `dir` under a name made from a hash of the texts, the
// type and the vocabulary size, so every run of the same data set reads the same file; it is
// trained only when missing. SentencePiece's trainer is deterministic for the same input and
// settings (one thread).
#include <string>
#include <vector>

namespace losslab::speech {

// The path of the model file. Errors (no SentencePiece in this build, a vocabulary larger than
// the transcripts allow, a folder that cannot be written) are losslab::Error naming the folder.
// `type`: "unigram" or "bpe".
std::string trainSentencePieceModel(const std::vector<std::string>& texts, int vocabSize, const std::string& type,
                                    const std::string& dir);

} // namespace losslab::speech
