#include "commands.h"

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <filesystem>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli_args.h"
#include "experiment_plan.h"
#include "progress_printer.h"
#include "losslab/error.h"
#include "losslab/report/paper_tables.h"
#include "losslab/report/report_files.h"
#include "losslab/report/report_table.h"
#include "losslab/report/mlflow_export.h"
#include "losslab/report/tensorboard_export.h"
#ifdef LOSSLAB_HAVE_PLOTS
#include "plots/figure_export.h"
#endif
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/spec/run_recipe.h"
#include "losslab/store/run_store.h"
#include "losslab/store/run_takeover.h"
#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/compute_setup.h"

namespace losslab::cli {
namespace fs = std::filesystem;

// Defined with the report command below: table-main of the given experiments as Markdown,
// and the full report (tables, raw files, figures in the full build) into request.outDir.
std::string renderMainTable(const RunStore& store, const std::vector<std::string>& experiments, const TaskRegistry& registry);
void writeFullReport(const RunStore& store, const ReportRequest& request, const TaskRegistry& registry,
                     const std::vector<std::string>& figures);

namespace {

// Loads the task plugins; warnings go to stderr (a broken user plugin must not hide the others).
void loadTasks(TaskRegistry& registry, bool verbose) {
    const PluginLoadReport report = loadPlugins(registry, defaultPluginDirs());
    for (const auto& w : report.warnings) std::cerr << "losslab-cli: warning: " << w << "\n";
    if (verbose)
        for (const auto& l : report.loaded) std::cerr << "losslab-cli: loaded plugin " << l << "\n";
}

std::string fmt(double v, int precision = 4) {
    if (std::isnan(v)) return "-";
    std::ostringstream os;
    os.imbue(std::locale::classic());
    os.setf(std::ios::fixed);
    os.precision(precision);
    os << v;
    return os.str();
}

// The columns a UTF-8 cell takes: one per character, not per byte (continuation bytes do not
// count), so that a name such as "präzision" does not shift the columns after it.
std::size_t displayWidth(const std::string& text) {
    std::size_t n = 0;
    for (const unsigned char c : text) n += (c & 0xC0) != 0x80 ? 1 : 0;
    return n;
}

// Plain-text table with columns padded to their widest cell.
void printTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width;
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i) {
            if (width.size() <= i) width.push_back(0);
            width[i] = std::max(width[i], displayWidth(r[i]));
        }
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            line += r[i];
            if (i + 1 < r.size()) line.append(width[i] + 2 - displayWidth(r[i]), ' ');
        }
        out << line << "\n";
    }
}

std::atomic<int> g_signal{0};
extern "C" void onSignal(int sig) {
    g_signal.store(sig);
    std::signal(sig, SIG_DFL); // a second Ctrl-C ends the process at once
}

// Starts runs through `start`, shows their progress, turns SIGINT / SIGTERM into a cancel
// at the next batch, and waits for them.
RunQueueResult watchRuns(RunQueue& queue, int totalRuns, bool quiet, const std::function<void()>& start) {
    const bool terminal = ::isatty(STDERR_FILENO) != 0;
    ProgressPrinter printer(totalRuns, terminal, quiet);
    queue.addObserver([&printer](const RunEvent& e) { printer.onEvent(e); });
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    start();
    std::atomic<bool> done{false};
    std::thread watcher([&] {
        while (!done) {
            if (g_signal.load() != 0 && !queue.cancelRequested()) {
                printer.finishLine();
                std::cerr << "losslab-cli: stopping: the current runs are cancelled at the next batch (again to quit at once)\n";
                queue.cancelAll();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });
    struct JoinOnExit {
        std::atomic<bool>& done;
        std::thread& thread;
        ~JoinOnExit() {
            done = true;
            thread.join();
        }
    } joinOnExit{done, watcher};
    const RunQueueResult result = queue.wait();
    printer.finishLine();
    return result;
}

int exitStatus(const RunQueueResult& result) {
    std::cout << result.completed << " completed, " << result.diverged << " diverged, " << result.failed << " failed, "
              << result.cancelled << " cancelled\n";
    if (!result.storeFailure.empty()) {
        std::cerr << "losslab-cli: error: the run database stopped accepting writes (" << result.storeFailure
                  << "); the disk may be full or a file-size limit reached. Runs were stopped; everything "
                     "committed before is intact. Free space, then `losslab-cli resume --all`.\n";
        return kExitRunFailed;
    }
    if (!result.checkpointFailure.empty()) {
        std::cerr << "losslab-cli: error: a run's checkpoint could not be written (" << result.checkpointFailure
                  << "). Runs were stopped and stored as cancelled; the database holds every epoch committed "
                     "before. Free space, then resume them by id: `losslab-cli list` shows them, `losslab-cli "
                     "resume --db FILE RUN_ID...` goes on from their last checkpoints.\n";
        return kExitRunFailed;
    }
    // 128 + the signal, as shells report it: 130 after SIGINT, 143 after SIGTERM.
    if (g_signal.load() != 0) return 128 + g_signal.load();
    return result.failed > 0 ? kExitRunFailed : kExitOk;
}

bool parseOrHelp(Args& args, const std::vector<std::string>& argv, const std::string& usage) {
    args.parse(argv);
    if (args.flag("help")) {
        std::cout << usage << "\n\nOptions:\n" << args.optionsHelp();
        return false;
    }
    return true;
}

} // namespace

std::string mainHelp() {
    return "losslab-cli " LOSSLAB_VERSION " - square loss vs cross-entropy, seeded and paired\n"
           "\n"
           "Usage: losslab-cli COMMAND [OPTIONS]\n"
           "\n"
           "Commands:\n"
           "  tasks     list the registered tasks (classes, dataset, model, description)\n"
           "  run       run an experiment file (YAML) and print the comparison table\n"
           "  list      list stored runs, as a table or CSV\n"
           "  report    write the paper-style tables, statistics and figures of stored runs\n"
           "  export    write stored runs as TensorBoard event files, or send them to an MLflow tracking server\n"
           "  resume    continue interrupted runs from their last checkpoint\n"
           "  plan      write a Slurm job array for an experiment (one task per independent unit of runs)\n"
           "  merge     merge the run databases of a Slurm job array's tasks into one\n"
           "  delete    delete stored runs with their checkpoints, by id, experiment and status\n"
           "\n"
           "  losslab-cli COMMAND --help    options of one command\n"
           "  losslab-cli --version         version\n"
           "\n"
           "Exit status: 0 success, 1 a run failed, 2 invalid input (nothing was run),\n"
           "130 / 143 stopped by SIGINT / SIGTERM (runs stored as cancelled; losslab-cli resume continues them).\n";
}

int runTasksCommand(const std::vector<std::string>& argv) {
    Args args({{"verbose", false, false, "", "also list each task's keys and recipe"}}, "losslab-cli tasks");
    if (!parseOrHelp(args, argv, "Usage: losslab-cli tasks [--verbose]\n\nLists the tasks registered by the plugins."))
        return kExitOk;
    if (!args.positional().empty()) throw Error("losslab-cli tasks: unexpected argument '" + args.positional()[0] + "'");
    TaskRegistry registry;
    loadTasks(registry, args.flag("verbose"));
    std::vector<std::vector<std::string>> rows = {{"task", "classes", "dataset", "model", "data", "format", "description"}};
    for (const auto& t : registry.list()) {
        std::string data = t.defaultDataRoot.empty() ? "set data.root"
                           : fs::exists(t.defaultDataRoot) ? t.defaultDataRoot : "missing: " + t.defaultDataRoot;
        const std::string classes = t.numClasses > 0 ? std::to_string(t.numClasses) : "data.classes";
        rows.push_back({t.id, classes, t.dataset, t.model, data, t.dataFormat.empty() ? "-" : t.dataFormat, t.description});
    }
    printTable(std::cout, rows);
    if (args.flag("verbose")) {
        for (const auto& t : registry.list()) {
            std::cout << "\n" << t.id << " (plugin " << t.plugin << ")\n  data: " << t.dataHint << "\n";
            if (!t.testSetNote.empty()) std::cout << "  test set: " << t.testSetNote << "\n";
            for (const auto& p : t.params)
                std::cout << "  " << p.key << " = " << (p.defaultValue.empty() ? "\"\"" : p.defaultValue) << "  # " << p.help << "\n";
            for (const auto& [k, v] : t.recipe) std::cout << "  " << k << " = " << v << "  # recipe\n";
        }
    }
    if (registry.ids().empty()) {
        std::cerr << "losslab-cli: no tasks: no plugin was found in:";
        for (const auto& d : defaultPluginDirs()) std::cerr << " " << d;
        std::cerr << "\n";
        return kExitInvalidInput;
    }
    return kExitOk;
}

namespace {

// Which run of a plan a run is: its task, loss, protocol and seed, and the values of the keys a
// sweep varied. Two runs of one experiment differ in these; settings a later LossLab adds to
// the stored YAML, the device and runner.* do not count.
std::string planRunKey(const std::string& taskId, const std::string& lossName, const std::string& protocol,
                       std::int64_t seed, const std::string& specYaml) {
    std::string key = taskId + "\n" + lossName + "\n" + protocol + "\n" + std::to_string(seed);
    const RunRecipe recipe = runRecipe(specYaml);
    // In key order: runs stored before the axes were listed as the sweep lists them (keys
    // outside losses first) are the same runs.
    std::vector<std::string> values;
    for (const auto& axis : runSweepAxes(specYaml)) {
        const auto it = recipe.find(axis);
        values.push_back(axis + "=" + (it == recipe.end() ? std::string() : it->second));
    }
    std::sort(values.begin(), values.end());
    for (const auto& v : values) key += "\n" + v;
    return key;
}

// An array task run into a database that already holds its plan's experiment: a requeued task
// (Slurm's --requeue, or the same command again) or another task of the plan run into the same
// database. Its own stored runs that were interrupted or cancelled continue from their
// checkpoints, on `device` when given; finished ones stay. Nothing when none of its runs are
// stored: the caller then adds them to the experiment. Other tasks' runs are left alone.
std::optional<int> continueTask(RunStore& store, const TaskRegistry& registry, const ExperimentRecord& experiment,
                                const std::vector<RunSpec>& taskRuns, std::int64_t taskIndex, const std::string& device,
                                bool takeOver, bool quiet) {
    std::set<std::string> wanted;
    for (const auto& s : taskRuns)
        wanted.insert(planRunKey(s.taskId, s.loss.name, protocolName(s.protocol), s.seed, s.toYaml()));
    RunFilter filter;
    filter.experimentIds = {experiment.id};
    std::vector<RunRecord> stored;
    for (auto& r : store.runs(filter))
        if (wanted.count(planRunKey(r.taskId, r.lossName, r.protocol, r.seed, r.specYaml))) stored.push_back(std::move(r));
    if (stored.empty()) return std::nullopt;
    const std::string task = "array task " + std::to_string(taskIndex);
    if (stored.size() != taskRuns.size())
        throw Error("losslab-cli run: " + store.path() + " holds " + std::to_string(stored.size()) + " of the " +
                    std::to_string(taskRuns.size()) + " runs of " + task + " (experiment '" + experiment.name + "' #" +
                    std::to_string(experiment.id) +
                    "), not all of them: some were deleted; run the task into another database and merge it");
    // Runs still queued or running in another process: alive on this host (another copy of the
    // task), or recorded on another host, where that process cannot be checked. Slurm requeues
    // a task onto another node after its first node went down or SIGKILLed it at its time
    // limit; those runs are then this task's own, and --take-over continues them here.
    std::vector<std::int64_t> storedIds;
    for (const auto& r : stored) storedIds.push_back(r.id);
    std::vector<HeldRun> held = heldRuns(store.path(), storedIds);
    const auto alive = std::find_if(held.begin(), held.end(), [](const HeldRun& h) { return h.aliveHere; });
    if (alive != held.end())
        throw Error("losslab-cli run: " + store.path() + ": run " + std::to_string(alive->id) + " of " + task + " is " +
                    alive->status + " in process " + (alive->pid ? std::to_string(*alive->pid) : std::string("?")) +
                    " on this host, which is still alive: another copy of the task is training it; nothing was run");
    if (!held.empty() && !takeOver) {
        const HeldRun& h = held.front();
        throw Error("losslab-cli run: " + store.path() + ": run " + std::to_string(h.id) + " of " + task + " is " +
                    h.status + ", recorded on host " + h.host + ", pid " + (h.pid ? std::to_string(*h.pid) : std::string("?")) +
                    (held.size() > 1 ? " (and " + std::to_string(held.size() - 1) + " more of its runs)" : std::string()) +
                    ", which cannot be checked from here: the task may still be running there. If it is not (squeue "
                    "no longer shows it: its node went down, or it was killed), run the task again with --take-over "
                    "to continue those runs here; nothing was run");
    }
    if (!held.empty()) {
        held = takeOverRuns(store.path(), storedIds);
        std::cerr << "losslab-cli: " << task << ": took over " << held.size() << " run(s) left queued or running on host "
                  << held.front().host << " (--take-over); they continue here\n";
    }
    std::vector<std::int64_t> ids;
    for (const auto& r : stored)
        if (r.status == RunStatus::Interrupted || r.status == RunStatus::Cancelled ||
            std::any_of(held.begin(), held.end(), [&](const HeldRun& h) { return h.id == r.id; }))
            ids.push_back(r.id);
    if (ids.empty()) {
        std::cout << "Every run of " << task << " is already in " << store.path() << ": nothing to do\n";
        return kExitOk;
    }
    RunQueueOptions options;
    options.device = device;
    RunQueue queue(store, registry, options);
    const RunQueueResult result = watchRuns(queue, static_cast<int>(ids.size()), quiet, [&] {
        queue.resume(ids);
        std::cerr << "losslab-cli: " << task << " ran before: continuing " << ids.size() << " of its run(s) in "
                  << store.path() << "\n";
    });
    return exitStatus(result);
}

} // namespace

int runRunCommand(const std::vector<std::string>& argv) {
    std::vector<OptionSpec> options = {
        {"db", true, false, "FILE", "database (default: " + RunStore::defaultPath() + ")"},
        {"quiet", false, false, "", "print only the final table and failures"},
        {"report", true, false, "DIR", "afterwards, write the experiment's full report into DIR (as `report`)"},
        {"dry-run", false, false, "", "print the runs, their count and an estimate of the time from stored runs; run nothing"},
        {"task-index", true, false, "I", "run only independent unit I (a Slurm array task of `losslab-cli plan`)"},
        {"take-over", false, false, "",
         "with --task-index: continue the task's runs left queued or running on another host by a try of the task that "
         "has ended (Slurm requeued it onto another node)"}};
    for (const auto& o : experimentOptions()) options.push_back(o);
    Args args(options, "losslab-cli run");
    if (!parseOrHelp(args, argv,
                     "Usage: losslab-cli run EXPERIMENT.yaml [OPTIONS]\n\n"
                     "Runs every task x loss x protocol x seed (x sweep point) of the experiment, stores them in the\n"
                     "database, and prints per loss and protocol the mean and std of test accuracy over seeds.\n"
                     "EXPERIMENT may also name a shipped preset: default, tcn_permuted_mnist, wrn_cifar10, ..."))
        return kExitOk;
    if (args.positional().size() != 1)
        throw Error("losslab-cli run: expected one experiment file, got " + std::to_string(args.positional().size()) +
                    " (see losslab-cli run --help)");
    const std::vector<SpecOverride> overrides = experimentOverrides(args);
    const auto taskIndex = args.integer("task-index", 0);
    if (args.flag("take-over") && !taskIndex)
        throw Error("losslab-cli run: --take-over takes over the runs of one array task: it needs --task-index");
    if (taskIndex)
        for (const auto& o : overrides)
            if (o.key.rfind("runner.", 0) != 0 && o.key != "device")
                throw Error("losslab-cli run: --task-index runs unit " + std::to_string(*taskIndex) +
                            " of the plan's runs, fixed by its experiment file; '" + o.key +
                            "' would change them (only runner.* keys and --device may be set): change the "
                            "experiment and plan again");

    TaskRegistry registry;
    loadTasks(registry, false);
    const std::string path = resolveExperimentPath(args.positional()[0]);
    const std::string text = readExperimentFile(path);
    if (taskIndex) checkPlanDigest(text, path);
    const ExperimentSpec spec = loadExperimentText(text, path, overrides, registry);
    const std::vector<RunSpec> runs = spec.expand();
    const std::string dbPath = args.value("db").value_or(RunStore::defaultPath());
    RunQueueOptions queueOptions;
    if (taskIndex) {
        // A plan file names each array task's runs; any other file: task i is independent unit i.
        std::vector<std::vector<int>> tasks = plannedTasks(text);
        const bool planned = !tasks.empty();
        if (!planned) tasks = independentUnits(runs);
        if (static_cast<std::size_t>(*taskIndex) >= tasks.size())
            throw Error("losslab-cli run: --task-index " + std::to_string(*taskIndex) + ": " + path + " has " +
                        std::to_string(tasks.size()) + (planned ? " array tasks" : " independent units") + " (0 to " +
                        std::to_string(tasks.size() - 1) + ")");
        queueOptions.runIndices = tasks[static_cast<std::size_t>(*taskIndex)];
        for (const int i : queueOptions.runIndices)
            if (i < 0 || static_cast<std::size_t>(i) >= runs.size())
                throw Error("losslab-cli run: " + path + ": the plan's task " + std::to_string(*taskIndex) + " names run " +
                            std::to_string(i) + ", but the experiment has " + std::to_string(runs.size()) +
                            " runs (0 to " + std::to_string(runs.size() - 1) + "): the plan file was edited; plan again");
        queueOptions.experimentUid = planExperimentUid(text);
    }
    if (args.flag("dry-run")) {
        RunQueueOptions slotOptions;
        slotOptions.runsPerDevice = static_cast<int>(spec.params.getInt("runner.runs_per_device"));
        slotOptions.cpuSlots = static_cast<int>(spec.params.getInt("runner.cpu_runs"));
        int slots = 1;
        try {
            slots = static_cast<int>(resolveDeviceSlots(spec.device, slotOptions).size());
        } catch (const Error&) {
        }
        printDryRun(std::cout, spec, runs, estimateRuns(runs, dbPath), slots, !args.flag("quiet"));
        if (taskIndex) {
            std::string list;
            for (const int i : queueOptions.runIndices) list += (list.empty() ? "" : ", ") + std::to_string(i);
            std::cout << "--task-index " << *taskIndex << " runs " << queueOptions.runIndices.size() << " of these "
                      << runs.size() << " runs: " << list << "\n";
        }
        std::cout << "Nothing was run (--dry-run).\n";
        return kExitOk;
    }
    configureProcess(); // a bad LOSSLAB_ONEDNN stops here, before the database is opened or made
    // So does a device this machine lacks (cuda:3 on one GPU): no empty database is left behind.
    {
        RunQueueOptions slotOptions;
        slotOptions.runsPerDevice = static_cast<int>(spec.params.getInt("runner.runs_per_device"));
        slotOptions.cpuSlots = static_cast<int>(spec.params.getInt("runner.cpu_runs"));
        resolveDeviceSlots(spec.device, slotOptions);
    }
    // The report comes after all training: a folder it cannot use must stop the run before it.
    if (const auto dir = args.value("report")) {
        try {
            prepareReportFolder(*dir);
        } catch (const Error& e) {
            throw Error(std::string("losslab-cli run: --report: ") + e.what());
        }
    }
    RunStore store(dbPath);
    const int orphans = store.markOrphansInterrupted();
    if (orphans > 0) std::cerr << "losslab-cli: " << orphans << " run(s) left running by a process that ended are now 'interrupted'\n";
    if (taskIndex)
        for (const auto& e : store.experiments()) {
            if (e.uid != queueOptions.experimentUid) continue;
            std::vector<RunSpec> taskRuns;
            for (const int i : queueOptions.runIndices) taskRuns.push_back(runs[static_cast<std::size_t>(i)]);
            if (const auto status = continueTask(store, registry, e, taskRuns, *taskIndex, args.value("device").value_or(""),
                                                 args.flag("take-over"), args.flag("quiet")))
                return *status;
            queueOptions.experimentId = e.id; // another task of the plan: its runs join the experiment
        }

    RunQueue queue(store, registry, queueOptions);
    const std::size_t planned = taskIndex ? queueOptions.runIndices.size() : runs.size();
    const RunQueueResult result = watchRuns(queue, static_cast<int>(planned), args.flag("quiet"), [&] {
        const RunQueueResult started = queue.start(spec); // throws Error before storing anything
        std::cerr << "losslab-cli: experiment '" << spec.name << "' (#" << started.experimentId << "): "
                  << started.runIds.size() << " runs" << (taskIndex ? " (array task " + std::to_string(*taskIndex) + ")" : "")
                  << ", database " << store.path() << "\n";
    });

    // NAME#ID; "NAME#0ID" when an experiment is named exactly "NAME#ID", which would make the
    // value ambiguous (report.md, "Choosing the experiments").
    std::string idDigits = std::to_string(result.experimentId);
    {
        const std::vector<ExperimentRecord> stored = store.experiments();
        while (std::any_of(stored.begin(), stored.end(),
                           [&](const ExperimentRecord& e) { return e.name == spec.name + "#" + idDigits; }))
            idDigits.insert(0, "0");
    }
    const std::string thisExperiment = spec.name + "#" + idDigits;
    std::cout << "\nExperiment '" << spec.name << "' (#" << result.experimentId << "), task " << spec.taskId << "\n\n"
              << renderMainTable(store, {thisExperiment}, registry) << "\n";
    if (const auto dir = args.value("report")) {
        ReportRequest request;
        request.experiments = {thisExperiment};
        request.outDir = *dir;
        try {
            writeFullReport(store, request, registry, {"png", "svg", "pdf"});
        } catch (const Error& e) {
            // The folder was checked before training; this is the disk filling since, say. The
            // runs are stored: not exit 2 ("nothing was run").
            std::cerr << "losslab-cli: error: the runs are stored, but their report was not written: " << e.what()
                      << "\n(write it again with: losslab-cli report --db " << store.path() << " --experiment '"
                      << thisExperiment << "' --out " << *dir << ")\n";
            return kExitRunFailed;
        }
    }
    return exitStatus(result);
}

int runListCommand(const std::vector<std::string>& argv) {
    Args args({{"db", true, false, "FILE", "database (default: " + RunStore::defaultPath() + ")"},
               {"experiment", true, true, "NAME", "only runs of this experiment"},
               {"format", true, false, "table|csv", "output format (default: table)"}},
              "losslab-cli list");
    if (!parseOrHelp(args, argv, "Usage: losslab-cli list [--db FILE] [--experiment NAME]... [--format table|csv]\n\n"
                                 "One row per stored run; accuracies are fractions at the reported epoch."))
        return kExitOk;
    if (!args.positional().empty()) throw Error("losslab-cli list: unexpected argument '" + args.positional()[0] + "'");
    const std::string format = args.value("format").value_or("table");
    if (format != "table" && format != "csv")
        throw Error("losslab-cli list: --format: expected table or csv, got '" + format + "'");
    const std::string path = args.value("db").value_or(RunStore::defaultPath());
    if (!fs::exists(path)) throw Error("losslab-cli list: no database at " + path + " (run an experiment first, or pass --db FILE)");
    const std::unique_ptr<RunStore> opened = RunStore::openForReading(path); // changes nothing
    RunStore& store = *opened;
    RunFilter filter;
    filter.experiments = args.values("experiment");
    const auto runs = store.runs(filter);
    if (!filter.experiments.empty() && runs.empty()) {
        std::set<std::string> names; // each name once, however many instances are stored (as `report` lists them)
        for (const auto& e : store.experiments()) names.insert(e.name);
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
        std::cerr << "losslab-cli list: no runs for the experiment(s) asked for; known experiments: "
                  << (known.empty() ? "(none)" : known) << "\n";
    }
    const std::vector<std::string> header = {"run_id", "experiment", "task", "loss", "k", "M", "lr", "protocol", "seed",
                                             "status", "epochs", "best_epoch", "val_acc", "test_acc", "loss_name",
                                             "device", "library", "threads", "reused_from", "wall_s", "error"};
    // runner.reuse_prefix names the source run by uid; shown as its id here.
    // A source outside the selection (or deleted since) sends for every stored run's uid, once:
    // not again per run whose source is gone, which read the whole store that many times.
    std::map<std::string, std::int64_t> idOfUid;
    for (const auto& r : runs) idOfUid[r.uid] = r.id;
    const bool sourceOutside = std::any_of(runs.begin(), runs.end(), [&](const RunRecord& r) {
        return !r.reusedFrom.empty() && !idOfUid.count(r.reusedFrom);
    });
    if (sourceOutside)
        for (const auto& o : store.runs()) idOfUid[o.uid] = o.id;
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : runs) {
        const auto source = idOfUid.find(r.reusedFrom);
        const std::string reused = r.reusedFrom.empty() ? std::string()
                                   : source != idOfUid.end() ? std::to_string(source->second)
                                                             : r.reusedFrom;
        auto full = [](double v) { return formatFull(v); };
        rows.push_back({std::to_string(r.id), r.experiment, r.taskId, r.loss, full(r.k), full(r.M), full(r.lr), r.protocol,
                        std::to_string(r.seed), runStatusName(r.status), std::to_string(r.epochs),
                        std::to_string(r.bestEpoch), format == "csv" ? full(r.valAcc) : fmt(r.valAcc),
                        format == "csv" ? full(r.testAcc) : fmt(r.testAcc), r.lossName, r.device, r.library,
                        r.threads > 0 ? std::to_string(r.threads) : std::string(), reused,
                        format == "csv" ? full(r.wallSeconds) : fmt(r.wallSeconds, 1), r.error});
    }
    if (format == "csv") {
        std::string line;
        for (std::size_t i = 0; i < header.size(); ++i) line += (i ? "," : "") + header[i];
        std::cout << line << "\r\n";
        for (const auto& r : rows) {
            line.clear();
            for (std::size_t i = 0; i < r.size(); ++i) line += (i ? "," : "") + csvField(r[i]);
            std::cout << line << "\r\n";
        }
    } else {
        rows.insert(rows.begin(), header);
        for (auto& r : rows) r.pop_back(); // errors are long: table shows them below
        printTable(std::cout, rows);
        for (const auto& r : runs)
            if (!r.error.empty()) std::cout << "run " << r.id << ": " << r.error << "\n";
    }
    return kExitOk;
}

} // namespace losslab::cli

namespace losslab::cli {

namespace {

std::vector<std::string> splitCommaList(const std::string& text, const std::vector<std::string>& allowed,
                                        const std::string& option) {
    std::vector<std::string> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        if (std::find(allowed.begin(), allowed.end(), item) == allowed.end()) {
            std::string list;
            for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
            throw Error("losslab-cli report: " + option + ": unknown value '" + item + "'; expected a comma-separated list of " + list);
        }
        out.push_back(item);
    }
    return out;
}

std::map<std::string, TaskMeta> taskMetas(const TaskRegistry& registry) {
    std::map<std::string, TaskMeta> metas;
    for (const auto& t : registry.list()) metas[t.id] = {t.domain, t.numClasses, t.testSetNote};
    return metas;
}

} // namespace

void writeFullReport(const RunStore& store, const ReportRequest& request, const TaskRegistry& registry,
                     const std::vector<std::string>& figures) {
    const ReportData data = loadReportData(store, request, taskMetas(registry));
    std::vector<std::string> written = writeReportTables(store, data, request);
    for (const auto& note : data.analysis.notes) std::cerr << "losslab-cli report: note: " << note << "\n";
    if (!figures.empty()) {
#ifdef LOSSLAB_HAVE_PLOTS
        FigureFormats formats;
        formats.png = std::count(figures.begin(), figures.end(), "png") > 0;
        formats.svg = std::count(figures.begin(), figures.end(), "svg") > 0;
        formats.pdf = std::count(figures.begin(), figures.end(), "pdf") > 0;
        std::vector<std::string> warnings;
        for (const auto& p : writeReportFigures(data.analysis, data.curves, request.outDir, formats, warnings)) written.push_back(p);
        for (const auto& p : writeSweepFigures(data.sweeps, request.outDir, formats, warnings)) written.push_back(p);
        for (const auto& p : writeReliabilityFigures(data.reliability, request.outDir, formats)) written.push_back(p);
        for (const auto& w : warnings) std::cerr << "losslab-cli report: " << w << "\n";
#else
        std::cerr << "losslab-cli report: figures need the full build (Qt 6 and QCustomPlot); this build wrote the tables only\n";
#endif
    }
    std::cout << "Report of " << data.experiments.size() << " experiment(s), " << data.runs.size() << " run(s):\n";
    for (const auto& p : written) std::cout << "  " << p << "\n";
}

std::string renderMainTable(const RunStore& store, const std::vector<std::string>& experiments, const TaskRegistry& registry) {
    ReportRequest request;
    request.experiments = experiments;
    const ReportData data = loadReportData(store, request, taskMetas(registry));
    return toMarkdown(mainTable(data.analysis, data.options).display);
}

int runReportCommand(const std::vector<std::string>& argv) {
    Args args({{"db", true, false, "FILE", "database (default: " + RunStore::defaultPath() + ")"},
               {"experiment", true, true, "NAME", "experiment name (its latest run) or NAME#ID; default: the latest of every name"},
               {"out", true, false, "DIR", "folder for the report's files (created if missing)"},
               {"split", true, false, "SPLIT", "test, val or train: the split of tables and statistics (default: test)"},
               {"formats", true, false, "LIST", "table formats: csv,md,tex (default: all)"},
               {"figures", true, false, "LIST", "figure formats: png,svg,pdf or none (default: all; full build only)"}},
              "losslab-cli report");
    if (!parseOrHelp(args, argv,
                     "Usage: losslab-cli report [--db FILE] [--experiment NAME]... --out DIR [--split test|val|train]\n"
                     "                          [--formats csv,md,tex] [--figures png,svg,pdf]\n\n"
                     "Writes table-main, table-std, stats and headline (CSV, Markdown, LaTeX), seed-results.csv,\n"
                     "metrics-long.csv and Figures 1-3 (PNG at 300 dpi, SVG, PDF) for the selected experiments;\n"
                     "runs from a sweep add table-tuned, sweep-grid.csv and the sweep heatmaps (figure-sweep-*)."))
        return kExitOk;
    if (!args.positional().empty()) throw Error("losslab-cli report: unexpected argument '" + args.positional()[0] + "'");
    const auto out = args.value("out");
    if (!out) throw Error("losslab-cli report: --out DIR is required");
    ReportRequest request;
    request.outDir = *out;
    request.experiments = args.values("experiment");
    request.split = args.value("split").value_or("test");
    if (const auto f = args.value("formats")) {
        const auto formats = splitCommaList(*f, {"csv", "md", "tex"}, "--formats");
        request.csv = std::count(formats.begin(), formats.end(), "csv") > 0;
        request.markdown = std::count(formats.begin(), formats.end(), "md") > 0;
        request.latex = std::count(formats.begin(), formats.end(), "tex") > 0;
    }
    std::vector<std::string> figures = {"png", "svg", "pdf"};
    if (const auto f = args.value("figures")) figures = *f == "none" ? std::vector<std::string>{} : splitCommaList(*f, {"png", "svg", "pdf"}, "--figures");

    const std::string path = args.value("db").value_or(RunStore::defaultPath());
    if (!fs::exists(path)) throw Error("losslab-cli report: no database at " + path + " (run an experiment first, or pass --db FILE)");
    TaskRegistry registry;
    loadTasks(registry, false);
    const std::unique_ptr<RunStore> opened = RunStore::openForReading(path); // changes nothing
    RunStore& store = *opened;
    writeFullReport(store, request, registry, figures);
    return kExitOk;
}

int runExportCommand(const std::vector<std::string>& argv) {
    Args args({{"db", true, false, "FILE", "database (default: " + RunStore::defaultPath() + ")"},
               {"experiment", true, true, "NAME", "experiment name (its latest run) or NAME#ID; default: the latest of every name"},
               {"format", true, false, "FORMAT", "tensorboard (default) or mlflow"},
               {"out", true, false, "DIR", "tensorboard: folder to write into (created if missing); TensorBoard's --logdir"},
               {"tracking-uri", true, false, "URI", "mlflow: the tracking server, http(s)://HOST:PORT (default: $MLFLOW_TRACKING_URI)"}},
              "losslab-cli export");
    if (!parseOrHelp(args, argv,
                     "Usage: losslab-cli export [--db FILE] [--experiment NAME]... --out DIR [--format tensorboard]\n"
                     "       losslab-cli export [--db FILE] [--experiment NAME]... --format mlflow [--tracking-uri URI]\n\n"
                     "tensorboard: writes every run of the selected experiments as TensorBoard event files, one folder\n"
                     "per run: DIR/EXPERIMENT#ID/TASK/LOSS/PROTOCOL/seedN. Each holds the run's epoch metrics (val/acc,\n"
                     "test/loss, ...), its step metrics (step/train_loss, step/lr), the metrics at the reported epoch\n"
                     "(reported/test/acc, ...), its settings as text and as HParams (seeds grouped).\n"
                     "Exporting again replaces the files; view them with: tensorboard --logdir DIR\n\n"
                     "mlflow: sends the runs to an MLflow tracking server (mlflow server --backend-store-uri\n"
                     "sqlite:///mlflow.db), one MLflow experiment per EXPERIMENT#ID, one MLflow run per run, with the\n"
                     "same metrics, the settings as params, and tags. Exporting again sends only what the server\n"
                     "lacks. Credentials: MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and _PASSWORD;\n"
                     "MLFLOW_HTTP_REQUEST_TIMEOUT (seconds, default 120) and MLFLOW_HTTP_REQUEST_MAX_RETRIES (default 2)."))
        return kExitOk;
    if (!args.positional().empty()) throw Error("losslab-cli export: unexpected argument '" + args.positional()[0] + "'");
    const std::string format = args.value("format").value_or("tensorboard");
    if (format != "tensorboard" && format != "mlflow") throw Error("--format: expected tensorboard or mlflow, got '" + format + "'");
    const auto out = args.value("out");
    if (format == "tensorboard" && !out) throw Error("losslab-cli export: --out DIR is required");
    if (format == "tensorboard" && args.value("tracking-uri")) throw Error("losslab-cli export: --tracking-uri is for --format mlflow");
    if (format == "mlflow" && out) throw Error("losslab-cli export: --out is for --format tensorboard; MLflow takes --tracking-uri");
    const std::string path = args.value("db").value_or(RunStore::defaultPath());
    if (!fs::exists(path)) throw Error("losslab-cli export: no database at " + path + " (run an experiment first, or pass --db FILE)");
    if (format == "mlflow") {
        const mlflow::ServerOptions server = mlflow::serverOptionsFromEnvironment(args.value("tracking-uri").value_or(""));
        const std::unique_ptr<mlflow::Connection> connection = mlflow::connectHttp(server);
        const std::unique_ptr<RunStore> opened = RunStore::openForReading(path); // changes nothing
        RunStore& store = *opened;
        MlflowExportRequest request;
        request.experiments = args.values("experiment");
        request.progress = [](const std::string& line) { std::cout << "  " << line << std::endl; };
        std::cout << "Sending runs to MLflow at " << server.trackingUri << ":" << std::endl;
        const MlflowExportResult result = exportMlflow(store, request, *connection);
        const int runs = result.created + result.appended + result.unchanged + result.replaced;
        std::cout << "Exported " << runs << " run(s) of " << result.experiments << " experiment(s) to MLflow at " << server.trackingUri
                  << ": " << result.created << " created, " << result.appended << " appended, " << result.unchanged << " unchanged, "
                  << result.replaced << " replaced; " << result.points << " metric point(s) sent"
                  << (result.duplicates > 0 ? "; " + std::to_string(result.duplicates) + " duplicate MLflow run(s) moved to MLflow's trash" : "")
                  << ".\n";
        for (const auto& experiment : result.mlflowExperiments) std::cout << "MLflow experiment: " << experiment << "\n";
        if (result.notStarted > 0)
            std::cerr << "losslab-cli export: note: " << result.notStarted << " run(s) not started yet have nothing to export\n";
        return kExitOk;
    }
    const std::unique_ptr<RunStore> opened = RunStore::openForReading(path); // changes nothing
    RunStore& store = *opened;
    TensorBoardExportRequest request;
    request.experiments = args.values("experiment");
    request.outDir = *out;
    const TensorBoardExportResult result = exportTensorBoard(store, request);
    std::cout << "Exported " << result.runs << " run(s) of " << result.experiments << " experiment(s) to " << *out
              << " as TensorBoard event files:\n";
    for (const auto& dir : result.runDirs) std::cout << "  " << dir << "\n";
    if (result.notStarted > 0)
        std::cerr << "losslab-cli export: note: " << result.notStarted << " run(s) not started yet have nothing to export\n";
    std::cout << "View them with: tensorboard --logdir " << shellWord(*out) << "\n";
    return kExitOk;
}

} // namespace losslab::cli

namespace losslab::cli {

int runResumeCommand(const std::vector<std::string>& argv) {
    Args args({{"db", true, false, "FILE", "database (default: " + RunStore::defaultPath() + ")"},
               {"all", false, false, "", "every interrupted run in the database"},
               {"device", true, false, "DEV", "auto, cpu, cuda or cuda:N (default: the run's own)"},
               {"quiet", false, false, "", "print only the final counts and failures"}},
              "losslab-cli resume");
    if (!parseOrHelp(args, argv,
                     "Usage: losslab-cli resume [--db FILE] (RUN_ID... | --all)\n\n"
                     "Continues interrupted (or cancelled) runs from the checkpoint written after their last\n"
                     "finished epoch; a run killed during its first epoch starts again. The finished epochs\n"
                     "stay as they are; the results equal those of an uninterrupted run (on the CPU)."))
        return kExitOk;
    const std::string path = args.value("db").value_or(RunStore::defaultPath());
    if (!fs::exists(path)) throw Error("losslab-cli resume: no database at " + path);
    std::vector<std::int64_t> ids;
    for (const auto& p : args.positional()) {
        try {
            std::size_t used = 0;
            ids.push_back(std::stoll(p, &used));
            if (used != p.size()) throw std::invalid_argument(p);
        } catch (const std::exception&) {
            throw Error("losslab-cli resume: expected run ids (numbers), got '" + p + "'");
        }
    }
    if (ids.empty() == !args.flag("all"))
        throw Error("losslab-cli resume: give run ids or --all, not both and not neither");
    TaskRegistry registry;
    loadTasks(registry, false);
    configureProcess(); // as in run: before the database is opened
    RunStore store(path);
    const int orphans = store.markOrphansInterrupted();
    if (orphans > 0) std::cerr << "losslab-cli: " << orphans << " run(s) left by a process that ended are now 'interrupted'\n";
    if (args.flag("all")) {
        RunFilter filter;
        filter.status = "interrupted";
        for (const auto& r : store.runs(filter)) ids.push_back(r.id);
        if (ids.empty()) {
            std::cout << "No interrupted runs in " << path << "\n";
            return kExitOk;
        }
    }
    RunQueueOptions options;
    options.device = args.value("device").value_or("");
    RunQueue queue(store, registry, options);
    const RunQueueResult result = watchRuns(queue, static_cast<int>(ids.size()), args.flag("quiet"), [&] {
        queue.resume(ids);
        std::cerr << "losslab-cli: resuming " << ids.size() << " run(s), database " << store.path() << "\n";
    });
    return exitStatus(result);
}

} // namespace losslab::cli
