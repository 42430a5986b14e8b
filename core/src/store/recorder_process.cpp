#include "recorder_process.h"

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <vector>

namespace losslab::Internal {
namespace {

std::string thisHost() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0) return "localhost";
    return name;
}

std::string thisBootId() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    const auto last = id.find_last_not_of(" \t\r\n");
    return last == std::string::npos ? std::string() : id.substr(0, last + 1);
}

// True only when the OS says the process does not exist: EPERM means it exists but belongs
// to someone else, which must not be mistaken for an orphan.
bool noSuchProcess(std::int64_t pid) {
    if (pid > std::numeric_limits<pid_t>::max()) return true;
    return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

} // namespace

namespace {

// Fields 3 to 22 of /proc/<pid>/stat ("pid (comm) state ppid ... starttime ..."), or nothing
// when it cannot be read. comm may hold spaces and ')', so fields are counted from the last ')'.
std::optional<std::vector<std::string>> statFields(std::int64_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    if (!in) return std::nullopt;
    const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream in2(stat.substr(close + 1));
    std::vector<std::string> fields;
    std::string field;
    while (fields.size() < 20 && in2 >> field) fields.push_back(field);
    if (fields.size() < 20) return std::nullopt;
    return fields;
}

// A zombie ('Z', killed or exited and not yet reaped by its parent) or dead ('X') process
// runs nothing more: it can never finish its runs.
bool hasEnded(std::int64_t pid) {
    const auto fields = statFields(pid);
    return fields && ((*fields)[0] == "Z" || (*fields)[0] == "X");
}

} // namespace

std::optional<std::int64_t> processStartTicks(std::int64_t pid) {
    const auto fields = statFields(pid);
    if (!fields) return std::nullopt;
    const std::string& field = (*fields)[19]; // field 22: starttime
    try {
        std::size_t used = 0;
        const long long ticks = std::stoll(field, &used);
        if (used != field.size() || ticks < 0) return std::nullopt;
        return static_cast<std::int64_t>(ticks);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

RecorderProcess currentProcess() {
    RecorderProcess self;
    self.pid = static_cast<std::int64_t>(getpid());
    self.host = thisHost();
    self.startTicks = processStartTicks(*self.pid);
    self.bootId = thisBootId();
    return self;
}

bool recorderIsGone(const RecorderProcess& recorder, const RecorderProcess& self) {
    // pid 0 or below would make kill() signal a process group, not test one process.
    if (!recorder.pid || *recorder.pid <= 0) return true;
    if (recorder.host != self.host) return false;
    if (!recorder.bootId.empty() && !self.bootId.empty() && recorder.bootId != self.bootId) return true;
    const bool sameStart = !recorder.startTicks || !self.startTicks || *recorder.startTicks == *self.startTicks;
    if (self.pid && *recorder.pid == *self.pid && sameStart) return false;
    if (noSuchProcess(*recorder.pid) || hasEnded(*recorder.pid)) return true;
    if (!recorder.startTicks) return false; // an old row: the pid is all there is to go by
    const std::optional<std::int64_t> start = processStartTicks(*recorder.pid);
    // Unreadable (no /proc, or the process ended just now): only a known difference counts.
    return start && *start != *recorder.startTicks;
}

} // namespace losslab::Internal
