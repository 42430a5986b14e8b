// The MLflow export's HTTP(S) connection, through libcurl (libcurl4-openssl-dev). Optional
// like the image reader: a build without libcurl has everything but this, and says so.
#include "losslab/report/mlflow_export.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>

#include "losslab/error.h"

#ifdef LOSSLAB_HAVE_CURL
#include <curl/curl.h>

#include <mutex>
#endif

namespace losslab::mlflow {

namespace {

// The URI without a trailing '/'; Error where it is no http(s) address.
std::string baseAddress(const std::string& uri) {
    if (uri.empty())
        throw Error("no MLflow tracking server given: pass --tracking-uri http://HOST:PORT or set MLFLOW_TRACKING_URI "
                    "(start one with: mlflow server --backend-store-uri sqlite:///mlflow.db)");
    if (uri.rfind("http://", 0) != 0 && uri.rfind("https://", 0) != 0)
        throw Error("tracking URI '" + uri + "': LossLab sends runs to an MLflow tracking server over HTTP, so it needs "
                    "http://HOST:PORT or https://...; a store such as sqlite:///mlflow.db or ./mlruns needs a server in "
                    "front of it: mlflow server --backend-store-uri sqlite:///mlflow.db, then --tracking-uri http://127.0.0.1:5000");
    std::string base = uri;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base;
}

} // namespace

#ifdef LOSSLAB_HAVE_CURL

namespace {

// The longest Retry-After of a busy server (HTTP 429 or 503) that is waited for.
constexpr curl_off_t kMostRetryAfterSeconds = 60;

std::size_t collect(char* data, std::size_t size, std::size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
}

class CurlConnection final : public Connection {
public:
    explicit CurlConnection(ServerOptions options) : m_options(std::move(options)), m_base(baseAddress(m_options.trackingUri)) {
        static std::once_flag once;
        std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
        m_curl = curl_easy_init();
        if (!m_curl) throw Error("MLflow export: libcurl could not start");
        m_headers = curl_slist_append(m_headers, "Content-Type: application/json");
        m_headers = curl_slist_append(m_headers, "Accept: application/json");
        if (!m_options.token.empty()) m_headers = curl_slist_append(m_headers, ("Authorization: Bearer " + m_options.token).c_str());
    }
    ~CurlConnection() override {
        curl_slist_free_all(m_headers);
        curl_easy_cleanup(m_curl);
    }
    CurlConnection(const CurlConnection&) = delete;
    CurlConnection& operator=(const CurlConnection&) = delete;

    std::string address() const override { return m_options.trackingUri; }
    Response post(const std::string& endpoint, const std::string& json) override { return send(endpoint, "", &json); }
    Response get(const std::string& endpoint, const std::string& query) override { return send(endpoint, query, nullptr); }

private:
    // One request, sent again (after 0.5 s, 1 s, ..., or the server's Retry-After where longer;
    // at most maxRetries times) only where that is safe: where the server certainly did nothing (no connection: it was not reached; HTTP
    // 429 or 503: it turned the request away), and for a repeatable() request also where it may
    // have acted (no answer within the timeout, a connection broken after the request went out,
    // HTTP 502 or 504: a gateway's word on a server that may have answered it too late).
    Response send(const std::string& endpoint, const std::string& query, const std::string* body) {
        const std::string url = m_base + "/api/2.0/mlflow/" + endpoint + (query.empty() ? "" : "?" + query);
        const std::string call = std::string(body ? "POST " : "GET ") + endpoint;
        const bool again = repeatable(endpoint, body != nullptr);
        const long timeout = m_options.timeoutSeconds;
        for (int attempt = 1;; ++attempt) {
            Response r;
            curl_easy_reset(m_curl);
            curl_easy_setopt(m_curl, CURLOPT_URL, url.c_str());
            curl_easy_setopt(m_curl, CURLOPT_HTTPHEADER, m_headers);
            curl_easy_setopt(m_curl, CURLOPT_USERAGENT, "losslab-mlflow-export");
            curl_easy_setopt(m_curl, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(m_curl, CURLOPT_CONNECTTIMEOUT, std::min(15L, timeout));
            curl_easy_setopt(m_curl, CURLOPT_TIMEOUT, timeout);
            curl_easy_setopt(m_curl, CURLOPT_WRITEFUNCTION, collect);
            curl_easy_setopt(m_curl, CURLOPT_WRITEDATA, &r.body);
            if (body) {
                curl_easy_setopt(m_curl, CURLOPT_POST, 1L);
                curl_easy_setopt(m_curl, CURLOPT_POSTFIELDS, body->data());
                curl_easy_setopt(m_curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body->size()));
            }
            if (!m_options.user.empty()) {
                curl_easy_setopt(m_curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
                curl_easy_setopt(m_curl, CURLOPT_USERNAME, m_options.user.c_str());
                curl_easy_setopt(m_curl, CURLOPT_PASSWORD, m_options.password.c_str());
            }
            if (m_options.insecureTls) {
                curl_easy_setopt(m_curl, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(m_curl, CURLOPT_SSL_VERIFYHOST, 0L);
            }
            if (!m_options.caFile.empty()) curl_easy_setopt(m_curl, CURLOPT_CAINFO, m_options.caFile.c_str());
            const CURLcode code = curl_easy_perform(m_curl);
            curl_off_t connected = 0; // microseconds until the connection stood; 0: it never did
            curl_easy_getinfo(m_curl, CURLINFO_CONNECT_TIME_T, &connected);
            const bool unreachable = code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
                                     code == CURLE_COULDNT_RESOLVE_PROXY || (code == CURLE_OPERATION_TIMEDOUT && connected == 0);
            if (code == CURLE_OK) curl_easy_getinfo(m_curl, CURLINFO_RESPONSE_CODE, &r.status);
            // After the request may have gone out: no answer in time, or none at all.
            const bool lost = (code == CURLE_OPERATION_TIMEDOUT && connected != 0) || code == CURLE_GOT_NOTHING || code == CURLE_SEND_ERROR ||
                              code == CURLE_RECV_ERROR || code == CURLE_PARTIAL_FILE || code == CURLE_HTTP2_STREAM;
            const bool turnedAway = code == CURLE_OK && (r.status == 429 || r.status == 503);
            const bool unclear = lost || (code == CURLE_OK && (r.status == 502 || r.status == 504));
            if (attempt <= m_options.maxRetries && (unreachable || turnedAway || (again && unclear))) {
                std::chrono::milliseconds wait(500 * attempt);
                if (turnedAway) {
                    // The server's Retry-After (seconds or a date; 0 where absent) is waited for,
                    // as MLflow's client does, up to kMostRetryAfterSeconds: a longer wait would
                    // look like a hang, so the export stops and says when to try again.
                    curl_off_t retryAfter = 0;
                    curl_easy_getinfo(m_curl, CURLINFO_RETRY_AFTER, &retryAfter);
                    if (retryAfter > kMostRetryAfterSeconds)
                        throw Error("MLflow at " + m_options.trackingUri + ": " + call + " answered HTTP " +
                                    std::to_string(r.status) + " and asks to be sent again in " + std::to_string(retryAfter) +
                                    " s (Retry-After), longer than the " + std::to_string(kMostRetryAfterSeconds) +
                                    " s LossLab waits; nothing was changed by it: export again later");
                    wait = std::max(wait, std::chrono::milliseconds(1000 * retryAfter));
                }
                std::this_thread::sleep_for(wait);
                continue;
            }
            if (code == CURLE_OK) return r;
            const std::string tries = attempt > 1 ? "; tried " + std::to_string(attempt) + " times (MLFLOW_HTTP_REQUEST_MAX_RETRIES sets how often)" : "";
            if (!lost) // nothing went out: no connection, or one refused (TLS)
                throw Error("cannot reach the MLflow tracking server at " + m_options.trackingUri + " (" + endpoint + "): " +
                            curl_easy_strerror(code) + tries + (unreachable ? "; is `mlflow server` running there?" : ""));
            const std::string what = code == CURLE_OPERATION_TIMEDOUT
                                         ? "got no answer within " + std::to_string(timeout) +
                                               " s (MLFLOW_HTTP_REQUEST_TIMEOUT=SECONDS sets how long to wait)"
                                         : std::string("lost its connection before the answer came (") + curl_easy_strerror(code) + ")";
            throw Error("MLflow at " + m_options.trackingUri + ": " + call + " " + what + tries + (again ? "" : std::string("; ") + kMayHaveApplied));
        }
    }

    ServerOptions m_options;
    std::string m_base;
    CURL* m_curl = nullptr;
    curl_slist* m_headers = nullptr;
};

} // namespace

bool httpAvailable() { return true; }

std::unique_ptr<Connection> connectHttp(const ServerOptions& options) {
    baseAddress(options.trackingUri);
    if (!options.invalid.empty()) throw Error(options.invalid);
    return std::make_unique<CurlConnection>(options);
}

#else

bool httpAvailable() { return false; }

std::unique_ptr<Connection> connectHttp(const ServerOptions& options) {
    baseAddress(options.trackingUri); // a wrong URI is still the first thing to hear about
    if (!options.invalid.empty()) throw Error(options.invalid);
    throw Error("this LossLab was built without libcurl, so it cannot send runs to MLflow: install libcurl4-openssl-dev "
                "(scripts/install-deps.sh) and build again");
}

#endif

} // namespace losslab::mlflow
