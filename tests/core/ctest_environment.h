#pragma once
// The environment ctest gives a test executable's tests (losslab_discover_tests in
// tests/CMakeLists.txt): LOSSLAB_TEST_ENVIRONMENT names its variables. Each suite that is given
// one checks it with
//
//   TEST(TestEnvironment, CtestGaveEveryVariable) { LOSSLAB_EXPECT_CTEST_ENVIRONMENT(); }
//
// which fails when a variable is missing (ctest applied only part of it: the speech suite, say,
// would then synthesise a corpus in every test instead of reading the shared one) and skips
// outside ctest.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <string>

namespace losslab::fixtures {

// The variables LOSSLAB_TEST_ENVIRONMENT names that are not set, space-separated.
inline std::string missingCtestVariables(const std::string& names) {
    std::istringstream in(names);
    std::string name, missing;
    while (in >> name)
        if (!std::getenv(name.c_str())) missing += (missing.empty() ? "" : " ") + name;
    return missing;
}

} // namespace losslab::fixtures

#define LOSSLAB_EXPECT_CTEST_ENVIRONMENT()                                                                    \
    do {                                                                                                      \
        const char* names_ = std::getenv("LOSSLAB_TEST_ENVIRONMENT");                                         \
        if (!names_) GTEST_SKIP() << "not run by ctest (LOSSLAB_TEST_ENVIRONMENT is not set)";               \
        EXPECT_NE(std::string(names_), "") << "LOSSLAB_TEST_ENVIRONMENT names no variable";                   \
        EXPECT_EQ(::losslab::fixtures::missingCtestVariables(names_), "")                                     \
            << "ctest gave this test LOSSLAB_TEST_ENVIRONMENT=\"" << names_ << "\" but not these variables";  \
    } while (false)
