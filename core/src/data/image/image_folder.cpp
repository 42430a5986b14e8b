#include "losslab/data/image/image_folder.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include <unistd.h>

#include "losslab/data_error.h"
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

std::int64_t modified(const fs::path& folder) {
    std::error_code ec;
    const auto time = fs::last_write_time(folder, ec);
    if (ec) throw Error(folder.string() + ": cannot read the folder (" + ec.message() + ")");
    return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

enum class EntryType { Folder, File, Other };

// What a folder entry is, following a link (the type the folder read gave, where it is not a
// link: no stat per file). An entry whose type cannot be read is an error, above all a link
// whose target is missing: passed over as "not an image", it would take its images out of the
// data set without a word (a data set of links into a disk that is not mounted).
EntryType typeOf(const fs::directory_entry& entry) {
    std::error_code ec;
    if (entry.is_directory(ec)) return EntryType::Folder;
    if (!ec) return entry.is_regular_file(ec) ? EntryType::File : EntryType::Other;
    const std::string path = entry.path().string();
    std::error_code linkError;
    if (!entry.is_symlink(linkError)) throw Error(path + ": cannot read what it is (" + ec.message() + ")");
    const fs::path target = fs::read_symlink(entry.path(), linkError);
    const std::string link = path + ": a link to " + (linkError ? std::string("a target that cannot be read") : target.string());
    if (ec == std::errc::no_such_file_or_directory)
        throw Error(link + ", which does not exist; expected a link to an image or a folder (a disk or share not mounted?)");
    throw Error(link + " that cannot be followed (" + ec.message() + "); expected a link to an image or a folder");
}

// The image files under `classDir` (recursively, following links), sorted; every folder read
// goes to `folders`.
std::vector<std::string> imagesIn(const fs::path& classDir, std::int64_t& skipped,
                                  std::vector<std::pair<std::string, std::int64_t>>& folders) {
    folders.emplace_back(classDir.string(), modified(classDir));
    std::vector<std::string> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(classDir, fs::directory_options::follow_directory_symlink, ec);
    if (ec) throw Error(classDir.string() + ": cannot read the folder (" + ec.message() + ")");
    for (const fs::recursive_directory_iterator end; it != end;) {
        const fs::path& path = it->path();
        // The folder the next step reads: the one this entry is, when it is entered next, else
        // the one holding it. A failed step leaves the iterator at its end, so named now.
        fs::path reading = path.parent_path();
        if (hidden(path)) {
            if (it->is_directory(ec)) it.disable_recursion_pending();
        } else if (const EntryType type = typeOf(*it); type == EntryType::Folder) {
            folders.emplace_back(path.string(), modified(path));
            reading = path;
        } else if (type == EntryType::File) {
            if (isImageName(path.filename().string()))
                files.push_back(path.string());
            else
                ++skipped;
        }
        it.increment(ec);
        if (ec) throw Error(reading.string() + ": cannot read the folder (" + ec.message() + ")");
    }
    std::sort(files.begin(), files.end());
    return files;
}

} // namespace

ImageFolderListing listImageFolder(const std::string& dir, const std::vector<std::string>* classes) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw DataNotFoundError(dir + ": no such folder (expected one folder per class, holding its images)");
    std::vector<std::string> found;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (!hidden(it->path()) && typeOf(*it) == EntryType::Folder) found.push_back(it->path().filename().string());
    if (ec) throw Error(dir + ": cannot read the folder (" + ec.message() + ")");
    std::sort(found.begin(), found.end());
    if (found.empty()) throw DataNotFoundError(dir + ": no class folders in it (expected DIR/CLASS/IMAGE.jpg, one folder per class)");

    ImageFolderListing listing;
    listing.folders.emplace_back(dir, modified(dir));
    listing.classes = classes ? *classes : found;
    for (const std::string& name : found) {
        const auto pos = std::find(listing.classes.begin(), listing.classes.end(), name);
        if (pos == listing.classes.end())
            throw Error(dir + "/" + name + ": a class the training set does not have (its " +
                        std::to_string(listing.classes.size()) + " class folders must name every class)");
        const auto label = static_cast<std::int64_t>(pos - listing.classes.begin());
        std::vector<std::string> files = imagesIn(fs::path(dir) / name, listing.skipped, listing.folders);
        if (files.empty())
            throw Error(dir + "/" + name + ": the class folder holds no .jpg, .jpeg or .png file");
        listing.labels.insert(listing.labels.end(), files.size(), label);
        listing.files.insert(listing.files.end(), std::make_move_iterator(files.begin()), std::make_move_iterator(files.end()));
    }
    return listing;
}

namespace {

// 2: listings before it passed over links whose target was missing; such a listing is not reused.
constexpr const char* kCacheHeader = "losslab image folder listing 2";

// What a cache was made for: the folder and the classes it was asked to keep.
std::string cacheKey(const std::string& dir, const std::vector<std::string>* classes) {
    std::string key = "dir " + fs::absolute(dir).lexically_normal().string() + "\n";
    if (classes) {
        key += "classes " + std::to_string(classes->size()) + "\n";
        for (const std::string& c : *classes) key += c + "\n";
    } else {
        key += "classes found\n";
    }
    return key;
}

std::uint64_t fnv1a(const std::string& text) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (unsigned char c : text) h = (h ^ c) * 0x100000001b3ULL;
    return h;
}

std::string cachePath(const std::string& cacheDir, const std::string& key) {
    char name[48];
    std::snprintf(name, sizeof name, "image-folder-%016llx.txt", static_cast<unsigned long long>(fnv1a(key)));
    return (fs::path(cacheDir) / name).string();
}

bool readLine(std::istream& in, std::string& line) { return static_cast<bool>(std::getline(in, line)); }

// The cached listing when it is still true, else false.
bool readCache(const std::string& path, const std::string& key, ImageFolderListing& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::string line;
    if (!readLine(in, line) || line != kCacheHeader) return false;
    std::string storedKey;
    const auto keyLines = static_cast<std::size_t>(std::count(key.begin(), key.end(), '\n'));
    for (std::size_t i = 0; i < keyLines; ++i) {
        if (!readLine(in, line)) return false;
        storedKey += line + "\n";
    }
    if (storedKey != key) return false;
    try {
        std::size_t n = 0;
        if (!readLine(in, line) || std::sscanf(line.c_str(), "folders %zu", &n) != 1) return false;
        for (std::size_t i = 0; i < n; ++i) {
            if (!readLine(in, line)) return false;
            const auto space = line.find(' ');
            if (space == std::string::npos) return false;
            const std::string folder = line.substr(space + 1);
            const std::int64_t time = std::stoll(line.substr(0, space));
            std::error_code ec;
            if (!fs::is_directory(folder, ec) || modified(folder) != time) return false;
            out.folders.emplace_back(folder, time);
        }
        if (!readLine(in, line) || std::sscanf(line.c_str(), "classes %zu", &n) != 1) return false;
        for (std::size_t i = 0; i < n; ++i) {
            if (!readLine(in, line)) return false;
            out.classes.push_back(line);
        }
        if (!readLine(in, line) || std::sscanf(line.c_str(), "files %zu", &n) != 1) return false;
        out.files.reserve(n);
        out.labels.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            if (!readLine(in, line)) return false;
            const auto space = line.find(' ');
            if (space == std::string::npos) return false;
            const std::int64_t label = std::stoll(line.substr(0, space));
            if (label < 0 || label >= static_cast<std::int64_t>(out.classes.size())) return false;
            out.labels.push_back(label);
            out.files.push_back(line.substr(space + 1));
        }
        long long skipped = 0;
        if (!readLine(in, line) || std::sscanf(line.c_str(), "skipped %lld", &skipped) != 1) return false;
        out.skipped = skipped;
        return readLine(in, line) && line == "end";
    } catch (const std::exception&) { // a number that does not parse, a folder that cannot be read
        return false;
    }
}

bool hasNewline(const std::string& s) { return s.find('\n') != std::string::npos || s.find('\r') != std::string::npos; }

void writeCache(const std::string& path, const std::string& key, const ImageFolderListing& listing) {
    const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         fs::file_time_type::clock::now().time_since_epoch()).count();
    constexpr std::int64_t kRacyNs = 2'000'000'000;
    for (const auto& [folder, time] : listing.folders)
        if (now - time < kRacyNs || hasNewline(folder)) return;
    for (const std::string& name : listing.classes)
        if (hasNewline(name)) return;
    std::ostringstream out;
    out << kCacheHeader << "\n" << key << "folders " << listing.folders.size() << "\n";
    for (const auto& [folder, time] : listing.folders) out << time << " " << folder << "\n";
    out << "classes " << listing.classes.size() << "\n";
    for (const std::string& name : listing.classes) out << name << "\n";
    out << "files " << listing.files.size() << "\n";
    for (std::size_t i = 0; i < listing.files.size(); ++i) {
        if (hasNewline(listing.files[i])) return;
        out << listing.labels[i] << " " << listing.files[i] << "\n";
    }
    out << "skipped " << listing.skipped << "\nend\n";
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
    {
        std::ofstream file(tmp, std::ios::binary | std::ios::trunc);
        if (!(file << out.str()) || !file.flush()) {
            fs::remove(tmp, ec);
            return;
        }
    }
    fs::rename(tmp, path, ec);
    if (ec) fs::remove(tmp, ec);
}

} // namespace

ImageFolderListing listImageFolderCached(const std::string& dir, const std::vector<std::string>* classes,
                                         const std::string& cacheDir) {
    if (cacheDir.empty()) return listImageFolder(dir, classes);
    const std::string key = cacheKey(dir, classes);
    const std::string path = cachePath(cacheDir, key);
    ImageFolderListing cached;
    if (readCache(path, key, cached)) return cached;
    ImageFolderListing listing = listImageFolder(dir, classes);
    writeCache(path, key, listing);
    return listing;
}

} // namespace losslab
