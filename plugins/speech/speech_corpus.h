#pragma once
// Speech corpora read from a user's folders: LibriSpeech subsets, Kaldi data directories, TIMIT
// (LDC93S1) and Google Speech Commands. The readers list utterances (audio file, time range,
// transcript, speaker); they check that every audio file exists but read no audio. Every error
// is a losslab::Error naming the file (and line) and saying what was expected. Plain functions
// without state: call from any thread.
#include <cstddef>
#include <string>
#include <vector>

namespace losslab::speech {

// The whitespace-separated fields of `text` (spaces, tabs, line ends).
std::vector<std::string> whitespaceFields(const std::string& text);

// The length of the UTF-8 sequence at text[i] (a well-formed, shortest-form code point below
// U+110000 that is not a surrogate), or 0 when the bytes there are not one; `codePoint` gets its
// value.
std::size_t utf8Length(const std::string& text, std::size_t i, char32_t* codePoint = nullptr);

struct Utterance {
    std::string id;      // unique within the corpus
    std::string audio;   // path of the audio file
    double start = 0.0;  // seconds into the file (Kaldi segments)
    double end = -1.0;   // seconds; < 0: to the end of the file
    std::string text;    // transcript, words separated by single spaces (as the corpus spells them);
                         // TIMIT: the folded 39-phone sequence, space separated; Speech Commands: the label
    std::string speaker;
};

// One LibriSpeech subset, e.g. .../LibriSpeech/train-clean-100:
// <speaker>/<chapter>/<speaker>-<chapter>-NNNN.flac with <speaker>-<chapter>.trans.txt
// ("<id> <TRANSCRIPT>" lines). Ids are the flac names without extension; speaker = the speaker
// folder. Sorted by id. Errors: a flac without a transcript line, a transcript line without its
// flac, without text or not valid UTF-8, no utterance at all (the message says when `dir` looks
// like the LibriSpeech root rather than one subset).
std::vector<Utterance> readLibriSpeech(const std::string& dir);

// A Kaldi data directory: wav.scp ("<recording> <path>"), text ("<utt> <words...>"), optional
// segments ("<utt> <recording> <start> <end>", end -1 = to the end of the recording) and optional
// utt2spk. Without segments an utterance is the whole recording of the same id. A relative path
// in wav.scp is looked up relative to `dir`, then its parent, then its grandparent (a recipe's
// data/train); the first that exists wins. Piped commands ("... |") are not supported. Only
// utterances listed in text are returned (as Kaldi's fix_data_dir.sh keeps them); a text line
// that is not valid UTF-8 is an error naming the file, line and byte; without
// utt2spk the speaker is the utterance id (Kaldi's convention). Sorted by id.
std::vector<Utterance> readKaldiDataDir(const std::string& dir);

struct TimitSets {
    std::vector<Utterance> train, dev, test;
};

// TIMIT: `root` holds TRAIN/ and TEST/ (upper or lower case, as on the LDC disc and its common
// copies): TRAIN/DR1/FCJF0/SX127.WAV (NIST SPHERE) + SX127.PHN. The standard recipe (Kaldi
// egs/timit/s5): SA* sentences excluded; train = every speaker under TRAIN; test = the 24-speaker
// core test set; dev = the 50-speaker development set (kaldi conf/dev_spk.list); the other TEST
// speakers are not used. Ids are "<speaker>_<sentence>" in lower case ("fcjf0_sx127"), speaker
// in lower case; text = the .PHN phones folded to the 39-phone set. Each set sorted by id.
// `text` Words: the utterance's words from its .TXT file instead (lower case, letters, digits and
// apostrophes; punctuation dropped), for character units (the paper's TIMIT CER row). Error
// naming the file and line for a .PHN or .TXT line that is not ASCII, as TIMIT's transcripts are.
enum class TimitText { Phones, Words };
TimitSets readTimit(const std::string& root, TimitText text = TimitText::Phones);

// TIMIT's 61 phones (as in .PHN files) folded to the 39-phone set of Lee & Hon (1989), with
// Kaldi's conf/phones.60-48-39.map: the glottal stop q is removed; h#, pau, epi and the closures
// (bcl dcl gcl pcl tcl kcl) become sil; ao -> aa, ax/ax-h -> ah, axr -> er, el -> l, em -> m,
// en/nx -> n, eng -> ng, hv -> hh, ix -> ih, ux -> uw, zh -> sh. Consecutive equal phones are NOT
// merged (a closure after a pause gives "sil sil"), as Kaldi's timit_norm_trans.pl and ESPnet's
// TIMIT recipe (which reuses it) produce the reference text. Space separated. Error naming the
// phone for one outside the 61-phone set.
std::string foldTimitPhones(const std::vector<std::string>& phones61);

// Kaldi's TIMIT speaker lists (lower case), in the files' order.
const std::vector<std::string>& timitCoreTestSpeakers(); // 24
const std::vector<std::string>& timitDevSpeakers();      // 50

struct CommandsSets {
    std::vector<Utterance> train, validation, test;
    std::vector<std::string> labels; // sorted folder names
};

// Google Speech Commands (v0.01 / v0.02): one folder per label of .wav files, and
// validation_list.txt / testing_list.txt naming held-out files relative to `root`
// ("yes/0a7c2a8d_nohash_0.wav", the whole line less the whitespace around it: names may hold
// spaces); every other file is train. Folders whose names start with '_'
// (_background_noise_) or '.' and folders without a .wav are not labels. Ids are the paths
// relative to root without ".wav" ("yes/0a7c2a8d_nohash_0"); text = the label; speaker = the
// part of the file name before "_nohash_". Each set sorted by id.
CommandsSets readSpeechCommands(const std::string& root);

} // namespace losslab::speech
