#pragma once
// Writing a LibTorch archive (checkpoints, caches) to a file without ending the process when
// the disk is full. LibTorch's own file writer throws from its destructor when a write comes
// up short (a full disk, a file-size limit), which is std::terminate: a run's checkpoint could
// end the whole program and every run beside it.
#include <string>

#include "losslab/error.h"

namespace torch::serialize {
class OutputArchive;
}

namespace losslab {

// A file could not be written (disk full, file-size limit, I/O error). What was written before
// is intact; the work can go on once there is room.
class FileWriteError : public Error {
public:
    explicit FileWriteError(const std::string& message) : Error(message) {}
};

// Writes `archive` to `path + tmpSuffix`, then renames it over `path`: `path` holds either its
// old contents or all of the new ones. On a failed write the temporary file is removed, `path`
// is left as it was, and FileWriteError names the file and the system's reason.
void saveArchiveAtomically(torch::serialize::OutputArchive& archive, const std::string& path,
                           const std::string& tmpSuffix = ".tmp");

} // namespace losslab
