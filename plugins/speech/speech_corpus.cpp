#include "speech_corpus.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "losslab/data_error.h"
#include "losslab/error.h"

namespace losslab::speech {

namespace {

namespace fs = std::filesystem;

// One line of a text file, with its 1-based number.
struct Line {
    std::size_t number = 0;
    std::string text;
};

bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool endsWith(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool startsWith(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

std::string where(const std::string& file, std::size_t line) {
    return file + ":" + std::to_string(line);
}

std::vector<std::string> fields(const std::string& text) { return whitespaceFields(text); }

std::string join(const std::vector<std::string>& parts, std::size_t from = 0) {
    std::string s;
    for (std::size_t i = from; i < parts.size(); ++i) s += (s.empty() ? "" : " ") + parts[i];
    return s;
}

// The first field and the rest of the line with the surrounding whitespace removed (a Kaldi
// rxfilename may hold spaces).
std::pair<std::string, std::string> splitKey(const std::string& text) {
    std::size_t i = 0;
    while (i < text.size() && isSpace(text[i])) ++i;
    const std::size_t keyBegin = i;
    while (i < text.size() && !isSpace(text[i])) ++i;
    std::string key = text.substr(keyBegin, i - keyBegin);
    while (i < text.size() && isSpace(text[i])) ++i;
    std::size_t end = text.size();
    while (end > i && isSpace(text[end - 1])) --end;
    return {std::move(key), text.substr(i, end - i)};
}

// `text` without the whitespace around it.
std::string trimmed(const std::string& text) {
    std::size_t begin = 0, end = text.size();
    while (begin < end && isSpace(text[begin])) ++begin;
    while (end > begin && isSpace(text[end - 1])) --end;
    return text.substr(begin, end - begin);
}

// "0xE9"
std::string hexByte(char c) {
    static const char* kHex = "0123456789ABCDEF";
    const auto byte = static_cast<unsigned char>(c);
    return std::string("0x") + kHex[byte >> 4] + kHex[byte & 0xF];
}

// Error naming the file and line unless `line` is valid UTF-8: transcripts are read as UTF-8
// (their characters become output units), so a Latin-1 file must be converted first.
void requireUtf8(const std::string& path, const Line& line) {
    for (std::size_t i = 0; i < line.text.size();) {
        const std::size_t length = utf8Length(line.text, i);
        if (length == 0)
            throw Error(where(path, line.number) + ": not valid UTF-8 at byte " + std::to_string(i + 1) +
                        " of the line (" + hexByte(line.text[i]) + "); expected UTF-8 text: convert "
                        "the file, e.g. iconv -f latin1 -t utf-8");
        i += length;
    }
}

// Error naming the file and line unless `line` is ASCII: TIMIT's transcripts are, and a byte
// beyond it (an edited copy's accented letter) would otherwise be a word break.
void requireAscii(const std::string& path, const Line& line) {
    const auto beyond = std::find_if(line.text.begin(), line.text.end(),
                                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    if (beyond != line.text.end())
        throw Error(where(path, line.number) + ": not ASCII at byte " +
                    std::to_string(beyond - line.text.begin() + 1) + " of the line (" + hexByte(*beyond) +
                    "); expected TIMIT's ASCII transcripts (an edited copy? take the file from the corpus again)");
}

// Non-blank lines of `path`; `what` and `expected` explain a missing file.
std::vector<Line> readLines(const std::string& path, const std::string& what, const std::string& expected) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw DataNotFoundError(path + ": missing " + what + "; expected " + expected);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open " + what + " for reading");
    std::vector<Line> lines;
    std::string text;
    std::size_t number = 0;
    while (std::getline(in, text)) {
        ++number;
        if (!text.empty() && text.back() == '\r') text.pop_back();
        if (std::all_of(text.begin(), text.end(), isSpace)) continue;
        lines.push_back({number, text});
    }
    if (in.bad())
        throw Error(path + ": read error in " + what + " after line " + std::to_string(number));
    return lines;
}

bool fileExists(const fs::path& path) {
    std::error_code ec;
    return fs::is_regular_file(path, ec);
}

bool folderExists(const fs::path& path) {
    std::error_code ec;
    return fs::is_directory(path, ec);
}

// Sorted entries of a folder (directory_iterator's order is the file system's).
std::vector<fs::directory_entry> entries(const fs::path& dir) {
    std::vector<fs::directory_entry> out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) out.push_back(*it);
    if (ec)
        throw Error(dir.string() + ": cannot list the folder: " + ec.message());
    std::sort(out.begin(), out.end(),
              [](const fs::directory_entry& a, const fs::directory_entry& b) { return a.path() < b.path(); });
    return out;
}

std::vector<fs::path> subfolders(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& entry : entries(dir)) {
        std::error_code ec;
        if (entry.is_directory(ec)) out.push_back(entry.path());
    }
    return out;
}

void sortById(std::vector<Utterance>& utterances) {
    std::sort(utterances.begin(), utterances.end(),
              [](const Utterance& a, const Utterance& b) { return a.id < b.id; });
}

// A number the whole field spells, finite; false otherwise.
bool parseDouble(const std::string& field, double& value) {
    const char* begin = field.data();
    const char* end = begin + field.size();
    if (begin != end && *begin == '+') ++begin; // from_chars takes no '+'
    const auto result = std::from_chars(begin, end, value);
    return result.ec == std::errc() && result.ptr == end && std::isfinite(value);
}

bool parseInteger(const std::string& field, long long& value) {
    const char* end = field.data() + field.size();
    const auto result = std::from_chars(field.data(), end, value);
    return result.ec == std::errc() && result.ptr == end;
}

// ---- TIMIT ----------------------------------------------------------------------------------

// Kaldi egs/timit/s5/conf/phones.60-48-39.map, columns 1 and 3, plus q (removed: "").
const std::unordered_map<std::string, std::string>& timitFold() {
    static const std::unordered_map<std::string, std::string> kFold = {
        {"aa", "aa"},   {"ae", "ae"},   {"ah", "ah"},   {"ao", "aa"},   {"aw", "aw"},   {"ax", "ah"},
        {"ax-h", "ah"}, {"axr", "er"},  {"ay", "ay"},   {"b", "b"},     {"bcl", "sil"}, {"ch", "ch"},
        {"d", "d"},     {"dcl", "sil"}, {"dh", "dh"},   {"dx", "dx"},   {"eh", "eh"},   {"el", "l"},
        {"em", "m"},    {"en", "n"},    {"eng", "ng"},  {"epi", "sil"}, {"er", "er"},   {"ey", "ey"},
        {"f", "f"},     {"g", "g"},     {"gcl", "sil"}, {"h#", "sil"},  {"hh", "hh"},   {"hv", "hh"},
        {"ih", "ih"},   {"ix", "ih"},   {"iy", "iy"},   {"jh", "jh"},   {"k", "k"},     {"kcl", "sil"},
        {"l", "l"},     {"m", "m"},     {"n", "n"},     {"ng", "ng"},   {"nx", "n"},    {"ow", "ow"},
        {"oy", "oy"},   {"p", "p"},     {"pau", "sil"}, {"pcl", "sil"}, {"q", ""},      {"r", "r"},
        {"s", "s"},     {"sh", "sh"},   {"t", "t"},     {"tcl", "sil"}, {"th", "th"},   {"uh", "uh"},
        {"uw", "uw"},   {"ux", "uw"},   {"v", "v"},     {"w", "w"},     {"y", "y"},     {"z", "z"},
        {"zh", "sh"},
    };
    return kFold;
}

// The folded phone, "" for q, nullptr outside the 61-phone set. Case-insensitive: some copies
// of the corpus have upper-case labels.
const std::string* foldPhone(const std::string& phone) {
    const auto& fold = timitFold();
    const auto it = fold.find(lower(phone));
    return it == fold.end() ? nullptr : &it->second;
}

std::string timitPhoneList() {
    std::vector<std::string> names;
    for (const auto& [from, to] : timitFold()) names.push_back(from);
    std::sort(names.begin(), names.end());
    return join(names);
}

// The child of `root` named `name` in either case (TRAIN or train).
fs::path findFolderAnyCase(const fs::path& root, const std::string& name) {
    for (const auto& dir : subfolders(root))
        if (lower(dir.filename().string()) == name) return dir;
    return {};
}

const char* kTimitLayout =
    "TIMIT's layout: <root>/TRAIN/DR1/FCJF0/SX127.WAV + SX127.PHN and <root>/TEST/DR1/... (either case)";

enum class TimitPart { Train, Dev, Test, Unused };

// The .PHN file as the folded 39-phone text.
std::string readTimitPhones(const fs::path& phn) {
    const std::string path = phn.string();
    const auto lines = readLines(path, "TIMIT phone file", "\"<start> <end> <phone>\" lines");
    std::vector<std::string> folded;
    for (const Line& line : lines) {
        requireAscii(path, line);
        const auto parts = fields(line.text);
        long long start = 0, end = 0;
        if (parts.size() != 3 || !parseInteger(parts[0], start) || !parseInteger(parts[1], end))
            throw Error(where(path, line.number) + ": expected \"<start-sample> <end-sample> <phone>\", got \""
                        + line.text + "\"");
        const std::string* phone = foldPhone(parts[2]);
        if (phone == nullptr)
            throw Error(where(path, line.number) + ": unknown phone \"" + parts[2]
                        + "\"; expected one of TIMIT's 61 phones: " + timitPhoneList());
        if (!phone->empty()) folded.push_back(*phone);
    }
    if (folded.empty())
        throw Error(path + ": no phones (an empty transcript); expected \"<start> <end> <phone>\" lines");
    return join(folded);
}

// The .TXT file ("<start> <end> She had your dark suit...") as lower-case words: letters, digits
// and apostrophes kept, every other character a word break.
std::string readTimitWords(const fs::path& txt) {
    const std::string path = txt.string();
    const auto lines = readLines(path, "TIMIT text file", "one \"<start> <end> <sentence>\" line");
    std::string words;
    for (const Line& line : lines) {
        requireAscii(path, line);
        const auto parts = fields(line.text);
        long long start = 0, end = 0;
        if (parts.size() < 3 || !parseInteger(parts[0], start) || !parseInteger(parts[1], end))
            throw Error(where(path, line.number) + ": expected \"<start-sample> <end-sample> <sentence>\", got \"" +
                        line.text + "\"");
        for (std::size_t i = 2; i < parts.size(); ++i) {
            std::string word;
            for (const char c : parts[i]) {
                const auto u = static_cast<unsigned char>(c);
                if (std::isalnum(u) || c == '\'') {
                    word += static_cast<char>(std::tolower(u));
                } else if (!word.empty()) {
                    words += (words.empty() ? "" : " ") + word;
                    word.clear();
                }
            }
            if (!word.empty()) words += (words.empty() ? "" : " ") + word;
        }
    }
    if (words.empty()) throw Error(path + ": no words (an empty transcript); expected \"<start> <end> <sentence>\"");
    return words;
}

void readTimitPart(const fs::path& partDir, bool isTrain, TimitText text, TimitSets& sets, std::set<std::string>& ids) {
    static const std::unordered_set<std::string> kCore(timitCoreTestSpeakers().begin(),
                                                       timitCoreTestSpeakers().end());
    static const std::unordered_set<std::string> kDev(timitDevSpeakers().begin(), timitDevSpeakers().end());
    for (const fs::path& region : subfolders(partDir)) {
        for (const fs::path& speakerDir : subfolders(region)) {
            const std::string speaker = lower(speakerDir.filename().string());
            TimitPart part = TimitPart::Train;
            if (!isTrain)
                part = kCore.count(speaker) ? TimitPart::Test : kDev.count(speaker) ? TimitPart::Dev : TimitPart::Unused;
            if (part == TimitPart::Unused) continue;

            // lower-case name -> path, to pair SX127.PHN with SX127.WAV whatever the case.
            std::map<std::string, fs::path> files;
            for (const auto& entry : entries(speakerDir)) {
                std::error_code ec;
                if (entry.is_regular_file(ec)) files.emplace(lower(entry.path().filename().string()), entry.path());
            }
            for (const auto& [name, path] : files) {
                if (!endsWith(name, ".phn")) continue;
                const std::string sentence = name.substr(0, name.size() - 4);
                if (startsWith(sentence, "sa")) continue; // the two dialect sentences every speaker reads
                const auto audio = files.find(sentence + ".wav");
                if (audio == files.end())
                    throw Error(path.string() + ": no audio file " + (speakerDir / (sentence + ".wav")).string()
                                + " (either case) beside it; expected " + kTimitLayout);
                Utterance utt;
                utt.id = speaker + "_" + sentence;
                utt.audio = audio->second.string();
                if (text == TimitText::Words) {
                    const auto words = files.find(sentence + ".txt");
                    if (words == files.end())
                        throw Error(path.string() + ": no transcript " + (speakerDir / (sentence + ".txt")).string() +
                                    " (either case) beside it; the TIMIT words come from the .TXT files");
                    utt.text = readTimitWords(words->second);
                } else {
                    utt.text = readTimitPhones(path);
                }
                utt.speaker = speaker;
                if (!ids.insert(utt.id).second)
                    throw Error(speakerDir.string() + ": utterance " + utt.id
                                + " appears twice in the corpus (speaker folder in two places?)");
                (part == TimitPart::Train ? sets.train : part == TimitPart::Dev ? sets.dev : sets.test)
                    .push_back(std::move(utt));
            }
        }
    }
}

// ---- Kaldi ----------------------------------------------------------------------------------

struct KeyedLine {
    std::size_t line = 0;
    std::vector<std::string> fields; // after the key
    std::string rest;                // the rest of the line, trimmed
};

// "<key> ..." lines of a Kaldi table; Error on a repeated key, and with `utf8` on a line that
// is not UTF-8.
std::map<std::string, KeyedLine> readKaldiTable(const std::string& path, const std::string& what,
                                                const std::string& expected, bool utf8 = false) {
    std::map<std::string, KeyedLine> table;
    for (const Line& line : readLines(path, what, expected)) {
        if (utf8) requireUtf8(path, line);
        auto [key, rest] = splitKey(line.text);
        KeyedLine value{line.number, fields(rest), rest};
        const auto [it, added] = table.emplace(key, std::move(value));
        if (!added)
            throw Error(where(path, line.number) + ": \"" + key + "\" appears twice (first on line "
                        + std::to_string(it->second.line) + "); expected one line per id");
    }
    return table;
}

const char* kKaldiLayout =
    "a Kaldi data directory: wav.scp (\"<recording-id> <path>\"), text (\"<utterance-id> <transcript>\"), "
    "optional segments (\"<utterance-id> <recording-id> <start> <end>\") and utt2spk";

// The audio file of a wav.scp entry; Error unless it exists.
std::string resolveKaldiAudio(const fs::path& dir, const std::string& scp, const std::string& recording,
                              const KeyedLine& entry) {
    const std::string& path = entry.rest;
    const std::string at = where(scp, entry.line);
    if (path.empty())
        throw Error(at + ": recording " + recording + " has no path; expected \"<recording-id> <path>\"");
    if (path.back() == '|')
        throw Error(at + ": recording " + recording + " is a piped command (\"" + path
                    + "\"); LossLab reads audio files only: convert the recordings to WAV or FLAC files (e.g. "
                      "with sox, sph2pipe or Kaldi's wav-copy) and list their paths in wav.scp");
    if (path == "-")
        throw Error(at + ": recording " + recording + " reads standard input; expected the path of an audio file");
    const fs::path given(path);
    std::vector<fs::path> candidates;
    if (given.is_absolute()) {
        candidates.push_back(given);
    } else {
        const fs::path absoluteDir = fs::absolute(dir);
        candidates = {absoluteDir / given, absoluteDir.parent_path() / given,
                      absoluteDir.parent_path().parent_path() / given};
    }
    for (const fs::path& candidate : candidates)
        if (fileExists(candidate)) return candidate.lexically_normal().string();
    std::string tried;
    for (const fs::path& candidate : candidates) tried += (tried.empty() ? "" : ", ") + candidate.string();
    std::string hint;
    if (path.find(".ark:") != std::string::npos)
        hint = " (archive offsets such as file.ark:123 are not supported: write the audio as files)";
    throw DataNotFoundError(at + ": the audio file of recording " + recording + " does not exist: " + path + " (looked at "
                + tried + ")" + hint);
}

} // namespace

// ---- LibriSpeech ----------------------------------------------------------------------------

std::vector<std::string> whitespaceFields(const std::string& text) {
    auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; };
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && isSpace(text[i])) ++i;
        const std::size_t begin = i;
        while (i < text.size() && !isSpace(text[i])) ++i;
        if (i > begin) out.push_back(text.substr(begin, i - begin));
    }
    return out;
}

std::size_t utf8Length(const std::string& text, std::size_t i, char32_t* codePoint) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t length = 0;
    char32_t value = 0;
    if (lead < 0x80) {
        length = 1;
        value = lead;
    } else if (lead >= 0xC2 && lead < 0xE0) {
        length = 2;
        value = lead & 0x1F;
    } else if (lead >= 0xE0 && lead < 0xF0) {
        length = 3;
        value = lead & 0x0F;
    } else if (lead >= 0xF0 && lead < 0xF5) {
        length = 4;
        value = lead & 0x07;
    } else {
        return 0;
    }
    if (i + length > text.size()) return 0;
    for (std::size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        value = (value << 6) | (byte(i + k) & 0x3F);
    }
    if ((length == 3 && (value < 0x800 || (value >= 0xD800 && value < 0xE000))) ||
        (length == 4 && (value < 0x10000 || value > 0x10FFFF)))
        return 0;
    if (codePoint) *codePoint = value;
    return length;
}

std::vector<Utterance> readLibriSpeech(const std::string& dir) {
    const char* layout =
        "one LibriSpeech subset such as LibriSpeech/train-clean-100, holding <speaker>/<chapter>/"
        "<speaker>-<chapter>-NNNN.flac and <speaker>-<chapter>.trans.txt";
    if (!folderExists(dir))
        throw Error(dir + ": no such folder; expected " + layout);
    std::vector<Utterance> out;
    for (const fs::path& speakerDir : subfolders(dir)) {
        for (const fs::path& chapterDir : subfolders(speakerDir)) {
            // id -> (transcript file, line, text) over the chapter's transcript files.
            struct Transcript {
                std::string file;
                std::size_t line;
                std::string text;
            };
            std::map<std::string, Transcript> transcripts;
            std::vector<fs::path> flacs;
            for (const auto& entry : entries(chapterDir)) {
                const std::string name = entry.path().filename().string();
                if (endsWith(name, ".flac")) {
                    flacs.push_back(entry.path());
                } else if (endsWith(name, ".trans.txt")) {
                    const std::string file = entry.path().string();
                    for (const Line& line : readLines(file, "LibriSpeech transcript", "\"<id> <TRANSCRIPT>\" lines")) {
                        requireUtf8(file, line);
                        const auto [id, text] = splitKey(line.text);
                        if (text.empty())
                            throw Error(where(file, line.number) + ": utterance " + id
                                        + " has an empty transcript; expected \"<id> <TRANSCRIPT>\"");
                        const auto [it, added] =
                            transcripts.emplace(id, Transcript{file, line.number, join(fields(text))});
                        if (!added)
                            throw Error(where(file, line.number) + ": utterance " + id + " appears twice (also "
                                        + where(it->second.file, it->second.line) + ")");
                    }
                }
            }
            std::set<std::string> seen;
            for (const fs::path& flac : flacs) {
                const std::string id = flac.stem().string();
                const auto it = transcripts.find(id);
                if (it == transcripts.end()) {
                    const fs::path expected =
                        chapterDir / (speakerDir.filename().string() + "-" + chapterDir.filename().string() + ".trans.txt");
                    throw Error(flac.string() + ": no transcript line for " + id + "; expected a line \"" + id
                                + " <TRANSCRIPT>\" in " + expected.string());
                }
                seen.insert(id);
                out.push_back({id, flac.string(), 0.0, -1.0, it->second.text, speakerDir.filename().string()});
            }
            for (const auto& [id, transcript] : transcripts)
                if (!seen.count(id))
                    throw Error(where(transcript.file, transcript.line) + ": utterance " + id + " has no audio file "
                                + (chapterDir / (id + ".flac")).string());
        }
    }
    if (out.empty()) {
        // The LibriSpeech folder itself (subset/speaker/chapter) is a likely mistake: say so.
        std::string hint;
        for (const fs::path& subset : subfolders(dir)) {
            for (const fs::path& speakerDir : subfolders(subset)) {
                for (const fs::path& chapterDir : subfolders(speakerDir))
                    for (const auto& entry : entries(chapterDir))
                        if (endsWith(entry.path().filename().string(), ".trans.txt")) {
                            hint = "; this looks like the folder holding several subsets: choose one, e.g. "
                                   + subset.string();
                            break;
                        }
                if (!hint.empty()) break;
            }
            if (!hint.empty()) break;
        }
        throw Error(dir + ": no utterances found; expected " + layout + hint);
    }
    sortById(out);
    return out;
}

// ---- Kaldi data directory --------------------------------------------------------------------

std::vector<Utterance> readKaldiDataDir(const std::string& dir) {
    if (!folderExists(dir))
        throw Error(dir + ": no such folder; expected " + kKaldiLayout);
    const fs::path base(dir);
    const std::string scpPath = (base / "wav.scp").string();
    const std::string textPath = (base / "text").string();
    const std::string segmentsPath = (base / "segments").string();
    const std::string utt2spkPath = (base / "utt2spk").string();

    const auto scp = readKaldiTable(scpPath, "wav.scp", std::string("\"<recording-id> <path>\" lines in ") + kKaldiLayout);
    const auto text =
        readKaldiTable(textPath, "text", std::string("\"<utterance-id> <transcript>\" lines in ") + kKaldiLayout, true);
    if (text.empty())
        throw Error(textPath + ": no utterances; expected \"<utterance-id> <transcript>\" lines in " + kKaldiLayout);
    const bool haveSegments = fileExists(segmentsPath);
    const bool haveUtt2spk = fileExists(utt2spkPath);
    std::map<std::string, KeyedLine> segments, utt2spk;
    if (haveSegments)
        segments = readKaldiTable(segmentsPath, "segments", "\"<utterance-id> <recording-id> <start> <end>\" lines");
    if (haveUtt2spk)
        utt2spk = readKaldiTable(utt2spkPath, "utt2spk", "\"<utterance-id> <speaker-id>\" lines");

    std::map<std::string, std::string> audioOf; // recording -> resolved path, checked once
    auto audio = [&](const std::string& recording) -> const std::string& {
        auto it = audioOf.find(recording);
        if (it == audioOf.end())
            it = audioOf.emplace(recording, resolveKaldiAudio(base, scpPath, recording, scp.at(recording))).first;
        return it->second;
    };

    std::vector<Utterance> out;
    for (const auto& [id, entry] : text) {
        const std::string at = where(textPath, entry.line);
        if (entry.fields.empty())
            throw Error(at + ": utterance " + id + " has an empty transcript; expected \"<utterance-id> <transcript>\"");
        Utterance utt;
        utt.id = id;
        utt.text = join(entry.fields);
        if (haveSegments) {
            const auto seg = segments.find(id);
            if (seg == segments.end())
                throw Error(at + ": utterance " + id + " has no line in " + segmentsPath
                            + "; expected \"" + id + " <recording-id> <start> <end>\"");
            const std::string segAt = where(segmentsPath, seg->second.line);
            const auto& f = seg->second.fields;
            if (f.size() != 3)
                throw Error(segAt + ": expected \"<utterance-id> <recording-id> <start> <end>\", got \"" + id + " "
                            + seg->second.rest + "\"");
            if (!parseDouble(f[1], utt.start) || utt.start < 0)
                throw Error(segAt + ": start time \"" + f[1] + "\" is not a number of seconds >= 0");
            if (!parseDouble(f[2], utt.end))
                throw Error(segAt + ": end time \"" + f[2] + "\" is not a number of seconds (or -1: to the end)");
            if (utt.end < 0)
                utt.end = -1.0;
            else if (utt.end <= utt.start)
                throw Error(segAt + ": end time " + f[2] + " is not after the start time " + f[1]);
            if (!scp.count(f[0]))
                throw Error(segAt + ": recording " + f[0] + " of utterance " + id + " is missing from " + scpPath);
            utt.audio = audio(f[0]);
        } else {
            if (!scp.count(id))
                throw Error(at + ": utterance " + id + " has no recording in " + scpPath
                            + " (without a segments file, each utterance is the recording of the same id)");
            utt.audio = audio(id);
        }
        if (haveUtt2spk) {
            const auto spk = utt2spk.find(id);
            if (spk == utt2spk.end())
                throw Error(utt2spkPath + ": no speaker for utterance " + id + " (" + at
                            + "); expected a line \"" + id + " <speaker-id>\"");
            if (spk->second.fields.size() != 1)
                throw Error(where(utt2spkPath, spk->second.line) + ": expected \"<utterance-id> <speaker-id>\", got \""
                            + id + " " + spk->second.rest + "\"");
            utt.speaker = spk->second.fields[0];
        } else {
            utt.speaker = id;
        }
        out.push_back(std::move(utt));
    }
    return out; // std::map: already sorted by id
}

// ---- TIMIT ----------------------------------------------------------------------------------

const std::vector<std::string>& timitCoreTestSpeakers() {
    // kaldi egs/timit/s5/conf/test_spk.list
    static const std::vector<std::string> kSpeakers = {
        "mdab0", "mwbt0", "felc0", "mtas1", "mwew0", "fpas0", "mjmp0", "mlnt0", "fpkt0", "mlll0", "mtls0", "fjlm0",
        "mbpm0", "mklt0", "fnlp0", "mcmj0", "mjdh0", "fmgd0", "mgrt0", "mnjm0", "fdhc0", "mjln0", "mpam0", "fmld0"};
    return kSpeakers;
}

const std::vector<std::string>& timitDevSpeakers() {
    // kaldi egs/timit/s5/conf/dev_spk.list
    static const std::vector<std::string> kSpeakers = {
        "faks0", "fdac1", "fjem0", "mgwt0", "mjar0", "mmdb1", "mmdm2", "mpdf0", "fcmh0", "fkms0",
        "mbdg0", "mbwm0", "mcsh0", "fadg0", "fdms0", "fedw0", "mgjf0", "mglb0", "mrtk0", "mtaa0",
        "mtdt0", "mthc0", "mwjg0", "fnmr0", "frew0", "fsem0", "mbns0", "mmjr0", "mdls0", "mdlf0",
        "mdvc0", "mers0", "fmah0", "fdrw0", "mrcs0", "mrjm4", "fcal1", "mmwh0", "fjsj0", "majc0",
        "mjsw0", "mreb0", "fgjd0", "fjmg0", "mroa0", "mteb0", "mjfc0", "mrjr0", "fmml0", "mrws1"};
    return kSpeakers;
}

std::string foldTimitPhones(const std::vector<std::string>& phones61) {
    std::vector<std::string> folded;
    for (const std::string& phone : phones61) {
        const std::string* to = foldPhone(phone);
        if (to == nullptr)
            throw Error("TIMIT phone \"" + phone + "\" is not one of the 61 phones: " + timitPhoneList());
        if (!to->empty()) folded.push_back(*to);
    }
    return join(folded);
}

TimitSets readTimit(const std::string& root, TimitText text) {
    if (!folderExists(root))
        throw Error(root + ": no such folder; expected " + kTimitLayout);
    const fs::path trainDir = findFolderAnyCase(root, "train");
    const fs::path testDir = findFolderAnyCase(root, "test");
    if (trainDir.empty() || testDir.empty())
        throw Error(root + ": no " + std::string(trainDir.empty() ? "TRAIN" : "TEST") + " folder; expected "
                    + kTimitLayout);
    TimitSets sets;
    std::set<std::string> ids;
    readTimitPart(trainDir, true, text, sets, ids);
    readTimitPart(testDir, false, text, sets, ids);
    if (sets.train.empty())
        throw Error(trainDir.string() + ": no utterances (SA sentences aside); expected " + kTimitLayout);
    if (sets.test.empty())
        throw Error(testDir.string() + ": none of the 24 core-test speakers (" + join(timitCoreTestSpeakers())
                    + ") has an utterance there; expected " + kTimitLayout);
    if (sets.dev.empty())
        throw Error(testDir.string() + ": none of the 50 development-set speakers (" + join(timitDevSpeakers())
                    + ") has an utterance there; expected " + kTimitLayout);
    sortById(sets.train);
    sortById(sets.dev);
    sortById(sets.test);
    return sets;
}

// ---- Speech Commands ------------------------------------------------------------------------

CommandsSets readSpeechCommands(const std::string& root) {
    const char* layout = "Speech Commands' layout: <root>/<label>/<file>.wav, with validation_list.txt and "
                         "testing_list.txt naming held-out files as \"<label>/<file>.wav\"";
    if (!folderExists(root))
        throw Error(root + ": no such folder; expected " + layout);
    const fs::path base(root);

    CommandsSets sets;
    std::map<std::string, std::vector<fs::path>> filesOf; // label -> its .wav files
    for (const fs::path& dir : subfolders(base)) {
        const std::string name = dir.filename().string();
        if (startsWith(name, "_") || startsWith(name, ".")) continue;
        std::vector<fs::path> wavs;
        for (const auto& entry : entries(dir)) {
            std::error_code ec;
            if (entry.is_regular_file(ec) && endsWith(entry.path().filename().string(), ".wav"))
                wavs.push_back(entry.path());
        }
        if (!wavs.empty()) filesOf.emplace(name, std::move(wavs));
    }
    if (filesOf.empty())
        throw Error(root + ": no label folders with .wav files; expected " + layout);
    for (const auto& [label, files] : filesOf) sets.labels.push_back(label);

    // "<label>/<file>.wav" -> (list, line, is test)
    struct HeldOut {
        std::string list;
        std::size_t line;
        bool test;
    };
    std::map<std::string, HeldOut> heldOut;
    for (const bool test : {false, true}) {
        const std::string list = (base / (test ? "testing_list.txt" : "validation_list.txt")).string();
        for (const Line& line : readLines(list, test ? "test list" : "validation list",
                                          std::string("one \"<label>/<file>.wav\" per line, as in ") + layout)) {
            // The whole line: label folders and file names may hold spaces ("my label/a b.wav").
            std::string entry = trimmed(line.text);
            if (startsWith(entry, "./")) entry = entry.substr(2);
            const std::string at = where(list, line.number);
            const auto slash = entry.find('/');
            if (slash == std::string::npos || entry.find('/', slash + 1) != std::string::npos || !endsWith(entry, ".wav"))
                throw Error(at + ": expected \"<label>/<file>.wav\", got \"" + entry + "\"");
            if (!filesOf.count(entry.substr(0, slash)))
                throw Error(at + ": \"" + entry + "\" is not in a label folder (labels: " + join(sets.labels) + ")");
            if (!fileExists(base / entry))
                throw DataNotFoundError(at + ": " + (base / entry).string() + " does not exist");
            const auto [it, added] = heldOut.emplace(entry, HeldOut{list, line.number, test});
            if (!added)
                throw Error(at + ": \"" + entry + "\" is already held out at " + where(it->second.list, it->second.line));
        }
    }

    for (const auto& [label, files] : filesOf) {
        for (const fs::path& file : files) {
            const std::string name = file.filename().string();
            const std::string relative = label + "/" + name;
            const std::string stem = file.stem().string();
            const auto nohash = stem.find("_nohash_");
            Utterance utt{label + "/" + stem, file.string(), 0.0, -1.0, label,
                          nohash == std::string::npos ? stem : stem.substr(0, nohash)};
            const auto held = heldOut.find(relative);
            if (held == heldOut.end())
                sets.train.push_back(std::move(utt));
            else
                (held->second.test ? sets.test : sets.validation).push_back(std::move(utt));
        }
    }
    if (sets.train.empty())
        throw Error(root + ": every file is held out by validation_list.txt or testing_list.txt; no training "
                           "utterances left");
    sortById(sets.train);
    sortById(sets.validation);
    sortById(sets.test);
    return sets;
}

} // namespace losslab::speech
