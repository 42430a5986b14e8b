#include "losslab/data/text/vocabulary.h"

#include <algorithm>
#include <deque>

#include "losslab/error.h"

namespace losslab {

Vocabulary::Vocabulary() : m_tokens{"<pad>", "<unk>"}, m_counts{0, 0} {}

Vocabulary::Vocabulary(const Vocabulary& other) : m_tokens(other.m_tokens), m_counts(other.m_counts) {
    rebuildIndex();
}

Vocabulary& Vocabulary::operator=(const Vocabulary& other) {
    if (this != &other) {
        m_tokens = other.m_tokens;
        m_counts = other.m_counts;
        rebuildIndex();
    }
    return *this;
}

void Vocabulary::rebuildIndex() {
    m_index.clear();
    m_index.reserve(m_tokens.size());
    for (std::size_t i = static_cast<std::size_t>(kFirstWordId); i < m_tokens.size(); ++i)
        m_index.emplace(m_tokens[i], static_cast<std::int32_t>(i));
}

Vocabulary Vocabulary::fromCounts(const std::vector<std::pair<std::string, std::int64_t>>& counts,
                                  const VocabularyOptions& options) {
    std::unordered_map<std::string, std::int64_t> merged;
    for (const auto& [word, n] : counts)
        merged[word] += n;
    std::vector<std::pair<std::string, std::int64_t>> kept;
    for (auto& [word, n] : merged)
        if (n >= options.minCount && !word.empty())
            kept.emplace_back(word, n);
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (options.maxWords > 0 && kept.size() > options.maxWords)
        kept.resize(options.maxWords);

    Vocabulary vocabulary;
    vocabulary.m_tokens.reserve(kept.size() + 2);
    vocabulary.m_counts.reserve(kept.size() + 2);
    for (auto& [word, n] : kept) {
        vocabulary.m_tokens.push_back(std::move(word));
        vocabulary.m_counts.push_back(n);
    }
    vocabulary.rebuildIndex();
    return vocabulary;
}

Vocabulary Vocabulary::fromExamples(const std::vector<TextExample>& train, const WordTokenizer& tokenizer,
                                    const VocabularyOptions& options) {
    // Keys are views into `storage` (a deque never moves its elements), so counting a token
    // already seen allocates nothing.
    std::deque<std::string> storage;
    std::unordered_map<std::string_view, std::int64_t> counts;
    std::string lowered;
    std::vector<std::string_view> tokens;
    auto countText = [&](const std::string& text) {
        tokenizer.tokenizeInto(text, lowered, tokens);
        for (std::string_view token : tokens) {
            const auto it = counts.find(token);
            if (it != counts.end()) {
                ++it->second;
            } else {
                storage.emplace_back(token);
                counts.emplace(storage.back(), 1);
            }
        }
    };
    for (const TextExample& example : train) {
        countText(example.textA);
        countText(example.textB);
    }
    std::vector<std::pair<std::string, std::int64_t>> list;
    list.reserve(counts.size());
    for (const auto& [word, n] : counts)
        list.emplace_back(std::string(word), n);
    return fromCounts(list, options);
}

std::int32_t Vocabulary::id(std::string_view token) const {
    const auto it = m_index.find(token);
    return it == m_index.end() ? kOovId : it->second;
}

const std::string& Vocabulary::token(std::int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= m_tokens.size())
        throw Error("vocabulary id " + std::to_string(id) + " out of range; expected 0 to "
                    + std::to_string(m_tokens.size() - 1));
    return m_tokens[static_cast<std::size_t>(id)];
}

std::int64_t Vocabulary::count(std::int32_t id) const {
    token(id); // range check
    return m_counts[static_cast<std::size_t>(id)];
}

std::vector<std::int32_t> Vocabulary::encode(std::string_view text, const WordTokenizer& tokenizer) const {
    std::string lowered;
    std::vector<std::string_view> tokens;
    tokenizer.tokenizeInto(text, lowered, tokens);
    std::vector<std::int32_t> ids;
    ids.reserve(tokens.size());
    appendIds(tokens, ids);
    return ids;
}

void Vocabulary::appendIds(const std::vector<std::string_view>& tokens, std::vector<std::int32_t>& ids) const {
    for (std::string_view token : tokens)
        ids.push_back(id(token));
}

} // namespace losslab
