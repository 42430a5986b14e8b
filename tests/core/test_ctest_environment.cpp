// The core suite's environment under ctest (losslab_discover_tests): the plugin folder and two
// threads per test, so that ctest -jN on a many-core machine does not run N x cores threads.
#include "ctest_environment.h"

#include <cstdlib>
#include <string>

TEST(TestEnvironment, CtestGaveEveryVariable) {
    LOSSLAB_EXPECT_CTEST_ENVIRONMENT();
    EXPECT_STREQ(std::getenv("OMP_NUM_THREADS"), "2");
}

TEST(TestEnvironment, MissingVariablesAreNamed) {
    ::setenv("LOSSLAB_TEST_SET_A", "1", 1);
    ::unsetenv("LOSSLAB_TEST_UNSET_B");
    ::unsetenv("LOSSLAB_TEST_UNSET_C");
    EXPECT_EQ(losslab::fixtures::missingCtestVariables("LOSSLAB_TEST_SET_A  LOSSLAB_TEST_UNSET_B LOSSLAB_TEST_UNSET_C"),
              "LOSSLAB_TEST_UNSET_B LOSSLAB_TEST_UNSET_C");
    EXPECT_EQ(losslab::fixtures::missingCtestVariables(""), "");
}
