#pragma once
// Image sets stored as one folder per class (torchvision's ImageFolder, ImageNet's train/ and
// the usual re-sorted val/): DIR/CLASS/.../IMAGE. Torch-free; listing only (no image is opened).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace losslab {

struct ImageFolderListing {
    std::vector<std::string> classes; // folder names, sorted by their bytes: label i is classes[i]
    std::vector<std::string> files;   // paths (DIR joined with the relative path), sorted within each class
    std::vector<std::int64_t> labels; // one per file
    std::int64_t skipped = 0;         // files that are not .jpg, .jpeg or .png (any case)
    // Every folder read (DIR, the class folders and the folders below them) with its
    // modification time in nanoseconds: adding, removing or renaming a name in a folder changes
    // its time, so equal times mean an equal listing (listImageFolderCached).
    std::vector<std::pair<std::string, std::int64_t>> folders;
};

// Lists DIR's class folders and, in each (and its subfolders), the files named .jpg, .jpeg or
// .png in any case; names starting with '.' are skipped. With `classes` (the training set's),
// every class folder of DIR must be one of them and keeps that label (a test set may lack a
// class); without, the class folders found are the classes. Errors (losslab::Error naming
// the folder or file): DIR missing, no class folder, a class folder without images, a class
// unknown to `classes`, a folder that cannot be read, and a link (not hidden) whose target is
// missing or cannot be followed, whatever its name: skipped, it would shrink the data set
// without a word.
ImageFolderListing listImageFolder(const std::string& dir, const std::vector<std::string>* classes = nullptr);

// listImageFolder through a cache in `cacheDir` (a run database's data folder; "" for none):
// ImageNet's 1.3 million files take minutes to list on a network file system, every process
// again. The cache is used when it was made for the same DIR and `classes` and every folder it
// records still has its modification time; otherwise the folder is listed and the cache
// written again. No cache is written while a folder's time is within two seconds of now (a
// change in the same tick could go unseen). A cache that cannot be read or written is ignored.
ImageFolderListing listImageFolderCached(const std::string& dir, const std::vector<std::string>* classes,
                                         const std::string& cacheDir);

} // namespace losslab
