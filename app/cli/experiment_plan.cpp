#include "experiment_plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <system_error>
#include <tuple>

#include "progress_printer.h"
#include "losslab/error.h"
#include "losslab/spec/file_digest.h"
#include "losslab/spec/run_recipe.h"
#include "losslab/store/run_store.h"

namespace losslab::cli {
namespace fs = std::filesystem;

namespace {

std::string exeDir() {
    std::error_code ec;
    const auto p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? std::string() : p.parent_path().string();
}

// What the estimate of a run matches stored runs on: its task, protocol and training recipe.
struct RunShape {
    std::string task, protocol;
    RunRecipe recipe;
};

RunShape shapeOf(const std::string& task, const std::string& protocol, const std::string& specYaml) {
    RunShape s{task, protocol, {}};
    try {
        s.recipe = trainingRecipe(runRecipe(specYaml));
        // A stored run's file digests (files.*): the time a run takes does not depend on its
        // files' bytes, and a planned run has none yet.
        for (auto it = s.recipe.begin(); it != s.recipe.end();)
            it = it->first.rfind(std::string(kFileDigestSection) + ".", 0) == 0 ? s.recipe.erase(it) : std::next(it);
    } catch (const Error&) {
        s.recipe = {{"spec", "unreadable"}};
    }
    return s;
}

std::string shortValue(double v) {
    std::ostringstream os;
    os.imbue(std::locale::classic());
    os << v;
    return os.str();
}

} // namespace

std::vector<OptionSpec> experimentOptions() {
    return {{"device", true, false, "DEV", "auto, cpu, cuda or cuda:N (default: the file's device, else auto)"},
            {"seeds", true, false, "N", "use seeds 0..N-1"},
            {"max-epochs", true, false, "N", "train.max_epochs"},
            {"limit-train", true, false, "N", "train on a seeded subset of N training examples"},
            {"set", true, true, "KEY=VALUE", "set any key by its dotted path (losses.1.lr=0.2)"}};
}

std::vector<SpecOverride> experimentOverrides(const Args& args) {
    std::vector<SpecOverride> overrides;
    if (const auto n = args.integer("seeds", 1)) overrides.push_back({"seeds", std::to_string(*n)});
    if (const auto n = args.integer("max-epochs", 1)) overrides.push_back({"train.max_epochs", std::to_string(*n)});
    if (const auto n = args.integer("limit-train", 1)) overrides.push_back({"data.limit_train", std::to_string(*n)});
    if (const auto d = args.value("device")) overrides.push_back({"device", *d, true, "--device"});
    for (const auto& s : args.values("set")) overrides.push_back(parseOverride(s));
    return overrides;
}

std::string resolveExperimentPath(const std::string& arg) {
    if (fs::exists(arg) || arg.find('/') != std::string::npos) return arg;
    const std::string file = arg.size() > 5 && arg.substr(arg.size() - 5) == ".yaml" ? arg : arg + ".yaml";
    const std::vector<fs::path> dirs = {fs::path(exeDir()) / ".." / LOSSLAB_DATA_SUBDIR / "experiments",
                                        fs::path(LOSSLAB_SOURCE_EXPERIMENTS)};
    for (const auto& d : dirs)
        if (fs::exists(d / file)) return (d / file).lexically_normal().string();
    return arg;
}

std::string planExperimentUid(const std::string& frozenText) {
    // FNV-1a, 64 bits, twice with different offsets: 128 bits of the text, hex.
    auto fnv = [&](std::uint64_t h) {
        for (const unsigned char c : frozenText) {
            h ^= c;
            h *= 1099511628211ULL;
        }
        return h;
    };
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(fnv(14695981039346656037ULL)),
                  static_cast<unsigned long long>(fnv(0x9e3779b97f4a7c15ULL)));
    return buf;
}

namespace {
constexpr const char* kDigestPrefix = "# losslab-plan-digest: ";
} // namespace

std::string withPlanDigest(const std::string& frozenText) {
    return kDigestPrefix + planExperimentUid(frozenText) + "\n" + frozenText;
}

void checkPlanDigest(const std::string& frozenText, const std::string& path) {
    const std::string prefix = kDigestPrefix;
    std::size_t begin = 0;
    while (begin < frozenText.size()) {
        std::size_t end = frozenText.find('\n', begin);
        end = end == std::string::npos ? frozenText.size() : end + 1;
        if (frozenText.compare(begin, prefix.size(), prefix) == 0) {
            std::string stated = frozenText.substr(begin + prefix.size(), end - begin - prefix.size());
            while (!stated.empty() && std::isspace(static_cast<unsigned char>(stated.back()))) stated.pop_back();
            const std::string actual = planExperimentUid(frozenText.substr(0, begin) + frozenText.substr(end));
            if (stated != actual)
                throw Error(path + " was changed after `losslab-cli plan` wrote it (its digest line says " + stated +
                            ", its text gives " + actual + "): the array tasks that ran before the change trained "
                            "other runs or another experiment, and their parts would not merge into one. Change "
                            "the source experiment and plan again into a new folder (runner.* keys and --device "
                            "may be given to the array task instead)");
            return;
        }
        begin = end;
    }
}

std::vector<std::vector<int>> packUnits(const std::vector<std::vector<int>>& units, const std::vector<double>& unitCost,
                                        std::size_t maxTasks) {
    if (units.empty()) return {};
    double total = 0, largest = 0;
    for (const double c : unitCost) {
        total += c;
        largest = std::max(largest, c);
    }
    const std::size_t balanced = largest > 0 ? std::min(units.size(), static_cast<std::size_t>(std::ceil(total / largest - 1e-9)))
                                             : units.size();
    const std::size_t bins = std::min(balanced, std::max<std::size_t>(1, maxTasks));
    std::vector<std::size_t> order(units.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return unitCost[a] > unitCost[b]; });
    std::vector<double> load(std::max<std::size_t>(1, bins), 0.0);
    std::vector<std::vector<int>> tasks(load.size());
    for (const std::size_t u : order) {
        const std::size_t bin = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
        load[bin] += unitCost[u];
        tasks[bin].insert(tasks[bin].end(), units[u].begin(), units[u].end());
    }
    for (auto& t : tasks) std::sort(t.begin(), t.end());
    tasks.erase(std::remove_if(tasks.begin(), tasks.end(), [](const std::vector<int>& t) { return t.empty(); }), tasks.end());
    std::sort(tasks.begin(), tasks.end(), [](const std::vector<int>& a, const std::vector<int>& b) { return a.front() < b.front(); });
    return tasks;
}

std::vector<std::vector<int>> plannedTasks(const std::string& frozenText) {
    std::vector<std::vector<int>> tasks;
    std::istringstream in(frozenText);
    std::string line;
    const std::string prefix = "# losslab-plan-task ";
    while (std::getline(in, line)) {
        if (line.rfind(prefix, 0) != 0) continue;
        const auto colon = line.find(':');
        std::size_t index = 0;
        try {
            index = std::stoul(line.substr(prefix.size(), colon - prefix.size()));
        } catch (const std::exception&) {
            throw Error("the plan's line '" + line + "' is damaged: expected '# losslab-plan-task I: 0,5,6'");
        }
        if (colon == std::string::npos || index != tasks.size())
            throw Error("the plan's line '" + line + "' is out of order or damaged: expected task " + std::to_string(tasks.size()));
        std::vector<int> runs;
        std::istringstream items(line.substr(colon + 1));
        std::string item;
        while (std::getline(items, item, ',')) {
            try {
                runs.push_back(std::stoi(item));
            } catch (const std::exception&) {
                throw Error("the plan's line '" + line + "' is damaged: '" + item + "' is not a run index");
            }
        }
        tasks.push_back(std::move(runs));
    }
    return tasks;
}

std::string plannedTaskLines(const std::vector<std::vector<int>>& tasks) {
    std::string out;
    for (std::size_t t = 0; t < tasks.size(); ++t) {
        out += "# losslab-plan-task " + std::to_string(t) + ":";
        for (std::size_t k = 0; k < tasks[t].size(); ++k) out += (k ? "," : "") + std::to_string(tasks[t][k]);
        out += "\n";
    }
    return out;
}

bool RunEstimates::complete() const {
    return std::all_of(seconds.begin(), seconds.end(), [](const auto& s) { return s.has_value(); });
}

RunEstimates estimateRuns(const std::vector<RunSpec>& runs, const std::string& dbPath) {
    RunEstimates out;
    out.seconds.assign(runs.size(), std::nullopt);
    std::error_code sizeError;
    if (dbPath.empty() || !fs::exists(dbPath) || fs::file_size(dbPath, sizeError) == 0) {
        out.basis = "no database at " + (dbPath.empty() ? std::string("(none)") : dbPath) + ": no stored runs to estimate from";
        return out;
    }
    const std::unique_ptr<RunStore> opened = RunStore::openForReading(dbPath); // changes nothing
    RunStore& store = *opened;
    RunFilter filter;
    filter.status = "completed";
    // Sums and counts of the stored wall times per task, per task and protocol, and per task,
    // protocol and recipe, so that each planned run is one look-up in each: a sweep of
    // thousands of runs against a database of thousands took minutes compared pair by pair.
    struct Total {
        double seconds = 0;
        int runs = 0;
        void add(double s) {
            seconds += s;
            ++runs;
        }
        std::optional<double> mean() const { return runs > 0 ? std::optional<double>(seconds / runs) : std::nullopt; }
    };
    std::map<std::string, Total> perTask;
    std::map<std::pair<std::string, std::string>, Total> perProtocol;
    std::map<std::tuple<std::string, std::string, RunRecipe>, Total> perRecipe;
    std::map<std::string, int> storedPerTask;
    for (const auto& r : store.runs(filter)) {
        if (r.wallSeconds <= 0) continue;
        const RunShape shape = shapeOf(r.taskId, r.protocol, r.specYaml);
        perTask[shape.task].add(r.wallSeconds);
        perProtocol[{shape.task, shape.protocol}].add(r.wallSeconds);
        perRecipe[{shape.task, shape.protocol, shape.recipe}].add(r.wallSeconds);
        ++storedPerTask[r.taskId];
    }
    auto meanIn = [](const auto& totals, const auto& key) {
        const auto it = totals.find(key);
        return it == totals.end() ? std::optional<double>() : it->second.mean();
    };
    std::map<std::string, int> tiers; // how each estimate was found
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const RunShape want = shapeOf(runs[i].taskId, protocolName(runs[i].protocol), runs[i].toYaml());
        if (const auto same = meanIn(perRecipe, std::make_tuple(want.task, want.protocol, want.recipe))) {
            out.seconds[i] = same;
            ++tiers["the same recipe and protocol"];
        } else if (const auto sameProtocol = meanIn(perProtocol, std::make_pair(want.task, want.protocol))) {
            out.seconds[i] = sameProtocol;
            ++tiers["the same protocol, another recipe"];
        } else if (const auto sameTask = meanIn(perTask, want.task)) {
            out.seconds[i] = sameTask;
            ++tiers["another protocol"];
        }
    }
    std::string tasks;
    for (const auto& [task, n] : storedPerTask) tasks += (tasks.empty() ? "" : ", ") + std::to_string(n) + " of " + task;
    out.basis = "mean wall time of completed runs in " + dbPath + " (" + (tasks.empty() ? std::string("none") : tasks) + ")";
    std::string how;
    for (const auto& [tier, n] : tiers) how += (how.empty() ? "" : "; ") + std::to_string(n) + " run(s) from " + tier;
    if (!how.empty()) out.basis += ": " + how;
    return out;
}

void printDryRun(std::ostream& out, const ExperimentSpec& spec, const std::vector<RunSpec>& runs,
                 const RunEstimates& estimates, int slots, bool listRuns) {
    out << "Experiment '" << spec.name << "', task " << spec.taskId << "\n";
    if (!spec.sweep.empty()) {
        std::string dims, keys;
        for (const auto& a : spec.sweep) {
            dims += (dims.empty() ? "" : " x ") + std::to_string(a.values.size());
            keys += (keys.empty() ? "" : " x ") + a.key;
        }
        out << "  sweep: " << dims << " (" << keys << ") = " << spec.gridPointCount() << " grid point(s)\n";
    }
    out << "  losses: ";
    for (std::size_t i = 0; i < spec.losses.size(); ++i)
        out << (i ? ", " : "") << spec.losses[i].name << " (" << spec.configurationsOf(i) << " configuration"
            << (spec.configurationsOf(i) == 1 ? "" : "s") << ")";
    out << "\n  protocols: ";
    for (std::size_t i = 0; i < spec.protocols.size(); ++i) out << (i ? ", " : "") << protocolName(spec.protocols[i]);
    out << "\n  seeds: " << spec.seeds.size() << "\n";
    out << runs.size() << " runs in " << independentUnits(runs).size() << " independent units\n";
    double total = 0;
    int known = 0;
    for (const auto& s : estimates.seconds)
        if (s) {
            total += *s;
            ++known;
        }
    if (known == 0) {
        out << "Estimate: none (" << estimates.basis << ")\n";
    } else {
        const int n = std::max(1, slots);
        out << "Estimate: " << formatDuration(total / n) << " on " << n << " slot" << (n == 1 ? "" : "s") << " ("
            << formatDuration(total) << " of training";
        if (known < static_cast<int>(runs.size()))
            out << " for the " << known << " of " << runs.size() << " runs with an estimate";
        out << "); " << estimates.basis << "\n";
    }
    if (!listRuns) return;
    out << "\nrun  loss      k        M        lr       protocol            seed  depends  sweep point\n";
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const RunSpec& r = runs[i];
        std::string point;
        const RunRecipe recipe = runRecipe(r.toYaml());
        for (const auto& key : r.sweepAxes) {
            const auto it = recipe.find(key);
            point += (point.empty() ? "" : ", ") + key + "=" + (it == recipe.end() ? "?" : it->second);
        }
        char line[256];
        std::snprintf(line, sizeof line, "%-4zu %-9s %-8s %-8s %-8s %-19s %-5lld %-8s ", i, r.loss.name.c_str(),
                      shortValue(r.loss.k).c_str(), shortValue(r.loss.M).c_str(), shortValue(r.loss.lr).c_str(),
                      protocolName(r.protocol), static_cast<long long>(r.seed),
                      r.dependsOn >= 0 ? std::to_string(r.dependsOn).c_str() : "-");
        out << line << point << "\n";
    }
}

} // namespace losslab::cli
