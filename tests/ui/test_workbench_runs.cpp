// The run path of the window: an experiment started from the designer goes through the
// RunController on background threads, shows up in the queue and in the live curves, and
// cancels within a batch.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <QLabel>
#include <QSignalSpy>
#include <QTest>

#include <qcustomplot.h>

#include <algorithm>
#include <filesystem>

#include "losslab/store/run_store.h"
#include "workbench/curve_plot.h"
#include "workbench/curve_controls.h"
#include "workbench/experiment_designer.h"
#include "workbench/live_curves_view.h"
#include "workbench/main_window.h"
#include "workbench/queue_panel.h"
#include "workbench/run_browser_view.h"
#include "workbench/run_controller.h"
#include "workbench/run_queue_model.h"
#include "workbench/run_table_model.h"
#include "workbench_fixtures.h"

using namespace losslab;
using namespace losslab::fixtures;

namespace {

bool waitIdle(RunController& controller, int milliseconds) {
    return QTest::qWaitFor([&] { return !controller.isBusy(); }, milliseconds);
}

} // namespace

TEST(WorkbenchRunTest, TinyRunStartedFromTheWindowCompletesAndItsPointsArePlotted) {
    ToyWorld world;
    RunStore store(world.databasePath());
    MainWindow window(store, world.tasks);
    window.setConfirmation([](const QString&) { return true; });
    window.designer()->loadYaml(QString::fromStdString(toyExperimentYaml("tiny", 3)), QStringLiteral("tiny.yaml"));
    QSignalSpy finished(&window, &MainWindow::queueFinished);
    window.startExperiment();
    ASSERT_TRUE(waitIdle(*window.controller(), 120000)) << "the runs did not finish in 2 minutes";
    // The window says when everything has finished.
    ASSERT_TRUE(finished.count() == 1 || finished.wait(5000));
    EXPECT_EQ(finished.count(), 1);
    EXPECT_TRUE(finished.at(0).at(0).toString().contains(QStringLiteral("3 completed")))
        << finished.at(0).at(0).toString().toStdString();

    // Queue: CE, square early stopping, square with CE's epochs; all completed.
    RunQueueModel& queue = *window.queueModel();
    ASSERT_EQ(queue.rowCount(), 3);
    for (int row = 0; row < 3; ++row) {
        EXPECT_EQ(queue.statusOf(queue.runIdAt(row)), RunStatus::Completed) << "row " << row;
        EXPECT_DOUBLE_EQ(queue.progressOf(queue.runIdAt(row)), 1.0);
    }
    const auto stored = store.runs();
    ASSERT_EQ(stored.size(), 3u);
    for (const RunRecord& run : stored) EXPECT_EQ(run.status, RunStatus::Completed) << run.id;

    // Live curves: every epoch of every run, as stored, in the plot's data.
    LiveCurvesView& live = *window.liveCurves();
    CurveOptions options;
    options.metric = "val/acc";
    options.smoothing = 0.0;
    live.controls()->setOptions(options);
    for (const RunRecord& run : stored) {
        QCPGraph* graph = live.plot()->graph(QStringLiteral("run/%1").arg(run.id));
        ASSERT_NE(graph, nullptr) << "no curve for run " << run.id;
        std::vector<double> expected;
        for (const EpochMetricRow& row : store.epochMetrics({run.id}))
            if (row.value.split == "val" && row.value.metric == "acc") expected.push_back(row.value.value * 100.0);
        ASSERT_EQ(graph->data()->size(), static_cast<int>(expected.size())) << "run " << run.id;
        ASSERT_EQ(static_cast<int>(expected.size()), run.epochs);
        int i = 0;
        for (auto it = graph->data()->constBegin(); it != graph->data()->constEnd(); ++it, ++i) {
            EXPECT_DOUBLE_EQ(it->key, i + 1.0);
            EXPECT_DOUBLE_EQ(it->value, expected[static_cast<std::size_t>(i)]);
        }
    }
    // The per-step training loss arrived too (logged every 5 steps).
    options.metric = "step/loss";
    options.axis = CurveAxis::Step;
    live.controls()->setOptions(options);
    QCPGraph* steps = live.plot()->graph(QStringLiteral("run/%1").arg(stored.front().id));
    ASSERT_NE(steps, nullptr);
    EXPECT_EQ(steps->data()->size(), static_cast<int>(store.stepMetrics(stored.front().id).size()));
    EXPECT_GT(steps->data()->size(), 0);
}

// Seeds trained two at a time finish out of order; each run's curve holds exactly its own
// stored rows. Runs deleted in the Runs tab leave the live curves and the queue, whose counts
// then equal the database's (before, their curves and "completed" rows stayed).
TEST(WorkbenchRunTest, EachCurveHoldsItsOwnRowsAndDeletedRunsLeaveTheCurvesAndTheQueue) {
    ToyWorld world;
    RunStore store(world.databasePath());
    MainWindow window(store, world.tasks);
    window.setConfirmation([](const QString&) { return true; });
    const std::string yaml = toyExperimentYaml("seeds", 3, false, "toy/blobs", "[1, 2, 3]") + "runner:\n  cpu_runs: 2\n";
    window.designer()->loadYaml(QString::fromStdString(yaml), QStringLiteral("seeds.yaml"));
    window.startExperiment();
    ASSERT_TRUE(waitIdle(*window.controller(), 120000)) << "the runs did not finish in 2 minutes";
    const auto stored = store.runs();
    ASSERT_EQ(stored.size(), 6u);

    LiveCurvesView& live = *window.liveCurves();
    CurveOptions options;
    options.metric = "val/acc";
    options.smoothing = 0.0;
    live.controls()->setOptions(options);
    for (const RunRecord& run : stored) {
        const RunCurves* curves = live.book().find(run.id);
        ASSERT_NE(curves, nullptr) << run.id;
        std::vector<double> expected;
        for (const EpochMetricRow& row : store.epochMetrics({run.id}))
            if (row.value.split == "val" && row.value.metric == "acc") expected.push_back(row.value.value);
        EXPECT_EQ(curves->epochValues.at("val/acc"), expected) << "run " << run.id;
        std::vector<double> steps;
        for (const StepMetricRow& row : store.stepMetrics(run.id)) steps.push_back(static_cast<double>(row.step));
        EXPECT_EQ(curves->steps, steps) << "run " << run.id;
    }

    RunBrowserView& browser = *window.runBrowser();
    ASSERT_TRUE(QTest::qWaitFor([&] { return browser.model()->rowCount() == 6; }, 15000));
    const QVector<qint64> doomed{stored[0].id, stored[3].id};
    browser.selectRuns(doomed);
    ASSERT_EQ(browser.selectedRunIds().size(), 2);
    QSignalSpy deleted(&browser, &RunBrowserView::runsDeleted);
    browser.deleteSelected();
    ASSERT_TRUE(deleted.wait(15000));
    ASSERT_EQ(store.runs().size(), 4u);
    for (qint64 id : doomed) {
        EXPECT_EQ(live.book().find(id), nullptr) << id;
        EXPECT_EQ(live.plot()->graph(QStringLiteral("run/%1").arg(id)), nullptr) << id;
        EXPECT_LT(window.queueModel()->rowOf(id), 0) << id;
    }
    EXPECT_EQ(live.book().size(), 4u);
    EXPECT_EQ(window.queueModel()->rowCount(), 4);
    EXPECT_EQ(window.queueModel()->countWithStatus(RunStatus::Completed), 4);
    for (const RunRecord& run : store.runs())
        EXPECT_EQ(window.queueModel()->statusOf(run.id), run.status) << run.id;
}

TEST(WorkbenchRunTest, DependentRunWaitsForItsCeRun) {
    ToyWorld world;
    RunStore store(world.databasePath());
    RunController controller(store, world.tasks);
    RunQueueModel model;
    std::vector<RunEvent> seen;
    QObject::connect(&controller, &RunController::runsPlanned, &model, &RunQueueModel::addRuns);
    QObject::connect(&controller, &RunController::eventsArrived, &model, [&](const std::vector<RunEvent>& events) {
        model.applyEvents(events);
        seen.insert(seen.end(), events.begin(), events.end());
    });
    ExperimentSpec spec = loadExperimentText(toyExperimentYaml("wait", 2), "wait.yaml", {}, world.tasks);
    controller.start(spec);
    ASSERT_TRUE(waitIdle(controller, 120000));
    // The same-epochs run is told to wait, and starts only after its CE run finished.
    std::int64_t waitingRun = 0, ceRun = 0;
    for (const RunRecord& run : store.runs()) {
        if (run.protocol == "same_epochs_as_ce") waitingRun = run.id;
        if (run.loss == "ce") ceRun = run.id;
    }
    auto at = [&](RunEvent::Kind kind, std::int64_t id) {
        return std::find_if(seen.begin(), seen.end(), [&](const RunEvent& e) { return e.kind == kind && e.runId == id; }) -
               seen.begin();
    };
    ASSERT_LT(at(RunEvent::Kind::Finished, ceRun), static_cast<long>(seen.size()));
    EXPECT_LT(at(RunEvent::Kind::Finished, ceRun), at(RunEvent::Kind::Started, waitingRun));
}

TEST(WorkbenchRunTest, CancellingARunStopsItAndStoresCancelled) {
    ToyWorld world;
    RunStore store(world.databasePath());
    RunController controller(store, world.tasks);
    std::int64_t running = 0;
    std::int64_t stepAtCancel = -1, lastStep = 0;
    RunStatus finalStatus = RunStatus::Queued;
    int finishedEpoch = -1;
    QObject::connect(&controller, &RunController::eventsArrived, &controller, [&](const std::vector<RunEvent>& events) {
        for (const RunEvent& e : events) {
            if (e.kind == RunEvent::Kind::Step) {
                lastStep = e.step;
                if (running == 0) {
                    running = e.runId;
                    stepAtCancel = e.step;
                    controller.cancel(running);
                }
            }
            if (e.kind == RunEvent::Kind::Finished && e.runId == running) {
                finalStatus = e.status;
                finishedEpoch = e.epoch;
            }
        }
    });
    ExperimentSpec spec = loadExperimentText(toyExperimentYaml("cancel", 50, false, "toy/slow"), "cancel.yaml", {}, world.tasks);
    controller.start(spec);
    ASSERT_TRUE(QTest::qWaitFor([&] { return finalStatus != RunStatus::Queued; }, 120000));
    controller.cancelAll();
    ASSERT_TRUE(waitIdle(controller, 120000));
    EXPECT_EQ(finalStatus, RunStatus::Cancelled);
    // The cancel came in the first epoch (an epoch of toy/slow is 1250 steps); the run
    // stopped before it finished that epoch: no epoch trained.
    EXPECT_EQ(finishedEpoch, 0);
    RunFilter filter;
    filter.runIds = {running};
    const auto runs = store.runs(filter);
    ASSERT_EQ(runs.size(), 1u);
    EXPECT_EQ(runs[0].status, RunStatus::Cancelled);
    EXPECT_LT(lastStep, 1250);
    EXPECT_GE(lastStep, stepAtCancel);
    // cancelAll took the other run before it started.
    for (const RunRecord& run : store.runs()) EXPECT_EQ(run.status, RunStatus::Cancelled) << run.id;
}

TEST(WorkbenchRunTest, BadExperimentFailsBeforeAnythingIsStored) {
    ToyWorld world;
    RunStore store(world.databasePath());
    RunController controller(store, world.tasks);
    QSignalSpy failed(&controller, &RunController::batchFailed);
    ExperimentSpec spec = loadExperimentText(toyExperimentYaml("gpu", 2), "gpu.yaml", {}, world.tasks);
    spec.device = "cuda:7";
    controller.start(spec);
    ASSERT_TRUE(waitIdle(controller, 60000));
    ASSERT_EQ(failed.count(), 1);
    const QString message = failed.at(0).at(0).toString();
    EXPECT_TRUE(message.contains(QStringLiteral("cuda:7"))) << message.toStdString();
    EXPECT_TRUE(message.endsWith(QStringLiteral("No run was stored."))) << message.toStdString();
    EXPECT_TRUE(store.runs().empty());
    EXPECT_TRUE(store.experiments().empty());
}

// The runs are stored and start, but the window cannot read them back (a damaged row here; a
// lock held past the busy timeout in the wild): they are stopped where they can be resumed, and
// the message says so instead of "nothing was stored".
TEST(WorkbenchRunTest, RunsStoredButUnreadableAreStoppedAsInterruptedAndTheMessageSaysSo) {
    ToyWorld world;
    RunStore store(world.databasePath());
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(world.databasePath().c_str(), &db), SQLITE_OK);
        const char* sql = "CREATE TRIGGER garbled AFTER INSERT ON runs "
                          "BEGIN UPDATE runs SET status = 'garbled' WHERE id = NEW.id; END";
        ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
        sqlite3_close(db);
    }
    RunController controller(store, world.tasks);
    QSignalSpy failed(&controller, &RunController::batchFailed);
    QSignalSpy planned(&controller, &RunController::runsPlanned);
    ExperimentSpec spec =
        loadExperimentText(toyExperimentYaml("unreadable", 50, false, "toy/slow"), "unreadable.yaml", {}, world.tasks);
    controller.start(spec);
    ASSERT_TRUE(waitIdle(controller, 120000));
    ASSERT_EQ(failed.count(), 1);
    EXPECT_EQ(planned.count(), 0);
    const QString message = failed.at(0).at(0).toString();
    EXPECT_TRUE(message.contains(QStringLiteral("could not be read back"))) << message.toStdString();
    EXPECT_TRUE(message.contains(QStringLiteral("garbled"))) << message.toStdString();
    EXPECT_TRUE(message.contains(QStringLiteral("stored as interrupted"))) << message.toStdString();
    EXPECT_FALSE(message.contains(QStringLiteral("No run was stored"))) << message.toStdString();

    // What the message says is what is stored: every run is there, interrupted, none trained on.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(world.databasePath().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* select = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT id, status FROM runs ORDER BY id", -1, &select, nullptr), SQLITE_OK);
    std::vector<qint64> ids;
    while (sqlite3_step(select) == SQLITE_ROW) {
        ids.push_back(sqlite3_column_int64(select, 0));
        const std::string status = reinterpret_cast<const char*>(sqlite3_column_text(select, 1));
        EXPECT_EQ(status, "interrupted") << "run " << ids.back();
    }
    sqlite3_finalize(select);
    sqlite3_close(db);
    ASSERT_EQ(ids.size(), 2u); // CE and the square loss, both early stopping
    EXPECT_TRUE(message.contains(QStringLiteral("2 run(s) were stored (#%1-#%2)").arg(ids.front()).arg(ids.back())))
        << message.toStdString();
}

TEST(WorkbenchRunTest, AReadOnlyDatabaseIsBrowsedAndRefusesRunsSayingWhy) {
    ToyWorld world;
    { RunStore(world.databasePath()).addExperiment([] { ExperimentRecord e; e.name = "kept"; return e; }()); }
    RunStore store(world.databasePath(), StoreAccess::ReadOnly);
    MainWindow window(store, world.tasks);
    EXPECT_TRUE(window.windowTitle().contains(QStringLiteral("read-only"))) << window.windowTitle().toStdString();
    QSignalSpy failed(window.controller(), &RunController::batchFailed);
    window.designer()->loadYaml(QString::fromStdString(toyExperimentYaml("ro", 2)), QStringLiteral("ro.yaml"));
    window.startExperiment();
    ASSERT_TRUE(waitIdle(*window.controller(), 60000));
    ASSERT_EQ(failed.count(), 1);
    EXPECT_TRUE(failed.at(0).at(0).toString().contains(QStringLiteral("is open read-only"))) << failed.at(0).at(0).toString().toStdString();
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(world.databasePath()).parent_path() /
                                         (std::filesystem::path(world.databasePath()).stem().string() + "-checkpoints")))
        << "a read-only database got a checkpoint folder";
    EXPECT_EQ(store.experiments().size(), 1u);
}

TEST(WorkbenchRunTest, ClosingWhileRunsTrainAsksAndInterrupts) {
    ToyWorld world;
    RunStore store(world.databasePath());
    MainWindow window(store, world.tasks);
    int asked = 0;
    bool answer = false;
    window.setConfirmation([&](const QString&) {
        ++asked;
        return answer;
    });
    window.designer()->loadYaml(QString::fromStdString(toyExperimentYaml("close", 50, false, "toy/slow")),
                                QStringLiteral("close.yaml"));
    window.show();
    window.startExperiment();
    ASSERT_TRUE(QTest::qWaitFor([&] { return window.queueModel()->countWithStatus(RunStatus::Running) > 0; }, 60000));
    EXPECT_FALSE(window.close()); // "no": keeps running
    EXPECT_EQ(asked, 1);
    EXPECT_TRUE(window.controller()->isBusy());
    answer = true;
    window.close();
    EXPECT_EQ(asked, 2);
    ASSERT_TRUE(waitIdle(*window.controller(), 60000));
    ASSERT_TRUE(QTest::qWaitFor([&] { return !window.isVisible(); }, 10000)) << "the window did not close when idle";
    // Stored as interrupted, as the README says: the next start offers to resume them.
    const auto runs = store.runs();
    ASSERT_FALSE(runs.empty());
    for (const RunRecord& run : runs) EXPECT_EQ(run.status, RunStatus::Interrupted) << run.id;

    MainWindow next(store, world.tasks);
    ASSERT_TRUE(QTest::qWaitFor([&] { return static_cast<std::size_t>(next.runBrowser()->interruptedRunIds().size()) == runs.size(); }, 15000))
        << "the next window does not offer the interrupted runs";
}

// Closing with a second experiment waiting behind the running one: the question says that it
// will not start (it is not stored until its turn); before, it went without a word. Every run
// of the running experiment, queued ones included, is stored as interrupted.
TEST(WorkbenchRunTest, ClosingSaysThatWaitingExperimentsWillNotStart) {
    ToyWorld world;
    RunStore store(world.databasePath());
    MainWindow window(store, world.tasks);
    QStringList questions;
    window.setConfirmation([&](const QString& question) {
        questions << question;
        return true;
    });
    const std::string yaml = toyExperimentYaml("waiting", 50, false, "toy/slow", "[1, 2, 3, 4, 5, 6, 7, 8]") +
                             "runner:\n  cpu_runs: 2\n";
    window.designer()->loadYaml(QString::fromStdString(yaml), QStringLiteral("waiting.yaml"));
    window.show();
    window.startExperiment();
    window.startExperiment(); // waits behind the first
    ASSERT_TRUE(QTest::qWaitFor([&] { return window.queueModel()->countWithStatus(RunStatus::Running) > 0; }, 60000));
    ASSERT_EQ(window.controller()->queuedBatches(), 1);
    window.close();
    ASSERT_EQ(questions.size(), 1);
    EXPECT_TRUE(questions[0].contains(QStringLiteral("1 more experiment(s) waiting to start will not start")))
        << questions[0].toStdString();
    ASSERT_TRUE(waitIdle(*window.controller(), 60000));
    ASSERT_TRUE(QTest::qWaitFor([&] { return !window.isVisible(); }, 10000));
    const auto runs = store.runs();
    EXPECT_EQ(runs.size(), 16u); // 2 losses x 8 seeds of the first experiment; the second never stored
    for (const RunRecord& run : runs) EXPECT_EQ(run.status, RunStatus::Interrupted) << run.id;
    EXPECT_EQ(store.experiments().size(), 1u);
}

// A resumed run goes on from the epochs it stored: the queue shows "3 / 5", not "0 / 5".
TEST(RunQueueModelTest, ResumedRunStartsFromItsStoredEpochs) {
    RunQueueModel model;
    RunRecord run;
    run.id = 7;
    run.status = RunStatus::Interrupted;
    run.epochs = 3;
    run.targetEpochs = 5;
    model.addRuns({run});
    RunEvent started;
    started.kind = RunEvent::Kind::Started;
    started.runId = 7;
    started.maxEpochs = 5;
    started.message = "cpu";
    model.applyEvents({started});
    EXPECT_EQ(model.data(model.index(0, RunQueueModel::Epoch)).toString(), QStringLiteral("3 / 5"));
    EXPECT_NEAR(model.progressOf(7), 0.6, 1e-12);
}

// The queue's estimate: running runs' remaining time, plus the queued runs at the mean length
// of the finished ones, shared over the runs that train at once.
TEST(RunQueueModelTest, QueueEstimateAddsTheQueuedRunsAtTheMeanLength) {
    // Two running (30 s and 50 s left), three queued, finished runs took 100 and 120 s:
    // (30 + 50 + 3 x 110) / 2 = 205 s.
    EXPECT_DOUBLE_EQ(RunQueueModel::estimateQueueSeconds({30, 50}, {130, 150}, {100, 120}, 3), 205.0);
    // Nothing finished yet: the running runs' projected lengths stand in.
    EXPECT_DOUBLE_EQ(RunQueueModel::estimateQueueSeconds({10}, {40}, {}, 2), 90.0);
    // Nothing to go by, and nothing left.
    EXPECT_DOUBLE_EQ(RunQueueModel::estimateQueueSeconds({}, {}, {}, 4), -1.0);
    EXPECT_DOUBLE_EQ(RunQueueModel::estimateQueueSeconds({}, {}, {100}, 0), 0.0);
    EXPECT_EQ(RunQueueModel::durationText(205), QStringLiteral("3:25"));
}

// Interrupted runs (to resume) are not counted as cancelled.
TEST(RunQueueModelTest, SummaryCountsInterruptedRunsApartFromCancelledOnes) {
    RunQueueModel model;
    RunRecord cancelled;
    cancelled.id = 1;
    cancelled.status = RunStatus::Cancelled;
    RunRecord interrupted;
    interrupted.id = 2;
    interrupted.status = RunStatus::Interrupted;
    model.addRuns({cancelled, interrupted});
    QueuePanel panel(model);
    const QString summary = panel.findChild<QLabel*>(QStringLiteral("queueSummary"))->text();
    EXPECT_TRUE(summary.contains(QStringLiteral("1 cancelled"))) << summary.toStdString();
    EXPECT_TRUE(summary.contains(QStringLiteral("1 interrupted"))) << summary.toStdString();
}
