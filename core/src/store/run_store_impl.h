#pragma once
// Private to the store: the state behind RunStore, shared by run_store.cpp (opening, the
// writer thread and the writes) and run_store_reads.cpp (the reads).
//
// Locking: m_readDb only under m_readMutex; m_writeDb only on the writer thread (and in the
// constructor before it starts); m_queue under m_queueMutex; m_pendingError under
// m_errorMutex.
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
#include "sqlite_db.h"

namespace losslab {

struct RunStore::Impl {
    struct Task {
        std::function<void(sqlite::Database&)> work; // runs inside the writer's batch transaction
        // Called after the batch commits (no error) or fails; empty for writes nobody
        // waits on, whose failures are reported by the next flush().
        std::function<void(const std::optional<std::string>& error)> done;
    };

    template <typename T>
    struct Outcome {
        T value{};
        std::optional<std::string> error;
    };

    std::string m_path;
    std::string m_host;
    std::int64_t m_pid = 0;
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
    std::string m_pendingError; // first failed unawaited write since the last flush
    std::string m_firstFailure; // first failed write ever (never cleared); under m_errorMutex

    std::thread m_writer;

    ~Impl() { shutdown(); }

    // --- writer side (run_store.cpp) ---
    void shutdown(); // drains the queue, joins the writer, closes both connections
    void push(Task task); // blocks while the queue is full
    void pushWrite(std::function<void(sqlite::Database&)> work) {
        push(Task{std::move(work), {}});
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

    void recordAsyncError(const std::string& message);
    std::string takePendingError();
    void writerLoop();
    void runBatch(std::vector<Task>& batch);

    // --- reader side (run_store_reads.cpp); callers hold m_readMutex ---
    // One row of the runs query, columns in the order runs() selects them.
    RunRecord readRun(const sqlite::Statement& row) const;
    // How many values one statement may bind; longer id lists are filtered in C++ instead.
    std::size_t variableLimit() const;
};

} // namespace losslab
