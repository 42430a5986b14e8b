// Analysis and report files on the fixed database of report_fixture.h: the numbers against
// values worked out by hand from the fixture's formulas, and every table format against the
// golden files in tests/data/report/ (LOSSLAB_UPDATE_GOLDEN=1 rewrites them; review the diff).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "losslab/analysis/loss_comparison.h"
#include "losslab/error.h"
#include "losslab/report/paper_tables.h"
#include "losslab/report/report_files.h"
#include "losslab/store/run_store.h"
#include "report_fixture.h"
#include "scratch_dir.h"

namespace fs = std::filesystem;
using namespace losslab;

namespace {

class ReportTest : public ::testing::Test {
protected:
    void SetUp() override {
        m_store = std::make_unique<RunStore>((m_dir / "runs.sqlite").string());
        fixtures::buildReportFixture(*m_store);
        m_tasks = {{"toy/a", {"vision", 10, ""}}, {"toy/b", {"text", 2, ""}}};
    }
    ReportData load(const std::vector<std::string>& experiments = {"fixture"}) {
        ReportRequest request;
        request.experiments = experiments;
        return loadReportData(*m_store, request, m_tasks);
    }
    const SeedComparison& comparison(const LossAnalysis& a, const std::string& task, const std::string& metric,
                                     const std::string& protocol) {
        for (const auto& c : a.comparisons)
            if (c.taskId == task && c.metric == metric && c.square.protocol == protocol) return c;
        throw std::runtime_error("no comparison " + task + " " + metric + " " + protocol);
    }

    fixtures::ScratchDir m_scratch{"losslab-report"};
    const fs::path& m_dir = m_scratch.path();
    std::unique_ptr<RunStore> m_store;
    std::map<std::string, TaskMeta> m_tasks;
};

using fixtures::readFile;

} // namespace

TEST_F(ReportTest, GroupsAggregateTheReportedEpochOverSeeds) {
    const ReportData data = load();
    ASSERT_EQ(data.analysis.groups.size(), 6u);
    const LossGroup& ce = data.analysis.groups[0];
    EXPECT_EQ(ce.key.taskId, "toy/a");
    EXPECT_EQ(ce.key.loss, "ce");
    // CE on toy/a: 0.80 + 0.004 * seed, seeds 0-4 -> mean 0.808, std 0.004 * sqrt(2.5).
    EXPECT_NEAR(ce.stats.at("test/acc").mean, 0.808, 1e-12);
    EXPECT_NEAR(ce.stats.at("test/acc").std, 0.004 * std::sqrt(2.5), 1e-12);
    EXPECT_NEAR(ce.stats.at("test/acc").min, 0.80, 1e-12);
    EXPECT_NEAR(ce.stats.at("test/acc").max, 0.816, 1e-12);
    EXPECT_NEAR(ce.stats.at("val/acc").mean, 0.818, 1e-12); // validation is reported too
    EXPECT_EQ(ce.stats.at("test/acc").n, 5);
}

TEST_F(ReportTest, PairsBySeedWithPositiveMeaningSquareIsBetter) {
    const ReportData data = load();
    const SeedComparison& acc = comparison(data.analysis, "toy/a", "test/acc", "early_stopping");
    ASSERT_EQ(acc.differences.size(), 5u);
    for (int s = 0; s < 5; ++s) EXPECT_NEAR(acc.differences[s], 0.01 + 0.002 * s, 1e-12);
    EXPECT_NEAR(acc.test.mean, 0.014, 1e-12);
    EXPECT_NEAR(acc.test.std, 0.002 * std::sqrt(2.5), 1e-12);
    EXPECT_GT(acc.test.ciLow, 0.0);
    // The same-epochs run is paired with CE's early-stopping run: 0.005 + 0.002 * seed.
    const SeedComparison& same = comparison(data.analysis, "toy/a", "test/acc", "same_epochs_as_ce");
    EXPECT_EQ(same.ce.protocol, "early_stopping");
    EXPECT_NEAR(same.test.mean, 0.009, 1e-12);
}

TEST_F(ReportTest, ErrorRatesAreComparedAsCeMinusSquare) {
    ReportRequest request;
    request.experiments = {"fixture"};
    ReportData data = load();
    AnalysisOptions options;
    options.metrics = {"error"};
    const LossAnalysis a = analyzeRuns(data.runs, m_tasks, options);
    const SeedComparison& err = comparison(a, "toy/a", "test/error", "early_stopping");
    for (int s = 0; s < 5; ++s) EXPECT_NEAR(err.differences[s], 0.01 + 0.002 * s, 1e-12) << "square has the lower error";
}

TEST_F(ReportTest, UnpairedSeedsAreReportedNotDropped) {
    const ReportData data = load();
    const SeedComparison& b = comparison(data.analysis, "toy/b", "test/acc", "early_stopping");
    EXPECT_EQ(b.pairedSeeds, (std::vector<std::int64_t>{0, 1, 2, 3}));
    EXPECT_EQ(b.ceOnlySeeds, (std::vector<std::int64_t>{4}));
    EXPECT_TRUE(b.squareOnlySeeds.empty());
    EXPECT_NEAR(b.test.mean, (-0.005 * 3 - 0.004) / 4, 1e-12);
    bool noted = false;
    for (const auto& g : data.analysis.groups)
        for (const auto& s : g.notCompleted) noted = noted || s == "seed 4: diverged";
    EXPECT_TRUE(noted);
}

TEST_F(ReportTest, HeadlineCountsAndStdComparison) {
    const ReportData data = load();
    const HeadlineCount* all = nullptr;
    for (const auto& h : data.analysis.headline)
        if (h.metric == "test/acc" && h.protocol == "early_stopping" && h.domain == "all") all = &h;
    ASSERT_NE(all, nullptr);
    EXPECT_EQ(all->tasks, 2);
    EXPECT_EQ(all->squareAtLeastCe, 1); // toy/a yes, toy/b no
    EXPECT_EQ(all->wins, 1);
    EXPECT_EQ(all->losses, 1);          // toy/b: every pair -0.004 or -0.005: the interval excludes 0
    EXPECT_EQ(all->ties, 0);
    // Table 8: toy/a square std 0.006 sqrt(2.5) > CE 0.004 sqrt(2.5): CE smaller.
    ASSERT_FALSE(data.analysis.stds.empty());
    EXPECT_EQ(data.analysis.stds.front().taskId, "toy/a");
    EXPECT_EQ(data.analysis.stds.front().smaller, "ce");
    EXPECT_NEAR(data.analysis.stds.front().squareStd, 0.006 * std::sqrt(2.5), 1e-12);
    EXPECT_EQ(data.analysis.stdComparable, 2);
}

TEST_F(ReportTest, SingleLossIsSaidPlainlyAndNotPaired) {
    ReportData data = load();
    std::vector<RunResult> ceOnly;
    for (const auto& r : data.runs)
        if (r.run.loss == "ce") ceOnly.push_back(r);
    const LossAnalysis a = analyzeRuns(ceOnly, m_tasks);
    EXPECT_TRUE(a.comparisons.empty());
    ASSERT_FALSE(a.notes.empty());
    EXPECT_NE(a.notes.front().find("only one loss"), std::string::npos) << a.notes.front();
    EXPECT_EQ(a.groups.size(), 2u);
}

TEST_F(ReportTest, TableStdShowsNoStdForALossWithoutCompletedRuns) {
    // Every cross-entropy run of toy/b diverged: its std is unknown, not 0.
    ReportData data = load();
    for (auto& r : data.runs)
        if (r.run.taskId == "toy/b" && r.run.loss == "ce") r.run.status = RunStatus::Diverged;
    const LossAnalysis a = analyzeRuns(data.runs, m_tasks);
    const StdComparison* b = nullptr;
    for (const auto& s : a.stds)
        if (s.taskId == "toy/b" && s.metric == "test/acc") b = &s;
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->ceN, 0);
    EXPECT_TRUE(std::isnan(b->ceStd)) << b->ceStd;
    EXPECT_EQ(b->smaller, "");
    const PaperTable table = stdTable(a);
    bool seen = false;
    for (std::size_t i = 0; i < table.display.rows.size(); ++i) {
        if (table.display.rows[i][0].text != "toy/b" || table.display.rows[i][1].text != "test accuracy (%)") continue;
        seen = true;
        EXPECT_EQ(table.display.rows[i][3].text, "-") << "a loss without values shows no std";
        EXPECT_EQ(table.data.rows[i][11].text, "0");  // ce_n
        EXPECT_EQ(table.data.rows[i][12].text, "");   // ce_std: empty, as for fewer than 2 values
    }
    EXPECT_TRUE(seen);
}

TEST_F(ReportTest, MainTableCaptionCountsSeedsOfGroupsWithCompletedRuns) {
    // Four of the six groups have no completed run; the other two have 5 seeds each.
    ReportData data = load();
    for (auto& r : data.runs)
        if (r.run.taskId == "toy/b" || r.run.protocol == "same_epochs_as_ce") r.run.status = RunStatus::Failed;
    const LossAnalysis a = analyzeRuns(data.runs, m_tasks);
    const PaperTable table = mainTable(a, {});
    EXPECT_EQ(table.display.title, "Test results, mean ± std over 5 seeds (the best mean of each row in bold)");
    ASSERT_FALSE(table.display.rows.empty());
    EXPECT_EQ(table.display.rows[0][2].text, "82.20 ± 0.95") << "5 seeds is the usual count: no (n=5)";
}

// Before, with as many groups over 3 seeds as over 5 the caption said "over 3 seeds" (the smaller
// count won the tie) and the 5-seed cells were the ones marked: a reader of the caption alone
// took the table for a 3-seed one.
TEST_F(ReportTest, MainTableCaptionGivesTheRangeWhenGroupsHaveDifferentSeedCounts) {
    ReportData data = load();
    for (auto& r : data.runs)
        if (r.run.taskId == "toy/b" && r.run.seed >= 3) r.run.status = RunStatus::Failed;
    const LossAnalysis a = analyzeRuns(data.runs, m_tasks);
    const PaperTable table = mainTable(a, {});
    EXPECT_EQ(table.display.title, "Test results, mean ± std over 3 to 5 seeds, 5 unless a cell gives its n "
                                   "(the best mean of each row in bold)");
    bool sawA = false, sawB = false;
    for (const auto& row : table.display.rows) {
        if (row[0].text.rfind("toy/a", 0) == 0) {
            sawA = true;
            EXPECT_EQ(row[2].text.find("(n="), std::string::npos) << row[2].text;
        }
        if (row[0].text.rfind("toy/b", 0) == 0 && row[2].text != "-") {
            sawB = true;
            EXPECT_NE(row[2].text.find("(n=3)"), std::string::npos) << row[2].text;
        }
    }
    EXPECT_TRUE(sawA && sawB);
}

TEST_F(ReportTest, ASeedWithoutAFiniteValueOnOneSideIsUnpairedOnThatSideOnly) {
    // Completed runs whose test accuracy is not a number: square seed 1 and CE seed 3 of toy/a.
    ReportData data = load();
    for (auto& r : data.runs)
        if (r.run.taskId == "toy/a" && r.run.protocol == "early_stopping" &&
            ((r.run.loss == "square" && r.run.seed == 1) || (r.run.loss == "ce" && r.run.seed == 3)))
            r.reported["test/acc"] = std::nan("");
    const LossAnalysis a = analyzeRuns(data.runs, m_tasks);
    const SeedComparison& c = comparison(a, "toy/a", "test/acc", "early_stopping");
    EXPECT_EQ(c.pairedSeeds, (std::vector<std::int64_t>{0, 2, 4}));
    EXPECT_EQ(c.squareOnlySeeds, (std::vector<std::int64_t>{3})) << "only square has a value for seed 3";
    EXPECT_EQ(c.ceOnlySeeds, (std::vector<std::int64_t>{1})) << "only CE has a value for seed 1";
}

// A second cross-entropy loss on toy/a, "ace" (lr 0.05, 10 points lower; first in group order),
// beside "ce", whose early-stopping runs chose the epoch counts of the square loss's
// same_epochs_as_ce runs.
static void addSecondCrossEntropy(ReportData& data) {
    std::map<std::int64_t, std::int64_t> ceRunOfSeed;
    std::vector<RunResult> extra;
    std::int64_t nextId = 1000;
    for (const auto& r : data.runs)
        if (r.run.taskId == "toy/a" && r.run.loss == "ce") {
            ceRunOfSeed[r.run.seed] = r.run.id;
            RunResult other = r;
            other.run.id = nextId++;
            other.run.lossName = "ace";
            other.run.lr = 0.05;
            other.reported["test/acc"] -= 0.1;
            extra.push_back(other);
        }
    for (auto& r : data.runs)
        if (r.run.taskId == "toy/a" && r.run.protocol == "same_epochs_as_ce") r.run.dependsOn = ceRunOfSeed.at(r.run.seed);
    data.runs.insert(data.runs.end(), extra.begin(), extra.end());
}

TEST_F(ReportTest, SameEpochsAsCeIsPairedWithTheCrossEntropyWhoseEpochsItTrained) {
    ReportData data = load();
    addSecondCrossEntropy(data);
    const LossAnalysis a = analyzeRuns(data.runs, m_tasks);
    const SeedComparison& same = comparison(a, "toy/a", "test/acc", "same_epochs_as_ce");
    EXPECT_EQ(same.ce.lossName, "ce") << "the cross-entropy whose epochs it trained for";
    EXPECT_NEAR(same.test.mean, 0.009, 1e-12);
    // Early stopping has no such link: the first group, as before, with a note.
    EXPECT_EQ(comparison(a, "toy/a", "test/acc", "early_stopping").ce.lossName, "ace");
    bool noted = false;
    for (const auto& n : a.notes)
        noted = noted || n == "toy/a: several cross-entropy early_stopping groups; square (k=1, M=1, lr=0.2), same_epochs_as_ce "
                             "is paired with ce (lr=0.1), early_stopping, whose runs chose its epoch counts";
    EXPECT_TRUE(noted);
}

TEST_F(ReportTest, MainTableShowsEveryCrossEntropyGroupTheRowsDoNotPairWith) {
    // Columns: task, metric, square, cross-entropy, square same epochs as CE. The square row's CE
    // column is its early-stopping partner "ace"; "ce" had no row before and now has its own.
    ReportData data = load();
    addSecondCrossEntropy(data);
    const LossAnalysis a = analyzeRuns(data.runs, m_tasks);
    const PaperTable table = mainTable(a, {});
    const std::vector<TableCell>* square = nullptr;
    const std::vector<TableCell>* ce = nullptr;
    for (const auto& row : table.display.rows) {
        if (row[1].text != "test accuracy (%)") continue;
        if (row[0].text == "toy/a [square]") square = &row;
        if (row[0].text == "toy/a [ce]") ce = &row;
    }
    ASSERT_NE(square, nullptr);
    ASSERT_NE(ce, nullptr) << "the second cross-entropy group has no row";
    EXPECT_NE((*square)[2].text, "-");
    EXPECT_NE((*square)[4].text, "-");
    EXPECT_EQ((*ce)[2].text, "-");
    EXPECT_EQ((*ce)[4].text, "-");
    const double aceMean = std::stod((*square)[3].text), ceMean = std::stod((*ce)[3].text);
    EXPECT_NEAR(ceMean - aceMean, 10.0, 0.01) << "ace is 10 points below ce on every seed";
    std::set<std::string> ceNames; // loss_name of toy/a's CE rows in the CSV
    for (const auto& row : table.data.rows)
        if (row[0].text == "toy/a" && row[6].text == "ce" && row[2].text == "acc") ceNames.insert(row[5].text);
    EXPECT_EQ(ceNames, (std::set<std::string>{"ace", "ce"}));
}

TEST_F(ReportTest, UnknownExperimentNamesTheStoredOnes) {
    try {
        load({"nope"});
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no experiment 'nope'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("fixture"), std::string::npos) << e.what();
    }
}

// Before, a value with '#' was always read as NAME#ID: an experiment named "run #2" could only be
// selected as "run #2#ID", and "run #2" alone said "no experiment".
TEST_F(ReportTest, ANameWithAHashIsSelectedByItsNameAndAnAmbiguousOneSaysHowToWriteEach) {
    RunStore store((m_dir / "names.sqlite").string());
    const auto add = [&](const std::string& name) {
        ExperimentRecord e;
        e.name = name;
        e.taskId = "toy/a";
        return store.addExperiment(e);
    };
    const std::int64_t a1 = add("a"), a2 = add("a"), run2 = add("run #2"), a1Named = add("a#1"), run2Again = add("run #2");
    const auto ids = [&](const std::vector<std::string>& names) {
        std::vector<std::int64_t> out;
        for (const auto& e : selectExperiments(store, names)) out.push_back(e.id);
        return out;
    };
    EXPECT_EQ(ids({"run #2"}), std::vector<std::int64_t>{run2Again}) << "the exact name: its latest instance";
    EXPECT_EQ(ids({"run #2#" + std::to_string(run2)}), std::vector<std::int64_t>{run2});
    EXPECT_EQ(ids({"a#2"}), std::vector<std::int64_t>{a2});
    EXPECT_EQ(ids({"a"}), std::vector<std::int64_t>{a2});
    // "a#1" is the name of experiment a1Named and instance #1 of "a".
    try {
        selectExperiments(store, {"a#1"});
        FAIL() << "expected an Error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("experiment 'a#1' is ambiguous"), std::string::npos) << what;
        EXPECT_NE(what.find("'a#1#" + std::to_string(a1Named) + "' for the first, 'a#01' for the second"),
                  std::string::npos)
            << what;
    }
    EXPECT_EQ(ids({"a#1#" + std::to_string(a1Named)}), std::vector<std::int64_t>{a1Named});
    EXPECT_EQ(ids({"a#01"}), std::vector<std::int64_t>{a1});
    EXPECT_THROW(selectExperiments(store, {"a#2x"}), Error) << "not an id: no instance of 'a'";
}

TEST_F(ReportTest, UnwritableFolderIsAClearError) {
    const ReportData data = load();
    ReportRequest request;
    request.outDir = "/proc/losslab-cannot-be-here";
    EXPECT_THROW(writeReportTables(*m_store, data, request), Error);
}

TEST_F(ReportTest, FilesMatchTheGoldenFiles) {
    const ReportData data = load();
    ReportRequest request;
    request.outDir = (m_dir / "out").string();
    const auto written = writeReportTables(*m_store, data, request);
    const fs::path golden = fs::path(LOSSLAB_TEST_DATA_DIR) / "report";
    const bool update = std::getenv("LOSSLAB_UPDATE_GOLDEN") != nullptr;
    int compared = 0;
    for (const auto& path : written) {
        const fs::path name = fs::path(path).filename();
        if (update) {
            fs::copy_file(path, golden / name, fs::copy_options::overwrite_existing);
            continue;
        }
        ASSERT_TRUE(fs::exists(golden / name)) << "no golden file for " << name;
        EXPECT_EQ(readFile(path), readFile(golden / name)) << name << " differs from its golden file";
        ++compared;
    }
    if (!update) {
        EXPECT_EQ(compared, 14); // 4 tables x 3 formats + seed-results + metrics-long
    }
    for (const auto& entry : fs::directory_iterator(m_dir / "out"))
        EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << "left behind: " << entry.path();
}
