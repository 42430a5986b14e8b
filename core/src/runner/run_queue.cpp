#include "losslab/runner/run_queue.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <c10/util/Exception.h>

#include "losslab/error.h"
#include "losslab/report/report_table.h"
#include "losslab/spec/file_digest.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/task.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/compute_setup.h"
#include "losslab/training/trainer.h"
#include "../tasks/task_contract.h"

namespace losslab {

using Internal::checkSplit;
using Internal::taskName;

std::vector<std::string> planDeviceSlots(const std::string& device, int cudaCount, const RunQueueOptions& options) {
    std::vector<std::string> devices;
    if (device == "cpu" || (device == "auto" && cudaCount == 0)) {
        for (int i = 0; i < std::max(1, options.cpuSlots); ++i) devices.push_back("cpu");
        return devices;
    }
    if (device == "auto" || device == "cuda") {
        if (cudaCount == 0)
            throw Error("device 'cuda' was asked for, but this LibTorch sees no CUDA device "
                        "(Debian's libtorch is CPU-only; use --device cpu, or a CUDA build: see README, 'Building with CUDA')");
        for (int i = 0; i < std::max(1, options.runsPerDevice); ++i)
            for (int d = 0; d < cudaCount; ++d) devices.push_back("cuda:" + std::to_string(d));
        return devices;
    }
    if (device.rfind("cuda:", 0) == 0) {
        int index = -1;
        try {
            index = std::stoi(device.substr(5));
        } catch (const std::exception&) {
        }
        if (index < 0) throw Error("device '" + device + "': expected cuda:N with N a device number");
        if (index >= cudaCount)
            throw Error("device '" + device + "' was asked for, but this LibTorch sees " + std::to_string(cudaCount) +
                        " CUDA device(s)" + (cudaCount ? " (cuda:0 to cuda:" + std::to_string(cudaCount - 1) + ")" : ""));
        for (int i = 0; i < std::max(1, options.runsPerDevice); ++i) devices.push_back(device);
        return devices;
    }
    throw Error("device '" + device + "': expected auto, cpu, cuda or cuda:N");
}

std::vector<std::string> resolveDeviceSlots(const std::string& device, const RunQueueOptions& options) {
    return planDeviceSlots(device, cudaAvailable() ? cudaDeviceCount() : 0, options);
}

namespace {
void preflightPoint(const std::string& taskId, const ParamSet& params, const TaskRegistry& tasks,
                    const DataContext& dataContext);
} // namespace

void preflightExperiment(const ExperimentSpec& experiment, const TaskRegistry& tasks, const std::string& device,
                         const DataContext& dataContext) {
    RunQueueOptions options;
    resolveDeviceSlots(device, options);
    // Every point of a sweep over data.* or model.* keys is checked: a bad point found after
    // hours of others would fail late.
    std::set<std::string> checked;
    for (const ParamSet& params : experiment.gridParams()) {
        std::string key;
        for (const auto& [k, v] : params.values()) key += k + "=" + v + "\n";
        if (checked.insert(key).second) preflightPoint(experiment.taskId, params, tasks, dataContext);
    }
}

namespace {

// Calls a task's code for the preflight. A losslab::Error stands as it is (it names what it
// needs to); anything else a plugin throws becomes one that names the task and what it was doing.
template <class Call>
auto callTask(const TaskInfo& info, const std::string& doing, Call&& call) -> decltype(call()) {
    try {
        return call();
    } catch (const Error&) {
        throw;
    } catch (const c10::Error& e) {
        throw Error(taskName(info) + ": " + doing + ": " + e.what_without_backtrace());
    } catch (const std::exception& e) {
        throw Error(taskName(info) + ": " + doing + ": " + e.what());
    } catch (...) {
        throw Error(taskName(info) + ": " + doing + ": an exception that is not a std::exception");
    }
}

void preflightPoint(const std::string& taskId, const ParamSet& params, const TaskRegistry& tasks,
                    const DataContext& dataContext) {
    const auto task = tasks.require(taskId);
    const TaskInfo& info = tasks.requireInfo(taskId); // with the plugin's name
    const auto data = callTask(info, "loading its data", [&] { return loadSharedData(*task, params, dataContext); });
    const std::int64_t classes = classCount(info, params);
    // Padded label sequences (plugin API 4) hold kIgnoreLabel at their padding.
    const std::int64_t minLabel = info.paddedLabels ? kIgnoreLabel : 0;
    checkSplit(info, data->source, "training", data->train, classes, minLabel, false);
    checkSplit(info, data->source, "test", data->test, classes, minLabel, false);
    checkSplit(info, data->source, "validation", data->val, classes, minLabel, true);
    // Catches bad model.* values before any run is stored.
    const auto model = callTask(info, "building its model", [&] {
        at::Generator init = makeGenerator(torch::Device(torch::kCPU), 0);
        std::lock_guard<std::mutex> lock(globalGeneratorMutex()); // torch::nn's constructors draw from it
        return task->makeModel(params, init);
    });
    if (!model) throw Error(taskName(info) + ": makeModel returned no model (a null pointer)");
}

} // namespace

namespace {

// `indices` of `all` (all of them when empty), with dependencies renumbered; every run a
// selected run depends on must be selected too.
std::vector<RunSpec> selectRuns(const std::vector<RunSpec>& all, const std::vector<int>& indices) {
    if (indices.empty()) return all;
    std::map<int, int> position;
    std::vector<RunSpec> out;
    for (const int i : indices) {
        if (i < 0 || static_cast<std::size_t>(i) >= all.size())
            throw Error("run index " + std::to_string(i) + " is out of range: the experiment has " +
                        std::to_string(all.size()) + " runs");
        if (!position.emplace(i, static_cast<int>(out.size())).second)
            throw Error("run index " + std::to_string(i) + " is selected twice");
        out.push_back(all[static_cast<std::size_t>(i)]);
    }
    for (auto& r : out) {
        if (r.dependsOn < 0) continue;
        const auto it = position.find(r.dependsOn);
        if (it == position.end())
            throw Error("the selected runs depend on run " + std::to_string(r.dependsOn) +
                        ", which is not selected (select whole independent units)");
        r.dependsOn = it->second;
    }
    return out;
}

// A read-only store cannot take runs: said before anything is made.
void requireWritable(const RunStore& store) {
    if (store.readOnly())
        throw Error(store.path() + " is open read-only (it cannot be written here): its runs can be browsed and "
                    "reported, not trained or resumed; choose a database that can be written");
}

// <db folder>/<db name>-checkpoints, created before anything is stored: every run writes its
// checkpoints there after each epoch, so a folder that cannot be made would otherwise fail
// every run after its first epoch had trained.
void prepareCheckpointFolder(const RunStore& store) {
    const std::string folder = std::filesystem::path(store.checkpointPathFor(0)).parent_path().string();
    if (!folder.empty()) prepareFolder(folder, "the checkpoint folder " + folder + " of the database " + store.path());
}

// runner.reuse_prefix on resume: the completed early-stopping sibling an earlier process
// stored, with what it trained with (copying is exact only with the same).
struct StoredPrefix {
    std::int64_t id = 0;
    int epochs = 0;
    std::string device;
    std::string library;
    int threads = 0;
};

// runner.reuse_prefix may copy a run's epochs only where training is deterministic, the CPU
// (the check at execution time looks at the devices the runs actually trained on), and only
// when the source stores the training-set metrics of every epoch.
bool onlyCpu(const std::vector<std::string>& slots) {
    return std::all_of(slots.begin(), slots.end(), [](const std::string& s) { return s == "cpu"; });
}
bool mayReusePrefix(const ParamSet& params) {
    return params.getString("runner.reuse_prefix") == "auto" && params.getString("train.train_metrics") != "at_report";
}

struct PlannedRun {
    RunSpec spec;
    std::string label;
    std::int64_t id = 0;
    RunStatus status = RunStatus::Queued;
    int bestEpoch = 0;    // once final; a resumed run starts with its stored progress
    int epochs = 0;
    double wallSeconds = 0.0; // a resumed run's stored time, kept when it is cancelled before going on
    int prefixFrom = -1;  // runner.reuse_prefix: the run whose first epochs this one may copy
    std::optional<StoredPrefix> storedPrefix; // resumed run: the same, stored by an earlier process
    std::string ranOn;    // the device it trained on, once started
    int knownTarget = 0;  // resumed same_epochs_as_ce run whose CE run finished earlier
    std::string targetProblem; // resumed same_epochs_as_ce run: why its CE run gives no epoch count
    bool resume = false;  // continue from its resume checkpoint
    std::string storedLibrary; // resumed run: what trained its first epochs (empty: not known)
    int storedThreads = 0;     // resumed run: the thread count of its first epochs (0: not known)
    bool taken = false;
    bool finished = false; // its end is recorded: once, whatever happens after
    std::unique_ptr<std::atomic<bool>> cancel = std::make_unique<std::atomic<bool>>(false);
};
} // namespace

struct RunQueue::Impl {
    RunStore& store;
    const TaskRegistry& tasks;
    RunQueueOptions options;
    std::vector<std::function<void(const RunEvent&)>> observers;
    std::vector<PlannedRun> runs;
    std::vector<std::thread> workers;
    std::mutex mutex;
    std::condition_variable changed;
    std::atomic<bool> cancelAll{false};
    std::atomic<bool> interrupting{false}; // interruptAll(): stopped runs are `interrupted`
    std::atomic<bool> observerFailed{false};
    RunQueueResult result;

    Impl(RunStore& s, const TaskRegistry& t, RunQueueOptions o) : store(s), tasks(t), options(std::move(o)) {}

    // An observer only watches: its exception changes nothing about the run, and later
    // observers still see the event. The first failure is logged; a failing observer would
    // otherwise flood the terminal once per step.
    void notify(const RunEvent& e) {
        for (const auto& o : observers) {
            try {
                o(e);
            } catch (const std::exception& error) {
                if (!observerFailed.exchange(true))
                    std::cerr << "losslab: a run observer failed (run #" << e.runId << "): " << error.what()
                              << "; the runs go on\n";
            } catch (...) {
                if (!observerFailed.exchange(true))
                    std::cerr << "losslab: a run observer failed (run #" << e.runId << "); the runs go on\n";
            }
        }
    }

    // The next run whose dependency has finished; nullptr when none is left to take.
    // Sets `wait` when runs remain but all of them wait for a dependency.
    PlannedRun* takeNext(bool& wait) {
        wait = false;
        for (auto& r : runs) {
            if (r.taken) continue;
            const auto waitsFor = [&](int other) { return other >= 0 && !isFinal(runs[static_cast<std::size_t>(other)].status); };
            if (waitsFor(r.spec.dependsOn) || waitsFor(r.prefixFrom)) {
                wait = true;
                continue;
            }
            r.taken = true;
            return &r;
        }
        return nullptr;
    }

    // Records the run's end: stored, counted and announced once. A later call for the same
    // run (a worker's catch-all after the end was recorded) changes nothing.
    void finish(PlannedRun& run, RunStatus status, int epochs, int bestEpoch, double wall, std::string error) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (run.finished) return;
            run.finished = true;
        }
        if (status == RunStatus::Cancelled && interrupting) {
            status = RunStatus::Interrupted;
            error = "stopped when the program closed; resume continues it";
        }
        try {
            store.finishRun(run.id, status, epochs, bestEpoch, wall, error);
        } catch (const std::exception& e) {
            // Still counted and marked final below, or runs that depend on it would wait forever.
            std::cerr << "losslab: run #" << run.id << ": cannot store its end: " << e.what() << "\n";
        }
        {
            std::lock_guard<std::mutex> lock(mutex);
            run.status = status;
            run.bestEpoch = bestEpoch;
            run.epochs = epochs;
            switch (status) {
            case RunStatus::Completed: ++result.completed; break;
            case RunStatus::Diverged: ++result.diverged; break;
            case RunStatus::Cancelled:
            case RunStatus::Interrupted: ++result.cancelled; break; // stopped on request
            default: ++result.failed; break;
            }
        }
        changed.notify_all();
        RunEvent e;
        e.kind = RunEvent::Kind::Finished;
        e.runId = run.id;
        e.epoch = epochs;
        e.bestEpoch = bestEpoch;
        e.status = status;
        e.message = error;
        e.label = run.label;
        notify(e);
    }

    // A database that can no longer be written (disk full, file-size limit) stops the queue:
    // training on without storing would lose every result.
    bool storeFailed() {
        const std::string failure = store.writeFailure();
        if (failure.empty()) return false;
        stopForFailedWrite(result.storeFailure, failure);
        return true;
    }

    // Keeps the first failure of its kind in `field` (of `result`) and cancels every run.
    void stopForFailedWrite(std::string& field, const std::string& failure) {
        std::lock_guard<std::mutex> lock(mutex);
        if (field.empty()) field = failure;
        cancelAll = true;
        for (auto& r : runs) r.cancel->store(true);
    }

    void execute(PlannedRun& run, const std::string& deviceName) {
        if (storeFailed() || cancelAll || *run.cancel) {
            cancelBeforeStart(run);
            return;
        }
        int target = 0;
        if (run.spec.protocol == Protocol::SameEpochsAsCe && run.spec.dependsOn < 0) {
            if (run.knownTarget < 1) {
                // A resumed run keeps what it stored: its epochs stay readable, and failing
                // must not look like having trained nothing.
                finish(run, RunStatus::Failed, run.epochs, run.bestEpoch, run.wallSeconds,
                       run.targetProblem.empty() ? "its cross-entropy run did not complete, so there is no epoch count to match"
                                                 : run.targetProblem);
                return;
            }
            target = run.knownTarget;
        } else if (run.spec.protocol == Protocol::SameEpochsAsCe) {
            const PlannedRun& ce = runs[static_cast<std::size_t>(run.spec.dependsOn)];
            if (ce.status != RunStatus::Completed || ce.bestEpoch < 1) {
                finish(run, RunStatus::Failed, 0, 0, 0.0,
                       "its cross-entropy run #" + std::to_string(ce.id) + " ended as " + runStatusName(ce.status) +
                           ", so there is no epoch count to match");
                return;
            }
            target = ce.bestEpoch;
        } else if (run.spec.protocol == Protocol::FixedEpochs) {
            target = static_cast<int>(run.spec.params.getInt("train.max_epochs"));
        }
        {
            std::lock_guard<std::mutex> lock(mutex);
            run.ranOn = deviceName;
        }
        store.markStarted(run.id, deviceName, target, trainingLibrary(), workerThreads());
        RunEvent started;
        started.kind = RunEvent::Kind::Started;
        started.runId = run.id;
        started.maxEpochs = target > 0 ? target : static_cast<int>(run.spec.params.getInt("train.max_epochs"));
        started.message = deviceName;
        started.label = run.label;
        notify(started);

        if (reusePrefix(run, deviceName, target)) return;

        RunContext ctx;
        ctx.runId = run.id;
        ctx.store = &store;
        ctx.cancel = run.cancel.get();
        ctx.emit = [this](const RunEvent& e) { notify(e); };
        ctx.targetEpochs = target;
        ctx.checkpointPath = store.checkpointPathFor(run.id);
        ctx.resumePath = store.resumePathFor(run.id);
        ctx.resume = run.resume && std::filesystem::exists(ctx.resumePath);
        if (ctx.resume) noteResumedDifferently(run, deviceName);
        const auto task = tasks.require(run.spec.taskId);
        RunOutcome outcome = trainRun(run.spec, *task, torch::Device(deviceName), ctx);
        try {
            // This run's own writes: one that failed means its record is incomplete. Other
            // runs' failed writes are theirs to report.
            store.flushRun(run.id);
        } catch (const Error& e) {
            if (outcome.status != RunStatus::Failed) {
                outcome.status = RunStatus::Failed;
                outcome.error = e.what();
            }
        }
        finish(run, outcome.status, outcome.epochs, outcome.bestEpoch, outcome.wallSeconds, outcome.error);
        // A checkpoint that cannot be written stops the queue as a database that cannot be
        // written does: the other runs would meet the same full disk, and train for nothing.
        if (!outcome.writeFailure.empty()) stopForFailedWrite(result.checkpointFailure, outcome.writeFailure);
        storeFailed();
    }

    // A run resumed under another library, or on the CPU with another thread count, than its
    // first epochs: it goes on (the record keeps what trains it now), but its numbers from here
    // on can differ from an uninterrupted run's, so the user is told.
    void noteResumedDifferently(const PlannedRun& run, const std::string& deviceName) {
        std::string changes;
        if (!run.storedLibrary.empty() && run.storedLibrary != trainingLibrary())
            changes = run.storedLibrary + " before, " + trainingLibrary() + " now";
        const int threads = workerThreads();
        if (deviceName == "cpu" && run.storedThreads > 0 && run.storedThreads != threads)
            changes += (changes.empty() ? "" : "; ") + std::to_string(run.storedThreads) + " CPU thread(s) before, " +
                       std::to_string(threads) + " now";
        if (changes.empty()) return;
        RunEvent e;
        e.kind = RunEvent::Kind::Note;
        e.runId = run.id;
        e.label = run.label;
        e.message = "resumed with other settings than its first epochs (" + changes +
                    "): its numbers from here on can differ from an uninterrupted run's";
        notify(e);
    }

    // A run stopped before it trained (again): a resumed run keeps the progress it has stored,
    // and its resume checkpoint, for a later resume.
    void cancelBeforeStart(PlannedRun& run) {
        finish(run, RunStatus::Cancelled, run.epochs, run.bestEpoch, run.wallSeconds,
               run.resume && run.epochs > 0 ? "cancelled before it went on" : "cancelled before it started");
    }

    // The run whose epochs 1..target `run` may copy instead of training them (0: none), on
    // the CPU, where both train the same numbers bit for bit with the same library and thread
    // count: its sibling in this queue (one process, one thread count), or one an earlier
    // process completed with what this worker trains with.
    std::int64_t prefixSourceFor(const PlannedRun& run, const std::string& deviceName, int target) const {
        if (target < 1 || deviceName != "cpu") return 0;
        if (run.prefixFrom >= 0) {
            const PlannedRun& source = runs[static_cast<std::size_t>(run.prefixFrom)];
            if (source.status != RunStatus::Completed || source.epochs < target || source.ranOn != "cpu") return 0;
            return source.id;
        }
        if (!run.storedPrefix) return 0;
        const StoredPrefix& stored = *run.storedPrefix;
        if (stored.epochs < target || stored.device != "cpu" || stored.library != trainingLibrary() ||
            stored.threads != workerThreads())
            return 0;
        return stored.id;
    }

    // runner.reuse_prefix: a same_epochs_as_ce run takes epochs 1..target of its prefix source
    // (prefixSourceFor). Returns false when it must train.
    bool reusePrefix(PlannedRun& run, const std::string& deviceName, int target) {
        const std::int64_t sourceId = prefixSourceFor(run, deviceName, target);
        if (sourceId == 0) return false;
        if (*run.cancel) { // stopped as it started: it copies nothing, as a trained run would train nothing
            cancelBeforeStart(run);
            return true;
        }
        const auto t0 = std::chrono::steady_clock::now();
        try {
            store.flushRun(sourceId);
            store.copyRunPrefix(sourceId, run.id, target);
            store.flushRun(run.id);
            // The live views see the copied epochs as if they had been trained.
            std::map<int, std::vector<MetricValue>> byEpoch;
            for (const auto& row : store.epochMetrics({run.id})) byEpoch[row.epoch].push_back(row.value);
            for (const auto& [epoch, metrics] : byEpoch) {
                RunEvent e;
                e.kind = RunEvent::Kind::Epoch;
                e.runId = run.id;
                e.epoch = epoch;
                e.maxEpochs = target;
                e.metrics = metrics;
                e.bestEpoch = epoch;
                notify(e);
            }
        } catch (const std::exception& e) {
            finish(run, RunStatus::Failed, 0, 0, 0.0,
                   "cannot copy epochs 1-" + std::to_string(target) + " of run #" + std::to_string(sourceId) + ": " + e.what());
            return true;
        }
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        finish(run, RunStatus::Completed, target, target, wall, "");
        if (run.resume) {
            // Its epochs are now the copied ones: the checkpoint of its own first epochs is stale.
            std::error_code ec;
            std::filesystem::remove(store.resumePathFor(run.id), ec);
        }
        return true;
    }

    // runner.reuse_prefix for resumed runs, as start() decides it for new ones: a square
    // same_epochs_as_ce run copies from its early-stopping sibling when that is resumed beside
    // it, or else when an earlier process completed it (checked against this worker's library
    // and thread count when the run starts).
    void assignResumedPrefixSources(const std::vector<RunRecord>& resumed) {
        RunFilter experiments;
        std::set<std::int64_t> resumedIds;
        for (const auto& r : resumed) {
            resumedIds.insert(r.id);
            if (std::find(experiments.experimentIds.begin(), experiments.experimentIds.end(), r.experimentId) ==
                experiments.experimentIds.end())
                experiments.experimentIds.push_back(r.experimentId);
        }
        std::vector<RunSpec> specs;
        for (const auto& p : runs) specs.push_back(p.spec);
        std::vector<RunRecord> stored;
        for (auto& r : store.runs(experiments)) {
            if (resumedIds.count(r.id) || r.status != RunStatus::Completed || r.protocol != "early_stopping" ||
                r.loss != "square" || !r.reusedFrom.empty())
                continue;
            try {
                specs.push_back(parseRunSpecYaml(r.specYaml, "run #" + std::to_string(r.id), tasks));
            } catch (const std::exception&) {
                continue; // not a source it can be matched with: the run trains itself
            }
            stored.push_back(std::move(r));
        }
        const std::vector<int> from = prefixSources(specs);
        for (std::size_t i = 0; i < runs.size(); ++i) {
            PlannedRun& p = runs[i];
            if (from[i] < 0 || !mayReusePrefix(p.spec.params)) continue;
            const auto j = static_cast<std::size_t>(from[i]);
            if (j < runs.size()) {
                p.prefixFrom = from[i];
                continue;
            }
            const RunRecord& s = stored[j - runs.size()];
            p.storedPrefix = StoredPrefix{s.id, s.epochs, s.device, s.library, s.threads};
        }
    }

    void launch(const std::vector<std::string>& slots, int threadsFromSpec) {
        const int cpuSlots = static_cast<int>(std::count(slots.begin(), slots.end(), std::string("cpu")));
        int threads = options.threadsPerRun > 0 ? options.threadsPerRun : threadsFromSpec;
        if (threads == 0 && cpuSlots > 0) threads = defaultRunThreads(cpuSlots);
        for (const auto& slot : slots) workers.emplace_back([this, slot, threads] { workerLoop(slot, threads); });
    }

    void workerLoop(const std::string& deviceName, int threads) {
        configureWorkerThread(threads, options.workerNiceIncrement);
        for (;;) {
            PlannedRun* run = nullptr;
            {
                std::unique_lock<std::mutex> lock(mutex);
                bool wait = false;
                changed.wait(lock, [&] {
                    run = takeNext(wait);
                    return run != nullptr || !wait;
                });
            }
            if (!run) return;
            try {
                execute(*run, deviceName);
            } catch (const std::exception& e) {
                // A store failure must not take the worker (and the process) down.
                finish(*run, RunStatus::Failed, 0, 0, 0.0, std::string("internal error: ") + e.what());
            }
        }
    }
};

RunQueue::RunQueue(RunStore& store, const TaskRegistry& tasks, RunQueueOptions options)
    : m_impl(std::make_unique<Impl>(store, tasks, std::move(options))) {
    configureProcess();
}

RunQueue::~RunQueue() {
    cancelAll();
    for (auto& w : m_impl->workers)
        if (w.joinable()) w.join();
}

void RunQueue::addObserver(std::function<void(const RunEvent&)> observer) {
    m_impl->observers.push_back(std::move(observer));
}

RunQueueResult RunQueue::start(const ExperimentSpec& experiment) {
    Impl& d = *m_impl;
    const std::string device = d.options.device.empty() ? experiment.device : d.options.device;
    RunQueueOptions slotOptions = d.options;
    slotOptions.runsPerDevice = static_cast<int>(experiment.params.getInt("runner.runs_per_device"));
    slotOptions.cpuSlots = static_cast<int>(experiment.params.getInt("runner.cpu_runs"));
    const std::vector<std::string> slots = resolveDeviceSlots(device, slotOptions);
    preflightExperiment(experiment, d.tasks, device, DataContext{d.store.dataCacheDir()});

    ExperimentRecord rec;
    rec.name = experiment.name;
    rec.description = experiment.description;
    rec.taskId = experiment.taskId;
    rec.specYaml = experiment.toYaml();
    rec.sourcePath = experiment.sourcePath;
    rec.uid = d.options.experimentUid;
    std::vector<RunSpec> specs = selectRuns(experiment.expand(), d.options.runIndices); // may throw: before storing
    addFileDigests(specs); // the bytes of the files the runs read, in their recipes (may throw: before storing)
    const bool cpuOnly = onlyCpu(slots);
    if (!cpuOnly) {
        // TF32 is a process-wide switch of CUDA's libraries: runs training side by side must agree.
        std::set<bool> tf32;
        for (const auto& s : specs) tf32.insert(s.params.getString("train.precision") == "tf32");
        if (tf32.size() > 1)
            throw Error("train.precision: tf32 is a setting of the whole process on CUDA, so one experiment's runs must "
                        "all use it or none; run the tf32 runs as an experiment of their own");
    }
    requireWritable(d.store);
    prepareCheckpointFolder(d.store);
    if (d.options.experimentId == 0) {
        d.result.experimentId = d.store.addExperiment(rec);
    } else {
        const auto stored = d.store.experiments();
        if (std::none_of(stored.begin(), stored.end(), [&](const ExperimentRecord& e) { return e.id == d.options.experimentId; }))
            throw Error("no experiment #" + std::to_string(d.options.experimentId) + " in " + d.store.path() +
                        " to add the runs to");
        d.result.experimentId = d.options.experimentId;
    }

    std::vector<RunRecord> records;
    for (auto& s : specs) {
        s.device = device;
        RunRecord r;
        r.taskId = s.taskId;
        r.lossName = s.loss.name;
        r.loss = lossKindName(s.loss.kind);
        r.k = s.loss.k;
        r.M = s.loss.M;
        r.lr = s.loss.lr;
        r.protocol = protocolName(s.protocol);
        r.seed = s.seed;
        r.device = device;
        if (s.dependsOn >= 0) r.dependsOn = s.dependsOn;
        r.specYaml = s.toYaml();
        records.push_back(std::move(r));
    }
    const std::vector<std::int64_t> ids = d.store.addRuns(d.result.experimentId, records);
    d.result.runIds = ids;
    d.runs.resize(specs.size());
    const std::vector<int> prefixFrom = prefixSources(specs);
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const ParamSet& p = specs[i].params;
        if (cpuOnly && mayReusePrefix(p)) d.runs[i].prefixFrom = prefixFrom[i];
        d.runs[i].spec = specs[i];
        d.runs[i].id = ids[i];
        d.runs[i].label = specs[i].taskId + " " + specs[i].loss.name + " " + protocolName(specs[i].protocol) +
                          " seed " + std::to_string(specs[i].seed);
    }
    for (const auto& r : d.runs)
        if (r.spec.dependsOn >= 0) {
            RunEvent e;
            e.kind = RunEvent::Kind::Waiting;
            e.runId = r.id;
            e.status = RunStatus::Queued;
            e.label = r.label;
            e.message = "waits for run #" + std::to_string(d.runs[static_cast<std::size_t>(r.spec.dependsOn)].id);
            d.notify(e);
        }
    d.launch(slots, static_cast<int>(experiment.params.getInt("runner.threads")));
    return d.result;
}

namespace {

// A run stores the digests of the files its path keys name (files.* in its spec, see
// file_digest.h). Resuming it after such a file changed would train its last epochs on other
// bytes than its first, under the first one's digest: refused, naming the file, before anything
// is stored. A file that is gone is left to the task, which says so when it loads.
void requireUnchangedFiles(const std::vector<RunRecord>& records, const TaskRegistry& tasks) {
    std::map<std::string, std::string> now; // by path: each file read once
    for (const auto& r : records) {
        const std::map<std::string, std::string> stored = storedFileDigests(r.specYaml);
        if (stored.empty()) continue;
        const RunSpec spec = parseRunSpecYaml(r.specYaml, "run #" + std::to_string(r.id), tasks);
        for (const auto& [key, digest] : stored) {
            if (!spec.params.has(key)) continue;
            const std::string& path = spec.params.getString(key);
            std::error_code ec;
            if (path.empty() || !std::filesystem::is_regular_file(path, ec)) continue;
            auto it = now.find(path);
            if (it == now.end()) it = now.emplace(path, fileDigest(path, key)).first;
            if (it->second != digest)
                throw Error("run #" + std::to_string(r.id) + ": " + path + " (" + key + ") has changed since the run started (" +
                            digest + ", now " + it->second + "): resumed, its last epochs would read other bytes than its "
                            "first. Put the file back as it was, or start the run again as a new experiment");
        }
    }
}

} // namespace

RunQueueResult RunQueue::resume(const std::vector<std::int64_t>& runIds) {
    Impl& d = *m_impl;
    if (runIds.empty()) throw Error("nothing to resume: no run ids given");
    RunFilter filter;
    filter.runIds = runIds;
    const std::vector<RunRecord> records = d.store.runs(filter);
    for (const auto id : runIds)
        if (std::none_of(records.begin(), records.end(), [&](const RunRecord& r) { return r.id == id; }))
            throw Error("no run #" + std::to_string(id) + " in " + d.store.path());
    std::map<std::int64_t, std::size_t> index;
    for (const auto& r : records) {
        if (r.status != RunStatus::Interrupted && r.status != RunStatus::Cancelled)
            throw Error("run #" + std::to_string(r.id) + " is " + runStatusName(r.status) +
                        (r.status == RunStatus::Queued || r.status == RunStatus::Running
                             ? " (a live process is training or resuming it)"
                             : "") +
                        "; only interrupted or cancelled runs can be resumed");
        index[r.id] = d.runs.size();
        d.runs.emplace_back();
    }
    requireUnchangedFiles(records, d.tasks);
    requireWritable(d.store);
    prepareCheckpointFolder(d.store);
    std::string device = d.options.device;
    for (const auto& r : records) {
        PlannedRun& p = d.runs[index[r.id]];
        p.spec = parseRunSpecYaml(r.specYaml, "run #" + std::to_string(r.id), d.tasks);
        p.id = r.id;
        p.resume = true;
        p.storedLibrary = r.library;
        p.storedThreads = r.threads;
        p.epochs = r.epochs;
        p.bestEpoch = r.bestEpoch;
        p.wallSeconds = r.wallSeconds;
        p.label = r.taskId + " " + r.lossName + " " + r.protocol + " seed " + std::to_string(r.seed);
        p.spec.dependsOn = -1;
        const auto dep = r.dependsOn ? index.find(*r.dependsOn) : index.end();
        if (dep != index.end()) {
            p.spec.dependsOn = static_cast<int>(dep->second); // resumed beside it
        } else if (p.spec.protocol == Protocol::SameEpochsAsCe) {
            // The epoch count it started towards (stored then: its cross-entropy run may since
            // have been deleted, which leaves depends_on NULL), or that of its CE run, which ended.
            if (r.targetEpochs > 0) {
                p.knownTarget = r.targetEpochs;
            } else if (!r.dependsOn) {
                p.targetProblem = "its cross-entropy run is no longer stored (deleted before this run started), so there "
                                  "is no epoch count to match";
            } else {
                RunFilter one;
                one.runIds = {*r.dependsOn};
                const auto ce = d.store.runs(one);
                if (!ce.empty() && ce.front().status == RunStatus::Completed)
                    p.knownTarget = ce.front().bestEpoch;
                else if (!ce.empty())
                    p.targetProblem = "its cross-entropy run #" + std::to_string(*r.dependsOn) + " ended " +
                                      runStatusName(ce.front().status) + ", so there is no epoch count to match";
            }
        }
        if (device.empty()) device = p.spec.device;
        d.result.runIds.push_back(r.id);
        d.result.experimentId = r.experimentId;
    }
    RunQueueOptions slotOptions = d.options;
    slotOptions.runsPerDevice = static_cast<int>(d.runs.front().spec.params.getInt("runner.runs_per_device"));
    slotOptions.cpuSlots = static_cast<int>(d.runs.front().spec.params.getInt("runner.cpu_runs"));
    const std::vector<std::string> slots = resolveDeviceSlots(device, slotOptions);
    if (onlyCpu(slots)) d.assignResumedPrefixSources(records);
    // Last, once nothing else can refuse: the runs become this process's, so that a second
    // resume (another process, the window) refuses them instead of training them beside these.
    d.store.claimForResume(runIds);
    d.launch(slots, static_cast<int>(d.runs.front().spec.params.getInt("runner.threads")));
    return d.result;
}

RunQueueResult RunQueue::wait() {
    for (auto& w : m_impl->workers)
        if (w.joinable()) w.join();
    try {
        m_impl->store.flush();
    } catch (const Error& e) {
        std::lock_guard<std::mutex> lock(m_impl->mutex);
        if (m_impl->result.storeFailure.empty()) m_impl->result.storeFailure = e.what();
    }
    std::lock_guard<std::mutex> lock(m_impl->mutex);
    return m_impl->result;
}

void RunQueue::cancel(std::int64_t runId) {
    for (auto& r : m_impl->runs)
        if (r.id == runId) r.cancel->store(true);
}

void RunQueue::cancelAll() {
    m_impl->cancelAll = true;
    for (auto& r : m_impl->runs) r.cancel->store(true);
}

void RunQueue::interruptAll() {
    m_impl->interrupting = true;
    cancelAll();
}

bool RunQueue::cancelRequested() const { return m_impl->cancelAll; }

} // namespace losslab
