// Runs the workbench tests under one QApplication (QT_QPA_PLATFORM=offscreen from ctest).
#include <gtest/gtest.h>

#include <QApplication>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>

int main(int argc, char** argv) {
    // Listing the tests (gtest_discover_tests at build time) has no display either.
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    // QSettings and data paths go to a test location, never the user's own.
    QStandardPaths::setTestModeEnabled(true);
    // ctest runs each test as a process of its own, two or more at once: one settings folder
    // per process, or one test's "last experiment" would be read by another.
    QTemporaryDir settings;
    if (!settings.isValid()) return 2;
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, settings.path());
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settings.path());
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
