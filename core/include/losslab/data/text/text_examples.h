#pragma once
// Labelled text examples as the text readers return them: raw UTF-8 strings, not yet
// tokenised, so one reader serves every model (word-level LSTMs now, sub-word models later).
#include <string>
#include <vector>

namespace losslab {

// One example. Single-sentence tasks leave textB empty. label is an index into the owning
// TextSplit's class list, or kUnlabelled for files without labels (GLUE's test.tsv).
struct TextExample {
    static constexpr int kUnlabelled = -1;

    std::string textA;
    std::string textB;
    int label = kUnlabelled;
};

// The examples of one file plus what is needed to read them: the class names (index = label)
// and the file they came from, for messages and the run record.
struct TextSplit {
    std::vector<TextExample> examples;
    std::vector<std::string> classNames;
    std::string source;
    bool labelled = true; // false when the file has no label column

    std::size_t size() const { return examples.size(); }
};

// A data set folder: train always, dev and test when the folder has them (present == false
// otherwise). All splits share train's class names.
struct TextDataSet {
    TextSplit train;
    TextSplit dev;
    TextSplit test;
    bool hasDev = false;
    bool hasTest = false;
    bool pairs = false; // true for sentence-pair tasks (textB used)
    std::string source; // the folder
};

} // namespace losslab
