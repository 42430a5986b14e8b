// losslab-cli: the headless face of LossLab (see `losslab-cli --help`).
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "losslab/error.h"

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
        if (command == "tasks") return runTasksCommand(args);
        if (command == "run") return runRunCommand(args);
        if (command == "list") return runListCommand(args);
        if (command == "report") return runReportCommand(args);
        if (command == "resume") return runResumeCommand(args);
        if (command == "plan") return runPlanCommand(args);
        std::cerr << "losslab-cli: unknown command '" << command << "'; commands: tasks, run, list, report, resume, plan, merge (see losslab-cli --help)\n";
        return kExitInvalidInput;
    } catch (const losslab::Error& e) {
        std::cerr << "losslab-cli: error: " << e.what() << "\n";
        return kExitInvalidInput;
    } catch (const std::exception& e) {
        std::cerr << "losslab-cli: internal error: " << e.what() << "\n";
        return kExitRunFailed;
    }
}
