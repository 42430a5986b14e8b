// The corpus readers: on the synthesised fixture corpus (make_fixture_corpus.sh with its default
// counts) and on small hand-written folders for every error a user can cause.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ctest_environment.h"
#include "error_matchers.h"
#include "losslab/data/audio/audio_file.h"
#include "scratch_dir.h"
#include "speech_corpus.h"
#include "speech_fixtures.h"
#include "unit_set.h"

namespace losslab::speech {
namespace {

namespace fs = std::filesystem;
using fixtures::ScratchDir;
using fixtures::throwsErrorWith;

void writeFile(const fs::path& path, const std::string& content) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
}

std::vector<std::string> idsOf(const std::vector<Utterance>& utterances) {
    std::vector<std::string> ids;
    for (const auto& u : utterances) ids.push_back(u.id);
    return ids;
}

const Utterance& byId(const std::vector<Utterance>& utterances, const std::string& id) {
    static const Utterance kNone;
    for (const auto& u : utterances)
        if (u.id == id) return u;
    ADD_FAILURE() << "no utterance " << id;
    return kNone;
}

bool sameFile(const std::string& a, const fs::path& b) {
    std::error_code ec;
    return fs::equivalent(a, b, ec);
}

// ---- on the fixture corpus ------------------------------------------------------------------

TEST(SpeechCorpusFixture, LibriSpeechSubsetsHaveTheSynthesisedUtterances) {
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    const auto train = readLibriSpeech((corpus / "librispeech" / "train").string());
    const auto dev = readLibriSpeech((corpus / "librispeech" / "dev").string());
    const auto test = readLibriSpeech((corpus / "librispeech" / "test").string());
    ASSERT_EQ(train.size(), 60u); // 3 speakers x 20 phrases
    EXPECT_EQ(dev.size(), 12u);
    EXPECT_EQ(test.size(), 12u);

    const auto ids = idsOf(train);
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
    EXPECT_EQ(ids.front(), "101-1011-0000");
    EXPECT_EQ(ids.back(), "103-1032-0009");

    const Utterance& first = train.front();
    EXPECT_EQ(first.text, "ONE TWO THREE");
    EXPECT_EQ(first.speaker, "101");
    EXPECT_TRUE(sameFile(first.audio, corpus / "librispeech/train/101/1011/101-1011-0000.flac")) << first.audio;
    EXPECT_EQ(first.start, 0.0);
    EXPECT_LT(first.end, 0.0);
    EXPECT_EQ(byId(train, "102-1022-0007").text, "DON'T GO"); // phrase 17, second chapter
    EXPECT_EQ(byId(train, "103-1031-0006").text, "TWO FOUR SIX EIGHT");

    std::set<std::string> speakers;
    for (const auto& u : train) speakers.insert(u.speaker);
    EXPECT_EQ(speakers, (std::set<std::string>{"101", "102", "103"}));
    for (const auto& u : dev) EXPECT_EQ(u.speaker, "201");
    for (const auto& u : test) EXPECT_EQ(u.speaker, "301");
    EXPECT_EQ(byId(test, "301-3011-0000").text, "ONE TWO THREE");

    // The audio is real speech the core reader takes: 16 kHz, mono, a fraction of a second or more.
    const AudioClip clip = readAudio(first.audio);
    EXPECT_EQ(clip.sampleRate, 16000);
    EXPECT_EQ(clip.channels, 1);
    EXPECT_GT(clip.samples.size(), 8000u);
    float peak = 0;
    for (float s : clip.samples) peak = std::max(peak, std::abs(s));
    EXPECT_GT(peak, 0.05f);
}

TEST(SpeechCorpusFixture, KaldiDataDirsMatchLibriSpeechAndResolvePaths) {
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    for (const std::string set : {"train", "dev", "test"}) {
        SCOPED_TRACE(set);
        const auto libri = readLibriSpeech((corpus / "librispeech" / set).string());
        const auto kaldi = readKaldiDataDir((corpus / "kaldi" / set).string());
        ASSERT_EQ(idsOf(kaldi), idsOf(libri));
        for (std::size_t i = 0; i < kaldi.size(); ++i) {
            EXPECT_EQ(kaldi[i].text, libri[i].text);
            EXPECT_EQ(kaldi[i].speaker, libri[i].speaker);
            EXPECT_TRUE(fs::is_regular_file(kaldi[i].audio)) << kaldi[i].audio;
        }
    }
    // dev's wav.scp holds paths relative to the data dir's parent.
    const auto dev = readKaldiDataDir((corpus / "kaldi" / "dev").string());
    EXPECT_TRUE(sameFile(dev.front().audio, corpus / "kaldi/wav/dev/201-2011-0000.wav")) << dev.front().audio;
    EXPECT_TRUE(fs::path(dev.front().audio).is_absolute());

    // test: two utterances per recording, 0.3 s of silence between them, times from segments.
    const auto test = readKaldiDataDir((corpus / "kaldi" / "test").string());
    ASSERT_EQ(test.size(), 12u);
    for (std::size_t i = 0; i + 1 < test.size(); i += 2) {
        const Utterance& a = test[i];
        const Utterance& b = test[i + 1];
        SCOPED_TRACE(a.id + " " + b.id);
        EXPECT_EQ(a.audio, b.audio);
        EXPECT_EQ(a.start, 0.0);
        EXPECT_GT(a.end, 0.3);
        EXPECT_NEAR(b.start, a.end + 0.3, 0.0015);
        EXPECT_GT(b.end, b.start + 0.3);
        const AudioClip recording = readAudio(a.audio);
        const double seconds = static_cast<double>(recording.samples.size()) / recording.sampleRate;
        EXPECT_NEAR(b.end, seconds, 0.0015);
    }
    EXPECT_NE(test[0].audio, test[2].audio);
    EXPECT_TRUE(sameFile(test[0].audio, corpus / "kaldi/wav/test/301-rec00.wav"));
}

TEST(SpeechCorpusFixture, SpeechCommandsSplitsFollowTheLists) {
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    const CommandsSets sets = readSpeechCommands((corpus / "commands").string());
    EXPECT_EQ(sets.labels, (std::vector<std::string>{"down", "left", "no", "right", "up", "yes"}));
    EXPECT_EQ(sets.train.size(), 6u * 30);
    EXPECT_EQ(sets.validation.size(), 6u * 6);
    EXPECT_EQ(sets.test.size(), 6u * 6);

    std::ifstream list(corpus / "commands" / "validation_list.txt");
    std::set<std::string> listed;
    for (std::string line; std::getline(list, line);) listed.insert(line.substr(0, line.size() - 4)); // no .wav
    std::set<std::string> validation;
    for (const auto& u : sets.validation) validation.insert(u.id);
    EXPECT_EQ(validation, listed);

    std::set<std::string> trainSpeakers, heldOutSpeakers;
    for (const auto& u : sets.train) {
        trainSpeakers.insert(u.speaker);
        EXPECT_EQ(u.id.substr(0, u.id.find('/')), u.text);
        EXPECT_EQ(u.id, u.text + "/" + u.speaker + "_nohash_0");
    }
    for (const auto* part : {&sets.validation, &sets.test})
        for (const auto& u : *part) heldOutSpeakers.insert(u.speaker);
    EXPECT_EQ(trainSpeakers.size(), 30u);
    for (const auto& s : heldOutSpeakers) EXPECT_EQ(trainSpeakers.count(s), 0u) << s;
    const auto ids = idsOf(sets.test);
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));

    const AudioClip clip = readAudio(sets.train.front().audio);
    EXPECT_EQ(clip.sampleRate, 16000);
    EXPECT_EQ(clip.samples.size(), 16000u); // one second
}

TEST(SpeechCorpusFixture, TimitUsesTheStandardSetsAndFoldedPhones) {
    LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);
    const TimitSets sets = readTimit((corpus / "timit").string());
    EXPECT_EQ(idsOf(sets.train), (std::vector<std::string>{"faem0_si1", "faem0_sx1", "fcjf0_si1", "fcjf0_sx1",
                                                           "marc0_si1", "marc0_sx1", "mdpk0_si1", "mdpk0_sx1"}));
    EXPECT_EQ(idsOf(sets.test), (std::vector<std::string>{"felc0_si1", "felc0_sx1", "mdab0_si1", "mdab0_sx1"}));
    EXPECT_EQ(idsOf(sets.dev), (std::vector<std::string>{"faks0_si1", "faks0_sx1", "mgwt0_si1", "mgwt0_sx1"}));
    // mdab0 (speaker 4 of the script) reads "how cheap is oil" (SX1) and "the winner had a potato".
    const Utterance& sx = byId(sets.test, "mdab0_sx1");
    EXPECT_EQ(sx.text, "sil hh aw ch iy sil p ih z oy l sil");
    EXPECT_EQ(sx.speaker, "mdab0");
    EXPECT_TRUE(sameFile(sx.audio, corpus / "timit/TEST/DR1/MDAB0/SX1.WAV"));
    EXPECT_EQ(byId(sets.test, "mdab0_si1").text,
              "sil dh ah w ih n er sil hh ae sil d ah sil p ah sil t ey dx ow sil");

    // Every text is in the 39-phone set.
    const std::set<std::string> phones39(kTimitPhones39.begin(), kTimitPhones39.end());
    for (const auto* part : {&sets.train, &sets.dev, &sets.test})
        for (const auto& u : *part) {
            std::istringstream words(u.text);
            for (std::string p; words >> p;) EXPECT_EQ(phones39.count(p), 1u) << u.id << ": " << p;
        }

    // The NIST SPHERE files are readable by the core's reader.
    const AudioClip clip = readAudio(sx.audio);
    EXPECT_EQ(clip.sampleRate, 16000);
    EXPECT_GT(clip.samples.size(), 8000u);
}

// ---- TIMIT folding --------------------------------------------------------------------------

TEST(SpeechCorpus, FoldTimitPhonesCoversThe61PhonesOntoThe39) {
    // TIMIT's 61 phone labels (the corpus documentation, phoncode.doc).
    const std::vector<std::string> phones61 = {
        "b",  "d",  "g",  "p",  "t",  "k",  "dx", "q",  "jh", "ch", "s",  "sh",   "z",   "zh", "f",  "th",
        "v",  "dh", "m",  "n",  "ng", "em", "en", "eng", "nx", "l", "r",  "w",    "y",   "hh", "hv", "el",
        "iy", "ih", "eh", "ey", "ae", "aa", "aw", "ay", "ah", "ao", "oy", "ow",   "uh",  "uw", "ux", "er",
        "ax", "ix", "axr", "ax-h", "bcl", "dcl", "gcl", "pcl", "tcl", "kcl", "pau", "epi", "h#"};
    ASSERT_EQ(phones61.size(), 61u);
    std::set<std::string> seen;
    for (const auto& phone : phones61) {
        const std::string folded = foldTimitPhones({phone});
        if (phone == "q") {
            EXPECT_EQ(folded, "");
            continue;
        }
        seen.insert(folded);
    }
    EXPECT_EQ(seen, std::set<std::string>(kTimitPhones39.begin(), kTimitPhones39.end()));
    EXPECT_EQ(kTimitPhones39.size(), 39u);
    EXPECT_TRUE(std::is_sorted(kTimitPhones39.begin(), kTimitPhones39.end()));
}

TEST(SpeechCorpus, FoldTimitPhonesFollowsKaldisMapWithoutMerging) {
    EXPECT_EQ(foldTimitPhones({"h#", "pau", "bcl", "b", "ao", "q", "ax-h", "zh", "ux", "hv", "en", "h#"}),
              "sil sil sil b aa ah sh uw hh n sil");
    EXPECT_EQ(foldTimitPhones({"el", "em", "eng", "nx", "axr", "ix", "epi", "kcl", "k"}), "l m ng n er ih sil sil k");
    EXPECT_EQ(foldTimitPhones({}), "");
    EXPECT_TRUE(throwsErrorWith([] { foldTimitPhones({"h#", "xx"}); }, {"\"xx\"", "61 phones"}));
}

// ---- LibriSpeech errors ---------------------------------------------------------------------

TEST(SpeechCorpus, LibriSpeechReadsAHandWrittenSubset) {
    ScratchDir dir("speech-libri");
    const fs::path chapter = dir.path() / "19" / "198";
    writeFile(chapter / "19-198-0001.flac", "");
    writeFile(chapter / "19-198-0000.flac", "");
    writeFile(chapter / "19-198.trans.txt", "19-198-0001 BUT  NOT\tNOW\r\n\n19-198-0000 NORTHANGER ABBEY\n");
    const auto utts = readLibriSpeech(dir.path().string());
    ASSERT_EQ(utts.size(), 2u);
    EXPECT_EQ(utts[0].id, "19-198-0000");
    EXPECT_EQ(utts[0].text, "NORTHANGER ABBEY");
    EXPECT_EQ(utts[1].text, "BUT NOT NOW"); // single spaces
    EXPECT_EQ(utts[1].speaker, "19");
}

TEST(SpeechCorpus, LibriSpeechErrorsNameTheFile) {
    {
        ScratchDir dir("speech-libri");
        EXPECT_TRUE(throwsErrorWith([&] { readLibriSpeech((dir.path() / "nope").string()); },
                                    {(dir.path() / "nope").string(), "no such folder", "<speaker>/<chapter>"}));
        EXPECT_TRUE(throwsErrorWith([&] { readLibriSpeech(dir.path().string()); },
                                    {dir.path().string(), "no utterances", "train-clean-100", ".trans.txt"}));
    }
    {
        ScratchDir dir("speech-libri");
        const fs::path chapter = dir.path() / "19" / "198";
        writeFile(chapter / "19-198-0000.flac", "");
        writeFile(chapter / "19-198-0001.flac", "");
        writeFile(chapter / "19-198.trans.txt", "19-198-0000 NORTHANGER ABBEY\n");
        EXPECT_TRUE(throwsErrorWith([&] { readLibriSpeech(dir.path().string()); },
                                    {(chapter / "19-198-0001.flac").string(), "no transcript line",
                                     (chapter / "19-198.trans.txt").string()}));
        writeFile(chapter / "19-198.trans.txt", "19-198-0000 NORTHANGER ABBEY\n19-198-0001   \n");
        EXPECT_TRUE(throwsErrorWith([&] { readLibriSpeech(dir.path().string()); },
                                    {(chapter / "19-198.trans.txt").string() + ":2", "empty transcript"}));
        writeFile(chapter / "19-198.trans.txt", "19-198-0000 A\n19-198-0001 B\n19-198-0002 C\n");
        EXPECT_TRUE(throwsErrorWith([&] { readLibriSpeech(dir.path().string()); },
                                    {(chapter / "19-198.trans.txt").string() + ":3", "no audio file",
                                     "19-198-0002.flac"}));
    }
    {
        // The LibriSpeech folder itself, holding subsets.
        ScratchDir dir("speech-libri");
        const fs::path chapter = dir.path() / "dev-clean" / "19" / "198";
        writeFile(chapter / "19-198-0000.flac", "");
        writeFile(chapter / "19-198.trans.txt", "19-198-0000 A\n");
        EXPECT_TRUE(throwsErrorWith([&] { readLibriSpeech(dir.path().string()); },
                                    {"no utterances", "choose one", (dir.path() / "dev-clean").string()}));
        EXPECT_EQ(readLibriSpeech((dir.path() / "dev-clean").string()).size(), 1u);
    }
}

// ---- Kaldi ----------------------------------------------------------------------------------

TEST(SpeechCorpus, KaldiReadsSegmentsAndResolvesRelativePaths) {
    ScratchDir dir("speech-kaldi");
    const fs::path data = dir.path() / "data" / "train";
    writeFile(dir.path() / "audio" / "rec1.wav", "");
    writeFile(data / "rec2.wav", "");
    // rec1: relative to the recipe folder (data dir's grandparent); rec2: to the data dir.
    writeFile(data / "wav.scp", "rec1 audio/rec1.wav\r\nrec2 rec2.wav\nunused /no/such/file.wav\n");
    writeFile(data / "text", "b  two   words\nc third\na first one\n");
    writeFile(data / "segments", "a rec1 0 1.5\nb rec1 1.5 3.25\nc rec2 0.5 -1\nz rec2 0 1\n");
    const auto utts = readKaldiDataDir(data.string());
    ASSERT_EQ(idsOf(utts), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(utts[0].text, "first one");
    EXPECT_EQ(utts[1].text, "two words");
    EXPECT_DOUBLE_EQ(utts[1].start, 1.5);
    EXPECT_DOUBLE_EQ(utts[1].end, 3.25);
    EXPECT_DOUBLE_EQ(utts[2].start, 0.5);
    EXPECT_EQ(utts[2].end, -1.0);
    EXPECT_TRUE(sameFile(utts[0].audio, dir.path() / "audio" / "rec1.wav"));
    EXPECT_TRUE(sameFile(utts[2].audio, data / "rec2.wav"));
    EXPECT_EQ(utts[0].speaker, "a"); // no utt2spk: Kaldi's one speaker per utterance

    writeFile(data / "utt2spk", "a spk1\nb spk1\nc spk2\n");
    const auto withSpeakers = readKaldiDataDir(data.string());
    EXPECT_EQ(withSpeakers[1].speaker, "spk1");
    EXPECT_EQ(withSpeakers[2].speaker, "spk2");
}

TEST(SpeechCorpus, KaldiErrorsNameTheFileAndLine) {
    ScratchDir dir("speech-kaldi");
    const fs::path data = dir.path();
    const std::string scp = (data / "wav.scp").string();
    const std::string text = (data / "text").string();
    const std::string segments = (data / "segments").string();
    auto read = [&] { readKaldiDataDir(data.string()); };
    writeFile(data / "r1.wav", "");
    writeFile(data / "r2.wav", "");

    EXPECT_TRUE(throwsErrorWith(read, {scp, "missing", "<recording-id> <path>"}));
    writeFile(data / "wav.scp", "r1 r1.wav\nr2 sph2pipe -f wav /corpus/r2.sph |\n");
    EXPECT_TRUE(throwsErrorWith(read, {text, "missing", "<utterance-id> <transcript>"}));

    writeFile(data / "text", "");
    EXPECT_TRUE(throwsErrorWith(read, {text, "no utterances", "wav.scp"}));

    writeFile(data / "text", "r1 hello\nr2 world\n");
    EXPECT_TRUE(throwsErrorWith(read, {scp + ":2", "piped command", "sox"}));

    writeFile(data / "wav.scp", "r1 r1.wav\nr2 r2.wav\nr3 missing.wav\n");
    writeFile(data / "text", "r1 hello\nr2\n");
    EXPECT_TRUE(throwsErrorWith(read, {text + ":2", "r2", "empty transcript"}));

    writeFile(data / "text", "r1 hello\nr4 world\n");
    EXPECT_TRUE(throwsErrorWith(read, {text + ":2", "r4", "no recording", scp}));

    writeFile(data / "text", "r1 hello\nr3 world\n");
    EXPECT_TRUE(throwsErrorWith(read, {scp + ":3", "does not exist", "missing.wav"}));

    writeFile(data / "text", "r1 hello\nr1 again\n");
    EXPECT_TRUE(throwsErrorWith(read, {text + ":2", "\"r1\" appears twice"}));

    writeFile(data / "text", "u1 hello\nu2 world\n");
    writeFile(data / "segments", "u1 r1 0 1.2x\nu2 r2 0 1\n");
    EXPECT_TRUE(throwsErrorWith(read, {segments + ":1", "\"1.2x\"", "not a number"}));
    writeFile(data / "segments", "u1 r1 abc 1\nu2 r2 0 1\n");
    EXPECT_TRUE(throwsErrorWith(read, {segments + ":1", "\"abc\""}));
    writeFile(data / "segments", "u1 r1 0 1\nu2 r2 2 1\n");
    EXPECT_TRUE(throwsErrorWith(read, {segments + ":2", "not after the start"}));
    writeFile(data / "segments", "u1 r1 0 1\nu2 r2 0\n");
    EXPECT_TRUE(throwsErrorWith(read, {segments + ":2", "<utterance-id> <recording-id> <start> <end>"}));
    writeFile(data / "segments", "u1 r1 0 1\nu2 r9 0 1\n");
    EXPECT_TRUE(throwsErrorWith(read, {segments + ":2", "recording r9", "missing from", scp}));
    writeFile(data / "segments", "u1 r1 0 1\n");
    EXPECT_TRUE(throwsErrorWith(read, {text + ":2", "u2", "no line in", segments}));

    writeFile(data / "segments", "u1 r1 0 1\nu2 r2 0 1\n");
    writeFile(data / "utt2spk", "u1 s1\n");
    EXPECT_TRUE(throwsErrorWith(read, {(data / "utt2spk").string(), "no speaker for utterance u2"}));
    writeFile(data / "utt2spk", "u1 s1\nu2 s1\n");
    EXPECT_EQ(readKaldiDataDir(data.string()).size(), 2u);

    EXPECT_TRUE(throwsErrorWith([&] { readKaldiDataDir((data / "nope").string()); },
                                {(data / "nope").string(), "no such folder", "wav.scp"}));
}

// A Latin-1 transcript ("caf\xE9") is refused where it is read, naming the file and line, before
// the output units are built from it.
TEST(SpeechCorpus, TranscriptsThatAreNotUtf8NameTheFileAndLine) {
    {
        ScratchDir dir("speech-kaldi");
        writeFile(dir.path() / "r1.wav", "");
        writeFile(dir.path() / "r2.wav", "");
        writeFile(dir.path() / "wav.scp", "r1 r1.wav\nr2 r2.wav\n");
        const std::string text = (dir.path() / "text").string();
        writeFile(dir.path() / "text", "r1 caf\xC3\xA9 ok\nr2 caf\xE9\n");
        EXPECT_TRUE(throwsErrorWith([&] { readKaldiDataDir(dir.path().string()); },
                                    {text + ":2", "not valid UTF-8", "byte 7", "0xE9", "iconv"}));
        writeFile(dir.path() / "text", "r1 caf\xC3\xA9 ok\nr2 cafe\n");
        EXPECT_EQ(readKaldiDataDir(dir.path().string())[0].text, "caf\xC3\xA9 ok");
    }
    {
        ScratchDir dir("speech-libri");
        const fs::path chapter = dir.path() / "19" / "198";
        writeFile(chapter / "19-198-0000.flac", "");
        writeFile(chapter / "19-198-0001.flac", "");
        const std::string trans = (chapter / "19-198.trans.txt").string();
        writeFile(chapter / "19-198.trans.txt", "19-198-0000 NORTHANGER ABBEY\n\n19-198-0001 CAF\xC9 AU LAIT\n");
        EXPECT_TRUE(throwsErrorWith([&] { readLibriSpeech(dir.path().string()); },
                                    {trans + ":3", "not valid UTF-8", "byte 16", "0xC9"}));
    }
}

// ---- TIMIT ----------------------------------------------------------------------------------

// A lower-case copy: train/dr1/<spk>/<sentence>.wav + .phn.
void writeTimitSentence(const fs::path& speakerDir, const std::string& sentence, const std::string& phn) {
    writeFile(speakerDir / (sentence + ".wav"), "");
    writeFile(speakerDir / (sentence + ".phn"), phn);
}

TEST(SpeechCorpus, TimitReadsALowerCaseCopyAndSkipsUnusedSpeakers) {
    ScratchDir dir("speech-timit");
    const std::string phn = "0 100 h#\n100 200 q\n200 300 ix\n300 400 pau\n400 500 pcl\n500 600 p\n600 700 h#\n";
    writeTimitSentence(dir.path() / "train/dr1/fcjf0", "sa1", phn);
    writeTimitSentence(dir.path() / "train/dr1/fcjf0", "si1027", phn);
    writeTimitSentence(dir.path() / "train/dr7/mdab0", "sx1", phn); // in TRAIN: train, whatever its name
    writeTimitSentence(dir.path() / "test/dr1/mdab0", "sx139", phn);
    writeTimitSentence(dir.path() / "test/dr1/mdab0", "sa2", phn);
    writeTimitSentence(dir.path() / "test/dr2/faks0", "si943", phn);
    writeTimitSentence(dir.path() / "test/dr3/mrcg0", "sx1", phn); // neither list: not used
    const TimitSets sets = readTimit(dir.path().string());
    EXPECT_EQ(idsOf(sets.train), (std::vector<std::string>{"fcjf0_si1027", "mdab0_sx1"}));
    EXPECT_EQ(idsOf(sets.test), (std::vector<std::string>{"mdab0_sx139"}));
    EXPECT_EQ(idsOf(sets.dev), (std::vector<std::string>{"faks0_si943"}));
    EXPECT_EQ(sets.train[0].text, "sil ih sil sil p sil");
    EXPECT_EQ(sets.train[0].speaker, "fcjf0");
}

TEST(SpeechCorpus, TimitSpeakerListsAreKaldis) {
    EXPECT_EQ(timitCoreTestSpeakers().size(), 24u);
    EXPECT_EQ(timitDevSpeakers().size(), 50u);
    std::set<std::string> all(timitCoreTestSpeakers().begin(), timitCoreTestSpeakers().end());
    all.insert(timitDevSpeakers().begin(), timitDevSpeakers().end());
    EXPECT_EQ(all.size(), 74u); // disjoint, no repeats
    EXPECT_EQ(timitCoreTestSpeakers().front(), "mdab0");
    EXPECT_EQ(timitDevSpeakers().back(), "mrws1");
}

TEST(SpeechCorpus, TimitErrorsNameTheFile) {
    ScratchDir dir("speech-timit");
    const fs::path root = dir.path();
    auto read = [&] { readTimit(root.string()); };
    const std::string good = "0 100 h#\n100 200 s\n200 300 h#\n";
    writeTimitSentence(root / "TRAIN/DR1/FCJF0", "SX1", good);
    EXPECT_TRUE(throwsErrorWith(read, {root.string(), "no TEST folder", "TRAIN/DR1/FCJF0"}));

    writeTimitSentence(root / "TEST/DR1/MRCG0", "SX1", good);
    EXPECT_TRUE(throwsErrorWith(read, {(root / "TEST").string(), "core-test", "mdab0"}));
    writeTimitSentence(root / "TEST/DR1/MDAB0", "SX1", good);
    EXPECT_TRUE(throwsErrorWith(read, {(root / "TEST").string(), "development", "faks0"}));
    writeTimitSentence(root / "TEST/DR2/FAKS0", "SX2", good);
    EXPECT_NO_THROW(read());

    const fs::path phn = root / "TEST/DR1/MDAB0/SX1.phn"; // as writeTimitSentence names it
    writeFile(phn, "0 100 h#\n100 x200 s\n");
    EXPECT_TRUE(throwsErrorWith(read, {phn.string() + ":2", "<start-sample> <end-sample> <phone>"}));
    writeFile(phn, "0 100 h#\n100 200 xy\n");
    EXPECT_TRUE(throwsErrorWith(read, {phn.string() + ":2", "unknown phone \"xy\""}));
    writeFile(phn, "0 100 q\n");
    EXPECT_TRUE(throwsErrorWith(read, {phn.string(), "empty transcript"}));
    writeFile(phn, good);
    ASSERT_TRUE(fs::remove(root / "TEST/DR1/MDAB0/SX1.wav"));
    EXPECT_TRUE(throwsErrorWith(read, {phn.string(), "no audio file", "sx1.wav"}));
}

// TIMIT's transcripts are ASCII. A byte beyond it (a Latin-1 or UTF-8 'e' with an accent from an
// edited copy) was a word break in the .TXT words ("gre\xE9sy" read as "gre sy"); it is refused
// naming the file, the line and the byte, in the .PHN files as in the .TXT files.
TEST(SpeechCorpus, TimitTranscriptsThatAreNotAsciiNameTheFileAndLine) {
    ScratchDir dir("speech-timit");
    const fs::path root = dir.path();
    const std::string phones = "0 100 h#\n100 200 s\n200 300 h#\n";
    const std::string sentence = "0 46797 She had your dark suit in greasy wash water all year.\n";
    for (const fs::path& speaker : {root / "TRAIN/DR1/FCJF0", root / "TEST/DR1/MDAB0", root / "TEST/DR2/FAKS0"}) {
        writeTimitSentence(speaker, "SX1", phones);
        writeFile(speaker / "SX1.txt", sentence);
    }
    auto readWords = [&] { return readTimit(root.string(), TimitText::Words); };
    ASSERT_EQ(readWords().test.at(0).text, "she had your dark suit in greasy wash water all year");

    const fs::path txt = root / "TEST/DR1/MDAB0/SX1.txt";
    writeFile(txt, "\n0 46797 She had your dark suit in gre\xE9sy wash water all year.\n");
    EXPECT_TRUE(throwsErrorWith(readWords, {txt.string() + ":2", "byte 38", "0xE9", "ASCII"}));
    writeFile(txt, "0 46797 She had your dark suit in gre\xC3\xA9sy wash water all year.\n");
    EXPECT_TRUE(throwsErrorWith(readWords, {txt.string() + ":1", "byte 38", "0xC3", "ASCII"}));

    const fs::path phn = root / "TRAIN/DR1/FCJF0/SX1.phn";
    writeFile(phn, "0 100 h#\n100 200 s\xA0\n200 300 h#\n");
    EXPECT_TRUE(throwsErrorWith([&] { readTimit(root.string()); }, {phn.string() + ":2", "byte 10", "0xA0", "ASCII"}));
}

// ---- Speech Commands ------------------------------------------------------------------------

TEST(SpeechCorpus, SpeechCommandsErrorsNameTheList) {
    ScratchDir dir("speech-commands");
    const fs::path root = dir.path();
    auto read = [&] { readSpeechCommands(root.string()); };
    EXPECT_TRUE(throwsErrorWith(read, {root.string(), "no label folders", "<label>/<file>.wav"}));

    writeFile(root / "yes" / "aa_nohash_0.wav", "");
    writeFile(root / "yes" / "bb_nohash_0.wav", "");
    writeFile(root / "no" / "aa_nohash_0.wav", "");
    writeFile(root / "no" / "cc_nohash_1.wav", "");
    writeFile(root / "_background_noise_" / "noise.wav", "");
    writeFile(root / "empty" / "README.md", "");
    const std::string validation = (root / "validation_list.txt").string();
    const std::string testing = (root / "testing_list.txt").string();
    EXPECT_TRUE(throwsErrorWith(read, {validation, "missing"}));
    writeFile(root / "validation_list.txt", "yes/bb_nohash_0.wav\n");
    EXPECT_TRUE(throwsErrorWith(read, {testing, "missing"}));

    writeFile(root / "testing_list.txt", "no/cc_nohash_1.wav\r\n");
    const CommandsSets sets = readSpeechCommands(root.string());
    EXPECT_EQ(sets.labels, (std::vector<std::string>{"no", "yes"}));
    EXPECT_EQ(idsOf(sets.train), (std::vector<std::string>{"no/aa_nohash_0", "yes/aa_nohash_0"}));
    EXPECT_EQ(idsOf(sets.validation), (std::vector<std::string>{"yes/bb_nohash_0"}));
    EXPECT_EQ(idsOf(sets.test), (std::vector<std::string>{"no/cc_nohash_1"}));
    EXPECT_EQ(sets.test[0].speaker, "cc");
    EXPECT_EQ(sets.test[0].text, "no");

    writeFile(root / "testing_list.txt", "no/cc_nohash_1.wav\nno/dd_nohash_0.wav\n");
    EXPECT_TRUE(throwsErrorWith(read, {testing + ":2", "dd_nohash_0.wav", "does not exist"}));
    writeFile(root / "testing_list.txt", "yes/bb_nohash_0.wav\n");
    EXPECT_TRUE(throwsErrorWith(read, {testing + ":1", "already held out", validation + ":1"}));
    writeFile(root / "testing_list.txt", "_background_noise_/noise.wav\n");
    EXPECT_TRUE(throwsErrorWith(read, {testing + ":1", "not in a label folder"}));
    writeFile(root / "testing_list.txt", "cc_nohash_1.wav\n");
    EXPECT_TRUE(throwsErrorWith(read, {testing + ":1", "<label>/<file>.wav"}));
}

// Label folders and clip names may hold spaces: a list line is one path, trimmed at its ends.
TEST(SpeechCorpus, SpeechCommandsListsTakeTheWholeLine) {
    ScratchDir dir("speech-commands");
    const fs::path root = dir.path();
    writeFile(root / "my label" / "aa_nohash_0.wav", "");
    writeFile(root / "my label" / "bb_nohash_0.wav", "");
    writeFile(root / "my label" / "a clip_nohash_1.wav", "");
    writeFile(root / "no" / "cc_nohash_0.wav", "");
    writeFile(root / "validation_list.txt", "my label/bb_nohash_0.wav\n");
    writeFile(root / "testing_list.txt", "  my label/a clip_nohash_1.wav \t\r\n");
    const CommandsSets sets = readSpeechCommands(root.string());
    EXPECT_EQ(sets.labels, (std::vector<std::string>{"my label", "no"}));
    EXPECT_EQ(idsOf(sets.train), (std::vector<std::string>{"my label/aa_nohash_0", "no/cc_nohash_0"}));
    EXPECT_EQ(idsOf(sets.validation), (std::vector<std::string>{"my label/bb_nohash_0"}));
    ASSERT_EQ(idsOf(sets.test), (std::vector<std::string>{"my label/a clip_nohash_1"}));
    EXPECT_EQ(sets.test[0].text, "my label");
    EXPECT_EQ(sets.test[0].speaker, "a clip");

    // Anything after the path is part of it, and the message shows the whole line.
    const std::string testing = (root / "testing_list.txt").string();
    writeFile(root / "testing_list.txt", "no/cc_nohash_0.wav extra\n");
    EXPECT_TRUE(throwsErrorWith([&] { readSpeechCommands(root.string()); },
                                {testing + ":1", "<label>/<file>.wav", "\"no/cc_nohash_0.wav extra\""}));
}

} // namespace
} // namespace losslab::speech

// Under ctest the suite reads the corpus speech.fixture-corpus made (LOSSLAB_SPEECH_FIXTURE_DIR),
// instead of each test synthesising its own.
TEST(SpeechTestEnvironment, CtestGaveEveryVariable) {
    LOSSLAB_EXPECT_CTEST_ENVIRONMENT();
    EXPECT_NE(std::getenv("LOSSLAB_SPEECH_FIXTURE_DIR"), nullptr);
}
