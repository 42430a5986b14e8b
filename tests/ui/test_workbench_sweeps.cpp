// The sweep part of the results view and of the report's figures: a 2 x 2 (k, M) grid of the
// square loss over seeds 0-2 plus cross-entropy (the numbers of tests/core/test_sweep_report.cpp):
//   CE                 test 0.80 + 0.01 s   val 0.81 + 0.01 s
//   square k=1, M=1    test 0.80 + 0.02 s   val 0.80 + 0.01 s
//   square k=1, M=10   test 0.85 + 0.01 s   val 0.79 + 0.01 s
//   square k=5, M=1    test 0.83 + 0.01 s   val 0.84 + 0.01 s   (the tuned point)
//   square k=5, M=10   test 0.75 + 0.01 s   val 0.76 + 0.01 s   (seed 2 diverged)
#include <gtest/gtest.h>

#include <QDir>
#include <QFile>
#include <QImage>
#include <QTemporaryDir>
#include <QTest>

#include <qcustomplot.h>

#include <cmath>

#include "losslab/report/report_files.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/store/run_store.h"
#include "losslab/tasks/task_registry.h"
#include "plots/figure_export.h"
#include "plots/paper_figures.h"
#include "plots/sweep_heatmap.h"
#include "report_fixture.h"
#include "workbench/report_table_model.h"
#include "workbench/results_view.h"

using namespace losslab;

namespace {

const std::string kTask = "fashion_mnist/mlp";

struct GridPoint {
    double k, M, test, val;
};
const std::vector<GridPoint> kGrid = {{1, 1, 0.80, 0.80}, {1, 10, 0.85, 0.79}, {5, 1, 0.83, 0.84}, {5, 10, 0.75, 0.76}};

std::string specYaml(const std::string& loss, double k, double M, double lr, std::int64_t seed, bool swept) {
    RunSpec r;
    r.experiment = "km";
    r.taskId = kTask;
    r.loss.name = loss;
    r.loss.kind = loss == "ce" ? LossKind::CrossEntropy : LossKind::Square;
    r.loss.k = k;
    r.loss.M = M;
    r.loss.lr = lr;
    r.seed = seed;
    r.device = "cpu";
    if (swept) r.sweepAxes = {"loss.k", "loss.M"};
    r.params.set("model.hidden", "[16]", ParamType::IntList);
    return r.toYaml();
}

// Stores the sweep as experiment "km"; returns its id.
std::int64_t addSweep(RunStore& store) {
    ExperimentRecord e;
    e.name = "km";
    e.taskId = kTask;
    const std::int64_t id = store.addExperiment(e);
    struct Planned {
        RunRecord record;
        double test, val;
    };
    std::vector<Planned> plans;
    for (std::int64_t s = 0; s < 3; ++s) {
        const double ds = static_cast<double>(s);
        RunRecord ce;
        ce.taskId = kTask;
        ce.lossName = ce.loss = "ce";
        ce.lr = 0.1;
        ce.protocol = "early_stopping";
        ce.seed = s;
        ce.specYaml = specYaml("ce", 1, 1, 0.1, s, false);
        plans.push_back({ce, 0.80 + 0.01 * ds, 0.81 + 0.01 * ds});
        for (const GridPoint& g : kGrid) {
            RunRecord sq = ce;
            sq.lossName = sq.loss = "square";
            sq.k = g.k;
            sq.M = g.M;
            sq.lr = 0.2;
            sq.specYaml = specYaml("square", g.k, g.M, 0.2, s, true);
            plans.push_back({sq, g.test + (g.k == 1 && g.M == 1 ? 0.02 : 0.01) * ds, g.val + 0.01 * ds});
        }
    }
    std::vector<RunRecord> records;
    for (const auto& p : plans) records.push_back(p.record);
    const std::vector<std::int64_t> ids = store.addRuns(id, records);
    for (std::size_t i = 0; i < plans.size(); ++i) {
        const RunRecord& r = plans[i].record;
        const bool diverged = r.k == 5 && r.M == 10 && r.seed == 2;
        store.appendEpoch(ids[i], 1, {{"test", "acc", diverged ? std::nan("") : plans[i].test},
                                      {"val", "acc", diverged ? std::nan("") : plans[i].val}});
        store.finishRun(ids[i], diverged ? RunStatus::Diverged : RunStatus::Completed, 1, diverged ? 0 : 1, 1.0,
                        diverged ? "loss became NaN" : "");
    }
    store.flush();
    return id;
}

struct SweepWorld {
    QTemporaryDir dir;
    RunStore store{QDir(dir.path()).filePath(QStringLiteral("runs.sqlite")).toStdString()};
    TaskRegistry tasks;
    std::int64_t experiment = addSweep(store);
    ReportData load() {
        ReportRequest request;
        request.experiments = {"km"};
        return loadReportData(store, request, {});
    }
};

QCPColorMap* heatmapOf(const QCustomPlot& plot) {
    return qobject_cast<QCPColorMap*>(findPlottable(plot, QStringLiteral("heatmap")));
}

QString cellText(const QCustomPlot& plot, int column, int row) {
    for (int i = 0; i < plot.itemCount(); ++i)
        if (plot.item(i)->objectName() == QStringLiteral("cell/%1/%2").arg(column).arg(row))
            if (auto* text = qobject_cast<QCPItemText*>(plot.item(i))) return text->text();
    return QStringLiteral("(no cell)");
}

} // namespace

TEST(SweepHeatmapTest, CellsHoldMeanStdAndDifferenceOfEachGridPoint) {
    SweepWorld w;
    const ReportData data = w.load();
    ASSERT_EQ(data.sweeps.families.size(), 1u);
    const SweepFamily& family = data.sweeps.families.front();
    QCustomPlot plot;

    // Mean: k (columns) 1, 5; M (rows) 1, 10; test accuracy in %.
    plotSweepHeatmap(plot, data.sweeps, family, SweepValue::Mean, {});
    QCPColorMap* map = heatmapOf(plot);
    ASSERT_NE(map, nullptr);
    EXPECT_EQ(map->data()->keySize(), 2);
    EXPECT_EQ(map->data()->valueSize(), 2);
    EXPECT_NEAR(map->data()->cell(0, 0), 82.0, 1e-9);  // k=1, M=1
    EXPECT_NEAR(map->data()->cell(0, 1), 86.0, 1e-9);  // k=1, M=10
    EXPECT_NEAR(map->data()->cell(1, 0), 84.0, 1e-9);  // k=5, M=1
    EXPECT_NEAR(map->data()->cell(1, 1), 75.5, 1e-9);  // k=5, M=10: two seeds
    EXPECT_EQ(cellText(plot, 1, 0), QStringLiteral("84.00"));
    EXPECT_EQ(plot.xAxis->label(), QStringLiteral("k"));
    EXPECT_EQ(plot.yAxis->label(), QStringLiteral("M"));

    plotSweepHeatmap(plot, data.sweeps, family, SweepValue::Std, {});
    map = heatmapOf(plot);
    EXPECT_NEAR(map->data()->cell(0, 0), 2.0, 1e-9);
    EXPECT_EQ(cellText(plot, 0, 0), QStringLiteral("2.00"));

    // Difference to CE, percentage points; the colour range is symmetric about 0.
    plotSweepHeatmap(plot, data.sweeps, family, SweepValue::Diff, {});
    map = heatmapOf(plot);
    EXPECT_NEAR(map->data()->cell(0, 0), 1.0, 1e-9);
    EXPECT_NEAR(map->data()->cell(0, 1), 5.0, 1e-9);
    EXPECT_NEAR(map->data()->cell(1, 0), 3.0, 1e-9);
    EXPECT_NEAR(map->data()->cell(1, 1), -5.0, 1e-9);
    EXPECT_EQ(cellText(plot, 0, 1), QStringLiteral("+5.00"));
    EXPECT_DOUBLE_EQ(map->dataRange().lower, -map->dataRange().upper);
    EXPECT_NEAR(map->dataRange().upper, 5.0, 1e-9);
}

TEST(SweepFiguresTest, WritesMeanStdAndDiffHeatmapsInEveryFormat) {
    SweepWorld w;
    const ReportData data = w.load();
    QTemporaryDir out;
    std::vector<std::string> warnings;
    const auto written = writeSweepFigures(data.sweeps, out.path().toStdString(), FigureFormats{}, warnings);
    EXPECT_EQ(written.size(), 9u) << "mean, std and diff, each as PNG, SVG and PDF";
    for (const char* value : {"mean", "std", "diff"})
        for (const char* ext : {"png", "svg", "pdf"}) {
            const QString name = QStringLiteral("figure-sweep-fashion_mnist_mlp-square-early_stopping-%1.%2").arg(value, ext);
            EXPECT_TRUE(QFile::exists(QDir(out.path()).filePath(name))) << name.toStdString();
        }
    const QImage png(QDir(out.path()).filePath(QStringLiteral("figure-sweep-fashion_mnist_mlp-square-early_stopping-diff.png")));
    EXPECT_EQ(png.size(), QSize(1050, 700));
    EXPECT_TRUE(warnings.empty());

    // Only the formats asked for; a report without sweeps gets no heatmap at all.
    FigureFormats pngOnly;
    pngOnly.svg = pngOnly.pdf = false;
    QTemporaryDir second;
    EXPECT_EQ(writeSweepFigures(data.sweeps, second.path().toStdString(), pngOnly, warnings).size(), 3u);
    EXPECT_TRUE(writeSweepFigures(SweepAnalysis{}, second.path().toStdString(), FigureFormats{}, warnings).empty());
}

TEST(ResultsViewSweepTest, ShowsTheTunedTableAndTheHeatmap) {
    SweepWorld w;
    ResultsView view(w.store, w.tasks);
    view.resize(1200, 800);
    view.setExperiment(w.experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 15u; }, 20000));
    EXPECT_TRUE(view.sweepShown());

    const ReportTableModel& tuned = *view.tunedTableModel();
    ASSERT_EQ(tuned.rowCount(), 2);
    QString squareRow;
    for (int c = 0; c < tuned.columnCount(); ++c)
        squareRow += tuned.data(tuned.index(1, c)).toString() + QLatin1Char('|');
    EXPECT_TRUE(squareRow.contains(QStringLiteral("k=5, M=1|4|84.00 ± 1.00 (n=3)|85.00|3.00 [3.00, 3.00] (n=3)")))
        << squareRow.toStdString();
    // Long headers wrap onto lines the capped column width shows; the tool tip keeps them whole.
    bool sawWrapped = false;
    for (int c = 0; c < tuned.columnCount(); ++c) {
        const QString shown = tuned.headerData(c, Qt::Horizontal).toString();
        const std::string whole = tuned.table().header[static_cast<std::size_t>(c)];
        EXPECT_EQ(QString(shown).replace(QLatin1Char('\n'), QLatin1Char(' ')).toStdString(), whole);
        for (const QString& line : shown.split(QLatin1Char('\n'))) EXPECT_LE(line.size(), 24) << whole;
        if (shown.contains(QLatin1Char('\n'))) {
            sawWrapped = true;
            EXPECT_EQ(tuned.headerData(c, Qt::Horizontal, Qt::ToolTipRole).toString().toStdString(), whole);
        }
    }
    EXPECT_TRUE(sawWrapped);

    ASSERT_EQ(view.sweepFamilyCombo()->count(), 1);
    QCPColorMap* map = heatmapOf(*view.sweepHeatmap());
    ASSERT_NE(map, nullptr);
    EXPECT_NEAR(map->data()->cell(1, 0), 84.0, 1e-9);
    view.sweepValueCombo()->setCurrentIndex(view.sweepValueCombo()->findData(QStringLiteral("diff")));
    map = heatmapOf(*view.sweepHeatmap());
    ASSERT_NE(map, nullptr);
    EXPECT_NEAR(map->data()->cell(1, 1), -5.0, 1e-9);
}

TEST(ResultsViewSweepTest, AnExperimentWithoutSweepsShowsNoSweepPart) {
    QTemporaryDir dir;
    RunStore store(QDir(dir.path()).filePath(QStringLiteral("runs.sqlite")).toStdString());
    TaskRegistry tasks;
    const std::int64_t experiment = fixtures::buildReportFixture(store);
    ResultsView view(store, tasks);
    view.setExperiment(experiment);
    ASSERT_TRUE(QTest::qWaitFor([&] { return view.data().runs.size() == 30u; }, 20000));
    EXPECT_FALSE(view.sweepShown());
    EXPECT_EQ(view.tunedTableModel()->rowCount(), 0);
    EXPECT_EQ(view.sweepFamilyCombo()->count(), 0);
}

TEST(SweepFiguresTest, MoreThanTwoAxesGiveOneHeatmapPerValueOfTheOthers) {
    // k x M x hidden: two slices, one per hidden size, named after it.
    SweepAnalysis sweeps;
    sweeps.metric = "test/acc";
    sweeps.valMetric = "val/acc";
    SweepFamily f;
    f.taskId = kTask;
    f.lossName = f.loss = "square";
    f.protocol = "early_stopping";
    f.axes = {"loss.k", "loss.M", "model.hidden"};
    f.axisValues = {{"1", "5"}, {"1"}, {"[16]", "[64, 32]"}};
    for (const std::string hidden : {"[16]", "[64, 32]"})
        for (const std::string k : {"1", "5"}) {
            SweepPoint p;
            p.values = {k, "1", hidden};
            p.test.n = 2;
            p.test.mean = hidden == "[16]" ? 0.8 : 0.9;
            p.test.std = 0.01;
            f.points.push_back(p);
        }
    sweeps.families.push_back(f);
    const auto slices = sweepSlices(f);
    ASSERT_EQ(slices.size(), 2u);
    EXPECT_EQ(sweepSliceLabel(f, slices[1]), "hidden=[64, 32]");

    QCustomPlot plot;
    plotSweepHeatmap(plot, sweeps, f, SweepValue::Mean, slices[1]);
    QCPColorMap* map = heatmapOf(plot);
    ASSERT_NE(map, nullptr);
    EXPECT_EQ(map->data()->keySize(), 2);
    EXPECT_EQ(map->data()->valueSize(), 2); // M's one value: a row drawn as two equal cells
    EXPECT_NEAR(map->data()->cell(1, 0), 90.0, 1e-9);
    EXPECT_NEAR(map->data()->cell(1, 1), 90.0, 1e-9);

    QTemporaryDir out;
    std::vector<std::string> warnings;
    FigureFormats pngOnly;
    pngOnly.svg = pngOnly.pdf = false;
    const auto written = writeSweepFigures(sweeps, out.path().toStdString(), pngOnly, warnings);
    // mean and std per slice; no diff (nothing paired), said in a warning per slice.
    EXPECT_EQ(written.size(), 4u);
    for (const char* name : {"figure-sweep-fashion_mnist_mlp-square-early_stopping-mean-hidden=16.png",
                             "figure-sweep-fashion_mnist_mlp-square-early_stopping-std-hidden=64_32.png"})
        EXPECT_TRUE(QFile::exists(QDir(out.path()).filePath(QString::fromUtf8(name)))) << name;
    EXPECT_EQ(warnings.size(), 2u);
}

TEST(SweepHeatmapTest, ASingleRowOrColumnOfCellsIsDrawnInColour) {
    // A sweep of one axis (one row of cells) and an axis of one value (one column): QCPColorMap
    // drew such cells 0 high or wide, so the figure showed the plot's white with the numbers of
    // the light cells only (those of dark cells are white).
    SweepAnalysis sweeps;
    sweeps.metric = "test/acc";
    sweeps.valMetric = "val/acc";
    SweepFamily row;
    row.taskId = kTask;
    row.lossName = row.loss = "square";
    row.protocol = "early_stopping";
    row.axes = {"loss.lr"};
    row.axisValues = {{"0.01", "0.1", "0.5"}};
    for (std::size_t i = 0; i < 3; ++i) {
        SweepPoint p;
        p.values = {row.axisValues[0][i]};
        p.test.n = 2;
        p.test.mean = 0.5 + 0.2 * static_cast<double>(i);
        p.test.std = 0.01;
        row.points.push_back(p);
    }
    SweepFamily column = row;
    column.axes = {"loss.k", "loss.lr"};
    column.axisValues = {{"1"}, row.axisValues[0]};
    for (auto& p : column.points) p.values.insert(p.values.begin(), "1");
    sweeps.families = {row, column};

    for (const SweepFamily& family : sweeps.families) {
        QCustomPlot plot;
        plot.resize(600, 400);
        plotSweepHeatmap(plot, sweeps, family, SweepValue::Mean, {});
        plot.replot();
        const QImage image = plot.toPixmap().toImage();
        QCPColorMap* map = heatmapOf(plot);
        ASSERT_NE(map, nullptr);
        const bool oneRow = family.axes.size() == 1;
        for (int i = 0; i < 3; ++i) {
            // A quarter of a cell off its centre, where its number is written.
            const double x = oneRow ? i : 0.25, y = oneRow ? 0.25 : i + 0.25;
            const QPoint at(qRound(plot.xAxis->coordToPixel(x)), qRound(plot.yAxis->coordToPixel(y)));
            const QColor want = map->gradient().color(100.0 * (0.5 + 0.2 * i), map->dataRange());
            const QColor got = image.pixelColor(at);
            EXPECT_LE(std::abs(got.red() - want.red()) + std::abs(got.green() - want.green()) + std::abs(got.blue() - want.blue()), 6)
                << family.axes.size() << " axes, cell " << i << ": " << got.name().toStdString() << " instead of "
                << want.name().toStdString();
        }
    }
}
