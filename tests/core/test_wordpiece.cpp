// WordPiece (BERT) tokenisation, torch-free: vocab.txt loading and its errors, and the
// tokenizer's output compared with a Python reference of BERT's tokenization.py algorithm
// (BasicTokenizer + WordpieceTokenizer + pair framing) written below, run on the same
// inputs with only the standard library's unicodedata.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "error_matchers.h"
#include "losslab/data/text/wordpiece_tokenizer.h"
#include "losslab/error.h"
#include "reference_python.h"
#include "scratch_dir.h"

namespace {

using losslab::BertEncodeOptions;
using losslab::BertEncoding;
using losslab::WordPieceOptions;
using losslab::WordPieceTokenizer;
using losslab::WordPieceVocabulary;
using losslab::fixtures::ScratchDir;
using losslab::fixtures::throwsErrorWith;

std::string write(const ScratchDir& dir, const std::string& name, const std::string& bytes) {
    const std::string path = dir.file(name);
    std::ofstream out(path, std::ios::binary);
    out << bytes;
    return path;
}

// A small hand-made vocabulary: the special tokens, whole words (some cased), pieces that
// make words need several "##" continuations, single letters and digits (so most ASCII
// words split into pieces), ASCII punctuation and a few CJK ideographs.
std::vector<std::string> vocabTokens() {
    std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    for (const char* t : {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "hello", "world", "un",
                          "##aff", "##able", "##ing", "##ed", "##ly", "run", "play", "want", "cafe",
                          "naive", "angstrom", "resume", "istanbul", "strasse", "straße", "The", "Café", "Ångström",
                          "Naïve", "İstanbul", "don", "it", "中", "国", "人", "我", "爱", "豈", "ほ", "##ほ"})
        tokens.emplace_back(t);
    for (char c = 'a'; c <= 'z'; ++c) {
        tokens.emplace_back(1, c);
        tokens.push_back(std::string("##") + c);
    }
    for (char c = '0'; c <= '9'; ++c) {
        tokens.emplace_back(1, c);
        tokens.push_back(std::string("##") + c);
    }
    for (char c : std::string("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"))
        tokens.emplace_back(1, c);
    return tokens;
}

std::string vocabFile(const std::vector<std::string>& tokens) {
    std::string text;
    for (const std::string& t : tokens)
        text += t + "\n";
    return text;
}

// The reference: BERT's tokenization.py algorithm as documented (google-research/bert),
// written for this test from the algorithm's description; standard library only.
const char* const kReference = R"PY(
import sys
import unicodedata

def is_whitespace(ch):
    # \t \n \r are Cc but BERT treats them as whitespace.
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"

def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")

def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")

CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
       (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]

def is_cjk(ch):
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in CJK)

def clean(text):
    kept = []
    for ch in text:
        if ord(ch) == 0 or ord(ch) == 0xFFFD or is_control(ch):
            continue
        kept.append(" " if is_whitespace(ch) else ch)
    return "".join(kept)

def space_cjk(text):
    return "".join(" " + ch + " " if is_cjk(ch) else ch for ch in text)

def strip_accents(word):
    return "".join(ch for ch in unicodedata.normalize("NFD", word)
                   if unicodedata.category(ch) != "Mn")

def split_punctuation(word):
    groups = []
    new_word = True
    for ch in word:
        if is_punctuation(ch):
            groups.append([ch])
            new_word = True
        else:
            if new_word:
                groups.append([])
            new_word = False
            groups[-1].append(ch)
    return ["".join(g) for g in groups]

def basic(text, lower):
    words = []
    for word in space_cjk(clean(text)).split():
        if lower:
            word = strip_accents(word.lower())
        words.extend(split_punctuation(word))
    return " ".join(words).split()

def wordpiece(words, vocab, max_chars=100):
    pieces = []
    for word in words:
        if len(word) > max_chars:
            pieces.append("[UNK]")
            continue
        found = []
        start = 0
        while start < len(word):
            end = len(word)
            piece = None
            while end > start:
                candidate = word[start:end]
                if start > 0:
                    candidate = "##" + candidate
                if candidate in vocab:
                    piece = candidate
                    break
                end -= 1
            if piece is None:
                found = None
                break
            found.append(piece)
            start = end
        pieces.extend(found if found is not None else ["[UNK]"])
    return pieces

def encode(a, b, vocab, max_length, pad):
    specials = 3 if b is not None else 2
    b_ids = b if b is not None else []
    if max_length > 0:
        while len(a) + len(b_ids) > max_length - specials:
            if len(a) > len(b_ids):
                a = a[:-1]
            else:
                b_ids = b_ids[:-1]
    ids = [vocab["[CLS]"]] + a + [vocab["[SEP]"]]
    segments = [0] * len(ids)
    if b is not None:
        ids += b_ids + [vocab["[SEP]"]]
        segments += [1] * (len(b_ids) + 1)
    mask = [1] * len(ids)
    if pad:
        extra = max_length - len(ids)
        ids += [vocab["[PAD]"]] * extra
        segments += [0] * extra
        mask += [0] * extra
    return ids, segments, mask

def numbers(values):
    return " ".join(str(v) for v in values)

vocab = {}
with open(sys.argv[1], encoding="utf-8") as f:
    for index, line in enumerate(f.read().split("\n")[:-1]):
        vocab[line] = index

out = open(sys.argv[3], "w", encoding="utf-8", newline="\n")
for request in open(sys.argv[2], encoding="ascii").read().split("\n")[:-1]:
    mode, lower, max_length, pad, hex_a, hex_b = request.split("\t")
    lower = lower == "1"
    text_a = bytes.fromhex(hex_a).decode("utf-8", "ignore")
    text_b = bytes.fromhex(hex_b).decode("utf-8", "ignore")
    if mode == "basic":
        out.write(" ".join(basic(text_a, lower)) + "\n")
    elif mode == "pieces":
        pieces = wordpiece(basic(text_a, lower), vocab)
        out.write(" ".join(pieces) + "\t" + numbers(vocab[p] for p in pieces) + "\n")
    else:
        a = [vocab[p] for p in wordpiece(basic(text_a, lower), vocab)]
        b = [vocab[p] for p in wordpiece(basic(text_b, lower), vocab)] if mode == "pair" else None
        ids, segments, mask = encode(a, b, vocab, int(max_length), pad == "1")
        out.write(numbers(ids) + "\t" + numbers(segments) + "\t" + numbers(mask) + "\n")
)PY";

enum class Mode { Basic, Pieces, Single, Pair };

struct Request {
    Mode mode;
    std::string a;
    std::string b;
    bool lowercase = true;
    std::size_t maxLength = 0;
    bool pad = false;
};

std::string hex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 0xF]);
    }
    return out;
}

template <typename T>
std::string numbers(const std::vector<T>& values) {
    std::string out;
    for (std::size_t i = 0; i < values.size(); ++i)
        out += (i ? " " : "") + std::to_string(values[i]);
    return out;
}

std::string joined(const std::vector<std::string>& words) {
    std::string out;
    for (std::size_t i = 0; i < words.size(); ++i)
        out += (i ? " " : "") + words[i];
    return out;
}

// The C++ answer in the reference's output format.
std::string answer(const WordPieceTokenizer& cased, const WordPieceTokenizer& uncased, const Request& r) {
    const WordPieceTokenizer& tokenizer = r.lowercase ? uncased : cased;
    BertEncodeOptions options;
    options.maxLength = r.maxLength;
    options.pad = r.pad;
    switch (r.mode) {
    case Mode::Basic:
        return joined(tokenizer.basicTokenize(r.a));
    case Mode::Pieces:
        return joined(tokenizer.tokenize(r.a)) + "\t" + numbers(tokenizer.tokenIds(r.a));
    case Mode::Single:
    case Mode::Pair: {
        const BertEncoding e = r.mode == Mode::Pair ? tokenizer.encodePair(r.a, r.b, options)
                                                    : tokenizer.encode(r.a, options);
        return numbers(e.ids) + "\t" + numbers(e.segmentIds) + "\t" + numbers(e.attentionMask);
    }
    }
    return {};
}

std::string pythonPath() {
    const char* python = std::getenv("LOSSLAB_BENCH_PYTHON");
    return python && *python ? python : "/usr/bin/python3";
}

// Runs the reference on `requests`; one output line per request.
std::vector<std::string> runReference(const ScratchDir& dir, const std::string& vocabPath,
                                      const std::vector<Request>& requests) {
    const std::string script = write(dir, "bert_reference.py", kReference);
    std::string lines;
    for (const Request& r : requests) {
        static const char* modes[] = {"basic", "pieces", "single", "pair"};
        lines += std::string(modes[static_cast<int>(r.mode)]) + "\t" + (r.lowercase ? "1" : "0") + "\t" +
                 std::to_string(r.maxLength) + "\t" + (r.pad ? "1" : "0") + "\t" + hex(r.a) + "\t" + hex(r.b) + "\n";
    }
    const std::string input = write(dir, "requests.txt", lines);
    const std::string output = dir.file("answers.txt");
    losslab::fixtures::runReferencePython("'" + script + "' '" + vocabPath + "' '" + input + "' '" + output + "'");
    std::vector<std::string> answers;
    std::istringstream in(losslab::fixtures::readFile(output));
    for (std::string line; std::getline(in, line);)
        answers.push_back(line);
    return answers;
}

// Texts that exercise each rule of the basic tokenizer and of WordPiece.
std::vector<std::string> sampleTexts() {
    using namespace std::string_literals;
    return {
        "The quick brown fox jumps over the lazy dog.",
        "Hello, world! (It's) 'quoted' \"double\" a-b c_d e^f `g` $5 100% x@y.z [a]{b}|c~d\\e",
        "\xC2\xBFQu\xC3\xA9? \xC2\xAB" "guillemets\xC2\xBB em\xE2\x80\x94" "dash\xE2\x80\xA6 \xE2\x80\x9Cquotes\xE2\x80\x9D",
        "caf\xC3\xA9 na\xC3\xAFve \xC3\x85ngstr\xC3\xB6m r\xC3\xA9sum\xC3\xA9 R\xC3\x89SUM\xC3\x89 CAF\xC3\x89",
        "cafe\xCC\x81 (decomposed) and Caf\xC3\xA9 The Na\xC3\xAFve",
        "\xE6\x88\x91\xE7\x88\xB1\xE4\xB8\xAD\xE5\x9B\xBD\xE4\xBA\xBA abc\xE4\xB8\xAD\xE5\x9B\xBD" "def",
        "\xEF\xA4\x80 compatibility ideograph, \xEC\x95\x88\xEB\x85\x95 hangul, \xE3\x81\xBB\xE3\x81\xBC kana",
        "I love \xF0\x9F\xA4\x97 and \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD, family \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7",
        "\x01hello\x7Fworld\xE2\x80\x8B" "foo\xEF\xBB\xBF" "bar \x1B[31m red"s,
        "nul\0byte and \xEF\xBF\xBD replacement"s,
        "a\tb\nc\r\nd\xC2\xA0" "e\xE3\x80\x80" "f\xE2\x80\xA8g\xE2\x80\xA9h\x0Bi\x0Cj\xC2\x85k",
        std::string(150, 'a'),
        std::string(100, 'b'),
        std::string(101, 'c') + " " + std::string(99, 'd') + "\xC3\xA9",
        "unaffable playings wanted runnings unwanted",
        "\xCE\xA9mega abc\xCF\x89 \xE2\x82\xAC" "5 \xC2\xA9 2024 x\xC2\xB2",
        "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3 \xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3. \xCE\xA3",
        "\xC4\xB0stanbul \xC4\xB0STANBUL STRASSE Stra\xC3\x9F" "e ID\xC3\x89" "E",
        "lone \xCC\x81 mark and in\xEE\x80\x80private use",
        "bad \xFF bytes \xE2\x82 here\xC3",
        "",
        " \t\n ",
        "don't stop, U.S.A.!",
    };
}

class WordPieceReference : public ::testing::Test {
protected:
    void SetUp() override {
        if (!std::filesystem::exists(pythonPath()))
            GTEST_SKIP() << "no Python at " << pythonPath() << " for the reference (set LOSSLAB_BENCH_PYTHON)";
        m_dir = std::make_unique<ScratchDir>("losslab-wordpiece");
        m_vocabPath = write(*m_dir, "vocab.txt", vocabFile(vocabTokens()));
        WordPieceOptions cased;
        cased.lowercase = false;
        m_uncased = std::make_unique<WordPieceTokenizer>(WordPieceVocabulary::load(m_vocabPath));
        m_cased = std::make_unique<WordPieceTokenizer>(WordPieceVocabulary::load(m_vocabPath), cased);
    }

    // Compares every request's C++ answer with the reference's.
    void compare(const std::vector<Request>& requests) {
        const std::vector<std::string> expected = runReference(*m_dir, m_vocabPath, requests);
        ASSERT_EQ(expected.size(), requests.size());
        for (std::size_t i = 0; i < requests.size(); ++i)
            EXPECT_EQ(answer(*m_cased, *m_uncased, requests[i]), expected[i])
                << "request " << i << ": \"" << requests[i].a << "\" / \"" << requests[i].b << "\" lowercase "
                << requests[i].lowercase << " maxLength " << requests[i].maxLength;
    }

    std::unique_ptr<ScratchDir> m_dir;
    std::string m_vocabPath;
    std::unique_ptr<WordPieceTokenizer> m_uncased;
    std::unique_ptr<WordPieceTokenizer> m_cased;
};

TEST_F(WordPieceReference, BasicTokensMatchThePythonReferenceCasedAndUncased) {
    std::vector<Request> requests;
    for (const std::string& text : sampleTexts())
        for (bool lower : {true, false})
            requests.push_back({Mode::Basic, text, "", lower, 0, false});
    compare(requests);
}

TEST_F(WordPieceReference, PiecesAndIdsMatchThePythonReferenceCasedAndUncased) {
    std::vector<Request> requests;
    for (const std::string& text : sampleTexts())
        for (bool lower : {true, false})
            requests.push_back({Mode::Pieces, text, "", lower, 0, false});
    compare(requests);
}

TEST_F(WordPieceReference, EncodingsMatchThePythonReferenceWithTruncationAndPadding) {
    const std::vector<std::string> texts = sampleTexts();
    std::vector<Request> requests;
    for (const std::string& text : texts) {
        requests.push_back({Mode::Single, text, "", true, 0, false});   // no limit
        requests.push_back({Mode::Single, text, "", true, 8, false});   // truncated
        requests.push_back({Mode::Single, text, "", true, 24, true});   // padded (or truncated)
    }
    const std::string longA = "the quick brown fox jumps over the lazy dog unaffable";
    const std::string shortB = "hello world";
    for (std::size_t maxLength : {0, 3, 4, 5, 6, 7, 9, 12, 16, 40}) {
        for (bool pad : {false, true}) {
            if (pad && maxLength == 0)
                continue;
            requests.push_back({Mode::Pair, longA, shortB, true, maxLength, pad}); // A longer
            requests.push_back({Mode::Pair, shortB, longA, true, maxLength, pad}); // B longer
            requests.push_back({Mode::Pair, "a b c d", "e f g h", true, maxLength, pad}); // equal
            requests.push_back({Mode::Pair, texts[3], texts[5], false, maxLength, pad});
            requests.push_back({Mode::Pair, "only a", "", true, maxLength, pad}); // empty B
        }
    }
    for (std::size_t i = 0; i + 1 < texts.size(); ++i)
        requests.push_back({Mode::Pair, texts[i], texts[i + 1], true, 32, true});
    compare(requests);
}

// Hand-checked cases, so that the C++ and the reference cannot agree on a shared mistake.
TEST_F(WordPieceReference, HandCheckedPiecesAndLayout) {
    EXPECT_EQ(m_uncased->tokenize("Unaffable playings"),
              (std::vector<std::string>{"un", "##aff", "##able", "play", "##ing", "##s"}));
    EXPECT_EQ(m_uncased->tokenize("Caf\xC3\xA9, Ni\xC3\xB1o!"),
              (std::vector<std::string>{"cafe", ",", "n", "##i", "##n", "##o", "!"}));
    EXPECT_EQ(m_cased->tokenize("Caf\xC3\xA9 caf\xC3\xA9"), (std::vector<std::string>{"Café", "[UNK]"}));
    EXPECT_EQ(m_uncased->basicTokenize("\xC4\xB0stanbul \xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3"),
              (std::vector<std::string>{"istanbul", "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82"})); // final sigma
    EXPECT_EQ(m_uncased->tokenize("abc\xCF\x89"), (std::vector<std::string>{"[UNK]"}));
    EXPECT_EQ(m_uncased->tokenize(std::string(101, 'a')), (std::vector<std::string>{"[UNK]"}));
    EXPECT_EQ(m_uncased->tokenize(std::string(100, 'a')).size(), 100u);
    EXPECT_EQ(m_uncased->tokenize("ab\xE4\xB8\xAD" "cd"), (std::vector<std::string>{"a", "##b", "中", "c", "##d"}));

    const WordPieceVocabulary& v = m_uncased->vocabulary();
    BertEncodeOptions options;
    options.maxLength = 8;
    options.pad = true;
    const BertEncoding e = m_uncased->encodePair("the fox", "dog", options);
    const std::int64_t the = v.find("the"), fox = v.find("fox"), dog = v.find("dog");
    EXPECT_EQ(e.ids, (std::vector<std::int64_t>{v.clsId(), the, fox, v.sepId(), dog, v.sepId(), v.padId(), v.padId()}));
    EXPECT_EQ(e.segmentIds, (std::vector<std::int64_t>{0, 0, 0, 0, 1, 1, 0, 0}));
    EXPECT_EQ(e.attentionMask, (std::vector<std::int64_t>{1, 1, 1, 1, 1, 1, 0, 0}));
    EXPECT_EQ(e.length, 6u);

    // longest_first: 4 + 2 tokens into 5 places: A loses two (4>2, 3>2), then B loses one (2=2).
    options.maxLength = 6;
    options.pad = false;
    const BertEncoding t = m_uncased->encodePair("the quick brown fox", "lazy dog", options);
    EXPECT_EQ(t.ids, (std::vector<std::int64_t>{v.clsId(), the, v.find("quick"), v.sepId(), v.find("lazy"),
                                               v.sepId()}));
}

TEST_F(WordPieceReference, ConstMethodsGiveTheSameAnswersFromSeveralThreads) {
    const std::vector<std::string> texts = sampleTexts();
    std::vector<std::string> expected;
    for (const std::string& text : texts)
        expected.push_back(numbers(m_uncased->encode(text).ids) + "|" + joined(m_uncased->tokenize(text)));
    std::vector<std::vector<std::string>> results(4);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < results.size(); ++t)
        threads.emplace_back([&, t] {
            for (int round = 0; round < 20; ++round)
                for (const std::string& text : texts)
                    results[t].push_back(numbers(m_uncased->encode(text).ids) + "|" + joined(m_uncased->tokenize(text)));
        });
    for (std::thread& thread : threads)
        thread.join();
    for (const auto& result : results)
        for (std::size_t i = 0; i < result.size(); ++i)
            ASSERT_EQ(result[i], expected[i % texts.size()]);
}

// ---- the vocabulary file ---------------------------------------------------------------------

TEST(WordPieceVocabulary, IdsAreLineIndicesWithCrlfBomAndNoFinalLineEnd) {
    ScratchDir dir("losslab-wordpiece");
    const std::string lf = write(dir, "lf.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##s\n");
    const std::string crlf = write(dir, "crlf.txt", "\xEF\xBB\xBF[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s");
    for (const std::string& path : {lf, crlf}) {
        const WordPieceVocabulary v = WordPieceVocabulary::load(path);
        EXPECT_EQ(v.size(), 6u) << path;
        EXPECT_EQ(v.padId(), 0);
        EXPECT_EQ(v.unkId(), 1);
        EXPECT_EQ(v.clsId(), 2);
        EXPECT_EQ(v.sepId(), 3);
        EXPECT_EQ(v.find("hello"), 4);
        EXPECT_EQ(v.find("##s"), 5);
        EXPECT_EQ(v.find("world"), -1);
        EXPECT_EQ(v.token(5), "##s");
        EXPECT_EQ(v.source(), path);
    }
    const WordPieceVocabulary copy = WordPieceVocabulary::load(lf);
    const WordPieceVocabulary copied = copy; // the index is rebuilt, not shared
    EXPECT_EQ(copied.find("hello"), 4);
    EXPECT_TRUE(throwsErrorWith([&] { copy.token(6); }, {lf, "token id 6 out of range"}));
}

TEST(WordPieceVocabulary, MissingFileNamesIt) {
    ScratchDir dir("losslab-wordpiece");
    const std::string path = dir.file("absent/vocab.txt");
    EXPECT_TRUE(throwsErrorWith([&] { WordPieceVocabulary::load(path); }, {path, "not found"}));
}

TEST(WordPieceVocabulary, MissingSpecialTokensAreNamed) {
    ScratchDir dir("losslab-wordpiece");
    const std::string noCls = write(dir, "no_cls.txt", "[PAD]\n[UNK]\n[SEP]\nhello\n");
    EXPECT_TRUE(throwsErrorWith([&] { WordPieceVocabulary::load(noCls); }, {noCls, "lacks [CLS];"}));
    const std::string two = write(dir, "two.txt", "[PAD]\n[SEP]\nhello\n");
    EXPECT_TRUE(throwsErrorWith([&] { WordPieceVocabulary::load(two); }, {two, "lacks [CLS], [UNK];"}));
    const std::string empty = write(dir, "empty.txt", "");
    EXPECT_TRUE(throwsErrorWith([&] { WordPieceVocabulary::load(empty); }, {empty, "no tokens"}));
}

TEST(WordPieceVocabulary, DuplicateTokenNamesBothLines) {
    ScratchDir dir("losslab-wordpiece");
    const std::string path = write(dir, "dup.txt", "[PAD]\n[UNK]\nhello\n[CLS]\n[SEP]\nworld\nhello\n");
    EXPECT_TRUE(throwsErrorWith([&] { WordPieceVocabulary::load(path); },
                                {path + ":7: token \"hello\" already on line 3"}));
    EXPECT_TRUE(throwsErrorWith(
        [&] { WordPieceVocabulary::fromTokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "x", "x"}, "memory"); },
        {"memory: token \"x\" at ids 4 and 5"}));
}

TEST(WordPieceVocabulary, InvalidUtf8AndLoneCarriageReturnNameTheLine) {
    ScratchDir dir("losslab-wordpiece");
    const std::string path = write(dir, "latin1.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\ncaf\xE9\n");
    EXPECT_TRUE(throwsErrorWith([&] { WordPieceVocabulary::load(path); }, {path + ":5: invalid UTF-8"}));
    const std::string cr = write(dir, "cr.txt", "[PAD]\n[UNK]\r[CLS]\n[SEP]\n");
    EXPECT_TRUE(throwsErrorWith([&] { WordPieceVocabulary::load(cr); }, {cr + ":2: carriage return"}));
}

TEST(WordPieceTokenizer, EncodeRefusesALengthWithoutRoomForTheSpecialTokens) {
    const WordPieceTokenizer tokenizer(
        WordPieceVocabulary::fromTokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"}, "memory"));
    BertEncodeOptions options;
    options.maxLength = 2;
    EXPECT_EQ(tokenizer.encode("a a a", options).ids, (std::vector<std::int64_t>{2, 3}));
    EXPECT_TRUE(throwsErrorWith([&] { tokenizer.encodePair("a", "a", options); }, {"maxLength 2", "at least 3"}));
    options.maxLength = 1;
    EXPECT_TRUE(throwsErrorWith([&] { tokenizer.encode("a", options); }, {"maxLength 1", "at least 2"}));
    options.maxLength = 0;
    options.pad = true;
    EXPECT_TRUE(throwsErrorWith([&] { tokenizer.encode("a", options); }, {"padding needs a maxLength"}));
}

} // namespace
