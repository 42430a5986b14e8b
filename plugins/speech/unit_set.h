#pragma once
// The output units of a recogniser and the mapping between transcripts and unit ids, in ESPnet's
// layout: 0 <blank> (CTC), 1 <unk>, 2 .. size()-2 the units, size()-1 <sos/eos>. Three kinds:
// characters (UTF-8 code points; the space is the unit "<space>"), tokens (whitespace-separated
// symbols such as TIMIT phones) and SentencePiece pieces (needs libsentencepiece; a build without
// it throws a losslab::Error from sentencePiece()). Immutable once built; copies share the
// SentencePiece model; const methods may be called from several threads.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace losslab::speech {

enum class UnitKind { Characters, Tokens, SentencePiece };

// TIMIT's folded 39-phone set (Lee & Hon 1989, Kaldi's phones.60-48-39.map), sorted.
inline const std::vector<std::string> kTimitPhones39 = {
    "aa", "ae", "ah", "aw", "ay", "b",  "ch", "d",  "dh", "dx",  "eh", "er", "ey",
    "f",  "g",  "hh", "ih", "iy", "jh", "k",  "l",  "m",  "n",   "ng", "ow", "oy",
    "p",  "r",  "s",  "sh", "sil", "t", "th", "uh", "uw", "v",   "w",  "y",  "z"};

// LibriSpeech's transcript characters, by code point: space ("<space>"), apostrophe, A-Z.
inline const std::vector<std::string> kLibriSpeechCharacters = {
    "<space>", "'", "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L",
    "M", "N", "O", "P", "Q", "R", "S", "T", "U", "V", "W", "X", "Y", "Z"};

class UnitSet {
public:
    static constexpr const char* kBlank = "<blank>";
    static constexpr const char* kUnk = "<unk>";
    static constexpr const char* kEos = "<sos/eos>";
    static constexpr const char* kSpace = "<space>";
    // What an <unk> character decodes to (as SentencePiece's default), one character wide.
    static constexpr const char* kUnkCharacter = "\xE2\x81\x87"; // U+2047 ⁇

    // The UTF-8 code points seen in `texts`, sorted by code point; the space is "<space>".
    // Deterministic. Error naming the text (by index) and byte for invalid UTF-8.
    static UnitSet characters(const std::vector<std::string>& texts);
    // The whitespace-separated symbols seen in `texts`, sorted (byte order). "<unk>" in a text is
    // the unknown unit, not a new one.
    static UnitSet tokens(const std::vector<std::string>& texts);
    // The given units in the given order (kind Characters or Tokens; characters are single code
    // points or "<space>"). Error for an empty list, a repeated unit, a special name, a character
    // unit that is not one code point, or kind SentencePiece.
    static UnitSet fixed(UnitKind kind, std::vector<std::string> units);
    // The pieces of a SentencePiece model (.model file) in the model's order, less its <unk>,
    // <s>, </s> and <pad>. Read with the sentencepiece programs (spm_tools.h). Error naming the
    // file if it cannot be read, or when the programs are missing.
    static UnitSet sentencePiece(const std::string& modelFile);

    std::int64_t size() const { return static_cast<std::int64_t>(m_names.size()); }
    std::int64_t blank() const { return 0; }
    std::int64_t unk() const { return 1; }
    std::int64_t eos() const { return size() - 1; }

    // The units of `text`; a unit not in the set is unk() (characters: each invalid UTF-8 byte too).
    std::vector<std::int64_t> encode(const std::string& text) const;
    // encode() of every text; SentencePiece encodes them all with one child process.
    std::vector<std::vector<std::int64_t>> encodeAll(const std::vector<std::string>& texts) const;
    // Text back: characters joined ("<space>" -> ' ', unk -> kUnkCharacter), tokens joined by single
    // spaces (unk -> "<unk>"), SentencePiece pieces joined with "▁" as a space (unk -> " ⁇ ",
    // SentencePiece's default surface). blank and eos are skipped. Error for an id outside [0, size()).
    std::string decode(const std::vector<std::int64_t>& ids) const;
    // By id, including the specials.
    const std::vector<std::string>& names() const { return m_names; }
    UnitKind kind() const { return m_kind; }
    // The SentencePiece model file; empty for the other kinds.
    const std::string& modelFile() const { return m_modelFile; }

private:
    UnitSet() = default;
    // Specials around `units`; fills the lookup.
    void assign(UnitKind kind, const std::vector<std::string>& units);

    UnitKind m_kind = UnitKind::Characters;
    std::vector<std::string> m_names;
    std::unordered_map<std::string, std::int64_t> m_idOf; // unit name -> id, incl. "<unk>"
    std::string m_modelFile;
};

} // namespace losslab::speech
