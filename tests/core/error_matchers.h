#pragma once
// Shared test helper: passes when `f` throws losslab::Error whose message contains every
// one of `parts` (gmock is not linked, so no HasSubstr).
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "losslab/error.h"

namespace losslab::fixtures {

template <typename F>
::testing::AssertionResult throwsErrorWith(F&& f, std::initializer_list<std::string> parts) {
    try {
        f();
    } catch (const Error& e) {
        const std::string message = e.what();
        for (const std::string& part : parts)
            if (message.find(part) == std::string::npos)
                return ::testing::AssertionFailure() << "message \"" << message << "\" lacks \"" << part << "\"";
        return ::testing::AssertionSuccess();
    } catch (const std::exception& e) {
        return ::testing::AssertionFailure() << "threw something other than Error: " << e.what();
    }
    return ::testing::AssertionFailure() << "did not throw";
}

} // namespace losslab::fixtures
