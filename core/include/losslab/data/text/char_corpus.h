#pragma once
// Character-level corpora for next-symbol prediction: text8 (the single file "text8": only
// the 27 symbols a-z and space) and enwik8 (the single file "enwik8": raw bytes of a
// Wikipedia XML dump). Each position's next symbol is a class.
//
// Split: the standard one, first 90,000,000 / next 5,000,000 / last 5,000,000 symbols, when
// the file holds exactly 100,000,000 (both corpora as shipped). A smaller file (a fixture, a
// sample) is split in the same proportions: valid = test = floor(n * 5 / 100) symbols taken
// from the end, train = the rest; it needs at least 20 symbols. A larger file is split
// 90M / 5M / 5M and the symbols after the first 100M are left out, with a warning.
//
// Class ids:
//   text8:  space = 0, 'a'..'z' = 1..26 (27 classes). Any other byte, a line end included,
//           is an error naming its byte offset.
//   enwik8: the byte values that occur in the training split, in increasing byte order
//           (ids 0..k-1). When valid or test hold a byte that train lacks, one more id k
//           ("unseen byte") is added and those bytes map to it, so no split is dropped.
//           The paper's Table 9 gives 204 classes for enwik8 (others quote 205); the count
//           here is whatever the file gives - classNames().size() - not a constant.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace losslab {

enum class CharCorpusKind { Text8, Enwik8 };

struct CharSplitSizes {
    std::size_t train = 0;
    std::size_t valid = 0;
    std::size_t test = 0;
    std::size_t unused = 0; // past the first 100M symbols of a larger file
};

class CharCorpus {
public:
    static constexpr std::size_t kStandardSymbols = 100'000'000;
    static constexpr std::size_t kStandardTrain = 90'000'000;
    static constexpr std::size_t kStandardHeldOut = 5'000'000;
    static constexpr std::size_t kMinSymbols = 20;
    static constexpr int kText8Classes = 27;

    // The split above for a file of `symbols` symbols. Error when symbols < kMinSymbols.
    static CharSplitSizes splitSizes(std::size_t symbols, const std::string& path = "corpus");

    // Reads the file and maps every symbol to its class id. Errors name the file.
    static CharCorpus read(const std::string& path, CharCorpusKind kind);
    // <folder>/text8 or <folder>/enwik8; also accepts the file's own path.
    static CharCorpus load(const std::string& folderOrFile, CharCorpusKind kind);

    CharCorpusKind kind() const { return m_kind; }
    const std::string& source() const { return m_source; }
    // Class ids per position, one byte each (there are at most 256 classes).
    const std::vector<std::uint8_t>& train() const { return m_train; }
    const std::vector<std::uint8_t>& valid() const { return m_valid; }
    const std::vector<std::uint8_t>& test() const { return m_test; }
    // Name of each class id: the symbol itself ("a", " ") for text8 and printable ASCII,
    // "0xNN" for other bytes, "<unseen>" for the extra enwik8 id.
    const std::vector<std::string>& classNames() const { return m_classNames; }
    std::size_t classCount() const { return m_classNames.size(); }
    // The byte each class id stands for; the "unseen" id has -1.
    const std::vector<int>& classBytes() const { return m_classBytes; }
    const std::vector<std::string>& warnings() const { return m_warnings; }

private:
    CharCorpusKind m_kind = CharCorpusKind::Text8;
    std::string m_source;
    std::vector<std::uint8_t> m_train;
    std::vector<std::uint8_t> m_valid;
    std::vector<std::uint8_t> m_test;
    std::vector<std::string> m_classNames;
    std::vector<int> m_classBytes;
    std::vector<std::string> m_warnings;
};

} // namespace losslab
