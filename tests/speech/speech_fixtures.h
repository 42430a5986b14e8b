#pragma once
// The synthesised speech corpus (tests/speech/make_fixture_corpus.sh: espeak-ng voices in the
// LibriSpeech, Kaldi, Speech Commands and TIMIT layouts), made once per test process into a
// scratch folder under the system's temporary folder and removed when the process ends.
//
//   TEST(SpeechCorpus, Something) {
//       LOSSLAB_SPEECH_FIXTURE_OR_SKIP(corpus);  // std::filesystem::path corpus
//       ... corpus / "librispeech" / "train" ...
//   }
//
// The test is skipped (with the script's reason) when espeak-ng or sox is missing (exit 77) and
// fails with the script's output for any other failure. With LOSSLAB_SPEECH_FIXTURE_DIR set to a
// folder the script already filled (.complete written), that folder is used as is (for running
// many test processes, as ctest does, without synthesising the corpus in each). Thread-safe; the script's counts come
// from its LOSSLAB_FIXTURE_* environment variables, and LOSSLAB_FIXTURE_FROM makes it copy a corpus made
// elsewhere instead (a machine without espeak-ng: scripts/gpu-check.sh).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace losslab::fixtures {

struct SpeechFixtureCorpus {
    std::filesystem::path dir; // the corpus, when available
    bool available = false;
    bool skip = false;         // the tools are missing: skip rather than fail
    std::string message;       // why it is not available
};

namespace Internal {

// Owns the generated folder; removes it at process exit.
class SpeechFixtureFolder {
public:
    SpeechFixtureFolder() {
        namespace fs = std::filesystem;
        // A folder ctest's speech.fixture-corpus filled; when it holds no complete corpus (that
        // test was skipped or failed), the script runs here again and says why.
        if (const char* given = std::getenv("LOSSLAB_SPEECH_FIXTURE_DIR");
            given && *given && fs::exists(fs::path(given) / ".complete")) {
            m_corpus.dir = given;
            m_corpus.available = true;
            return;
        }
        m_owned = fs::temp_directory_path() / ("losslab-speech-fixture-" + std::to_string(::getpid()));
        std::error_code ec;
        fs::remove_all(m_owned, ec);
        fs::create_directories(m_owned);
        const fs::path script = fs::path(LOSSLAB_SOURCE_DIR) / "tests" / "speech" / "make_fixture_corpus.sh";
        const fs::path log = m_owned / "make_fixture_corpus.log";
        const fs::path corpus = m_owned / "corpus";
        const std::string command =
            "bash '" + script.string() + "' '" + corpus.string() + "' >'" + log.string() + "' 2>&1";
        const int status = std::system(command.c_str());
        const int code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        std::ifstream in(log);
        const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (code == 0) {
            m_corpus.dir = corpus;
            m_corpus.available = true;
        } else {
            m_corpus.skip = code == 77;
            m_corpus.message = script.string() + " exited with status " + std::to_string(code) + ": " + output;
        }
    }
    ~SpeechFixtureFolder() {
        if (m_owned.empty()) return;
        std::error_code ec;
        std::filesystem::remove_all(m_owned, ec);
    }
    SpeechFixtureFolder(const SpeechFixtureFolder&) = delete;
    SpeechFixtureFolder& operator=(const SpeechFixtureFolder&) = delete;

    const SpeechFixtureCorpus& corpus() const { return m_corpus; }

private:
    std::filesystem::path m_owned;
    SpeechFixtureCorpus m_corpus;
};

} // namespace Internal

// The corpus of this process, made on the first call.
inline const SpeechFixtureCorpus& speechFixtureCorpus() {
    static const Internal::SpeechFixtureFolder folder;
    return folder.corpus();
}

} // namespace losslab::fixtures

// Declares `const std::filesystem::path name` = the corpus folder, or skips / fails the test.
#define LOSSLAB_SPEECH_FIXTURE_OR_SKIP(name)                                                     \
    const ::losslab::fixtures::SpeechFixtureCorpus& name##Fixture_ =                             \
        ::losslab::fixtures::speechFixtureCorpus();                                              \
    if (!name##Fixture_.available) {                                                             \
        if (name##Fixture_.skip) GTEST_SKIP() << name##Fixture_.message;                         \
        FAIL() << name##Fixture_.message;                                                        \
    }                                                                                            \
    const std::filesystem::path name = name##Fixture_.dir
