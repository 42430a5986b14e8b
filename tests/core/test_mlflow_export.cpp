// losslab-cli export --format mlflow: stored runs sent to an MLflow tracking server. Here the
// server is an in-process stand-in that keeps MLflow's rules for the calls LossLab makes
// (log-batch limits, params that cannot change, deleted runs) and can refuse a request on
// purpose; tests/cli's export-mlflow case does the same over HTTP with a Python stand-in.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <tuple>
#include <set>
#include <string>
#include <vector>

#include "error_matchers.h"
#include "losslab/error.h"
#include "losslab/report/json_text.h"
#include "losslab/report/mlflow_export.h"
#include "losslab/store/run_store.h"
#include "report_fixture.h"
#include "scratch_dir.h"

namespace losslab {
namespace {
using fixtures::ScratchDir;

struct FakeRun {
    std::string experimentId;
    std::int64_t startTime = 0;
    bool deleted = false;
    std::string status;
    std::map<std::string, std::string> params, tags;
    std::multiset<std::tuple<std::string, std::int64_t, double>> metrics; // key, step, value
};

double numberOf(const YAML::Node& node) {
    const std::string text = node.Scalar();
    if (text == "NaN") return std::nan("");
    if (text == "Infinity") return INFINITY;
    if (text == "-Infinity") return -INFINITY;
    return node.as<double>();
}

class FakeMlflow : public mlflow::Connection {
public:
    std::map<std::string, std::string> experiments; // name -> id
    std::map<std::string, FakeRun> runs;            // id -> run
    int logBatches = 0;
    int failLogBatch = 0; // refuse this log-batch request (1-based) with HTTP 500, before applying it
    std::map<std::string, std::string> answerInstead; // endpoint -> a body answered with HTTP 200, nothing done
    std::map<std::string, long> appliedThen; // endpoint -> an HTTP status answered once, after acting on it (a gateway's 504)
    std::size_t mostMetrics = 0, mostParams = 0, mostTags = 0;
    bool anotherCreatesTheExperiment = false; // another export creates it between lookup and create

    std::string address() const override { return "http://fake"; }
    mlflow::Response get(const std::string& endpoint, const std::string& query) override {
        EXPECT_EQ(endpoint, "experiments/get-by-name");
        if (answerInstead.count(endpoint)) return {200, answerInstead.at(endpoint)};
        const std::string name = query.substr(query.find('=') + 1);
        for (const auto& [n, id] : experiments)
            if (mlflow::urlEncode(n) == name) return {200, "{\"experiment\":{\"experiment_id\":\"" + id + "\",\"lifecycle_stage\":\"active\"}}"};
        return {404, "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"no experiment\"}"};
    }
    mlflow::Response post(const std::string& endpoint, const std::string& json) override {
        if (answerInstead.count(endpoint)) return {200, answerInstead.at(endpoint)};
        if (endpoint == "experiments/create" && anotherCreatesTheExperiment) {
            apply(endpoint, json);
            return {400, "{\"error_code\":\"RESOURCE_ALREADY_EXISTS\",\"message\":\"Experiment already exists.\"}"};
        }
        const auto gateway = appliedThen.find(endpoint);
        if (gateway == appliedThen.end()) return apply(endpoint, json);
        const long status = gateway->second;
        appliedThen.erase(gateway);
        apply(endpoint, json);
        return {status, "<html><body><h1>" + std::to_string(status) + " Gateway Time-out</h1></body></html>"};
    }
    mlflow::Response apply(const std::string& endpoint, const std::string& json) {
        const YAML::Node body = YAML::Load(json);
        if (endpoint == "experiments/create") {
            const std::string id = std::to_string(experiments.size() + 1);
            experiments[body["name"].as<std::string>()] = id;
            return {200, "{\"experiment_id\":\"" + id + "\"}"};
        }
        if (endpoint == "runs/create") {
            const std::string id = "run" + std::to_string(runs.size() + 1);
            FakeRun& run = runs[id];
            run.experimentId = body["experiment_id"].as<std::string>();
            run.startTime = body["start_time"].as<std::int64_t>();
            run.status = "RUNNING";
            for (const auto& tag : body["tags"]) run.tags[tag["key"].as<std::string>()] = tag["value"].as<std::string>();
            return {200, "{\"run\":{\"info\":{\"run_id\":\"" + id + "\"}}}"};
        }
        if (endpoint == "runs/search") {
            std::string answer = "{\"runs\":[";
            bool first = true;
            for (const auto& [id, run] : runs) {
                if (run.deleted || run.experimentId != body["experiment_ids"][0].as<std::string>()) continue;
                answer += std::string(first ? "" : ",") + "{\"info\":{\"run_id\":\"" + id + "\",\"start_time\":" + std::to_string(run.startTime) +
                          "},\"data\":{\"tags\":[";
                bool firstTag = true;
                for (const auto& [k, v] : run.tags) {
                    answer += std::string(firstTag ? "" : ",") + "{\"key\":" + jsonString(k) + ",\"value\":" + jsonString(v) + "}";
                    firstTag = false;
                }
                answer += "]}}";
                first = false;
            }
            return {200, answer + "]}"};
        }
        FakeRun& run = runs.at(body["run_id"].as<std::string>());
        if (run.deleted) return {400, "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"run is deleted\"}"};
        if (endpoint == "runs/log-batch") {
            ++logBatches;
            if (logBatches == failLogBatch) return {500, "{\"error_code\":\"INTERNAL_ERROR\",\"message\":\"disk full\"}"};
            const std::size_t m = body["metrics"].size(), p = body["params"].size(), t = body["tags"].size();
            mostMetrics = std::max(mostMetrics, m);
            mostParams = std::max(mostParams, p);
            mostTags = std::max(mostTags, t);
            if (m > 1000 || p > 100 || t > 100 || m + p + t > 1000)
                return {400, "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"A batch logging request can contain at most ...\"}"};
            for (const auto& param : body["params"]) {
                const auto key = param["key"].as<std::string>();
                const auto value = param["value"].as<std::string>();
                if (run.params.count(key) && run.params[key] != value)
                    return {400, "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"Changing param values is not allowed\"}"};
            }
            for (const auto& param : body["params"]) run.params[param["key"].as<std::string>()] = param["value"].as<std::string>();
            for (const auto& tag : body["tags"]) run.tags[tag["key"].as<std::string>()] = tag["value"].as<std::string>();
            for (const auto& metric : body["metrics"])
                run.metrics.emplace(metric["key"].as<std::string>(), metric["step"].as<std::int64_t>(), numberOf(metric["value"]));
            return {200, "{}"};
        }
        if (endpoint == "runs/update") {
            run.status = body["status"].as<std::string>();
            return {200, "{}"};
        }
        if (endpoint == "runs/delete") {
            run.deleted = true;
            return {200, "{}"};
        }
        ADD_FAILURE() << "unexpected endpoint " << endpoint;
        return {404, "{}"};
    }

    const FakeRun& activeRunOf(const std::string& uid) const {
        const FakeRun* found = nullptr;
        for (const auto& [id, run] : runs)
            if (!run.deleted && run.tags.count("losslab.uid") && run.tags.at("losslab.uid") == uid) {
                EXPECT_EQ(found, nullptr) << "two active runs with uid " << uid;
                found = &run;
            }
        if (!found) throw std::runtime_error("no active run with uid " + uid);
        return *found;
    }
};

class MlflowExportTest : public ::testing::Test {
protected:
    ScratchDir dir{"losslab-mlflow"};
    RunStore store{(dir.path() / "runs.sqlite").string()};
    FakeMlflow server;

    MlflowExportResult exportAll() { return exportMlflow(store, MlflowExportRequest{}, server); }

    // One run of 4 epochs with `stepsPerEpoch` logged steps each, and a spec of 150 settings.
    RunRecord bigRun(int stepsPerEpoch) {
        ExperimentRecord e;
        e.name = "big";
        e.taskId = "toy/a";
        const std::int64_t experiment = store.addExperiment(e);
        RunRecord r;
        r.taskId = "toy/a";
        r.lossName = r.loss = "square";
        r.k = 15;
        r.M = 30;
        r.lr = 0.1;
        r.protocol = "early_stopping";
        r.seed = 7;
        r.specYaml = "task: toy/a\nseed: 7\ntrain:\n";
        for (int i = 0; i < 150; ++i) r.specYaml += "  setting" + std::to_string(i) + ": " + std::to_string(i) + "\n";
        const std::int64_t id = store.addRuns(experiment, {r}).front();
        store.markStarted(id, "cpu", 0, "LibTorch 2.6.0", 2);
        std::int64_t step = 0;
        for (int epoch = 1; epoch <= 4; ++epoch) {
            std::vector<StepMetricRow> steps;
            for (int i = 0; i < stepsPerEpoch; ++i) {
                ++step;
                steps.push_back({id, step, epoch, "train_loss", 1.0 / static_cast<double>(step)});
                steps.push_back({id, step, epoch, "lr", 0.1});
            }
            store.appendSteps(steps);
            store.appendEpoch(id, epoch, {{"train", "wall_s", 2.0}, {"val", "acc", 0.5 + 0.01 * epoch}, {"test", "acc", 0.4 + 0.01 * epoch},
                                          {"test", "loss", epoch == 4 ? std::nan("") : 1.0 / epoch}});
        }
        store.finishRun(id, RunStatus::Completed, 4, 3, 8.0, "");
        store.flush();
        return store.runs().front();
    }

    // Every stored point of run `r` is in `run` exactly once: epochs, steps, and the reported epoch's.
    void expectEveryPointOnce(const RunRecord& r, const FakeRun& run) {
        std::multiset<std::tuple<std::string, std::int64_t, double>> want;
        for (const auto& row : store.epochMetrics({r.id})) want.emplace(row.value.split + "/" + row.value.metric, row.epoch, row.value.value);
        for (const auto& row : store.stepMetrics(r.id)) want.emplace("step/" + row.metric, row.step, row.value);
        for (const auto& row : store.reportedMetrics({r.id}))
            want.emplace("reported/" + row.value.split + "/" + row.value.metric, row.epoch, row.value.value);
        // NaN never equals itself: compare NaN as a marker.
        const auto tidy = [](const std::multiset<std::tuple<std::string, std::int64_t, double>>& in) {
            std::multiset<std::tuple<std::string, std::int64_t, std::string>> out;
            for (const auto& [k, s, v] : in) out.emplace(k, s, std::isnan(v) ? "nan" : std::to_string(v));
            return out;
        };
        EXPECT_EQ(tidy(run.metrics), tidy(want));
    }
};

TEST(JsonTextTest, StringsAreEscapedAndInvalidUtf8IsReplaced) {
    EXPECT_EQ(jsonString("a\"b\\c\nd\te\x01"), "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
    EXPECT_EQ(jsonString("é € 😀"), "\"é € 😀\"");
    const std::string fffd = "\xef\xbf\xbd";
    EXPECT_EQ(jsonString("a\xff" "b"), "\"a" + fffd + "b\"");
    EXPECT_EQ(jsonString("\xc0\xaf"), "\"" + fffd + fffd + "\"");       // overlong '/'
    EXPECT_EQ(jsonString("\xed\xa0\x80"), "\"" + fffd + fffd + fffd + "\""); // a surrogate
    EXPECT_EQ(jsonString("x\xe2\x82"), "\"x" + fffd + fffd + "\"");     // cut short
    EXPECT_EQ(jsonNumber(std::nan("")), "\"NaN\"");
    EXPECT_EQ(jsonNumber(INFINITY), "\"Infinity\"");
    EXPECT_EQ(jsonNumber(-INFINITY), "\"-Infinity\"");
    EXPECT_EQ(jsonNumber(0.1), "0.1");
    EXPECT_EQ(jsonNumber(1e-5), "1e-05");
    EXPECT_EQ(mlflow::urlEncode("tiny#1 a/b"), "tiny%231%20a%2Fb");
}

TEST_F(MlflowExportTest, ManyPointsAndParamsGoInRequestsWithinMlflowsLimits) {
    const RunRecord r = bigRun(300); // 4 x 600 step points + 16 epoch points + 4 reported
    const MlflowExportResult result = exportAll();
    EXPECT_EQ(result.created, 1);
    EXPECT_EQ(result.points, 2400 + 16 + 4);
    const FakeRun& run = server.activeRunOf(r.uid);
    expectEveryPointOnce(r, run);
    EXPECT_LE(server.mostMetrics, 1000u);
    EXPECT_LE(server.mostParams, 100u);
    EXPECT_EQ(server.mostParams, 100u); // more than 100 params: split
    EXPECT_GE(server.logBatches, 4);
    EXPECT_EQ(run.params.at("train.setting149"), "149");
    EXPECT_EQ(run.params.at("k"), "15");
    EXPECT_EQ(run.params.at("M"), "30");
    EXPECT_EQ(run.params.at("loss_type"), "square");
    EXPECT_EQ(run.tags.at("losslab.exported"), std::to_string(2400 + 16));
    EXPECT_EQ(run.tags.at("losslab.status"), "completed");
    EXPECT_EQ(run.tags.at("losslab.reported_epoch"), "3");
    EXPECT_EQ(run.status, "FINISHED");
    EXPECT_EQ(server.experiments.count("big#1"), 1u);

    const int before = server.logBatches;
    const MlflowExportResult again = exportAll();
    EXPECT_EQ(again.unchanged, 1);
    EXPECT_EQ(again.points, 0);
    EXPECT_EQ(server.logBatches - before, 1); // the tags only
    expectEveryPointOnce(r, server.activeRunOf(r.uid));
}

TEST_F(MlflowExportTest, AnExportCutOffHalfWayIsCompletedByTheNextWithNothingSentTwice) {
    const RunRecord r = bigRun(300);
    server.failLogBatch = 4; // after params and the first points
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { exportAll(); }, {"MLflow at http://fake: POST runs/log-batch answered HTTP 500 (INTERNAL_ERROR: disk full)",
                                                                "; 0 run(s) were sent whole before this, and run " + std::to_string(r.id) +
                                                                    " holds what it was sent so far: export again to go on from there"}));
    const std::string held = server.activeRunOf(r.uid).tags.at("losslab.exported");
    EXPECT_NE(held, "0");
    EXPECT_NE(held, std::to_string(2400 + 16));

    const MlflowExportResult result = exportAll();
    EXPECT_EQ(result.appended, 1);
    EXPECT_EQ(result.points, 2400 + 16 - std::stoll(held) + 4);
    expectEveryPointOnce(r, server.activeRunOf(r.uid));
    EXPECT_EQ(server.activeRunOf(r.uid).status, "FINISHED");
}

// Two exports at once into a server without the experiment: the one whose create comes second
// is told it exists and uses it. Before, it stopped with HTTP 400 (RESOURCE_ALREADY_EXISTS).
TEST_F(MlflowExportTest, AnExperimentAnotherExportCreatedFirstIsUsed) {
    fixtures::buildReportFixture(store);
    server.anotherCreatesTheExperiment = true;
    const MlflowExportResult result = exportMlflow(store, MlflowExportRequest{}, server);
    EXPECT_EQ(result.experiments, 1);
    ASSERT_EQ(server.experiments.size(), 1u);
    EXPECT_GT(result.created, 0);
    for (const auto& [id, run] : server.runs) EXPECT_EQ(run.experimentId, server.experiments.begin()->second) << id;
}

TEST_F(MlflowExportTest, ARunWhoseSentEpochsChangedIsSentAgainAndTheOldOneDeleted) {
    fixtures::buildReportFixture(store);
    ASSERT_EQ(exportAll().created, 30);
    const RunRecord r = store.runs().front();
    // Epoch 2 retrained with other numbers (a resumed run on a GPU).
    store.appendEpoch(r.id, 2, {{"test", "acc", 0.123}});
    store.flush();
    const MlflowExportResult result = exportAll();
    EXPECT_EQ(result.replaced, 1);
    EXPECT_EQ(result.unchanged, 29);
    expectEveryPointOnce(r, server.activeRunOf(r.uid));
    int deleted = 0;
    for (const auto& [id, run] : server.runs) deleted += run.deleted;
    EXPECT_EQ(deleted, 1);
    // A diverged run is a finished one in MLflow, with its status in a tag.
    for (const RunRecord& other : store.runs())
        if (other.status == RunStatus::Diverged) {
            EXPECT_EQ(server.activeRunOf(other.uid).status, "FINISHED");
            EXPECT_EQ(server.activeRunOf(other.uid).tags.at("losslab.status"), "diverged");
            EXPECT_EQ(server.activeRunOf(other.uid).tags.at("losslab.error"), "loss became NaN or infinite in epoch 3");
        }
}

TEST_F(MlflowExportTest, ARunThatEndedInTheMiddleOfAnEpochHasThatEpochsStepsSent) {
    // Diverged in epoch 1 (no epoch metrics stored, as `run` does), and one that diverged in
    // epoch 3 after two whole epochs: the steps up to the divergence are the evidence.
    ExperimentRecord e;
    e.name = "div";
    e.taskId = "toy/a";
    const std::int64_t experiment = store.addExperiment(e);
    RunRecord r;
    r.taskId = "toy/a";
    r.lossName = r.loss = "square";
    r.protocol = "early_stopping";
    const std::vector<std::int64_t> ids = store.addRuns(experiment, {r, r});
    const auto train = [&](std::int64_t id, int wholeEpochs) {
        store.markStarted(id, "cpu", 0, "LibTorch 2.6.0", 2);
        std::int64_t step = 0;
        for (int epoch = 1; epoch <= wholeEpochs + 1; ++epoch) {
            store.appendSteps({{id, ++step, epoch, "train_loss", 1.0}, {id, ++step, epoch, "train_loss", epoch > wholeEpochs ? std::nan("") : 0.5}});
            if (epoch <= wholeEpochs) store.appendEpoch(id, epoch, {{"train", "wall_s", 1.0}, {"val", "acc", 0.5}});
        }
        store.finishRun(id, RunStatus::Diverged, wholeEpochs, 0, 1.0, "loss became NaN or infinite");
    };
    train(ids[0], 0);
    train(ids[1], 2);
    store.flush();
    const MlflowExportResult result = exportAll();
    EXPECT_EQ(result.created, 2);
    for (const RunRecord& run : store.runs()) {
        SCOPED_TRACE("run " + std::to_string(run.id));
        const FakeRun& sent = server.activeRunOf(run.uid);
        expectEveryPointOnce(run, sent);
        const std::size_t steps = store.stepMetrics(run.id).size();
        EXPECT_EQ(sent.tags.at("losslab.exported"), std::to_string(steps + 2 * static_cast<std::size_t>(run.epochs)));
    }
    // Nothing more to send, and nothing sent twice.
    const MlflowExportResult again = exportAll();
    EXPECT_EQ(again.unchanged, 2);
    EXPECT_EQ(again.points, 0);
}

TEST_F(MlflowExportTest, AnAnswerThatIsNoJsonObjectIsAnErrorThatNamesTheCall) {
    // A proxy's sign-in page with HTTP 200, JSON of another shape: errors that name the call,
    // never yaml-cpp's "operator[] call on a scalar".
    fixtures::buildReportFixture(store);
    const std::string page = "<html><body>Sign in to continue</body></html>";
    const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
        {"experiments/get-by-name", page, "GET experiments/get-by-name answered with no JSON object"},
        {"experiments/get-by-name", "{\"experiment\": \"x\"}", "GET experiments/get-by-name answered no experiment id"},
        {"experiments/create", "[1, 2]", "POST experiments/create answered with no JSON object"},
        {"runs/search", page, "POST runs/search answered with no JSON object"},
        {"runs/search", "{\"runs\": [\"x\"]}", "POST runs/search answered a run with no run id"},
        {"runs/create", page, "POST runs/create answered with no JSON object"},
        {"runs/create", "{\"run\": \"x\"}", "runs/create answered no run id"},
        {"runs/log-batch", "\"ok\"", "POST runs/log-batch answered with no JSON object"},
    };
    for (const auto& [endpoint, body, message] : cases) {
        SCOPED_TRACE(endpoint + ": " + body);
        FakeMlflow fresh;
        fresh.answerInstead[endpoint] = body;
        EXPECT_TRUE(fixtures::throwsErrorWith([&] { exportMlflow(store, MlflowExportRequest{}, fresh); },
                                              {"MLflow at http://fake: ", message}));
    }
}

TEST_F(MlflowExportTest, AGatewayErrorAfterARequestThatChangesSomethingSaysItMayHaveBeenAppliedAndTheNextExportMendsIt) {
    // A gateway answers 504 after MLflow created the run: sending runs/create again would make
    // a second run with the same uid, so the export stops and says what to do.
    fixtures::buildReportFixture(store);
    server.appliedThen["runs/create"] = 504;
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { exportAll(); }, {"MLflow at http://fake: POST runs/create answered HTTP 504",
                                                                "; the request may have reached MLflow and been applied all the same",
                                                                "export again: that checks what the server holds and mends it"}));
    ASSERT_EQ(server.runs.size(), 1u);
    // The next export finds the run the server made (its uid only) and fills it: no second one.
    const MlflowExportResult result = exportAll();
    EXPECT_EQ(result.appended, 1);
    EXPECT_EQ(result.created + result.appended, static_cast<int>(store.runs().size()));
    for (const RunRecord& r : store.runs()) {
        SCOPED_TRACE("run " + std::to_string(r.id));
        expectEveryPointOnce(r, server.activeRunOf(r.uid));
    }
    // A request that changes nothing was sent again by the connection where it could; its 504
    // is a plain refusal.
    FakeMlflow fresh;
    fresh.appliedThen["runs/search"] = 504;
    try {
        exportMlflow(store, MlflowExportRequest{}, fresh);
        ADD_FAILURE() << "a 504 on runs/search did not stop the export";
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("POST runs/search answered HTTP 504"), std::string::npos) << message;
        EXPECT_EQ(message.find("may have reached"), std::string::npos) << message;
    }
}

TEST_F(MlflowExportTest, TwoMlflowRunsWithOneUidAreMendedByKeepingTheOneWithTheMostVerifiedPoints) {
    const RunRecord r = bigRun(300);
    server.failLogBatch = 4;
    EXPECT_THROW(exportAll(), Error);
    const FakeRun partial = server.activeRunOf(r.uid); // its tags verify: the first points, not all
    server.failLogBatch = 0;
    ASSERT_EQ(exportAll().appended, 1);
    ASSERT_EQ(server.runs.count("run1"), 1u);
    const FakeRun whole = server.runs.at("run1");
    // Beside it, listed before it but one: the partial copy; a whole one started later; one
    // whose digest does not verify; and a whole one like it with a larger id.
    FakeRun later = whole, wrong = whole;
    later.startTime += 1000;
    wrong.tags["losslab.digest"] = "0123456789abcdef";
    server.runs["run0a"] = partial;
    server.runs["run0b"] = later;
    server.runs["run0c"] = wrong;
    server.runs["run9"] = whole;
    std::vector<std::string> lines;
    MlflowExportRequest request;
    request.progress = [&](const std::string& line) { lines.push_back(line); };
    const MlflowExportResult result = exportMlflow(store, request, server);
    EXPECT_EQ(result.unchanged, 1);
    EXPECT_EQ(result.points, 0);
    EXPECT_EQ(result.duplicates, 4);
    EXPECT_FALSE(server.runs.at("run1").deleted);
    for (const char* id : {"run0a", "run0b", "run0c", "run9"}) EXPECT_TRUE(server.runs.at(id).deleted) << id;
    expectEveryPointOnce(r, server.activeRunOf(r.uid));
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find("unchanged, 0 point(s) sent, MLflow run run1; 4 other MLflow run(s) with its losslab.uid moved to "
                            "MLflow's trash: run0a run0b run0c run9"),
              std::string::npos)
        << lines[0];
    // Mended: the next export finds one run.
    const MlflowExportResult again = exportAll();
    EXPECT_EQ(again.duplicates, 0);
    EXPECT_EQ(again.unchanged, 1);
}

// Sets an environment variable (or unsets it, for nullptr) until the end of the scope.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : m_name(name) {
        if (const char* old = std::getenv(name)) m_old = old;
        m_had = std::getenv(name) != nullptr;
        if (value) ::setenv(name, value, 1);
        else ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (m_had) ::setenv(m_name.c_str(), m_old.c_str(), 1);
        else ::unsetenv(m_name.c_str());
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    std::string m_name, m_old;
    bool m_had = false;
};

TEST(MlflowServerOptionsTest, TimeoutAndRetriesComeFromMlflowsVariablesAndABadValueIsAnErrorThatNamesIt) {
    constexpr const char* kTimeout = "MLFLOW_HTTP_REQUEST_TIMEOUT";
    constexpr const char* kRetries = "MLFLOW_HTTP_REQUEST_MAX_RETRIES";
    {
        ScopedEnv timeout(kTimeout, nullptr), retries(kRetries, nullptr);
        const mlflow::ServerOptions o = mlflow::serverOptionsFromEnvironment("http://127.0.0.1:9");
        EXPECT_EQ(o.timeoutSeconds, 120); // MLflow's default, as its client documents it
        EXPECT_EQ(o.maxRetries, mlflow::kDefaultMaxRetries);
        EXPECT_TRUE(o.invalid.empty()) << o.invalid;
    }
    {
        ScopedEnv timeout(kTimeout, " 7 "), retries(kRetries, "0");
        const mlflow::ServerOptions o = mlflow::serverOptionsFromEnvironment("http://127.0.0.1:9");
        EXPECT_EQ(o.timeoutSeconds, 7);
        EXPECT_EQ(o.maxRetries, 0);
        EXPECT_TRUE(o.invalid.empty()) << o.invalid;
    }
    const std::vector<std::tuple<const char*, const char*, std::string>> bad = {
        {kTimeout, "soon", "a whole number of seconds, 1 or more"},
        {kTimeout, "0", "a whole number of seconds, 1 or more"},
        {kTimeout, "1.5", "a whole number of seconds, 1 or more"},
        {kTimeout, "-3", "a whole number of seconds, 1 or more"},
        {kTimeout, "99999999999999999999", "a whole number of seconds, 1 or more"},
        {kRetries, "10", "a whole number from 0 to 9"},
        {kRetries, "-1", "a whole number from 0 to 9"},
        {kRetries, "two", "a whole number from 0 to 9"},
    };
    for (const auto& [name, value, expected] : bad) {
        SCOPED_TRACE(std::string(name) + "=" + value);
        ScopedEnv set(name, value);
        const mlflow::ServerOptions o = mlflow::serverOptionsFromEnvironment("http://127.0.0.1:9");
        EXPECT_TRUE(fixtures::throwsErrorWith([&] { mlflow::connectHttp(o); }, {std::string(name) + " is '" + value + "': expected " + expected}));
    }
    // Sent again where the server may have acted: only what changes nothing, or sets the same again.
    EXPECT_TRUE(mlflow::repeatable("experiments/get-by-name", false));
    EXPECT_TRUE(mlflow::repeatable("runs/search", true));
    EXPECT_TRUE(mlflow::repeatable("runs/update", true));
    for (const char* endpoint : {"runs/create", "runs/log-batch", "runs/delete", "experiments/create"})
        EXPECT_FALSE(mlflow::repeatable(endpoint, true)) << endpoint;
}

TEST_F(MlflowExportTest, UnknownExperimentsAndAddressesAreErrorsThatNameThem) {
    fixtures::buildReportFixture(store);
    MlflowExportRequest request;
    request.experiments = {"nope"};
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { exportMlflow(store, request, server); }, {"nope"}));
    EXPECT_TRUE(server.experiments.empty());
    mlflow::ServerOptions options;
    options.trackingUri = "file:///tmp/mlruns";
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { mlflow::connectHttp(options); }, {"tracking URI 'file:///tmp/mlruns'"}));
    options.trackingUri = "";
    EXPECT_TRUE(fixtures::throwsErrorWith([&] { mlflow::connectHttp(options); }, {"no MLflow tracking server given"}));
}

} // namespace
} // namespace losslab
