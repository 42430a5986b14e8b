// Output unit sets: ESPnet's id layout, the three kinds, round trips, unknown symbols, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "error_matchers.h"
#include "scratch_dir.h"
#include "unit_set.h"

#include "spm_tools.h"

namespace losslab::speech {
namespace {

namespace fs = std::filesystem;
using fixtures::ScratchDir;
using fixtures::throwsErrorWith;
using Ids = std::vector<std::int64_t>;

TEST(UnitSet, CharactersAreSortedByCodePointBetweenTheSpecials) {
    const UnitSet units = UnitSet::characters({"BA A", "\xC3\xA9t\xC3\xA9", "'"}); // "été"
    EXPECT_EQ(units.kind(), UnitKind::Characters);
    EXPECT_EQ(units.names(),
              (std::vector<std::string>{"<blank>", "<unk>", "<space>", "'", "A", "B", "t", "\xC3\xA9", "<sos/eos>"}));
    EXPECT_EQ(units.size(), 9);
    EXPECT_EQ(units.blank(), 0);
    EXPECT_EQ(units.unk(), 1);
    EXPECT_EQ(units.eos(), 8);
    EXPECT_EQ(units.encode("AB A"), (Ids{4, 5, 2, 4}));
    EXPECT_EQ(units.encode("t\xC3\xA9"), (Ids{6, 7}));
}

TEST(UnitSet, CharactersRoundTripAndMarkUnknowns) {
    const std::vector<std::string> texts = {"ONE TWO THREE", "DON'T GO", "SEVEN"};
    const UnitSet units = UnitSet::characters(texts);
    for (const auto& text : texts) EXPECT_EQ(units.decode(units.encode(text)), text);
    // Unknown code points (and each invalid byte) become <unk>, which decodes to one mark.
    const Ids ids = units.encode("ONE\xC3\xBC" "Z\xFF");
    EXPECT_EQ(ids, (Ids{units.encode("O")[0], units.encode("N")[0], units.encode("E")[0], 1, 1, 1}));
    EXPECT_EQ(units.decode(ids), std::string("ONE") + UnitSet::kUnkCharacter + UnitSet::kUnkCharacter
                                     + UnitSet::kUnkCharacter);
    // blank and eos are skipped.
    EXPECT_EQ(units.decode({0, units.encode("O")[0], 0, units.eos(), units.encode("N")[0]}), "ON");
}

TEST(UnitSet, CharactersAreDeterministic) {
    const UnitSet a = UnitSet::characters({"HELLO WORLD", "ABC"});
    const UnitSet b = UnitSet::characters({"ABC", "WORLD HELLO", "ABC"});
    EXPECT_EQ(a.names(), b.names());
}

TEST(UnitSet, CharactersRejectInvalidUtf8) {
    EXPECT_TRUE(throwsErrorWith([] { UnitSet::characters({"OK", "BAD\xFF"}); }, {"text 1", "UTF-8", "byte 3", "0xFF"}));
    EXPECT_TRUE(throwsErrorWith([] { UnitSet::characters({"\xC3"}); }, {"text 0", "byte 0", "0xC3"})); // cut short
    EXPECT_TRUE(throwsErrorWith([] { UnitSet::characters({"\xC0\xAF"}); }, {"0xC0"}));                 // overlong
}

TEST(UnitSet, TokensAreSortedSymbols) {
    const UnitSet units = UnitSet::tokens({"sil hh  aw sil", "b\taa <unk>", ""});
    EXPECT_EQ(units.kind(), UnitKind::Tokens);
    EXPECT_EQ(units.names(), (std::vector<std::string>{"<blank>", "<unk>", "aa", "aw", "b", "hh", "sil", "<sos/eos>"}));
    EXPECT_EQ(units.encode(" sil  aw zz <unk>"), (Ids{6, 3, 1, 1}));
    EXPECT_EQ(units.decode({6, 0, 3, 1, 7}), "sil aw <unk>");
    EXPECT_EQ(units.decode(units.encode("hh  aw\tsil")), "hh aw sil");
    EXPECT_EQ(units.decode({}), "");
}

TEST(UnitSet, FixedKeepsTheGivenOrder) {
    const UnitSet timit = UnitSet::fixed(UnitKind::Tokens, kTimitPhones39);
    EXPECT_EQ(timit.size(), 42);
    EXPECT_EQ(timit.names()[2], "aa");
    EXPECT_EQ(timit.names()[40], "z");
    EXPECT_EQ(timit.eos(), 41);
    EXPECT_EQ(timit.encode("sil hh xx"), (Ids{32, 17, 1}));
    EXPECT_EQ(timit.decode(timit.encode("sil hh aw ch iy sil p ih z oy l sil")),
              "sil hh aw ch iy sil p ih z oy l sil");

    const UnitSet reversed = UnitSet::fixed(UnitKind::Tokens, {"z", "a"});
    EXPECT_EQ(reversed.encode("a z"), (Ids{3, 2}));

    // LibriSpeech's characters are what characters() finds in transcripts that use them all.
    const UnitSet libri = UnitSet::fixed(UnitKind::Characters, kLibriSpeechCharacters);
    EXPECT_EQ(libri.size(), 31);
    EXPECT_EQ(libri.names(), UnitSet::characters({"THE QUICK BROWN FOX JUMPS OVER A LAZY DOG'S BACK"}).names());
    EXPECT_EQ(libri.encode("A B'"), (Ids{4, 2, 5, 3}));
    EXPECT_EQ(libri.decode(libri.encode("DON'T GO")), "DON'T GO");
    EXPECT_EQ(libri.encode("a"), (Ids{1})); // lower case is not in LibriSpeech's set
}

TEST(UnitSet, FixedRejectsBadLists) {
    EXPECT_TRUE(throwsErrorWith([] { UnitSet::fixed(UnitKind::Tokens, {}); }, {"empty"}));
    EXPECT_TRUE(throwsErrorWith([] { UnitSet::fixed(UnitKind::Tokens, {"a", "b", "a"}); }, {"\"a\"", "twice"}));
    EXPECT_TRUE(throwsErrorWith([] { UnitSet::fixed(UnitKind::Tokens, {"a", "<blank>"}); }, {"<blank>", "special"}));
    EXPECT_TRUE(throwsErrorWith([] { UnitSet::fixed(UnitKind::Tokens, {"a b"}); }, {"\"a b\"", "whitespace"}));
    EXPECT_TRUE(throwsErrorWith([] { UnitSet::fixed(UnitKind::Characters, {"ab"}); }, {"\"ab\"", "one UTF-8 character"}));
    EXPECT_TRUE(throwsErrorWith([] { UnitSet::fixed(UnitKind::Characters, {" "}); }, {"<space>"}));
    EXPECT_TRUE(throwsErrorWith([] { UnitSet::fixed(UnitKind::SentencePiece, {"a"}); }, {"model file"}));
}

TEST(UnitSet, DecodeRejectsIdsOutOfRange) {
    const UnitSet units = UnitSet::tokens({"a b"});
    EXPECT_TRUE(throwsErrorWith([&] { units.decode({2, 5}); }, {"unit id 5", "0..4"}));
    EXPECT_TRUE(throwsErrorWith([&] { units.decode({-1}); }, {"unit id -1"}));
}

TEST(UnitSet, SentencePieceErrorsNameTheFile) {
    ScratchDir dir("speech-units");
    const std::string missing = dir.file("missing.model");
    EXPECT_TRUE(throwsErrorWith([&] { UnitSet::sentencePiece(missing); }, {missing, "SentencePiece"}));
    const std::string garbage = dir.file("garbage.model");
    std::ofstream(garbage) << "not a model\n";
    EXPECT_TRUE(throwsErrorWith([&] { UnitSet::sentencePiece(garbage); }, {garbage, "SentencePiece"}));
}

TEST(UnitSet, SentencePieceRoundTripsThroughATrainedModel) {
    ScratchDir dir("speech-units");
    const std::vector<std::string> words = {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                                            "zero", "yes", "no", "stop", "go"};
    std::vector<std::string> corpus;
    for (std::size_t i = 0; i < 400; ++i)
        corpus.push_back(words[i % words.size()] + ' ' + words[(i * 7 + 3) % words.size()] + ' ' +
                         words[(i * 5 + 1) % words.size()]);
    // Trained as the speech tasks train one (spm_train, run as a program).
    const std::string model = trainSentencePieceModel(corpus, 30, "unigram", dir.file("models"));
    ASSERT_EQ(trainSentencePieceModel(corpus, 30, "unigram", dir.file("models")), model) << "kept and reused";
    const std::string prefix = model.substr(0, model.size() - std::string(".model").size());
    const UnitSet units = UnitSet::sentencePiece(prefix + ".model");
    EXPECT_EQ(units.kind(), UnitKind::SentencePiece);
    EXPECT_EQ(units.modelFile(), prefix + ".model");
    const auto& names = units.names();
    EXPECT_EQ(names.front(), "<blank>");
    EXPECT_EQ(names[1], "<unk>");
    EXPECT_EQ(names.back(), "<sos/eos>");
    // The model's own <unk>, <s>, </s> are not units (only ours at 1).
    EXPECT_EQ(std::count(names.begin(), names.end(), "<unk>"), 1);
    EXPECT_EQ(std::count(names.begin(), names.end(), "<s>"), 0);
    EXPECT_EQ(std::count(names.begin(), names.end(), "</s>"), 0);
    EXPECT_GT(units.size(), 10);
    EXPECT_EQ(units.size(), 30 - 3 + 3); // the model's pieces less its 3 specials, plus ours

    for (const std::string text : {"one two three", "stop go", "nine zero yes", "seven eight"}) {
        const auto ids = units.encode(text);
        ASSERT_FALSE(ids.empty());
        for (const auto id : ids) {
            EXPECT_GE(id, 2) << text;
            EXPECT_LT(id, units.eos()) << text;
        }
        EXPECT_EQ(units.decode(ids), text);
    }
    // An unknown character maps to <unk>; blank and eos are skipped when decoding.
    const auto withUnknown = units.encode("one \xE2\x82\xAC");
    EXPECT_NE(std::find(withUnknown.begin(), withUnknown.end(), units.unk()), withUnknown.end());
    auto ids = units.encode("two");
    ids.insert(ids.begin(), units.blank());
    ids.push_back(units.eos());
    EXPECT_EQ(units.decode(ids), "two");

    // Two loads of one model give the same units; copies share it.
    const UnitSet again = UnitSet::sentencePiece(prefix + ".model");
    EXPECT_EQ(again.names(), units.names());
    const UnitSet copy = units;
    EXPECT_EQ(copy.encode("one two"), units.encode("one two"));
    // All texts at once (one spm_encode) give what one at a time gives.
    const std::vector<std::string> texts = {"one two three", "stop go", "nine zero yes"};
    const auto all = units.encodeAll(texts);
    ASSERT_EQ(all.size(), texts.size());
    for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(all[i], units.encode(texts[i]));
}

} // namespace
} // namespace losslab::speech
