#include "losslab/metrics/edit_distance.h"

#include <algorithm>
#include <map>

namespace losslab {

double EditCounts::rate() const {
    if (referenceLength == 0) return static_cast<double>(errors());
    return static_cast<double>(errors()) / static_cast<double>(referenceLength);
}

EditCounts& EditCounts::operator+=(const EditCounts& other) {
    substitutions += other.substitutions;
    deletions += other.deletions;
    insertions += other.insertions;
    referenceLength += other.referenceLength;
    return *this;
}

bool EditCounts::operator==(const EditCounts& o) const {
    return substitutions == o.substitutions && deletions == o.deletions && insertions == o.insertions &&
           referenceLength == o.referenceLength;
}

EditCounts editCounts(const std::vector<std::int32_t>& ref, const std::vector<std::int32_t>& hyp) {
    const std::size_t n = ref.size(), m = hyp.size();
    // d[i][j]: edits turning ref[0, i) into hyp[0, j); one row-major table for the walk back.
    std::vector<std::int64_t> d((n + 1) * (m + 1));
    auto at = [&](std::size_t i, std::size_t j) -> std::int64_t& { return d[i * (m + 1) + j]; };
    for (std::size_t i = 0; i <= n; ++i) at(i, 0) = static_cast<std::int64_t>(i);
    for (std::size_t j = 0; j <= m; ++j) at(0, j) = static_cast<std::int64_t>(j);
    for (std::size_t i = 1; i <= n; ++i)
        for (std::size_t j = 1; j <= m; ++j)
            at(i, j) = std::min({at(i - 1, j - 1) + (ref[i - 1] == hyp[j - 1] ? 0 : 1), at(i - 1, j) + 1, at(i, j - 1) + 1});
    EditCounts counts;
    counts.referenceLength = static_cast<std::int64_t>(n);
    std::size_t i = n, j = m;
    while (i > 0 || j > 0) {
        if (i > 0 && j > 0 && at(i, j) == at(i - 1, j - 1) + (ref[i - 1] == hyp[j - 1] ? 0 : 1)) {
            if (ref[i - 1] != hyp[j - 1]) ++counts.substitutions;
            --i;
            --j;
        } else if (i > 0 && at(i, j) == at(i - 1, j) + 1) {
            ++counts.deletions;
            --i;
        } else {
            ++counts.insertions;
            --j;
        }
    }
    return counts;
}

namespace {

bool isSpace(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::vector<std::string_view> words(std::string_view text) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && isSpace(static_cast<unsigned char>(text[i]))) ++i;
        const std::size_t start = i;
        while (i < text.size() && !isSpace(static_cast<unsigned char>(text[i]))) ++i;
        if (i > start) out.push_back(text.substr(start, i - start));
    }
    return out;
}

// The length of the UTF-8 sequence starting at text[i] (1 for an invalid byte).
std::size_t utf8Length(std::string_view text, std::size_t i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + n > text.size()) return 1;
    for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return 1;
    return n;
}

// Units of the two texts as ids shared between them (equal units, equal ids).
class UnitIds {
public:
    std::int32_t id(std::string_view unit) {
        const auto [it, added] = m_ids.emplace(std::string(unit), static_cast<std::int32_t>(m_ids.size()));
        (void)added;
        return it->second;
    }

private:
    std::map<std::string, std::int32_t> m_ids;
};

std::vector<std::int32_t> characterIds(std::string_view text, UnitIds& ids) {
    std::vector<std::int32_t> out;
    bool pendingSpace = false;
    for (const auto word : words(text)) {
        if (pendingSpace) out.push_back(ids.id(" "));
        for (std::size_t i = 0; i < word.size();) {
            const std::size_t n = utf8Length(word, i);
            out.push_back(ids.id(word.substr(i, n)));
            i += n;
        }
        pendingSpace = true;
    }
    return out;
}

} // namespace

EditCounts wordEdits(std::string_view reference, std::string_view hypothesis) {
    UnitIds ids;
    std::vector<std::int32_t> ref, hyp;
    for (const auto w : words(reference)) ref.push_back(ids.id(w));
    for (const auto w : words(hypothesis)) hyp.push_back(ids.id(w));
    return editCounts(ref, hyp);
}

EditCounts characterEdits(std::string_view reference, std::string_view hypothesis) {
    UnitIds ids;
    const std::vector<std::int32_t> ref = characterIds(reference, ids);
    return editCounts(ref, characterIds(hypothesis, ids));
}

} // namespace losslab
