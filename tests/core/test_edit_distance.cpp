// Error rates by edit distance (losslab/metrics/edit_distance.h): exact counts on hand-checked
// cases, the tie rule, words and UTF-8 characters.
#include <gtest/gtest.h>

#include "losslab/metrics/edit_distance.h"

using namespace losslab;

namespace {
EditCounts counts(std::int64_t s, std::int64_t d, std::int64_t i, std::int64_t n) {
    EditCounts c;
    c.substitutions = s;
    c.deletions = d;
    c.insertions = i;
    c.referenceLength = n;
    return c;
}
} // namespace

TEST(EditDistance, CountsEachKindOfEdit) {
    EXPECT_EQ(editCounts({1, 2, 3}, {1, 2, 3}), counts(0, 0, 0, 3));
    EXPECT_EQ(editCounts({1, 2, 3}, {1, 9, 3}), counts(1, 0, 0, 3));
    EXPECT_EQ(editCounts({1, 2, 3}, {1, 3}), counts(0, 1, 0, 3));
    EXPECT_EQ(editCounts({1, 3}, {1, 2, 3}), counts(0, 0, 1, 2));
    EXPECT_EQ(editCounts({}, {4, 5}), counts(0, 0, 2, 0));
    EXPECT_EQ(editCounts({4, 5}, {}), counts(0, 2, 0, 2));
    // kitten -> sitting: 2 substitutions and an insertion.
    EXPECT_EQ(editCounts({'k', 'i', 't', 't', 'e', 'n'}, {'s', 'i', 't', 't', 'i', 'n', 'g'}), counts(2, 0, 1, 6));
    // Ties: "1 2" -> "2 1" takes two edits either as two substitutions or as a deletion and
    // an insertion; the walk back prefers substitutions.
    EXPECT_EQ(editCounts({1, 2}, {2, 1}), counts(2, 0, 0, 2));
    // "1 2" -> "3": a substitution and a deletion; walking back from the end, the substitution
    // is taken at the last position.
    EXPECT_EQ(editCounts({1, 2}, {3}), counts(1, 1, 0, 2));
    EXPECT_EQ(editCounts({1, 2, 3, 4}, {1, 3, 4, 5}), counts(0, 1, 1, 4));
}

TEST(EditDistance, RatesAndSums) {
    EXPECT_DOUBLE_EQ(counts(1, 1, 1, 6).rate(), 0.5);
    EXPECT_DOUBLE_EQ(counts(0, 0, 3, 2).rate(), 1.5) << "insertions can push a rate over 1";
    EXPECT_DOUBLE_EQ(counts(0, 0, 0, 0).rate(), 0.0);
    EXPECT_DOUBLE_EQ(counts(0, 0, 2, 0).rate(), 2.0);
    EditCounts total = counts(1, 0, 0, 4);
    total += counts(0, 2, 1, 6);
    EXPECT_EQ(total, counts(1, 2, 1, 10));
    EXPECT_DOUBLE_EQ(total.rate(), 0.4);
}

TEST(EditDistance, WordsSplitOnAnyWhitespace) {
    EXPECT_EQ(wordEdits("the cat sat on the mat", "the cat sat on mat"), counts(0, 1, 0, 6));
    EXPECT_EQ(wordEdits("  the\tcat \n sat ", "the bat sat"), counts(1, 0, 0, 3));
    EXPECT_EQ(wordEdits("a b c d", "a x b c d e"), counts(0, 0, 2, 4));
    EXPECT_EQ(wordEdits("", ""), counts(0, 0, 0, 0));
}

TEST(EditDistance, CharactersAreCodePointsWithOneSpaceBetweenWords) {
    EXPECT_EQ(characterEdits("ab  cd", "ab cd"), counts(0, 0, 0, 5)) << "runs of whitespace are one space";
    EXPECT_EQ(characterEdits("ab cd", "abcd"), counts(0, 1, 0, 5)) << "the space is a character";
    EXPECT_EQ(characterEdits("caf\xC3\xA9", "cafe"), counts(1, 0, 0, 4)) << "e-acute is one character";
    EXPECT_EQ(characterEdits("\xE4\xB8\xAD\xE6\x96\x87", "\xE4\xB8\xAD"), counts(0, 1, 0, 2)) << "two CJK characters";
    EXPECT_EQ(characterEdits("a\xFF" "b", "ab"), counts(0, 1, 0, 3)) << "an invalid byte is one unit";
}
