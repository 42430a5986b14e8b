#pragma once
// RunController: the bridge between the engine's RunQueue and the GUI. Each batch (an
// experiment to start, or runs to resume) runs on its own background thread: preflight,
// storing the runs, training and the final flush never touch the GUI thread. Progress comes
// back as plain RunEvents, collected under a lock and handed over in one signal at most
// every flushInterval() ms (default 40 ms: <= 25 repaints a second however fast runs go).
//
// Batches run one after another: start() while a batch is running queues the new one.
//
// Thread rules: create, call and destroy on the GUI thread only; every signal is emitted on
// the GUI thread. The destructor cancels everything and waits for the batch thread (a
// cancelled run stops within one training batch).
#include <QObject>
#include <QString>
#include <QTimer>

#include <cstdint>
#include <memory>
#include <vector>

#include "losslab/runner/run_event.h"
#include "losslab/runner/run_queue.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/records.h"

namespace losslab {

class RunStore;
class TaskRegistry;

class RunController : public QObject {
    Q_OBJECT
public:
    RunController(RunStore& store, const TaskRegistry& tasks, QObject* parent = nullptr);
    ~RunController() override;

    // Queues a batch that stores and trains `experiment`'s runs.
    void start(const ExperimentSpec& experiment, const RunQueueOptions& options = {});
    // Queues a batch that continues interrupted or cancelled runs (RunQueue::resume).
    void resume(const std::vector<std::int64_t>& runIds, const RunQueueOptions& options = {});

    void cancel(std::int64_t runId); // the run stops within one batch and is stored `cancelled`
    void cancelAll();                // the running batch and every queued one
    // Like cancelAll(), but the stopped runs are stored `interrupted` (RunQueue::interruptAll):
    // for closing the window; Run > Resume interrupted runs continues them.
    void interruptAll();

    bool isBusy() const;       // a batch is running or queued
    int queuedBatches() const; // batches waiting behind the running one
    int flushInterval() const { return m_flushTimer.interval(); }
    void setFlushInterval(int milliseconds);

signals:
    void batchStarted(const QString& label);
    // The batch's runs as stored (all queued), delivered before any of their events.
    void runsPlanned(const std::vector<losslab::RunRecord>& runs);
    // Events since the last delivery, in the order the workers sent them.
    void eventsArrived(const std::vector<losslab::RunEvent>& events);
    void batchFinished(const losslab::RunQueueResult& result);
    // The batch could not start (bad device, missing data, database error), or its runs were
    // stored but could not be read back, and were stopped as `interrupted`. `message` names the
    // file / key / device and what was expected, and ends with what was stored.
    void batchFailed(const QString& message);
    void idle(); // nothing running or queued any more

private:
    struct Batch;

    void stopAll(bool interrupt);
    void startNextBatch();
    void onBatchThreadDone();
    void flushEvents();
    void armFlush();

    RunStore& m_store;
    const TaskRegistry& m_tasks;
    std::vector<std::unique_ptr<Batch>> m_waiting;
    std::unique_ptr<Batch> m_running;
    QTimer m_flushTimer;
};

} // namespace losslab
