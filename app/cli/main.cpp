// losslab-cli: the headless face of LossLab (see `losslab-cli --help`).
#include <csignal>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "losslab/error.h"
#include "losslab/store/run_store.h"

namespace {

// The database a command will open: its --db value, or the default one for the commands that
// have a default; nothing for commands without a database, or for --help.
std::optional<std::string> databaseOf(const std::string& command, const std::vector<std::string>& args) {
    if (command != "run" && command != "list" && command != "report" && command != "export" && command != "resume" && command != "plan" &&
        command != "merge" && command != "delete")
        return std::nullopt;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help" || args[i] == "-h") return std::nullopt;
        if (args[i] == "--db" && i + 1 < args.size()) {
            if (args[i + 1].rfind("--", 0) == 0) return std::nullopt; // the command refuses it
            return args[i + 1];
        }
        if (args[i].rfind("--db=", 0) == 0) return args[i].substr(5);
    }
    if (command == "merge") return std::nullopt; // --db is required there: the command says so
    try {
        return losslab::RunStore::defaultPath();
    } catch (const losslab::Error&) {
        return std::nullopt; // the command reports it
    }
}

} // namespace

int main(int argc, char** argv) {
    using namespace losslab::cli;
    // Past a file-size limit, a write should fail with an error the store can report, not
    // end the process (SIGXFSZ's default).
    std::signal(SIGXFSZ, SIG_IGN);
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        std::cout << mainHelp();
        return args.empty() ? kExitInvalidInput : kExitOk;
    }
    if (args[0] == "--version") {
        std::cout << "losslab-cli " LOSSLAB_VERSION "\n";
        return kExitOk;
    }
    const std::string command = args[0];
    args.erase(args.begin());
    try {
        // Once per process: a database on a network file system is used without WAL.
        if (const auto db = databaseOf(command, args)) {
            const std::string note = losslab::RunStore::journalNoteFor(*db);
            if (!note.empty()) std::cerr << "losslab-cli: note: " << note << "\n";
        }
        if (command == "tasks") return runTasksCommand(args);
        if (command == "run") return runRunCommand(args);
        if (command == "list") return runListCommand(args);
        if (command == "report") return runReportCommand(args);
        if (command == "export") return runExportCommand(args);
        if (command == "resume") return runResumeCommand(args);
        if (command == "plan") return runPlanCommand(args);
        if (command == "merge") return runMergeCommand(args);
        if (command == "delete") return runDeleteCommand(args);
        std::cerr << "losslab-cli: unknown command '" << command << "'; commands: tasks, run, list, report, export, resume, plan, merge, delete (see losslab-cli --help)\n";
        return kExitInvalidInput;
    } catch (const losslab::Error& e) {
        std::cerr << "losslab-cli: error: " << e.what() << "\n";
        return kExitInvalidInput;
    } catch (const std::exception& e) {
        std::cerr << "losslab-cli: internal error: " << e.what() << "\n";
        return kExitRunFailed;
    }
}
