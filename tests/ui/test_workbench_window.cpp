// The main window's handling of experiment files: what opens at start, what is saved, and the
// question about unsaved edits when the window closes.
#include <gtest/gtest.h>

#include <QAction>
#include <QApplication>
#include <QDockWidget>
#include <QDir>
#include <QFile>
#include <QFontMetrics>
#include <QMenu>
#include <QSettings>
#include <QStatusBar>
#include <QTableView>
#include <QTest>

#include <string>

#include "losslab/store/run_store.h"
#include "losslab/tasks/plugin_loader.h"
#include "workbench/experiment_designer.h"
#include "workbench/loss_table_model.h"
#include "workbench/main_window.h"
#include "workbench/run_browser_view.h"
#include "workbench/run_table_model.h"
#include "workbench/workbench_settings.h"
#include "workbench_fixtures.h"

using namespace losslab;
using namespace losslab::fixtures;

namespace {

// The toy tasks and the vision plugin's, which the default preset uses.
struct WindowWorld : ToyWorld {
    WindowWorld() { loadPlugins(tasks, {LOSSLAB_PLUGIN_BUILD_DIR}); }
    QString file(const QString& name) const { return QDir(dir.path()).filePath(name); }
    QString write(const QString& name, const std::string& text) const {
        QFile out(file(name));
        EXPECT_TRUE(out.open(QIODevice::WriteOnly));
        out.write(text.c_str());
        return file(name);
    }
};

QByteArray contents(const QString& path) {
    QFile in(path);
    return in.open(QIODevice::ReadOnly) ? in.readAll() : QByteArray();
}

QAction* fileAction(MainWindow& window, const QString& text) {
    for (QAction* action : window.findChildren<QAction*>())
        if (action->text() == text) return action;
    return nullptr;
}

LossTableModel* losses(MainWindow& window) {
    auto* view = window.designer()->findChild<QTableView*>(QStringLiteral("lossTable"));
    return view ? qobject_cast<LossTableModel*>(view->model()) : nullptr;
}

// Clears the setting on the way out: the next test starts without a last experiment.
struct LastExperimentGuard {
    ~LastExperimentGuard() { WorkbenchSettings::setLastExperiment(QString()); }
};

} // namespace

TEST(WorkbenchWindow, StartOpensTheDefaultPresetWhenTheLastExperimentNoLongerOpens) {
    // Settings of this test process only (workbench_test_main.cpp): tests run in parallel.
    ASSERT_TRUE(QSettings().fileName().startsWith(QDir::tempPath())) << QSettings().fileName().toStdString();
    WindowWorld world;
    LastExperimentGuard guard;
    RunStore store(world.databasePath());
    // A file that does not load (no loss), as an older version's designer could save it.
    const QString bad = world.write(QStringLiteral("bad.yaml"), "name: bad\ntask: toy/blobs\nlosses: []\n");
    WorkbenchSettings::setLastExperiment(bad);
    {
        MainWindow window(store, world.tasks);
        ASSERT_TRUE(window.openStartupExperiment(QString()));
        EXPECT_EQ(window.designer()->experiment().name, "default");
        EXPECT_EQ(window.designer()->experiment().taskId, "fashion_mnist/mlp");
        EXPECT_TRUE(window.statusBar()->currentMessage().contains(QStringLiteral("could not be opened")))
            << window.statusBar()->currentMessage().toStdString();
        EXPECT_TRUE(WorkbenchSettings::lastExperiment().isEmpty()) << "the bad file would fail at every start";
    }
    // A last experiment that was deleted: the default preset too.
    WorkbenchSettings::setLastExperiment(world.file(QStringLiteral("gone.yaml")));
    {
        MainWindow window(store, world.tasks);
        ASSERT_TRUE(window.openStartupExperiment(QString()));
        EXPECT_EQ(window.designer()->experiment().name, "default");
    }
    // A good last experiment opens.
    const QString good = world.write(QStringLiteral("good.yaml"), toyExperimentYaml("good", 2));
    WorkbenchSettings::setLastExperiment(good);
    {
        MainWindow window(store, world.tasks);
        ASSERT_TRUE(window.openStartupExperiment(QString()));
        EXPECT_EQ(window.designer()->experiment().name, "good");
    }
    // A file named on the command line that does not open is an error, not replaced.
    {
        MainWindow window(store, world.tasks);
        EXPECT_FALSE(window.openStartupExperiment(bad));
    }
}

TEST(WorkbenchWindow, SaveRefusesAnExperimentThatWouldNotOpenAgain) {
    WindowWorld world;
    LastExperimentGuard guard;
    RunStore store(world.databasePath());
    const QString path = world.write(QStringLiteral("edit.yaml"), toyExperimentYaml("edit", 2));
    const QByteArray before = contents(path);
    MainWindow window(store, world.tasks);
    ASSERT_TRUE(window.openExperiment(path));
    QAction* save = fileAction(window, QStringLiteral("&Save experiment"));
    ASSERT_NE(save, nullptr);

    // No loss left: not saved, the file as it was, the edits still there to correct.
    LossTableModel* model = losses(window);
    ASSERT_NE(model, nullptr);
    while (model->rowCount() > 0) model->removeLoss(0);
    ASSERT_TRUE(window.designer()->isModified());
    save->trigger();
    EXPECT_EQ(contents(path), before);
    EXPECT_TRUE(window.designer()->isModified());
    EXPECT_TRUE(window.statusBar()->currentMessage().contains(QStringLiteral("not saved")))
        << window.statusBar()->currentMessage().toStdString();

    // Valid again: saved, and the saved file opens.
    ASSERT_TRUE(window.openExperiment(path));
    window.designer()->loadYaml(QString::fromStdString(toyExperimentYaml("edit", 3)), path);
    window.designer()->setModified(true);
    save->trigger();
    EXPECT_FALSE(window.designer()->isModified());
    EXPECT_NE(contents(path), before);
    MainWindow reopened(store, world.tasks);
    EXPECT_TRUE(reopened.openExperiment(path));
}

TEST(WorkbenchWindow, ClosingWithUnsavedEditsAsksFirst) {
    WindowWorld world;
    LastExperimentGuard guard;
    RunStore store(world.databasePath());
    const QString path = world.write(QStringLiteral("close.yaml"), toyExperimentYaml("close", 2, false));
    MainWindow window(store, world.tasks);
    ASSERT_TRUE(window.openExperiment(path));
    int asked = 0;
    MainWindow::UnsavedChoice answer = MainWindow::UnsavedChoice::Cancel;
    window.setUnsavedChangesQuestion([&] {
        ++asked;
        return answer;
    });
    window.show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(&window));

    // Nothing edited: no question.
    EXPECT_TRUE(window.close());
    EXPECT_EQ(asked, 0);

    window.show();
    losses(window)->removeLoss(1);
    ASSERT_TRUE(window.designer()->isModified());
    // Cancel keeps the window and the edits.
    EXPECT_FALSE(window.close());
    EXPECT_EQ(asked, 1);
    EXPECT_TRUE(window.isVisible());
    EXPECT_TRUE(window.designer()->isModified());
    // Save writes the file, then the window closes.
    answer = MainWindow::UnsavedChoice::Save;
    EXPECT_TRUE(window.close());
    EXPECT_EQ(asked, 2);
    EXPECT_FALSE(window.isVisible());
    MainWindow reopened(store, world.tasks);
    ASSERT_TRUE(reopened.openExperiment(path));
    EXPECT_EQ(reopened.designer()->experiment().losses.size(), 1u);
    // Discard closes without writing.
    reopened.setUnsavedChangesQuestion([] { return MainWindow::UnsavedChoice::Discard; });
    reopened.show();
    const QByteArray saved = contents(path);
    losses(reopened)->removeLoss(0);
    EXPECT_TRUE(reopened.close());
    EXPECT_EQ(contents(path), saved);
}

// "Save" with an experiment that cannot be saved (not valid) keeps the window open.
TEST(WorkbenchWindow, ClosingStaysOpenWhenTheEditsCannotBeSaved) {
    WindowWorld world;
    LastExperimentGuard guard;
    RunStore store(world.databasePath());
    const QString path = world.write(QStringLiteral("invalid.yaml"), toyExperimentYaml("invalid", 2));
    const QByteArray before = contents(path);
    MainWindow window(store, world.tasks);
    ASSERT_TRUE(window.openExperiment(path));
    window.setUnsavedChangesQuestion([] { return MainWindow::UnsavedChoice::Save; });
    window.show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(&window));
    // Same epochs as CE without a square loss is refused by the loader.
    losses(window)->removeLoss(1);
    EXPECT_FALSE(window.close());
    EXPECT_TRUE(window.isVisible());
    EXPECT_EQ(contents(path), before);
    window.setUnsavedChangesQuestion([] { return MainWindow::UnsavedChoice::Discard; });
    EXPECT_TRUE(window.close());
}

// The Runs tab is read at start, so the runs a crash left are offered for resuming at once.
TEST(WorkbenchWindow, RunsTabIsFilledAtStartWithTheInterruptedRuns) {
    WindowWorld world;
    LastExperimentGuard guard;
    RunStore store(world.databasePath());
    ExperimentRecord experiment;
    experiment.name = "earlier";
    experiment.taskId = "toy/blobs";
    experiment.specYaml = "name: earlier\n";
    RunRecord run;
    run.taskId = "toy/blobs";
    run.lossName = run.loss = "ce";
    run.lr = 0.05;
    run.protocol = "early_stopping";
    run.device = "cpu";
    run.specYaml = "seed: 0\n";
    RunRecord other = run;
    other.seed = 1;
    const auto ids = store.addRuns(store.addExperiment(experiment), {run, other});
    store.finishRun(ids[0], RunStatus::Completed, 1, 1, 1.0, "");
    store.finishRun(ids[1], RunStatus::Interrupted, 1, 0, 1.0, "");
    store.flush();

    MainWindow window(store, world.tasks);
    RunBrowserView& browser = *window.runBrowser();
    ASSERT_TRUE(QTest::qWaitFor([&] { return browser.model()->rowCount() == 2; }, 15000))
        << "the Runs tab was not filled without a Refresh";
    EXPECT_EQ(browser.interruptedRunIds(), QVector<qint64>{ids[1]});
}

// File > Open recent lists the experiments opened or saved, newest first, each once.
TEST(WorkbenchWindow, RecentExperimentsListTheFilesOpenedNewestFirst) {
    WindowWorld world;
    LastExperimentGuard guard;
    QSettings().remove(QStringLiteral("recentExperiments"));
    RunStore store(world.databasePath());
    const QString a = world.write(QStringLiteral("a.yaml"), toyExperimentYaml("a", 2));
    const QString b = world.write(QStringLiteral("b.yaml"), toyExperimentYaml("b", 2));
    MainWindow window(store, world.tasks);
    ASSERT_TRUE(window.openExperiment(a));
    ASSERT_TRUE(window.openExperiment(b));
    ASSERT_TRUE(window.openExperiment(a));
    EXPECT_EQ(WorkbenchSettings::recentExperiments(), (QStringList{a, b}));
    // A preset is a template, not a recent file.
    ASSERT_TRUE(window.openExperiment(presetFiles().front()));
    EXPECT_EQ(WorkbenchSettings::recentExperiments().size(), 2);

    auto* menu = window.findChild<QMenu*>(QStringLiteral("recentMenu"));
    ASSERT_NE(menu, nullptr);
    emit menu->aboutToShow();
    QStringList shown;
    for (QAction* action : menu->actions()) shown << action->text();
    EXPECT_EQ(shown, (QStringList{QDir::toNativeSeparators(a), QDir::toNativeSeparators(b)}));
    menu->actions().at(1)->trigger(); // opens b
    EXPECT_EQ(window.designer()->experiment().name, "b");
    for (int i = 0; i < WorkbenchSettings::kRecentExperiments + 3; ++i)
        WorkbenchSettings::addRecentExperiment(world.file(QStringLiteral("f%1.yaml").arg(i)));
    EXPECT_EQ(WorkbenchSettings::recentExperiments().size(), WorkbenchSettings::kRecentExperiments);
    QSettings().remove(QStringLiteral("recentExperiments"));
}

// The experiment panel keeps a width its fields need (in characters), however small the window.
TEST(WorkbenchWindow, ExperimentPanelKeepsAReadableWidth) {
    WindowWorld world;
    LastExperimentGuard guard;
    RunStore store(world.databasePath());
    MainWindow window(store, world.tasks);
    window.resize(700, 500);
    window.show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(&window));
    // Dragging the dock's edge as far as it goes (what a larger scale factor did to it).
    auto* dock = window.findChild<QDockWidget*>(QStringLiteral("designerDock"));
    ASSERT_NE(dock, nullptr);
    window.resizeDocks({dock}, {40}, Qt::Horizontal);
    QApplication::processEvents();
    const int em = QFontMetrics(window.designer()->font()).horizontalAdvance(QLatin1Char('M'));
    EXPECT_GE(window.designer()->width(), 28 * em);
}
