#include "losslab/tasks/plugin_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <yaml-cpp/yaml.h>

#include "losslab/error.h"
#include "losslab/tasks/task_registry.h"

namespace losslab {
namespace fs = std::filesystem;

namespace {

using RegisterFn = void (*)(TaskRegistry*);

std::string executableDir() {
    char buf[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return {};
    buf[n] = '\0';
    return fs::path(buf).parent_path().string();
}

struct PluginManifest {
    std::string name, version, library;
    int api = 0;
};

// "api" is a JSON number that is a whole number: a missing, quoted, fractional or huge value
// would otherwise read as API 0 and be refused as "built for plugin API 0".
int readApiVersion(const fs::path& file, const YAML::Node& api) {
    const std::string expected = "; expected the plugin API version it was built for, a whole number "
                                 "(this LossLab has API " + std::to_string(kPluginApiVersion) + ")";
    if (!api) throw Error(file.string() + ": has no \"api\"" + expected);
    // yaml-cpp tags a quoted scalar "!" and a plain one "?": "6" is a string in JSON.
    if (!api.IsScalar() || api.Tag() != "?")
        throw Error(file.string() + ": \"api\" is not a number" + expected);
    const std::string text = api.Scalar();
    int value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < 1)
        throw Error(file.string() + ": \"api\" is " + text + expected);
    return value;
}

// The manifest is JSON; JSON is a subset of YAML 1.2, so yaml-cpp reads it.
PluginManifest readManifest(const fs::path& file) {
    YAML::Node node;
    try {
        node = YAML::LoadFile(file.string());
    } catch (const YAML::Exception& e) {
        throw Error(file.string() + ": not valid JSON: " + e.what());
    }
    if (!node.IsMap()) throw Error(file.string() + ": expected a JSON object");
    PluginManifest m;
    try {
        m.name = node["name"].as<std::string>("");
        m.version = node["version"].as<std::string>("");
        m.library = node["library"].as<std::string>("");
    } catch (const YAML::Exception& e) {
        throw Error(file.string() + ": " + e.what());
    }
    if (m.name.empty() || m.library.empty())
        throw Error(file.string() + ": needs \"name\" and \"library\"");
    m.api = readApiVersion(file, node["api"]);
    return m;
}

// What the exception being handled says, for a warning: a plugin may throw anything.
std::string currentExceptionText() {
    try {
        throw;
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an exception that is not a std::exception";
    }
}

// Calls the entry point of plugin `name` (the library `lib`) and adds the tasks it registers to
// `registry`. It registers into a registry of its own first, so that one that fails halfway (an
// exception, a task it registers twice, an empty task) adds nothing rather than the tasks it
// had registered before failing. A task id an earlier plugin took stays that plugin's: only
// that task of this one is skipped, so one plugin cannot hide another's other tasks (the
// built-in ones included). Returns false when the entry point failed.
bool registerPluginTasks(TaskRegistry& registry, const std::string& name, const fs::path& lib, RegisterFn fn,
                         PluginLoadReport& report) {
    const std::string plugin = lib.string() + ": plugin '" + name + "'";
    TaskRegistry staged;
    staged.setCurrentPlugin(name);
    try {
        fn(&staged);
    } catch (...) {
        report.warnings.push_back("plugin skipped: " + plugin + ": losslab_register_tasks failed: " +
                                  currentExceptionText() + "; none of its tasks is loaded");
        return false;
    }
    for (const TaskInfo& info : staged.list()) {
        if (const TaskInfo* earlier = registry.findInfo(info.id)) {
            report.warnings.push_back("task skipped: " + plugin + " registers task '" + info.id +
                                      "', which plugin '" + earlier->plugin +
                                      "' registered first (plugins load in search order); its other tasks are "
                                      "loaded. Give the task another id, or the plugin the other plugin's name to "
                                      "replace it");
            continue;
        }
        registry.setCurrentPlugin(name);
        try {
            registry.add(staged.find(info.id));
        } catch (...) {
            report.warnings.push_back("task skipped: " + plugin + ": task '" + info.id + "': " + currentExceptionText());
        }
        registry.setCurrentPlugin("");
    }
    return true;
}

} // namespace

std::vector<std::string> defaultPluginDirs() {
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("LOSSLAB_PLUGIN_PATH")) {
        std::string all = env;
        size_t start = 0;
        while (start <= all.size()) {
            const size_t end = all.find(':', start);
            const std::string dir = all.substr(start, end == std::string::npos ? std::string::npos : end - start);
            if (!dir.empty()) dirs.push_back(dir);
            if (end == std::string::npos) break;
            start = end + 1;
        }
    }
    const std::string exeDir = executableDir();
    if (!exeDir.empty()) dirs.push_back((fs::path(exeDir) / ".." / LOSSLAB_PLUGIN_SUBDIR).lexically_normal().string());
    return dirs;
}

PluginLoadReport loadPlugins(TaskRegistry& registry, const std::vector<std::string>& dirs) {
    PluginLoadReport report;
    std::map<std::string, std::size_t> loadedAt; // plugin name -> its entry in report.loaded
    for (const auto& dir : dirs) {
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            // Said, not passed over: a folder on LOSSLAB_PLUGIN_PATH with a typo, or the plugin's
            // library or manifest named instead of its folder, would otherwise load nothing
            // without a word.
            report.warnings.push_back(
                "plugin folder skipped: " + dir +
                (fs::exists(dir, ec) ? ": is not a folder; name the folder that holds the plugin's .json manifest"
                                     : ": no such folder"));
            continue;
        }
        // increment(ec), not ++: a folder that fails while being read (unreadable, gone, an I/O
        // error) is a warning like a bad manifest, never an exception out of the program's start.
        std::vector<fs::path> manifests;
        fs::directory_iterator it(dir, ec);
        for (const fs::directory_iterator end; !ec && it != end; it.increment(ec))
            if (it->path().extension() == ".json") manifests.push_back(it->path());
        if (ec) report.warnings.push_back(dir + ": cannot list the whole plugin folder: " + ec.message());
        std::sort(manifests.begin(), manifests.end());
        for (const auto& file : manifests) {
            try {
                const PluginManifest m = readManifest(file);
                if (const auto first = loadedAt.find(m.name); first != loadedAt.end()) {
                    // An earlier folder wins; `tasks --verbose` says which file it keeps out, so a
                    // stale build earlier on LOSSLAB_PLUGIN_PATH is seen, not guessed at.
                    report.loaded[first->second] += "; " + file.string() + ", of the same name, is not loaded";
                    continue;
                }
                if (m.api != kPluginApiVersion)
                    throw Error(file.string() + ": plugin '" + m.name + "' was built for plugin API " +
                                std::to_string(m.api) + ", this LossLab has API " +
                                std::to_string(kPluginApiVersion) + "; rebuild the plugin");
                const fs::path lib = file.parent_path() / m.library;
                void* handle = ::dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
                if (!handle) throw Error(file.string() + ": cannot load " + lib.string() + ": " + ::dlerror());
                auto fn = reinterpret_cast<RegisterFn>(::dlsym(handle, "losslab_register_tasks"));
                if (!fn) throw Error(lib.string() + ": has no symbol losslab_register_tasks");
                // The library stays loaded for the life of the process, even when it failed here.
                if (!registerPluginTasks(registry, m.name, lib, fn, report)) continue;
                loadedAt.emplace(m.name, report.loaded.size());
                report.loaded.push_back(m.name + " " + m.version + " (" + lib.string() + ")");
            } catch (const std::exception& e) {
                report.warnings.push_back(std::string("plugin skipped: ") + e.what());
            }
        }
    }
    return report;
}

} // namespace losslab
