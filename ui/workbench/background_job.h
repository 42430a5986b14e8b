#pragma once
// A background job's value, or the message of what it threw.
//
// No exception may cross QtConcurrent. Qt hands it over wrapped in QUnhandledException, whose
// what() is only "std::exception", and a QFutureWatcher that holds one rethrows it from
// waitForFinished() and result(): from a view's destructor that is std::terminate. Every job a
// view starts with QtConcurrent::run returns catching([&] { ... }) instead, and its finished
// handler reads Outcome::error.
#include <exception>
#include <string>
#include <utility>

namespace losslab {

template <typename T>
struct Outcome {
    T value{};
    std::string error; // empty: the job finished
};

template <typename F>
auto catching(F&& job) -> Outcome<decltype(job())> {
    try {
        return {std::forward<F>(job)(), {}};
    } catch (const std::exception& e) {
        return {{}, e.what()};
    } catch (...) {
        return {{}, "an unknown error (not a std::exception)"};
    }
}

} // namespace losslab
