#pragma once
// SentencePiece through its command-line programs (Debian package `sentencepiece`: spm_train,
// spm_encode, spm_export_vocab), run as child processes. Not the library: Debian's
// libsentencepiece carries its own protobuf runtime, which clashes with the one LibTorch loads
// (a version check aborts the process, or its start-up crashes), so LossLab never loads it.
// Every error is a losslab::Error naming the model file or folder and what the program said.
#include <string>
#include <vector>

namespace losslab::speech {

// The pieces of a SentencePiece model in its order (spm_export_vocab), every piece included.
std::vector<std::string> sentencePiecePieces(const std::string& modelFile);

// Each text as pieces (spm_encode --output_format=piece), one child process for all texts.
// Texts must not hold line breaks (transcripts do not).
std::vector<std::vector<std::string>> sentencePieceEncode(const std::string& modelFile, const std::vector<std::string>& texts);

// A model trained on the training transcripts, for a recipe that asks for SentencePiece units
// without giving a model (model.units sentencepiece, model.spm_model empty): ESPnet's recipes
// train one the same way (spm_train --model_type=unigram|bpe --character_coverage=1.0
// --input_sentence_size=100000000; the paper's LibriSpeech row: 1,000 unigram units). The model
// is kept in `dir` under a name made from a hash of the texts, the type and the vocabulary size,
// so every run of the same data set reads the same file; it is trained only when missing.
// SentencePiece's trainer is deterministic for the same input and settings (one thread).
// `type`: "unigram" or "bpe". Returns the model file.
std::string trainSentencePieceModel(const std::vector<std::string>& texts, int vocabSize, const std::string& type,
                                    const std::string& dir);

} // namespace losslab::speech
