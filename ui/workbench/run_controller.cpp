#include "run_controller.h"

#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "losslab/error.h"
#include "losslab/store/run_store.h"

namespace losslab {

namespace {

// Training yields the CPU to the event loop. Measured on 2 cores with 5 runs training and
// the live curves open (docs/benchmarks.md): longest event-loop stall 35 ms at equal
// priority, 16-17 ms at nice 10, 13 ms at 15, 11 ms at 19; the runs reported as many events
// either way (nice only matters while the GUI thread wants the CPU).
RunQueueOptions withGuiPriority(RunQueueOptions options) {
    if (options.workerNiceIncrement == 0) options.workerNiceIncrement = 19;
    return options;
}

// "#3-#7" for consecutive ids (what RunQueue::start stores), else "#3, #5".
std::string idRange(const std::vector<std::int64_t>& ids) {
    if (ids.empty()) return "none";
    bool consecutive = true;
    for (std::size_t i = 1; i < ids.size(); ++i) consecutive = consecutive && ids[i] == ids[i - 1] + 1;
    if (ids.size() == 1) return "#" + std::to_string(ids.front());
    if (consecutive) return "#" + std::to_string(ids.front()) + "-#" + std::to_string(ids.back());
    std::string out;
    for (std::int64_t id : ids) out += (out.empty() ? "#" : ", #") + std::to_string(id);
    return out;
}

} // namespace

// One batch: what to do, its thread, and the state the thread shares with the GUI thread.
// Everything below `mutex` is guarded by it.
struct RunController::Batch {
    enum class Kind { Start, Resume };
    Kind kind = Kind::Start;
    ExperimentSpec experiment;
    std::vector<std::int64_t> resumeIds;
    RunQueueOptions options;
    QString label;
    std::thread thread;

    std::mutex mutex;
    std::vector<RunEvent> events;
    std::vector<RunRecord> planned;
    bool plannedReady = false;     // set by the batch thread once the runs are stored
    bool plannedDelivered = false; // runsPlanned emitted: events may follow
    RunQueue* queue = nullptr;     // valid while set; cancels go through it
    bool queueStarted = false;     // start()/resume() returned: cancel() is safe now
    bool cancelAll = false;
    bool interrupt = false; // with cancelAll: store the runs `interrupted`
    std::vector<std::int64_t> cancels; // asked for before the queue had started
    RunQueueResult result;
    std::string failure;
};

RunController::RunController(RunStore& store, const TaskRegistry& tasks, QObject* parent)
    : QObject(parent), m_store(store), m_tasks(tasks) {
    m_flushTimer.setSingleShot(true);
    m_flushTimer.setInterval(40);
    connect(&m_flushTimer, &QTimer::timeout, this, &RunController::flushEvents);
}

RunController::~RunController() {
    cancelAll();
    if (m_running && m_running->thread.joinable()) m_running->thread.join();
}

void RunController::start(const ExperimentSpec& experiment, const RunQueueOptions& options) {
    auto batch = std::make_unique<Batch>();
    batch->kind = Batch::Kind::Start;
    batch->experiment = experiment;
    batch->options = withGuiPriority(options);
    batch->label = QString::fromStdString(experiment.name);
    m_waiting.push_back(std::move(batch));
    if (!m_running) startNextBatch();
}

void RunController::resume(const std::vector<std::int64_t>& runIds, const RunQueueOptions& options) {
    auto batch = std::make_unique<Batch>();
    batch->kind = Batch::Kind::Resume;
    batch->resumeIds = runIds;
    batch->options = withGuiPriority(options);
    batch->label = tr("resume of %n run(s)", nullptr, static_cast<int>(runIds.size()));
    m_waiting.push_back(std::move(batch));
    if (!m_running) startNextBatch();
}

void RunController::cancel(std::int64_t runId) {
    if (!m_running) return;
    std::lock_guard<std::mutex> lock(m_running->mutex);
    if (m_running->queue && m_running->queueStarted) {
        m_running->queue->cancel(runId);
    } else {
        m_running->cancels.push_back(runId);
    }
}

void RunController::cancelAll() { stopAll(false); }

void RunController::interruptAll() { stopAll(true); }

void RunController::stopAll(bool interrupt) {
    m_waiting.clear(); // never started: nothing of them is stored
    if (!m_running) return;
    std::lock_guard<std::mutex> lock(m_running->mutex);
    m_running->cancelAll = true;
    m_running->interrupt = m_running->interrupt || interrupt;
    if (m_running->queue && m_running->queueStarted) {
        if (interrupt) {
            m_running->queue->interruptAll();
        } else {
            m_running->queue->cancelAll();
        }
    }
}

bool RunController::isBusy() const { return m_running || !m_waiting.empty(); }

int RunController::queuedBatches() const { return static_cast<int>(m_waiting.size()); }

void RunController::setFlushInterval(int milliseconds) { m_flushTimer.setInterval(milliseconds); }

void RunController::startNextBatch() {
    if (m_waiting.empty()) {
        emit idle();
        return;
    }
    m_running = std::move(m_waiting.front());
    m_waiting.erase(m_waiting.begin());
    Batch* batch = m_running.get();
    emit batchStarted(batch->label);

    batch->thread = std::thread([this, batch] {
        // Called on the queue's worker threads: keep it short, never block on the GUI.
        auto observe = [this, batch](const RunEvent& event) {
            bool wake = false;
            {
                std::lock_guard<std::mutex> lock(batch->mutex);
                wake = batch->events.empty();
                batch->events.push_back(event);
            }
            if (wake) QMetaObject::invokeMethod(this, &RunController::armFlush, Qt::QueuedConnection);
        };
        try {
            RunQueue queue(m_store, m_tasks, batch->options);
            queue.addObserver(observe);
            {
                std::lock_guard<std::mutex> lock(batch->mutex);
                if (batch->cancelAll) throw Error("cancelled before it started\n\nNo run was stored.");
                batch->queue = &queue;
            }
            RunQueueResult started;
            try {
                started = batch->kind == Batch::Kind::Start ? queue.start(batch->experiment)
                                                            : queue.resume(batch->resumeIds);
            } catch (const std::exception& e) {
                throw Error(std::string(e.what()) + (batch->kind == Batch::Kind::Start ? "\n\nNo run was stored."
                                                                                       : "\n\nNo run was resumed."));
            }
            RunFilter filter;
            filter.runIds = started.runIds;
            std::vector<RunRecord> records;
            try {
                records = m_store.runs(filter);
            } catch (const std::exception& e) {
                // The runs are stored and training, but the window cannot show them: stop them
                // where they can be resumed rather than train runs nobody sees.
                queue.interruptAll();
                queue.wait();
                throw Error(std::to_string(started.runIds.size()) + " run(s) were stored (" + idRange(started.runIds) +
                            ") but could not be read back: " + e.what() +
                            "\n\nThey were stopped and are stored as interrupted: resume them from the Runs tab "
                            "once the database can be read.");
            }
            {
                std::lock_guard<std::mutex> lock(batch->mutex);
                batch->planned = std::move(records);
                batch->plannedReady = true;
                batch->queueStarted = true;
                for (std::int64_t id : batch->cancels) queue.cancel(id);
                if (batch->cancelAll && batch->interrupt) {
                    queue.interruptAll();
                } else if (batch->cancelAll) {
                    queue.cancelAll();
                }
            }
            QMetaObject::invokeMethod(this, &RunController::armFlush, Qt::QueuedConnection);
            RunQueueResult result = queue.wait();
            std::lock_guard<std::mutex> lock(batch->mutex);
            batch->queue = nullptr;
            batch->result = std::move(result);
        } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(batch->mutex);
            batch->queue = nullptr;
            batch->failure = e.what();
        } catch (...) {
            std::lock_guard<std::mutex> lock(batch->mutex);
            batch->queue = nullptr;
            batch->failure = "unknown error while running the batch";
        }
        QMetaObject::invokeMethod(this, &RunController::onBatchThreadDone, Qt::QueuedConnection);
    });
}

void RunController::onBatchThreadDone() {
    if (!m_running) return;
    if (m_running->thread.joinable()) m_running->thread.join();
    m_flushTimer.stop();
    flushEvents(); // the last epochs and the Finished events come before batchFinished
    std::unique_ptr<Batch> done = std::move(m_running);
    if (!done->failure.empty()) {
        emit batchFailed(QString::fromStdString(done->failure));
    } else {
        emit batchFinished(done->result);
    }
    startNextBatch();
}

void RunController::armFlush() {
    if (!m_flushTimer.isActive()) m_flushTimer.start();
}

void RunController::flushEvents() {
    if (!m_running) return;
    std::vector<RunRecord> planned;
    std::vector<RunEvent> events;
    bool deliverPlanned = false;
    {
        std::lock_guard<std::mutex> lock(m_running->mutex);
        if (!m_running->plannedDelivered && m_running->plannedReady) {
            planned = std::move(m_running->planned);
            m_running->plannedDelivered = true;
            deliverPlanned = true;
        }
        // Events wait for their runs' rows, so that every receiver knows the run first.
        if (m_running->plannedDelivered) events.swap(m_running->events);
    }
    if (deliverPlanned) emit runsPlanned(planned);
    if (!events.empty()) emit eventsArrived(events);
}

} // namespace losslab
