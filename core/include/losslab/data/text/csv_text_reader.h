#pragma once
// Reader for text classification data as CSV (text-c5 / text-c20 style or a user's own set):
// a header row naming a "text" and a "label" column (other columns are allowed and ignored),
// RFC 4180 quoting (a field in double quotes may hold commas, line breaks and doubled quotes
// ""), UTF-8 with an optional byte order mark, LF or CRLF line ends. Blank lines between
// records are skipped; the last line needs no line end. Leniency beyond RFC 4180: a quote
// inside an unquoted field is kept as text. Fields are not trimmed.
//
// Class order: the distinct labels of the training file, sorted - numerically when every
// label is an integer ("2" before "10"), byte-wise otherwise - so the class ids do not depend
// on the order of the rows. A dev or test label not in the training file is an error.
// Every error is a losslab::Error naming the file and the line.
#include <string>
#include <vector>

#include "losslab/data/text/text_examples.h"

namespace losslab {

// The training file: its labels define the class names (order above).
TextSplit readTextCsvTrain(const std::string& path);

// Whether a non-training file must have the label column: dev must, test may lack it (then
// its examples are TextExample::kUnlabelled and the split says labelled == false).
enum class CsvLabels { Required, IfPresent };

// A dev or test file read against the training file's class names.
TextSplit readTextCsvFile(const std::string& path, const std::vector<std::string>& classNames,
                          CsvLabels labels = CsvLabels::Required);

// <folder>/train.csv (required), dev.csv (optional, labelled), test.csv (optional; when it
// has labels it is the test set, otherwise it is read unlabelled).
TextDataSet loadTextCsvFolder(const std::string& folder);

} // namespace losslab
