// Curve data: the debiased EMA, grouped mean +/- std, the book's handling of resumed runs,
// the plot's graphs and the compare view's panels with linked axes.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <QComboBox>
#include <QSlider>
#include <QSignalSpy>
#include <QTest>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "losslab/store/run_store.h"
#include "workbench/compare_view.h"
#include "workbench/curve_controls.h"
#include "workbench/curve_book.h"
#include "workbench/curve_plot.h"
#include "workbench/curve_series.h"
#include "workbench_fixtures.h"

using namespace losslab;

namespace {

RunRecord record(std::int64_t id, const std::string& loss, std::int64_t seed, const std::string& protocol = "early_stopping") {
    RunRecord r;
    r.id = id;
    r.taskId = "toy/blobs";
    r.loss = loss;
    r.lossName = loss;
    r.seed = seed;
    r.protocol = protocol;
    return r;
}

RunEvent epochEvent(std::int64_t id, int epoch, double valAcc, double seconds = 2.0) {
    RunEvent e;
    e.kind = RunEvent::Kind::Epoch;
    e.runId = id;
    e.epoch = epoch;
    e.step = epoch * 10;
    e.metrics = {{"val", "acc", valAcc}, {"train", "wall_s", seconds}};
    return e;
}

// An experiment "compare" with `runs` stored in `store`; returns its id and the runs' ids.
std::pair<std::int64_t, std::vector<std::int64_t>> storeCompareRuns(RunStore& store, const std::vector<RunRecord>& runs) {
    ExperimentRecord experiment;
    experiment.name = "compare";
    const std::int64_t experimentId = store.addExperiment(experiment);
    return {experimentId, store.addRuns(experimentId, runs)};
}

} // namespace

TEST(CurveSeriesTest, DebiasedEmaMatchesHandComputedValues) {
    // w = 0.5: s = 0.5, 1.25, 2.125 over 1 - 0.5^n = 0.5, 0.75, 0.875.
    const auto s = debiasedEma({1.0, 2.0, 3.0}, 0.5);
    ASSERT_EQ(s.size(), 3u);
    EXPECT_DOUBLE_EQ(s[0], 1.0);
    EXPECT_NEAR(s[1], 1.25 / 0.75, 1e-12);
    EXPECT_NEAR(s[2], 2.125 / 0.875, 1e-12);
    // NaN stays NaN and does not enter the average; w = 0 leaves values alone.
    const auto gap = debiasedEma({1.0, std::nan(""), 3.0}, 0.5);
    EXPECT_TRUE(std::isnan(gap[1]));
    EXPECT_NEAR(gap[2], (0.25 + 1.5) / 0.75, 1e-12);
    EXPECT_EQ(debiasedEma({4.0, 5.0}, 0.0), (std::vector<double>{4.0, 5.0}));
}

TEST(CurveSeriesTest, GroupsSeedsIntoMeanAndSampleStd) {
    CurveBook book;
    book.addRun(record(1, "ce", 0));
    book.addRun(record(2, "ce", 1));
    book.addRun(record(3, "square", 0));
    book.apply(epochEvent(1, 1, 0.50));
    book.apply(epochEvent(1, 2, 0.60));
    book.apply(epochEvent(2, 1, 0.70));
    book.apply(epochEvent(3, 1, 0.90));
    CurveOptions options;
    options.metric = "val/acc";
    options.smoothing = 0.0;
    options.groupByLoss = true;
    const auto series = buildCurveSeries(book, {1, 2, 3}, options);
    ASSERT_EQ(series.size(), 2u);
    const CurveSeries& ce = series[0];
    EXPECT_EQ(ce.key, "group/toy/blobs|ce|early_stopping");
    EXPECT_EQ(ce.runIds, (std::vector<std::int64_t>{1, 2}));
    ASSERT_EQ(ce.x.size(), 2u); // seed 0 reached epoch 2, seed 1 only epoch 1
    EXPECT_DOUBLE_EQ(ce.smoothed[0], 60.0); // (50 + 70) / 2, in %
    EXPECT_NEAR(ce.high[0] - ce.smoothed[0], std::sqrt(200.0), 1e-9); // sample std of 50, 70
    EXPECT_DOUBLE_EQ(ce.smoothed[1], 60.0);
    EXPECT_TRUE(std::isnan(ce.high[1])); // one run: no std
    EXPECT_EQ(series[1].runIds, (std::vector<std::int64_t>{3}));
}

// "Group by loss" averages only the seeds of one setting: runs of the same loss and protocol
// with other model keys (another experiment) or another learning rate are groups of their
// own, labelled by what differs, as the report's rows are.
TEST(CurveSeriesTest, GroupsOnlyRunsOfOneRecipeAndLabelsWhatDiffers) {
    CurveBook book;
    RunRecord small = record(1, "ce", 0), small2 = record(2, "ce", 1), wide = record(3, "ce", 0), fast = record(4, "ce", 1);
    small.specYaml = small2.specYaml = "model:\n  hidden: [16]\n";
    wide.specYaml = fast.specYaml = "model:\n  hidden: [256]\n";
    small.lr = small2.lr = wide.lr = 0.05;
    fast.lr = 0.1;
    for (const RunRecord& r : {small, small2, wide, fast}) book.addRun(r);
    book.apply(epochEvent(1, 1, 0.50));
    book.apply(epochEvent(2, 1, 0.70));
    book.apply(epochEvent(2, 2, 0.72));
    book.apply(epochEvent(3, 1, 0.90));
    book.apply(epochEvent(4, 1, 0.95));
    CurveOptions options;
    options.metric = "val/acc";
    options.smoothing = 0.0;
    options.groupByLoss = true;
    const auto series = buildCurveSeries(book, {1, 2, 3, 4}, options);
    ASSERT_EQ(series.size(), 3u);
    EXPECT_EQ(series[0].runIds, (std::vector<std::int64_t>{1, 2}));
    EXPECT_EQ(series[1].runIds, (std::vector<std::int64_t>{3}));
    EXPECT_EQ(series[2].runIds, (std::vector<std::int64_t>{4}));
    EXPECT_NE(series[0].label.find("hidden [16]"), std::string::npos) << series[0].label;
    EXPECT_NE(series[1].label.find("hidden [256]"), std::string::npos) << series[1].label;
    EXPECT_NE(series[2].label.find("lr 0.1"), std::string::npos) << series[2].label;
    EXPECT_NE(series[0].key, series[1].key);
    EXPECT_DOUBLE_EQ(series[0].raw[0], 60.0); // (50 + 70) / 2: the [256] run is not in it

    // How many runs each point averages: seed 1 alone reached epoch 2.
    EXPECT_EQ(series[0].count, (std::vector<int>{2, 1}));
    EXPECT_EQ(describeCurvePoint(series[0], 1, false), "mean: 72\nmean of 1 of 2 runs");

    // One recipe: no label, and the key as before.
    const auto single = buildCurveSeries(book, {1, 2}, options);
    ASSERT_EQ(single.size(), 1u);
    EXPECT_EQ(single[0].key, "group/toy/blobs|ce|early_stopping");
}

// Grouping reads each run's recipe from its YAML once, not at every live redraw (a sweep's
// 1,000 runs took ~340 ms a delivery); a run whose stored YAML changes is read again.
TEST(CurveSeriesTest, GroupingReadsEachRunsRecipeOnce) {
    CurveBook book;
    RunRecord a = record(1, "ce", 0), b = record(2, "ce", 1);
    a.specYaml = b.specYaml = "model:\n  hidden: [16]\n";
    book.addRun(a);
    book.addRun(b);
    book.apply(epochEvent(1, 1, 0.5));
    book.apply(epochEvent(2, 1, 0.7));
    CurveOptions options;
    options.metric = "val/acc";
    options.groupByLoss = true;
    EXPECT_EQ(book.find(1)->trainingRecipe, nullptr);
    ASSERT_EQ(buildCurveSeries(book, {1, 2}, options).size(), 1u);
    const RunRecipe* first = book.find(1)->trainingRecipe.get();
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(first->at("model.hidden"), "[16]");
    book.apply(epochEvent(1, 2, 0.6));
    book.addRun(book.find(2)->run); // the same record again (a resumed run): the same recipe
    ASSERT_EQ(buildCurveSeries(book, {1, 2}, options).size(), 1u);
    EXPECT_EQ(book.find(1)->trainingRecipe.get(), first);
    b.specYaml = "model:\n  hidden: [256]\n";
    book.addRun(b);
    EXPECT_EQ(book.find(2)->trainingRecipe, nullptr);
    EXPECT_EQ(buildCurveSeries(book, {1, 2}, options).size(), 2u); // now two recipes
}

// A tooltip gives the stored value and labels the smoothed one.
TEST(CurveSeriesTest, PointDescriptionGivesTheStoredValueAndTheSmoothedOneLabelled) {
    CurveBook book;
    book.addRun(record(1, "ce", 0));
    book.apply(epochEvent(1, 1, 0.50));
    book.apply(epochEvent(1, 2, 0.90));
    CurveOptions options;
    options.metric = "val/acc";
    options.smoothing = 0.5;
    const auto series = buildCurveSeries(book, {1}, options);
    ASSERT_EQ(series.size(), 1u);
    // Smoothed at epoch 2: (0.5 * 0.5 * 50 + 0.5 * 90) / 0.75 = 76.667.
    EXPECT_EQ(describeCurvePoint(series[0], 1, true), "value: 90\nsmoothed: 76.667");
    EXPECT_EQ(describeCurvePoint(series[0], 1, false), "value: 90");
}

// Epoch-level curves are not smoothed unless asked; the per-step loss keeps its own setting.
TEST(CurveControlsTest, SmoothingFollowsTheMetricKind) {
    CurveControls controls;
    EXPECT_EQ(controls.options().metric, "step/loss");
    EXPECT_DOUBLE_EQ(controls.options().smoothing, 0.6);
    QSignalSpy changed(&controls, &CurveControls::optionsChanged);
    auto* metric = controls.findChild<QComboBox*>(QStringLiteral("metricCombo"));
    auto* slider = controls.findChild<QSlider*>(QStringLiteral("smoothingSlider"));
    ASSERT_NE(metric, nullptr);
    ASSERT_NE(slider, nullptr);
    metric->setCurrentIndex(metric->findData(QStringLiteral("val/acc")));
    EXPECT_DOUBLE_EQ(controls.options().smoothing, 0.0);
    EXPECT_EQ(changed.count(), 1) << "one change for the metric and its smoothing";
    slider->setValue(30);
    metric->setCurrentIndex(metric->findData(QStringLiteral("step/loss")));
    EXPECT_DOUBLE_EQ(controls.options().smoothing, 0.6);
    metric->setCurrentIndex(metric->findData(QStringLiteral("test/acc")));
    EXPECT_DOUBLE_EQ(controls.options().smoothing, 0.3) << "the epoch-level setting is remembered";
}

// A resumed run whose curve in the book starts at epoch 4 (10 steps an epoch): its steps lie
// between epochs 3 and 5 on the epoch axis, not at 0..2.
TEST(CurveSeriesTest, StepsOfAResumedRunSitAtTheirOwnEpochs) {
    CurveBook book;
    book.addRun(record(1, "ce", 0));
    RunEvent step;
    step.kind = RunEvent::Kind::Step;
    step.runId = 1;
    step.metrics = {{"train", "loss", 1.0}};
    for (const std::int64_t s : {35, 40}) {
        step.step = s;
        book.apply(step);
    }
    book.apply(epochEvent(1, 4, 0.5)); // epochEvent puts the epoch's end at step 40
    for (const std::int64_t s : {45, 50}) {
        step.step = s;
        book.apply(step);
    }
    CurveOptions options;
    options.metric = "step/loss";
    options.smoothing = 0.0;
    options.axis = CurveAxis::Epoch;
    const auto series = buildCurveSeries(book, {1}, options);
    ASSERT_EQ(series.size(), 1u);
    ASSERT_EQ(series[0].x.size(), 4u);
    EXPECT_DOUBLE_EQ(series[0].x[0], 3.5);
    EXPECT_DOUBLE_EQ(series[0].x[1], 4.0);
    EXPECT_DOUBLE_EQ(series[0].x[2], 4.5);
    EXPECT_DOUBLE_EQ(series[0].x[3], 5.0);
}

// Log y: the plot's y axis turns logarithmic and its range stays positive.
TEST(CurvePlotTest, LogYMakesTheValueAxisLogarithmic) {
    CurveBook book;
    book.addRun(record(1, "ce", 0));
    RunEvent step;
    step.kind = RunEvent::Kind::Step;
    step.runId = 1;
    for (const auto& [s, loss] : std::vector<std::pair<std::int64_t, double>>{{10, 2.3}, {20, 0.5}, {30, 0.01}}) {
        step.step = s;
        step.metrics = {{"train", "loss", loss}};
        book.apply(step);
    }
    CurvePlot plot;
    plot.resize(400, 300);
    CurveOptions options;
    options.axis = CurveAxis::Step;
    options.logY = true;
    plot.setOptions(options);
    plot.draw(book, {1}, true);
    auto* custom = plot.findChild<QCustomPlot*>();
    ASSERT_NE(custom, nullptr);
    EXPECT_EQ(custom->yAxis->scaleType(), QCPAxis::stLogarithmic);
    EXPECT_GT(custom->yAxis->range().lower, 0.0);
    EXPECT_LE(custom->yAxis->range().lower, 0.01);
    EXPECT_GE(custom->yAxis->range().upper, 2.3);
    options.logY = false;
    plot.setOptions(options);
    EXPECT_EQ(custom->yAxis->scaleType(), QCPAxis::stLinear);
}

TEST(CurveSeriesTest, AxesUseStepsAndCumulativeTrainingTime) {
    CurveBook book;
    book.addRun(record(1, "ce", 0));
    book.apply(epochEvent(1, 1, 0.5, 2.0));
    book.apply(epochEvent(1, 2, 0.6, 3.0));
    CurveOptions options;
    options.metric = "val/acc";
    options.smoothing = 0.0;
    options.axis = CurveAxis::WallTime;
    auto series = buildCurveSeries(book, {1}, options);
    EXPECT_EQ(series[0].x, (std::vector<double>{2.0, 5.0}));
    options.axis = CurveAxis::Step;
    series = buildCurveSeries(book, {1}, options);
    EXPECT_EQ(series[0].x, (std::vector<double>{10.0, 20.0}));
}

TEST(CurveBookTest, ResumedEpochReplacesItselfAndWhatFollowed) {
    CurveBook book;
    book.addRun(record(1, "ce", 0));
    for (int epoch = 1; epoch <= 3; ++epoch) book.apply(epochEvent(1, epoch, 0.1 * epoch));
    book.apply(epochEvent(1, 2, 0.9)); // resumed from the checkpoint after epoch 1
    const RunCurves* curves = book.find(1);
    ASSERT_NE(curves, nullptr);
    EXPECT_EQ(curves->epochs, (std::vector<double>{1.0, 2.0}));
    EXPECT_DOUBLE_EQ(curves->epochValues.at("val/acc")[1], 0.9);
    EXPECT_DOUBLE_EQ(curves->epochWall[1], 4.0);
}

TEST(CurvePlotTest, DrawsOneLinePerRunColouredByLossAndStyledByProtocol) {
    CurveBook book;
    book.addRun(record(1, "ce", 0));
    book.addRun(record(2, "square", 0, "same_epochs_as_ce"));
    book.apply(epochEvent(1, 1, 0.5));
    book.apply(epochEvent(2, 1, 0.6));
    CurvePlot plot;
    CurveOptions options;
    options.metric = "val/acc";
    options.smoothing = 0.5;
    plot.setOptions(options);
    plot.draw(book, {1, 2});
    QCPGraph* ce = plot.graph(QStringLiteral("run/1"));
    QCPGraph* square = plot.graph(QStringLiteral("run/2"));
    ASSERT_NE(ce, nullptr);
    ASSERT_NE(square, nullptr);
    ASSERT_NE(plot.graph(QStringLiteral("run/1/raw")), nullptr); // faint raw line under the smoothed one
    EXPECT_NE(ce->pen().color(), square->pen().color());
    EXPECT_EQ(ce->pen().style(), Qt::SolidLine);
    EXPECT_EQ(square->pen().style(), Qt::DashLine);
    EXPECT_DOUBLE_EQ(ce->data()->begin()->value, 50.0);
    // Redraws only when something changed, and then only the run that did.
    const int redraws = plot.redrawCount();
    const int updates = plot.seriesUpdateCount();
    plot.draw(book, {1, 2});
    EXPECT_EQ(plot.redrawCount(), redraws);
    EXPECT_EQ(plot.seriesUpdateCount(), updates);
    book.apply(epochEvent(1, 2, 0.7));
    plot.draw(book, {1, 2});
    EXPECT_EQ(plot.redrawCount(), redraws);
    EXPECT_EQ(plot.seriesUpdateCount(), updates + 1);
    EXPECT_EQ(plot.graph(QStringLiteral("run/1")), ce);
    EXPECT_EQ(ce->data()->size(), 2);
}

// A live epoch of one run among many computes and refills that run's series only: before,
// every delivery rebuilt every run's series and graphs (a sweep's 1,000 queued runs cost
// 2,000 graphs made again 25 times a second). The result is what a full redraw draws.
TEST(CurvePlotTest, AnEpochOfOneRunRedrawsOnlyThatRunsSeries) {
    CurveBook book;
    std::vector<std::int64_t> ids;
    for (std::int64_t id = 1; id <= 6; ++id) {
        book.addRun(record(id, id % 2 ? "ce" : "square", id));
        ids.push_back(id);
    }
    for (std::int64_t id = 1; id <= 3; ++id)
        for (int epoch = 1; epoch <= 4; ++epoch) book.apply(epochEvent(id, epoch, 0.1 * epoch + 0.01 * id));
    CurveOptions options;
    options.metric = "val/acc";
    options.smoothing = 0.5;
    CurvePlot plot;
    plot.setOptions(options);
    plot.draw(book, ids);
    const int redraws = plot.redrawCount();
    const int updates = plot.seriesUpdateCount();
    QCPGraph* other = plot.graph(QStringLiteral("run/1"));
    QCPGraph* otherRaw = plot.graph(QStringLiteral("run/1/raw"));
    const auto otherData = other->data();

    book.apply(epochEvent(2, 5, 0.77)); // run 2 trains on
    plot.draw(book, ids);
    EXPECT_EQ(plot.redrawCount(), redraws) << "a full redraw for one run's epoch";
    EXPECT_EQ(plot.seriesUpdateCount(), updates + 1);
    EXPECT_EQ(plot.graph(QStringLiteral("run/1")), other);
    EXPECT_EQ(plot.graph(QStringLiteral("run/1/raw")), otherRaw);
    EXPECT_EQ(plot.graph(QStringLiteral("run/1"))->data(), otherData);
    ASSERT_EQ(plot.graph(QStringLiteral("run/2"))->data()->size(), 5);
    EXPECT_DOUBLE_EQ((plot.graph(QStringLiteral("run/2/raw"))->data()->constEnd() - 1)->value, 77.0);

    // A queued run starts and its first points arrive: its own series again, nobody else's.
    RunEvent started;
    started.kind = RunEvent::Kind::Started;
    started.runId = 5;
    started.message = "cpu";
    book.apply(started);
    book.apply(epochEvent(5, 1, 0.4));
    book.apply(epochEvent(2, 6, 0.78));
    plot.draw(book, ids);
    EXPECT_EQ(plot.redrawCount(), redraws);
    EXPECT_EQ(plot.seriesUpdateCount(), updates + 3);

    // What is drawn is what a full redraw of the same book draws.
    CurvePlot fresh;
    fresh.setOptions(options);
    fresh.draw(book, ids);
    for (std::int64_t id : ids)
        for (const QString& suffix : {QString(), QStringLiteral("/raw")}) {
            const QString name = QStringLiteral("run/%1").arg(id) + suffix;
            QCPGraph* a = plot.graph(name);
            QCPGraph* b = fresh.graph(name);
            ASSERT_NE(a, nullptr) << name.toStdString();
            ASSERT_NE(b, nullptr) << name.toStdString();
            ASSERT_EQ(a->data()->size(), b->data()->size()) << name.toStdString();
            for (int i = 0; i < a->data()->size(); ++i) {
                EXPECT_DOUBLE_EQ((a->data()->constBegin() + i)->key, (b->data()->constBegin() + i)->key);
                EXPECT_DOUBLE_EQ((a->data()->constBegin() + i)->value, (b->data()->constBegin() + i)->value);
            }
            EXPECT_EQ(a->scatterStyle().shape(), b->scatterStyle().shape()) << name.toStdString();
        }
    EXPECT_EQ(plot.plot()->xAxis->range(), fresh.plot()->xAxis->range());
    EXPECT_EQ(plot.plot()->yAxis->range(), fresh.plot()->yAxis->range());

    // Other runs, other options or groups: drawn again in full.
    plot.draw(book, {1, 2, 3});
    EXPECT_EQ(plot.redrawCount(), redraws + 1);
    options.groupByLoss = true;
    plot.setOptions(options);
    EXPECT_EQ(plot.redrawCount(), redraws + 2);
    book.apply(epochEvent(2, 7, 0.79));
    plot.draw(book, {1, 2, 3});
    EXPECT_EQ(plot.redrawCount(), redraws + 3); // a group's mean moves with any of its runs
}

// A run cancelled, interrupted or failed part way keeps its curve, drawn faded and named as
// such, so that it is not read as a finished run's curve; a completed or diverged run is not.
TEST(CurvePlotTest, AStoppedRunsCurveIsDrawnFaded) {
    CurveBook book;
    for (std::int64_t id = 1; id <= 3; ++id) {
        book.addRun(record(id, "ce", id));
        for (int epoch = 1; epoch <= 2; ++epoch) book.apply(epochEvent(id, epoch, 0.5));
    }
    CurvePlot plot;
    CurveOptions options;
    options.metric = "val/acc";
    plot.setOptions(options);
    plot.draw(book, {1, 2, 3});
    EXPECT_EQ(plot.graph(QStringLiteral("run/1"))->pen().color().alpha(), 255);
    const auto finish = [&](std::int64_t id, RunStatus status) {
        RunEvent e;
        e.kind = RunEvent::Kind::Finished;
        e.runId = id;
        e.status = status;
        book.apply(e);
    };
    finish(1, RunStatus::Cancelled);
    finish(2, RunStatus::Completed);
    finish(3, RunStatus::Diverged);
    plot.draw(book, {1, 2, 3});
    EXPECT_LT(plot.graph(QStringLiteral("run/1"))->pen().color().alpha(), 255);
    EXPECT_EQ(plot.graph(QStringLiteral("run/2"))->pen().color().alpha(), 255);
    EXPECT_EQ(plot.graph(QStringLiteral("run/3"))->pen().color().alpha(), 255);
    EXPECT_EQ(plot.series().front().stopped, "cancelled");
    // The same after a full redraw.
    plot.draw(book, {1, 2, 3}, true);
    EXPECT_LT(plot.graph(QStringLiteral("run/1"))->pen().color().alpha(), 255);
    EXPECT_EQ(plot.graph(QStringLiteral("run/2"))->pen().color().alpha(), 255);
}

TEST(CompareViewTest, AFailedReadSaysWhyAndTheViewCloses) {
    fixtures::ToyWorld world;
    RunStore store(world.databasePath());
    const auto ids = storeCompareRuns(store, {record(0, "ce", 0)}).second;
    store.appendEpoch(ids[0], 1, {{"val", "acc", 0.5}});
    store.flush();
    {
        // A damaged database: the curves' table is gone.
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(world.databasePath().c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, "DROP TABLE epoch_metrics", nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
        sqlite3_close(db);
    }
    auto view = std::make_unique<CompareView>(store);
    QSignalSpy failed(view.get(), &CompareView::errorOccurred);
    view->setRuns({ids[0]});
    ASSERT_TRUE(failed.wait(20000));
    const QString message = failed.front().at(0).toString();
    EXPECT_TRUE(message.contains(QStringLiteral("epoch_metrics"))) << message.toStdString();
    view.reset();
}

TEST(CompareViewTest, RequestsInARowShowTheLastAndClosingWaitsForEveryRead) {
    fixtures::ToyWorld world;
    auto store = std::make_unique<RunStore>(world.databasePath());
    const auto [experimentId, ids] = storeCompareRuns(*store, {record(0, "ce", 0), record(0, "ce", 1), record(0, "square", 0)});
    for (const auto id : ids)
        for (int epoch = 1; epoch <= 50; ++epoch) store->appendEpoch(id, epoch, {{"val", "acc", 0.01 * epoch}});
    store->flush();

    auto view = std::make_unique<CompareView>(*store);
    QSignalSpy loaded(view.get(), &CompareView::loaded);
    view->setRuns({ids[0]});
    view->setExperiment(experimentId);
    view->setRuns({ids[1]});
    view->setRuns({ids[2]});
    ASSERT_TRUE(loaded.wait(20000));
    QTest::qWait(200);
    EXPECT_EQ(view->runIds(), QVector<qint64>{ids[2]});
    EXPECT_EQ(loaded.count(), 1) << "a superseded load was shown";

    // Closed right after asking: no read may outlive the view (the store goes next).
    view->setRuns({ids[0]});
    view->setExperiment(experimentId);
    view->setRuns({ids[1]});
    view.reset();
    store.reset();
}

TEST(CompareViewTest, PanelsPerLossShareLinkedAxes) {
    fixtures::ToyWorld world;
    RunStore store(world.databasePath());
    const auto [experimentId, ids] = storeCompareRuns(store, {record(0, "ce", 0), record(0, "ce", 1), record(0, "square", 0)});
    for (std::size_t i = 0; i < ids.size(); ++i) {
        for (int epoch = 1; epoch <= 3; ++epoch)
            store.appendEpoch(ids[i], epoch, {{"val", "acc", 0.5 + 0.1 * epoch + 0.01 * i}, {"train", "wall_s", 1.0}});
        store.finishRun(ids[i], RunStatus::Completed, 3, 3, 3.0, "");
    }
    store.flush();

    CompareView view(store);
    view.resize(900, 500);
    view.show();
    QSignalSpy loaded(&view, &CompareView::loaded);
    view.setSplit(CompareView::Split::ByLoss);
    view.setRuns({ids[0], ids[1], ids[2]});
    ASSERT_TRUE(loaded.wait(20000));
    CurveOptions options;
    options.metric = "val/acc";
    options.smoothing = 0.0;
    view.controls()->setOptions(options);
    const auto panels = view.panels();
    ASSERT_EQ(panels.size(), 2u); // ce, square
    EXPECT_EQ(panels[0]->series().size(), 2u);
    EXPECT_EQ(panels[1]->series().size(), 1u);
    // Same scale on both panels, and a zoom in one follows in the other.
    EXPECT_EQ(panels[0]->plot()->yAxis->range(), panels[1]->plot()->yAxis->range());
    panels[0]->plot()->xAxis->setRange(1.5, 2.5);
    EXPECT_DOUBLE_EQ(panels[1]->plot()->xAxis->range().lower, 1.5);
    EXPECT_DOUBLE_EQ(panels[1]->plot()->xAxis->range().upper, 2.5);

    // The whole experiment, as "Current experiment" asks for it: the same three runs.
    view.setExperiment(experimentId);
    ASSERT_TRUE(loaded.wait(20000));
    EXPECT_EQ(view.runIds(), (QVector<qint64>{ids[0], ids[1], ids[2]}));

    view.applyFigure2Layout(); // one panel per task: one task here, groups per loss
    ASSERT_EQ(view.panels().size(), 1u);
    const auto& groups = view.panels()[0]->series();
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].runIds.size(), 2u);
    EXPECT_FALSE(groups[0].high.empty());
}

TEST(CurvePlotTest, DecimationKeepsEachColumnsExtremesAndFollowsTheZoom) {
    std::vector<double> x, y;
    for (int i = 0; i < 100000; ++i) {
        x.push_back(i);
        y.push_back(i == 54321 ? 9.0 : i == 777 ? -9.0 : std::sin(i * 0.01));
    }
    QVector<double> dx, dy;
    CurvePlot::decimate(x, y, 0, 99999, 500, dx, dy);
    EXPECT_LE(dx.size(), 4 * 500 + 8);
    EXPECT_EQ(*std::max_element(dy.begin(), dy.end()), 9.0); // the spike survives
    EXPECT_EQ(*std::min_element(dy.begin(), dy.end()), -9.0);
    EXPECT_EQ(dx.front(), 0.0);
    EXPECT_EQ(dx.back(), 99999.0);
    EXPECT_TRUE(std::is_sorted(dx.begin(), dx.end()));
    // Zoomed in to 1,000 points: every point, plus one outside on each side.
    CurvePlot::decimate(x, y, 5000, 5999, 500, dx, dy);
    EXPECT_EQ(dx.size(), 1002);
    EXPECT_EQ(dx.front(), 4999.0);

    // In a plot: a long curve holds only a few points per pixel, and more after a zoom.
    CurveBook book;
    book.addRun(record(1, "ce", 0));
    for (int i = 1; i <= 50000; ++i) {
        RunEvent step;
        step.kind = RunEvent::Kind::Step;
        step.runId = 1;
        step.step = i;
        step.metrics = {{"train", "loss", 1.0 / i}};
        book.apply(step);
    }
    CurvePlot plot;
    plot.resize(600, 400);
    CurveOptions options;
    options.metric = "step/loss";
    options.axis = CurveAxis::Step;
    options.smoothing = 0.0;
    plot.setOptions(options);
    plot.draw(book, {1});
    QCPGraph* line = plot.graph(QStringLiteral("run/1"));
    ASSERT_NE(line, nullptr);
    EXPECT_LT(line->data()->size(), 5000);
    EXPECT_DOUBLE_EQ(line->data()->constBegin()->value, 1.0); // the first point is kept
    plot.plot()->xAxis->setRange(100, 300);
    ASSERT_TRUE(QTest::qWaitFor([&] { return line->data()->size() == 203; }, 2000)) << line->data()->size();
}
