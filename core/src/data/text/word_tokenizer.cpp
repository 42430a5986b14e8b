#include "losslab/data/text/word_tokenizer.h"

#include <array>
#include <cstdint>

namespace losslab {

namespace {

enum class CharClass : std::uint8_t { Word, Space, Punctuation };

// A table: the tokeniser runs over every text of a 400k-pair data set.
constexpr std::array<CharClass, 256> makeClasses() {
    std::array<CharClass, 256> classes{};
    for (int c = 0; c < 256; ++c) {
        CharClass kind = CharClass::Word; // letters, digits, bytes >= 0x80 (UTF-8 sequences)
        if (c <= 0x20 || c == 0x7F)
            kind = CharClass::Space;
        else if ((c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~'))
            kind = CharClass::Punctuation;
        classes[static_cast<std::size_t>(c)] = kind;
    }
    return classes;
}

constexpr std::array<CharClass, 256> kClasses = makeClasses();

} // namespace

void WordTokenizer::tokenizeInto(std::string_view text, std::string& lowered,
                                 std::vector<std::string_view>& tokens) const {
    lowered.assign(text);
    tokens.clear();
    for (char& c : lowered)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    const std::string_view all(lowered);
    const std::size_t n = all.size();
    std::size_t i = 0;
    while (i < n) {
        const CharClass kind = kClasses[static_cast<unsigned char>(all[i])];
        if (kind == CharClass::Space) {
            ++i;
        } else if (kind == CharClass::Punctuation) {
            tokens.push_back(all.substr(i, 1));
            ++i;
        } else {
            const std::size_t start = i;
            while (i < n && kClasses[static_cast<unsigned char>(all[i])] == CharClass::Word)
                ++i;
            tokens.push_back(all.substr(start, i - start));
        }
    }
}

std::vector<std::string> WordTokenizer::tokenize(std::string_view text) const {
    std::string lowered;
    std::vector<std::string_view> views;
    tokenizeInto(text, lowered, views);
    return std::vector<std::string>(views.begin(), views.end());
}

} // namespace losslab
