#pragma once
// Word vocabulary built from the training split only (dev and test words it lacks become the
// OOV id, as they would for a deployed model). Ids:
//   0 = padding ("<pad>"), 1 = out of vocabulary ("<unk>"), 2.. = words, most frequent first.
// Words are kept when they occur at least minCount times; of those, the maxWords most
// frequent. Equal counts are ordered by the word's bytes (ascending), so the same training
// data gives the same ids whatever the order of its rows or of a hash map.
// Immutable once built; reading it from several threads at once is safe.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "losslab/data/text/text_examples.h"
#include "losslab/data/text/word_tokenizer.h"

namespace losslab {

struct VocabularyOptions {
    std::int64_t minCount = 1; // occurrences in the training split a word needs
    std::size_t maxWords = 0;  // most words kept, the two reserved ids not counted; 0 = all
};

class Vocabulary {
public:
    static constexpr std::int32_t kPaddingId = 0;
    static constexpr std::int32_t kOovId = 1;
    static constexpr std::int32_t kFirstWordId = 2;

    Vocabulary(); // the reserved ids only
    Vocabulary(const Vocabulary& other);
    Vocabulary& operator=(const Vocabulary& other);
    Vocabulary(Vocabulary&&) noexcept = default;
    Vocabulary& operator=(Vocabulary&&) noexcept = default;

    // From (word, count) pairs; a word listed twice has its counts added.
    static Vocabulary fromCounts(const std::vector<std::pair<std::string, std::int64_t>>& counts,
                                 const VocabularyOptions& options);
    // Counts the tokens of textA and textB of every example.
    static Vocabulary fromExamples(const std::vector<TextExample>& train, const WordTokenizer& tokenizer,
                                   const VocabularyOptions& options);

    std::size_t size() const { return m_tokens.size(); } // reserved ids included
    std::int32_t id(std::string_view token) const;      // kOovId when absent
    const std::string& token(std::int32_t id) const;    // Error when out of range
    std::int64_t count(std::int32_t id) const;          // training count; 0 for reserved ids

    // The ids of a text's tokens; no padding, no truncation.
    std::vector<std::int32_t> encode(std::string_view text, const WordTokenizer& tokenizer) const;
    // Appends the ids of `tokens` to `ids` (for callers reusing buffers with tokenizeInto).
    void appendIds(const std::vector<std::string_view>& tokens, std::vector<std::int32_t>& ids) const;

private:
    void rebuildIndex();

    std::vector<std::string> m_tokens;
    std::vector<std::int64_t> m_counts;
    // Views into m_tokens: the vector is not changed after building, and moving it keeps the
    // strings where they are; a copy rebuilds the index.
    std::unordered_map<std::string_view, std::int32_t> m_index;
};

} // namespace losslab
