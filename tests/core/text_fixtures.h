#pragma once
// Generated text data sets for the text plugin's tests, written into a scratch folder in the
// formats the readers take (GLUE TSV folders, a CSV folder, text8 / enwik8 files). Each is
// learnable: a model that learns anything gets well above chance.
//   pairs:  label 1 when the second sentence is the first one's words, shuffled; 0 when it
//           is drawn independently (balanced, alternating).
//   single: label 1 when the sentence holds "great", 0 when it holds "awful", among fillers.
//   chars:  words of a small fixed list with spaces; after a word's first letter the rest is
//           determined.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace losslab::fixtures {

inline std::vector<std::string> fixtureWords() {
    return {"alpha", "bravo", "charlie", "delta", "echo",   "foxtrot", "golf",   "hotel",  "india",  "juliet",
            "kilo",  "lima",  "mike",    "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"};
}

inline std::string joinWords(const std::vector<std::string>& words) {
    std::string s;
    for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
    return s;
}

// Sentence pairs (a, b, label) drawn from `seed`.
struct Pair {
    std::string a, b;
    int label;
};

inline std::vector<Pair> makePairs(int count, unsigned seed) {
    std::mt19937 rng(seed);
    const auto words = fixtureWords();
    std::uniform_int_distribution<std::size_t> word(0, words.size() - 1);
    std::uniform_int_distribution<int> length(4, 9);
    auto sentence = [&] {
        std::vector<std::string> s(static_cast<std::size_t>(length(rng)));
        for (auto& w : s) w = words[word(rng)];
        return s;
    };
    std::vector<Pair> pairs;
    for (int i = 0; i < count; ++i) {
        std::vector<std::string> a = sentence();
        std::vector<std::string> b;
        const int label = i % 2;
        if (label == 1) {
            b = a;
            std::shuffle(b.begin(), b.end(), rng);
        } else {
            b = sentence();
        }
        pairs.push_back({joinWords(a) + ".", joinWords(b) + "?", label});
    }
    return pairs;
}

inline std::vector<std::pair<std::string, int>> makeSentences(int count, unsigned seed) {
    std::mt19937 rng(seed);
    const auto words = fixtureWords();
    std::uniform_int_distribution<std::size_t> word(0, words.size() - 1);
    std::uniform_int_distribution<int> length(3, 10);
    std::vector<std::pair<std::string, int>> out;
    for (int i = 0; i < count; ++i) {
        std::vector<std::string> s(static_cast<std::size_t>(length(rng)));
        for (auto& w : s) w = words[word(rng)];
        const int label = i % 2;
        s[std::uniform_int_distribution<std::size_t>(0, s.size() - 1)(rng)] = label ? "great" : "awful";
        out.emplace_back(joinWords(s), label);
    }
    return out;
}

enum class FixtureGlue { Mrpc, Qnli, Qqp, Sst2 };

inline void writeGlueFile(const std::filesystem::path& file, FixtureGlue task, int count, unsigned seed) {
    std::ofstream out(file, std::ios::binary);
    if (task == FixtureGlue::Sst2) {
        out << "sentence\tlabel\n";
        for (const auto& [s, label] : makeSentences(count, seed)) out << s << " \t" << label << "\n";
        return;
    }
    const auto pairs = makePairs(count, seed);
    switch (task) {
    case FixtureGlue::Mrpc:
        out << "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n";
        for (std::size_t i = 0; i < pairs.size(); ++i)
            out << pairs[i].label << "\t" << 2 * i << "\t" << 2 * i + 1 << "\t" << pairs[i].a << "\t" << pairs[i].b << "\n";
        break;
    case FixtureGlue::Qnli:
        out << "index\tquestion\tsentence\tlabel\n";
        for (std::size_t i = 0; i < pairs.size(); ++i)
            out << i << "\t" << pairs[i].a << "\t" << pairs[i].b << "\t" << (pairs[i].label ? "entailment" : "not_entailment")
                << "\n";
        break;
    case FixtureGlue::Qqp:
        out << "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n";
        for (std::size_t i = 0; i < pairs.size(); ++i)
            out << i << "\t" << 2 * i << "\t" << 2 * i + 1 << "\t" << pairs[i].a << "\t" << pairs[i].b << "\t"
                << pairs[i].label << "\n";
        break;
    case FixtureGlue::Sst2: break;
    }
}

// A GLUE task folder: train.tsv and dev.tsv.
inline void writeGlueFolder(const std::filesystem::path& dir, FixtureGlue task, int train, int dev) {
    std::filesystem::create_directories(dir);
    writeGlueFile(dir / "train.tsv", task, train, 1);
    writeGlueFile(dir / "dev.tsv", task, dev, 2);
}

// A CSV folder with `classes` labels: class c's sentences hold the marker word "mark<c>".
inline void writeCsvFolder(const std::filesystem::path& dir, int classes, int train, int test) {
    std::filesystem::create_directories(dir);
    auto write = [&](const std::string& name, int count, unsigned seed) {
        std::mt19937 rng(seed);
        const auto words = fixtureWords();
        std::uniform_int_distribution<std::size_t> word(0, words.size() - 1);
        std::ofstream out(dir / name, std::ios::binary);
        out << "text,label\n";
        for (int i = 0; i < count; ++i) {
            const int label = i % classes;
            std::vector<std::string> s(5);
            for (auto& w : s) w = words[word(rng)];
            s[std::uniform_int_distribution<std::size_t>(0, 4)(rng)] = "mark" + std::to_string(label);
            out << "\"" << joinWords(s) << ", \"\"quoted\"\"\"," << "c" << label << "\n";
        }
    };
    write("train.csv", train, 3);
    write("test.csv", test, 4);
}

// A text8-style file (a-z and spaces only) or an enwik8-style one (bytes, some markup).
inline void writeCharFile(const std::filesystem::path& file, bool enwik8, std::size_t symbols) {
    std::mt19937 rng(5);
    const std::vector<std::string> words = {"the", "cat", "sat", "on", "mat", "dog", "ran", "far"};
    std::uniform_int_distribution<std::size_t> word(0, words.size() - 1);
    std::string text;
    while (text.size() < symbols) {
        text += words[word(rng)];
        text += enwik8 && text.size() % 7 == 0 ? "<b>\n" : " ";
    }
    text.resize(symbols);
    std::ofstream(file, std::ios::binary) << text;
}

} // namespace losslab::fixtures
