#include "losslab/data/image/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "losslab/error.h"

namespace losslab {

namespace {

namespace fs = std::filesystem;

bool isImageName(const std::string& name) {
    const auto dot = name.rfind('.');
    if (dot == std::string::npos) return false;
    std::string ext = name.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext == "jpg" || ext == "jpeg" || ext == "png";
}

bool hidden(const fs::path& p) {
    const std::string name = p.filename().string();
    return !name.empty() && name[0] == '.';
}

// The image files under `classDir` (recursively, following links), sorted.
std::vector<std::string> imagesIn(const fs::path& classDir, std::int64_t& skipped) {
    std::vector<std::string> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(classDir, fs::directory_options::follow_directory_symlink, ec);
    if (ec) throw Error(classDir.string() + ": cannot read the folder (" + ec.message() + ")");
    for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
        if (ec) throw Error(classDir.string() + ": cannot read the folder (" + ec.message() + ")");
        if (hidden(it->path())) {
            if (it->is_directory(ec)) it.disable_recursion_pending();
            continue;
        }
        if (!it->is_regular_file(ec)) continue;
        if (isImageName(it->path().filename().string()))
            files.push_back(it->path().string());
        else
            ++skipped;
    }
    std::sort(files.begin(), files.end());
    return files;
}

} // namespace

ImageFolderListing listImageFolder(const std::string& dir, const std::vector<std::string>* classes) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw Error(dir + ": no such folder (expected one folder per class, holding its images)");
    std::vector<std::string> found;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (!hidden(it->path()) && it->is_directory(ec)) found.push_back(it->path().filename().string());
    if (ec) throw Error(dir + ": cannot read the folder (" + ec.message() + ")");
    std::sort(found.begin(), found.end());
    if (found.empty()) throw Error(dir + ": no class folders in it (expected DIR/CLASS/IMAGE.jpg, one folder per class)");

    ImageFolderListing listing;
    listing.classes = classes ? *classes : found;
    for (const std::string& name : found) {
        const auto pos = std::find(listing.classes.begin(), listing.classes.end(), name);
        if (pos == listing.classes.end())
            throw Error(dir + "/" + name + ": a class the training set does not have (its " +
                        std::to_string(listing.classes.size()) + " class folders must name every class)");
        const auto label = static_cast<std::int64_t>(pos - listing.classes.begin());
        std::vector<std::string> files = imagesIn(fs::path(dir) / name, listing.skipped);
        if (files.empty())
            throw Error(dir + "/" + name + ": the class folder holds no .jpg, .jpeg or .png file");
        listing.labels.insert(listing.labels.end(), files.size(), label);
        listing.files.insert(listing.files.end(), std::make_move_iterator(files.begin()), std::make_move_iterator(files.end()));
    }
    return listing;
}

} // namespace losslab
