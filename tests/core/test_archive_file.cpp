// saveArchiveAtomically: a checkpoint or cache that does not fit (a file-size limit stands in
// for a full disk) is an error naming the file, leaves the previous file as it was and no
// temporary file; LibTorch's own file writer ended the process instead (a throw from its
// destructor).
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include "losslab/training/archive_file.h"
#include "scratch_dir.h"

using namespace losslab;
using losslab::fixtures::readFile;
using losslab::fixtures::ScratchDir;

namespace {

// Lowers this process's file-size limit for the scope (SIGXFSZ ignored, so writes past it fail
// with EFBIG as under `ulimit -f`), and restores both after.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        m_oldHandler = std::signal(SIGXFSZ, SIG_IGN);
        ::getrlimit(RLIMIT_FSIZE, &m_old);
        rlimit limit = m_old;
        limit.rlim_cur = bytes;
        m_set = ::setrlimit(RLIMIT_FSIZE, &limit) == 0;
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &m_old);
        std::signal(SIGXFSZ, m_oldHandler);
    }
    FileSizeLimit(const FileSizeLimit&) = delete;
    FileSizeLimit& operator=(const FileSizeLimit&) = delete;
    bool set() const { return m_set; }

private:
    rlimit m_old{};
    void (*m_oldHandler)(int) = SIG_DFL;
    bool m_set = false;
};

torch::serialize::OutputArchive archiveOf(const torch::Tensor& weights) {
    torch::serialize::OutputArchive archive;
    archive.write("weights", weights);
    return archive;
}

} // namespace

TEST(ArchiveFile, WritesAWholeArchiveThatLoadsBack) {
    const ScratchDir dir("losslab-archive");
    const std::string path = dir.file("run-1.resume.pt");
    const torch::Tensor weights = torch::arange(100000, torch::kFloat);
    torch::serialize::OutputArchive archive = archiveOf(weights);
    saveArchiveAtomically(archive, path);
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    torch::serialize::InputArchive in;
    in.load_from(path);
    torch::Tensor loaded;
    in.read("weights", loaded);
    EXPECT_TRUE(torch::equal(loaded, weights));
}

TEST(ArchiveFile, AWriteThatDoesNotFitNamesTheFileAndKeepsThePreviousOne) {
    const ScratchDir dir("losslab-archive");
    const std::string path = dir.file("run-1.resume.pt");
    std::ofstream(path) << "the previous checkpoint";
    torch::serialize::OutputArchive archive = archiveOf(torch::zeros({1 << 20}, torch::kFloat)); // 4 MiB
    {
        const FileSizeLimit limit(64 * 1024);
        if (!limit.set()) GTEST_SKIP() << "cannot set a file-size limit here";
        try {
            saveArchiveAtomically(archive, path);
            ADD_FAILURE() << "a 4 MiB archive was written under a 64 KiB file-size limit";
        } catch (const FileWriteError& e) {
            const std::string message = e.what();
            EXPECT_NE(message.find(path + ": cannot be written (File too large)"), std::string::npos) << message;
        }
    }
    EXPECT_EQ(readFile(path), "the previous checkpoint");
    EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
    // With room again, the same archive is written.
    saveArchiveAtomically(archive, path);
    EXPECT_GT(std::filesystem::file_size(path), 4u << 20);
}

TEST(ArchiveFile, AFolderThatCannotHoldTheFileIsNamed) {
    const ScratchDir dir("losslab-archive");
    torch::serialize::OutputArchive archive = archiveOf(torch::ones({4}));
    const std::string path = dir.file("missing/run-1.pt");
    try {
        saveArchiveAtomically(archive, path);
        ADD_FAILURE() << "written into a folder that does not exist";
    } catch (const FileWriteError& e) {
        EXPECT_NE(std::string(e.what()).find(path + ": cannot be written (No such file or directory)"), std::string::npos)
            << e.what();
    }
}
