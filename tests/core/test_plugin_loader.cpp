// The plugin loader reads each plugin's JSON before it opens any library: a manifest that is
// wrong is a warning that names the file and says what was expected, and the other plugins load.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task_registry.h"
#include "scratch_dir.h"

using namespace losslab;
using losslab::fixtures::ScratchDir;

namespace {

// Loads a folder holding one manifest `text`, whose library does not exist: a manifest that is
// read correctly fails later, at dlopen, with "cannot load".
std::string warningFor(const ScratchDir& dir, const std::string& text) {
    std::ofstream(dir.file("p.json")) << text;
    TaskRegistry registry;
    const PluginLoadReport report = loadPlugins(registry, {dir.path().string()});
    EXPECT_TRUE(report.loaded.empty());
    EXPECT_EQ(report.warnings.size(), 1u);
    return report.warnings.empty() ? std::string() : report.warnings.front();
}

// Loads the misbehaving test plugin (tests/core/plugins/misbehaving_plugin.cpp) as plugin `name`,
// from a folder of its own under `dir`, its entry point doing `mode`.
PluginLoadReport loadMisbehaving(TaskRegistry& registry, const ScratchDir& dir, const std::string& name,
                                 const std::string& mode) {
    const std::string folder = dir.file(name);
    std::filesystem::create_directories(folder);
    std::ofstream(folder + "/" + name + ".json") << "{\"name\": \"" << name << "\", \"api\": " << kPluginApiVersion
                                                 << ", \"library\": \"" << LOSSLAB_MISBEHAVING_PLUGIN << "\"}";
    ::setenv("LOSSLAB_TEST_PLUGIN_MODE", mode.c_str(), 1);
    PluginLoadReport report = loadPlugins(registry, {folder});
    ::unsetenv("LOSSLAB_TEST_PLUGIN_MODE");
    return report;
}

std::string manifestWithApi(const std::string& api) {
    return R"({"name": "p", "version": "1", "library": "libp.so")" + (api.empty() ? "" : ", \"api\": " + api) + "}";
}

} // namespace

TEST(PluginLoader, AnApiThatIsNotAWholeNumberIsNamedAsSuch) {
    const ScratchDir dir("losslab-plugins");
    const std::string current = std::to_string(kPluginApiVersion);
    for (const std::string& api : {std::string(), std::string("\"") + current + "\"", current + ".5",
                                  std::string("123456789012345678901"), std::string("-1"), std::string("[6]")}) {
        const std::string warning = warningFor(dir, manifestWithApi(api));
        SCOPED_TRACE("api: " + (api.empty() ? std::string("(none)") : api));
        EXPECT_NE(warning.find(dir.file("p.json")), std::string::npos) << warning;
        EXPECT_NE(warning.find("\"api\""), std::string::npos) << warning;
        EXPECT_NE(warning.find("(this LossLab has API " + current + ")"), std::string::npos) << warning;
        // Before: read as API 0, and refused as "built for plugin API 0", or taken as current.
        EXPECT_EQ(warning.find("built for plugin API 0"), std::string::npos) << warning;
        EXPECT_EQ(warning.find("cannot load"), std::string::npos) << warning;
    }
}

TEST(PluginLoader, AWellFormedManifestGetsAsFarAsItsLibrary) {
    const ScratchDir dir("losslab-plugins");
    const std::string warning = warningFor(dir, manifestWithApi(std::to_string(kPluginApiVersion)));
    EXPECT_NE(warning.find("cannot load"), std::string::npos) << warning;
    EXPECT_NE(warning.find("libp.so"), std::string::npos) << warning;

    const std::string older = warningFor(dir, manifestWithApi(std::to_string(kPluginApiVersion - 1)));
    EXPECT_NE(older.find("was built for plugin API " + std::to_string(kPluginApiVersion - 1)), std::string::npos)
        << older;
}

// Before: the tasks registered before the failure stayed (the plugin "skipped" but half there),
// the warning was the exception's text alone, and an exception that is not a std::exception
// ended the program, taking every other plugin's tasks with it.
TEST(PluginLoader, AnEntryPointThatFailsAddsNoneOfItsTasksAndTheWarningNamesThePlugin) {
    const ScratchDir dir("losslab-plugins");
    for (const auto& [mode, reason] : {std::pair<std::string, std::string>{"throw", "registration failed on purpose"},
                                       {"throw-int", "not a std::exception"},
                                       {"twice", "task 'mine/first' is registered twice by plugin 'broken'"},
                                       {"no-classes", "numClasses is 0"}}) {
        SCOPED_TRACE(mode);
        TaskRegistry registry;
        const PluginLoadReport report = loadMisbehaving(registry, dir, "broken", mode);
        EXPECT_TRUE(registry.ids().empty()) << registry.ids().front();
        EXPECT_TRUE(report.loaded.empty());
        ASSERT_EQ(report.warnings.size(), 1u);
        const std::string& warning = report.warnings.front();
        for (const std::string& piece : {std::string("plugin skipped: "), std::string(LOSSLAB_MISBEHAVING_PLUGIN),
                                         std::string("plugin 'broken'"), reason, std::string("none of its tasks")})
            EXPECT_NE(warning.find(piece), std::string::npos) << "'" << piece << "' in: " << warning;
    }
}

// Before: the later plugin's add() threw at the taken id, so its tasks after that one were lost
// (a user's plugin that took one built-in task id hid the built-in plugin's tasks registered after it).
TEST(PluginLoader, ATaskIdAnEarlierPluginRegisteredSkipsOnlyThatTaskOfTheLaterPlugin) {
    const ScratchDir dir("losslab-plugins");
    TaskRegistry registry;
    const PluginLoadReport first = loadMisbehaving(registry, dir, "first", "");
    EXPECT_TRUE(first.warnings.empty()) << first.warnings.front();
    const PluginLoadReport second = loadMisbehaving(registry, dir, "second", "clash");
    EXPECT_EQ(registry.ids(), (std::vector<std::string>{"mine/first", "mine/last", "toy/blobs"}));
    ASSERT_NE(registry.findInfo("toy/blobs"), nullptr);
    EXPECT_EQ(registry.findInfo("toy/blobs")->plugin, "first");
    ASSERT_NE(registry.findInfo("mine/last"), nullptr);
    EXPECT_EQ(registry.findInfo("mine/last")->plugin, "second");
    EXPECT_EQ(second.loaded.size(), 1u);
    ASSERT_EQ(second.warnings.size(), 1u);
    const std::string& warning = second.warnings.front();
    for (const std::string piece : {"task skipped: ", "plugin 'second' registers task 'toy/blobs'", "plugin 'first'",
                                    "its other tasks are loaded"})
        EXPECT_NE(warning.find(piece), std::string::npos) << "'" << piece << "' in: " << warning;
}

// Before: a folder that is not there, or a file named instead of its folder (LOSSLAB_PLUGIN_PATH=
// .../liblosslab-mine.so), loaded nothing without a word.
TEST(PluginLoader, AFolderThatIsNotThereOrIsAFileIsSaid) {
    const ScratchDir dir("losslab-plugins");
    std::ofstream(dir.file("mine.json")) << manifestWithApi(std::to_string(kPluginApiVersion));
    TaskRegistry registry;
    const PluginLoadReport report = loadPlugins(registry, {dir.file("no-such-folder"), dir.file("mine.json")});
    ASSERT_EQ(report.warnings.size(), 2u);
    EXPECT_EQ(report.warnings[0], "plugin folder skipped: " + dir.file("no-such-folder") + ": no such folder");
    EXPECT_EQ(report.warnings[1], "plugin folder skipped: " + dir.file("mine.json") +
                                      ": is not a folder; name the folder that holds the plugin's .json manifest");
}

// Before: the later plugin of a name was passed over without a word, so a stale build of a
// plugin earlier on LOSSLAB_PLUGIN_PATH kept a newer one out and `tasks --verbose` did not say so.
TEST(PluginLoader, ThePluginKeptOutByAnEarlierOneOfTheSameNameIsNamed) {
    const ScratchDir dir("losslab-plugins");
    TaskRegistry registry;
    const std::string earlier = dir.file("earlier/same"), later = dir.file("later/same");
    for (const std::string& folder : {earlier, later}) {
        std::filesystem::create_directories(folder);
        std::ofstream(folder + "/same.json") << "{\"name\": \"same\", \"api\": " << kPluginApiVersion
                                             << ", \"library\": \"" << LOSSLAB_MISBEHAVING_PLUGIN << "\"}";
    }
    const PluginLoadReport report = loadPlugins(registry, {earlier, later});
    EXPECT_TRUE(report.warnings.empty()) << report.warnings.front();
    ASSERT_EQ(report.loaded.size(), 1u);
    const std::string& line = report.loaded.front();
    EXPECT_EQ(line.rfind("same ", 0), 0u) << line;
    EXPECT_EQ(line.find(earlier), std::string::npos) << line; // the library's path is absolute
    EXPECT_NE(line.find(later + "/same.json, of the same name, is not loaded"), std::string::npos) << line;
}
