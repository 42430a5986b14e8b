#pragma once
// Error rates by edit distance, as speech recognition reports them (CER, WER, PER): the
// fewest substitutions, deletions and insertions that turn a reference sequence into a
// hypothesis (Levenshtein, every edit costing 1), with the counts of each kind.
//
// The total is unique; how it splits into kinds is not always. Of the alignments with the
// fewest edits, the one chosen walks back from the end preferring, at each step, a match or
// substitution, then a deletion, then an insertion (sclite and Kaldi's compute-wer may split a
// tie otherwise; the totals agree).
//
// Pure functions; thread-safe.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace losslab {

struct EditCounts {
    std::int64_t substitutions = 0;
    std::int64_t deletions = 0;  // reference units the hypothesis lacks
    std::int64_t insertions = 0; // hypothesis units the reference lacks
    std::int64_t referenceLength = 0;

    std::int64_t errors() const { return substitutions + deletions + insertions; }
    // errors / referenceLength (may exceed 1); 0 for an empty reference with an empty
    // hypothesis, and errors (as if the reference had length 1) for an empty reference.
    double rate() const;
    EditCounts& operator+=(const EditCounts& other);
    bool operator==(const EditCounts& other) const;
};

// The counts for two sequences of unit ids.
EditCounts editCounts(const std::vector<std::int32_t>& reference, const std::vector<std::int32_t>& hypothesis);

// Words: the texts split on whitespace (runs of spaces, tabs and line ends).
EditCounts wordEdits(std::string_view reference, std::string_view hypothesis);
// Characters: UTF-8 code points of the texts with leading and trailing whitespace removed and
// every run of whitespace made one space, spaces counted as characters (as ESPnet's CER with
// its <space> unit). Invalid UTF-8 bytes count as one unit each.
EditCounts characterEdits(std::string_view reference, std::string_view hypothesis);

} // namespace losslab
