#pragma once
// WorkbenchSettings: what the desktop program remembers between sessions (QSettings,
// ~/.config/LossLab/losslab.conf): the database, dataset folders per dataset, the window's
// geometry and dock layout, and the last experiment file. Missing values come back empty.
//
// Thread rules: GUI thread only.
#include <QByteArray>
#include <QMap>
#include <QString>
#include <QStringList>

namespace losslab {

class WorkbenchSettings {
public:
    static QString databasePath();
    static void setDatabasePath(const QString& path);
    static QMap<QString, QString> dataRoots(); // dataset name -> folder
    static void setDataRoots(const QMap<QString, QString>& roots);
    static QString exportFolder(); // where the last table, figure or plot was exported
    static void setExportFolder(const QString& folder);
    // Experiment files opened or saved, newest first, at most kRecentExperiments, each once.
    static constexpr int kRecentExperiments = 8;
    static QStringList recentExperiments();
    static void addRecentExperiment(const QString& path);
    // The MLflow tracking server the runs were last sent to (File > Send to MLflow…).
    static QString mlflowTrackingUri();
    static void setMlflowTrackingUri(const QString& uri);
    static QString lastExperiment();
    static void setLastExperiment(const QString& path);
    static QByteArray windowGeometry();
    static QByteArray windowState();
    static void setWindowLayout(const QByteArray& geometry, const QByteArray& state);
};

// Where the shipped experiment presets are: <exe>/../share/losslab/experiments (install
// prefix and build tree alike), else the source tree's resources/experiments.
QString presetDirectory();
QStringList presetFiles(); // *.yaml in presetDirectory(), sorted, "default.yaml" first

} // namespace losslab
