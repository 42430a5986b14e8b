// losslab-bench-gui: how the desktop program's GUI thread keeps up.
//
//  1. Event-loop stall: the main window (curves tab open) while N runs of the default
//     experiment's task train at once (each its own CPU slot). A 1 ms timer on the GUI
//     thread notes when it fires; the longest gap minus 1 ms is the longest stall. The same
//     window idle for the same time is the baseline, measured in the same run.
//  2. Redraw: R runs x P points each in one CurvePlot (smoothing on: a faint raw line and
//     the smoothed line per run), full rebuild (series + graph data) and replot timed
//     separately; baseline: the same plot with R x 1,000 points.
//
// Usage: losslab-bench-gui [--runs N] [--seconds S] [--curves R] [--points P] [--nice N] [--db FILE]
// --nice: how much nicer the training threads run than the GUI (default 19, as in the window).
// Prints one line per measurement; it never passes or fails (docs/benchmarks.md).
#include <QApplication>
#include <QElapsedTimer>
#include <QTabWidget>
#include <QTemporaryDir>
#include <QTimer>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/compute_setup.h"
#include "workbench/curve_book.h"
#include "workbench/curve_plot.h"
#include "workbench/curve_series.h"
#include "workbench/live_curves_view.h"
#include "workbench/main_window.h"
#include "workbench/run_controller.h"

namespace {

struct Stalls {
    double longest = 0, p99 = 0, median = 0;
    int ticks = 0;
};

// Runs the event loop for `seconds` with a 1 ms timer and returns the gaps beyond 1 ms.
Stalls measureEventLoop(double seconds) {
    std::vector<double> gaps;
    QElapsedTimer clock;
    clock.start();
    qint64 last = clock.nsecsElapsed();
    QTimer tick;
    tick.setTimerType(Qt::PreciseTimer);
    tick.setInterval(1);
    QObject::connect(&tick, &QTimer::timeout, [&] {
        const qint64 now = clock.nsecsElapsed();
        gaps.push_back(std::max(0.0, (now - last) / 1e6 - 1.0));
        last = now;
    });
    tick.start();
    QEventLoop loop;
    QTimer::singleShot(static_cast<int>(seconds * 1000), &loop, &QEventLoop::quit);
    loop.exec();
    Stalls s;
    if (gaps.empty()) return s;
    std::sort(gaps.begin(), gaps.end());
    s.ticks = static_cast<int>(gaps.size());
    s.longest = gaps.back();
    s.p99 = gaps[static_cast<std::size_t>(0.99 * (gaps.size() - 1))];
    s.median = gaps[gaps.size() / 2];
    return s;
}

void printStalls(const char* what, const Stalls& s) {
    std::printf("%-34s ticks %6d  median %6.2f ms  p99 %6.2f ms  longest %6.2f ms\n", what, s.ticks, s.median, s.p99,
                s.longest);
}

// A book of `curves` runs with `points` logged steps each (and one epoch every 1,000 steps).
losslab::CurveBook syntheticBook(int curves, int points) {
    losslab::CurveBook book;
    for (int r = 1; r <= curves; ++r) {
        losslab::RunRecord run;
        run.id = r;
        run.taskId = "bench";
        run.loss = r % 2 ? "ce" : "square";
        run.lossName = run.loss;
        run.protocol = "early_stopping";
        run.seed = r;
        book.addRun(run);
        for (int i = 1; i <= points; ++i) {
            losslab::RunEvent step;
            step.kind = losslab::RunEvent::Kind::Step;
            step.runId = r;
            step.step = i;
            step.metrics = {{"train", "loss", 2.0 * std::exp(-i / (points / 4.0)) + 0.1 * std::sin(i * 0.37 + r)}};
            book.apply(step);
            if (i % 1000 == 0) {
                losslab::RunEvent epoch;
                epoch.kind = losslab::RunEvent::Kind::Epoch;
                epoch.runId = r;
                epoch.epoch = i / 1000;
                epoch.step = i;
                epoch.metrics = {{"train", "wall_s", 1.0}};
                book.apply(epoch);
            }
        }
    }
    return book;
}

struct RedrawTimes {
    double seriesMs = 0, rebuildMs = 0, replotMs = 0;
};

RedrawTimes measureRedraw(int curves, int points, int repeats) {
    const losslab::CurveBook book = syntheticBook(curves, points);
    losslab::CurvePlot plot;
    plot.resize(1200, 700);
    plot.show();
    losslab::CurveOptions options;
    options.metric = "step/loss";
    options.axis = losslab::CurveAxis::Step;
    options.smoothing = 0.6;
    plot.setOptions(options);
    std::vector<double> series, rebuild, replot;
    for (int i = 0; i < repeats; ++i) {
        QElapsedTimer t;
        t.start();
        const auto built = losslab::buildCurveSeries(book, book.runIds(), options);
        series.push_back(t.nsecsElapsed() / 1e6);
        t.restart();
        plot.draw(book, book.runIds(), true);
        rebuild.push_back(t.nsecsElapsed() / 1e6);
        t.restart();
        plot.plot()->replot(QCustomPlot::rpImmediateRefresh);
        replot.push_back(t.nsecsElapsed() / 1e6);
    }

    auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    return {median(series), median(rebuild), median(replot)};
}

} // namespace

int main(int argc, char** argv) {
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    int runs = 5, curves = 10, points = 100000;
    double seconds = 20;
    int nice = 19; // the window's own setting (RunController); 0 = workers at the GUI's priority
    std::string db;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--runs") runs = std::stoi(argv[i + 1]);
        else if (flag == "--seconds") seconds = std::stod(argv[i + 1]);
        else if (flag == "--curves") curves = std::stoi(argv[i + 1]);
        else if (flag == "--points") points = std::stoi(argv[i + 1]);
        else if (flag == "--db") db = argv[i + 1];
        else if (flag == "--nice") nice = std::stoi(argv[i + 1]);
        else {
            std::cerr << "losslab-bench-gui: unknown option " << flag << "\n";
            return 2;
        }
    }
    std::printf("platform %s, %d cores\n", qPrintable(QGuiApplication::platformName()), QThread::idealThreadCount());
    std::printf("%s\n", losslab::configureProcess().c_str());

    // --- redraw ---
    const RedrawTimes small = measureRedraw(curves, 1000, 7);
    const RedrawTimes large = measureRedraw(curves, points, 7);
    std::printf("redraw %2d x %7d points (baseline)  series %6.2f ms  rebuild %7.2f ms  replot %7.2f ms\n", curves, 1000,
                small.seriesMs, small.rebuildMs, small.replotMs);
    std::printf("redraw %2d x %7d points            series %6.2f ms  rebuild %7.2f ms  replot %7.2f ms  (replot x%.1f)\n",
                curves, points, large.seriesMs, large.rebuildMs, large.replotMs, large.replotMs / small.replotMs);

    // --- event loop while training ---
    losslab::TaskRegistry tasks;
    losslab::loadPlugins(tasks, losslab::defaultPluginDirs());
    QTemporaryDir dir;
    losslab::RunStore store(db.empty() ? dir.filePath(QStringLiteral("bench.sqlite")).toStdString() : db);
    losslab::MainWindow window(store, tasks);
    window.resize(1366, 768);
    window.show();
    window.tabs()->setCurrentIndex(0); // live curves
    const Stalls idle = measureEventLoop(std::min(seconds, 5.0));
    printStalls("event loop, idle (baseline)", idle);

    const std::string yaml = "name: gui-bench\n"
                             "task: fashion_mnist/mlp\n"
                             "losses: [{loss: ce, lr: 0.05}, {loss: square, lr: 0.2}]\n"
                             "protocols: [fixed_epochs]\n"
                             "seeds: " + std::to_string((runs + 1) / 2) + "\n"
                             "device: cpu\n"
                             "data: {limit_train: 6000}\n"
                             "train: {max_epochs: 50, log_every_steps: 5}\n"
                             "runner: {cpu_runs: " + std::to_string(runs) + "}\n"
                             "model: {hidden: [256]}\n";
    try {
        losslab::RunQueueOptions options;
        options.workerNiceIncrement = nice == 0 ? -1 : nice; // -1: leave the workers' priority alone
        window.controller()->start(losslab::loadExperimentText(yaml, "gui-bench.yaml", {}, tasks), options);
    } catch (const std::exception& e) {
        std::cerr << "losslab-bench-gui: cannot start the runs: " << e.what() << "\n";
        return 1;
    }
    int events = 0, deliveries = 0;
    QObject::connect(window.controller(), &losslab::RunController::eventsArrived,
                     [&](const std::vector<losslab::RunEvent>& e) {
                         events += static_cast<int>(e.size());
                         ++deliveries;
                     });
    // Wait until every run trains, then measure.
    QElapsedTimer wait;
    wait.start();
    while (wait.elapsed() < 120000) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
        int running = 0;
        for (const auto& s : window.liveCurves()->book().runIds())
            running += window.liveCurves()->book().find(s)->run.status == losslab::RunStatus::Running;
        if (running >= std::min(runs, 2 * ((runs + 1) / 2))) break;
    }
    events = deliveries = 0;
    const int redrawsBefore = window.liveCurves()->plot()->redrawCount();
    const int updatesBefore = window.liveCurves()->plot()->seriesUpdateCount();
    double replotMax = 0, replotSum = 0;
    int replots = 0;
    QObject::connect(window.liveCurves()->plot()->plot(), &QCustomPlot::afterReplot, [&] {
        const double ms = window.liveCurves()->plot()->plot()->replotTime(false);
        replotMax = std::max(replotMax, ms);
        replotSum += ms;
        ++replots;
    });
    const Stalls busy = measureEventLoop(seconds);
    const int redraws = window.liveCurves()->plot()->redrawCount() - redrawsBefore;
    const int updates = window.liveCurves()->plot()->seriesUpdateCount() - updatesBefore;
    char label[64];
    std::snprintf(label, sizeof label, "event loop, %d runs training, nice %d", runs, nice);
    printStalls(label, busy);
    std::printf("events %d in %d deliveries over %.0f s (%.1f deliveries/s), %d full plot redraws, %d run series "
                "drawn again alone; longest stall x%.1f of idle\n",
                events, deliveries, seconds, deliveries / seconds, redraws, updates,
                busy.longest / std::max(idle.longest, 0.01));
    std::printf("live plot replots %d, mean %.2f ms, longest %.2f ms\n", replots, replots ? replotSum / replots : 0.0,
                replotMax);
    window.controller()->cancelAll();
    QElapsedTimer stop;
    stop.start();
    while (window.controller()->isBusy() && stop.elapsed() < 60000) QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    return 0;
}
