#include "journal_mode.h"

#include <sys/vfs.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "losslab/error.h"

namespace losslab::Internal {
namespace {

namespace fs = std::filesystem;

struct FileSystemMagic {
    std::uint32_t magic; // statfs f_type (linux/magic.h and the file systems' own headers)
    const char* name;
};

// File systems whose files other hosts write too, or whose shared-memory mapping is not
// coherent between hosts (and FUSE, mostly sshfs, s3fs and the like: see isLocalFuse).
constexpr FileSystemMagic kNetworkFileSystems[] = {
    {0x00006969u, "nfs"},      {0x0000517Bu, "smb"},    {0xFF534D42u, "cifs"},
    {0xFE534D42u, "smb2"},     {0x0BD00BD0u, "lustre"}, {0x47504653u, "gpfs"},
    {0x19830326u, "beegfs"},   {0x00C36400u, "ceph"},   {0x01021997u, "9p"},
    {0x5346414Fu, "afs"},      {0x6B414653u, "afs"},    {0x01161970u, "gfs2"},
    {0x20030528u, "orangefs"}, {0xAAD7AAEAu, "panfs"},  {0x0000564Cu, "ncp"},
    {0x73757245u, "coda"},     {0x65735546u, "fuse"},
};
constexpr std::uint32_t kFuseMagic = 0x65735546u;

// FUSE file systems that live on a local disk: WAL works there as on any local disk.
bool isLocalFuse(const std::string& type) {
    return type == "fuseblk" || type == "fuse.fuse-overlayfs" || type == "fuse.ntfs-3g" || type == "fuse.exfat";
}

// Mount points in /proc/self/mountinfo escape space, tab, newline and backslash as \ooo.
std::string unescapeMountPath(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 3 < text.size()) {
            const std::string digits = text.substr(i + 1, 3);
            if (digits.find_first_not_of("01234567") == std::string::npos) {
                out += static_cast<char>(std::stoi(digits, nullptr, 8));
                i += 3;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

// The type /proc/self/mountinfo gives the mount holding `path` ("fuse.sshfs"), or "".
std::string mountTypeOf(const fs::path& path) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line, bestType;
    std::size_t bestLength = 0;
    const std::string target = path.string();
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::vector<std::string> parts;
        std::string field;
        while (fields >> field) parts.push_back(field);
        if (parts.size() < 7) continue;
        std::size_t dash = 6;
        while (dash < parts.size() && parts[dash] != "-") ++dash;
        if (dash + 1 >= parts.size()) continue;
        const std::string mountPoint = unescapeMountPath(parts[4]);
        const bool within = target == mountPoint || mountPoint == "/" ||
                            (target.size() > mountPoint.size() && target.compare(0, mountPoint.size(), mountPoint) == 0 &&
                             target[mountPoint.size()] == '/');
        // ">=": a later mount over the same point hides the earlier one.
        if (within && mountPoint.size() >= bestLength) {
            bestLength = mountPoint.size();
            bestType = parts[dash + 1];
        }
    }
    return bestType;
}

} // namespace

std::string networkFileSystemOf(const std::string& folder) {
    std::error_code ec;
    fs::path existing = fs::absolute(folder.empty() ? fs::path(".") : fs::path(folder), ec);
    if (ec) return {};
    while (!fs::exists(existing, ec) && existing.has_relative_path()) existing = existing.parent_path();
    struct statfs info {};
    if (statfs(existing.c_str(), &info) != 0) return {};
    const auto type = static_cast<std::uint32_t>(info.f_type);
    for (const FileSystemMagic& known : kNetworkFileSystems) {
        if (known.magic != type) continue;
        if (type != kFuseMagic) return known.name;
        const fs::path canonical = fs::canonical(existing, ec);
        const std::string mountType = mountTypeOf(ec ? existing : canonical);
        if (isLocalFuse(mountType)) return {};
        return mountType.empty() ? std::string(known.name) : mountType;
    }
    return {};
}

JournalChoice chooseJournal(const std::string& path) {
    const std::string file = fs::path(path).filename().string();
    const std::string network = networkFileSystemOf(fs::path(path).parent_path().string());
    JournalChoice choice;
    if (const char* forced = std::getenv(kJournalVariable)) {
        const std::string value = forced;
        if (value == "wal") {
            choice.wal = true;
            if (!network.empty()) {
                choice.note = file + " is on a network file system (" + network + "), but " + kJournalVariable +
                              "=wal keeps WAL: safe only while every process using it runs on this host";
            }
            return choice;
        }
        if (value == "delete") {
            choice.wal = false;
            choice.note = file + ": journal_mode=DELETE (" + kJournalVariable + "=delete)";
            return choice;
        }
        throw Error(std::string("the environment variable ") + kJournalVariable + " is '" + value +
                    "'; expected 'wal' or 'delete' (or unset it: WAL on local disks, DELETE on network file systems)");
    }
    if (!network.empty()) {
        choice.wal = false;
        choice.note = file + " is on a network file system (" + network +
                      "): journal_mode=DELETE instead of WAL, whose shared memory such file systems do not "
                      "share between hosts (docs/database.md#network-file-systems)";
    }
    return choice;
}

} // namespace losslab::Internal
