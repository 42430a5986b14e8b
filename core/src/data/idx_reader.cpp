#include "losslab/data/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "losslab/data_error.h"
#include "losslab/error.h"
#include "text/text_file.h"

namespace losslab {

namespace {

namespace fs = std::filesystem;

constexpr std::uint8_t kIdxTypeUint8 = 0x08;
// A gzip stream's size is unknown until it has been inflated, so the header's claim cannot be
// checked up front; this cap stops a corrupt or hostile file from exhausting memory.
constexpr std::uint64_t kMaxGzipDataBytes = std::uint64_t{2} << 30;
constexpr std::size_t kGzipChunkBytes = std::size_t{1} << 20;

// Reads up to `n` bytes into `dst`; fewer only at the end of the input.
using ReadFn = std::function<std::size_t(std::uint8_t* dst, std::size_t n)>;

struct IdxHeader {
    std::vector<std::int64_t> dims;
    std::uint64_t headerBytes = 0;
    std::uint64_t dataBytes = 0; // product of dims
};

const char* idxTypeName(std::uint8_t code) {
    switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "not an IDX type";
    }
}

std::string dimsText(c10::IntArrayRef dims) {
    std::string text = "[";
    for (std::size_t i = 0; i < dims.size(); ++i) {
        if (i > 0)
            text += ", ";
        text += std::to_string(dims[i]);
    }
    return text + "]";
}

bool endsWith(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size()
           && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

IdxHeader readHeader(const std::string& path, const ReadFn& read) {
    std::array<std::uint8_t, 4> magic{};
    const std::size_t gotMagic = read(magic.data(), magic.size());
    if (gotMagic < magic.size())
        throw Error(path + ": truncated: an IDX file starts with a 4-byte magic number, file has "
                    + std::to_string(gotMagic) + " bytes");
    if (magic[0] != 0 || magic[1] != 0)
        throw Error(path + ": not an IDX file: expected the first two bytes to be 0x00 0x00, found "
                    + Internal::hexByte(magic[0]) + " " + Internal::hexByte(magic[1]));
    if (magic[2] != kIdxTypeUint8)
        throw Error(path + ": IDX type code " + Internal::hexByte(magic[2]) + " (" + idxTypeName(magic[2])
                    + ") is not supported; expected 0x08 (unsigned byte)");
    const std::size_t numDims = magic[3];
    if (numDims == 0)
        throw Error(path + ": IDX header has 0 dimensions; expected at least 1");

    std::vector<std::uint8_t> raw(4 * numDims);
    const std::size_t gotDims = read(raw.data(), raw.size());
    if (gotDims < raw.size())
        throw Error(path + ": truncated: header says " + std::to_string(numDims) + " dimensions ("
                    + std::to_string(raw.size()) + " bytes), file has " + std::to_string(gotDims)
                    + " bytes after the magic number");

    IdxHeader header;
    header.headerBytes = magic.size() + raw.size();
    bool anyZero = false;
    bool overflow = false;
    std::uint64_t product = 1;
    // Bounded by int64 rather than uint64 because tensor sizes are int64.
    constexpr auto kMaxElements = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    for (std::size_t d = 0; d < numDims; ++d) {
        const std::uint8_t* b = &raw[4 * d];
        const std::uint64_t dim = (std::uint64_t{b[0]} << 24) | (std::uint64_t{b[1]} << 16)
                                  | (std::uint64_t{b[2]} << 8) | std::uint64_t{b[3]};
        header.dims.push_back(static_cast<std::int64_t>(dim));
        if (dim == 0)
            anyZero = true;
        else if (product > kMaxElements / dim)
            overflow = true;
        else
            product *= dim;
    }
    // Checked even when a dimension is 0 and the data is empty: LibTorch still multiplies the
    // other dimensions (strides, storage size) and throws its own error when they overflow.
    if (overflow)
        throw Error(path + ": header dimensions " + dimsText(header.dims)
                    + " multiply to more than 2^63 elements; the header is corrupt");
    header.dataBytes = anyZero ? 0 : product;
    return header;
}

void checkDataSize(const std::string& path, const IdxHeader& header, std::uint64_t actual,
                   const char* what) {
    const std::string claim = "header says " + std::to_string(header.dataBytes)
                              + " bytes of data (dimensions " + dimsText(header.dims) + "), "
                              + what + " has " + std::to_string(actual);
    if (actual < header.dataBytes)
        throw Error(path + ": truncated: " + claim);
    if (actual > header.dataBytes)
        throw Error(path + ": " + claim + ": " + std::to_string(actual - header.dataBytes)
                    + " unexpected trailing bytes");
}

torch::Tensor readPlain(const std::string& path, std::ifstream& in, std::uint64_t fileSize) {
    const ReadFn read = [&in](std::uint8_t* dst, std::size_t n) {
        in.read(reinterpret_cast<char*>(dst), static_cast<std::streamsize>(n));
        return static_cast<std::size_t>(in.gcount());
    };
    const IdxHeader header = readHeader(path, read);
    checkDataSize(path, header, fileSize - header.headerBytes, "file");

    torch::Tensor out = torch::empty(header.dims, torch::TensorOptions().dtype(torch::kUInt8));
    if (header.dataBytes > 0) {
        const std::size_t got = read(out.data_ptr<std::uint8_t>(), header.dataBytes);
        if (got != header.dataBytes)
            throw Error(path + ": read " + std::to_string(got) + " bytes of data, expected "
                        + std::to_string(header.dataBytes)
                        + " (did the file change while it was read?)");
    }
    return out;
}

struct GzCloser {
    void operator()(gzFile_s* file) const { gzclose(file); }
};

void throwIfGzipFailed(const std::string& path, gzFile file) {
    int code = Z_OK;
    std::string message = gzerror(file, &code);
    if (code == Z_OK || code == Z_STREAM_END)
        return;
    // zlib prefixes its message with the path, which ours already starts with.
    const std::string prefix = path + ": ";
    if (message.compare(0, prefix.size(), prefix) == 0)
        message.erase(0, prefix.size());
    if (code == Z_BUF_ERROR)
        throw Error(path + ": truncated: the gzip stream ends early (" + message + ")");
    throw Error(path + ": cannot decompress: " + message + "; expected a valid gzip file");
}

torch::Tensor readGzip(const std::string& path) {
    std::unique_ptr<gzFile_s, GzCloser> file(gzopen(path.c_str(), "rb"));
    if (!file)
        throw Error(path + ": cannot open the file for reading");
    gzFile gz = file.get();
    const ReadFn read = [&path, gz](std::uint8_t* dst, std::size_t n) {
        std::size_t total = 0;
        while (total < n) {
            const auto ask = static_cast<unsigned>(std::min<std::size_t>(n - total, INT_MAX));
            const int got = gzread(gz, dst + total, ask);
            if (got < 0)
                throwIfGzipFailed(path, gz);
            if (got <= 0)
                break;
            total += static_cast<std::size_t>(got);
        }
        if (total < n)
            throwIfGzipFailed(path, gz);
        return total;
    };
    const IdxHeader header = readHeader(path, read);

    // Grow as data arrives instead of trusting the header: a corrupt header must not allocate.
    std::vector<std::uint8_t> data;
    std::size_t used = 0;
    // One byte past the cap is enough to tell "at the cap" from "over it".
    constexpr std::size_t kLimit = kMaxGzipDataBytes + 1;
    for (;;) {
        if (data.size() == used) {
            if (used >= kLimit)
                throw Error(path + ": decompressed data exceeds the "
                            + std::to_string(kMaxGzipDataBytes >> 30) + " GiB limit (header says "
                            + std::to_string(header.dataBytes) + " bytes, dimensions "
                            + dimsText(header.dims) + ")");
            data.resize(std::min(std::max(data.size() * 2, used + kGzipChunkBytes), kLimit));
        }
        const std::size_t ask = data.size() - used;
        const std::size_t got = read(data.data() + used, ask);
        used += got;
        if (got < ask)
            break;
    }
    checkDataSize(path, header, used, "decompressed file");

    torch::Tensor out = torch::empty(header.dims, torch::TensorOptions().dtype(torch::kUInt8));
    if (used > 0)
        std::memcpy(out.data_ptr<std::uint8_t>(), data.data(), used);
    return out;
}

} // namespace

torch::Tensor readIdxUint8(const std::string& path) {
    std::error_code ec;
    const std::uint64_t fileSize = fs::file_size(path, ec);
    if (ec)
        throw Error(path + ": cannot read the IDX file: " + ec.message());
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(path + ": cannot open the IDX file for reading");

    std::array<char, 2> first{};
    in.read(first.data(), first.size());
    const bool gzipMagic = in.gcount() == 2 && static_cast<unsigned char>(first[0]) == 0x1F
                           && static_cast<unsigned char>(first[1]) == 0x8B;
    if (gzipMagic || endsWith(path, ".gz")) {
        in.close();
        return readGzip(path);
    }
    in.clear();
    in.seekg(0);
    return readPlain(path, in, fileSize);
}

TensorSplit readIdxImagesAndLabels(const std::string& imagesPath, const std::string& labelsPath,
                                   std::int64_t numClasses) {
    if (numClasses <= 0)
        throw Error(labelsPath + ": the number of classes must be positive, got "
                    + std::to_string(numClasses));
    torch::Tensor images = readIdxUint8(imagesPath);
    if (images.dim() != 3)
        throw Error(imagesPath + ": expected images with 3 dimensions [N, rows, cols], found "
                    + dimsText(images.sizes()));
    const torch::Tensor labels = readIdxUint8(labelsPath);
    if (labels.dim() != 1)
        throw Error(labelsPath + ": expected labels with 1 dimension [N], found "
                    + dimsText(labels.sizes()));
    if (images.size(0) != labels.size(0))
        throw Error(imagesPath + " has " + std::to_string(images.size(0)) + " images but "
                    + labelsPath + " has " + std::to_string(labels.size(0))
                    + " labels; expected the same count");

    const std::uint8_t* label = labels.data_ptr<std::uint8_t>();
    for (std::int64_t i = 0; i < labels.size(0); ++i) {
        if (label[i] >= numClasses)
            throw Error(labelsPath + ": label at index " + std::to_string(i) + " is "
                        + std::to_string(label[i]) + "; expected labels in [0, "
                        + std::to_string(numClasses) + ")");
    }

    TensorSplit split;
    split.features = images.unsqueeze(1);
    split.labels = labels.to(torch::kLong);
    return split;
}

std::string findIdxFile(const std::string& root, const std::string& stem) {
    std::vector<std::string> names{stem};
    // MNIST's own download spells the last separator "-idx", some mirrors ".idx".
    const std::size_t idxPos = stem.rfind("idx");
    if (idxPos != std::string::npos && idxPos > 0) {
        std::string other = stem;
        char& sep = other[idxPos - 1];
        if (sep == '-' || sep == '.') {
            sep = sep == '-' ? '.' : '-';
            names.push_back(other);
        }
    }

    std::vector<std::string> tried;
    for (const std::string& name : names) {
        for (const char* suffix : {"", ".gz"}) {
            const std::string candidate = (fs::path(root) / (name + suffix)).string();
            tried.push_back(candidate);
            std::error_code ec;
            if (fs::is_regular_file(candidate, ec))
                return candidate;
        }
    }

    std::string list;
    for (const std::string& path : tried)
        list += (list.empty() ? "" : ", ") + path;
    throw DataNotFoundError("IDX file '" + stem + "' not found; tried " + list + ". The data folder '" + root
                + "' may be wrong");
}

} // namespace losslab
