#include "losslab/data/cifar_reader.h"

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>

#include "losslab/data_error.h"
#include "losslab/error.h"

namespace losslab {

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kCifarPixelBytes = kCifarRecordBytes - 1; // 3 x 32 x 32
constexpr std::int64_t kCifarClasses = 10;
constexpr std::array<const char*, 5> kCifarTrainFiles = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
    "data_batch_5.bin"};
constexpr const char* kCifarTestFile = "test_batch.bin";
// The archive unpacks into this folder, so users often point data.root one level too high.
constexpr const char* kCifarBatchesFolder = "cifar-10-batches-bin";

std::int64_t countRecords(const std::string& path) {
    std::error_code ec;
    const std::uint64_t size = fs::file_size(path, ec);
    if (ec)
        throw Error(path + ": cannot read the CIFAR-10 file: " + ec.message());
    const auto recordBytes = static_cast<std::uint64_t>(kCifarRecordBytes);
    if (size == 0 || size % recordBytes != 0)
        throw Error(path + ": file size is " + std::to_string(size)
                    + " bytes; a CIFAR-10 batch file must be a positive multiple of 3073 bytes"
                      " (1 label byte + 3072 pixel bytes per record)");
    return static_cast<std::int64_t>(size / recordBytes);
}

struct FolderCheck {
    fs::path folder;
    std::vector<std::string> trainPaths;
    std::string testPath;
    std::vector<std::string> missing;
};

FolderCheck checkFolder(const fs::path& folder) {
    FolderCheck check;
    check.folder = folder;
    for (const char* name : kCifarTrainFiles)
        check.trainPaths.push_back((folder / name).string());
    check.testPath = (folder / kCifarTestFile).string();

    std::vector<std::string> all = check.trainPaths;
    all.push_back(check.testPath);
    for (const std::string& path : all) {
        std::error_code ec;
        if (!fs::is_regular_file(path, ec))
            check.missing.push_back(path);
    }
    return check;
}

} // namespace

TensorSplit readCifar10Files(const std::vector<std::string>& paths) {
    if (paths.empty())
        throw Error("no CIFAR-10 batch files given; expected at least one");

    // Every size is checked before the one allocation for all records.
    std::vector<std::int64_t> records;
    std::int64_t total = 0;
    for (const std::string& path : paths) {
        records.push_back(countRecords(path));
        total += records.back();
    }

    torch::Tensor raw =
        torch::empty({total, kCifarRecordBytes}, torch::TensorOptions().dtype(torch::kUInt8));
    std::uint8_t* dst = raw.data_ptr<std::uint8_t>();
    for (std::size_t f = 0; f < paths.size(); ++f) {
        const std::string& path = paths[f];
        const std::int64_t bytes = records[f] * kCifarRecordBytes;
        std::ifstream in(path, std::ios::binary);
        if (!in)
            throw Error(path + ": cannot open the CIFAR-10 file for reading");
        in.read(reinterpret_cast<char*>(dst), static_cast<std::streamsize>(bytes));
        if (in.gcount() != bytes)
            throw Error(path + ": read " + std::to_string(in.gcount()) + " bytes, expected "
                        + std::to_string(bytes) + " (did the file change while it was read?)");
        for (std::int64_t r = 0; r < records[f]; ++r) {
            const std::uint8_t label = dst[r * kCifarRecordBytes];
            if (label >= kCifarClasses)
                throw Error(path + ": record " + std::to_string(r) + " has label "
                            + std::to_string(label) + "; expected labels in [0, "
                            + std::to_string(kCifarClasses) + ")");
        }
        dst += bytes;
    }

    TensorSplit split;
    split.labels = raw.select(1, 0).contiguous().to(torch::kLong);
    split.features = raw.narrow(1, 1, kCifarPixelBytes).contiguous().view({total, 3, 32, 32});
    return split;
}

DataBundle loadCifar10(const std::string& root) {
    const std::array<FolderCheck, 2> checks = {checkFolder(fs::path(root)),
                                               checkFolder(fs::path(root) / kCifarBatchesFolder)};
    const FolderCheck* found = nullptr;
    for (const FolderCheck& check : checks) {
        if (check.missing.empty()) {
            found = &check;
            break;
        }
    }

    if (!found) {
        // Report the folder that came closest; the other one is only mentioned.
        const bool rootIsCloser = checks[0].missing.size() <= checks[1].missing.size();
        const FolderCheck& best = rootIsCloser ? checks[0] : checks[1];
        const FolderCheck& other = rootIsCloser ? checks[1] : checks[0];
        std::string list;
        for (const std::string& path : best.missing)
            list += (list.empty() ? "" : ", ") + path;
        throw DataNotFoundError("CIFAR-10 files missing: " + list + " (also looked in "
                    + other.folder.string()
                    + "). Download the \"CIFAR-10 binary version\" from"
                      " https://www.cs.toronto.edu/~kriz/cifar.html, unpack it and point data.root"
                      " at the cifar-10-batches-bin folder");
    }

    DataBundle bundle;
    bundle.train = readCifar10Files(found->trainPaths);
    bundle.test = readCifar10Files({found->testPath});
    bundle.source = found->folder.string();
    return bundle;
}

} // namespace losslab
