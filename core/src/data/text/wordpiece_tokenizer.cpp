#include "losslab/data/text/wordpiece_tokenizer.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>

#include <algorithm>
#include <utility>

#include "losslab/error.h"
#include "text_file.h"

namespace losslab {

namespace {

const char* const kSpecialTokens[] = {"[CLS]", "[SEP]", "[PAD]", "[UNK]"};

// ---- UTF-8 ------------------------------------------------------------------------------

// The code points of `text`. Bytes that are not part of a well-formed sequence are dropped
// one at a time, which drops the same bytes as Python's decode("utf-8", "ignore").
std::u32string decodeUtf8(std::string_view text) {
    std::u32string out;
    out.reserve(text.size());
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = s[i];
        if (c < 0x80) {
            out.push_back(c);
            ++i;
            continue;
        }
        std::size_t length = 0;
        unsigned char low = 0x80, high = 0xBF;
        char32_t cp = 0;
        if (c >= 0xC2 && c <= 0xDF) {
            length = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            length = 3;
            cp = c & 0x0F;
            low = c == 0xE0 ? 0xA0 : 0x80;  // overlong
            high = c == 0xED ? 0x9F : 0xBF; // surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            length = 4;
            cp = c & 0x07;
            low = c == 0xF0 ? 0x90 : 0x80;  // overlong
            high = c == 0xF4 ? 0x8F : 0xBF; // above U+10FFFF
        }
        bool ok = length > 0 && i + length <= n && s[i + 1] >= low && s[i + 1] <= high;
        for (std::size_t k = 2; ok && k < length; ++k)
            ok = s[i + k] >= 0x80 && s[i + k] <= 0xBF;
        if (!ok) {
            ++i;
            continue;
        }
        for (std::size_t k = 1; k < length; ++k)
            cp = (cp << 6) | (s[i + k] & 0x3F);
        out.push_back(cp);
        i += length;
    }
    return out;
}

void appendUtf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string toUtf8(const std::u32string& word) {
    std::string out;
    out.reserve(word.size());
    for (char32_t cp : word)
        appendUtf8(out, cp);
    return out;
}

// ---- BERT's character classes -------------------------------------------------------------

std::uint32_t categoryMask(char32_t cp) {
    return U_GET_GC_MASK(static_cast<UChar32>(cp));
}

// _is_whitespace: \t \n \r are control characters by category but count as whitespace.
bool isBertWhitespace(char32_t cp) {
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || (categoryMask(cp) & U_GC_ZS_MASK) != 0;
}

// _is_control of google-research/bert: Cc or Cf, except the three whitespace controls.
bool isBertControl(char32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r')
        return false;
    return (categoryMask(cp) & (U_GC_CC_MASK | U_GC_CF_MASK)) != 0;
}

// _is_punctuation: every ASCII non-letter, non-digit, non-space character, and category P*.
bool isBertPunctuation(char32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return true;
    return (categoryMask(cp) & U_GC_P_MASK) != 0;
}

// _is_chinese_char: the CJK Unified Ideographs blocks (not Hangul, Hiragana or Katakana).
bool isCjkIdeograph(char32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B820 && cp <= 0x2CEAF) || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// Where Python's str.split() splits the cleaned text: BERT's whitespace has become ' ' and
// the other Python whitespace characters that survive cleaning are U+2028 and U+2029 (the
// rest, U+001C-U+001F and U+0085, are Cc and were dropped).
bool splitsWords(char32_t cp) {
    return cp == ' ' || cp == 0x2028 || cp == 0x2029;
}

// ---- lower-casing and accents (ICU) -------------------------------------------------------

void throwIfIcuFailed(UErrorCode status, const char* what) {
    if (U_FAILURE(status))
        throw Error(std::string("WordPiece tokenizer: ICU ") + what + " failed: " + u_errorName(status));
}

// Runs an ICU "preflighting" function (fills dest, returns the needed length) into `out`.
template <typename F>
void runIcu(std::u16string& out, const char* what, F&& call) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        UErrorCode status = U_ZERO_ERROR;
        const int32_t length = call(out.data(), static_cast<int32_t>(out.size()), &status);
        if (status == U_BUFFER_OVERFLOW_ERROR) {
            out.resize(static_cast<std::size_t>(length));
            continue;
        }
        throwIfIcuFailed(status, what);
        out.resize(static_cast<std::size_t>(length));
        return;
    }
    throw Error(std::string("WordPiece tokenizer: ICU ") + what + " kept asking for a larger buffer");
}

// Python's token.lower() followed by BERT's _run_strip_accents (NFD, drop category Mn).
// Full case mapping in the root locale: what str.lower() does (U+0130 -> i U+0307, final
// sigma by context), never a user's locale (a Turkish locale would map I to dotless i).
std::u32string lowerAndStripAccents(const std::u32string& word) {
    if (std::all_of(word.begin(), word.end(), [](char32_t cp) { return cp < 0x80; })) {
        std::u32string lowered = word;
        for (char32_t& cp : lowered)
            if (cp >= 'A' && cp <= 'Z')
                cp += 'a' - 'A';
        return lowered; // NFD leaves ASCII alone and ASCII has no marks
    }
    std::u16string utf16;
    utf16.reserve(word.size() * 2);
    for (char32_t cp : word) {
        if (cp < 0x10000) {
            utf16.push_back(static_cast<char16_t>(cp));
        } else {
            utf16.push_back(static_cast<char16_t>(U16_LEAD(cp)));
            utf16.push_back(static_cast<char16_t>(U16_TRAIL(cp)));
        }
    }
    std::u16string lowered(utf16.size() + 8, u'\0');
    runIcu(lowered, "lower-casing", [&](UChar* dest, int32_t capacity, UErrorCode* status) {
        return u_strToLower(dest, capacity, utf16.data(), static_cast<int32_t>(utf16.size()), "", status);
    });
    UErrorCode status = U_ZERO_ERROR;
    const UNormalizer2* nfd = unorm2_getNFDInstance(&status);
    throwIfIcuFailed(status, "NFD normaliser");
    std::u16string decomposed(lowered.size() * 2 + 8, u'\0');
    runIcu(decomposed, "NFD normalisation", [&](UChar* dest, int32_t capacity, UErrorCode* s) {
        return unorm2_normalize(nfd, lowered.data(), static_cast<int32_t>(lowered.size()), dest, capacity, s);
    });
    std::u32string out;
    out.reserve(decomposed.size());
    const auto length = static_cast<int32_t>(decomposed.size());
    for (int32_t i = 0; i < length;) {
        UChar32 cp = 0;
        U16_NEXT(decomposed.data(), i, length, cp);
        if ((U_GET_GC_MASK(cp) & U_GC_MN_MASK) == 0)
            out.push_back(static_cast<char32_t>(cp));
    }
    return out;
}

// BERT's BasicTokenizer.tokenize: the words of `text` as code points.
std::vector<std::u32string> basicWords(std::string_view text, bool lowercase) {
    // Clean, space out CJK ideographs.
    std::u32string cleaned;
    const std::u32string decoded = decodeUtf8(text);
    cleaned.reserve(decoded.size() + decoded.size() / 4);
    for (char32_t cp : decoded) {
        if (cp == 0 || cp == 0xFFFD || isBertControl(cp))
            continue;
        if (isBertWhitespace(cp)) {
            cleaned.push_back(' ');
        } else if (isCjkIdeograph(cp)) {
            cleaned.push_back(' ');
            cleaned.push_back(cp);
            cleaned.push_back(' ');
        } else {
            cleaned.push_back(cp);
        }
    }

    std::vector<std::u32string> words;
    std::size_t i = 0;
    while (i < cleaned.size()) {
        while (i < cleaned.size() && splitsWords(cleaned[i]))
            ++i;
        std::size_t end = i;
        while (end < cleaned.size() && !splitsWords(cleaned[end]))
            ++end;
        if (end == i)
            break;
        std::u32string word = cleaned.substr(i, end - i);
        i = end;
        if (lowercase)
            word = lowerAndStripAccents(word);
        // Each punctuation character is a word; the runs between them are words. A word that
        // lost all its characters to accent stripping disappears, as in BERT.
        std::u32string run;
        for (char32_t cp : word) {
            if (isBertPunctuation(cp)) {
                if (!run.empty())
                    words.push_back(std::move(run));
                run.clear();
                words.emplace_back(1, cp);
            } else {
                run.push_back(cp);
            }
        }
        if (!run.empty())
            words.push_back(std::move(run));
    }
    return words;
}

} // namespace

// ---- WordPieceVocabulary --------------------------------------------------------------------

WordPieceVocabulary::WordPieceVocabulary(const WordPieceVocabulary& other)
    : m_source(other.m_source), m_tokens(other.m_tokens) {
    build(false);
}

WordPieceVocabulary& WordPieceVocabulary::operator=(const WordPieceVocabulary& other) {
    if (this != &other) {
        m_source = other.m_source;
        m_tokens = other.m_tokens;
        build(false);
    }
    return *this;
}

WordPieceVocabulary WordPieceVocabulary::load(const std::string& path) {
    const std::string bytes = Internal::readWholeFile(path, "WordPiece vocabulary");
    Internal::requireUtf8(bytes, path);
    const std::string_view text = std::string_view(bytes).substr(Internal::bomLength(bytes));

    WordPieceVocabulary vocabulary;
    vocabulary.m_source = path;
    std::size_t start = 0;
    std::size_t line = 1;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        const bool last = end == std::string_view::npos;
        if (last)
            end = text.size();
        std::string_view token = text.substr(start, end - start);
        if (!token.empty() && token.back() == '\r')
            token.remove_suffix(1);
        // Python's text mode (which load_vocab uses) would end a line at a lone CR and shift
        // every later id; refuse rather than guess.
        if (token.find('\r') != std::string_view::npos)
            throw Error(path + ":" + std::to_string(line)
                        + ": carriage return inside a line; expected LF or CRLF line ends");
        vocabulary.m_tokens.emplace_back(token);
        start = end + 1;
        ++line;
    }
    if (vocabulary.m_tokens.empty())
        throw Error(path + ": no tokens; expected a BERT vocab.txt, one token per line");
    vocabulary.build(true);
    return vocabulary;
}

WordPieceVocabulary WordPieceVocabulary::fromTokens(std::vector<std::string> tokens, const std::string& source) {
    if (tokens.empty())
        throw Error(source + ": no tokens; expected a BERT vocabulary");
    WordPieceVocabulary vocabulary;
    vocabulary.m_source = source;
    vocabulary.m_tokens = std::move(tokens);
    vocabulary.build(false);
    return vocabulary;
}

void WordPieceVocabulary::build(bool onLines) {
    m_index.clear();
    m_index.reserve(m_tokens.size());
    m_longestTokenBytes = 0;
    for (std::size_t i = 0; i < m_tokens.size(); ++i) {
        const auto [it, inserted] = m_index.emplace(m_tokens[i], static_cast<std::int32_t>(i));
        if (!inserted) {
            const auto first = static_cast<std::size_t>(it->second);
            if (onLines)
                throw Error(m_source + ":" + std::to_string(i + 1) + ": token " + Internal::quoteForMessage(m_tokens[i])
                            + " already on line " + std::to_string(first + 1)
                            + "; expected each token once (a token's id is its line index)");
            throw Error(m_source + ": token " + Internal::quoteForMessage(m_tokens[i]) + " at ids "
                        + std::to_string(first) + " and " + std::to_string(i) + "; expected each token once");
        }
        m_longestTokenBytes = std::max(m_longestTokenBytes, m_tokens[i].size());
    }
    std::string missing;
    std::int32_t* const ids[] = {&m_cls, &m_sep, &m_pad, &m_unk};
    for (std::size_t k = 0; k < 4; ++k) {
        *ids[k] = find(kSpecialTokens[k]);
        if (*ids[k] < 0)
            missing += std::string(missing.empty() ? "" : ", ") + kSpecialTokens[k];
    }
    if (!missing.empty())
        throw Error(m_source + ": lacks " + missing
                    + "; expected BERT's special tokens [CLS], [SEP], [PAD] and [UNK], each on a line of its own");
}

std::int32_t WordPieceVocabulary::find(std::string_view token) const {
    const auto it = m_index.find(token);
    return it == m_index.end() ? -1 : it->second;
}

const std::string& WordPieceVocabulary::token(std::int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= m_tokens.size())
        throw Error(m_source + ": token id " + std::to_string(id) + " out of range; expected 0 to "
                    + std::to_string(m_tokens.size() - 1));
    return m_tokens[static_cast<std::size_t>(id)];
}

// ---- WordPieceTokenizer ---------------------------------------------------------------------

WordPieceTokenizer::WordPieceTokenizer(WordPieceVocabulary vocabulary, WordPieceOptions options)
    : m_vocabulary(std::move(vocabulary)), m_options(options) {}

std::vector<std::string> WordPieceTokenizer::basicTokenize(std::string_view text) const {
    std::vector<std::string> out;
    for (const std::u32string& word : basicWords(text, m_options.lowercase))
        out.push_back(toUtf8(word));
    return out;
}

void WordPieceTokenizer::appendWordPieces(const std::string& word, std::vector<std::int32_t>& ids,
                                          std::vector<std::string>* pieces) const {
    // Byte offsets of the code point starts, and the end.
    std::vector<std::size_t> bounds;
    for (std::size_t i = 0; i < word.size(); ++i)
        if ((static_cast<unsigned char>(word[i]) & 0xC0) != 0x80)
            bounds.push_back(i);
    const std::size_t chars = bounds.size();
    bounds.push_back(word.size());
    const std::int32_t unk = m_vocabulary.unkId();
    auto unknown = [&] {
        ids.push_back(unk);
        if (pieces)
            pieces->push_back(m_vocabulary.token(unk));
    };
    if (chars > m_options.maxCharsPerWord) {
        unknown();
        return;
    }
    const std::size_t firstId = ids.size();
    const std::size_t firstPiece = pieces ? pieces->size() : 0;
    std::string key;
    std::size_t start = 0;
    while (start < chars) {
        std::int32_t found = -1;
        std::size_t end = chars;
        // A candidate longer than every token cannot match.
        while (end > start && bounds[end] - bounds[start] > m_vocabulary.longestTokenBytes())
            --end;
        for (; end > start; --end) {
            key.assign(start > 0 ? "##" : "");
            key.append(word, bounds[start], bounds[end] - bounds[start]);
            found = m_vocabulary.find(key);
            if (found >= 0)
                break;
        }
        if (found < 0) {
            // One part matches nothing: the whole word is unknown.
            ids.resize(firstId);
            if (pieces)
                pieces->resize(firstPiece);
            unknown();
            return;
        }
        ids.push_back(found);
        if (pieces)
            pieces->push_back(key);
        start = end;
    }
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
    std::vector<std::int32_t> ids;
    std::vector<std::string> pieces;
    for (const std::u32string& word : basicWords(text, m_options.lowercase))
        appendWordPieces(toUtf8(word), ids, &pieces);
    return pieces;
}

std::vector<std::int32_t> WordPieceTokenizer::tokenIds(std::string_view text) const {
    std::vector<std::int32_t> ids;
    for (const std::u32string& word : basicWords(text, m_options.lowercase))
        appendWordPieces(toUtf8(word), ids, nullptr);
    return ids;
}

BertEncoding WordPieceTokenizer::encode(std::string_view textA, const BertEncodeOptions& options) const {
    return frame(tokenIds(textA), nullptr, options);
}

BertEncoding WordPieceTokenizer::encodePair(std::string_view textA, std::string_view textB,
                                            const BertEncodeOptions& options) const {
    const std::vector<std::int32_t> b = tokenIds(textB);
    return frame(tokenIds(textA), &b, options);
}

BertEncoding WordPieceTokenizer::frame(std::vector<std::int32_t> a, const std::vector<std::int32_t>* pairB,
                                       const BertEncodeOptions& options) const {
    const std::size_t specials = pairB ? 3 : 2;
    if (options.maxLength > 0 && options.maxLength < specials)
        throw Error("BERT encoding: maxLength " + std::to_string(options.maxLength) + " leaves no room for "
                    + (pairB ? "[CLS] and two [SEP]" : "[CLS] and [SEP]") + "; expected at least "
                    + std::to_string(specials));
    if (options.pad && options.maxLength == 0)
        throw Error("BERT encoding: padding needs a maxLength to pad to; expected maxLength > 0");
    std::vector<std::int32_t> b = pairB ? *pairB : std::vector<std::int32_t>{};
    if (options.maxLength > 0) {
        // Hugging Face's 'longest_first' (and BERT's _truncate_seq_pair): one token at a time
        // from the end of the longer part, from B when they are equally long.
        const std::size_t budget = options.maxLength - specials;
        while (a.size() + b.size() > budget) {
            if (a.size() > b.size())
                a.pop_back();
            else
                b.pop_back();
        }
    }

    BertEncoding encoding;
    const std::size_t length = a.size() + b.size() + specials;
    const std::size_t width = options.pad ? options.maxLength : length;
    encoding.ids.reserve(width);
    encoding.segmentIds.reserve(width);
    encoding.ids.push_back(m_vocabulary.clsId());
    encoding.ids.insert(encoding.ids.end(), a.begin(), a.end());
    encoding.ids.push_back(m_vocabulary.sepId());
    encoding.segmentIds.assign(encoding.ids.size(), 0);
    if (pairB) {
        encoding.ids.insert(encoding.ids.end(), b.begin(), b.end());
        encoding.ids.push_back(m_vocabulary.sepId());
        encoding.segmentIds.resize(encoding.ids.size(), 1);
    }
    encoding.length = length;
    encoding.attentionMask.assign(length, 1);
    encoding.ids.resize(width, m_vocabulary.padId());
    encoding.segmentIds.resize(width, 0);
    encoding.attentionMask.resize(width, 0);
    return encoding;
}

} // namespace losslab
