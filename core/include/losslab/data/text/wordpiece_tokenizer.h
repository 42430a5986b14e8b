#pragma once
// WordPiece tokenisation as BERT does it, for BERT encoders given as a vocab.txt: the
// BasicTokenizer + WordpieceTokenizer of google-research/bert's tokenization.py (which
// Hugging Face's slow BertTokenizer follows), then [CLS] A [SEP] (B [SEP]) framing with
// segment ids, 'longest_first' truncation and optional padding. docs/text-data.md lists
// the known differences from Hugging Face's tokenizer.
//
// Basic tokenisation of a text (code points, after decoding UTF-8; an ill-formed byte is
// dropped, as Python's decode("utf-8", "ignore") in BERT's convert_to_unicode does):
//   1. drop U+0000, U+FFFD and control characters (category Cc or Cf, except \t \n \r);
//      whitespace (space, \t, \n, \r, category Zs) becomes a space;
//   2. put spaces around CJK ideographs (the ranges of BERT's _is_chinese_char);
//   3. split on whitespace (as Python's str.split(): also at U+2028 and U+2029);
//   4. with `lowercase`: lower-case each word with full Unicode case mapping (ICU root
//      locale = Python's str.lower(): U+0130 becomes "i" + U+0307, a word-final capital
//      sigma becomes U+03C2), then NFD and drop combining marks (category Mn);
//   5. split off every punctuation character (category P*, and all ASCII non-letters /
//      non-digits 33-47, 58-64, 91-96, 123-126) as a word of its own.
// Each word then becomes WordPiece pieces: greedy longest match first from its start,
// pieces after the first looked up with a "##" prefix; a word of more than
// maxCharsPerWord code points, or one with a part that matches nothing, becomes [UNK].
//
// Immutable once built; every method is const and keeps no state, so one tokenizer may be
// used from several threads at once. Unicode data comes from ICU (libicuuc).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace losslab {

// A BERT vocab.txt: one token per line, UTF-8 (an optional byte order mark is skipped),
// LF or CRLF line ends; the id of a token is its 0-based line index. The line end after the
// last token is optional (a final empty line is not a token). Errors (losslab::Error) name
// the file, and the line where there is one: missing or unreadable file, invalid UTF-8, a
// carriage return not followed by a line feed, a token listed twice (both lines), no tokens,
// or one of [CLS], [SEP], [PAD], [UNK] absent.
class WordPieceVocabulary {
public:
    static WordPieceVocabulary load(const std::string& path);
    // The same checks on tokens given in memory; `source` names them in messages.
    static WordPieceVocabulary fromTokens(std::vector<std::string> tokens, const std::string& source);

    WordPieceVocabulary(const WordPieceVocabulary& other);
    WordPieceVocabulary& operator=(const WordPieceVocabulary& other);
    WordPieceVocabulary(WordPieceVocabulary&&) noexcept = default;
    WordPieceVocabulary& operator=(WordPieceVocabulary&&) noexcept = default;

    std::size_t size() const { return m_tokens.size(); }
    const std::string& source() const { return m_source; }
    // The id of `token`, or -1 when the vocabulary lacks it.
    std::int32_t find(std::string_view token) const;
    const std::string& token(std::int32_t id) const; // Error when out of range

    std::int32_t clsId() const { return m_cls; }
    std::int32_t sepId() const { return m_sep; }
    std::int32_t padId() const { return m_pad; }
    std::int32_t unkId() const { return m_unk; }
    // The longest token in bytes: no longer candidate piece needs a lookup.
    std::size_t longestTokenBytes() const { return m_longestTokenBytes; }

private:
    WordPieceVocabulary() = default;
    // Indexes m_tokens and finds the special tokens; Error on a duplicate or a missing one.
    // `onLines`: m_tokens came from the lines of a file (messages name lines, not ids).
    void build(bool onLines);

    std::string m_source;
    std::vector<std::string> m_tokens;
    // Views into m_tokens (moving the vector keeps the strings in place; a copy rebuilds).
    std::unordered_map<std::string_view, std::int32_t> m_index;
    std::int32_t m_cls = -1;
    std::int32_t m_sep = -1;
    std::int32_t m_pad = -1;
    std::int32_t m_unk = -1;
    std::size_t m_longestTokenBytes = 0;
};

struct WordPieceOptions {
    bool lowercase = true;            // uncased models; false for cased ones
    std::size_t maxCharsPerWord = 100; // longer words become [UNK] (BERT's max_input_chars_per_word)
};

struct BertEncodeOptions {
    // Most tokens in all, [CLS] and [SEP] included (the paper's recipe: 128); 0 = no limit.
    // A pair is cut one token at a time from the end of the longer part (B when equal).
    // Needs room for the special tokens: at least 2 for one text, 3 for a pair.
    std::size_t maxLength = 128;
    bool pad = false; // pad with [PAD] (segment 0, mask 0) up to maxLength; needs maxLength > 0
};

// One encoded example, all three the same length, int64 as BERT encoders take them.
struct BertEncoding {
    std::vector<std::int64_t> ids;           // [CLS] A [SEP] (B [SEP]) ([PAD]...)
    std::vector<std::int64_t> segmentIds;    // token_type_ids: 0 up to the first [SEP], 1 after
    std::vector<std::int64_t> attentionMask; // 1 = a real token, 0 = padding
    std::size_t length = 0;                  // real tokens, padding not counted
};

class WordPieceTokenizer {
public:
    explicit WordPieceTokenizer(WordPieceVocabulary vocabulary, WordPieceOptions options = {});

    const WordPieceVocabulary& vocabulary() const { return m_vocabulary; }
    const WordPieceOptions& options() const { return m_options; }

    // Steps 1-5 above: the words, before WordPiece (UTF-8).
    std::vector<std::string> basicTokenize(std::string_view text) const;
    // The WordPiece pieces of `text` ("##" prefixes kept, [UNK] for unknown words).
    std::vector<std::string> tokenize(std::string_view text) const;
    // Their ids; no special tokens, no truncation.
    std::vector<std::int32_t> tokenIds(std::string_view text) const;

    // [CLS] A [SEP], truncated and padded as `options` says. Error when maxLength < 2 (or
    // pad with maxLength 0).
    BertEncoding encode(std::string_view textA, const BertEncodeOptions& options = {}) const;
    // [CLS] A [SEP] B [SEP]. Error when maxLength < 3 (or pad with maxLength 0).
    BertEncoding encodePair(std::string_view textA, std::string_view textB,
                            const BertEncodeOptions& options = {}) const;

private:
    void appendWordPieces(const std::string& word, std::vector<std::int32_t>& ids,
                          std::vector<std::string>* pieces) const;
    BertEncoding frame(std::vector<std::int32_t> a, const std::vector<std::int32_t>* b,
                       const BertEncodeOptions& options) const;

    WordPieceVocabulary m_vocabulary;
    WordPieceOptions m_options;
};

} // namespace losslab
