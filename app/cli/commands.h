#pragma once
// The losslab-cli commands. Each returns the process exit status:
// 0 success, 1 a run failed, 2 invalid input found before any run started, 130 / 143 when
// SIGINT / SIGTERM stopped the runs (they are stored as cancelled and can be resumed).
#include <string>
#include <vector>

namespace losslab::cli {

constexpr int kExitOk = 0;
constexpr int kExitRunFailed = 1;
constexpr int kExitInvalidInput = 2;

int runTasksCommand(const std::vector<std::string>& args);
int runRunCommand(const std::vector<std::string>& args);
int runListCommand(const std::vector<std::string>& args);
int runReportCommand(const std::vector<std::string>& args);
int runExportCommand(const std::vector<std::string>& args);
int runResumeCommand(const std::vector<std::string>& args);
int runPlanCommand(const std::vector<std::string>& args);
int runMergeCommand(const std::vector<std::string>& args);
int runDeleteCommand(const std::vector<std::string>& args);

std::string mainHelp();

} // namespace losslab::cli
