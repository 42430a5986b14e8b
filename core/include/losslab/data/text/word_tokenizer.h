#pragma once
// Word tokenisation for the word-level text models. Rules, applied byte by byte to UTF-8:
//   - ASCII letters are lower-cased; nothing else changes (no Unicode case folding).
//   - ASCII whitespace and control characters separate tokens and are dropped.
//   - Each ASCII punctuation character !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ is a token of its
//     own: "don't" -> don ' t, "U.S." -> u . s .
//   - Letters, digits and every non-ASCII UTF-8 sequence (accented letters, CJK, emoji, and
//     also non-ASCII punctuation such as an em dash) stay inside the word they touch.
// Stateless; safe to use from several threads at once.
#include <string>
#include <string_view>
#include <vector>

namespace losslab {

class WordTokenizer {
public:
    // The tokens of `text`. Allocates one string per token; see tokenizeInto for bulk work.
    std::vector<std::string> tokenize(std::string_view text) const;

    // Allocation-free form for bulk work: `lowered` receives the lower-cased text and
    // `tokens` views into it (valid until `lowered` changes). Both are cleared first, so a
    // caller reusing them across texts keeps their capacity.
    void tokenizeInto(std::string_view text, std::string& lowered, std::vector<std::string_view>& tokens) const;
};

} // namespace losslab
