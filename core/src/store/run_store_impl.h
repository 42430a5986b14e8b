#pragma once
// Private to the store: the state behind RunStore, shared by run_store.cpp (opening, the
// writer thread and the writes) and run_store_reads.cpp (the reads).
//
// Locking: m_readDb only under m_readMutex; m_writeDb only on the writer thread (and in the
// constructor before it starts); m_queue under m_queueMutex; m_pendingErrors and
// m_firstFailure under m_errorMutex.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "losslab/error.h"
#include "losslab/store/run_store.h"
#include "recorder_process.h"
#include "sqlite_db.h"

namespace losslab {

namespace Internal {
// The SQL that selects a run's recorder, and reading it back from `first` on.
constexpr const char* kRecorderColumns = "pid, host, pid_start, boot_id";
inline RecorderProcess readRecorder(const sqlite::Statement& row, int first) {
    RecorderProcess recorder;
    if (!row.isNull(first)) recorder.pid = row.int64(first);
    recorder.host = row.text(first + 1);
    if (!row.isNull(first + 2)) recorder.startTicks = row.int64(first + 2);
    recorder.bootId = row.text(first + 3);
    return recorder;
}
// A queued or running run whose recorder is gone will never finish: it is interrupted.
inline RunStatus effectiveStatus(RunStatus stored, const RecorderProcess& recorder,
                                 const RecorderProcess& self) {
    if (stored != RunStatus::Queued && stored != RunStatus::Running) return stored;
    return recorderIsGone(recorder, self) ? RunStatus::Interrupted : stored;
}
} // namespace Internal

struct RunStore::Impl {
    // The run an unawaited write belongs to, for writes that belong to none (tags, notes).
    static constexpr std::int64_t kNoRun = 0;

    struct Task {
        std::function<void(sqlite::Database&)> work; // runs inside the writer's batch transaction
        // Called after the batch commits (no error) or fails; empty for writes nobody
        // waits on, whose failures are reported by the next flush() and, when they belong
        // to a run, by that run's flushRun().
        std::function<void(const std::optional<std::string>& error)> done;
        std::int64_t runId = kNoRun;
    };

    template <typename T>
    struct Outcome {
        T value{};
        std::optional<std::string> error;
    };

    std::string m_path;
    bool m_readOnly = false; // StoreAccess::ReadOnly: no writer connection or thread
    std::string m_journalNote; // RunStore::journalNote()
    Internal::RecorderProcess m_self; // this process, as recorded on the runs it adds or starts
    // Declared before m_readDb so that the reader closes first and the writer, closing
    // last, can checkpoint the WAL back into the file.
    sqlite::Database m_writeDb;
    sqlite::Database m_readDb;
    mutable std::mutex m_readMutex;

    std::mutex m_queueMutex;
    std::condition_variable m_queueNotEmpty;
    std::condition_variable m_queueNotFull;
    std::deque<Task> m_queue;
    bool m_stopping = false;

    std::mutex m_errorMutex;
    // The first failed unawaited write of each run (kNoRun: of no run) since it was last
    // taken by flush() or flushRun(), in the order they failed.
    std::vector<std::pair<std::int64_t, std::string>> m_pendingErrors;
    // The first write ever that failed because the database could not be written (disk
    // full, I/O error, ...); never cleared. A write refused for its own content (a run that
    // does not exist) fails only that write and is not recorded here.
    std::string m_firstFailure;

    std::thread m_writer;

    ~Impl() { shutdown(); }

    // --- writer side (run_store.cpp) ---
    void shutdown(); // drains the queue, joins the writer, closes both connections
    void push(Task task); // blocks while the queue is full
    void pushWrite(std::int64_t runId, std::function<void(sqlite::Database&)> work) {
        push(Task{std::move(work), {}, runId});
    }

    // Queues `work` and waits for its batch to commit; a writer-side failure is thrown to
    // the caller as an Error with the same message.
    template <typename T>
    T call(std::function<void(sqlite::Database&, T&)> work) {
        auto result = std::make_shared<T>();
        auto promise = std::make_shared<std::promise<Outcome<T>>>();
        std::future<Outcome<T>> future = promise->get_future();
        push(Task{[work = std::move(work), result](sqlite::Database& db) { work(db, *result); },
                  [promise, result](const std::optional<std::string>& error) {
                      Outcome<T> outcome;
                      if (error) {
                          outcome.error = error;
                      } else {
                          outcome.value = std::move(*result);
                      }
                      promise->set_value(std::move(outcome));
                  }});
        Outcome<T> outcome = future.get();
        if (outcome.error) throw Error(*outcome.error);
        return std::move(outcome.value);
    }

    // `storeWide`: the database itself refused the write, not just this write's content.
    void recordAsyncError(std::int64_t runId, const std::string& message, bool storeWide);
    // The first pending error of any run ("" when none); clears them all.
    std::string takePendingErrors();
    // The pending error of `runId` ("" when none); clears only that one.
    std::string takePendingError(std::int64_t runId);
    // Queues a marker behind every write queued so far and waits for it; returns what
    // `collect` says once they have all run.
    std::optional<std::string> waitForQueued(std::function<std::optional<std::string>(
                                                 const std::optional<std::string>& markerError)> collect);
    void writerLoop();
    void runBatch(std::vector<Task>& batch);

    // --- reader side (run_store_reads.cpp); callers hold m_readMutex ---
    // One row of the runs query, columns in the order runs() selects them. A queued or
    // running run whose recording process is gone reads as interrupted.
    RunRecord readRun(const sqlite::Statement& row) const;
    // How many values one statement may bind; longer id lists are filtered in C++ instead.
    std::size_t variableLimit() const;
};

} // namespace losslab
