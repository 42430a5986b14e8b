#include "losslab/report/mlflow_export.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <utility>

#include "export_runs.h"
#include "losslab/report/json_text.h"
#include "losslab/error.h"
#include "losslab/report/report_table.h"
#include "losslab/store/run_store.h"

namespace losslab {

namespace mlflow {

std::string urlEncode(std::string_view text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

ServerOptions serverOptionsFromEnvironment(const std::string& trackingUri) {
    const auto env = [](const char* name) {
        const char* v = std::getenv(name);
        return std::string(v ? v : "");
    };
    ServerOptions o;
    o.trackingUri = trackingUri.empty() ? env("MLFLOW_TRACKING_URI") : trackingUri;
    o.token = env("MLFLOW_TRACKING_TOKEN");
    o.user = env("MLFLOW_TRACKING_USERNAME");
    o.password = env("MLFLOW_TRACKING_PASSWORD");
    std::string insecure = env("MLFLOW_TRACKING_INSECURE_TLS");
    std::transform(insecure.begin(), insecure.end(), insecure.begin(), [](unsigned char c) { return std::tolower(c); });
    o.insecureTls = insecure == "true" || insecure == "1";
    o.caFile = env("MLFLOW_TRACKING_SERVER_CERT_PATH");
    // A whole number from `least` to `most` (spaces around it allowed, as MLflow's int() does),
    // or `fallback` where the variable is unset or empty.
    const auto whole = [&](const char* name, long least, long most, int fallback, const std::string& expected) {
        const std::string raw = env(name);
        std::size_t begin = 0, end = raw.size();
        while (begin < end && std::isspace(static_cast<unsigned char>(raw[begin]))) ++begin;
        while (end > begin && std::isspace(static_cast<unsigned char>(raw[end - 1]))) --end;
        if (begin == end) return fallback;
        const std::string digits = raw.substr(begin, end - begin);
        const bool numeric = digits.size() <= 9 && std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); });
        const long value = numeric ? std::stol(digits) : -1;
        if (numeric && value >= least && value <= most) return static_cast<int>(value);
        if (o.invalid.empty()) o.invalid = std::string(name) + " is '" + raw + "': expected " + expected;
        return fallback;
    };
    o.timeoutSeconds = whole("MLFLOW_HTTP_REQUEST_TIMEOUT", 1, 999999999, kDefaultTimeoutSeconds,
                             "a whole number of seconds, 1 or more: how long one request to the tracking server may take "
                             "(default " + std::to_string(kDefaultTimeoutSeconds) + ")");
    o.maxRetries = whole("MLFLOW_HTTP_REQUEST_MAX_RETRIES", 0, kMostRetries, kDefaultMaxRetries,
                         "a whole number from 0 to " + std::to_string(kMostRetries) +
                             ": how often a request is sent again where that is safe (default " + std::to_string(kDefaultMaxRetries) +
                             "; MLflow refuses " + std::to_string(kMostRetries + 1) + " and more)");
    return o;
}

bool repeatable(const std::string& endpoint, bool post) { return !post || endpoint == "runs/search" || endpoint == "runs/update"; }

} // namespace mlflow

namespace {

// MLflow's request limits for runs/log-batch (the same since MLflow 1.x).
constexpr std::size_t kMaxMetrics = 1000, kMaxParams = 100, kMaxTags = 100, kMaxEntities = 1000;
// Guaranteed lengths on every backend of MLflow 1.x and later; longer values are cut (tags)
// or left out (params: their full text is in the spec tag).
constexpr std::size_t kMaxTagValue = 5000, kMaxParamValue = 500, kMaxKey = 250;

// The tags that say what a run on the server holds.
constexpr const char* kUidTag = "losslab.uid";
constexpr const char* kExportedTag = "losslab.exported";
constexpr const char* kDigestTag = "losslab.digest";
constexpr const char* kReportedTag = "losslab.reported_epoch";

struct Point {
    std::string key;
    double value = 0.0;
    std::int64_t timestamp = 0; // milliseconds since 1970
    std::int64_t step = 0;
};
using KeyValues = std::vector<std::pair<std::string, std::string>>;

// FNV-1a, 64 bits, over what was sent: a run's params and points in their fixed order.
class Digest {
public:
    void add(std::string_view bytes) {
        for (const char ch : bytes) {
            m_state ^= static_cast<unsigned char>(ch);
            m_state *= 0x100000001b3ULL;
        }
        m_state ^= 0xff; // separator: ("ab","c") and ("a","bc") differ
        m_state *= 0x100000001b3ULL;
    }
    void add(const std::pair<std::string, std::string>& param) {
        add(param.first);
        add(param.second);
    }
    void add(const Point& p) { // timestamps left out: a resumed run's start moves
        add(p.key);
        add(std::isnan(p.value) ? std::string("nan") : formatFull(p.value));
        add(std::to_string(p.step));
    }
    std::string hex() const {
        char buf[17];
        std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(m_state));
        return buf;
    }

private:
    std::uint64_t m_state = 0xcbf29ce484222325ULL;
};

// Metric and param keys: MLflow takes letters, digits, '_', '-', '.', ' ' and '/'.
std::string mlflowKey(const std::string& key) {
    std::string out;
    for (const char ch : key.substr(0, kMaxKey)) {
        const auto c = static_cast<unsigned char>(ch);
        out.push_back(std::isalnum(c) || ch == '_' || ch == '-' || ch == '.' || ch == ' ' || ch == '/' ? ch : '_');
    }
    return out;
}

// At most kMaxTagValue bytes, cut at a character boundary, with a note where cut.
std::string tagValue(const std::string& text) {
    if (text.size() <= kMaxTagValue) return text;
    const std::string mark = "\n[cut: " + std::to_string(text.size()) + " bytes in all]";
    std::size_t end = kMaxTagValue - mark.size();
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
    return text.substr(0, end) + mark;
}

// The resolved spec's leaves as params: "train.batch_size" -> "128"; a list in flow style.
void flatten(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
    if (node.IsMap()) {
        for (const auto& entry : node) flatten(entry.second, prefix.empty() ? entry.first.Scalar() : prefix + "." + entry.first.Scalar(), out);
        return;
    }
    if (prefix.empty()) return;
    std::string value;
    if (node.IsScalar()) {
        value = node.Scalar();
    } else if (node.IsNull()) {
        value = "null";
    } else {
        YAML::Emitter flow;
        flow << YAML::Flow << node;
        value = flow.c_str();
    }
    if (value.size() <= kMaxParamValue) out[mlflowKey(prefix)] = value;
}

KeyValues paramsOf(const RunRecord& r) {
    std::map<std::string, std::string> params;
    try {
        if (!r.specYaml.empty()) flatten(YAML::Load(r.specYaml), "", params);
    } catch (const YAML::Exception&) {
        // An unreadable stored spec gives no spec params; the run's own columns still do.
    }
    params.emplace("loss_type", r.loss);
    params.emplace("k", formatFull(r.k));
    params.emplace("M", formatFull(r.M));
    params.emplace("lr", formatFull(r.lr));
    params.emplace("seed", std::to_string(r.seed));
    return KeyValues(params.begin(), params.end());
}

std::int64_t millis(double seconds) { return static_cast<std::int64_t>(std::llround(seconds * 1000.0)); }

// Epoch by epoch: the epoch's metrics, then its steps. While the run trains, only epochs with
// stored metrics: a step of the epoch in progress waits for the next export. A run that has
// ended (diverged in the middle of an epoch, failed, cancelled) has all its steps sent: those
// of its last, unfinished epoch come last, so what an earlier export sent stays a prefix.
std::vector<Point> pointsOf(const RunRecord& r, const std::vector<EpochMetricRow>& epochs, const std::vector<StepMetricRow>& steps,
                            const RunTimeline& time) {
    int lastEpoch = 0;
    for (const auto& row : epochs) lastEpoch = std::max(lastEpoch, row.epoch);
    const bool ended = isFinal(r.status);
    std::map<int, std::vector<Point>> byEpoch;
    for (const auto& row : epochs)
        byEpoch[row.epoch].push_back({mlflowKey(row.value.split + "/" + row.value.metric), row.value.value,
                                      millis(time.epochEnd(row.epoch)), row.epoch});
    for (const auto& s : steps)
        if (ended || s.epoch <= lastEpoch) byEpoch[s.epoch].push_back({mlflowKey("step/" + s.metric), s.value, millis(time.stepTime(s)), s.step});
    std::vector<Point> out;
    for (auto& [epoch, list] : byEpoch) out.insert(out.end(), list.begin(), list.end());
    return out;
}

const char* mlflowStatus(RunStatus s) {
    switch (s) {
    case RunStatus::Queued: return "SCHEDULED";
    case RunStatus::Running: return "RUNNING";
    case RunStatus::Completed:
    case RunStatus::Diverged: return "FINISHED";
    case RunStatus::Failed: return "FAILED";
    case RunStatus::Cancelled:
    case RunStatus::Interrupted: return "KILLED";
    }
    return "FINISHED";
}

std::string pairsJson(const KeyValues& list, std::size_t from, std::size_t to) {
    std::string out = "[";
    for (std::size_t i = from; i < to; ++i)
        out += (i > from ? "," : "") + std::string("{\"key\":") + jsonString(list[i].first) +
               ",\"value\":" + jsonString(list[i].second) + "}";
    return out + "]";
}

std::string pointsJson(const std::vector<Point>& list, std::size_t from, std::size_t to) {
    std::string out = "[";
    for (std::size_t i = from; i < to; ++i)
        out += (i > from ? "," : "") + std::string("{\"key\":") + jsonString(list[i].key) +
               ",\"value\":" + jsonNumber(list[i].value) + ",\"timestamp\":" + std::to_string(list[i].timestamp) +
               ",\"step\":" + std::to_string(list[i].step) + "}";
    return out + "]";
}

// The tracking server's answers, read as JSON (yaml-cpp reads JSON), and its refusals as errors.
class Server {
public:
    explicit Server(mlflow::Connection& connection) : m_connection(connection) {}

    YAML::Node post(const std::string& endpoint, const std::string& json) {
        return answer("POST", endpoint, m_connection.post(endpoint, json));
    }
    mlflow::Response get(const std::string& endpoint, const std::string& query) { return m_connection.get(endpoint, query); }
    mlflow::Response postRaw(const std::string& endpoint, const std::string& json) { return m_connection.post(endpoint, json); }

    [[noreturn]] void refused(const std::string& method, const std::string& endpoint, const mlflow::Response& r) const {
        std::string detail;
        try {
            const YAML::Node error = YAML::Load(r.body);
            if (error.IsMap() && error["error_code"]) detail = error["error_code"].as<std::string>();
            if (error.IsMap() && error["message"]) detail += (detail.empty() ? "" : ": ") + error["message"].as<std::string>();
        } catch (const YAML::Exception&) {
        }
        std::string hint;
        if (r.status == 401 || r.status == 403) hint = "; set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD";
        else if (r.status == 404 && detail.empty()) hint = "; is " + m_connection.address() + " the address of an MLflow tracking server?";
        // A gateway's 502 or 504: the server behind it may have acted on the request and answered too late.
        else if ((r.status == 502 || r.status == 504) && !mlflow::repeatable(endpoint, method == "POST")) hint = std::string("; ") + mlflow::kMayHaveApplied;
        if (detail.empty()) detail = r.body.substr(0, 300);
        throw Error("MLflow at " + m_connection.address() + ": " + method + " " + endpoint + " answered HTTP " +
                    std::to_string(r.status) + (detail.empty() ? "" : " (" + detail + ")") + hint);
    }

    // The answer as a JSON object; Error where it is none (a proxy's web page with HTTP 200).
    YAML::Node answer(const std::string& method, const std::string& endpoint, const mlflow::Response& r) const {
        if (r.status != 200) refused(method, endpoint, r);
        YAML::Node node(YAML::NodeType::Map);
        bool object = true;
        try {
            if (!r.body.empty()) node = YAML::Load(r.body);
            object = node.IsMap() || node.IsNull(); // "{}" and an empty body are the empty object
        } catch (const YAML::Exception&) {
            object = false;
        }
        if (!object)
            throw Error("MLflow at " + m_connection.address() + ": " + method + " " + endpoint +
                        " answered with no JSON object (is this an MLflow tracking server, or a proxy's page in front of it?): " +
                        r.body.substr(0, 200));
        return node.IsMap() ? node : YAML::Node(YAML::NodeType::Map);
    }

    [[noreturn]] void malformed(const std::string& what) const {
        throw Error("MLflow at " + m_connection.address() + ": " + what + " (is this an MLflow tracking server?)");
    }

private:
    mlflow::Connection& m_connection;
};

// What an export did with one run.
enum class Sent { Created, Appended, Unchanged, Replaced };

const char* sentName(Sent s) {
    switch (s) {
    case Sent::Created: return "created";
    case Sent::Appended: return "appended";
    case Sent::Unchanged: return "unchanged";
    case Sent::Replaced: return "replaced";
    }
    return "";
}

std::string text(const YAML::Node& node) { return node && node.IsScalar() ? node.Scalar() : std::string(); }

// node[key] where node is a JSON object; an undefined node otherwise (yaml-cpp throws on a
// scalar's operator[], and the server's answers are not ours to trust).
YAML::Node field(const YAML::Node& node, const char* key) {
    if (node && node.IsMap()) return node[key];
    return YAML::Node(YAML::NodeType::Undefined);
}
std::string runIdOf(const YAML::Node& info) {
    const std::string id = text(field(info, "run_id"));
    return id.empty() ? text(field(info, "run_uuid")) : id; // MLflow before 1.? named only run_uuid
}

struct ServerRun {
    std::string id;
    std::int64_t startTime = 0; // milliseconds since 1970
    std::map<std::string, std::string> tags;
};

// The MLflow experiment of that name, created where missing; refused where deleted. `again`:
// looked up after another client (an export of another process) created it first.
std::string experimentId(Server& server, const std::string& name, const std::string& address, bool again = false) {
    const mlflow::Response r = server.get("experiments/get-by-name", "experiment_name=" + mlflow::urlEncode(name));
    if (r.status == 200) {
        const YAML::Node e = field(server.answer("GET", "experiments/get-by-name", r), "experiment");
        if (text(field(e, "lifecycle_stage")) == "deleted")
            throw Error("MLflow at " + address + ": the experiment '" + name +
                        "' is deleted; restore it in MLflow, or remove it for good (mlflow gc), then export again");
        const std::string id = text(field(e, "experiment_id"));
        if (id.empty()) server.malformed("GET experiments/get-by-name answered no experiment id for '" + name + "'");
        return id;
    }
    // MLflow says RESOURCE_DOES_NOT_EXIST (with 404); a 404 without it is no MLflow answer.
    if (r.body.find("RESOURCE_DOES_NOT_EXIST") == std::string::npos) server.refused("GET", "experiments/get-by-name", r);
    const mlflow::Response created = server.postRaw("experiments/create", "{\"name\":" + jsonString(name) + "}");
    // Two exports at once: the other created it between the lookup and this; use it.
    if (!again && created.status != 200 && created.body.find("RESOURCE_ALREADY_EXISTS") != std::string::npos)
        return experimentId(server, name, address, true);
    const std::string id = text(field(server.answer("POST", "experiments/create", created), "experiment_id"));
    if (id.empty()) server.malformed("POST experiments/create answered no experiment id for '" + name + "'");
    return id;
}

// The experiment's active runs that LossLab sent, by uid: one each, unless a request was
// applied twice or two exports ran at once.
std::map<std::string, std::vector<ServerRun>> sentRuns(Server& server, const std::string& experiment) {
    std::map<std::string, std::vector<ServerRun>> out;
    std::string token;
    do {
        std::string body = "{\"experiment_ids\":[" + jsonString(experiment) + "],\"max_results\":1000,\"run_view_type\":\"ACTIVE_ONLY\"";
        if (!token.empty()) body += ",\"page_token\":" + jsonString(token);
        const YAML::Node answer = server.post("runs/search", body + "}");
        const YAML::Node runs = field(answer, "runs");
        if (runs && !runs.IsSequence() && !runs.IsNull()) server.malformed("POST runs/search answered 'runs' that are no list");
        for (const auto& run : runs) {
            ServerRun sr;
            sr.id = runIdOf(field(run, "info"));
            if (sr.id.empty()) server.malformed("POST runs/search answered a run with no run id");
            sr.startTime = std::strtoll(text(field(field(run, "info"), "start_time")).c_str(), nullptr, 10);
            for (const auto& tag : field(field(run, "data"), "tags")) sr.tags[text(field(tag, "key"))] = text(field(tag, "value"));
            const auto uid = sr.tags.find(kUidTag);
            if (uid != sr.tags.end()) out[uid->second].push_back(std::move(sr));
        }
        token = text(field(answer, "next_page_token"));
    } while (!token.empty());
    return out;
}

std::string runName(const ExportedRun& run) {
    const RunRecord& r = run.record;
    return r.taskId + " " + r.lossName + " " + r.protocol + (run.recipeLabel.empty() ? "" : " (" + run.recipeLabel + ")") +
           " seed" + std::to_string(r.seed);
}

KeyValues tagsOf(const RunStore& store, const ExportedRun& run) {
    const RunRecord& r = run.record;
    KeyValues tags = {{"mlflow.runName", runName(run)},
                      {"mlflow.source.name", "losslab"},
                      {kUidTag, r.uid},
                      {"losslab.run_id", std::to_string(r.id)},
                      {"losslab.experiment", r.experiment + "#" + std::to_string(r.experimentId)},
                      {"losslab.task", r.taskId},
                      {"losslab.loss", r.lossName},
                      {"losslab.protocol", r.protocol},
                      {"losslab.status", runStatusName(r.status)},
                      {"losslab.epochs", std::to_string(r.epochs)},
                      // The seeds of one recipe share this: group or filter by it to pool them.
                      {"losslab.group", r.experiment + "#" + std::to_string(r.experimentId) + " " + r.taskId + " " + r.lossName +
                                            " " + r.protocol + (run.recipeLabel.empty() ? "" : " (" + run.recipeLabel + ")")}};
    const auto add = [&](const std::string& key, const std::string& value) {
        if (!value.empty()) tags.emplace_back(key, tagValue(value));
    };
    add("losslab.recipe", run.recipeLabel);
    add("losslab.error", r.error);
    add("losslab.device", r.device);
    add("losslab.library", r.library);
    add("losslab.threads", r.threads > 0 ? std::to_string(r.threads) : "");
    add("losslab.reused_from", r.reusedFrom);
    add("losslab.tags", r.tags);
    add("losslab.spec", r.specYaml);
    std::string note = runSummaryMarkdown(r, run.reported);
    if (r.bestEpoch > 0)
        for (const char* split : {"train", "val", "test"})
            for (const CalibrationRow& row : store.reportedCalibration({r.id}, split)) {
                const std::string table = reliabilityMarkdown(row);
                add(std::string("losslab.reliability.") + split, table);
                note += "\n" + table;
            }
    add("mlflow.note.content", note);
    return tags;
}

class RunSender {
public:
    RunSender(Server& server, std::string runId) : m_server(server), m_runId(std::move(runId)) {}

    // Params from `params`, points from `points[from...]`, in requests within MLflow's limits;
    // each carries the tags that say how much the run now holds.
    void sendData(const KeyValues& params, bool withParams, const std::vector<Point>& points, std::size_t from, Digest digest) {
        std::size_t nextParam = withParams ? 0 : params.size(), nextPoint = from;
        while (nextParam < params.size() || nextPoint < points.size()) {
            const std::size_t paramEnd = std::min(params.size(), nextParam + kMaxParams);
            for (std::size_t i = nextParam; i < paramEnd; ++i) digest.add(params[i]);
            const std::size_t room = std::min(kMaxMetrics, kMaxEntities - 2 - (paramEnd - nextParam));
            const std::size_t pointEnd = paramEnd < params.size() ? nextPoint : std::min(points.size(), nextPoint + room);
            for (std::size_t i = nextPoint; i < pointEnd; ++i) digest.add(points[i]);
            const KeyValues state = {{kExportedTag, std::to_string(pointEnd)}, {kDigestTag, digest.hex()}};
            logBatch(pairsJson(params, nextParam, paramEnd), pointsJson(points, nextPoint, pointEnd), pairsJson(state, 0, state.size()));
            nextParam = paramEnd;
            nextPoint = pointEnd;
        }
    }

    void sendTags(const KeyValues& tags, const std::vector<Point>& extraPoints) {
        for (std::size_t from = 0; from < tags.size() || (from == 0 && !extraPoints.empty()); from += kMaxTags) {
            const std::size_t to = std::min(tags.size(), from + kMaxTags);
            logBatch("[]", from == 0 ? pointsJson(extraPoints, 0, extraPoints.size()) : "[]", pairsJson(tags, from, to));
        }
    }

private:
    void logBatch(const std::string& params, const std::string& metrics, const std::string& tags) {
        m_server.post("runs/log-batch", "{\"run_id\":" + jsonString(m_runId) + ",\"metrics\":" + metrics +
                                            ",\"params\":" + params + ",\"tags\":" + tags + "}");
    }

    Server& m_server;
    std::string m_runId;
};

// What an MLflow run holds of a stored run, by its tags losslab.exported and losslab.digest.
struct Held {
    enum Kind { Other, Nothing, Prefix }; // worst to best
    // Prefix: the first `points` stored points (and the params); Nothing: no tags, cut off
    // before its first log-batch; Other: points the stored run no longer begins with.
    Kind kind = Nothing;
    std::size_t points = 0;
    Digest digest; // of the params and those points
};

Held heldBy(const ServerRun& run, const KeyValues& params, const std::vector<Point>& points) {
    Held h;
    const auto exported = run.tags.find(kExportedTag), hash = run.tags.find(kDigestTag);
    if (exported == run.tags.end() || hash == run.tags.end()) return h;
    h.points = std::strtoull(exported->second.c_str(), nullptr, 10);
    for (const auto& p : params) h.digest.add(p);
    for (std::size_t i = 0; i < std::min(h.points, points.size()); ++i) h.digest.add(points[i]);
    h.kind = h.points <= points.size() && h.digest.hex() == hash->second ? Held::Prefix : Held::Other;
    return h;
}

// Of two MLflow runs with one uid, whether `a` is the one to keep: the better Held kind, then
// more points, then the earlier start, then the smaller run id. The same choice on every
// export, whatever order the server lists them in.
bool keepRather(const ServerRun& a, const Held& ha, const ServerRun& b, const Held& hb) {
    if (ha.kind != hb.kind) return ha.kind > hb.kind;
    if (ha.kind == Held::Prefix && ha.points != hb.points) return ha.points > hb.points;
    if (a.startTime != b.startTime) return a.startTime < b.startTime;
    return a.id < b.id;
}

} // namespace

MlflowExportResult exportMlflow(const RunStore& store, const MlflowExportRequest& request, mlflow::Connection& connection) {
    const ExportSelection selection = selectExportedRuns(store, request.experiments);
    Server server(connection);
    MlflowExportResult result;
    result.experiments = selection.experiments;

    std::map<std::int64_t, std::pair<std::string, std::map<std::string, std::vector<ServerRun>>>> experiments; // id -> MLflow id, its runs
    const RunRecord* current = nullptr;
    try {
        for (const ExportedRun& run : selection.runs) {
            const RunRecord& r = run.record;
            if (!hasStarted(r)) {
                ++result.notStarted;
                continue;
            }
            auto found = experiments.find(r.experimentId);
            if (found == experiments.end()) {
                const std::string name = r.experiment + "#" + std::to_string(r.experimentId);
                const std::string id = experimentId(server, name, connection.address());
                found = experiments.emplace(r.experimentId, std::make_pair(id, sentRuns(server, id))).first;
                result.mlflowExperiments.push_back(name + " (id " + id + ")");
            }
            const std::string& mlflowExperiment = found->second.first;
            auto& onServer = found->second.second;

            current = &r;
            const std::vector<EpochMetricRow> epochs = store.epochMetrics({r.id});
            const std::vector<StepMetricRow> steps = store.stepMetrics(r.id);
            const RunTimeline time(r, epochs, steps);
            const std::vector<Point> points = pointsOf(r, epochs, steps, time);
            const KeyValues params = paramsOf(r);

            // What the server holds of this run, and whether the stored run still begins with it.
            Sent outcome = Sent::Created;
            std::string runId;
            std::size_t from = 0;
            bool withParams = true;
            bool reportedSent = false;
            Digest digest;
            std::vector<std::string> trashed; // other MLflow runs with this uid
            const auto existing = onServer.find(r.uid);
            if (existing != onServer.end() && !existing->second.empty()) {
                std::vector<ServerRun>& candidates = existing->second;
                std::vector<Held> held;
                std::size_t keep = 0;
                for (std::size_t i = 0; i < candidates.size(); ++i) {
                    held.push_back(heldBy(candidates[i], params, points));
                    if (keepRather(candidates[i], held[i], candidates[keep], held[keep])) keep = i;
                }
                for (std::size_t i = 0; i < candidates.size(); ++i)
                    if (i != keep) {
                        server.post("runs/delete", "{\"run_id\":" + jsonString(candidates[i].id) + "}");
                        trashed.push_back(candidates[i].id);
                        ++result.duplicates;
                    }
                candidates = {candidates[keep]};
                const Held& h = held[keep];
                runId = candidates.front().id;
                if (h.kind == Held::Nothing) {
                    outcome = Sent::Appended; // created, but cut off before its first points
                } else if (h.kind == Held::Prefix) {
                    from = h.points;
                    withParams = false;
                    digest = h.digest;
                    outcome = from == points.size() ? Sent::Unchanged : Sent::Appended;
                    const auto& tags = candidates.front().tags;
                    const auto reported = tags.find(kReportedTag);
                    reportedSent = reported != tags.end() && reported->second == std::to_string(r.bestEpoch);
                } else {
                    server.post("runs/delete", "{\"run_id\":" + jsonString(runId) + "}");
                    runId.clear();
                    outcome = Sent::Replaced;
                }
            }
            if (runId.empty()) {
                const std::string body = "{\"experiment_id\":" + jsonString(mlflowExperiment) +
                                         ",\"run_name\":" + jsonString(runName(run)) +
                                         ",\"start_time\":" + std::to_string(millis(time.start())) +
                                         ",\"tags\":" + pairsJson({{kUidTag, r.uid}}, 0, 1) + "}";
                runId = runIdOf(field(field(server.post("runs/create", body), "run"), "info"));
                if (runId.empty()) server.malformed("POST runs/create answered no run id");
                onServer[r.uid] = {ServerRun{runId, millis(time.start()), {}}};
            }

            RunSender sender(server, runId);
            sender.sendData(params, withParams, points, from, digest);
            std::vector<Point> reported;
            KeyValues tags = tagsOf(store, run);
            if (r.bestEpoch > 0 && !reportedSent) {
                for (const auto& [key, value] : run.reported)
                    reported.push_back({mlflowKey("reported/" + key), value, millis(time.epochEnd(r.bestEpoch)), r.bestEpoch});
                if (!reported.empty()) tags.emplace_back(kReportedTag, std::to_string(r.bestEpoch));
            }
            sender.sendTags(tags, reported);
            std::string update = "{\"run_id\":" + jsonString(runId) + ",\"status\":\"" + mlflowStatus(r.status) + "\"";
            if (isFinal(r.status) && !r.finishedAt.empty()) update += ",\"end_time\":" + std::to_string(millis(unixSeconds(r.finishedAt)));
            server.post("runs/update", update + "}");

            const std::size_t sent = points.size() - from + reported.size();
            result.points += static_cast<std::int64_t>(sent);
            switch (outcome) {
            case Sent::Created: ++result.created; break;
            case Sent::Appended: ++result.appended; break;
            case Sent::Unchanged: ++result.unchanged; break;
            case Sent::Replaced: ++result.replaced; break;
            }
            if (request.progress) {
                std::string line = r.experiment + "#" + std::to_string(r.experimentId) + " " + runName(run) + " (run " + std::to_string(r.id) +
                                   "): " + sentName(outcome) + ", " + std::to_string(sent) + " point(s) sent, MLflow run " + runId;
                if (!trashed.empty()) {
                    line += "; " + std::to_string(trashed.size()) + " other MLflow run(s) with its losslab.uid moved to MLflow's trash:";
                    for (const std::string& id : trashed) line += " " + id;
                }
                request.progress(line);
            }
        }
    } catch (const Error& e) {
        // Cut off half way: say what the server holds now.
        const int done = result.created + result.appended + result.unchanged + result.replaced;
        throw Error(std::string(e.what()) + "; " + std::to_string(done) + " run(s) were sent whole before this" +
                    (current ? ", and run " + std::to_string(current->id) + " holds what it was sent so far" : std::string()) +
                    ": export again to go on from there");
    }
    return result;
}

} // namespace losslab
