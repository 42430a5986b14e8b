#include "losslab/data/text/char_corpus.h"

#include <array>
#include <filesystem>

#include "losslab/error.h"
#include "text_file.h"

namespace losslab {

namespace {

namespace fs = std::filesystem;

std::string byteName(int byte) {
    if (byte >= 0x20 && byte < 0x7F)
        return std::string(1, static_cast<char>(byte));
    static const char* kHex = "0123456789ABCDEF";
    return std::string("0x") + kHex[byte >> 4] + kHex[byte & 0xF];
}

// For messages: "\"A\" (0x41)" or "0x0A".
std::string describeByte(int byte) {
    static const char* kHex = "0123456789ABCDEF";
    const std::string hex = std::string("0x") + kHex[byte >> 4] + kHex[byte & 0xF];
    if (byte >= 0x20 && byte < 0x7F)
        return "\"" + std::string(1, static_cast<char>(byte)) + "\" (" + hex + ")";
    return hex;
}

const char* fileName(CharCorpusKind kind) {
    return kind == CharCorpusKind::Text8 ? "text8" : "enwik8";
}

} // namespace

CharSplitSizes CharCorpus::splitSizes(std::size_t symbols, const std::string& path) {
    if (symbols < kMinSymbols)
        throw Error(path + ": " + std::to_string(symbols) + " symbols; a character corpus needs at least "
                    + std::to_string(kMinSymbols) + " so that the 5% validation and test parts get one each");
    CharSplitSizes sizes;
    if (symbols >= kStandardSymbols) {
        sizes.train = kStandardTrain;
        sizes.valid = kStandardHeldOut;
        sizes.test = kStandardHeldOut;
        sizes.unused = symbols - kStandardSymbols;
        return sizes;
    }
    sizes.valid = symbols * 5 / 100;
    sizes.test = sizes.valid;
    sizes.train = symbols - sizes.valid - sizes.test;
    return sizes;
}

CharCorpus CharCorpus::read(const std::string& path, CharCorpusKind kind) {
    std::string bytes = Internal::readWholeFile(path, std::string(fileName(kind)) + " file");
    const CharSplitSizes sizes = splitSizes(bytes.size(), path);

    CharCorpus corpus;
    corpus.m_kind = kind;
    corpus.m_source = path;
    if (sizes.unused > 0)
        corpus.m_warnings.push_back(path + ": " + std::to_string(bytes.size()) + " symbols; the standard split uses"
                                    " the first 100,000,000, so the last " + std::to_string(sizes.unused)
                                    + " are left out");

    // byte -> class id; -1 = not a class.
    std::array<int, 256> idOf;
    idOf.fill(-1);
    if (kind == CharCorpusKind::Text8) {
        idOf[' '] = 0;
        corpus.m_classNames.push_back(" ");
        corpus.m_classBytes.push_back(' ');
        for (int c = 'a'; c <= 'z'; ++c) {
            idOf[static_cast<std::size_t>(c)] = c - 'a' + 1;
            corpus.m_classNames.push_back(std::string(1, static_cast<char>(c)));
            corpus.m_classBytes.push_back(c);
        }
        for (std::size_t i = 0; i < sizes.train + sizes.valid + sizes.test; ++i) {
            const auto byte = static_cast<unsigned char>(bytes[i]);
            if (idOf[byte] < 0)
                throw Error(path + ": byte offset " + std::to_string(i) + " holds " + describeByte(byte)
                            + "; text8 has only the letters a-z and space (27 symbols), no line ends");
        }
    } else {
        std::array<bool, 256> inTrain{};
        for (std::size_t i = 0; i < sizes.train; ++i)
            inTrain[static_cast<unsigned char>(bytes[i])] = true;
        for (int b = 0; b < 256; ++b) {
            if (!inTrain[static_cast<std::size_t>(b)])
                continue;
            idOf[static_cast<std::size_t>(b)] = static_cast<int>(corpus.m_classBytes.size());
            corpus.m_classBytes.push_back(b);
            corpus.m_classNames.push_back(byteName(b));
        }
        bool unseen = false;
        for (std::size_t i = sizes.train; i < sizes.train + sizes.valid + sizes.test; ++i)
            unseen = unseen || idOf[static_cast<unsigned char>(bytes[i])] < 0;
        if (unseen) {
            const int unseenId = static_cast<int>(corpus.m_classBytes.size());
            for (int& id : idOf)
                if (id < 0)
                    id = unseenId;
            corpus.m_classBytes.push_back(-1);
            corpus.m_classNames.push_back("<unseen>");
            corpus.m_warnings.push_back(path + ": the validation or test part holds bytes that the training part"
                                        " lacks; they share the class \"<unseen>\"");
        }
    }

    // Map in place, then copy the three parts out; the corpus is at most 100 MB.
    const std::size_t used = sizes.train + sizes.valid + sizes.test;
    for (std::size_t i = 0; i < used; ++i)
        bytes[i] = static_cast<char>(idOf[static_cast<unsigned char>(bytes[i])]);
    const auto* ids = reinterpret_cast<const std::uint8_t*>(bytes.data());
    corpus.m_train.assign(ids, ids + sizes.train);
    corpus.m_valid.assign(ids + sizes.train, ids + sizes.train + sizes.valid);
    corpus.m_test.assign(ids + sizes.train + sizes.valid, ids + used);
    return corpus;
}

CharCorpus CharCorpus::load(const std::string& folderOrFile, CharCorpusKind kind) {
    std::error_code ec;
    if (fs::is_directory(folderOrFile, ec))
        return read((fs::path(folderOrFile) / fileName(kind)).string(), kind);
    return read(folderOrFile, kind);
}

} // namespace losslab
