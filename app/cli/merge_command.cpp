// losslab-cli merge PART... --db TARGET: the databases the array tasks of a Slurm plan wrote
// (one part each) into one, for report, list, the window and resume (docs/slurm.md).
#include <iostream>
#include <string>
#include <vector>

#include "cli_args.h"
#include "commands.h"
#include "losslab/error.h"
#include "losslab/store/run_merge.h"

namespace losslab::cli {
namespace {

std::string plural(long long count, const std::string& one, const std::string& many) {
    return std::to_string(count) + " " + (count == 1 ? one : many);
}

// "1 experiment and 2 runs added (1 as interrupted), 1 run replaced (...), 3 already there;
// 400 epoch rows, 20 step rows, 2 checkpoint files"
std::string describe(const MergePartResult& part) {
    if (part.runsAdded == 0 && part.experimentsAdded == 0 && part.runsReplaced == 0)
        return "nothing new (" + plural(part.runsPresent, "run", "runs") + " already there)";
    std::string text;
    if (part.runsAdded > 0 || part.experimentsAdded > 0) {
        if (part.experimentsAdded > 0) text += plural(part.experimentsAdded, "experiment", "experiments") + " and ";
        text += plural(part.runsAdded, "run", "runs") + " added";
        if (part.runsInterrupted > 0) text += " (" + std::to_string(part.runsInterrupted) + " as interrupted)";
    }
    if (part.runsReplaced > 0)
        text += (text.empty() ? "" : ", ") + plural(part.runsReplaced, "run", "runs") +
                " replaced (finished in the part, interrupted or cancelled here)";
    if (part.runsPresent > 0) text += ", " + std::to_string(part.runsPresent) + " already there";
    text += "; " + plural(part.epochRows, "epoch row", "epoch rows") + ", " + plural(part.stepRows, "step row", "step rows") +
            ", " + plural(part.filesCopied, "checkpoint file", "checkpoint files");
    return text;
}

} // namespace

int runMergeCommand(const std::vector<std::string>& argv) {
    Args args({{"db", true, false, "FILE", "the database to merge into (required; created when missing)"},
               {"allow-unfinished", false, false, "",
                "merge runs a part still has queued or running (its array task was killed) as interrupted"},
               {"quiet", false, false, "", "print only the totals"}},
              "losslab-cli merge");
    args.parse(argv);
    if (args.flag("help")) {
        std::cout << "Usage: losslab-cli merge PART.sqlite... --db TARGET.sqlite [--allow-unfinished]\n\n"
                     "Copies the experiments and runs of the parts (the databases the array tasks of\n"
                     "`losslab-cli plan --slurm` wrote) into TARGET, with their metrics, tags, notes and\n"
                     "checkpoints; new runs get new ids there. Runs already in TARGET (the same uid) are\n"
                     "skipped, so merging the same parts again adds nothing. A part with a run still queued or\n"
                     "running is refused, and nothing is written. Afterwards report, list, the window and\n"
                     "resume work on TARGET as on one machine.\n"
                  << "\nOptions:\n"
                  << args.optionsHelp();
        return kExitOk;
    }
    if (args.positional().empty())
        throw Error("losslab-cli merge: expected one or more part databases, e.g. DIR/part-*.sqlite (see losslab-cli merge --help)");
    const auto target = args.value("db");
    if (!target)
        throw Error("losslab-cli merge: --db TARGET is required: the database to merge the parts into (created when missing)");
    const bool quiet = args.flag("quiet");

    MergeOptions options;
    options.allowUnfinished = args.flag("allow-unfinished");
    bool checked = false;
    options.checked = [&] { checked = true; };
    options.progress = [&](const MergePartResult& part, std::size_t, std::size_t) {
        if (!quiet) std::cout << part.path << ": " << describe(part) << "\n";
        return true;
    };
    MergeResult result;
    try {
        result = mergeRunStores(args.positional(), *target, options);
    } catch (const Error& e) {
        // Refused before anything was written: invalid input. After the checks, a part that
        // fails to be written (disk full), the first one too, is a failure: exit 1.
        if (!checked) throw;
        std::cerr << "losslab-cli: error: " << e.what() << "\n";
        return kExitRunFailed;
    }
    for (const std::string& warning : result.warnings) std::cerr << "losslab-cli: warning: " << warning << "\n";
    const MergePartResult& total = result.total;
    std::cout << "Merged " << plural(static_cast<long long>(result.parts.size()), "part", "parts") << " into " << *target
              << ": " << describe(total) << "\n";
    return kExitOk;
}

} // namespace losslab::cli
