#include "spm_training.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <system_error>

#include "losslab/error.h"

#ifdef LOSSLAB_HAVE_SENTENCEPIECE
#include <sentencepiece_trainer.h>
#endif

namespace losslab::speech {

std::string trainSentencePieceModel(const std::vector<std::string>& texts, int vocabSize, const std::string& type,
                                    const std::string& dir) {
    namespace fs = std::filesystem;
#ifndef LOSSLAB_HAVE_SENTENCEPIECE
    (void)texts;
    (void)vocabSize;
    (void)type;
    throw Error("cannot train SentencePiece units in " + dir + ": this build has no SentencePiece (install libsentencepiece-dev and rebuild)");
#else
    std::uint64_t hash = 0xcbf29ce484222325ull;
    for (const std::string& t : texts) {
        for (const unsigned char c : t) hash = (hash ^ c) * 0x100000001b3ull;
        hash = (hash ^ '\n') * 0x100000001b3ull;
    }
    char name[64];
    std::snprintf(name, sizeof name, "spm-%s%d-%016llx", type == "bpe" ? "bpe" : "unigram", vocabSize,
                  static_cast<unsigned long long>(hash));
    const fs::path prefix = fs::path(dir) / name;
    const std::string model = prefix.string() + ".model";
    static std::mutex mutex; // two runs of one process never train the same model at once
    std::lock_guard<std::mutex> lock(mutex);
    std::error_code ec;
    if (fs::exists(model, ec)) return model;
    fs::create_directories(dir, ec);
    const std::string tmpPrefix = prefix.string() + ".tmp" + std::to_string(::getpid());
    const std::string input = tmpPrefix + ".txt";
    {
        std::ofstream out(input);
        for (const std::string& t : texts) out << t << '\n';
        if (!out) throw Error("cannot write the SentencePiece training text " + input);
    }
    const std::string modelType = type == "bpe" ? "bpe" : "unigram";
    const std::string args = "--input=" + input + " --model_prefix=" + tmpPrefix + " --model_type=" + modelType + " --vocab_size=" +
                             std::to_string(vocabSize) + " --character_coverage=1.0 --input_sentence_size=100000000 "
                             "--num_threads=1 --minloglevel=2";
    const auto status = sentencepiece::SentencePieceTrainer::Train(args);
    fs::remove(input, ec);
    if (!status.ok()) {
        fs::remove(tmpPrefix + ".model", ec);
        fs::remove(tmpPrefix + ".vocab", ec);
        throw Error("cannot train " + std::to_string(vocabSize) + " SentencePiece units on the training transcripts in " +
                    dir + " (" + std::string(status.message()) + "); set model.spm_units lower or give model.spm_model");
    }
    fs::rename(tmpPrefix + ".model", model, ec);
    if (ec) throw Error("cannot write the SentencePiece model " + model + ": " + ec.message());
    fs::rename(tmpPrefix + ".vocab", prefix.string() + ".vocab", ec);
    return model;
#endif
}

} // namespace losslab::speech
