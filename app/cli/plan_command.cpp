// losslab-cli plan EXP.yaml --slurm DIR: a Slurm job array with one task per independent unit
// of the experiment's runs (docs/slurm.md).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>

#include "cli_args.h"
#include "commands.h"
#include "experiment_plan.h"
#include "progress_printer.h"
#include "losslab/error.h"
#include "losslab/report/json_text.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task_registry.h"

namespace losslab::cli {
namespace fs = std::filesystem;

namespace {

// Slurm's default MaxArraySize: array indices 0 to 1000, so at most 1001 tasks.
constexpr long long kSlurmMaxArraySize = 1001;

std::string utcNow() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string randomHex(int bytes) {
    std::random_device rd;
    std::string out;
    const char* digits = "0123456789abcdef";
    for (int i = 0; i < bytes; ++i) {
        const unsigned v = rd() & 0xffu;
        out += digits[v >> 4];
        out += digits[v & 0xfu];
    }
    return out;
}

std::string selfPath() {
    std::error_code ec;
    const auto p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string("losslab-cli") : p.string();
}

void writeFile(const fs::path& path, const std::string& text, bool executable = false) {
    const fs::path tmp = path.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) throw Error(path.string() + ": cannot write the file");
    }
    if (executable)
        fs::permissions(tmp, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec, fs::perm_options::add);
    fs::rename(tmp, path);
}

// Checks a value that goes into an #SBATCH line: one line, no shell-significant characters.
std::string sbatchValue(const Args& args, const std::string& option, const std::string& pattern, const std::string& expected) {
    const auto v = args.value(option);
    if (!v) return "";
    if (!std::regex_match(*v, std::regex(pattern)))
        throw Error("losslab-cli plan: --" + option + ": expected " + expected + ", got '" + *v + "'");
    return *v;
}

// A folder in a Slurm file-name pattern: '%' is Slurm's replacement character (%x is the job
// name), so a literal one is written "%%".
std::string slurmFilePattern(const fs::path& folder) {
    std::string out;
    for (const char c : folder.string()) {
        if (c == '%') out += '%';
        out += c;
    }
    return out;
}

} // namespace

int runPlanCommand(const std::vector<std::string>& argv) {
    std::vector<OptionSpec> options = {
        {"slurm", true, false, "DIR", "write the Slurm job array into DIR (created): array.sbatch, experiment.yaml, manifest.json"},
        {"array-parallel", true, false, "N", "at most N array tasks at once (sbatch --array=...%N; default: no limit)"},
        {"partition", true, false, "P", "Slurm partition"},
        {"gres", true, false, "GRES", "generic resources per task, e.g. gpu:1"},
        {"time", true, false, "HH:MM:SS", "time limit per array task (D-HH:MM:SS also)"},
        {"cpus-per-task", true, false, "N", "CPUs per array task (each run uses them as its threads)"},
        {"mem", true, false, "SIZE", "memory per array task, e.g. 8G"},
        {"cli", true, false, "PATH", "losslab-cli on the compute nodes (default: this program, " + selfPath() + ")"},
        {"db", true, false, "FILE", "database of earlier runs used for the time estimate (default: " + RunStore::defaultPath() + ")"},
        {"pack", true, false, "auto|none", "auto: pack independent units into balanced array tasks (default); none: one task per unit"},
        {"max-tasks", true, false, "N",
         "at most N array tasks (default " + std::to_string(kSlurmMaxArraySize) +
             ", Slurm's default MaxArraySize; `scontrol show config | grep MaxArraySize` gives the cluster's)"}};
    for (const auto& o : experimentOptions()) options.push_back(o);
    Args args(options, "losslab-cli plan");
    args.parse(argv);
    if (args.flag("help")) {
        std::cout << "Usage: losslab-cli plan EXPERIMENT.yaml --slurm DIR [--array-parallel N] [--partition P]\n"
                     "                        [--gres gpu:1] [--time HH:MM:SS] [--cpus-per-task N] [--mem SIZE]\n\n"
                     "Splits the experiment's runs into independent units (a seed's cross-entropy run stays with\n"
                     "the square-loss runs that train for its epochs), packs them into balanced array tasks (by the\n"
                     "times of stored runs, else by run count) and writes a Slurm job array. Submit it with\n"
                     "`sbatch DIR/array.sbatch`; array task i runs\n"
                     "`losslab-cli run DIR/experiment.yaml --task-index i --db DIR/part-i.sqlite`. Afterwards:\n"
                     "`losslab-cli merge DIR/part-*.sqlite --db runs.sqlite`, then report as usual.\n"
                  << "\nOptions:\n" << args.optionsHelp();
        return kExitOk;
    }
    if (args.positional().size() != 1)
        throw Error("losslab-cli plan: expected one experiment file, got " + std::to_string(args.positional().size()) +
                    " (see losslab-cli plan --help)");
    const auto dirArg = args.value("slurm");
    if (!dirArg) throw Error("losslab-cli plan: --slurm DIR is required (the folder for the job array's files)");
    const std::string timeLimit = sbatchValue(args, "time", R"((\d+-)?\d{1,3}(:\d{2}){0,2})", "HH:MM:SS, MM or D-HH:MM:SS");
    const std::string partition = sbatchValue(args, "partition", R"([A-Za-z0-9_.,-]+)", "a partition name");
    const std::string gres = sbatchValue(args, "gres", R"([A-Za-z0-9_:,.-]+)", "a GRES such as gpu:1 or gpu:a100:2");
    const std::string mem = sbatchValue(args, "mem", R"(\d+[KMGT]?)", "a size such as 8G or 16000M");
    const auto cpus = args.integer("cpus-per-task", 1);
    const auto parallel = args.integer("array-parallel", 1);
    const auto maxTasks = static_cast<std::size_t>(args.integer("max-tasks", 1).value_or(kSlurmMaxArraySize));
    const std::string pack = args.value("pack").value_or("auto");
    if (pack != "auto" && pack != "none") throw Error("losslab-cli plan: --pack: expected auto or none, got '" + pack + "'");

    TaskRegistry registry;
    const PluginLoadReport plugins = loadPlugins(registry, defaultPluginDirs());
    for (const auto& w : plugins.warnings) std::cerr << "losslab-cli: warning: " << w << "\n";
    const std::string source = resolveExperimentPath(args.positional()[0]);
    const ExperimentSpec spec = loadExperimentFile(source, experimentOverrides(args), registry);
    const std::vector<RunSpec> runs = spec.expand();
    const std::vector<std::vector<int>> units = independentUnits(runs);
    // sbatch refuses an array past the cluster's MaxArraySize only at submit time.
    if (pack == "none" && units.size() > maxTasks)
        throw Error("losslab-cli plan: --pack none makes one array task per independent unit, " + std::to_string(units.size()) +
                    " here, more than --max-tasks " + std::to_string(maxTasks) +
                    " (Slurm's MaxArraySize: sbatch would refuse the array); use --pack auto, which packs them into at most " +
                    std::to_string(maxTasks) + " tasks, or raise --max-tasks to the cluster's MaxArraySize");

    const fs::path dir = fs::absolute(*dirArg).lexically_normal();
    // The folder goes into #SBATCH lines, which sbatch splits at spaces (quoted below) and cuts
    // at '#' (quoted too); it passes a backslash on to Slurm's file-name patterns, where it turns
    // off %a, and a quote or a line break cannot be written there at all.
    for (const char c : dir.string())
        if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            throw Error("losslab-cli plan: --slurm " + dir.string() + ": a plan folder's path cannot hold " +
                        (c == '"' ? std::string("a double quote") : c == '\\' ? std::string("a backslash") : std::string("a control character")) +
                        " (sbatch reads it from #SBATCH lines); choose another folder");
    std::error_code ec;
    fs::create_directories(dir / "logs", ec);
    if (ec) throw Error("losslab-cli plan: cannot create " + (dir / "logs").string() + ": " + ec.message());
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.path().filename().string().rfind("part-", 0) == 0)
            throw Error("losslab-cli plan: " + dir.string() + " already holds parts of a plan (" +
                        entry.path().filename().string() + "); plan into an empty folder, so that parts of two plans never mix");

    // Costs: estimated seconds where every run has an estimate, else one per run.
    const RunEstimates estimates = estimateRuns(runs, args.value("db").value_or(RunStore::defaultPath()));
    const bool timed = estimates.complete();
    auto runCost = [&](int i) { return timed ? *estimates.seconds[static_cast<std::size_t>(i)] : 1.0; };
    std::vector<double> unitCost(units.size(), 0.0);
    for (std::size_t u = 0; u < units.size(); ++u)
        for (const int i : units[u]) unitCost[u] += runCost(i);
    const std::vector<std::vector<int>> tasks = pack == "auto" ? packUnits(units, unitCost, maxTasks) : units;
    std::vector<double> cost(tasks.size(), 0.0);
    double longest = 0, total = 0;
    for (std::size_t t = 0; t < tasks.size(); ++t) {
        for (const int i : tasks[t]) cost[t] += runCost(i);
        longest = std::max(longest, cost[t]);
        total += cost[t];
    }
    const double meanCost = tasks.empty() ? 0.0 : total / static_cast<double>(tasks.size());
    double longestUnit = 0;
    for (const double c : unitCost) longestUnit = std::max(longestUnit, c);

    // The frozen experiment: every array task reads these exact bytes, whatever happens to the
    // source file later; the plan id in its first lines makes its experiment uid unique, and
    // the task lines say which runs each array task trains.
    const std::string planId = randomHex(8);
    const std::string created = utcNow();
    const std::string frozen = withPlanDigest(
        "# Planned by losslab-cli plan " LOSSLAB_VERSION " on " + created + ", plan " + planId +
                               ", from " + fs::absolute(source).string() +
                               ".\n# Array task I trains the runs its line names (indices into this file's runs): do "
                               "not edit this file; change the source and plan again.\n" +
                               plannedTaskLines(tasks) + spec.toYaml());
    const fs::path frozenPath = dir / "experiment.yaml";
    writeFile(frozenPath, frozen);

    const std::string cli = args.value("cli").value_or(selfPath());
    std::ostringstream sb;
    sb << "#!/bin/bash\n"
       << "# Written by losslab-cli plan " LOSSLAB_VERSION " on " << created << " (plan " << planId << "): " << runs.size()
       << " runs of experiment '" << spec.name << "' in " << tasks.size() << " array tasks.\n"
       << "# Submit: sbatch " << (dir / "array.sbatch").string() << "\n"
       << "# Then:   losslab-cli merge " << (dir / "part-*.sqlite").string() << " --db runs.sqlite\n"
       << "#SBATCH --job-name=losslab-" << std::regex_replace(spec.name, std::regex("[^A-Za-z0-9_.-]"), "_") << "\n"
       << "#SBATCH --array=0-" << (tasks.empty() ? 0 : tasks.size() - 1) << (parallel ? "%" + std::to_string(*parallel) : "")
       << "\n"
       << "#SBATCH --ntasks=1\n"
       << "#SBATCH --output=\"" << slurmFilePattern(dir / "logs") << "/task-%a.out\"\n"
       // A requeued task's log keeps its earlier tries (Slurm truncates it by default), which say
       // which run was stopped and why.
       << "#SBATCH --open-mode=append\n";
    if (!partition.empty()) sb << "#SBATCH --partition=" << partition << "\n";
    if (!gres.empty()) sb << "#SBATCH --gres=" << gres << "\n";
    if (!timeLimit.empty()) sb << "#SBATCH --time=" << timeLimit << "\n";
    if (cpus) sb << "#SBATCH --cpus-per-task=" << *cpus << "\n";
    if (!mem.empty()) sb << "#SBATCH --mem=" << mem << "\n";
    sb << "set -euo pipefail\n"
       << "i=\"${SLURM_ARRAY_TASK_ID:?not a Slurm array task: submit with sbatch}\"\n"
       << "# Slurm requeued this task (its node went down, or it was preempted): the runs its earlier\n"
       << "# try left running on another node are its own, and continue here (--take-over).\n"
       << "over=\n"
       << "[[ ${SLURM_RESTART_COUNT:-0} == 0 ]] || over=--take-over\n"
       << "# Each run takes the task's CPUs as its threads (the node may run other tasks beside it).\n"
       << "exec " << shellQuote(cli) << " run " << shellQuote(frozenPath.string()) << " --task-index \"$i\" $over \\\n"
       << "    --db " << shellQuote(dir.string()) << "/part-\"$i\".sqlite --quiet \\\n"
       << "    --set runner.threads=\"${SLURM_CPUS_PER_TASK:-1}\"\n";
    writeFile(dir / "array.sbatch", sb.str(), true);

    std::ostringstream js;
    js << "{\n  \"format\": \"losslab-slurm-plan-1\",\n  \"plan\": " << jsonString(planId)
       << ",\n  \"created\": " << jsonString(created) << ",\n  \"losslab\": " << jsonString(LOSSLAB_VERSION)
       << ",\n  \"experiment\": " << jsonString(spec.name) << ",\n  \"task\": " << jsonString(spec.taskId)
       << ",\n  \"source\": " << jsonString(fs::absolute(source).string())
       << ",\n  \"frozen_experiment\": " << jsonString(frozenPath.string())
       << ",\n  \"experiment_uid\": " << jsonString(planExperimentUid(frozen)) << ",\n  \"runs\": " << runs.size()
       << ",\n  \"grid_points\": " << spec.gridPointCount() << ",\n  \"independent_units\": " << units.size()
       << ",\n  \"array_tasks\": " << tasks.size() << ",\n  \"packing\": " << jsonString(pack)
       << ",\n  \"estimate_basis\": " << jsonString(timed ? estimates.basis : "run count (" + estimates.basis + ")")
       << ",\n  \"cost_unit\": " << jsonString(timed ? "seconds" : "runs")
       << ",\n  \"balance\": {\"longest_task\": " << longest << ", \"mean_task\": " << meanCost
       << ", \"longest_over_mean\": " << (meanCost > 0 ? longest / meanCost : 0.0) << ", \"longest_unit\": " << longestUnit
       << ", \"total\": " << total << "}"
       << ",\n  \"submit\": " << jsonString("sbatch " + (dir / "array.sbatch").string())
       << ",\n  \"merge\": " << jsonString("losslab-cli merge " + (dir / "part-*.sqlite").string() + " --db runs.sqlite")
       << ",\n  \"tasks\": [\n";
    for (std::size_t u = 0; u < tasks.size(); ++u) {
        js << "    {\"index\": " << u << ", \"part\": " << jsonString((dir / ("part-" + std::to_string(u) + ".sqlite")).string())
           << ", \"cost\": " << cost[u] << ", \"runs\": [";
        for (std::size_t k = 0; k < tasks[u].size(); ++k) {
            const RunSpec& r = runs[static_cast<std::size_t>(tasks[u][k])];
            js << (k ? ", " : "") << "{\"run\": " << tasks[u][k] << ", \"loss\": " << jsonString(r.loss.name)
               << ", \"k\": " << r.loss.k << ", \"M\": " << r.loss.M << ", \"lr\": " << r.loss.lr
               << ", \"protocol\": " << jsonString(protocolName(r.protocol)) << ", \"seed\": " << r.seed << "}";
        }
        js << "]}" << (u + 1 < tasks.size() ? "," : "") << "\n";
    }
    js << "  ]\n}\n";
    writeFile(dir / "manifest.json", js.str());

    std::ostringstream balance;
    balance.imbue(std::locale::classic());
    balance.precision(3);
    balance << (meanCost > 0 ? longest / meanCost : 0.0);
    std::cout << "Planned " << runs.size() << " runs of '" << spec.name << "' (" << units.size()
              << " independent units) as " << tasks.size() << " Slurm array tasks in " << dir.string() << "\n";
    if (timed)
        std::cout << "Estimated: " << formatDuration(total) << " of training; longest task " << formatDuration(longest)
                  << ", mean " << formatDuration(meanCost) << ", longest over mean " << balance.str() << " ("
                  << estimates.basis << ")\n";
    else
        std::cout << "Balance by run count (" << estimates.basis << "): longest task " << longest << " runs, mean "
                  << meanCost << ", longest over mean " << balance.str() << "\n";
    std::cout << "Submit:  sbatch " << (dir / "array.sbatch").string() << "\n"
              << "Merge:   losslab-cli merge " << (dir / "part-*.sqlite").string() << " --db runs.sqlite\n";
    return kExitOk;
}

} // namespace losslab::cli
