// The results view holds the analysis of the fixed report database (tests/core/report_fixture.h,
// numbers by formula) and every export writes a valid file.
#include <gtest/gtest.h>

#include <QDir>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>
#include <QProcess>
#include <QRegularExpression>
#include <QFontMetrics>
#include <QTableView>
#include <QHeaderView>
#include <QSignalSpy>
#include <QTest>
#include <QTemporaryDir>
#include <QXmlStreamReader>

#include <qcustomplot.h>
#include <sqlite3.h>

#include <algorithm>
#include <memory>

#include "losslab/error.h"
#include "losslab/report/mlflow_export.h"
#include "losslab/report/paper_tables.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/task_registry.h"
#include "plots/paper_figures.h"
#include "report_fixture.h"
#include "workbench/report_table_model.h"
#include "workbench/results_view.h"
#include "workbench/view_export.h"

using namespace losslab;

namespace {

QString cellText(const ReportTableModel& model, int row, int column) {
    return model.data(model.index(row, column)).toString();
}

int findRow(const ReportTableModel& model, const QString& first, const QString& other) {
    for (int r = 0; r < model.rowCount(); ++r) {
        bool a = false, b = false;
        for (int c = 0; c < model.columnCount(); ++c) {
            a = a || cellText(model, r, c) == first;
            b = b || cellText(model, r, c).contains(other);
        }
        if (a && b) return r;
    }
    return -1;
}

QByteArray head(const QString& path, int bytes) {
    QFile file(path);
    return file.open(QIODevice::ReadOnly) ? file.read(bytes) : QByteArray();
}

struct ResultsFixture {
    QTemporaryDir dir;
    RunStore store{QDir(dir.path()).filePath(QStringLiteral("runs.sqlite")).toStdString()};
    TaskRegistry tasks;
    std::int64_t experiment = 0;
    ResultsFixture() {
        experiment = fixtures::buildReportFixture(store);
        store.flush();
    }
};

} // namespace

TEST(ResultsViewTest, TablesHoldTheAnalysisNumbers) {
    ResultsFixture f;
    ResultsView view(f.store, f.tasks);
    view.resize(1200, 800);
    QSignalSpy refreshed(&view, &ResultsView::refreshed);
    view.setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 30u; }, 20000));

    // CE on toy/a: test accuracy 0.80 + 0.004 s over seeds 0..4 -> mean 80.80 %, sample std
    // 0.004 * sqrt(2.5) = 0.63 percentage points.
    const ReportTableModel& main = *view.mainTableModel();
    ASSERT_GT(main.rowCount(), 0);
    const int ceColumn = [&] {
        for (int c = 0; c < main.columnCount(); ++c)
            if (main.headerData(c, Qt::Horizontal).toString().contains(QStringLiteral("cross-entropy"), Qt::CaseInsensitive) ||
                main.headerData(c, Qt::Horizontal).toString() == QStringLiteral("CE"))
                return c;
        return -1;
    }();
    ASSERT_GE(ceColumn, 0) << "no cross-entropy column";
    const int row = findRow(main, QStringLiteral("toy/a"), QStringLiteral("acc"));
    ASSERT_GE(row, 0);
    EXPECT_EQ(cellText(main, row, ceColumn), QStringLiteral("80.80 ± 0.63"));
    // The models are exactly the report's tables of the same analysis.
    const ReportTable expected = mainTable(view.data().analysis, view.data().options).display;
    ASSERT_EQ(main.rowCount(), static_cast<int>(expected.rows.size()));
    for (int r = 0; r < main.rowCount(); ++r)
        for (int c = 0; c < main.columnCount(); ++c)
            EXPECT_EQ(cellText(main, r, c).toStdString(), expected.rows[r][c].text);
    EXPECT_GT(view.stdTableModel()->rowCount(), 0);
    EXPECT_GT(view.statsTableModel()->rowCount(), 0);

    // Figure 1: one point per paired seed; on toy/a square is better by 1 + 0.2 s points.
    QCPGraph* seeds = nullptr;
    for (int i = 0; i < view.figure1()->graphCount(); ++i)
        if (view.figure1()->graph(i)->objectName() == QStringLiteral("seeds")) seeds = view.figure1()->graph(i);
    ASSERT_NE(seeds, nullptr);
    std::vector<double> toyA;
    for (auto it = seeds->data()->constBegin(); it != seeds->data()->constEnd(); ++it)
        if (it->key < 0.5) toyA.push_back(it->value);
    ASSERT_EQ(toyA.size(), 5u);
    std::sort(toyA.begin(), toyA.end());
    for (int s = 0; s < 5; ++s) EXPECT_NEAR(toyA[s], 1.0 + 0.2 * s, 1e-9);
    EXPECT_GT(view.figure3()->graphCount(), 0);
}

// "Export table…" as CSV writes numbers (mean, std, n as the report's CSV files), not the
// "80.80 ± 0.63" strings the view shows.
TEST(ResultsViewTest, TableModelsHoldTheReportsDataTableForCsv) {
    ResultsFixture f;
    ResultsView view(f.store, f.tasks);
    view.setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 30u; }, 20000));
    for (const ReportTableModel* model :
         {view.mainTableModel(), view.stdTableModel(), view.statsTableModel(), view.headlineTableModel()}) {
        EXPECT_NE(model->dataTable().header, model->table().header) << model->table().title;
    }
    const ReportTable& data = view.mainTableModel()->dataTable();
    const PaperTable expected = mainTable(view.data().analysis, view.data().options);
    EXPECT_EQ(toCsv(data), toCsv(expected.data));
    for (const char* column : {"mean", "std", "n"})
        EXPECT_NE(std::find(data.header.begin(), data.header.end(), column), data.header.end()) << column;
    QTemporaryDir dir;
    const QString csv = dir.filePath(QStringLiteral("table-main.csv"));
    exportTable(view.mainTableModel()->table(), data, csv);
    EXPECT_FALSE(head(csv, 100000).contains("±"));
    EXPECT_EQ(head(csv, 100000).toStdString(), toCsv(expected.data));
}

// The headline's columns say who is better, and their headers explain themselves.
TEST(ResultsViewTest, HeadlineColumnsNameTheBetterLossAndExplainThemselves) {
    ResultsFixture f;
    ResultsView view(f.store, f.tasks);
    view.setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 30u; }, 20000));
    const ReportTableModel& headline = *view.headlineTableModel();
    QStringList headers;
    for (int c = 0; c < headline.columnCount(); ++c) headers << headline.headerData(c, Qt::Horizontal).toString();
    EXPECT_TRUE(headers.contains(QStringLiteral("Square better"))) << headers.join(", ").toStdString();
    EXPECT_TRUE(headers.contains(QStringLiteral("CE better"))) << headers.join(", ").toStdString();
    EXPECT_FALSE(headers.contains(QStringLiteral("Loss")));
    const int ceBetter = static_cast<int>(headers.indexOf(QStringLiteral("CE better")));
    EXPECT_TRUE(headline.headerData(ceBetter, Qt::Horizontal, Qt::ToolTipRole).toString().contains(QStringLiteral("below 0")));
}

// The statistics table's long texts wrap instead of widening the table past the window.
TEST(ResultsViewTest, LongTableTextsWrapWithinABoundedColumnWidth) {
    ResultsFixture f;
    ResultsView view(f.store, f.tasks);
    view.resize(1000, 700);
    view.setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 30u; }, 20000));
    auto* table = view.findChild<QTableView*>(QStringLiteral("statsTable"));
    ASSERT_NE(table, nullptr);
    const int em = QFontMetrics(table->font()).horizontalAdvance(QLatin1Char('M'));
    EXPECT_TRUE(table->wordWrap());
    for (int c = 0; c < table->model()->columnCount(); ++c)
        EXPECT_LE(table->horizontalHeader()->sectionSize(c), 22 * em) << "column " << c;
}

TEST(ViewExportTest, TablesAndPlotsExportAsValidFiles) {
    QTemporaryDir dir;
    ReportTable table;
    table.title = "t";
    table.header = {"task", "acc"};
    table.numeric = {false, true};
    table.rows = {{{"a, b", false}, {"80.80", true}}};
    // The same numbers as data: what a CSV export writes.
    ReportTable data;
    data.header = {"task", "mean", "std", "n"};
    data.numeric = {false, true, true, true};
    data.rows = {{{"a, b", false}, {"0.808", false}, {"0.0063", false}, {"5", false}}};
    const QString csv = dir.filePath(QStringLiteral("t.csv"));
    exportTable(table, data, csv);
    EXPECT_EQ(head(csv, 1000).toStdString(), toCsv(data));
    const QString md = dir.filePath(QStringLiteral("t.md"));
    exportTable(table, data, md);
    EXPECT_EQ(head(md, 1000).toStdString(), toMarkdown(table));
    const QString tex = dir.filePath(QStringLiteral("t.tex"));
    exportTable(table, data, tex);
    EXPECT_TRUE(head(tex, 2000).contains("\\toprule"));
    EXPECT_THROW(exportTable(table, data, dir.filePath(QStringLiteral("t.xls"))), Error);

    QCustomPlot plot;
    plot.resize(400, 300);
    plot.addGraph()->setData({1, 2, 3}, {1, 4, 9});
    plot.rescaleAxes();
    plot.replot();
    const QString png = dir.filePath(QStringLiteral("p.png"));
    exportPlot(plot, png, 2.0);
    const QImage image(png);
    EXPECT_EQ(image.size(), QSize(800, 600));
    const QString svg = dir.filePath(QStringLiteral("p.svg"));
    exportPlot(plot, svg);
    EXPECT_TRUE(head(svg, 4000).contains("<svg"));
    const QString pdf = dir.filePath(QStringLiteral("p.pdf"));
    exportPlot(plot, pdf);
    EXPECT_TRUE(head(pdf, 5).startsWith("%PDF-"));
    EXPECT_THROW(exportPlot(plot, dir.filePath(QStringLiteral("p.bmp"))), Error);
    // Nothing but the finished files: no temporary file left behind.
    EXPECT_EQ(QDir(dir.path()).entryList(QDir::Files).size(), 6);
    EXPECT_EQ(withFilterSuffix(QStringLiteral("/x/fig"), QStringLiteral("SVG drawing (*.svg)")), QStringLiteral("/x/fig.svg"));
    EXPECT_EQ(withFilterSuffix(QStringLiteral("/x/fig.pdf"), QStringLiteral("PDF document (*.pdf)")), QStringLiteral("/x/fig.pdf"));
}

// Before, a plot exported from the Results tab kept the system's locale: under de_DE.UTF-8 its
// tick labels read "0,5" while `losslab-cli report`'s figures (FigureExport.
// NumbersHaveADecimalPointWhateverTheLocale) and every table write "0.5".
TEST(ResultsViewTest, ExportedFiguresHaveADecimalPointWhateverTheLocale) {
    struct GermanDefault {
        QLocale previous;
        GermanDefault() { QLocale::setDefault(QLocale(QLocale::German, QLocale::Germany)); }
        ~GermanDefault() { QLocale::setDefault(previous); }
    } german;
    ResultsFixture f;
    ResultsView view(f.store, f.tasks);
    view.resize(1200, 800);
    view.show();
    view.setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 30u; }, 20000));
    QTemporaryDir out;
    const QRegularExpression comma(QStringLiteral("[0-9],[0-9]")), point(QStringLiteral("[0-9]\\.[0-9]"));
    int decimals = 0;
    for (const char* name : {"figure1Plot", "figure3Plot"}) {
        auto* plot = view.findChild<QCustomPlot*>(QString::fromLatin1(name));
        ASSERT_NE(plot, nullptr) << name;
        ASSERT_TRUE(QTest::qWaitFor([&] { return plot->graphCount() > 0; }, 5000)) << name;
        ASSERT_EQ(plot->locale().decimalPoint(), QStringLiteral(",")) << "the window's plots take the system's locale";
        const QString svg = QDir(out.path()).filePath(QString::fromLatin1(name) + QStringLiteral(".svg"));
        exportPlot(*plot, svg);
        QXmlStreamReader xml(head(svg, 1 << 22));
        while (!xml.atEnd()) {
            xml.readNext();
            if (!xml.isStartElement() || xml.name() != QLatin1String("text")) continue;
            const QString text = xml.readElementText(QXmlStreamReader::IncludeChildElements);
            EXPECT_FALSE(text.contains(comma)) << name << ": " << text.toStdString();
            if (text.contains(point)) ++decimals;
        }
        EXPECT_FALSE(xml.hasError()) << name << ": " << xml.errorString().toStdString();
        EXPECT_EQ(plot->locale().decimalPoint(), QStringLiteral(",")) << "the plot on screen keeps its locale";
    }
    EXPECT_GT(decimals, 0) << "no number with decimals in the exported figures: nothing was checked";
}

// Before, the view took the experiment's name back from the chooser's text ("run #2 #1  (...)"),
// cut at the first " #": it asked for "run#1", no experiment, and showed nothing.
TEST(ResultsViewTest, AnExperimentWhoseNameHoldsAHashIsAnalysed) {
    ResultsFixture f;
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(f.store.path().c_str(), &db), SQLITE_OK);
    const std::string rename = "UPDATE experiments SET name = 'run #2' WHERE id = " + std::to_string(f.experiment);
    EXPECT_EQ(sqlite3_exec(db, rename.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
    // An experiment named "run #2#<id>" too: "NAME#ID" alone would read as either.
    ExperimentRecord other;
    other.name = "run #2#" + std::to_string(f.experiment);
    other.taskId = "toy/a";
    f.store.addExperiment(other);
    f.store.flush();
    ResultsView view(f.store, f.tasks);
    QSignalSpy errors(&view, &ResultsView::errorOccurred);
    view.setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 30u; }, 20000))
        << (errors.isEmpty() ? std::string() : errors.front().front().toString().toStdString());
    ASSERT_EQ(view.data().experiments.size(), 1u);
    EXPECT_EQ(view.data().experiments[0].name, "run #2");
    EXPECT_EQ(view.data().experiments[0].id, f.experiment);
}

TEST(ResultsViewTest, ExportReportWritesTheCliReportFiles) {
    ResultsFixture f;
    ResultsView view(f.store, f.tasks);
    view.setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 30u; }, 20000));
    QTemporaryDir out;
    QSignalSpy exported(&view, &ResultsView::reportExported);
    view.exportReport(out.path());
    ASSERT_TRUE(exported.wait(60000));
    const QDir folder(out.path());
    for (const char* name : {"table-main.csv", "table-main.md", "table-main.tex", "table-std.csv", "stats.csv",
                             "headline.md", "seed-results.csv", "metrics-long.csv", "fig1-seed-differences.png",
                             "fig1-seed-differences.svg", "fig1-seed-differences.pdf", "fig3-seed-spread.pdf"}) {
        EXPECT_TRUE(folder.exists(QString::fromLatin1(name))) << name;
    }
    EXPECT_TRUE(head(folder.filePath(QStringLiteral("table-main.md")), 100000).contains("80.80 ± 0.63"));
}

// Runs without ECE bins (stored before schema 7) show no reliability diagram; once some have
// bins, the diagram shows their tasks and the report export writes it with reliability.csv.
TEST(ResultsViewTest, ReliabilityDiagramAppearsForRunsWithCalibrationBins) {
    ResultsFixture f;
    {
        ResultsView view(f.store, f.tasks);
        view.setExperiment(f.experiment);
        ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 30u; }, 20000));
        EXPECT_FALSE(view.reliabilityShown());
        EXPECT_EQ(view.reliabilityTaskCombo()->count(), 0);
    }
    // toy/a's CE and square early-stopping runs: 90 test examples in bin 13 (70 right), 10 in bin 9.
    for (const RunRecord& r : f.store.runs()) {
        if (r.taskId != "toy/a" || r.protocol != "early_stopping") continue;
        CalibrationBins bins;
        bins.split = "test";
        bins.count[13] = 90;
        bins.confidence[13] = 90 * 0.9;
        bins.correct[13] = 70;
        bins.count[9] = 10;
        bins.confidence[9] = 10 * 0.65;
        bins.correct[9] = 6;
        f.store.appendEpoch(r.id, 3, {}, {bins});
    }
    f.store.flush();
    ResultsView view(f.store, f.tasks);
    view.resize(1200, 800);
    view.show();
    view.setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().reliability.size() == 2u; }, 20000));
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.reliabilityShown(); }, 5000));
    ASSERT_EQ(view.reliabilityTaskCombo()->count(), 1);
    EXPECT_EQ(view.reliabilityTaskCombo()->itemText(0), QStringLiteral("toy/a"));
    auto* curve = qobject_cast<QCPGraph*>(findPlottable(*view.reliabilityPlot(), QStringLiteral("reliability/1")));
    ASSERT_NE(curve, nullptr);
    ASSERT_EQ(curve->data()->size(), 2);
    EXPECT_NEAR(curve->data()->at(1)->key, 0.9, 1e-12);
    EXPECT_NEAR(curve->data()->at(1)->value, 70.0 / 90.0, 1e-12);

    QTemporaryDir out;
    QSignalSpy exported(&view, &ResultsView::reportExported);
    view.exportReport(out.path());
    ASSERT_TRUE(exported.wait(60000));
    const QDir folder(out.path());
    for (const char* name : {"reliability.csv", "fig4-reliability-toy_a.png", "fig4-reliability-toy_a.svg",
                             "fig4-reliability-toy_a.pdf"})
        EXPECT_TRUE(folder.exists(QString::fromLatin1(name))) << name;
}

TEST(ResultsViewTest, ExportForTensorBoardWritesOneFolderPerRunOfTheSelectedExperiment) {
    ResultsFixture f;
    // A second experiment, stored later: only the selected one is exported.
    ExperimentRecord other;
    other.name = "other";
    RunRecord r;
    r.taskId = "toy/a";
    r.lossName = r.loss = "ce";
    r.protocol = "early_stopping";
    const std::int64_t otherId = f.store.addExperiment(other);
    const std::int64_t runId = f.store.addRuns(otherId, {r}).front();
    f.store.markStarted(runId, "cpu", 0, "LibTorch 2.6.0", 1);
    f.store.appendEpoch(runId, 1, {{"val", "acc", 0.5}});
    f.store.flush();
    ResultsView view(f.store, f.tasks);
    view.setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 30u; }, 20000));
    QTemporaryDir out;
    QSignalSpy exported(&view, &ResultsView::tensorBoardExported);
    view.exportTensorBoard(out.path());
    ASSERT_TRUE(exported.wait(60000));
    EXPECT_EQ(exported.front().at(1).toInt(), 30);
    const QString experimentFolder = QStringLiteral("fixture#%1").arg(f.experiment);
    EXPECT_EQ(QDir(out.path()).entryList(QDir::Dirs | QDir::NoDotAndDotDot), QStringList{experimentFolder});
    const QDir run(QDir(out.path()).filePath(experimentFolder + QStringLiteral("/toy/b/square/same_epochs_as_ce/seed4")));
    const QStringList files = run.entryList(QDir::Files);
    ASSERT_EQ(files.size(), 1) << files.join(QStringLiteral(", ")).toStdString();
    EXPECT_TRUE(files.front().startsWith(QStringLiteral("events.out.tfevents."))) << files.front().toStdString();
}

// File > Send to MLflow…: the selected experiment's runs go to a tracking server over HTTP, here
// the stand-in of the command-line tests (tests/cli/fake_mlflow.py, MLflow's calls and limits).
TEST(ResultsViewTest, SendToMlflowSendsTheSelectedExperimentsRunsOnce) {
    if (!mlflow::httpAvailable()) GTEST_SKIP() << "built without libcurl";
    for (const char* proxy : {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "MLFLOW_TRACKING_TOKEN"}) qunsetenv(proxy);
    ResultsFixture f;
    ResultsView view(f.store, f.tasks);
    view.setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 30u; }, 20000));

    QTemporaryDir dir;
    QProcess server;
    server.start(QStringLiteral("python3"), {QStringLiteral(LOSSLAB_SOURCE_DIR "/tests/cli/fake_mlflow.py"),
                                             dir.filePath(QStringLiteral("port")), dir.filePath(QStringLiteral("state.json"))});
    ASSERT_TRUE(server.waitForStarted(10000));
    QFile portFile(dir.filePath(QStringLiteral("port")));
    ASSERT_TRUE(QTest::qWaitFor([&] { return portFile.exists(); }, 20000));
    ASSERT_TRUE(portFile.open(QIODevice::ReadOnly));
    const QString uri = QStringLiteral("http://127.0.0.1:") + QString::fromUtf8(portFile.readAll()).trimmed();

    QSignalSpy sent(&view, &ResultsView::mlflowExported);
    QSignalSpy failed(&view, &ResultsView::errorOccurred);
    view.exportMlflow(uri);
    ASSERT_TRUE(sent.wait(60000)) << (failed.isEmpty() ? std::string() : failed.front().at(0).toString().toStdString());
    EXPECT_EQ(sent.front().at(0).toString(), uri);
    EXPECT_EQ(sent.front().at(1).toInt(), 30);
    EXPECT_GT(sent.front().at(2).toLongLong(), 30 * 15); // at least 3 epochs x 5 metrics a run
    EXPECT_EQ(sent.front().at(3).toInt(), 0);
    view.exportMlflow(uri);
    ASSERT_TRUE(sent.wait(60000));
    EXPECT_EQ(sent.at(1).at(2).toLongLong(), 0); // again: nothing new
    EXPECT_EQ(sent.at(1).at(3).toInt(), 0);

    QFile stateFile(dir.filePath(QStringLiteral("state.json")));
    ASSERT_TRUE(stateFile.open(QIODevice::ReadOnly));
    QByteArray json = stateFile.readAll();
    json.replace("NaN", "null"); // Python writes a NaN metric as a bare NaN, which is not JSON
    const QJsonObject state = QJsonDocument::fromJson(json).object();
    const QJsonObject experiments = state.value(QStringLiteral("experiments")).toObject();
    ASSERT_EQ(experiments.size(), 1);
    EXPECT_EQ(experiments.begin().value().toObject().value(QStringLiteral("name")).toString(),
              QStringLiteral("fixture#%1").arg(f.experiment));
    EXPECT_EQ(state.value(QStringLiteral("runs")).toObject().size(), 30);
    server.terminate();
    server.waitForFinished(10000);

    // A server (or the proxy before it) that made one run twice: the next send moves the
    // duplicate to MLflow's trash, and the window hears how many went.
    QTemporaryDir twiceDir;
    QProcess twice;
    twice.start(QStringLiteral("python3"), {QStringLiteral(LOSSLAB_SOURCE_DIR "/tests/cli/fake_mlflow.py"),
                                            twiceDir.filePath(QStringLiteral("port")), twiceDir.filePath(QStringLiteral("state.json")),
                                            QStringLiteral("--fault"), QStringLiteral("runs/create:1:twice")});
    ASSERT_TRUE(twice.waitForStarted(10000));
    QFile twicePort(twiceDir.filePath(QStringLiteral("port")));
    ASSERT_TRUE(QTest::qWaitFor([&] { return twicePort.exists(); }, 20000));
    ASSERT_TRUE(twicePort.open(QIODevice::ReadOnly));
    const QString twiceUri = QStringLiteral("http://127.0.0.1:") + QString::fromUtf8(twicePort.readAll()).trimmed();
    view.exportMlflow(twiceUri);
    ASSERT_TRUE(sent.wait(60000)) << (failed.isEmpty() ? std::string() : failed.back().at(0).toString().toStdString());
    EXPECT_EQ(sent.back().at(3).toInt(), 0);
    view.exportMlflow(twiceUri);
    ASSERT_TRUE(sent.wait(60000)) << (failed.isEmpty() ? std::string() : failed.back().at(0).toString().toStdString());
    EXPECT_EQ(sent.back().at(1).toInt(), 30);
    EXPECT_EQ(sent.back().at(3).toInt(), 1);
    twice.terminate();
    twice.waitForFinished(10000);

    view.exportMlflow(QStringLiteral("sqlite:///mlflow.db"));
    ASSERT_TRUE(failed.wait(20000));
    EXPECT_TRUE(failed.back().at(0).toString().contains(QStringLiteral("needs a server in front of it"))) << failed.back().at(0).toString().toStdString();
}

// A background export that fails reports the error's own words, and the view can be destroyed
// after it (the error once came back as "std::exception", and destroying the view aborted).
TEST(ResultsViewTest, AnExperimentWithoutRunsSaysSoAndTheViewCloses) {
    // All of an experiment's runs deleted in the run browser: the analysis fails in the background.
    // Its message must reach the window, and closing the view must not rethrow it (std::terminate).
    ResultsFixture f;
    ExperimentRecord empty;
    empty.name = "emptied";
    const std::int64_t emptyId = f.store.addExperiment(empty);
    f.store.flush();
    auto view = std::make_unique<ResultsView>(f.store, f.tasks);
    view->setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view->data().runs.size() == 30u; }, 20000));
    ASSERT_GT(view->mainTableModel()->rowCount(), 0);
    QSignalSpy failed(view.get(), &ResultsView::errorOccurred);
    view->setExperiment(emptyId);
    ASSERT_TRUE(QTest::qWaitFor([&] { return !failed.isEmpty(); }, 20000));
    const QString message = failed.front().at(0).toString();
    EXPECT_TRUE(message.contains(QStringLiteral("emptied#%1 have no runs").arg(emptyId))) << message.toStdString();
    // The tables no longer show the other experiment's numbers.
    EXPECT_TRUE(view->data().runs.empty());
    EXPECT_EQ(view->mainTableModel()->rowCount(), 0);
    view.reset();
}

TEST(ResultsViewTest, AFailedExportForTensorBoardSaysWhy) {
    ResultsFixture f;
    auto view = std::make_unique<ResultsView>(f.store, f.tasks);
    view->setExperiment(f.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view->data().runs.size() == 30u; }, 20000));
    QSignalSpy failed(view.get(), &ResultsView::errorOccurred);
    view->exportTensorBoard(QStringLiteral("/proc/nope/out"));
    ASSERT_TRUE(failed.wait(20000));
    EXPECT_TRUE(failed.front().at(0).toString().contains(QStringLiteral("cannot create the folder /proc/nope/out")))
        << failed.front().at(0).toString().toStdString();
    view.reset();
}
