#include "main_window.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontMetrics>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QSaveFile>
#include <QScreen>
#include <QSet>
#include <QStatusBar>
#include <QTabWidget>

#include <algorithm>
#include <iostream>

#include "compare_view.h"
#include "experiment_designer.h"
#include "live_curves_view.h"
#include "losslab/error.h"
#include "losslab/store/run_store.h"
#include "queue_panel.h"
#include "results_view.h"
#include "run_browser_view.h"
#include "run_controller.h"
#include "run_queue_model.h"
#include "workbench_settings.h"

namespace losslab {

MainWindow::MainWindow(RunStore& store, const TaskRegistry& tasks, QWidget* parent)
    : QMainWindow(parent), m_store(store), m_tasks(tasks) {
    setObjectName(QStringLiteral("mainWindow"));
    m_confirm = [this](const QString& question) {
        return QMessageBox::question(this, tr("LossLab"), question) == QMessageBox::Yes;
    };
    m_askUnsaved = [this] {
        // Offscreen (tests, screenshots) there is nobody to answer a modal dialog.
        if (QGuiApplication::platformName() == QLatin1String("offscreen")) return UnsavedChoice::Discard;
        const auto answer = QMessageBox::question(this, tr("LossLab"), tr("The experiment has unsaved changes. Save them?"),
                                                  QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel);
        return answer == QMessageBox::Save      ? UnsavedChoice::Save
               : answer == QMessageBox::Discard ? UnsavedChoice::Discard
                                                : UnsavedChoice::Cancel;
    };
    m_controller = new RunController(store, tasks, this);
    m_queueModel = new RunQueueModel(this);

    m_designer = new ExperimentDesigner(tasks, this);
    m_designer->setDataRoots(WorkbenchSettings::dataRoots());
    auto* designerDock = new QDockWidget(tr("Experiment"), this);
    designerDock->setObjectName(QStringLiteral("designerDock"));
    designerDock->setWidget(m_designer);
    // Never narrower than its fields need, whatever the scale factor (at 1.5x it shrank to
    // ~130 px): a width in characters, not pixels.
    m_designer->setMinimumWidth(28 * QFontMetrics(m_designer->font()).horizontalAdvance(QLatin1Char('M')));
    addDockWidget(Qt::LeftDockWidgetArea, designerDock);

    m_queue = new QueuePanel(*m_queueModel, this);
    auto* queueDock = new QDockWidget(tr("Run queue"), this);
    queueDock->setObjectName(QStringLiteral("queueDock"));
    queueDock->setWidget(m_queue);
    addDockWidget(Qt::BottomDockWidgetArea, queueDock);

    m_live = new LiveCurvesView(this);
    m_compare = new CompareView(store, this);
    m_results = new ResultsView(store, tasks, this);
    m_browser = new RunBrowserView(store, this);
    m_tabs = new QTabWidget(this);
    m_tabs->setObjectName(QStringLiteral("centralTabs"));
    m_tabs->addTab(m_live, tr("Live curves"));
    m_tabs->addTab(m_compare, tr("Compare"));
    m_tabs->addTab(m_results, tr("Results"));
    m_tabs->addTab(m_browser, tr("Runs"));
    setCentralWidget(m_tabs);

    m_databaseLabel = new QLabel(tr("Database: %1").arg(QString::fromStdString(store.path())), this);
    m_databaseLabel->setObjectName(QStringLiteral("databaseLabel"));
    statusBar()->addPermanentWidget(m_databaseLabel);

    buildMenus();
    connectViews();
    // The Runs tab is filled at start: its banner offers to resume runs a crash interrupted,
    // and Run > Resume interrupted runs acts on them without a Refresh first.
    m_browser->refresh();

    // A first start gets a size that suits the screen; later starts get the last layout.
    if (!restoreGeometry(WorkbenchSettings::windowGeometry())) {
        const QRect screen = QGuiApplication::primaryScreen() ? QGuiApplication::primaryScreen()->availableGeometry()
                                                               : QRect(0, 0, 1366, 768);
        resize(std::min(1600, screen.width() * 9 / 10), std::min(1000, screen.height() * 9 / 10));
        resizeDocks({designerDock}, {std::max(360, width() / 4)}, Qt::Horizontal);
        resizeDocks({queueDock}, {std::max(170, height() / 4)}, Qt::Vertical);
    }
    restoreState(WorkbenchSettings::windowState());
    updateTitle();
}

MainWindow::~MainWindow() = default;

void MainWindow::setUnsavedChangesQuestion(std::function<UnsavedChoice()> ask) { m_askUnsaved = std::move(ask); }

void MainWindow::setConfirmation(std::function<bool(const QString&)> confirm) {
    m_confirm = std::move(confirm);
    m_browser->setConfirmation(m_confirm);
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("&Open experiment…"), QKeySequence::Open, this, [this] {
        if (!maybeSaveChanges()) return;
        const QString path = QFileDialog::getOpenFileName(this, tr("Open experiment"), presetDirectory(),
                                                          tr("Experiments (*.yaml *.yml)"));
        if (!path.isEmpty()) openExperiment(path);
    });
    // Recent experiments: the files opened or saved last, newest first; filled when shown, so
    // it follows every open and save, also those of another window.
    QMenu* recent = file->addMenu(tr("Open &recent"));
    recent->setObjectName(QStringLiteral("recentMenu"));
    connect(recent, &QMenu::aboutToShow, this, [this, recent] {
        recent->clear();
        const QStringList files = WorkbenchSettings::recentExperiments();
        for (const QString& path : files) {
            QAction* action = recent->addAction(QDir::toNativeSeparators(path), this, [this, path] {
                if (maybeSaveChanges()) openExperiment(path);
            });
            action->setEnabled(QFileInfo::exists(path));
        }
        if (files.isEmpty()) recent->addAction(tr("(none yet)"))->setEnabled(false);
    });
    QMenu* presets = file->addMenu(tr("Open &preset"));
    presets->setObjectName(QStringLiteral("presetMenu"));
    for (const QString& path : presetFiles()) {
        presets->addAction(QFileInfo(path).completeBaseName(), this, [this, path] {
            if (maybeSaveChanges()) openExperiment(path);
        });
    }
    file->addAction(tr("&Save experiment"), QKeySequence::Save, this, [this] { saveExperiment(false); });
    file->addAction(tr("Save experiment &as…"), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_S), this,
                    [this] { saveExperiment(true); });
    file->addSeparator();
    file->addAction(tr("&Export report…"), this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Export the report into"));
        if (!folder.isEmpty()) m_results->exportReport(folder);
    });
    file->addAction(tr("Export for &TensorBoard…"), this, [this] {
        const QString folder = QFileDialog::getExistingDirectory(this, tr("Export the experiment's runs for TensorBoard into"));
        if (!folder.isEmpty()) m_results->exportTensorBoard(folder);
    });
    file->addAction(tr("Send to &MLflow…"), this, [this] {
        QString uri = WorkbenchSettings::mlflowTrackingUri();
        if (uri.isEmpty()) uri = qEnvironmentVariable("MLFLOW_TRACKING_URI", QStringLiteral("http://127.0.0.1:5000"));
        bool ok = false;
        uri = QInputDialog::getText(this, tr("Send to MLflow"),
                                    tr("The experiment's runs go to this MLflow tracking server (mlflow server "
                                       "--backend-store-uri sqlite:///mlflow.db); sending again sends only what it lacks.\n"
                                       "Credentials come from MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and _PASSWORD.\n\n"
                                       "Tracking URI:"),
                                    QLineEdit::Normal, uri, &ok)
                  .trimmed();
        if (!ok || uri.isEmpty()) return;
        WorkbenchSettings::setMlflowTrackingUri(uri);
        statusBar()->showMessage(tr("Sending the runs to MLflow at %1…").arg(uri));
        m_results->exportMlflow(uri);
    });
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* run = menuBar()->addMenu(tr("&Run"));
    QAction* start = run->addAction(tr("&Run experiment"), QKeySequence(Qt::CTRL | Qt::Key_R), this,
                                    &MainWindow::startExperiment);
    start->setObjectName(QStringLiteral("runAction"));
    run->addAction(tr("&Cancel all runs"), this, [this] { m_controller->cancelAll(); });
    run->addAction(tr("Resume &interrupted runs"), m_browser, &RunBrowserView::resumeInterrupted);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* dock : findChildren<QDockWidget*>()) view->addAction(dock->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About LossLab"), this, [this] {
        QMessageBox::about(this, tr("About LossLab"),
                           tr("<p><b>LossLab %1</b></p><p>Is the square loss as good as cross-entropy for your "
                              "classifier? Seeded, paired comparisons after Hui &amp; Belkin (ICLR 2021).</p>"
                              "<p>Database: %2</p>")
                               .arg(QApplication::applicationVersion(),
                                    QString::fromStdString(m_store.path()).toHtmlEscaped()));
    });
}

void MainWindow::connectViews() {
    connect(m_designer, &ExperimentDesigner::changed, this, &MainWindow::updateTitle);
    connect(m_queue, &QueuePanel::cancelRequested, this, [this](const QVector<qint64>& ids) {
        for (qint64 id : ids) m_controller->cancel(id);
    });
    connect(m_queue, &QueuePanel::cancelAllRequested, m_controller, &RunController::cancelAll);
    connect(m_queue, &QueuePanel::runActivated, this, [this] { m_tabs->setCurrentWidget(m_live); });

    connect(m_controller, &RunController::batchStarted, this, [this](const QString& label) {
        statusBar()->showMessage(tr("Preparing %1: checking the device, loading the data…").arg(label));
        m_queue->setQueuedBatches(m_controller->queuedBatches());
    });
    connect(m_controller, &RunController::runsPlanned, this, [this](const std::vector<RunRecord>& runs) {
        m_queueModel->addRuns(runs);
        m_live->addRuns(runs);
        if (!runs.empty()) m_results->reloadExperiments(runs.front().experimentId);
        m_browser->refresh();
        statusBar()->showMessage(tr("%n run(s) queued", nullptr, static_cast<int>(runs.size())), 5000);
    });
    connect(m_controller, &RunController::eventsArrived, this, [this](const std::vector<RunEvent>& events) {
        m_queueModel->applyEvents(events);
        m_live->applyEvents(events);
        const bool finished = std::any_of(events.begin(), events.end(),
                                          [](const RunEvent& e) { return e.kind == RunEvent::Kind::Finished; });
        const bool started = std::any_of(events.begin(), events.end(),
                                         [](const RunEvent& e) { return e.kind == RunEvent::Kind::Started; });
        if (finished) m_results->scheduleRefresh();
        // The Runs tab shows each run's status as stored: read again when one starts or ends.
        if (finished || started) m_browser->refresh();
    });
    connect(m_controller, &RunController::batchFinished, this, [this](const RunQueueResult& result) {
        QString text = tr("Finished: %1 completed, %2 diverged, %3 failed, %4 cancelled")
                           .arg(result.completed).arg(result.diverged).arg(result.failed).arg(result.cancelled);
        if (!result.storeFailure.empty()) {
            showError(tr("The database stopped accepting writes"),
                      QString::fromStdString(result.storeFailure) +
                          tr("\n\nThe runs stored before this point are intact."));
        }
        if (!result.checkpointFailure.empty()) {
            showError(tr("A checkpoint could not be written"),
                      QString::fromStdString(result.checkpointFailure) +
                          tr("\n\nThe runs were stopped and stored as cancelled; every epoch stored before is "
                             "intact. Free space, then select them in the Runs tab and resume them."));
        }
        statusBar()->showMessage(text);
        m_lastBatchSummary = text;
        m_browser->refresh();
        m_results->scheduleRefresh();
    });
    connect(m_controller, &RunController::batchFailed, this, [this](const QString& message) {
        statusBar()->showMessage(tr("The experiment did not start"), 10000);
        showError(tr("The experiment did not start"), message);
    });
    connect(m_controller, &RunController::idle, this, [this] {
        m_queue->setQueuedBatches(0);
        if (property("closeWhenIdle").toBool()) {
            close();
            return;
        }
        if (!m_lastBatchSummary.isEmpty()) {
            // Runs take minutes to hours: say so where the user is, not only in the status bar.
            if (!isActiveWindow()) QApplication::alert(this);
            emit queueFinished(m_lastBatchSummary);
        }
    });

    connect(m_browser, &RunBrowserView::compareRequested, this, [this](const QVector<qint64>& ids) {
        m_compare->setRuns(ids);
        m_tabs->setCurrentWidget(m_compare);
    });
    connect(m_compare, &CompareView::currentExperimentRequested, this, [this] {
        if (m_results->experimentId() > 0) m_compare->setExperiment(m_results->experimentId());
    });
    connect(m_browser, &RunBrowserView::resumeRequested, this, [this](const QVector<qint64>& ids) {
        m_controller->resume(std::vector<std::int64_t>(ids.begin(), ids.end()));
    });
    connect(m_browser, &RunBrowserView::runsDeleted, this, [this](const QVector<qint64>& ids) {
        statusBar()->showMessage(tr("%n run(s) deleted", nullptr, static_cast<int>(ids.size())), 5000);
        // No view keeps showing a run that is gone: its curves and its queue row go too.
        const std::vector<std::int64_t> deleted(ids.begin(), ids.end());
        m_live->removeRuns(deleted);
        m_queueModel->removeRuns(deleted);
        const QSet<qint64> gone(ids.begin(), ids.end());
        QVector<qint64> compared = m_compare->runIds();
        const auto kept = std::remove_if(compared.begin(), compared.end(), [&](qint64 id) { return gone.contains(id); });
        if (kept != compared.end()) {
            compared.erase(kept, compared.end());
            m_compare->setRuns(compared);
        }
        m_results->reloadExperiments();
    });
    auto toStatus = [this](const QString& message) { statusBar()->showMessage(message, 15000); };
    connect(m_browser, &RunBrowserView::errorOccurred, this, toStatus);
    connect(m_browser, &RunBrowserView::saveFailed, this, &MainWindow::showError);
    connect(m_results, &ResultsView::errorOccurred, this, toStatus);
    connect(m_compare, &CompareView::errorOccurred, this, toStatus);
    connect(m_results, &ResultsView::fileExported, this, [this](const QString& path) {
        statusBar()->showMessage(tr("Written: %1").arg(QDir::toNativeSeparators(path)), 15000);
    });
    connect(m_results, &ResultsView::reportExported, this, [this](const QString& folder, int files) {
        statusBar()->showMessage(tr("Report written: %1 files in %2").arg(files).arg(folder), 15000);
    });
    connect(m_results, &ResultsView::mlflowExported, this, [this](const QString& uri, int runs, qint64 points, int duplicates) {
        QString message = tr("%n run(s) sent to MLflow at %1: %2 new metric point(s)", nullptr, runs).arg(uri).arg(points);
        if (duplicates > 0)
            message += tr("; %n duplicate MLflow run(s) of the same LossLab run moved to MLflow's trash", nullptr, duplicates);
        statusBar()->showMessage(message, 15000);
    });
    connect(m_results, &ResultsView::tensorBoardExported, this, [this](const QString& folder, int runs) {
        statusBar()->showMessage(tr("TensorBoard files of %n run(s) written to %1 (tensorboard --logdir %1)", nullptr, runs)
                                     .arg(QDir::toNativeSeparators(folder)),
                                 15000);
    });
}

bool MainWindow::openExperiment(const QString& path) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        showError(tr("Cannot open the experiment"), tr("%1: %2").arg(path, file.errorString()));
        return false;
    }
    try {
        m_designer->loadYaml(QString::fromUtf8(file.readAll()), path);
    } catch (const std::exception& e) {
        showError(tr("Cannot open the experiment"), QString::fromUtf8(e.what()));
        return false;
    }
    // A preset is a template: saving asks for a new name instead of overwriting it.
    const bool preset = QFileInfo(path).absolutePath() == QFileInfo(presetDirectory()).absoluteFilePath();
    m_experimentPath = preset ? QString() : path;
    m_designer->setModified(false);
    if (!preset) {
        WorkbenchSettings::setLastExperiment(path);
        WorkbenchSettings::addRecentExperiment(path);
    }
    updateTitle();
    return true;
}

bool MainWindow::openStartupExperiment(const QString& requested) {
    if (!requested.isEmpty()) return openExperiment(requested);
    const QString last = WorkbenchSettings::lastExperiment();
    if (!last.isEmpty() && QFileInfo::exists(last) && openExperiment(last)) return true;
    const QStringList presets = presetFiles(); // default.yaml first
    if (presets.isEmpty()) return false;
    const bool opened = openExperiment(presets.front());
    if (opened && !last.isEmpty()) {
        // Forget it, or every start would fail the same way.
        WorkbenchSettings::setLastExperiment(QString());
        statusBar()->showMessage(tr("The last experiment, %1, could not be opened; the default preset is loaded")
                                     .arg(QDir::toNativeSeparators(last)),
                                 30000);
    }
    return opened;
}

void MainWindow::startExperiment() {
    ExperimentSpec experiment;
    try {
        experiment = m_designer->experiment();
    } catch (const std::exception& e) {
        showError(tr("The experiment is not valid"), QString::fromUtf8(e.what()));
        return;
    }
    WorkbenchSettings::setDataRoots(m_designer->dataRoots());
    m_controller->start(experiment);
    m_queue->setQueuedBatches(m_controller->queuedBatches());
    m_tabs->setCurrentWidget(m_live);
}

bool MainWindow::saveExperiment(bool chooseName) {
    // Only what opens again is saved: a file that fails to load would become the last
    // experiment and fail at the next start.
    try {
        (void)m_designer->experiment();
    } catch (const std::exception& e) {
        showError(tr("The experiment is not saved: it is not valid"),
                  QString::fromUtf8(e.what()) + tr("\nCorrect it, or discard the changes."));
        return false;
    }
    QString path = m_experimentPath;
    if (chooseName || path.isEmpty()) {
        path = QFileDialog::getSaveFileName(this, tr("Save experiment"), path, tr("Experiments (*.yaml)"));
        if (path.isEmpty()) return false;
        if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".yaml");
    }
    QSaveFile file(path); // all or nothing: the old file stays until the new one is complete
    if (!file.open(QIODevice::WriteOnly) || file.write(m_designer->toYaml().toUtf8()) < 0 || !file.commit()) {
        showError(tr("Cannot save the experiment"), tr("%1: %2").arg(path, file.errorString()));
        return false;
    }
    m_experimentPath = path;
    m_designer->setModified(false);
    WorkbenchSettings::setLastExperiment(path);
    WorkbenchSettings::addRecentExperiment(path);
    updateTitle();
    return true;
}

bool MainWindow::maybeSaveChanges() {
    if (!m_designer->isModified()) return true;
    const UnsavedChoice answer = m_askUnsaved();
    if (answer == UnsavedChoice::Cancel) return false;
    return answer == UnsavedChoice::Discard || saveExperiment(false);
}

void MainWindow::updateTitle() {
    const QString name = m_experimentPath.isEmpty() ? m_designer->displayName() : m_experimentPath;
    setWindowTitle(tr("%1%2 — LossLab%3")
                       .arg(name.isEmpty() ? tr("untitled") : QFileInfo(name).fileName(),
                            m_designer->isModified() ? QStringLiteral("*") : QString(),
                            m_store.readOnly() ? tr(" (database read-only)") : QString()));
}

void MainWindow::showError(const QString& title, const QString& message) {
    // Also on stderr: a window started from a terminal (or with --run) leaves the reason there.
    std::cerr << "losslab: " << title.toStdString() << ": " << message.toStdString() << "\n";
    statusBar()->showMessage(title, 10000);
    if (QGuiApplication::platformName() == QLatin1String("offscreen")) return; // tests: no modal dialogs
    QMessageBox::warning(this, title, message);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    // Asked once: a close that waits for the runs to stop comes back here.
    if (!property("closeWhenIdle").toBool() && !maybeSaveChanges()) {
        event->ignore();
        return;
    }
    if (m_controller->isBusy()) {
        if (!property("closeWhenIdle").toBool()) {
            QString question = tr("Runs are still training. Stop them and quit? Finished runs and every finished "
                                  "epoch are kept; the stopped runs are stored as interrupted, and Run > Resume "
                                  "interrupted runs (or the Runs tab's banner) continues them the next time.");
            // Experiments started while another ran are not stored until their turn: say they go.
            if (const int waiting = m_controller->queuedBatches(); waiting > 0)
                question += QLatin1Char(' ') +
                            tr("%n more experiment(s) waiting to start will not start: nothing of them is stored, "
                               "run them again from their file.", nullptr, waiting);
            if (!m_confirm(question)) {
                event->ignore();
                return;
            }
            setProperty("closeWhenIdle", true);
            statusBar()->showMessage(tr("Stopping the runs at their next batch…"));
            m_controller->interruptAll();
        }
        event->ignore(); // closes when the controller reports idle
        return;
    }
    WorkbenchSettings::setWindowLayout(saveGeometry(), saveState());
    WorkbenchSettings::setDataRoots(m_designer->dataRoots());
    event->accept();
}

} // namespace losslab
