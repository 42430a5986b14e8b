#pragma once
// Image sets stored as one folder per class (torchvision's ImageFolder, ImageNet's train/ and
// the usual re-sorted val/): DIR/CLASS/.../IMAGE. Torch-free; listing only (no image is opened).
#include <cstdint>
#include <string>
#include <vector>

namespace losslab {

struct ImageFolderListing {
    std::vector<std::string> classes; // folder names, sorted by their bytes: label i is classes[i]
    std::vector<std::string> files;   // paths (DIR joined with the relative path), sorted within each class
    std::vector<std::int64_t> labels; // one per file
    std::int64_t skipped = 0;         // files that are not .jpg, .jpeg or .png (any case)
};

// Lists DIR's class folders and, in each (and its subfolders), the files named .jpg, .jpeg or
// .png in any case; names starting with '.' are skipped. With `classes` (the training set's),
// every class folder of DIR must be one of them and keeps that label (a test set may lack a
// class); without, the class folders found are the classes. Errors (losslab::Error naming
// the folder): DIR missing, no class folder, a class folder without images, a class unknown
// to `classes`.
ImageFolderListing listImageFolder(const std::string& dir, const std::vector<std::string>* classes = nullptr);

} // namespace losslab
