#include "text_data.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string_view>

#include "losslab/data/text/word_tokenizer.h"
#include "losslab/error.h"

namespace losslab::text {

namespace {

// Token ids of every text of one side (A or B) of a split, flat, with row offsets.
struct FlatIds {
    std::vector<std::int32_t> ids;
    std::vector<std::size_t> offsets{0};
    std::size_t rows() const { return offsets.size() - 1; }
    std::int64_t length(std::size_t row) const { return static_cast<std::int64_t>(offsets[row + 1] - offsets[row]); }
};

FlatIds encodeSide(const TextSplit& split, bool second, const Vocabulary& vocab) {
    const WordTokenizer tokenizer;
    FlatIds flat;
    flat.offsets.reserve(split.size() + 1);
    std::string lowered;
    std::vector<std::string_view> tokens;
    for (const TextExample& e : split.examples) {
        tokenizer.tokenizeInto(second ? e.textB : e.textA, lowered, tokens);
        vocab.appendIds(tokens, flat.ids);
        flat.offsets.push_back(flat.ids.size());
    }
    return flat;
}

std::int64_t longest(const FlatIds& flat) {
    std::int64_t n = 0;
    for (std::size_t r = 0; r < flat.rows(); ++r) n = std::max(n, flat.length(r));
    return n;
}

// features int32 [N, width] (0-padded) and lengths [N] (at least 1, at most width).
void fillTensors(const FlatIds& flat, std::int64_t width, torch::Tensor& features, torch::Tensor& lengths) {
    const auto n = static_cast<std::int64_t>(flat.rows());
    features = torch::zeros({n, width}, torch::TensorOptions().dtype(torch::kInt));
    lengths = torch::empty({n}, torch::TensorOptions().dtype(torch::kLong));
    auto* f = features.data_ptr<std::int32_t>();
    auto* l = lengths.data_ptr<std::int64_t>();
    for (std::int64_t r = 0; r < n; ++r) {
        const std::int64_t len = std::min(width, flat.length(static_cast<std::size_t>(r)));
        std::copy_n(flat.ids.begin() + static_cast<std::ptrdiff_t>(flat.offsets[static_cast<std::size_t>(r)]), len, f + r * width);
        l[r] = std::max<std::int64_t>(len, 1);
    }
}

TensorSplit encodeSplit(const TextSplit& split, bool pairs, const Vocabulary& vocab, std::int64_t width) {
    TensorSplit out;
    fillTensors(encodeSide(split, false, vocab), width, out.features, out.lengths);
    if (pairs) fillTensors(encodeSide(split, true, vocab), width, out.features2, out.lengths2);
    out.labels = torch::empty({static_cast<std::int64_t>(split.size())}, torch::TensorOptions().dtype(torch::kLong));
    auto* labels = out.labels.data_ptr<std::int64_t>();
    for (std::size_t i = 0; i < split.size(); ++i) labels[i] = split.examples[i].label;
    return out;
}

} // namespace

EncodedTextData encodeTextData(const TextDataSet& data, const WordEncoding& encoding) {
    EncodedTextData out;
    out.vocabulary = Vocabulary::fromExamples(data.train.examples, WordTokenizer(), encoding.vocabulary);
    const FlatIds a = encodeSide(data.train, false, out.vocabulary);
    std::int64_t longestTrain = longest(a);
    if (data.pairs) longestTrain = std::max(longestTrain, longest(encodeSide(data.train, true, out.vocabulary)));
    out.width = std::max<std::int64_t>(1, encoding.maxLength > 0 ? std::min(encoding.maxLength, longestTrain) : longestTrain);
    out.train = encodeSplit(data.train, data.pairs, out.vocabulary, out.width);
    for (std::size_t r = 0; r < a.rows(); ++r) out.truncated += a.length(r) > out.width ? 1 : 0;
    if (data.hasDev && data.dev.labelled) out.dev = encodeSplit(data.dev, data.pairs, out.vocabulary, out.width);
    if (data.hasTest && data.test.labelled) out.test = encodeSplit(data.test, data.pairs, out.vocabulary, out.width);
    return out;
}

TensorSplit charWindows(const std::vector<std::uint8_t>& symbols, std::int64_t context) {
    if (context < 1) throw Error("data.context: expected at least 1, got " + std::to_string(context));
    const auto n = symbols.empty() ? 0 : static_cast<std::int64_t>(symbols.size() - 1) / context;
    const auto u8 = torch::TensorOptions().dtype(torch::kByte);
    TensorSplit out;
    if (n == 0) {
        out.features = torch::empty({0, context}, u8);
        out.labels = torch::empty({0, context}, u8);
        return out;
    }
    const torch::Tensor all = torch::from_blob(const_cast<std::uint8_t*>(symbols.data()),
                                               {static_cast<std::int64_t>(symbols.size())}, u8);
    out.features = all.narrow(0, 0, n * context).view({n, context}).clone();
    out.labels = all.narrow(0, 1, n * context).view({n, context}).clone();
    return out;
}

torch::Tensor readWordVectors(const std::string& path, const Vocabulary& vocabulary, std::int64_t dim,
                              torch::Tensor& found) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("model.embeddings: cannot open '" + path + "': " + std::strerror(errno));
    const auto rows = static_cast<std::int64_t>(vocabulary.size());
    torch::Tensor vectors = torch::zeros({rows, dim}, torch::TensorOptions().dtype(torch::kFloat));
    found = torch::zeros({rows}, torch::TensorOptions().dtype(torch::kBool));
    auto* v = vectors.data_ptr<float>();
    auto* f = found.data_ptr<bool>();
    std::string line;
    std::int64_t lineNo = 0;
    std::vector<float> values;
    while (std::getline(in, line)) {
        ++lineNo;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        const std::size_t space = line.find(' ');
        const std::string_view word = std::string_view(line).substr(0, space);
        values.clear();
        const char* p = space == std::string::npos ? line.c_str() + line.size() : line.c_str() + space;
        while (*p) {
            while (*p == ' ') ++p;
            if (!*p) break;
            char* end = nullptr;
            errno = 0;
            const float x = std::strtof(p, &end);
            if (end == p || (*end && *end != ' '))
                throw Error(path + ":" + std::to_string(lineNo) + ": expected a number after '" + std::string(word) +
                            "', got '" + std::string(p, std::min<std::size_t>(std::strcspn(p, " "), 20)) + "'");
            if (!std::isfinite(x)) // nan, inf, or beyond float's range: would make every score NaN
                throw Error(path + ":" + std::to_string(lineNo) + ": '" + std::string(word) + "' has the value '" +
                            std::string(p, std::min<std::size_t>(static_cast<std::size_t>(end - p), 20)) +
                            "'; expected finite numbers (within float's range)");
            values.push_back(x);
            p = end;
        }
        if (lineNo == 1 && values.size() == 1) continue; // word2vec's "count dim" header
        if (static_cast<std::int64_t>(values.size()) != dim)
            throw Error(path + ":" + std::to_string(lineNo) + ": '" + std::string(word) + "' has " +
                        std::to_string(values.size()) + " values; expected " + std::to_string(dim) +
                        " (model.embedding_dim)");
        const std::int32_t id = vocabulary.id(word);
        if (id == Vocabulary::kOovId && word != vocabulary.token(Vocabulary::kOovId)) continue;
        std::copy(values.begin(), values.end(), v + static_cast<std::int64_t>(id) * dim);
        f[id] = true;
    }
    if (in.bad()) throw Error("model.embeddings: error reading '" + path + "'");
    // An empty file, or vectors of another vocabulary (another language, a lower-cased file for
    // a cased one), would leave every row random: the run would not use what the user named.
    if (!found.any().item<bool>())
        throw Error(path + " (model.embeddings): no vector for any of the " + std::to_string(rows) +
                    " vocabulary words in " + std::to_string(lineNo) +
                    " line(s); expected GloVe-format lines 'word v1 ... vD' for words of the task's data");
    return vectors;
}

} // namespace losslab::text
