// The run browser: its table model, filter proxy and view over a small database built with
// RunStore directly. Background work is awaited with QSignalSpy::wait.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <QBrush>
#include <QColor>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFrame>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableView>
#include <QTest>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "losslab/store/records.h"
#include "losslab/store/run_store.h"
#include "workbench/run_browser_view.h"
#include "workbench/run_filter_proxy.h"
#include "workbench/run_table_model.h"

namespace fs = std::filesystem;
using namespace losslab;

namespace {

constexpr int kWaitMs = 15000;

// A fresh folder per test, removed afterwards.
class TempFolder {
public:
    TempFolder() {
        std::random_device device;
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        m_path = fs::temp_directory_path() / ("losslab_run_browser_" + std::to_string(getpid()) + "_" +
                                              std::to_string(stamp) + "_" + std::to_string(device()));
        fs::create_directories(m_path);
    }
    ~TempFolder() {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
    std::string file(const std::string& name) const { return (m_path / name).string(); }

private:
    fs::path m_path;
};

RunRecord makeRun(const std::string& task, const std::string& lossName, const std::string& protocol,
                  std::int64_t seed) {
    RunRecord run;
    run.taskId = task;
    run.lossName = lossName;
    run.loss = lossName == "cross_entropy" ? "ce" : "square";
    run.k = run.loss == "ce" ? 1.0 : 10.0;
    run.M = run.loss == "ce" ? 1.0 : 15.0;
    run.lr = 0.01;
    run.protocol = protocol;
    run.seed = seed;
    run.device = "cpu";
    run.specYaml = "seed: " + std::to_string(seed) + "\n";
    return run;
}

ExperimentRecord makeExperiment(const std::string& name, const std::string& task) {
    ExperimentRecord experiment;
    experiment.name = name;
    experiment.taskId = task;
    experiment.specYaml = "name: " + name + "\n";
    return experiment;
}

// Runs the event loop until `done()` holds or `timeoutMs` pass; returns `done()`.
template <typename F>
bool waitUntil(F done, int timeoutMs = kWaitMs) {
    QElapsedTimer timer;
    timer.start();
    while (!done() && timer.elapsed() < timeoutMs) QTest::qWait(10);
    return done();
}

QVector<qint64> sorted(QVector<qint64> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
}

class RunBrowserTest : public ::testing::Test {
protected:
    // alpha (mnist):  r0 ce/early completed (val 95 %, test 94 %, ece 0.02), tags paper,baseline
    //                 r1 square/early completed (test 52 %, ece 0.05), tags paper,fig2
    //                 r2 square_k15_M30/same_epochs diverged ("loss is NaN"), no reported epoch
    //                 r3 ce/early seed 2 failed ("out of memory"), two-line notes
    // beta (cifar10): r4 ce/fixed completed (test 9.4 %), tags ablation
    //                 r5 square/fixed interrupted, r6 square/early running, r7 ce/early interrupted
    void SetUp() override {
        store = std::make_unique<RunStore>(dir.file("runs.sqlite"));
        const std::int64_t alpha = store->addExperiment(makeExperiment("alpha", "mnist"));
        const std::int64_t beta = store->addExperiment(makeExperiment("beta", "cifar10"));

        RunRecord r0 = makeRun("mnist", "cross_entropy", "early_stopping", 1);
        r0.tags = "paper,baseline";
        r0.notes = "first";
        RunRecord r1 = makeRun("mnist", "square", "early_stopping", 1);
        r1.tags = "paper,fig2";
        RunRecord r2 = makeRun("mnist", "square_k15_M30", "same_epochs_as_ce", 1);
        r2.k = 15.0;
        r2.M = 30.0;
        RunRecord r3 = makeRun("mnist", "cross_entropy", "early_stopping", 2);
        r3.notes = "oom on the big batch\nsecond line of notes";
        auto alphaIds = store->addRuns(alpha, {r0, r1, r2, r3});

        RunRecord r4 = makeRun("cifar10", "cross_entropy", "fixed_epochs", 7);
        r4.tags = "ablation";
        RunRecord r5 = makeRun("cifar10", "square", "fixed_epochs", 7);
        RunRecord r6 = makeRun("cifar10", "square", "early_stopping", 8);
        RunRecord r7 = makeRun("cifar10", "cross_entropy", "early_stopping", 9);
        auto betaIds = store->addRuns(beta, {r4, r5, r6, r7});
        ids.assign(alphaIds.begin(), alphaIds.end());
        ids.insert(ids.end(), betaIds.begin(), betaIds.end());

        for (qint64 id : ids) store->markStarted(id, "cpu", 0, "LibTorch test", 2);
        // r0: three epochs, the protocol reports the second.
        for (int epoch = 1; epoch <= 3; ++epoch) {
            const double bump = epoch == 2 ? 0.0 : -0.1;
            store->appendEpoch(ids[0], epoch,
                               {{"train", "loss", 0.3}, {"val", "acc", 0.95 + bump}, {"test", "acc", 0.94 + bump},
                                {"test", "ece", 0.02}, {"test", "loss", 0.2}});
        }
        store->finishRun(ids[0], RunStatus::Completed, 3, 2, 12.5, "");
        store->appendEpoch(ids[1], 1, {{"val", "acc", 0.5}, {"test", "acc", 0.52}, {"test", "ece", 0.05}});
        store->finishRun(ids[1], RunStatus::Completed, 1, 1, 80.0, "");
        store->appendEpoch(ids[2], 1, {{"train", "loss", 7.0}});
        store->finishRun(ids[2], RunStatus::Diverged, 1, 0, 3.0, "loss is NaN");
        store->finishRun(ids[3], RunStatus::Failed, 0, 0, 1.0, "out of memory");
        store->appendEpoch(ids[4], 1, {{"test", "acc", 0.094}});
        store->finishRun(ids[4], RunStatus::Completed, 1, 1, 4000.0, "");
        store->appendEpoch(ids[5], 1, {{"test", "acc", 0.3}});
        store->finishRun(ids[5], RunStatus::Interrupted, 1, 0, 2.0, "");
        store->finishRun(ids[7], RunStatus::Interrupted, 0, 0, 0.0, "");
        store->flush();
    }

    // refresh() and wait until the reload is applied.
    static ::testing::AssertionResult refreshed(RunBrowserView& view) {
        QSignalSpy spy(&view, &RunBrowserView::refreshed);
        view.refresh();
        if (!spy.wait(kWaitMs)) return ::testing::AssertionFailure() << "no refreshed() within " << kWaitMs << " ms";
        return ::testing::AssertionSuccess();
    }

    // The run ids the proxy shows, in its order.
    static QVector<qint64> shownIds(const RunFilterProxy& proxy) {
        QVector<qint64> shown;
        for (int row = 0; row < proxy.rowCount(); ++row)
            shown.push_back(proxy.index(row, RunTableModel::IdColumn).data(Qt::UserRole).toLongLong());
        return shown;
    }

    static QString cell(RunTableModel& model, qint64 runId, int column, int role = Qt::DisplayRole) {
        return model.index(model.rowOfRun(runId), column).data(role).toString();
    }

    static double rawNumber(RunTableModel& model, qint64 runId, int column) {
        return model.index(model.rowOfRun(runId), column).data(Qt::UserRole).toDouble();
    }

    RunRecord storedRun(qint64 id) const {
        RunFilter filter;
        filter.runIds = {id};
        const auto runs = store->runs(filter);
        EXPECT_EQ(runs.size(), 1u);
        return runs.empty() ? RunRecord{} : runs.front();
    }

    QVector<qint64> idsOf(std::initializer_list<int> indices) const {
        QVector<qint64> out;
        for (int i : indices) out.push_back(ids[static_cast<std::size_t>(i)]);
        return sorted(out);
    }

    TempFolder dir;
    std::unique_ptr<RunStore> store;
    std::vector<qint64> ids;
};

TEST_F(RunBrowserTest, LoadsInTheBackgroundAndHoldsEveryRunWithItsValues) {
    RunBrowserView view(*store);
    RunTableModel& model = *view.model();
    view.refresh();
    // refresh() only starts the read; rows arrive through the event loop.
    EXPECT_EQ(model.rowCount(), 0);
    QSignalSpy spy(&view, &RunBrowserView::refreshed);
    ASSERT_TRUE(spy.wait(kWaitMs));
    ASSERT_EQ(model.rowCount(), 8);
    for (qint64 id : ids) EXPECT_GE(model.rowOfRun(id), 0) << "run " << id;

    using C = RunTableModel;
    const qint64 r0 = ids[0], r1 = ids[1], r2 = ids[2], r3 = ids[3], r4 = ids[4];
    EXPECT_EQ(cell(model, r0, C::IdColumn), QString::number(r0));
    EXPECT_EQ(model.index(model.rowOfRun(r0), C::IdColumn).data(Qt::UserRole).toLongLong(), r0);
    EXPECT_EQ(cell(model, r0, C::ExperimentColumn), "alpha #1");
    EXPECT_EQ(cell(model, r4, C::ExperimentColumn), "beta #2");
    EXPECT_EQ(cell(model, r0, C::TaskColumn), "mnist");
    EXPECT_EQ(cell(model, r0, C::LossColumn), "cross_entropy");
    EXPECT_EQ(cell(model, r2, C::LossColumn), "square_k15_M30");
    EXPECT_EQ(cell(model, r0, C::KColumn), "–"); // k and M do not apply to cross-entropy
    EXPECT_EQ(cell(model, r2, C::KColumn), "15");
    EXPECT_EQ(cell(model, r2, C::MColumn), "30");
    EXPECT_EQ(cell(model, r1, C::LrColumn), "0.01");
    EXPECT_EQ(cell(model, r2, C::ProtocolColumn), "same_epochs_as_ce");
    EXPECT_EQ(cell(model, r3, C::SeedColumn), "2");
    EXPECT_EQ(cell(model, r0, C::StatusColumn), "completed");
    EXPECT_EQ(cell(model, r2, C::StatusColumn), "diverged");
    EXPECT_EQ(cell(model, ids[6], C::StatusColumn), "running");
    EXPECT_EQ(cell(model, r0, C::EpochsColumn), "3");
    EXPECT_EQ(cell(model, r0, C::ReportedEpochColumn), "2");
    EXPECT_EQ(cell(model, r2, C::ReportedEpochColumn), "–");
    // Metrics at the reported epoch (2), not the last one.
    EXPECT_EQ(cell(model, r0, C::ValAccColumn), "95.00 %");
    EXPECT_EQ(cell(model, r0, C::TestAccColumn), "94.00 %");
    EXPECT_EQ(cell(model, r4, C::TestAccColumn), "9.40 %");
    EXPECT_DOUBLE_EQ(rawNumber(model, r0, C::TestAccColumn), 0.94);
    EXPECT_EQ(cell(model, r2, C::TestAccColumn), "–");
    EXPECT_TRUE(std::isnan(rawNumber(model, r2, C::TestAccColumn)));
    EXPECT_EQ(cell(model, r1, C::WallTimeColumn), "1:20");
    EXPECT_EQ(cell(model, r4, C::WallTimeColumn), "1:06:40");
    EXPECT_DOUBLE_EQ(rawNumber(model, r4, C::WallTimeColumn), 4000.0);
    EXPECT_EQ(cell(model, r0, C::DeviceColumn), "cpu");
    EXPECT_FALSE(cell(model, r0, C::StartedColumn).isEmpty());
    EXPECT_NE(cell(model, r0, C::StartedColumn), "–");
    EXPECT_EQ(cell(model, r0, C::TagsColumn), "paper,baseline");
    EXPECT_EQ(cell(model, r0, C::NotesColumn), "first");
    EXPECT_EQ(cell(model, r3, C::NotesColumn), "oom on the big batch …"); // first line shown
    EXPECT_EQ(cell(model, r3, C::NotesColumn, Qt::EditRole), "oom on the big batch\nsecond line of notes");

    // Errors of failed and diverged runs as tooltips; none for a completed run.
    EXPECT_EQ(cell(model, r2, C::TestAccColumn, Qt::ToolTipRole), "loss is NaN");
    EXPECT_EQ(cell(model, r3, C::StatusColumn, Qt::ToolTipRole), "out of memory");
    EXPECT_TRUE(cell(model, r0, C::StatusColumn, Qt::ToolTipRole).isEmpty());

    // Status colours: failed/diverged red-ish, interrupted amber, running blue.
    const auto colour = [&](qint64 id) {
        return model.index(model.rowOfRun(id), C::StatusColumn).data(Qt::ForegroundRole).value<QBrush>().color();
    };
    for (qint64 id : {r2, r3}) {
        EXPECT_GT(colour(id).red(), colour(id).green() + 60) << id;
        EXPECT_GT(colour(id).red(), colour(id).blue() + 60) << id;
    }
    EXPECT_GT(colour(ids[5]).red(), colour(ids[5]).blue() + 60);
    EXPECT_GT(colour(ids[5]).green(), colour(ids[5]).blue() + 40);
    EXPECT_GT(colour(ids[6]).blue(), colour(ids[6]).red() + 60);
    EXPECT_FALSE(model.index(model.rowOfRun(r0), C::StatusColumn).data(Qt::ForegroundRole).isValid());

    // Only tags and notes are editable.
    EXPECT_TRUE(model.flags(model.index(0, C::TagsColumn)) & Qt::ItemIsEditable);
    EXPECT_TRUE(model.flags(model.index(0, C::NotesColumn)) & Qt::ItemIsEditable);
    EXPECT_FALSE(model.flags(model.index(0, C::TestAccColumn)) & Qt::ItemIsEditable);
    EXPECT_FALSE(model.setData(model.index(0, C::SeedColumn), 99));

    // The extra column: test/ece by default, any reported split/metric on request.
    EXPECT_EQ(view.extraMetric(), "test/ece");
    EXPECT_EQ(model.headerData(C::ExtraMetricColumn, Qt::Horizontal).toString(), "test/ece");
    EXPECT_EQ(cell(model, r0, C::ExtraMetricColumn), "0.02");
    EXPECT_EQ(cell(model, r1, C::ExtraMetricColumn), "0.05");
    EXPECT_EQ(cell(model, r4, C::ExtraMetricColumn), "–");
    auto* metricCombo = view.findChild<QComboBox*>("extraMetricCombo");
    ASSERT_NE(metricCombo, nullptr);
    for (const char* key : {"train/loss", "val/acc", "test/acc", "test/ece", "test/loss"})
        EXPECT_GE(metricCombo->findData(QString::fromLatin1(key)), 0) << key;
    metricCombo->setCurrentIndex(metricCombo->findData(QStringLiteral("val/acc")));
    EXPECT_EQ(view.extraMetric(), "val/acc");
    EXPECT_EQ(model.headerData(C::ExtraMetricColumn, Qt::Horizontal).toString(), "val/acc");
    EXPECT_EQ(cell(model, r0, C::ExtraMetricColumn), "95.00 %");
    metricCombo->setCurrentIndex(metricCombo->findData(QStringLiteral("train/loss")));
    EXPECT_EQ(cell(model, r0, C::ExtraMetricColumn), "0.3");
    EXPECT_EQ(cell(model, r1, C::ExtraMetricColumn), "–");
}

// Repeated experiments and other recipes are told apart: the experiment's number, and a
// Recipe column with what differs (every setting in its tooltip).
TEST(RunTableModelTest, ExperimentNumberAndRecipeTellRunsApart) {
    RunRecord small = makeRun("fashion_mnist/mlp", "cross_entropy", "early_stopping", 0);
    small.id = 1;
    small.experiment = "default";
    small.experimentId = 3;
    small.specYaml = "seed: 0\nmodel:\n  hidden: [16]\ntrain:\n  batch_size: 128\n";
    RunRecord wide = small;
    wide.id = 2;
    wide.experimentId = 4;
    wide.specYaml = "seed: 0\nmodel:\n  hidden: [256]\ntrain:\n  batch_size: 128\n";
    RunRecord alone = makeRun("cifar10/wrn", "square", "fixed_epochs", 0);
    alone.id = 3;
    alone.specYaml = "seed: 0\nmodel:\n  depth: 28\n";
    RunTableModel model;
    model.setRuns({small, wide, alone});
    using C = RunTableModel;
    EXPECT_EQ(model.index(0, C::ExperimentColumn).data().toString(), "default #3");
    EXPECT_EQ(model.index(1, C::ExperimentColumn).data().toString(), "default #4");
    EXPECT_EQ(model.index(0, C::RecipeColumn).data().toString(), "hidden [16]");
    EXPECT_EQ(model.index(1, C::RecipeColumn).data().toString(), "hidden [256]");
    EXPECT_EQ(model.index(2, C::RecipeColumn).data().toString(), "") << "one recipe for its task: nothing differs";
    const QString tip = model.index(0, C::RecipeColumn).data(Qt::ToolTipRole).toString();
    EXPECT_TRUE(tip.contains("model.hidden: [16]")) << tip.toStdString();
    EXPECT_TRUE(tip.contains("train.batch_size: 128")) << tip.toStdString();
    EXPECT_FALSE(tip.contains("seed")) << tip.toStdString();
    EXPECT_EQ(model.headerData(C::RecipeColumn, Qt::Horizontal).toString(), "Recipe");
}

// The Runs tab reads a run's recipe from its YAML once: a refresh parses only the runs it
// has not seen or whose YAML changed (a database of 20,000 runs took 10 s of parsing at every
// refresh), and gives what a full parse gives.
TEST(RunTableModelTest, RecipesAreReadOnceAcrossRefreshes) {
    std::vector<RunRecord> runs;
    for (int i = 1; i <= 4; ++i) {
        RunRecord run = makeRun("fashion_mnist/mlp", "cross_entropy", "early_stopping", i);
        run.id = i;
        run.specYaml = "seed: " + std::to_string(i) + "\nmodel:\n  hidden: [" + (i % 2 ? "16" : "256") + "]\n";
        runs.push_back(run);
    }
    const auto same = [](const QHash<qint64, RunTableModel::RecipeSummary>& a,
                         const QHash<qint64, RunTableModel::RecipeSummary>& b) {
        if (a.size() != b.size()) return false;
        for (auto it = a.begin(); it != a.end(); ++it)
            if (!b.contains(it.key()) || b[it.key()].label != it->label || b[it.key()].settings != it->settings) return false;
        return true;
    };
    RunRecipeCache cache;
    EXPECT_TRUE(same(RunTableModel::recipeSummaries(runs, &cache), RunTableModel::recipeSummaries(runs)));
    EXPECT_EQ(cache.parses(), 4);
    EXPECT_TRUE(same(RunTableModel::recipeSummaries(runs, &cache), RunTableModel::recipeSummaries(runs)));
    EXPECT_EQ(cache.parses(), 4) << "a second refresh read every run's YAML again";
    runs[1].specYaml = "seed: 2\nmodel:\n  hidden: [64]\n"; // changed (a merge replaced it)
    RunRecord added = runs[0];
    added.id = 5;
    runs.push_back(added);
    const auto summaries = RunTableModel::recipeSummaries(runs, &cache);
    EXPECT_TRUE(same(summaries, RunTableModel::recipeSummaries(runs)));
    EXPECT_EQ(cache.parses(), 6);
    EXPECT_EQ(summaries[2].label, "hidden [64]");
}

// Two runs: the settings they differ in, old value and new.
TEST(RunTableModelTest, SettingsDifferencesListWhatTwoRunsDifferIn) {
    RunRecord a = makeRun("fashion_mnist/mlp", "square", "early_stopping", 0);
    a.specYaml = "task: fashion_mnist/mlp\nloss:\n  name: square\n  lr: 0.2\nmodel:\n  hidden: [16]\n";
    RunRecord b = a;
    b.seed = 1;
    b.specYaml = "task: fashion_mnist/mlp\nloss:\n  name: square\n  lr: 0.1\nmodel:\n  hidden: [16]\n  dropout: 0.3\n";
    const QStringList lines = RunTableModel::settingsDifferences(a, b);
    EXPECT_EQ(lines, (QStringList{QStringLiteral("loss.lr: 0.2 \u2192 0.1"), QStringLiteral("model.dropout: (unset) \u2192 0.3"),
                                  QStringLiteral("seed: 0 \u2192 1")}));
    EXPECT_TRUE(RunTableModel::settingsDifferences(a, a).isEmpty());
}

// Refreshes asked while a read is on its way cost one more read, however many they are
// (before, each queued a read of every run: runs starting and ending faster than a large
// database is read piled reads up, and the table fell minutes behind). refreshed() comes for
// a read that started after the last call, and shows what was stored before it.
TEST_F(RunBrowserTest, RefreshesAskedDuringAReadCostOneMoreRead) {
    RunBrowserView view(*store);
    ASSERT_TRUE(refreshed(view));
    const int reads = view.readCount();
    QSignalSpy spy(&view, &RunBrowserView::refreshed);
    view.refresh();
    const std::int64_t late = store->addRuns(store->experiments().front().id,
                                             {makeRun("mnist", "cross_entropy", "early_stopping", 42)}).front();
    store->flush();
    for (int i = 0; i < 20; ++i) view.refresh();
    ASSERT_TRUE(spy.wait(kWaitMs));
    QTest::qWait(300); // any read still queued would run and be applied now
    EXPECT_LE(view.readCount() - reads, 2) << "a read per refresh()";
    EXPECT_EQ(spy.count(), 1);
    EXPECT_GE(view.model()->rowOfRun(late), 0) << "the last refresh missed a run stored before it";
    EXPECT_EQ(view.model()->rowCount(), 9);
}

TEST_F(RunBrowserTest, DiffSettingsShowsTheDifferencesOfTwoSelectedRuns) {
    RunBrowserView view(*store);
    ASSERT_TRUE(refreshed(view));
    auto* diff = view.findChild<QPushButton*>(QStringLiteral("diffButton"));
    ASSERT_NE(diff, nullptr);
    view.selectRuns({ids[0]});
    EXPECT_FALSE(diff->isEnabled()) << "one run: nothing to compare";
    view.selectRuns({ids[0], ids[3]});
    ASSERT_TRUE(diff->isEnabled());
    diff->click();
    auto* box = view.findChild<QMessageBox*>(QStringLiteral("settingsDiff"));
    ASSERT_NE(box, nullptr);
    // In the order the table shows the two runs.
    EXPECT_TRUE(box->informativeText().contains(QStringLiteral("seed: 1 \u2192 2")) ||
                box->informativeText().contains(QStringLiteral("seed: 2 \u2192 1")))
        << box->informativeText().toStdString();
    box->close();
}

// The run panel shows everything the selected run was trained with.
TEST_F(RunBrowserTest, RunPanelShowsTheSelectedRunsSettings) {
    RunBrowserView view(*store);
    ASSERT_TRUE(refreshed(view));
    auto* settings = view.findChild<QPlainTextEdit*>(QStringLiteral("runSettings"));
    ASSERT_NE(settings, nullptr);
    EXPECT_TRUE(settings->toPlainText().isEmpty());
    view.selectRuns({ids[3]});
    EXPECT_TRUE(settings->toPlainText().contains(QStringLiteral("seed: 2"))) << settings->toPlainText().toStdString();
    EXPECT_TRUE(settings->toPlainText().contains(QStringLiteral("# device: cpu"))) << settings->toPlainText().toStdString();
    EXPECT_TRUE(settings->toPlainText().contains(QStringLiteral("# library: LibTorch test"))) << settings->toPlainText().toStdString();
    EXPECT_TRUE(settings->toPlainText().contains(QStringLiteral("# threads: 2"))) << settings->toPlainText().toStdString();
    EXPECT_TRUE(settings->isReadOnly());
}

TEST_F(RunBrowserTest, EachFilterNarrowsTheRows) {
    RunBrowserView view(*store);
    ASSERT_TRUE(refreshed(view));
    RunFilterProxy& proxy = *view.proxy();
    const auto shown = [&] { return sorted(shownIds(proxy)); };
    EXPECT_EQ(shown(), idsOf({0, 1, 2, 3, 4, 5, 6, 7}));

    proxy.setExperimentFilter("beta #2");
    EXPECT_EQ(shown(), idsOf({4, 5, 6, 7}));
    proxy.setExperimentFilter("");
    proxy.setTaskFilter("mnist");
    EXPECT_EQ(shown(), idsOf({0, 1, 2, 3}));
    proxy.setTaskFilter("");
    proxy.setLossFilter("square"); // exact: not square_k15_M30
    EXPECT_EQ(shown(), idsOf({1, 5, 6}));
    proxy.setLossFilter("");
    proxy.setProtocolFilter("fixed_epochs");
    EXPECT_EQ(shown(), idsOf({4, 5}));
    proxy.setProtocolFilter("");
    proxy.setStatusFilter("interrupted");
    EXPECT_EQ(shown(), idsOf({5, 7}));
    proxy.setStatusFilter("");
    proxy.setTagFilter("PAPER");
    EXPECT_EQ(shown(), idsOf({0, 1}));
    proxy.setTagFilter("fig"); // a whole tag, not part of one
    EXPECT_TRUE(shown().isEmpty());
    proxy.setTagFilter(" fig2 ");
    EXPECT_EQ(shown(), idsOf({1}));
    proxy.setTagFilter("");
    proxy.setTextFilter("second LINE"); // in the notes' second line, not shown in the cell
    EXPECT_EQ(shown(), idsOf({3}));
    proxy.setTextFilter("cifar");
    EXPECT_EQ(shown(), idsOf({4, 5, 6, 7}));
    proxy.setTextFilter("9.40 %"); // shown text of a number
    EXPECT_EQ(shown(), idsOf({4}));
    proxy.setTextFilter("");
    proxy.setExperimentFilter("alpha #1");
    proxy.setStatusFilter("completed");
    EXPECT_EQ(shown(), idsOf({0, 1}));
    proxy.clearFilters();
    EXPECT_EQ(shown().size(), 8);

    // The filter bar's widgets drive the same filters; combos list the values in the data.
    auto* status = view.findChild<QComboBox*>("statusFilter");
    auto* experiment = view.findChild<QComboBox*>("experimentFilter");
    auto* task = view.findChild<QComboBox*>("taskFilter");
    auto* loss = view.findChild<QComboBox*>("lossFilter");
    auto* protocol = view.findChild<QComboBox*>("protocolFilter");
    auto* tag = view.findChild<QLineEdit*>("tagFilter");
    auto* search = view.findChild<QLineEdit*>("searchField");
    ASSERT_TRUE(status && experiment && task && loss && protocol && tag && search);
    EXPECT_EQ(experiment->count(), 3); // all, alpha #1, beta #2
    EXPECT_EQ(experiment->itemText(1), "alpha #1");
    EXPECT_EQ(task->count(), 3);
    EXPECT_EQ(loss->count(), 4);     // all, cross_entropy, square, square_k15_M30
    EXPECT_EQ(protocol->count(), 4); // all, early_stopping, fixed_epochs, same_epochs_as_ce
    EXPECT_EQ(status->count(), 6);   // all, completed, diverged, failed, interrupted, running
    status->setCurrentIndex(status->findData(QStringLiteral("failed")));
    EXPECT_EQ(shown(), idsOf({3}));
    status->setCurrentIndex(0);
    loss->setCurrentIndex(loss->findData(QStringLiteral("square")));
    protocol->setCurrentIndex(protocol->findData(QStringLiteral("early_stopping")));
    EXPECT_EQ(shown(), idsOf({1, 6}));
    experiment->setCurrentIndex(experiment->findData(QStringLiteral("alpha #1")));
    EXPECT_EQ(shown(), idsOf({1}));
    experiment->setCurrentIndex(0);
    loss->setCurrentIndex(0);
    protocol->setCurrentIndex(0);
    task->setCurrentIndex(task->findData(QStringLiteral("cifar10")));
    EXPECT_EQ(shown(), idsOf({4, 5, 6, 7}));
    task->setCurrentIndex(0);
    tag->setText("baseline");
    EXPECT_EQ(shown(), idsOf({0}));
    tag->clear();
    search->setText("out of"); // no column holds the error text
    EXPECT_TRUE(shown().isEmpty());
    search->setText("oom");
    EXPECT_EQ(shown(), idsOf({3}));
    search->clear();

    // A refresh keeps the chosen filter.
    status->setCurrentIndex(status->findData(QStringLiteral("interrupted")));
    ASSERT_TRUE(refreshed(view));
    EXPECT_EQ(status->currentData().toString(), "interrupted");
    EXPECT_EQ(shown(), idsOf({5, 7}));
}

TEST_F(RunBrowserTest, SortsTestAccuracyNumericallyWithMissingValuesLast) {
    RunBrowserView view(*store);
    ASSERT_TRUE(refreshed(view));
    auto* table = view.findChild<QTableView*>("runTable");
    ASSERT_NE(table, nullptr);
    RunFilterProxy& proxy = *view.proxy();
    const auto expectMissingAfter = [&](int known) {
        const QVector<qint64> order = shownIds(proxy);
        for (int row = known; row < order.size(); ++row)
            EXPECT_TRUE(std::isnan(proxy.index(row, RunTableModel::TestAccColumn).data(Qt::UserRole).toDouble()))
                << "row " << row;
    };

    // 9.40 % < 52.00 % < 94.00 %: as text "9.40 %" would sort last.
    table->sortByColumn(RunTableModel::TestAccColumn, Qt::AscendingOrder);
    QVector<qint64> order = shownIds(proxy);
    ASSERT_EQ(order.size(), 8);
    EXPECT_EQ(order.mid(0, 3), (QVector<qint64>{ids[4], ids[1], ids[0]}));
    expectMissingAfter(3);

    table->sortByColumn(RunTableModel::TestAccColumn, Qt::DescendingOrder);
    order = shownIds(proxy);
    EXPECT_EQ(order.mid(0, 3), (QVector<qint64>{ids[0], ids[1], ids[4]}));
    expectMissingAfter(3);

    // Integers numerically too: seeds 1, 1, 1, 2, 7, 7, 8, 9.
    table->sortByColumn(RunTableModel::SeedColumn, Qt::DescendingOrder);
    EXPECT_EQ(shownIds(proxy).front(), ids[7]);

    // A refresh keeps the sort, and a new run takes its place in it.
    table->sortByColumn(RunTableModel::TestAccColumn, Qt::DescendingOrder);
    const std::int64_t experiment = store->experiments().front().id;
    const auto added = store->addRuns(experiment, {makeRun("mnist", "square", "early_stopping", 3)});
    store->appendEpoch(added[0], 1, {{"test", "acc", 0.6}});
    store->finishRun(added[0], RunStatus::Completed, 1, 1, 1.0, "");
    store->flush();
    ASSERT_TRUE(refreshed(view));
    order = shownIds(proxy);
    ASSERT_EQ(order.size(), 9);
    EXPECT_EQ(order.mid(0, 4), (QVector<qint64>{ids[0], added[0], ids[1], ids[4]}));
    expectMissingAfter(4);
}

TEST_F(RunBrowserTest, TagAndNoteEditsReachTheDatabase) {
    RunBrowserView view(*store);
    ASSERT_TRUE(refreshed(view));
    RunTableModel& model = *view.model();
    QSignalSpy tagSignals(&model, &RunTableModel::tagsEdited);

    // Through the model, as the table's cell editor does.
    const int row1 = model.rowOfRun(ids[1]);
    ASSERT_TRUE(model.setData(model.index(row1, RunTableModel::TagsColumn), " fig3, paper ,fig3,"));
    EXPECT_EQ(model.index(row1, RunTableModel::TagsColumn).data().toString(), "fig3,paper");
    ASSERT_EQ(tagSignals.count(), 1);
    EXPECT_EQ(tagSignals.at(0).at(1).toString(), "fig3,paper");
    const int row2 = model.rowOfRun(ids[2]);
    ASSERT_TRUE(model.setData(model.index(row2, RunTableModel::NotesColumn), "diverged at lr 0.1\nretry"));
    store->flush();
    EXPECT_EQ(storedRun(ids[1]).tags, "fig3,paper");
    EXPECT_EQ(storedRun(ids[2]).notes, "diverged at lr 0.1\nretry");
    EXPECT_EQ(storedRun(ids[0]).tags, "paper,baseline"); // others untouched

    // Through the pane of the current run.
    view.selectRuns({ids[4]});
    auto* notes = view.findChild<QPlainTextEdit*>("notesEdit");
    auto* tags = view.findChild<QLineEdit*>("tagsEdit");
    auto* save = view.findChild<QPushButton*>("saveNotesButton");
    ASSERT_TRUE(notes && tags && save);
    EXPECT_EQ(tags->text(), "ablation");
    notes->setPlainText("from the pane");
    notes->document()->setModified(true); // as typing does
    save->click();
    tags->setText("pane, ablation, pane");
    emit tags->editingFinished();
    EXPECT_EQ(tags->text(), "pane,ablation");
    store->flush();
    EXPECT_EQ(storedRun(ids[4]).notes, "from the pane");
    EXPECT_EQ(storedRun(ids[4]).tags, "pane,ablation");

    // Unsaved notes are saved when the current run changes.
    notes->setPlainText("left behind");
    notes->document()->setModified(true);
    view.selectRuns({ids[0]});
    EXPECT_EQ(notes->toPlainText(), "first");
    store->flush();
    EXPECT_EQ(storedRun(ids[4]).notes, "left behind");

    // A reload shows the stored edits.
    ASSERT_TRUE(refreshed(view));
    EXPECT_EQ(cell(model, ids[1], RunTableModel::TagsColumn), "fig3,paper");
    EXPECT_EQ(cell(model, ids[4], RunTableModel::NotesColumn), "left behind");
}

TEST_F(RunBrowserTest, ARefusedTagOrNoteEditIsReportedWithItsTextAndTheTableShowsWhatIsStored) {
    {
        // The database refuses tag edits (as a full disk or a lock held too long would).
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(dir.file("runs.sqlite").c_str(), &db), SQLITE_OK);
        const char* sql = "CREATE TRIGGER frozen_tags BEFORE UPDATE OF tags ON runs "
                          "BEGIN SELECT RAISE(ABORT, 'tags are frozen here'); END";
        ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
        sqlite3_close(db);
    }
    RunBrowserView view(*store);
    ASSERT_TRUE(refreshed(view));
    RunTableModel& model = *view.model();
    QSignalSpy failed(&view, &RunBrowserView::saveFailed);
    ASSERT_TRUE(model.setData(model.index(model.rowOfRun(ids[1]), RunTableModel::TagsColumn), "lost, tag"));
    ASSERT_TRUE(failed.wait(kWaitMs));
    const QString title = failed.at(0).at(0).toString();
    const QString message = failed.at(0).at(1).toString();
    EXPECT_TRUE(title.contains(QStringLiteral("tags of run %1").arg(ids[1]))) << title.toStdString();
    EXPECT_TRUE(message.contains(QStringLiteral("tags are frozen here"))) << message.toStdString();
    EXPECT_TRUE(message.contains(QStringLiteral("lost,tag"))) << message.toStdString();
    EXPECT_TRUE(waitUntil([&] { return cell(model, ids[1], RunTableModel::TagsColumn) == "paper,fig2"; }))
        << cell(model, ids[1], RunTableModel::TagsColumn).toStdString();
    EXPECT_EQ(storedRun(ids[1]).tags, "paper,fig2");
    EXPECT_NO_THROW(store->flush()) << "reported once, to the view";

    // Notes still go through, and say nothing.
    ASSERT_TRUE(model.setData(model.index(model.rowOfRun(ids[1]), RunTableModel::NotesColumn), "kept"));
    store->flush();
    QTest::qWait(100);
    EXPECT_EQ(failed.count(), 1);
    EXPECT_EQ(storedRun(ids[1]).notes, "kept");
}

TEST_F(RunBrowserTest, DeleteAsksFirstAndDeletesOnlyWhenConfirmed) {
    RunBrowserView view(*store);
    ASSERT_TRUE(refreshed(view));
    QStringList questions;
    bool answer = false;
    view.setConfirmation([&](const QString& question) {
        questions << question;
        return answer;
    });
    QSignalSpy deleted(&view, &RunBrowserView::runsDeleted);
    QSignalSpy errors(&view, &RunBrowserView::errorOccurred);

    view.selectRuns({ids[0], ids[4]});
    ASSERT_EQ(sorted(view.selectedRunIds()), idsOf({0, 4}));
    view.deleteSelected();
    ASSERT_EQ(questions.size(), 1);
    EXPECT_TRUE(questions[0].contains("2 runs")) << questions[0].toStdString();
    QTest::qWait(300);
    EXPECT_EQ(deleted.count(), 0);
    EXPECT_EQ(store->runs().size(), 8u);
    EXPECT_EQ(view.model()->rowCount(), 8);

    answer = true;
    view.deleteSelected();
    EXPECT_EQ(questions.size(), 2);
    EXPECT_EQ(view.model()->rowCount(), 8); // deletion runs in the background
    ASSERT_TRUE(deleted.wait(kWaitMs));
    EXPECT_EQ(sorted(deleted.at(0).at(0).value<QVector<qint64>>()), idsOf({0, 4}));
    EXPECT_EQ(errors.count(), 0);
    const auto left = store->runs();
    EXPECT_EQ(left.size(), 6u);
    for (const RunRecord& run : left) {
        EXPECT_NE(run.id, ids[0]);
        EXPECT_NE(run.id, ids[4]);
    }
    // The table follows.
    EXPECT_TRUE(waitUntil([&] { return view.model()->rowCount() == 6; }));
    EXPECT_LT(view.model()->rowOfRun(ids[0]), 0);
    EXPECT_TRUE(view.selectedRunIds().isEmpty());
}

// The question names the kept runs that took their epoch count from a run it deletes, as
// `losslab-cli delete` does; before, it only counted the runs.
TEST_F(RunBrowserTest, DeleteSaysWhichKeptRunsTookTheirEpochCountFromADeletedRun) {
    const std::int64_t gamma = store->addExperiment(makeExperiment("gamma", "mnist"));
    RunRecord ce = makeRun("mnist", "cross_entropy", "early_stopping", 5);
    RunRecord same = makeRun("mnist", "square", "same_epochs_as_ce", 5);
    same.dependsOn = 0; // the batch's first run
    const auto gammaIds = store->addRuns(gamma, {ce, same});
    store->finishRun(gammaIds[0], RunStatus::Completed, 2, 2, 1.0, "");
    store->finishRun(gammaIds[1], RunStatus::Completed, 2, 2, 1.0, "");
    store->flush();
    RunBrowserView view(*store);
    ASSERT_TRUE(refreshed(view));
    QStringList questions;
    view.setConfirmation([&](const QString& question) {
        questions << question;
        return false;
    });
    view.selectRuns({gammaIds[0]});
    view.deleteSelected();
    ASSERT_EQ(questions.size(), 1);
    EXPECT_TRUE(questions[0].contains(QStringLiteral("Note: kept run %1 (square same_epochs_as_ce seed 5) took its epoch count "
                                                     "from cross-entropy run %2, which is deleted")
                                          .arg(gammaIds[1])
                                          .arg(gammaIds[0])))
        << questions[0].toStdString();
    // Both selected: nothing stays behind to note.
    view.selectRuns({gammaIds[0], gammaIds[1]});
    view.deleteSelected();
    ASSERT_EQ(questions.size(), 2);
    EXPECT_FALSE(questions[1].contains(QStringLiteral("Note:"))) << questions[1].toStdString();
    EXPECT_EQ(store->runs().size(), 10u);
}

TEST_F(RunBrowserTest, DeletingARunningRunReportsTheErrorAndDeletesNothing) {
    RunBrowserView view(*store);
    ASSERT_TRUE(refreshed(view));
    view.setConfirmation([](const QString&) { return true; });
    QSignalSpy deleted(&view, &RunBrowserView::runsDeleted);
    QSignalSpy errors(&view, &RunBrowserView::errorOccurred);

    view.selectRuns({ids[0], ids[6]}); // ids[6] is running
    view.deleteSelected();
    ASSERT_TRUE(errors.wait(kWaitMs));
    const QString message = errors.at(0).at(0).toString();
    EXPECT_TRUE(message.contains("running")) << message.toStdString();
    EXPECT_TRUE(message.contains(QString::number(ids[6]))) << message.toStdString();
    QTest::qWait(200);
    EXPECT_EQ(deleted.count(), 0);
    EXPECT_EQ(store->runs().size(), 8u);
    // The delete button is usable again.
    auto* button = view.findChild<QPushButton*>("deleteButton");
    ASSERT_NE(button, nullptr);
    EXPECT_TRUE(waitUntil([&] { return button->isEnabled(); }));
}

TEST_F(RunBrowserTest, InterruptedBannerOffersExactlyTheInterruptedRuns) {
    RunBrowserView view(*store);
    auto* banner = view.findChild<QFrame*>("interruptedBanner");
    auto* label = view.findChild<QLabel*>("interruptedLabel");
    auto* resume = view.findChild<QPushButton*>("resumeInterruptedButton");
    ASSERT_TRUE(banner && label && resume);
    EXPECT_TRUE(banner->isHidden()); // nothing loaded yet

    ASSERT_TRUE(refreshed(view));
    EXPECT_FALSE(banner->isHidden());
    EXPECT_TRUE(label->text().contains("2 runs were interrupted")) << label->text().toStdString();
    EXPECT_EQ(sorted(view.interruptedRunIds()), idsOf({5, 7}));
    QSignalSpy resumed(&view, &RunBrowserView::resumeRequested);
    resume->click();
    ASSERT_EQ(resumed.count(), 1);
    EXPECT_EQ(sorted(resumed.at(0).at(0).value<QVector<qint64>>()), idsOf({5, 7}));

    // Resume on a selection passes only its interrupted (or cancelled) runs.
    view.selectRuns({ids[0], ids[5], ids[6]});
    auto* resumeSelected = view.findChild<QPushButton*>("resumeButton");
    ASSERT_NE(resumeSelected, nullptr);
    EXPECT_TRUE(resumeSelected->isEnabled());
    resumeSelected->click();
    ASSERT_EQ(resumed.count(), 2);
    EXPECT_EQ(resumed.at(1).at(0).value<QVector<qint64>>(), (QVector<qint64>{ids[5]}));
    view.selectRuns({ids[0]});
    EXPECT_FALSE(resumeSelected->isEnabled());

    // Once they are no longer interrupted, the banner goes.
    store->finishRun(ids[5], RunStatus::Completed, 1, 1, 1.0, "");
    store->finishRun(ids[7], RunStatus::Cancelled, 0, 0, 0.0, "");
    store->flush();
    ASSERT_TRUE(refreshed(view));
    EXPECT_TRUE(banner->isHidden());
    EXPECT_TRUE(view.interruptedRunIds().isEmpty());
}

TEST_F(RunBrowserTest, CompareSendsTheSelectionAndRefreshKeepsIt) {
    RunBrowserView view(*store);
    ASSERT_TRUE(refreshed(view));
    view.selectRuns({ids[1], ids[0], ids[4], 424242}); // an unknown id is ignored
    auto* compare = view.findChild<QPushButton*>("compareButton");
    ASSERT_NE(compare, nullptr);
    EXPECT_TRUE(compare->isEnabled());
    QSignalSpy compared(&view, &RunBrowserView::compareRequested);
    compare->click();
    ASSERT_EQ(compared.count(), 1);
    const QVector<qint64> sent = compared.at(0).at(0).value<QVector<qint64>>();
    EXPECT_EQ(sorted(sent), idsOf({0, 1, 4}));
    EXPECT_EQ(sent, view.selectedRunIds()); // in table order

    // A reload (with a run deleted elsewhere meanwhile) keeps what is still there.
    ASSERT_EQ(store->deleteRuns({ids[1]}), 1);
    ASSERT_TRUE(refreshed(view));
    EXPECT_EQ(sorted(view.selectedRunIds()), idsOf({0, 4}));
    view.selectRuns({});
    EXPECT_FALSE(compare->isEnabled());
}

// Smoke check: destroying the view while a read and a deletion are queued neither crashes nor
// loses the deletion (the destructor waits for the background work).
TEST_F(RunBrowserTest, SmokeDestroyedWhileWorkIsInFlight) {
    {
        RunBrowserView view(*store);
        ASSERT_TRUE(refreshed(view));
        view.setConfirmation([](const QString&) { return true; });
        view.selectRuns({ids[0]});
        view.deleteSelected();
        view.refresh();
    }
    EXPECT_EQ(store->runs().size(), 7u);
}

} // namespace
