// losslab-cli delete: the window's Delete for scripts and clusters. Deletes stored runs, picked by
// id, experiment and status, with their metrics and checkpoint files (RunStore::deleteRuns:
// all or nothing, never a run a live process owns), after a listing and a confirmation.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "losslab/error.h"
#include "losslab/report/report_files.h"
#include "losslab/store/run_deletion.h"
#include "losslab/store/run_store.h"

namespace losslab::cli {
namespace {

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
}

std::string experimentLabel(const std::string& name, std::int64_t id) { return name + "#" + std::to_string(id); }

// "tiny (#1, #3), other (#2)": each name once, with the ids NAME#ID can pick.
std::string storedExperiments(const std::vector<ExperimentRecord>& experiments) {
    std::vector<std::string> order;
    std::map<std::string, std::vector<std::string>> ids;
    for (const auto& e : experiments) {
        if (!ids.count(e.name)) order.push_back(e.name);
        ids[e.name].push_back("#" + std::to_string(e.id));
    }
    std::vector<std::string> items;
    for (const auto& name : order) items.push_back(name + " (" + joined(ids[name]) + ")");
    return items.empty() ? "(none)" : joined(items);
}

// An --experiment value: every experiment of that exact name (as `list --experiment` selects
// them), or NAME#ID, the one experiment `report` and `export` name that way ("a#01" too). Empty
// when neither matches. A value that is both is refused, as `report` refuses it: a delete must
// not guess.
std::vector<std::int64_t> experimentsMatching(const std::string& value, const std::vector<ExperimentRecord>& experiments) {
    const ExperimentMatch match = matchExperiment(value, experiments);
    if (!match.ambiguity.empty())
        throw Error("losslab-cli delete: --experiment '" + value + "' is ambiguous: " + match.ambiguity + "; nothing was deleted");
    std::vector<std::int64_t> ids;
    for (const auto& e : match.named) ids.push_back(e.id);
    if (ids.empty() && match.instance) ids.push_back(match.instance->id);
    return ids;
}

std::int64_t runIdOf(const std::string& value) {
    std::size_t used = 0;
    long long id = -1;
    try {
        id = std::stoll(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != value.size() || value.empty() || !std::isdigit(static_cast<unsigned char>(value[0])) || id < 1)
        throw Error("losslab-cli delete: --run: expected a run id (a number >= 1, as `losslab-cli list` shows), got '" + value + "'");
    return id;
}

// Plain-text table with columns padded to their widest cell (as `list` prints).
void printRows(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width;
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], r[i].size());
        }
    for (const auto& r : rows) {
        std::string line = "  ";
        for (std::size_t i = 0; i < r.size(); ++i) {
            std::string cell = r[i];
            if (i + 1 < r.size()) cell.resize(width[i] + 2, ' ');
            line += cell;
        }
        std::cout << line << "\n";
    }
}

// Asks on the terminal; true for y / yes.
bool confirmed(const std::string& question) {
    std::cerr << question << " [y/N] " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer)) {
        std::cerr << "\n";
        return false;
    }
    std::string word;
    for (const char c : answer)
        if (!std::isspace(static_cast<unsigned char>(c))) word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return word == "y" || word == "yes";
}

} // namespace

int runDeleteCommand(const std::vector<std::string>& argv) {
    Args args({{"db", true, false, "FILE", "database (default: " + RunStore::defaultPath() + ")"},
               {"run", true, true, "ID", "the run with this id"},
               {"experiment", true, true, "NAME", "runs of the experiments with this name (all of them), or of NAME#ID"},
               {"status", true, true, "STATUS", "runs with this status as `list` shows it: completed, diverged, failed, cancelled, interrupted"},
               {"dry-run", false, false, "", "print the runs it would delete; delete nothing"},
               {"yes", false, false, "", "delete without asking (needed when standard input is not a terminal)"}},
              "losslab-cli delete");
    args.parse(argv);
    if (args.flag("help")) {
        std::cout << "Usage: losslab-cli delete [--db FILE] [--run ID]... [--experiment NAME]... [--status STATUS]...\n"
                     "                          [--dry-run] [--yes]\n\n"
                     "Deletes stored runs with their metrics, checkpoint and resume files. Give at least one\n"
                     "selector: a run must match every kind given, and one of the values of each kind\n"
                     "(--experiment X --status failed: the failed runs of X). The runs are listed first; then,\n"
                     "without --yes, a terminal is asked to confirm. All or nothing: an unknown run, experiment\n"
                     "or status, or a selected run still queued or running, deletes nothing (exit 2). An\n"
                     "experiment left without runs is deleted too.\n"
                  << "\nOptions:\n"
                  << args.optionsHelp();
        return kExitOk;
    }
    if (!args.positional().empty())
        throw Error("losslab-cli delete: unexpected argument '" + args.positional()[0] + "' (run ids go with --run ID)");
    std::set<std::int64_t> wantedRuns;
    for (const auto& v : args.values("run")) wantedRuns.insert(runIdOf(v));
    const std::vector<std::string> experimentValues = args.values("experiment");
    std::set<std::string> wantedStatuses;
    std::string statusError; // parseRunStatus's, which names the valid ones, for the first unknown
    std::vector<std::string> moreUnknown;
    for (const auto& v : args.values("status")) {
        try {
            wantedStatuses.insert(runStatusName(parseRunStatus(v)));
        } catch (const Error& e) {
            if (statusError.empty()) statusError = e.what();
            else moreUnknown.push_back("'" + v + "'");
        }
    }
    if (!statusError.empty())
        throw Error("losslab-cli delete: --status: " + statusError +
                    (moreUnknown.empty() ? "" : "; also unknown: " + joined(moreUnknown)) + "; nothing was deleted");
    if (wantedRuns.empty() && experimentValues.empty() && wantedStatuses.empty())
        throw Error("losslab-cli delete: say which runs: --run ID, --experiment NAME or --status STATUS (at least one; "
                    "`losslab-cli list` shows the stored runs)");
    const bool dryRun = args.flag("dry-run");

    const std::string path = args.value("db").value_or(RunStore::defaultPath());
    if (!std::filesystem::exists(path))
        throw Error("losslab-cli delete: no database at " + path + " (pass --db FILE)");
    // A dry run only reads: it works on a database this user cannot write.
    const std::unique_ptr<RunStore> store = dryRun ? RunStore::openForReading(path) : std::make_unique<RunStore>(path);
    const std::vector<ExperimentRecord> experiments = store->experiments();
    const std::vector<RunRecord> all = store->runs(); // statuses as read: a run whose process is gone is interrupted

    // Every selector must name something stored: a typo deletes nothing.
    std::vector<std::string> problems;
    std::set<std::int64_t> wantedExperiments;
    std::vector<std::string> unknownExperiments;
    for (const auto& v : experimentValues) {
        const auto ids = experimentsMatching(v, experiments);
        if (ids.empty()) unknownExperiments.push_back("'" + v + "'");
        wantedExperiments.insert(ids.begin(), ids.end());
    }
    if (!unknownExperiments.empty())
        problems.push_back("no experiment " + joined(unknownExperiments) + " (stored experiments: " + storedExperiments(experiments) + ")");
    std::vector<std::string> unknownRuns;
    for (const std::int64_t id : wantedRuns)
        if (std::none_of(all.begin(), all.end(), [id](const RunRecord& r) { return r.id == id; }))
            unknownRuns.push_back(std::to_string(id));
    if (!unknownRuns.empty())
        problems.push_back(std::string(unknownRuns.size() == 1 ? "no run " : "no runs ") + joined(unknownRuns) +
                           " (`losslab-cli list` shows the stored runs)");
    if (!problems.empty())
        throw Error("losslab-cli delete: " + path + ": " + problems.front() + (problems.size() > 1 ? "; " + problems.back() : "") +
                    "; nothing was deleted");

    std::vector<RunRecord> selected;
    for (const auto& r : all) {
        if (!wantedRuns.empty() && !wantedRuns.count(r.id)) continue;
        if (!experimentValues.empty() && !wantedExperiments.count(r.experimentId)) continue;
        if (!wantedStatuses.empty() && !wantedStatuses.count(runStatusName(r.status))) continue;
        selected.push_back(r);
    }
    if (selected.empty()) {
        std::cout << "No run in " << path << " matches the selection: nothing to delete\n";
        return kExitOk;
    }

    std::set<std::int64_t> going;
    for (const auto& r : selected) going.insert(r.id);
    std::cout << selected.size() << " run(s) to delete from " << path << ":\n";
    std::vector<std::vector<std::string>> rows = {{"run_id", "experiment", "task", "loss", "protocol", "seed", "status"}};
    for (const auto& r : selected)
        rows.push_back({std::to_string(r.id), experimentLabel(r.experiment, r.experimentId), r.taskId, r.lossName, r.protocol,
                        std::to_string(r.seed), runStatusName(r.status)});
    printRows(rows);
    // deleteRuns refuses these too; saying so here spares the question.
    for (const auto& r : selected)
        if (!isFinal(r.status))
            throw Error("losslab-cli delete: cannot delete run " + std::to_string(r.id) + ": it is " + runStatusName(r.status) +
                        "; cancel it first (a process still owns it: stop that process, or leave the run out of the "
                        "selection); nothing was deleted");
    // Runs that stay but took something from a run that goes: their results stay, their source does not.
    for (const std::string& note : deletionNotes(all, going)) std::cout << "Note: " << note << "\n";
    if (dryRun) {
        std::cout << "Nothing was deleted (--dry-run).\n";
        return kExitOk;
    }
    if (!args.flag("yes")) {
        if (::isatty(STDIN_FILENO) == 0)
            throw Error("losslab-cli delete: standard input is not a terminal, so nobody can confirm: pass --yes to delete "
                        "these " + std::to_string(selected.size()) + " run(s), or --dry-run to only list them; nothing was deleted");
        if (!confirmed("Delete " + std::to_string(selected.size()) + " run(s) with their metrics and checkpoint files? " +
                       "This cannot be undone.")) {
            std::cout << "Nothing was deleted.\n";
            return kExitOk;
        }
    }

    int deleted = 0;
    try {
        deleted = store->deleteRuns(std::vector<std::int64_t>(going.begin(), going.end()));
    } catch (const Error& e) {
        // One transaction: a run that started since the listing, or a failed write, deletes nothing.
        throw Error(std::string("losslab-cli delete: ") + e.what() + "; nothing was deleted");
    }
    std::cout << "Deleted " << deleted << " run(s) with their metrics and checkpoint files from " << path << "\n";
    std::set<std::int64_t> remaining;
    for (const auto& e : store->experiments()) remaining.insert(e.id);
    for (const auto& e : experiments)
        if (!remaining.count(e.id))
            std::cout << "Experiment '" << e.name << "' (#" << e.id << ") had no runs left and was deleted\n";
    return kExitOk;
}

} // namespace losslab::cli
