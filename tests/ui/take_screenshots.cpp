// losslab_ui_screenshots: pictures of the main views for the documentation (not a test).
// scripts/screenshots.sh fills a database with a finished experiment through the CLI, then
// runs this under Xvfb at each screen size:
//   losslab_ui_screenshots --db FILE --out DIR --size 1366x768 [--prefix NAME-]
// Without --size the window takes its own first-start size for the screen.
// It opens the default experiment, starts a short live run so that the queue and the live
// curves move, and grabs: the whole window on the live curves, the designer dock, the
// compare view in the Figure 2 layout, the results and the run browser (all showing the
// finished experiment).
#include <QApplication>
#include <QDir>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QScreen>
#include <QSignalSpy>
#include <QTabWidget>

#include <cstdio>
#include <iostream>
#include <string>

#include "losslab/error.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/compute_setup.h"
#include "workbench/compare_view.h"
#include "workbench/curve_book.h"
#include "workbench/experiment_designer.h"
#include "workbench/live_curves_view.h"
#include "workbench/main_window.h"
#include "workbench/results_view.h"
#include "workbench/run_browser_view.h"
#include "workbench/run_controller.h"
#include "workbench/workbench_settings.h"

namespace {

void pump(int milliseconds) {
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < milliseconds) QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
}

bool waitFor(QObject* sender, const char* signal, int milliseconds) {
    QSignalSpy spy(sender, signal);
    return spy.wait(milliseconds);
}

void save(QWidget* widget, const QString& path) {
    const QPixmap pixmap = widget->grab();
    if (!pixmap.save(path)) {
        std::cerr << "losslab_ui_screenshots: cannot write " << path.toStdString() << "\n";
        std::exit(1);
    }
    std::printf("%s (%dx%d)\n", qPrintable(path), pixmap.width(), pixmap.height());
}

} // namespace

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QCoreApplication::setOrganizationName(QStringLiteral("LossLab"));
    QCoreApplication::setApplicationName(QStringLiteral("losslab-screenshots")); // own settings
    QString db, out, prefix;
    QSize size; // empty: the window's own first-start size
    const QStringList args = app.arguments();
    for (int i = 1; i + 1 < args.size(); i += 2) {
        if (args[i] == QLatin1String("--db")) db = args[i + 1];
        else if (args[i] == QLatin1String("--out")) out = args[i + 1];
        else if (args[i] == QLatin1String("--prefix")) prefix = args[i + 1];
        else if (args[i] == QLatin1String("--size")) size = QSize(args[i + 1].section('x', 0, 0).toInt(), args[i + 1].section('x', 1, 1).toInt());
    }
    if (db.isEmpty() || out.isEmpty()) {
        std::cerr << "usage: losslab_ui_screenshots --db FILE --out DIR [--size WxH] [--prefix NAME-]\n";
        return 2;
    }
    QDir().mkpath(out);
    losslab::configureProcess();
    losslab::TaskRegistry tasks;
    losslab::loadPlugins(tasks, losslab::defaultPluginDirs());
    losslab::RunStore store(db.toStdString());
    const auto finished = store.experiments();
    if (finished.empty()) {
        std::cerr << "losslab_ui_screenshots: " << db.toStdString() << " has no experiment to show\n";
        return 1;
    }
    const qint64 shown = finished.front().id; // the script's finished experiment

    losslab::MainWindow window(store, tasks);
    window.setConfirmation([](const QString&) { return true; });
    if (!size.isEmpty()) window.resize(size);
    window.show();
    std::printf("window %dx%d on a %dx%d screen\n", window.width(), window.height(),
                window.screen()->geometry().width(), window.screen()->geometry().height());
    if (!window.openExperiment(losslab::presetDirectory() + QStringLiteral("/default.yaml"))) return 1;
    pump(500);

    // The default experiment starts live, so that the queue and the curves move; it is
    // cancelled once the pictures are taken.
    window.startExperiment();
    // Until some epochs are in (at most two minutes), then a little more for the curves.
    QElapsedTimer started;
    started.start();
    while (started.elapsed() < 120000) {
        pump(500);
        const losslab::CurveBook& book = window.liveCurves()->book();
        std::size_t epochs = 0;
        for (const auto id : book.runIds()) epochs += book.find(id)->epochs.size();
        if (epochs >= 3) break;
    }
    pump(2000);
    save(&window, QDir(out).filePath(prefix + QStringLiteral("live-curves.png")));
    if (auto* dock = window.findChild<QDockWidget*>(QStringLiteral("designerDock"))) {
        save(dock, QDir(out).filePath(prefix + QStringLiteral("designer.png")));
    }

    window.resultsView()->setExperiment(shown);
    waitFor(window.resultsView(), SIGNAL(refreshed()), 30000);
    window.tabs()->setCurrentWidget(window.resultsView());
    pump(800);
    save(&window, QDir(out).filePath(prefix + QStringLiteral("results.png")));

    QVector<qint64> ids;
    losslab::RunFilter filter;
    filter.experimentIds = {shown};
    for (const auto& run : store.runs(filter)) ids.push_back(run.id);
    window.compareView()->applyFigure2Layout();
    window.compareView()->setRuns(ids);
    waitFor(window.compareView(), SIGNAL(loaded()), 30000);
    window.compareView()->setSplit(losslab::CompareView::Split::ByProtocol);
    window.tabs()->setCurrentWidget(window.compareView());
    pump(800);
    save(&window, QDir(out).filePath(prefix + QStringLiteral("compare.png")));

    window.runBrowser()->refresh();
    waitFor(window.runBrowser(), SIGNAL(refreshed()), 30000);
    window.tabs()->setCurrentWidget(window.runBrowser());
    pump(800);
    save(&window, QDir(out).filePath(prefix + QStringLiteral("run-browser.png")));

    window.controller()->cancelAll();
    QElapsedTimer stop;
    stop.start();
    while (window.controller()->isBusy() && stop.elapsed() < 60000) pump(50);
    return 0;
}
