#pragma once
// Reader for the GLUE tasks' TSV files as the GLUE download distributes them: tab-separated,
// one header row, no quoting (a quote character is text, as in MRPC's and QQP's sentences),
// LF or CRLF line ends, an optional UTF-8 byte order mark (MRPC's files start with one).
// Columns are found by header name, so extra or reordered columns are fine. Blank lines are
// skipped. Every error is a losslab::Error naming the file and, for a row, its line.
#include <string>

#include "losslab/data/text/text_examples.h"

namespace losslab {

// The GLUE tasks of the paper. Columns and labels (label = index into the class names):
//   MRPC  "#1 String", "#2 String", "Quality" 0/1         -> not_equivalent, equivalent
//   SST-2 "sentence", "label" 0/1                          -> negative, positive
//   QNLI  "question", "sentence", "label" entailment/not_entailment -> same names
//   QQP   "question1", "question2", "is_duplicate" 0/1     -> not_duplicate, duplicate
enum class GlueTask { Mrpc, Sst2, Qnli, Qqp };

// "mrpc", "sst2" (or "sst-2"), "qnli", "qqp", any case. Error listing them otherwise.
GlueTask glueTaskFromName(const std::string& name);
std::string glueTaskName(GlueTask task); // "mrpc", "sst2", "qnli", "qqp"

// Whether a file must have the label column. GLUE's test.tsv files have none; their
// examples then carry TextExample::kUnlabelled and the split says labelled == false.
enum class GlueLabels { Required, IfPresent };

TextSplit readGlueFile(const std::string& path, GlueTask task, GlueLabels labels = GlueLabels::Required);

// <folder>/train.tsv and dev.tsv (both required, labelled) and test.tsv (optional, read
// without labels when it has none). As in the paper, results are reported on dev because
// test has no labels; the validation split is taken from train by the caller.
TextDataSet loadGlueFolder(const std::string& folder, GlueTask task);

} // namespace losslab
