// Reliability diagrams: buildReliability pools the ECE bins of the runs the analysis uses
// (newest run per seed, completed only) per group, and the report writes them as
// reliability.csv. Expected numbers are worked out by hand in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "losslab/analysis/reliability.h"
#include "losslab/report/report_files.h"
#include "losslab/store/run_store.h"
#include "report_fixture.h"
#include "scratch_dir.h"

namespace fs = std::filesystem;
using namespace losslab;

namespace {

RunResult run(std::int64_t id, const std::string& loss, std::int64_t seed, RunStatus status = RunStatus::Completed) {
    RunResult r;
    r.run.id = id;
    r.run.taskId = "toy/a";
    r.run.lossName = loss;
    r.run.loss = loss;
    r.run.lr = loss == "ce" ? 0.1 : 0.2;
    r.run.protocol = "early_stopping";
    r.run.seed = seed;
    r.run.status = status;
    r.run.bestEpoch = 3;
    r.reported["test/acc"] = 0.5;
    return r;
}

// `count` examples in `bin`, all at confidence `confidence`, `correct` of them right.
CalibrationRow binRow(std::int64_t runId, std::size_t bin, double count, double confidence, double correct,
                      const std::string& split = "test") {
    CalibrationRow row;
    row.runId = runId;
    row.epoch = 3;
    row.bins.split = split;
    row.bins.count[bin] = count;
    row.bins.confidence[bin] = count * confidence;
    row.bins.correct[bin] = correct;
    return row;
}

// Adds `count` examples at `confidence`, `correct` right, to bin `bin` of `row`.
void addTo(CalibrationRow& row, std::size_t bin, double count, double confidence, double correct) {
    row.bins.count[bin] += count;
    row.bins.confidence[bin] += count * confidence;
    row.bins.correct[bin] += correct;
}

} // namespace

TEST(ReliabilityTest, EceOfBinsWeighsEachBinByItsExamples) {
    // Bin 14: 6 examples at confidence 0.95, 5 right: |5/6 - 0.95| = 0.11667, weight 6/8.
    // Bin 7: 2 examples at 0.5, 2 right: |1 - 0.5| = 0.5, weight 2/8.
    CalibrationRow row = binRow(1, 14, 6, 0.95, 5);
    addTo(row, 7, 2, 0.5, 2);
    EXPECT_NEAR(eceOf(row.bins), 6.0 / 8.0 * (0.95 - 5.0 / 6.0) + 2.0 / 8.0 * 0.5, 1e-12);
    EXPECT_TRUE(std::isnan(eceOf(CalibrationBins{})));
}

TEST(ReliabilityTest, PoolsTheNewestCompletedRunOfEachSeedPerGroup) {
    // CE: seed 0 twice (run 1 older, run 4 newer: run 4 counts), seed 1 (run 2), seed 2
    // diverged (run 3: left out although it has bins). Square: seed 0 without bins (run 5),
    // so the square group has no reliability curve.
    const std::vector<RunResult> runs = {run(1, "ce", 0), run(2, "ce", 1), run(3, "ce", 2, RunStatus::Diverged),
                                         run(4, "ce", 0), run(5, "square", 0)};
    const LossAnalysis analysis = analyzeRuns(runs, {{"toy/a", {"vision", 10, ""}}});
    CalibrationRow r2 = binRow(2, 14, 4, 1.0, 4);  // seed 1: 4 at 1.0, all right: ECE 0
    addTo(r2, 10, 4, 0.7, 1);                      // 4 at 0.7, 1 right: ECE of seed 1 = 0.5 * 0.45
    const std::vector<CalibrationRow> rows = {
        binRow(1, 0, 100, 0.01, 0),                   // seed 0's older run: ignored
        r2,
        binRow(3, 5, 50, 0.35, 10),                   // diverged: ignored
        binRow(4, 14, 8, 0.95, 6),                    // seed 0: 8 at 0.95, 6 right: ECE 0.2
        binRow(4, 0, 9, 0.9, 9, "val"),               // another split: ignored
    };
    const auto groups = buildReliability(analysis, rows, "test");
    ASSERT_EQ(groups.size(), 1u);
    const ReliabilityGroup& g = groups[0];
    EXPECT_EQ(g.key.loss, "ce");
    EXPECT_EQ(g.split, "test");
    EXPECT_EQ(g.seeds, (std::vector<std::int64_t>{0, 1}));
    EXPECT_DOUBLE_EQ(g.examples, 16.0);
    for (std::size_t b = 0; b < g.bins.size(); ++b) {
        EXPECT_DOUBLE_EQ(g.bins[b].lower, b / 15.0) << b;
        EXPECT_DOUBLE_EQ(g.bins[b].upper, (b + 1) / 15.0) << b;
        if (b == 14 || b == 10) continue;
        EXPECT_EQ(g.bins[b].count, 0.0) << b;
        EXPECT_TRUE(std::isnan(g.bins[b].confidence)) << b;
        EXPECT_TRUE(std::isnan(g.bins[b].accuracy)) << b;
    }
    // Bin 14 pooled: 4 at 1.0 + 8 at 0.95 = 11.6 / 12; right 4 + 6 = 10 of 12.
    EXPECT_DOUBLE_EQ(g.bins[14].count, 12.0);
    EXPECT_NEAR(g.bins[14].confidence, 11.6 / 12.0, 1e-12);
    EXPECT_NEAR(g.bins[14].accuracy, 10.0 / 12.0, 1e-12);
    EXPECT_DOUBLE_EQ(g.bins[10].count, 4.0);
    EXPECT_NEAR(g.bins[10].confidence, 0.7, 1e-12);
    EXPECT_NEAR(g.bins[10].accuracy, 0.25, 1e-12);
    // Pooled ECE: 12/16 |10/12 - 11.6/12| + 4/16 |0.25 - 0.7| = 0.1 + 0.1125.
    EXPECT_NEAR(g.pooledEce, 12.0 / 16.0 * (1.6 / 12.0) + 4.0 / 16.0 * 0.45, 1e-12);
    // Per seed: seed 0 |0.75 - 0.95| = 0.2; seed 1 0.5 * 0 + 0.5 * 0.45 = 0.225.
    EXPECT_EQ(g.ece.n, 2);
    EXPECT_NEAR(g.ece.mean, (0.2 + 0.225) / 2, 1e-12);
    EXPECT_NEAR(g.ece.std, std::sqrt(2 * 0.0125 * 0.0125), 1e-12);
    EXPECT_TRUE(buildReliability(analysis, rows, "train").empty());
}

TEST(ReliabilityReportTest, ReliabilityCsvOnlyWhenRunsHaveBins) {
    fixtures::ScratchDir scratch("losslab-reliability");
    RunStore store((scratch.path() / "runs.sqlite").string());
    fixtures::buildReportFixture(store);
    const std::map<std::string, TaskMeta> tasks = {{"toy/a", {"vision", 10, ""}}, {"toy/b", {"text", 2, ""}}};
    ReportRequest request;
    request.experiments = {"fixture"};
    request.outDir = (scratch.path() / "before").string();
    ReportData data = loadReportData(store, request, tasks);
    EXPECT_TRUE(data.reliability.empty());
    writeReportTables(store, data, request);
    EXPECT_FALSE(fs::exists(fs::path(request.outDir) / "reliability.csv")) << "a report without bins changed";

    // Test bins at the reported epoch (3) for toy/b's CE seeds 0 and 1: seed s has 10 + s
    // examples at confidence 0.9 in bin 13, 8 of them right.
    for (const RunRecord& r : store.runs()) {
        if (r.taskId != "toy/b" || r.loss != "ce" || r.seed > 1) continue;
        CalibrationBins bins;
        bins.split = "test";
        bins.count[13] = 10.0 + static_cast<double>(r.seed);
        bins.confidence[13] = bins.count[13] * 0.9;
        bins.correct[13] = 8;
        store.appendEpoch(r.id, 3, {}, {bins});
    }
    store.flush();
    request.outDir = (scratch.path() / "after").string();
    data = loadReportData(store, request, tasks);
    ASSERT_EQ(data.reliability.size(), 1u);
    EXPECT_EQ(data.reliability[0].key.taskId, "toy/b");
    EXPECT_EQ(data.reliability[0].seeds, (std::vector<std::int64_t>{0, 1}));
    writeReportTables(store, data, request);
    std::istringstream csv(fixtures::readFile((fs::path(request.outDir) / "reliability.csv").string()));
    std::vector<std::string> lines;
    for (std::string line; std::getline(csv, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
    }
    ASSERT_EQ(lines.size(), 1u + kCalibrationBins);
    EXPECT_EQ(lines[0], "task,recipe,loss_name,loss,k,M,lr,protocol,split,seeds,examples,ece_mean,ece_std,ece_pooled,"
                        "bin,lower,upper,count,confidence,accuracy");
    // Bin 13 pooled: 21 examples, 16 right (0.7619...), confidence 0.9. ECE per seed:
    // 0.9 - 0.8 = 0.1 and 0.9 - 8/11; pooled 0.9 - 16/21.
    const double seed1 = 0.9 - 8.0 / 11.0;
    const double mean = (0.1 + seed1) / 2;
    const double std = std::abs(0.1 - seed1) / std::sqrt(2.0);
    const std::string bin13 = lines[1 + 13];
    EXPECT_EQ(bin13.rfind("toy/b,,ce,ce,1,1,0.1,early_stopping,test,2,21,", 0), 0u) << bin13;
    std::vector<std::string> cells;
    std::stringstream cellStream(bin13);
    for (std::string cell; std::getline(cellStream, cell, ',');) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 20u) << bin13;
    EXPECT_NEAR(std::stod(cells[11]), mean, 1e-15);
    EXPECT_NEAR(std::stod(cells[12]), std, 1e-15);
    EXPECT_NEAR(std::stod(cells[13]), 0.9 - 16.0 / 21.0, 1e-15);
    EXPECT_EQ(cells[14], "13");
    EXPECT_NEAR(std::stod(cells[15]), 13.0 / 15.0, 1e-16);
    EXPECT_EQ(cells[17], "21");
    EXPECT_NEAR(std::stod(cells[18]), 0.9, 1e-15);
    EXPECT_NEAR(std::stod(cells[19]), 16.0 / 21.0, 1e-15);
    // An empty bin: count 0, no confidence or accuracy.
    EXPECT_EQ(lines[1 + 2].substr(lines[1 + 2].size() - 4), ",0,,") << lines[1 + 2];
}
