// The core suite's environment under ctest (losslab_discover_tests): the plugin folder.
#include "ctest_environment.h"

#include <cstdlib>
#include <string>

TEST(TestEnvironment, CtestGaveEveryVariable) {
    LOSSLAB_EXPECT_CTEST_ENVIRONMENT();
    const char* plugins = std::getenv("LOSSLAB_PLUGIN_PATH");
    ASSERT_NE(plugins, nullptr);
    EXPECT_STREQ(plugins, LOSSLAB_PLUGIN_BUILD_DIR);
}

TEST(TestEnvironment, MissingVariablesAreNamed) {
    ::setenv("LOSSLAB_TEST_SET_A", "1", 1);
    ::unsetenv("LOSSLAB_TEST_UNSET_B");
    ::unsetenv("LOSSLAB_TEST_UNSET_C");
    EXPECT_EQ(losslab::fixtures::missingCtestVariables("LOSSLAB_TEST_SET_A  LOSSLAB_TEST_UNSET_B LOSSLAB_TEST_UNSET_C"),
              "LOSSLAB_TEST_UNSET_B LOSSLAB_TEST_UNSET_C");
    EXPECT_EQ(losslab::fixtures::missingCtestVariables(""), "");
}
