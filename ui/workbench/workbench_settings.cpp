#include "workbench_settings.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QSettings>

namespace losslab {

namespace {
const char* const kDatabase = "database";
const char* const kDataRoots = "dataRoots";
const char* const kLastExperiment = "lastExperiment";
const char* const kMlflowUri = "mlflow/trackingUri";
const char* const kExportFolder = "exportFolder";
const char* const kRecentKey = "recentExperiments";
const char* const kGeometry = "window/geometry";
const char* const kState = "window/state";
} // namespace

QString WorkbenchSettings::databasePath() { return QSettings().value(kDatabase).toString(); }

void WorkbenchSettings::setDatabasePath(const QString& path) { QSettings().setValue(kDatabase, path); }

QMap<QString, QString> WorkbenchSettings::dataRoots() {
    QSettings settings;
    QMap<QString, QString> roots;
    settings.beginGroup(kDataRoots);
    for (const QString& key : settings.childKeys()) roots[key] = settings.value(key).toString();
    settings.endGroup();
    return roots;
}

void WorkbenchSettings::setDataRoots(const QMap<QString, QString>& roots) {
    QSettings settings;
    settings.remove(kDataRoots);
    settings.beginGroup(kDataRoots);
    for (auto it = roots.begin(); it != roots.end(); ++it) settings.setValue(it.key(), it.value());
    settings.endGroup();
}

QString WorkbenchSettings::exportFolder() { return QSettings().value(kExportFolder).toString(); }

void WorkbenchSettings::setExportFolder(const QString& folder) { QSettings().setValue(kExportFolder, folder); }

QStringList WorkbenchSettings::recentExperiments() { return QSettings().value(kRecentKey).toStringList(); }

void WorkbenchSettings::addRecentExperiment(const QString& path) {
    const QString absolute = QFileInfo(path).absoluteFilePath();
    QStringList files = recentExperiments();
    files.removeAll(absolute);
    files.prepend(absolute);
    while (files.size() > kRecentExperiments) files.removeLast();
    QSettings().setValue(kRecentKey, files);
}

QString WorkbenchSettings::mlflowTrackingUri() { return QSettings().value(kMlflowUri).toString(); }

void WorkbenchSettings::setMlflowTrackingUri(const QString& uri) { QSettings().setValue(kMlflowUri, uri); }

QString WorkbenchSettings::lastExperiment() { return QSettings().value(kLastExperiment).toString(); }

void WorkbenchSettings::setLastExperiment(const QString& path) { QSettings().setValue(kLastExperiment, path); }

QByteArray WorkbenchSettings::windowGeometry() { return QSettings().value(kGeometry).toByteArray(); }

QByteArray WorkbenchSettings::windowState() { return QSettings().value(kState).toByteArray(); }

void WorkbenchSettings::setWindowLayout(const QByteArray& geometry, const QByteArray& state) {
    QSettings settings;
    settings.setValue(kGeometry, geometry);
    settings.setValue(kState, state);
}

QString presetDirectory() {
    const QDir installed(QCoreApplication::applicationDirPath() + QStringLiteral("/../") +
                         QStringLiteral(LOSSLAB_DATA_SUBDIR) + QStringLiteral("/experiments"));
    if (installed.exists()) return installed.canonicalPath();
    return QStringLiteral(LOSSLAB_SOURCE_EXPERIMENTS);
}

QStringList presetFiles() {
    const QDir dir(presetDirectory());
    QStringList files;
    for (const QFileInfo& info : dir.entryInfoList({QStringLiteral("*.yaml")}, QDir::Files, QDir::Name)) {
        if (info.fileName() == QLatin1String("default.yaml")) {
            files.prepend(info.absoluteFilePath());
        } else {
            files.append(info.absoluteFilePath());
        }
    }
    return files;
}

} // namespace losslab
