// losslab: the desktop workbench.
//   losslab [FILE.yaml] [--db FILE] [--run]
// FILE.yaml opens an experiment (default: the last one, else the default preset); --db picks
// the run database (default: the last one used, else ~/.local/share/losslab/runs.sqlite);
// --run starts the experiment at once.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QMessageBox>
#include <QTimer>

#include <csignal>
#include <iostream>
#include <memory>

#include "losslab/error.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/compute_setup.h"
#include "workbench/main_window.h"
#include "workbench/workbench_settings.h"

namespace {

// Errors before the window exists go to stderr and, when there is a screen, a dialog.
int fail(const QString& title, const QString& message) {
    std::cerr << "losslab: " << title.toStdString() << ": " << message.toStdString() << "\n";
    if (QGuiApplication::platformName() != QLatin1String("offscreen")) QMessageBox::critical(nullptr, title, message);
    return 1;
}

// The database opened read-only, or nothing where even that fails (missing, foreign, damaged).
std::unique_ptr<losslab::RunStore> openReadOnly(const std::string& path) {
    try {
        auto store = losslab::RunStore::openForReading(path);
        if (store->readOnly()) return store;
    } catch (const std::exception&) {
    }
    return nullptr;
}

QCommandLineOption dbOption() {
    return {QStringLiteral("db"), QStringLiteral("Run database (SQLite file)."), QStringLiteral("FILE")};
}

QCommandLineOption runOption() { return {QStringLiteral("run"), QStringLiteral("Start the experiment at once.")}; }

void describe(QCommandLineParser& parser) {
    parser.setApplicationDescription(QStringLiteral("Square loss vs cross-entropy: seeded, paired comparisons of neural classifiers."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(QStringLiteral("FILE.yaml"), QStringLiteral("Experiment to open."), QStringLiteral("[FILE.yaml]"));
    parser.addOption(dbOption());
    parser.addOption(runOption());
}

bool asksForTextOnly(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const QLatin1String arg(argv[i]);
        if (arg == QLatin1String("--help") || arg == QLatin1String("-h") || arg == QLatin1String("--version") ||
            arg == QLatin1String("-v") || arg == QLatin1String("--help-all"))
            return true;
    }
    return false;
}

void nameApplication() {
    QCoreApplication::setOrganizationName(QStringLiteral("LossLab"));
    QCoreApplication::setApplicationName(QStringLiteral("losslab"));
    QCoreApplication::setApplicationVersion(QStringLiteral(LOSSLAB_VERSION));
}

} // namespace

int main(int argc, char** argv) {
    std::signal(SIGXFSZ, SIG_IGN); // a file-size limit becomes a write error the store reports
    if (asksForTextOnly(argc, argv)) {
        // --help and --version answer without a display.
        QCoreApplication app(argc, argv);
        nameApplication();
        QCommandLineParser parser;
        describe(parser);
        parser.process(app); // prints and exits
        return 0;
    }
    QApplication app(argc, argv);
    nameApplication();
    QApplication::setApplicationDisplayName(QStringLiteral("LossLab"));
    QApplication::setDesktopFileName(QStringLiteral("io.github.losslab.LossLab"));
    QCommandLineParser parser;
    describe(parser);
    parser.process(app);
    if (parser.positionalArguments().size() > 1) {
        return fail(QStringLiteral("Too many arguments"), QStringLiteral("expected at most one experiment file, got %1")
                                                              .arg(parser.positionalArguments().join(QLatin1Char(' '))));
    }

    try {
        losslab::configureProcess();
    } catch (const std::exception& e) {
        return fail(QStringLiteral("Cannot set up training"), QString::fromUtf8(e.what()));
    }
    losslab::TaskRegistry tasks;
    const losslab::PluginLoadReport plugins = losslab::loadPlugins(tasks, losslab::defaultPluginDirs());
    for (const auto& warning : plugins.warnings) std::cerr << "losslab: warning: " << warning << "\n";
    if (tasks.list().empty()) {
        return fail(QStringLiteral("No tasks"), QStringLiteral("no task plugin could be loaded; looked in %1")
                                                    .arg(QString::fromStdString([] {
                                                        std::string dirs;
                                                        for (const auto& d : losslab::defaultPluginDirs()) dirs += (dirs.empty() ? "" : ", ") + d;
                                                        return dirs;
                                                    }())));
    }

    QString dbPath = parser.value(dbOption());
    if (dbPath.isEmpty()) dbPath = losslab::WorkbenchSettings::databasePath();
    if (dbPath.isEmpty()) dbPath = QString::fromStdString(losslab::RunStore::defaultPath());
    std::unique_ptr<losslab::RunStore> store;
    try {
        store = std::make_unique<losslab::RunStore>(dbPath.toStdString());
        const int interrupted = store->markOrphansInterrupted();
        if (interrupted > 0) std::cerr << "losslab: " << interrupted << " run(s) were interrupted; the Runs tab offers to resume them\n";
    } catch (const std::exception& e) {
        // One it cannot write (an archived study, another user's results): browsed read-only.
        store = openReadOnly(dbPath.toStdString());
        if (!store) return fail(QStringLiteral("Cannot open the run database"), QString::fromUtf8(e.what()));
        std::cerr << "losslab: " << e.what() << "; opened read-only: its runs can be browsed and reported, not trained\n";
    }
    losslab::WorkbenchSettings::setDatabasePath(QFileInfo(dbPath).absoluteFilePath());

    losslab::MainWindow window(*store, tasks);
    const bool opened = window.openStartupExperiment(parser.positionalArguments().value(0));
    window.show();
    if (parser.isSet(runOption())) {
        if (!opened) return fail(QStringLiteral("Nothing to run"), QStringLiteral("no experiment could be opened"));
        QTimer::singleShot(0, &window, &losslab::MainWindow::startExperiment);
    }
    return app.exec();
}
