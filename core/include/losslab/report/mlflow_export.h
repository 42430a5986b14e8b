#pragma once
// Stored runs sent to an MLflow tracking server through its REST API (/api/2.0/mlflow/), so
// they can be compared in MLflow beside other programs' runs. Any tracking server will do:
// `mlflow server --backend-store-uri sqlite:///mlflow.db` on the workstation, or a shared one
// (https, with MLflow's token or user and password). The calls: experiments/get-by-name and
// create; runs/create, search, log-batch, update and delete.
//
// One MLflow experiment per stored experiment instance, named "<experiment>#<id>". One MLflow
// run per started run, found again by its tag losslab.uid:
//   - params: the run's resolved settings, flattened ("train.batch_size", "model.hidden"), and
//     loss_type, k, M, lr;
//   - metrics: every stored epoch metric as "<split>/<metric>" at step = epoch ("val/acc",
//     "test/loss"); every step metric as "step/<metric>" at step = the optimiser step; every
//     metric at the reported epoch as "reported/<split>/<metric>" at step = that epoch (the
//     newest reported epoch has the largest step, so MLflow's run table shows its value).
//     Timestamps: the run's start plus its training seconds, as in the TensorBoard export;
//   - tags: losslab.* (uid, run id, experiment, status, error, device, library, threads,
//     recipe label, group, reused_from, the spec, reliability tables) and mlflow.runName,
//     mlflow.note.content (the run's settings as Markdown);
//   - status: completed and diverged runs FINISHED, failed FAILED, cancelled and interrupted
//     KILLED, running RUNNING; end time where the run ended.
//
// Exporting again sends only what the server lacks. A run's tags losslab.exported (points
// sent) and losslab.digest (a hash of its params and those points, in a fixed order: epoch by
// epoch) say what it holds. Where the stored run still begins with those points, the rest is
// appended; where it does not (a resumed run retrained epochs the server has), the MLflow run
// is deleted (MLflow keeps it in its trash) and sent again whole. While a run trains, only
// epochs whose metrics are stored are sent, with their steps; a run that has ended also has
// the steps of its unfinished last epoch sent (a diverged run's steps up to the divergence). Requests stay within MLflow's limits (1000 metrics,
// 100 params, 100 tags each), and each request that adds points also moves the two tags, so
// an export cut off half way is completed by the next. A request that changes something is
// never sent twice where the server may have acted on it (see repeatable()); where that leaves
// two MLflow runs with one losslab.uid anyway (a proxy that sent runs/create again, two exports
// at once), the next export keeps one: the one whose tags verify against the stored run with
// the most points, then one cut off before its first points, then any; ties go to the earliest
// start time, then the smallest run id. The others go to MLflow's trash (runs/delete). The
// database is only read. Torch-free, Qt-free.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace losslab {

class RunStore;

namespace mlflow {

struct Response {
    long status = 0; // HTTP status
    std::string body;
};

// How the exporter reaches a tracking server. Endpoints are relative to /api/2.0/mlflow/
// ("runs/create"); bodies and answers are JSON. Throws Error where the server cannot be
// reached; an HTTP error status is an answer, not an exception.
class Connection {
public:
    virtual ~Connection() = default;
    virtual std::string address() const = 0; // for messages: the tracking URI
    virtual Response post(const std::string& endpoint, const std::string& json) = 0;
    virtual Response get(const std::string& endpoint, const std::string& query) = 0; // query URL-encoded
};

// MLflow's Python client: MLFLOW_HTTP_REQUEST_TIMEOUT 120 s, MLFLOW_HTTP_REQUEST_MAX_RETRIES 5
// (it refuses 10 and more). LossLab tries twice more, not five times: a hung server that
// answers no GET costs 3 x 120 s, not 6 x 120 s.
constexpr int kDefaultTimeoutSeconds = 120, kDefaultMaxRetries = 2, kMostRetries = 9;

struct ServerOptions {
    std::string trackingUri;   // http:// or https://, with any path prefix
    std::string token;         // Authorization: Bearer (MLFLOW_TRACKING_TOKEN)
    std::string user, password; // basic authentication (MLFLOW_TRACKING_USERNAME/_PASSWORD)
    bool insecureTls = false;  // MLFLOW_TRACKING_INSECURE_TLS=true: no certificate check
    std::string caFile;        // MLFLOW_TRACKING_SERVER_CERT_PATH: the server's CA bundle
    // MLFLOW_HTTP_REQUEST_TIMEOUT: the seconds one request may take, its connection included.
    int timeoutSeconds = kDefaultTimeoutSeconds;
    // MLFLOW_HTTP_REQUEST_MAX_RETRIES: how often a request is sent again where that is safe.
    int maxRetries = kDefaultMaxRetries;
    // A bad value of those two variables, said by connectHttp (a window reads the options
    // where it cannot show an error, and connects where it can).
    std::string invalid;
};

// `trackingUri`, or MLFLOW_TRACKING_URI where it is empty, and the credentials, TLS settings,
// timeout and retries from MLflow's own environment variables. Throws nothing: a bad value is
// kept in `invalid`.
ServerOptions serverOptionsFromEnvironment(const std::string& trackingUri);

// Whether a request may be sent again where it is unclear whether the server acted on it (no
// answer within the timeout, a connection that broke after the request went out, HTTP 502 or
// 504 from a gateway): a GET and runs/search change nothing, runs/update sets the same status
// again. runs/create, runs/log-batch, runs/delete and experiments/create would act twice; they
// are sent again only where the server certainly did nothing (no connection, HTTP 429 or 503).
bool repeatable(const std::string& endpoint, bool post);

// Said where a request that changes something may have been applied though no answer said so.
inline constexpr const char* kMayHaveApplied =
    "the request may have reached MLflow and been applied all the same, so it was not sent again; export again: "
    "that checks what the server holds and mends it";

// Whether this build can speak HTTP (it is built with libcurl).
bool httpAvailable();

// A connection over HTTP(S). Throws Error naming the URI where it is not http:// or https://
// (a sqlite:// or file: store needs a server in front of it) or the build lacks libcurl.
std::unique_ptr<Connection> connectHttp(const ServerOptions& options);

std::string urlEncode(std::string_view text);

} // namespace mlflow

struct MlflowExportRequest {
    // As ReportRequest::experiments: names (their latest instance), "name#id", or empty for
    // the latest instance of every name.
    std::vector<std::string> experiments;
    // Called after each run is sent, with a line that says what happened to it.
    std::function<void(const std::string&)> progress;
};

struct MlflowExportResult {
    int experiments = 0;
    int created = 0;    // runs the server did not have
    int appended = 0;   // runs that had fewer points than stored now: the rest sent
    int unchanged = 0;  // runs the server had whole: at most their tags and status updated
    int replaced = 0;   // runs whose stored points no longer begin with those sent: sent again
    int notStarted = 0; // runs with nothing stored yet: not sent
    int duplicates = 0; // MLflow runs with the losslab.uid of another that was kept: moved to MLflow's trash
    std::int64_t points = 0; // metric points sent
    std::vector<std::string> mlflowExperiments; // "name (id ID)", in order
};

// Sends the selected experiments' runs. Throws Error naming an unknown experiment, or the
// endpoint, HTTP status and MLflow's error where the server refuses a request, or the endpoint
// where an answer is not the JSON object MLflow sends (runs sent
// before it stay sent; exporting again goes on from there).
MlflowExportResult exportMlflow(const RunStore& store, const MlflowExportRequest& request, mlflow::Connection& server);

} // namespace losslab
