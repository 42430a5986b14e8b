// losslab-bench-text-data: how long loading a QQP-sized GLUE file takes, step by step, so
// it can be held against a run's time. Generates a QQP-like train.tsv (400,000 pairs by
// default; questions of 5-25 words from a 20,000-word Zipf-like vocabulary, with
// punctuation, capitals and some UTF-8) in a folder given on the command line (default
// /tmp), then times: read + parse the TSV, tokenise every text, build the vocabulary, encode
// every text to ids. Then, when the text plugin is found (build tree or LOSSLAB_PLUGIN_PATH),
// the whole load of a run: glue/qqp/lstm_attention's loadData on that train.tsv plus a dev.tsv
// of a tenth of its size (read, vocabulary, padded id tensors), as a run's first epoch pays
// it. Prints times and throughput; it measures, it does not pass or fail.
// Built with the project: build/bin/losslab-bench-text-data [--pairs N] [--dir DIR].
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "losslab/data/tensor_split.h"
#include "losslab/data/text/glue_reader.h"
#include "losslab/data/text/vocabulary.h"
#include "losslab/data/text/word_tokenizer.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string makeWord(std::mt19937& random, std::size_t index) {
    // Deterministic spelling per index: 2-9 letters from the index's digits in base 26.
    std::string word;
    std::size_t n = index + 1;
    while (n > 0) {
        word.push_back(static_cast<char>('a' + n % 26));
        n /= 26;
    }
    while (word.size() < 2 + index % 8)
        word.push_back(static_cast<char>('a' + (index * 7 + word.size()) % 26));
    if (random() % 50 == 0)
        word[0] = static_cast<char>(word[0] - 'a' + 'A');
    if (random() % 400 == 0)
        word += "\xC3\xA9"; // é
    return word;
}

std::string makeQuestion(std::mt19937& random, const std::vector<double>& cumulative) {
    std::uniform_int_distribution<int> length(5, 25);
    std::uniform_real_distribution<double> unit(0.0, cumulative.back());
    std::string text;
    const int words = length(random);
    for (int w = 0; w < words; ++w) {
        const auto index = static_cast<std::size_t>(
            std::lower_bound(cumulative.begin(), cumulative.end(), unit(random)) - cumulative.begin());
        if (!text.empty())
            text.push_back(' ');
        text += makeWord(random, index);
        if (random() % 12 == 0)
            text += random() % 2 ? "," : "'s";
    }
    text += random() % 5 ? "?" : " \"really\"?";
    return text;
}

} // namespace

int main(int argc, char** argv) {
    std::size_t pairs = 400'000;
    std::string dir = "/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string key = argv[i];
        if (key == "--pairs")
            pairs = static_cast<std::size_t>(std::strtoull(argv[i + 1], nullptr, 10));
        else if (key == "--dir")
            dir = argv[i + 1];
    }
    const std::filesystem::path folder = std::filesystem::path(dir) / "losslab-bench-qqp";
    std::filesystem::create_directories(folder);
    const std::string path = (folder / "train.tsv").string();

    {
        std::mt19937 random(13);
        std::vector<double> cumulative;
        double sum = 0.0;
        for (int r = 1; r <= 20'000; ++r)
            cumulative.push_back(sum += 1.0 / r);
        std::ofstream out(path, std::ios::binary);
        std::ofstream dev(folder / "dev.tsv", std::ios::binary);
        for (std::ostream* o : {static_cast<std::ostream*>(&out), static_cast<std::ostream*>(&dev)})
            *o << "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n";
        for (std::size_t i = 0; i < pairs + pairs / 10; ++i)
            (i < pairs ? out : dev) << i << '\t' << 2 * i + 1 << '\t' << 2 * i + 2 << '\t'
                                    << makeQuestion(random, cumulative) << '\t' << makeQuestion(random, cumulative)
                                    << '\t' << (random() % 3 == 0 ? 1 : 0) << '\n';
    }
    const auto fileBytes = std::filesystem::file_size(path);

    auto start = Clock::now();
    const losslab::TextSplit split = losslab::readGlueFile(path, losslab::GlueTask::Qqp);
    const double readSeconds = secondsSince(start);

    const losslab::WordTokenizer tokenizer;
    std::string lowered;
    std::vector<std::string_view> tokens;
    std::size_t tokenCount = 0;
    start = Clock::now();
    for (const losslab::TextExample& example : split.examples) {
        tokenizer.tokenizeInto(example.textA, lowered, tokens);
        tokenCount += tokens.size();
        tokenizer.tokenizeInto(example.textB, lowered, tokens);
        tokenCount += tokens.size();
    }
    const double tokenizeSeconds = secondsSince(start);

    start = Clock::now();
    losslab::VocabularyOptions options;
    options.minCount = 2;
    const losslab::Vocabulary vocabulary = losslab::Vocabulary::fromExamples(split.examples, tokenizer, options);
    const double vocabularySeconds = secondsSince(start);

    start = Clock::now();
    std::vector<std::vector<std::int32_t>> encoded(split.size() * 2);
    for (std::size_t i = 0; i < split.size(); ++i) {
        encoded[2 * i] = vocabulary.encode(split.examples[i].textA, tokenizer);
        encoded[2 * i + 1] = vocabulary.encode(split.examples[i].textB, tokenizer);
    }
    const double encodeSeconds = secondsSince(start);

    const double mb = static_cast<double>(fileBytes) / 1e6;
    std::printf("file %s: %zu pairs, %.1f MB\n", path.c_str(), split.size(), mb);
    std::printf("read + parse TSV   %7.3f s  (%.0f MB/s)\n", readSeconds, mb / readSeconds);
    std::printf("tokenise only      %7.3f s  (%.2f M tokens/s, %.0f MB/s of text, %zu tokens)\n", tokenizeSeconds,
                static_cast<double>(tokenCount) / tokenizeSeconds / 1e6, mb / tokenizeSeconds, tokenCount);
    std::printf("vocabulary build   %7.3f s  (%zu ids, min count 2)\n", vocabularySeconds, vocabulary.size());
    std::printf("encode to ids      %7.3f s  (%.2f M tokens/s)\n", encodeSeconds,
                static_cast<double>(tokenCount) / encodeSeconds / 1e6);
    std::printf("total              %7.3f s\n", readSeconds + tokenizeSeconds + vocabularySeconds + encodeSeconds);

    // The whole load through the text plugin, as a run pays it.
    losslab::TaskRegistry registry;
    losslab::loadPlugins(registry, losslab::defaultPluginDirs());
    if (const auto task = registry.find("glue/qqp/lstm_attention")) {
        const losslab::ExperimentSpec spec = losslab::loadExperimentText(
            "name: bench\ntask: glue/qqp/lstm_attention\nlosses: [ce]\nseeds: [0]\ndata: {root: '" + folder.string() + "'}\n",
            "bench.yaml", {}, registry);
        start = Clock::now();
        const losslab::DataBundle bundle = task->loadData(spec.params);
        const double loadSeconds = secondsSince(start);
        std::printf("plugin loadData    %7.3f s  (glue/qqp/lstm_attention: %lld train + %lld test pairs, width %lld, "
                    "max_length %lld)\n",
                    loadSeconds, static_cast<long long>(bundle.train.size()), static_cast<long long>(bundle.test.size()),
                    static_cast<long long>(bundle.train.features.size(1)),
                    static_cast<long long>(spec.params.getInt("data.max_length")));
    } else {
        std::printf("plugin loadData    skipped: the text plugin was not found\n");
    }
    std::filesystem::remove_all(folder);
    return 0;
}
