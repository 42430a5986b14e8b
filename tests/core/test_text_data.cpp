// The text plugin's data layer (torch-free): GLUE TSV, CSV, text8/enwik8, tokeniser,
// vocabulary and padding, on fixtures written into a scratch folder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "error_matchers.h"
#include "losslab/data/text/char_corpus.h"
#include "losslab/data/text/csv_text_reader.h"
#include "losslab/data/text/glue_reader.h"
#include "losslab/data/text/padded_batch.h"
#include "losslab/data/text/vocabulary.h"
#include "losslab/data/text/word_tokenizer.h"
#include "losslab/error.h"
#include "scratch_dir.h"

namespace {

using losslab::CharCorpus;
using losslab::CharCorpusKind;
using losslab::CsvLabels;
using losslab::GlueLabels;
using losslab::GlueTask;
using losslab::TextExample;
using losslab::Vocabulary;
using losslab::VocabularyOptions;
using losslab::WordTokenizer;
using losslab::fixtures::ScratchDir;
using losslab::fixtures::throwsErrorWith;

std::string write(const ScratchDir& dir, const std::string& name, const std::string& bytes) {
    const std::string path = dir.file(name);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream out(path, std::ios::binary);
    out << bytes;
    return path;
}

const std::string kBom = "\xEF\xBB\xBF";

// ---- GLUE ------------------------------------------------------------------------------

TEST(GlueReader, ReadsMrpcWithBomCrlfQuotesAndBlankLines) {
    ScratchDir dir("losslab-text");
    // As distributed: a BOM before "Quality"; texts with quote characters that are not quoting.
    const std::string path = write(dir, "train.tsv",
                                   kBom + "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\r\n"
                                          "1\t702876\t702977\t\"Amrozi\" accused his brother\tReferring to him as \"the witness\r\n"
                                          "\r\n"
                                          "0\t2108705\t2108831\tYucaipa owned Dominick 's\tYucaipa bought Dominick 's in 1995");
    const losslab::TextSplit split = losslab::readGlueFile(path, GlueTask::Mrpc);
    ASSERT_EQ(split.size(), 2u);
    EXPECT_TRUE(split.labelled);
    EXPECT_EQ(split.examples[0].textA, "\"Amrozi\" accused his brother");
    EXPECT_EQ(split.examples[0].textB, "Referring to him as \"the witness");
    EXPECT_EQ(split.examples[0].label, 1);
    EXPECT_EQ(split.examples[1].textB, "Yucaipa bought Dominick 's in 1995"); // no newline at the end
    EXPECT_EQ(split.examples[1].label, 0);
    EXPECT_EQ(split.classNames, (std::vector<std::string>{"not_equivalent", "equivalent"}));
}

TEST(GlueReader, ReadsSst2AsSingleSentences) {
    ScratchDir dir("losslab-text");
    const std::string path = write(dir, "dev.tsv", "sentence\tlabel\nit 's a charming journey . \t1\nbad\t0\n");
    const losslab::TextSplit split = losslab::readGlueFile(path, GlueTask::Sst2);
    ASSERT_EQ(split.size(), 2u);
    EXPECT_EQ(split.examples[0].textA, "it 's a charming journey . ");
    EXPECT_TRUE(split.examples[0].textB.empty());
    EXPECT_EQ(split.examples[0].label, 1);
    EXPECT_EQ(split.examples[1].label, 0);
}

TEST(GlueReader, FindsQnliColumnsByNameAndMapsItsLabels) {
    ScratchDir dir("losslab-text");
    // Columns reordered on purpose: found by header name, not position.
    const std::string path = write(dir, "train.tsv",
                                   "index\tlabel\tsentence\tquestion\n"
                                   "0\tnot_entailment\tThe sky is blue.\tWhat colour is grass?\n"
                                   "1\tentailment\tParis is in France.\tWhere is Paris?\n");
    const losslab::TextSplit split = losslab::readGlueFile(path, GlueTask::Qnli);
    ASSERT_EQ(split.size(), 2u);
    EXPECT_EQ(split.examples[0].textA, "What colour is grass?");
    EXPECT_EQ(split.examples[0].textB, "The sky is blue.");
    EXPECT_EQ(split.examples[0].label, 1);
    EXPECT_EQ(split.examples[1].label, 0);
    EXPECT_EQ(split.classNames[0], "entailment");
}

TEST(GlueReader, ReadsQqpAndAnUnlabelledTestFile) {
    ScratchDir dir("losslab-text");
    const std::string train = write(dir, "train.tsv",
                                    "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                                    "5\t11\t12\tWhat is \"love\"?\tWhat's love, \"really\"?\t1\n");
    const std::string test = write(dir, "test.tsv", "id\tquestion1\tquestion2\n0\tWhy?\tWhy not?\n");
    const losslab::TextSplit labelled = losslab::readGlueFile(train, GlueTask::Qqp);
    ASSERT_EQ(labelled.size(), 1u);
    EXPECT_EQ(labelled.examples[0].textA, "What is \"love\"?");
    EXPECT_EQ(labelled.examples[0].textB, "What's love, \"really\"?");
    EXPECT_EQ(labelled.examples[0].label, 1);

    const losslab::TextSplit unlabelled = losslab::readGlueFile(test, GlueTask::Qqp, GlueLabels::IfPresent);
    ASSERT_EQ(unlabelled.size(), 1u);
    EXPECT_FALSE(unlabelled.labelled);
    EXPECT_EQ(unlabelled.examples[0].label, TextExample::kUnlabelled);
    EXPECT_EQ(unlabelled.examples[0].textB, "Why not?");
    // The same file where labels are required: the label column is missing.
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readGlueFile(test, GlueTask::Qqp); },
                                {test, "column \"is_duplicate\" missing"}));
}

TEST(GlueReader, MissingColumnNamesTheColumnAndTheFile) {
    ScratchDir dir("losslab-text");
    const std::string path = write(dir, "train.tsv", "Quality\t#1 ID\t#2 ID\t#1 String\n1\ta\tb\tc\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readGlueFile(path, GlueTask::Mrpc); },
                                {path, "column \"#2 String\" missing", "\"#1 String\""}));
}

TEST(GlueReader, WrongFieldCountNamesFileAndLine) {
    ScratchDir dir("losslab-text");
    const std::string path = write(dir, "dev.tsv", "sentence\tlabel\ngood\t1\n\nhas\ta tab\t0\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readGlueFile(path, GlueTask::Sst2); },
                                {path + ":4:", "3 tab-separated fields, expected 2"}));
}

TEST(GlueReader, CarriageReturnLineEndsAreNamedNotTakenForAMissingColumn) {
    ScratchDir dir("losslab-text");
    const std::string cr = write(dir, "train.tsv", "sentence\tlabel\rgood\t1\rbad\t0\r");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readGlueFile(cr, GlueTask::Sst2); },
                                {cr + ":1:", "carriage return inside a line; expected LF or CRLF line ends"}));
    const std::string inside = write(dir, "dev.tsv", "sentence\tlabel\r\ngood\t1\r\nba\rd\t0\r\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readGlueFile(inside, GlueTask::Sst2); }, {inside + ":3:", "carriage return"}));
}

TEST(GlueReader, UnknownLabelNamesLineValueAndExpectedLabels) {
    ScratchDir dir("losslab-text");
    const std::string path = write(dir, "train.tsv", "index\tquestion\tsentence\tlabel\n0\tq\ts\tentailed\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readGlueFile(path, GlueTask::Qnli); },
                                {path + ":2:", "\"entailed\"", "\"entailment\", \"not_entailment\""}));
}

TEST(GlueReader, InvalidUtf8NamesFileAndLine) {
    ScratchDir dir("losslab-text");
    const std::string path = write(dir, "train.tsv", "sentence\tlabel\nfine\t1\ncaf\xE9 latin-1\t0\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readGlueFile(path, GlueTask::Sst2); },
                                {path + ":3:", "invalid UTF-8", "0xE9"}));
}

TEST(GlueReader, FolderNeedsTrainAndDevAndReadsTestWithoutLabels) {
    ScratchDir dir("losslab-text");
    const std::string header = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n";
    write(dir, "mrpc/train.tsv", header + "1\t1\t2\ta\tb\n0\t3\t4\tc\td\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadGlueFolder(dir.file("mrpc"), GlueTask::Mrpc); },
                                {"files missing", dir.file("mrpc/dev.tsv")}));
    write(dir, "mrpc/dev.tsv", header + "1\t5\t6\te\tf\n");
    losslab::TextDataSet set = losslab::loadGlueFolder(dir.file("mrpc"), GlueTask::Mrpc);
    EXPECT_EQ(set.train.size(), 2u);
    EXPECT_EQ(set.dev.size(), 1u);
    EXPECT_TRUE(set.pairs);
    EXPECT_FALSE(set.hasTest);
    write(dir, "mrpc/test.tsv", "index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t7\t8\tg\th\n");
    set = losslab::loadGlueFolder(dir.file("mrpc"), GlueTask::Mrpc);
    ASSERT_TRUE(set.hasTest);
    EXPECT_FALSE(set.test.labelled);
    EXPECT_EQ(set.test.examples.at(0).textA, "g");
}

TEST(GlueReader, AHeaderWithoutRowsNamesTheFile) {
    ScratchDir dir("losslab-text");
    const std::string header = "sentence\tlabel\n";
    write(dir, "sst/train.tsv", header + "good\t1\nbad\t0\n");
    const std::string dev = write(dir, "sst/dev.tsv", header + "\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadGlueFolder(dir.file("sst"), GlueTask::Sst2); },
                                {dev + ": no rows after the header row", "SST-2"}));
    const std::string train = write(dir, "sst/train.tsv", header);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadGlueFolder(dir.file("sst"), GlueTask::Sst2); },
                                {train + ": no rows after the header row"}));
}

TEST(GlueReader, AColumnTwiceInTheHeaderIsRefusedNamingBoth) {
    ScratchDir dir("losslab-text");
    const std::string train = write(dir, "sst/train.tsv", "sentence\tlabel\tlabel\ngood\t1\t0\n");
    // Before: the first "label" was taken without a word.
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readGlueFile(train, GlueTask::Sst2); },
                                {train + ":1: column \"label\" appears twice (columns 2 and 3)", "SST-2"}));
    // Columns the reader does not use may repeat, as other tools' extra columns do.
    const std::string extra = write(dir, "sst/extra.tsv", "sentence\tlabel\tnote\tnote\ngood\t1\ta\tb\n");
    EXPECT_EQ(losslab::readGlueFile(extra, GlueTask::Sst2).size(), 1u);
}

TEST(GlueReader, MissingFileAndUnknownTaskAreErrors) {
    ScratchDir dir("losslab-text");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readGlueFile(dir.file("nope.tsv"), GlueTask::Qqp); },
                                {dir.file("nope.tsv"), "not found"}));
    EXPECT_EQ(losslab::glueTaskFromName("SST-2"), GlueTask::Sst2);
    EXPECT_EQ(losslab::glueTaskName(GlueTask::Qnli), "qnli");
    EXPECT_TRUE(throwsErrorWith([] { losslab::glueTaskFromName("cola"); }, {"\"cola\"", "mrpc"}));
}

// ---- CSV -------------------------------------------------------------------------------

TEST(CsvTextReader, HandlesQuotingCommasDoubledQuotesAndLineBreaks) {
    ScratchDir dir("losslab-text");
    const std::string path = write(dir, "train.csv",
                                   "text,label\n"
                                   "\"Hello, world\",greeting\n"
                                   "\"She said \"\"hi\"\"\",quote\n"
                                   "\"two\nlines\",greeting\n"
                                   "plain text,\"quote\"\n");
    const losslab::TextSplit split = losslab::readTextCsvTrain(path);
    ASSERT_EQ(split.size(), 4u);
    EXPECT_EQ(split.examples[0].textA, "Hello, world");
    EXPECT_EQ(split.examples[1].textA, "She said \"hi\"");
    EXPECT_EQ(split.examples[2].textA, "two\nlines");
    EXPECT_EQ(split.examples[3].textA, "plain text");
    EXPECT_EQ(split.classNames, (std::vector<std::string>{"greeting", "quote"}));
    EXPECT_EQ(split.examples[3].label, 1);
}

TEST(CsvTextReader, AcceptsBomCrlfBlankLinesAndNoFinalLineEnd) {
    ScratchDir dir("losslab-text");
    const std::string path = write(dir, "train.csv",
                                   kBom + "label,text\r\npos,\"caf\xC3\xA9, \xE6\x97\xA5\xE6\x9C\xAC\"\r\n\r\nneg,last");
    const losslab::TextSplit split = losslab::readTextCsvTrain(path);
    ASSERT_EQ(split.size(), 2u);
    EXPECT_EQ(split.examples[0].textA, "caf\xC3\xA9, \xE6\x97\xA5\xE6\x9C\xAC");
    EXPECT_EQ(split.examples[1].textA, "last");
    EXPECT_EQ(split.classNames, (std::vector<std::string>{"neg", "pos"}));
}

TEST(CsvTextReader, ClassesAreSortedNumericallyWhenIntegersWhateverTheRowOrder) {
    ScratchDir dir("losslab-text");
    const std::string a = write(dir, "a.csv", "text,label\nx,10\ny,2\nz,1\n");
    const std::string b = write(dir, "b.csv", "text,label\nz,1\nx,10\ny,2\n");
    const losslab::TextSplit first = losslab::readTextCsvTrain(a);
    const losslab::TextSplit second = losslab::readTextCsvTrain(b);
    EXPECT_EQ(first.classNames, (std::vector<std::string>{"1", "2", "10"}));
    EXPECT_EQ(first.classNames, second.classNames);
    EXPECT_EQ(first.examples[0].label, 2); // "x" has "10"
    EXPECT_EQ(second.examples[1].label, 2);
}

TEST(CsvTextReader, DevLabelNotInTrainNamesFileAndLine) {
    ScratchDir dir("losslab-text");
    write(dir, "set/train.csv", "text,label\na,pos\nb,neg\n");
    const std::string dev = write(dir, "set/dev.csv", "text,label\n\"multi\nline\",pos\nc,neutral\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadTextCsvFolder(dir.file("set")); },
                                {dev + ":4:", "\"neutral\"", "\"neg\", \"pos\""}));
}

TEST(CsvTextReader, UnclosedQuoteIsAnErrorAtTheLineWhereItOpens) {
    ScratchDir dir("losslab-text");
    const std::string path = write(dir, "train.csv", "text,label\ngood,a\n\"truncated text,b\nmore");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readTextCsvTrain(path); }, {path + ":3:", "never closed"}));
}

TEST(CsvTextReader, WrongFieldCountAndTextAfterClosingQuoteAreErrors) {
    ScratchDir dir("losslab-text");
    const std::string path = write(dir, "train.csv", "text,label\nhello, world,a\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readTextCsvTrain(path); },
                                {path + ":2:", "3 fields, expected 2"}));
    const std::string junk = write(dir, "junk.csv", "text,label\n\"quoted\"tail,a\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readTextCsvTrain(junk); },
                                {junk + ":2:", "after a closing quote"}));
}

TEST(CsvTextReader, MissingColumnEmptyLabelAndInvalidUtf8AreErrors) {
    ScratchDir dir("losslab-text");
    const std::string noLabel = write(dir, "a.csv", "text,class\nx,1\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readTextCsvTrain(noLabel); },
                                {noLabel, "column \"label\" missing", "\"class\""}));
    const std::string empty = write(dir, "b.csv", "text,label\nx,\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readTextCsvTrain(empty); }, {empty + ":2:", "empty label"}));
    const std::string bad = write(dir, "c.csv", "text,label\nok,1\n\"two\nlines \xC0\xAF\",2\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readTextCsvTrain(bad); }, {bad + ":4:", "invalid UTF-8"}));
    const std::string nothing = write(dir, "d.csv", "");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::readTextCsvTrain(nothing); }, {nothing, "empty"}));
}

TEST(CsvTextReader, AHeaderWithoutRowsNamesTheFile) {
    ScratchDir dir("losslab-text");
    const std::string train = write(dir, "set/train.csv", "text,label\n");
    write(dir, "set/dev.csv", "text,label\na,pos\n");
    // Not "dev.csv:2: label "pos" is not a class of train.csv; expected one of " (an empty list).
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadTextCsvFolder(dir.file("set")); },
                                {train + ": no rows after the header row", "with its label"}));
    write(dir, "set/train.csv", "text,label\na,pos\nb,neg\n");
    const std::string dev = write(dir, "set/dev.csv", "text,label\n\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadTextCsvFolder(dir.file("set")); },
                                {dev + ": no rows after the header row"}));
    std::filesystem::remove(dev);
    const std::string test = write(dir, "set/test.csv", "text,label\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadTextCsvFolder(dir.file("set")); },
                                {test + ": no rows after the header row"}));
    write(dir, "set/test.csv", "text\n"); // unlabelled: not a split the run reports on
    EXPECT_TRUE(losslab::loadTextCsvFolder(dir.file("set")).hasTest);
}

TEST(CsvTextReader, AColumnTwiceInTheHeaderIsRefusedNamingBoth) {
    ScratchDir dir("losslab-text");
    write(dir, "set/train.csv", "text,label,text\na,pos,b\nb,neg,a\n");
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadTextCsvFolder(dir.file("set")); },
                                {dir.file("set/train.csv") + ":1: column \"text\" appears twice (columns 1 and 3)"}));
}

TEST(CsvTextReader, FolderReadsTestWithOrWithoutLabels) {
    ScratchDir dir("losslab-text");
    write(dir, "set/train.csv", "text,label\na,pos\nb,neg\n");
    write(dir, "set/test.csv", "text\nunknown\n");
    losslab::TextDataSet set = losslab::loadTextCsvFolder(dir.file("set"));
    EXPECT_FALSE(set.hasDev);
    ASSERT_TRUE(set.hasTest);
    EXPECT_FALSE(set.test.labelled);
    EXPECT_EQ(set.test.examples.at(0).label, TextExample::kUnlabelled);
    write(dir, "set/test.csv", "text,label\nc,pos\n");
    set = losslab::loadTextCsvFolder(dir.file("set"));
    EXPECT_TRUE(set.test.labelled);
    EXPECT_EQ(set.test.examples.at(0).label, 1);
    EXPECT_FALSE(set.pairs);
    EXPECT_TRUE(throwsErrorWith([&] { losslab::loadTextCsvFolder(dir.file("none")); }, {"train.csv", "not found"}));
}

// ---- Character corpora -----------------------------------------------------------------

TEST(CharCorpus, SplitIsStandardAt100MAndProportionalBelow) {
    const losslab::CharSplitSizes standard = CharCorpus::splitSizes(100'000'000);
    EXPECT_EQ(standard.train, 90'000'000u);
    EXPECT_EQ(standard.valid, 5'000'000u);
    EXPECT_EQ(standard.test, 5'000'000u);
    EXPECT_EQ(standard.unused, 0u);
    const losslab::CharSplitSizes larger = CharCorpus::splitSizes(100'000'007);
    EXPECT_EQ(larger.train, 90'000'000u);
    EXPECT_EQ(larger.unused, 7u);
    const losslab::CharSplitSizes small = CharCorpus::splitSizes(1000);
    EXPECT_EQ(small.train, 900u);
    EXPECT_EQ(small.valid, 50u);
    EXPECT_EQ(small.test, 50u);
    const losslab::CharSplitSizes odd = CharCorpus::splitSizes(39);
    EXPECT_EQ(odd.valid, 1u);
    EXPECT_EQ(odd.train, 37u);
    EXPECT_TRUE(throwsErrorWith([] { CharCorpus::splitSizes(19, "tiny"); }, {"tiny", "at least 20"}));
}

TEST(CharCorpus, Text8MapsSpaceAndLettersTo27Ids) {
    ScratchDir dir("losslab-text");
    std::string text;
    while (text.size() < 200)
        text += "the quick brown fox jumps over the lazy dog ";
    text.resize(200);
    write(dir, "text8", text);
    const CharCorpus corpus = CharCorpus::load(dir.path().string(), CharCorpusKind::Text8);
    EXPECT_EQ(corpus.classCount(), 27u);
    ASSERT_EQ(corpus.train().size(), 180u);
    ASSERT_EQ(corpus.valid().size(), 10u);
    ASSERT_EQ(corpus.test().size(), 10u);
    EXPECT_EQ(corpus.train()[0], 't' - 'a' + 1);
    EXPECT_EQ(corpus.train()[3], 0); // space
    EXPECT_EQ(corpus.test().back(), text.back() == ' ' ? 0 : text.back() - 'a' + 1);
    EXPECT_EQ(corpus.valid()[0], text[180] == ' ' ? 0 : text[180] - 'a' + 1);
    EXPECT_EQ(corpus.classNames()[26], "z");
    EXPECT_TRUE(corpus.warnings().empty());
}

TEST(CharCorpus, Text8RejectsOtherBytesNamingTheOffset) {
    ScratchDir dir("losslab-text");
    const std::string path = write(dir, "text8", std::string(30, 'a') + "B" + std::string(30, 'a'));
    EXPECT_TRUE(throwsErrorWith([&] { CharCorpus::read(path, CharCorpusKind::Text8); },
                                {path, "byte offset 30", "\"B\" (0x42)"}));
    const std::string newline = write(dir, "nl/text8", std::string(40, 'a') + "\n");
    EXPECT_TRUE(throwsErrorWith([&] { CharCorpus::read(newline, CharCorpusKind::Text8); },
                                {"byte offset 40", "0x0A"}));
}

TEST(CharCorpus, Enwik8MapsTrainingBytesInOrderAndAddsAnUnseenClass) {
    ScratchDir dir("losslab-text");
    // 40 bytes: train 36 ("<b>" and 0xFF), valid 2, test 2 (holds 'z', absent from train).
    std::string bytes;
    while (bytes.size() < 36)
        bytes += "<b>\xFF";
    bytes.resize(36);
    bytes += "b<z>";
    const std::string path = write(dir, "enwik8", bytes);
    const CharCorpus corpus = CharCorpus::read(path, CharCorpusKind::Enwik8);
    // '<' 0x3C, '>' 0x3E, 'b' 0x62, 0xFF -> ids 0..3; unseen -> 4.
    EXPECT_EQ(corpus.classBytes(), (std::vector<int>{0x3C, 0x3E, 0x62, 0xFF, -1}));
    EXPECT_EQ(corpus.classNames().back(), "<unseen>");
    EXPECT_EQ(corpus.classNames()[3], "0xFF");
    EXPECT_EQ(corpus.train()[0], 0);
    EXPECT_EQ(corpus.train()[3], 3);
    EXPECT_EQ(corpus.valid(), (std::vector<std::uint8_t>{2, 0}));
    EXPECT_EQ(corpus.test(), (std::vector<std::uint8_t>{4, 1}));
    EXPECT_EQ(corpus.warnings().size(), 1u);
}

// ---- Tokeniser, vocabulary, padding ----------------------------------------------------

TEST(WordTokenizer, LowerCasesSplitsPunctuationAndKeepsUtf8InWords) {
    const WordTokenizer tokenizer;
    EXPECT_EQ(tokenizer.tokenize("Don't STOP, U.S.A.!"),
              (std::vector<std::string>{"don", "'", "t", "stop", ",", "u", ".", "s", ".", "a", ".", "!"}));
    EXPECT_EQ(tokenizer.tokenize("  Caf\xC3\xA9\tNa\xC3\xAFve\r\n42x \xC3\x89t\xC3\xA9 a\xE2\x80\x94" "b "),
              (std::vector<std::string>{"caf\xC3\xA9", "na\xC3\xAFve", "42x", "\xC3\x89t\xC3\xA9", "a\xE2\x80\x94" "b"}));
    EXPECT_TRUE(tokenizer.tokenize(" \t\n").empty());
}

TEST(Vocabulary, MinCountMaxWordsAndDeterministicTies) {
    const WordTokenizer tokenizer;
    std::vector<TextExample> rows = {{"b a c", "a", 0}, {"c b d", "", 1}, {"e", "e f", 0}};
    // counts: a 2, b 2, c 2, e 2, d 1, f 1
    VocabularyOptions options;
    options.minCount = 2;
    const Vocabulary all = Vocabulary::fromExamples(rows, tokenizer, options);
    ASSERT_EQ(all.size(), 6u);
    EXPECT_EQ(all.token(2), "a");
    EXPECT_EQ(all.token(5), "e");
    EXPECT_EQ(all.id("d"), Vocabulary::kOovId);
    EXPECT_EQ(all.count(2), 2);

    options.maxWords = 3;
    const Vocabulary limited = Vocabulary::fromExamples(rows, tokenizer, options);
    ASSERT_EQ(limited.size(), 5u);
    EXPECT_EQ(limited.id("c"), 4);
    EXPECT_EQ(limited.id("e"), Vocabulary::kOovId);

    // Same data, other row order: the same ids.
    std::reverse(rows.begin(), rows.end());
    const Vocabulary reversed = Vocabulary::fromExamples(rows, tokenizer, options);
    for (std::int32_t id = 0; id < static_cast<std::int32_t>(limited.size()); ++id)
        EXPECT_EQ(reversed.token(id), limited.token(id));

    // Frequency first: "z" (3 times) before "a" (once).
    const Vocabulary byCount = Vocabulary::fromCounts({{"a", 1}, {"z", 3}}, VocabularyOptions{});
    EXPECT_EQ(byCount.id("z"), 2);
    EXPECT_EQ(byCount.id("a"), 3);
}

TEST(Vocabulary, EncodesWithOovAndReservedIdsAndSurvivesCopies) {
    const WordTokenizer tokenizer;
    auto built = std::make_unique<Vocabulary>(
        Vocabulary::fromExamples({{"The cat sat.", "", 0}, {"the dog", "", 1}}, tokenizer, VocabularyOptions{}));
    const Vocabulary copy = *built; // its index must not point into the original
    built.reset();
    EXPECT_EQ(copy.token(Vocabulary::kPaddingId), "<pad>");
    EXPECT_EQ(copy.token(Vocabulary::kOovId), "<unk>");
    const std::vector<std::int32_t> ids = copy.encode("THE bird sat", tokenizer);
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(ids[0], copy.id("the"));
    EXPECT_EQ(ids[0], 2); // most frequent word
    EXPECT_EQ(ids[1], Vocabulary::kOovId);
    EXPECT_EQ(copy.token(ids[2]), "sat");
    EXPECT_EQ(copy.id("<pad>"), Vocabulary::kOovId); // reserved names are not words
    EXPECT_TRUE(throwsErrorWith([&] { copy.token(99); }, {"99", "out of range"}));
}

TEST(PaddedBatch, PadsTruncatesAndMasks) {
    const losslab::PaddedBatch batch = losslab::padBatch({{5, 6, 7}, {8}, {}}, 0);
    EXPECT_EQ(batch.width, 3u);
    EXPECT_EQ(batch.lengths, (std::vector<std::int64_t>{3, 1, 0}));
    EXPECT_EQ(batch.ids, (std::vector<std::int64_t>{5, 6, 7, 8, 0, 0, 0, 0, 0}));
    EXPECT_EQ(batch.mask, (std::vector<std::uint8_t>{1, 1, 1, 1, 0, 0, 0, 0, 0}));
    EXPECT_EQ(batch.idAt(1, 1), Vocabulary::kPaddingId);

    const losslab::PaddedBatch cut = losslab::padBatch({{1, 2, 3, 4}, {9, 9}}, 2);
    EXPECT_EQ(cut.width, 2u);
    EXPECT_EQ(cut.ids, (std::vector<std::int64_t>{1, 2, 9, 9}));
    EXPECT_EQ(cut.lengths, (std::vector<std::int64_t>{2, 2}));

    const losslab::PaddedBatch empty = losslab::padBatch({{}, {}}, 0);
    EXPECT_EQ(empty.width, 1u);
    EXPECT_EQ(empty.mask, (std::vector<std::uint8_t>{0, 0}));
}

// ---- UTF-8 checks (shared by the readers), one file per byte sequence -------------------

struct Utf8Case {
    const char* name;
    std::string bytes;
    bool valid;
};

class Utf8Check : public testing::TestWithParam<Utf8Case> {};

TEST_P(Utf8Check, CsvReaderAcceptsOnlyWellFormedUtf8) {
    ScratchDir dir("losslab-text");
    const Utf8Case& c = GetParam();
    const std::string path = write(dir, "train.csv", "text,label\nok,1\nx" + c.bytes + "y,1\n");
    if (c.valid) {
        EXPECT_EQ(losslab::readTextCsvTrain(path).examples.at(1).textA, "x" + c.bytes + "y");
    } else {
        EXPECT_TRUE(throwsErrorWith([&] { losslab::readTextCsvTrain(path); }, {path + ":3:", "invalid UTF-8"}));
    }
}

INSTANTIATE_TEST_SUITE_P(
    Sequences, Utf8Check,
    testing::Values(Utf8Case{"TwoByte", "\xC3\xA9", true}, Utf8Case{"ThreeByte", "\xE2\x82\xAC", true},
                    Utf8Case{"FourByteEmoji", "\xF0\x9F\x98\x80", true},
                    Utf8Case{"LoneContinuation", "\x80", false}, Utf8Case{"OverlongTwoByte", "\xC0\xAF", false},
                    Utf8Case{"OverlongThreeByte", "\xE0\x80\xAF", false},
                    Utf8Case{"Surrogate", "\xED\xA0\x80", false},
                    Utf8Case{"AboveU10FFFF", "\xF4\x90\x80\x80", false},
                    Utf8Case{"CutSequence", "\xE2\x82", false}, Utf8Case{"Latin1", "\xFF", false}),
    [](const testing::TestParamInfo<Utf8Case>& info) { return std::string(info.param.name); });

} // namespace
