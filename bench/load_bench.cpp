// losslab-bench-load: eight runs training at once in one process, through the engine's own
// RunQueue and RunStore, while other processes read the same database.
//
//   - 8 CPU worker threads (runner.cpu_runs 8, runner.threads 1) train fashion_mnist/mlp
//     (hidden [32], 2,000 training examples, 5 epochs) and store a step row after every
//     optimiser step (train.log_every_steps 1), to load the single writer thread.
//   - An observer counts what the runs reported: the metrics of every Epoch event and one
//     row per Step event. After wait(), the rows in epoch_metrics and step_metrics of each
//     run must equal those counts: no row lost, none collapsed into another.
//   - Meanwhile a reader thread starts `losslab-cli list` and `losslab-cli report
//     --figures none` on the same file as child processes, one after the other with ~200 ms
//     between them, and counts failures (any non-zero exit; "database is locked" separately).
//     `losslab-cli --version` takes turns with them as a control: the same program started
//     the same way without a database, so its wall time is the cost of starting under load.
//     A second thread opens its own RunStore on the file every ~200 ms, reads every run and
//     epoch row, and closes it; its failures are counted the same way.
//   - RunStore exposes no queue depth, so the writer's back-pressure is measured from the
//     observer's side: the trainer calls appendSteps / appendEpoch / flush() between an
//     epoch's last Step event and the next epoch's first one, so the gaps around epoch ends
//     hold the store's latency (plus evaluation and the resume checkpoint), while the gaps
//     between Step events inside an epoch hold no store call at all.
//
// It measures; it does not pass or fail on time. A count mismatch prints MISMATCH and exits 1.
// Usage: losslab-bench-load [--runs N] [--max-epochs N] [--limit-train N] [--hidden LIST]
//                           [--reader-ms N] [--cli PATH] [--keep DIR]
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "losslab/error.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task_registry.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kUsage =
    "usage: losslab-bench-load [--runs N] [--max-epochs N] [--limit-train N] [--hidden LIST]\n"
    "                          [--reader-ms N] [--cli PATH] [--keep DIR]\n"
    "  N runs (default 8, an even number: ce and square x N/2 seeds) of fashion_mnist/mlp train\n"
    "  at once on N CPU worker threads of one process; child processes run losslab-cli list,\n"
    "  report and (as a control) --version, and a second RunStore in this process reads the\n"
    "  same database, every --reader-ms (default 200). Prints rows reported vs stored, reader\n"
    "  failures and timings; MISMATCH (exit 1) when rows were lost or merged.\n"
    "  --keep DIR keeps the database there (default: a temporary folder, removed).\n";

struct Options {
    int runs = 8;
    int maxEpochs = 5;
    int limitTrain = 2000;
    std::string hidden = "[32]";
    int readerMs = 200;
    std::string cli;
    std::string keep;
};

int parseInt(const std::string& flag, const std::string& text, int min) {
    std::size_t used = 0;
    long v = 0;
    try {
        v = std::stol(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || v < min || v > 1000000)
        throw losslab::Error(flag + ": expected an integer >= " + std::to_string(min) + ", got '" + text + "'");
    return static_cast<int>(v);
}

std::string exeDir() {
    std::error_code ec;
    const fs::path p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string(".") : p.parent_path().string();
}

Options parseOptions(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            std::cout << kUsage;
            std::exit(0);
        }
        if (i + 1 >= argc) throw losslab::Error("unknown option or missing value: " + a + "\n" + kUsage);
        const std::string v = argv[++i];
        if (a == "--runs") o.runs = parseInt(a, v, 2);
        else if (a == "--max-epochs") o.maxEpochs = parseInt(a, v, 1);
        else if (a == "--limit-train") o.limitTrain = parseInt(a, v, 1);
        else if (a == "--hidden") o.hidden = v;
        else if (a == "--reader-ms") o.readerMs = parseInt(a, v, 1);
        else if (a == "--cli") o.cli = v;
        else if (a == "--keep") o.keep = v;
        else throw losslab::Error("unknown option " + a + "\n" + kUsage);
    }
    if (o.runs % 2 != 0) throw losslab::Error("--runs: expected an even number (ce and square per seed)");
    if (o.cli.empty()) o.cli = exeDir() + "/losslab-cli";
    return o;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// What the observer saw of one run. Gaps are between consecutive events of the run.
struct RunCounts {
    std::int64_t epochEvents = 0;
    std::int64_t epochRows = 0; // sum of Epoch events' metrics.size()
    std::int64_t stepRows = 0;  // one step_metrics row per Step event
    Clock::time_point last{};
    bool lastWasEpoch = false;
    bool seen = false;
    int lastEpoch = 0;
    std::vector<double> inEpochGapsMs;    // Step -> Step of the same epoch: no store call
    std::vector<double> epochEndGapsMs;   // last Step -> Epoch event: evaluation + appendSteps + appendEpoch
    std::vector<double> nextEpochGapsMs;  // Epoch event -> next epoch's first Step: flush() + resume checkpoint
};

class LoadObserver {
public:
    void onEvent(const losslab::RunEvent& e) {
        if (e.kind != losslab::RunEvent::Kind::Step && e.kind != losslab::RunEvent::Kind::Epoch) return;
        const Clock::time_point now = Clock::now();
        std::lock_guard<std::mutex> lock(m_mutex);
        RunCounts& c = m_runs[e.runId];
        if (e.kind == losslab::RunEvent::Kind::Epoch) {
            ++c.epochEvents;
            c.epochRows += static_cast<std::int64_t>(e.metrics.size());
            if (c.seen && !c.lastWasEpoch) c.epochEndGapsMs.push_back(ms(now - c.last));
            c.lastWasEpoch = true;
        } else {
            ++c.stepRows;
            if (c.seen && c.lastWasEpoch) c.nextEpochGapsMs.push_back(ms(now - c.last));
            else if (c.seen && c.lastEpoch == e.epoch) c.inEpochGapsMs.push_back(ms(now - c.last));
            c.lastWasEpoch = false;
            c.lastEpoch = e.epoch;
        }
        c.last = now;
        c.seen = true;
    }
    std::map<std::int64_t, RunCounts> snapshot() const {
        std::lock_guard<std::mutex> lock(m_mutex);
        return m_runs;
    }

private:
    mutable std::mutex m_mutex;
    std::map<std::int64_t, RunCounts> m_runs;
};

struct ReaderStats {
    int iterations = 0;  // child processes started
    int failures = 0;    // non-zero exits (or could not start)
    int locked = 0;      // ... whose output says "database is locked"
    // Wall and CPU (user + system) time of each child, per command: list, report, and
    // `--version` as the control (the same program started the same way, no database).
    std::vector<double> wallMs[3], cpuMs[3];
    std::vector<std::string> firstErrors; // up to 3
};

// Runs `argv` as a child with stdout and stderr into `outFile`; returns its exit status
// (or 128 + signal, or -1 if it could not start) and sets `cpuMs` to its CPU time.
int runChild(const std::vector<std::string>& argv, const std::string& outFile, double& cpuMs) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, outFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return -1;
    int status = 0;
    struct rusage usage {};
    while (::wait4(pid, &status, 0, &usage) < 0)
        if (errno != EINTR) return -1;
    cpuMs = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

constexpr const char* kReaderNames[3] = {"list", "report", "--version"};

// Runs `list`, `report` and `--version` on the database in turn until `stop`, ~readerMs apart.
void readLoop(const Options& o, const std::string& db, const std::string& dir, const std::atomic<bool>& stop,
              ReaderStats& stats) {
    const std::string out = dir + "/reader.out";
    for (int turn = 0; !stop.load(); turn = (turn + 1) % 3) {
        const std::vector<std::string> argv =
            turn == 0 ? std::vector<std::string>{o.cli, "list", "--db", db, "--format", "csv"}
            : turn == 1 ? std::vector<std::string>{o.cli, "report", "--db", db, "--out", dir + "/report", "--formats", "csv",
                                                   "--figures", "none"}
                        : std::vector<std::string>{o.cli, "--version"};
        const auto t0 = Clock::now();
        double cpuMs = 0;
        const int rc = runChild(argv, out, cpuMs);
        stats.wallMs[turn].push_back(ms(Clock::now() - t0));
        stats.cpuMs[turn].push_back(cpuMs);
        if (turn < 2) ++stats.iterations;
        if (rc != 0) {
            ++stats.failures;
            const std::string text = readFile(out);
            if (text.find("database is locked") != std::string::npos) ++stats.locked;
            if (stats.firstErrors.size() < 3)
                stats.firstErrors.push_back(std::string(kReaderNames[turn]) + " exit " + std::to_string(rc) + ": " +
                                            text.substr(0, 300));
        }
        for (int waited = 0; waited < o.readerMs && !stop.load(); waited += 10)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// A second RunStore on the same file in this process, opened, read (runs and every epoch
// row) and closed every ~readerMs: what the GUI or a report does while runs train. Opening
// takes the write lock briefly (schema check), so it contends with the training writer.
struct StoreReaderStats {
    int iterations = 0;
    int failures = 0;
    int locked = 0;
    std::vector<double> openMs, readMs;
    std::vector<std::string> firstErrors; // up to 3
};

void storeReadLoop(const Options& o, const std::string& db, const std::atomic<bool>& stop, StoreReaderStats& stats) {
    while (!stop.load()) {
        ++stats.iterations;
        try {
            const auto t0 = Clock::now();
            losslab::RunStore store(db);
            const auto t1 = Clock::now();
            const auto runs = store.runs({});
            const auto rows = store.epochMetrics({});
            stats.openMs.push_back(ms(t1 - t0));
            stats.readMs.push_back(ms(Clock::now() - t1));
            (void)runs;
            (void)rows;
        } catch (const std::exception& e) {
            ++stats.failures;
            const std::string text = e.what();
            if (text.find("database is locked") != std::string::npos) ++stats.locked;
            if (stats.firstErrors.size() < 3) stats.firstErrors.push_back(text.substr(0, 300));
        }
        for (int waited = 0; waited < o.readerMs && !stop.load(); waited += 10)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

struct Spread {
    double min = 0, median = 0, p99 = 0, max = 0;
    std::size_t n = 0;
};
Spread spread(std::vector<double> v) {
    Spread s;
    s.n = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.median = v[v.size() / 2];
    s.p99 = v[std::min(v.size() - 1, static_cast<std::size_t>(0.99 * static_cast<double>(v.size())))];
    s.max = v.back();
    return s;
}
std::string fmt(double v, int precision = 1) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", precision, v);
    return buf;
}
std::string show(const Spread& s) {
    if (s.n == 0) return "none";
    return "min " + fmt(s.min) + " ms, median " + fmt(s.median) + " ms, p99 " + fmt(s.p99) + " ms, max " + fmt(s.max) + " ms (n=" +
           std::to_string(s.n) + ")";
}

} // namespace

int main(int argc, char** argv) {
    std::string tempDir;
    try {
        const Options o = parseOptions(argc, argv);
        if (!fs::exists(o.cli))
            throw losslab::Error("--cli: no losslab-cli at " + o.cli + " (build the losslab_cli target, or pass --cli PATH)");
        std::string dir;
        if (o.keep.empty()) {
            char pattern[] = "/tmp/losslab-bench-load-XXXXXX";
            if (!::mkdtemp(pattern)) throw losslab::Error("cannot create a temporary folder in /tmp");
            dir = tempDir = pattern;
        } else {
            fs::create_directories(o.keep);
            dir = fs::absolute(o.keep).string();
            fs::remove(dir + "/load.sqlite");
            fs::remove(dir + "/load.sqlite-wal");
            fs::remove(dir + "/load.sqlite-shm");
            fs::remove_all(dir + "/load-checkpoints");
        }
        const std::string db = dir + "/load.sqlite";

        losslab::TaskRegistry registry;
        const losslab::PluginLoadReport plugins = losslab::loadPlugins(registry, losslab::defaultPluginDirs());
        for (const auto& w : plugins.warnings) std::cerr << "losslab-bench-load: warning: " << w << "\n";
        const std::string yaml = "name: load-bench\n"
                                 "task: fashion_mnist/mlp\n"
                                 "device: cpu\n"
                                 "losses: [ce, square]\n"
                                 "protocols: [early_stopping]\n"
                                 "seeds: " + std::to_string(o.runs / 2) + "\n"
                                 "data: {limit_train: " + std::to_string(o.limitTrain) + ", limit_test: 1000}\n"
                                 "train: {max_epochs: " + std::to_string(o.maxEpochs) + ", patience: 1000, log_every_steps: 1}\n"
                                 "model: {hidden: " + o.hidden + "}\n"
                                 "runner: {cpu_runs: " + std::to_string(o.runs) + ", threads: 1}\n";
        const losslab::ExperimentSpec spec = losslab::loadExperimentText(yaml, "load-bench", {}, registry);

        LoadObserver observer;
        ReaderStats reader;
        StoreReaderStats storeReader;
        std::vector<std::int64_t> runIds;
        double wall = 0;
        {
            losslab::RunStore store(db);
            losslab::RunQueue queue(store, registry);
            queue.addObserver([&observer](const losslab::RunEvent& e) { observer.onEvent(e); });
            std::atomic<bool> stop{false};
            const auto t0 = Clock::now();
            const losslab::RunQueueResult started = queue.start(spec); // preflight loads the data first
            runIds = started.runIds;
            std::thread readerThread([&] { readLoop(o, db, dir, stop, reader); });
            std::thread storeReaderThread([&] { storeReadLoop(o, db, stop, storeReader); });
            const losslab::RunQueueResult result = queue.wait();
            wall = seconds(Clock::now() - t0);
            stop = true;
            readerThread.join();
            storeReaderThread.join();
            std::cout << "losslab-bench-load: " << runIds.size() << " runs of fashion_mnist/mlp, hidden " << o.hidden
                      << ", limit_train " << o.limitTrain << ", " << o.maxEpochs << " epochs, log_every_steps 1, "
                      << "runner.cpu_runs " << o.runs << " x 1 thread, " << std::thread::hardware_concurrency()
                      << " cores\n"
                      << "  runs: " << result.completed << " completed, " << result.diverged << " diverged, "
                      << result.failed << " failed, " << result.cancelled << " cancelled\n";
        }

        // Compare with a fresh store (the one above drained its queue when it closed).
        losslab::RunStore check(db);
        const auto seen = observer.snapshot();
        bool mismatch = false;
        std::int64_t epochsSeen = 0, epochExpected = 0, epochFound = 0, stepExpected = 0, stepFound = 0;
        std::vector<double> inEpoch, epochEnd, nextEpoch;
        std::ostringstream perRun;
        for (const auto& r : check.runs({})) {
            const auto it = seen.find(r.id);
            const RunCounts c = it == seen.end() ? RunCounts{} : it->second;
            const auto eRows = static_cast<std::int64_t>(check.epochMetrics({r.id}).size());
            const auto sRows = static_cast<std::int64_t>(check.stepMetrics(r.id).size());
            const bool bad = eRows != c.epochRows || sRows != c.stepRows || r.epochs != c.epochEvents;
            mismatch = mismatch || bad;
            perRun << "    run " << r.id << " " << r.lossName << " seed " << r.seed << ": " << runStatusName(r.status)
                   << ", epochs " << r.epochs << " stored / " << c.epochEvents << " reported; epoch rows " << eRows
                   << " / " << c.epochRows << "; step rows " << sRows << " / " << c.stepRows << (bad ? "   <-- MISMATCH" : "")
                   << "\n";
            epochsSeen += c.epochEvents;
            epochExpected += c.epochRows;
            epochFound += eRows;
            stepExpected += c.stepRows;
            stepFound += sRows;
            inEpoch.insert(inEpoch.end(), c.inEpochGapsMs.begin(), c.inEpochGapsMs.end());
            epochEnd.insert(epochEnd.end(), c.epochEndGapsMs.begin(), c.epochEndGapsMs.end());
            nextEpoch.insert(nextEpoch.end(), c.nextEpochGapsMs.begin(), c.nextEpochGapsMs.end());
        }
        if (check.runs({}).size() != seen.size()) mismatch = true;

        std::cout << "  epochs: " << epochsSeen << " (Epoch events)\n"
                  << "  epoch_metrics rows: " << epochFound << " found / " << epochExpected << " expected\n"
                  << "  step_metrics rows: " << stepFound << " found / " << stepExpected << " expected\n"
                  << perRun.str()
                  << "  readers (child processes on the same file, ~" << o.readerMs << " ms apart): " << reader.iterations
                  << " list/report iterations, " << reader.failures << " failed, " << reader.locked
                  << " with 'database is locked'\n";
        for (int i = 0; i < 3; ++i)
            std::cout << "    " << kReaderNames[i] << (i == 2 ? " (control, no database)" : "") << " wall: "
                      << show(spread(reader.wallMs[i])) << "; CPU median " << fmt(spread(reader.cpuMs[i]).median) << " ms\n";
        for (const auto& e : reader.firstErrors) std::cout << "    failure: " << e << "\n";
        std::cout << "  in-process reader (its own RunStore on the file, opened and closed every ~" << o.readerMs
                  << " ms): " << storeReader.iterations << " iterations, " << storeReader.failures << " failed, "
                  << storeReader.locked << " with 'database is locked'\n"
                  << "    open: " << show(spread(storeReader.openMs)) << "\n"
                  << "    read runs + all epoch rows: " << show(spread(storeReader.readMs)) << "\n";
        for (const auto& e : storeReader.firstErrors) std::cout << "    failure: " << e << "\n";
        std::cout << "  observer-side gaps between a run's events (the store exposes no queue depth):\n"
                  << "    Step -> Step in an epoch (no store call): " << show(spread(inEpoch)) << "\n"
                  << "    last Step -> Epoch (evaluation, appendSteps, appendEpoch): " << show(spread(epochEnd)) << "\n"
                  << "    Epoch -> next epoch's first Step (flush() until committed, resume checkpoint): "
                  << show(spread(nextEpoch)) << "\n"
                  << "  wall time: " << fmt(wall, 2) << " s from start() to wait() returning (data preflight included)\n";
        if (mismatch) {
            std::cout << "\n*** MISMATCH: rows reported by the runs differ from the rows in " << db << " ***\n";
            if (!tempDir.empty()) std::cout << "(kept for inspection)\n";
            return 1;
        }
        if (!tempDir.empty()) fs::remove_all(tempDir);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "losslab-bench-load: error: " << e.what() << "\n";
        if (!tempDir.empty()) {
            std::error_code ec;
            fs::remove_all(tempDir, ec);
        }
        return 2;
    }
}
