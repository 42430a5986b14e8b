#include "spm_tools.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <system_error>

#include "losslab/error.h"

extern char** environ;

namespace losslab::speech {
namespace {

namespace fs = std::filesystem;

std::string readWhole(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A folder of its own for one call's files, removed with them.
class TempFolder {
public:
    TempFolder() {
        static std::atomic<int> count{0};
        m_path = fs::temp_directory_path() /
                 ("losslab-spm-" + std::to_string(::getpid()) + "-" + std::to_string(count++));
        fs::create_directories(m_path);
    }
    ~TempFolder() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    TempFolder(const TempFolder&) = delete;
    TempFolder& operator=(const TempFolder&) = delete;
    const fs::path& path() const { return m_path; }

private:
    fs::path m_path;
};

// Runs `argv` (looked up on PATH) with stdin from /dev/null and stdout / stderr into files of
// `folder`; Error saying what failed unless it exits with 0. Returns its standard output.
std::string run(const std::vector<std::string>& argv, const fs::path& folder, const std::string& what) {
    const std::string out = (folder / "stdout").string(), err = (folder / "stderr").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int spawned = posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0)
        throw Error(what + ": cannot run " + argv[0] + " (" + std::strerror(spawned) +
                    "); SentencePiece units need the sentencepiece programs (Debian package sentencepiece, "
                    "installed by scripts/install-deps.sh)");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::string message = readWhole(err);
        // The last line says why (SentencePiece logs before it).
        while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
        const auto lastBreak = message.rfind('\n', message.size() > 60 ? message.size() - 60 : 0);
        if (lastBreak != std::string::npos && message.size() > 400) message = message.substr(lastBreak + 1);
        throw Error(what + ": " + argv[0] + " failed: " + message);
    }
    return readWhole(out);
}

std::vector<std::string> splitLines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

} // namespace

std::vector<std::string> sentencePiecePieces(const std::string& modelFile) {
    std::error_code ec;
    if (!fs::is_regular_file(modelFile, ec)) throw Error(modelFile + ": no such SentencePiece model file");
    TempFolder folder;
    const std::string vocab =
        run({"spm_export_vocab", "--model=" + modelFile, "--output_format=vocab"}, folder.path(), modelFile);
    std::vector<std::string> pieces;
    for (const std::string& line : splitLines(vocab)) pieces.push_back(line.substr(0, line.find('\t')));
    if (pieces.empty()) throw Error(modelFile + ": the SentencePiece model has no pieces");
    return pieces;
}

std::vector<std::vector<std::string>> sentencePieceEncode(const std::string& modelFile, const std::vector<std::string>& texts) {
    TempFolder folder;
    const fs::path input = folder.path() / "input.txt";
    {
        std::ofstream out(input, std::ios::binary);
        for (const std::string& t : texts) {
            if (t.find('\n') != std::string::npos) throw Error(modelFile + ": cannot encode a text with a line break: " + t);
            out << t << '\n';
        }
    }
    const std::string encoded = run({"spm_encode", "--model=" + modelFile, "--output_format=piece", "--input=" + input.string()},
                                    folder.path(), modelFile);
    std::vector<std::vector<std::string>> pieces;
    for (const std::string& line : splitLines(encoded)) {
        std::vector<std::string> row;
        std::istringstream words(line);
        for (std::string piece; words >> piece;) row.push_back(piece);
        pieces.push_back(std::move(row));
    }
    if (pieces.size() != texts.size())
        throw Error(modelFile + ": spm_encode returned " + std::to_string(pieces.size()) + " lines for " +
                    std::to_string(texts.size()) + " texts");
    return pieces;
}

std::string trainSentencePieceModel(const std::vector<std::string>& texts, int vocabSize, const std::string& type,
                                    const std::string& dir) {
    std::uint64_t hash = 0xcbf29ce484222325ull;
    for (const std::string& t : texts) {
        for (const unsigned char c : t) hash = (hash ^ c) * 0x100000001b3ull;
        hash = (hash ^ '\n') * 0x100000001b3ull;
    }
    const std::string modelType = type == "bpe" ? "bpe" : "unigram";
    char name[64];
    std::snprintf(name, sizeof name, "spm-%s%d-%016llx", modelType.c_str(), vocabSize, static_cast<unsigned long long>(hash));
    const fs::path prefix = fs::path(dir) / name;
    const std::string model = prefix.string() + ".model";
    static std::mutex mutex; // two runs of one process never train the same model at once
    std::lock_guard<std::mutex> lock(mutex);
    std::error_code ec;
    if (fs::exists(model, ec)) return model;
    fs::create_directories(dir, ec);
    if (ec) throw Error("cannot create the folder " + dir + " for the SentencePiece model: " + ec.message());
    TempFolder folder;
    const fs::path input = folder.path() / "transcripts.txt";
    {
        std::ofstream out(input, std::ios::binary);
        for (const std::string& t : texts) out << t << '\n';
        if (!out) throw Error("cannot write the SentencePiece training text " + input.string());
    }
    const std::string tmpPrefix = (folder.path() / "model").string();
    // No flag for its log: SentencePiece 0.1 and 0.2.0 have --minloglevel, 0.2.2 (Debian
    // unstable) only --quiet and refuses the other. Its log goes to a scratch file anyway.
    run({"spm_train", "--input=" + input.string(), "--model_prefix=" + tmpPrefix, "--model_type=" + modelType,
         "--vocab_size=" + std::to_string(vocabSize), "--character_coverage=1.0", "--input_sentence_size=100000000",
         "--num_threads=1"},
        folder.path(),
        "cannot train " + std::to_string(vocabSize) + " SentencePiece units on the training transcripts for " + dir +
            " (set model.spm_units lower or give model.spm_model)");
    // Copied, then renamed into place: a reader never sees half a model.
    const std::string tmp = model + ".tmp" + std::to_string(::getpid());
    fs::copy_file(tmpPrefix + ".model", tmp, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(tmp, model, ec);
    if (ec) throw Error("cannot write the SentencePiece model " + model + ": " + ec.message());
    fs::copy_file(tmpPrefix + ".vocab", prefix.string() + ".vocab", fs::copy_options::overwrite_existing, ec);
    return model;
}

} // namespace losslab::speech
