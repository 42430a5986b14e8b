#include "losslab/training/archive_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <torch/serialize/output-archive.h>

namespace losslab {

namespace {

// The file descriptor of the temporary file; closed (once) by close() or the destructor.
class OutFile {
public:
    explicit OutFile(const std::string& path) : m_fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) {}
    ~OutFile() {
        if (m_fd >= 0) ::close(m_fd);
    }
    OutFile(const OutFile&) = delete;
    OutFile& operator=(const OutFile&) = delete;

    bool isOpen() const { return m_fd >= 0; }
    // Writes all of it, retrying short writes and interrupted calls; errno-style code on failure.
    int writeAll(const char* data, std::size_t size) {
        while (size > 0) {
            const ssize_t n = ::write(m_fd, data, size);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return n < 0 ? errno : ENOSPC;
            data += n;
            size -= static_cast<std::size_t>(n);
        }
        return 0;
    }
    int close() {
        const int rc = ::close(m_fd);
        m_fd = -1;
        return rc == 0 ? 0 : errno;
    }

private:
    int m_fd;
};

} // namespace

void saveArchiveAtomically(torch::serialize::OutputArchive& archive, const std::string& path,
                           const std::string& tmpSuffix) {
    namespace fs = std::filesystem;
    const std::string tmp = path + tmpSuffix;
    auto fail = [&](int code) {
        std::error_code ignored;
        fs::remove(tmp, ignored);
        throw FileWriteError(path + ": cannot be written (" + std::strerror(code) +
                             "); the disk may be full or a file-size limit reached");
    };
    int error = 0;
    {
        OutFile out(tmp);
        if (!out.isOpen()) fail(errno);
        // The writer always reports the whole buffer as written: LibTorch checks the count in
        // its destructor, where a throw ends the process. The first failure is kept and raised
        // once the archive is done.
        archive.save_to([&](const void* data, std::size_t size) -> std::size_t {
            if (error == 0) error = out.writeAll(static_cast<const char*>(data), size);
            return size;
        });
        if (error == 0) error = out.close();
    }
    if (error != 0) fail(error);
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) fail(ec.value());
}

} // namespace losslab
