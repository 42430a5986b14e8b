// The plugin loader reads each plugin's JSON before it opens any library: a manifest that is
// wrong is a warning that names the file and says what was expected, and the other plugins load.
#include <gtest/gtest.h>

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
