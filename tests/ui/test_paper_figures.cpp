// The paper's figures: the data on the plot equals the analysis it was drawn from.
#include <gtest/gtest.h>

#include <QApplication>
#include <qcustomplot.h>

#include "plots/paper_figures.h"
#include "sample_analysis.h"

using namespace losslab;
using namespace losslab::testing;

namespace {

constexpr double kEps = 1e-9;

QCPGraph* graph(QCustomPlot& plot, const QString& name) {
    auto* g = qobject_cast<QCPGraph*>(findPlottable(plot, name));
    EXPECT_NE(g, nullptr) << "no graph named " << name.toStdString();
    return g;
}

QCPErrorBars* errorBars(QCustomPlot& plot, const QString& name) {
    auto* bars = qobject_cast<QCPErrorBars*>(findPlottable(plot, name));
    EXPECT_NE(bars, nullptr) << "no error bars named " << name.toStdString();
    return bars;
}

std::vector<std::pair<double, double>> points(const QCPGraph* g) {
    std::vector<std::pair<double, double>> out;
    for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) out.emplace_back(it->key, it->value);
    return out;
}

QStringList legendTexts(QCustomPlot& plot) {
    QStringList out;
    for (int i = 0; i < plot.legend->itemCount(); ++i)
        if (auto* item = qobject_cast<QCPPlottableLegendItem*>(plot.legend->item(i)))
            out << item->plottable()->objectName();
    return out;
}

QMap<double, QString> tickLabels(QCPAxis* axis) {
    auto ticker = qSharedPointerDynamicCast<QCPAxisTickerText>(axis->ticker());
    EXPECT_FALSE(ticker.isNull());
    return ticker ? ticker->ticks() : QMap<double, QString>();
}

} // namespace

// ---- Figure 1 ---------------------------------------------------------------------------

TEST(SeedDifferencesFigure, SeedPointsAreTheDifferencesInPercentagePointsAtTheirTaskSlot) {
    QCustomPlot plot;
    plotSeedDifferences(plot, sampleAnalysis(), "test/acc", "early_stopping");
    QCPGraph* seeds = graph(plot, "seeds");
    ASSERT_NE(seeds, nullptr);
    EXPECT_EQ(seeds->lineStyle(), QCPGraph::lsNone);

    std::vector<std::pair<double, double>> expected;
    const std::vector<std::string> tasks = {"toy/alpha", "toy/beta"};
    for (std::size_t slot = 0; slot < tasks.size(); ++slot) {
        const auto differences = pairedDifferences(tasks[slot]);
        for (std::size_t j = 0; j < differences.size(); ++j)
            expected.emplace_back(double(slot) + kSeedOffset + seedJitter(int(j), 5), differences[j] * 100.0);
    }
    const auto drawn = points(seeds);
    ASSERT_EQ(drawn.size(), expected.size());
    for (std::size_t i = 0; i < drawn.size(); ++i) {
        EXPECT_NEAR(drawn[i].first, expected[i].first, kEps) << "point " << i;
        EXPECT_NEAR(drawn[i].second, expected[i].second, kEps) << "point " << i;
    }
    // Seeds stay inside their own slot.
    for (const auto& [x, y] : drawn) EXPECT_LT(std::abs(x - std::round(x)), 0.5);
}

TEST(SeedDifferencesFigure, MeanMarkerAndErrorBarAreMeanAndSampleStdOfTheDifferences) {
    QCustomPlot plot;
    plotSeedDifferences(plot, sampleAnalysis(), "test/acc", "early_stopping");
    QCPGraph* mean = graph(plot, "mean");
    QCPErrorBars* std = errorBars(plot, "std");
    ASSERT_TRUE(mean && std);
    EXPECT_EQ(std->dataPlottable(), mean);
    const auto drawn = points(mean);
    ASSERT_EQ(drawn.size(), 2u);
    ASSERT_EQ(std->dataCount(), 2);
    const std::vector<std::string> tasks = {"toy/alpha", "toy/beta"};
    for (std::size_t slot = 0; slot < 2; ++slot) {
        const auto differences = pairedDifferences(tasks[slot]);
        EXPECT_NEAR(drawn[slot].first, double(slot) + kMeanOffset, kEps);
        EXPECT_NEAR(drawn[slot].second, meanOf(differences) * 100.0, 1e-9);
        const QCPErrorBarsData bar = std->data()->at(int(slot));
        EXPECT_NEAR(bar.errorMinus, sampleStdOf(differences) * 100.0, 1e-9);
        EXPECT_NEAR(bar.errorPlus, sampleStdOf(differences) * 100.0, 1e-9);
    }
}

TEST(SeedDifferencesFigure, DrawsOnlyThePairsOfTheRequestedProtocolAndMetric) {
    LossAnalysis analysis = sampleAnalysis();
    // A comparison of another metric must not add a slot either.
    SeedComparison other = analysis.comparisons.front();
    other.metric = "test/top5";
    analysis.comparisons.push_back(other);

    QCustomPlot plot;
    plotSeedDifferences(plot, analysis, "test/acc", "same_epochs_as_ce");
    const auto drawn = points(graph(plot, "seeds"));
    ASSERT_EQ(drawn.size(), 10u);
    const auto alpha = pairedDifferences("toy/alpha");
    // The same-epochs runs are 3 points below the early-stopping ones.
    EXPECT_NEAR(drawn[0].second, alpha[0] * 100.0 - 3.0, 1e-9);
    EXPECT_EQ(tickLabels(plot.xAxis).size(), 2);
}

TEST(SeedDifferencesFigure, TicksNameTheTasksAndTheAxisStatesDirectionAndUnit) {
    QCustomPlot plot;
    plotSeedDifferences(plot, sampleAnalysis(), "test/acc", "early_stopping");
    const auto ticks = tickLabels(plot.xAxis);
    ASSERT_EQ(ticks.size(), 2);
    EXPECT_EQ(ticks.value(0.0), "toy/alpha");
    EXPECT_EQ(ticks.value(1.0), "toy/beta");
    const QString label = plot.yAxis->label();
    EXPECT_TRUE(label.contains(QString::fromUtf8("square \u2212 CE"))) << label.toStdString();
    EXPECT_TRUE(label.contains("test accuracy")) << label.toStdString();
    EXPECT_TRUE(label.contains("percentage points")) << label.toStdString();
    // Every point and bar is inside the visible range, and so is zero.
    const QCPRange y = plot.yAxis->range();
    EXPECT_TRUE(y.contains(0.0));
    for (const auto& [key, value] : points(graph(plot, "seeds"))) {
        EXPECT_TRUE(plot.xAxis->range().contains(key));
        EXPECT_TRUE(y.contains(value));
    }
}

TEST(SeedDifferencesFigure, ErrorRatesAreOrientedCeMinusSquare) {
    LossAnalysis analysis = sampleAnalysis();
    for (auto& comparison : analysis.comparisons) comparison.metric = "test/error";
    QCustomPlot plot;
    plotSeedDifferences(plot, analysis, "test/error", "early_stopping");
    EXPECT_TRUE(plot.yAxis->label().startsWith(QString::fromUtf8("CE \u2212 square"))) << plot.yAxis->label().toStdString();
    EXPECT_EQ(points(graph(plot, "seeds")).size(), 10u);
}

TEST(SeedDifferencesFigure, WordErrorRatesAreOrientedCeMinusSquareInPercentagePoints) {
    LossAnalysis analysis = sampleAnalysis();
    for (auto& comparison : analysis.comparisons) comparison.metric = "test/wer";
    QCustomPlot plot;
    plotSeedDifferences(plot, analysis, "test/wer", "early_stopping");
    const QString label = plot.yAxis->label();
    EXPECT_TRUE(label.startsWith(QString::fromUtf8("CE \u2212 square"))) << label.toStdString();
    EXPECT_TRUE(label.contains("test WER")) << label.toStdString();
    EXPECT_TRUE(label.contains("percentage points")) << label.toStdString();
}

TEST(SeedDifferencesFigure, ASeedWithoutResultIsLeftOutOfPointsAndMean) {
    LossAnalysis analysis = sampleAnalysis();
    analysis.comparisons[0].differences[2] = std::nan("");
    QCustomPlot plot;
    plotSeedDifferences(plot, analysis, "test/acc", "early_stopping");
    EXPECT_EQ(points(graph(plot, "seeds")).size(), 9u);
    auto rest = pairedDifferences("toy/alpha");
    rest.erase(rest.begin() + 2);
    EXPECT_NEAR(points(graph(plot, "mean"))[0].second, meanOf(rest) * 100.0, 1e-9);
    EXPECT_NEAR(errorBars(plot, "std")->data()->at(0).errorPlus, sampleStdOf(rest) * 100.0, 1e-9);
}

TEST(SeedDifferencesFigure, ZeroLineIsDrawnAndOnlySeedsAndMeanAreInTheLegend) {
    QCustomPlot plot;
    plotSeedDifferences(plot, sampleAnalysis(), "test/acc", "early_stopping");
    const auto zero = points(graph(plot, "zero"));
    ASSERT_EQ(zero.size(), 2u);
    EXPECT_EQ(zero[0].second, 0.0);
    EXPECT_EQ(zero[1].second, 0.0);
    EXPECT_LE(zero[0].first, plot.xAxis->range().lower);
    EXPECT_GE(zero[1].first, plot.xAxis->range().upper);
    EXPECT_EQ(legendTexts(plot), QStringList({"seeds", "mean"}));
}

// ---- Figure 2 ---------------------------------------------------------------------------

TEST(LearningCurvesFigure, MeanLineAndBandAreMeanAndMeanPlusMinusStdPerEpochInPercent) {
    const auto groups = sampleCurves("toy/alpha");
    QCustomPlot plot;
    plotLearningCurves(plot, groups, "validation accuracy (%)");
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto mean = points(graph(plot, QString("mean/%1").arg(i)));
        const auto lower = points(graph(plot, QString("band lower/%1").arg(i)));
        const auto upper = points(graph(plot, QString("band upper/%1").arg(i)));
        ASSERT_EQ(mean.size(), groups[i].epochs.size());
        ASSERT_EQ(lower.size(), groups[i].epochs.size());
        ASSERT_EQ(upper.size(), groups[i].epochs.size());
        for (std::size_t e = 0; e < groups[i].epochs.size(); ++e) {
            const double m = groups[i].mean[e], s = groups[i].std[e];
            EXPECT_EQ(mean[e].first, groups[i].epochs[e]);
            EXPECT_NEAR(mean[e].second, m * 100.0, 1e-9);
            if (std::isnan(s)) {
                EXPECT_TRUE(std::isnan(lower[e].second) && std::isnan(upper[e].second)) << "epoch " << e + 1;
            } else {
                EXPECT_NEAR(lower[e].second, (m - s) * 100.0, 1e-9);
                EXPECT_NEAR(upper[e].second, (m + s) * 100.0, 1e-9);
            }
        }
        QCPGraph* bandUpper = graph(plot, QString("band upper/%1").arg(i));
        EXPECT_EQ(bandUpper->channelFillGraph(), graph(plot, QString("band lower/%1").arg(i)));
        EXPECT_LT(bandUpper->brush().color().alpha(), 255);
        EXPECT_GT(bandUpper->brush().color().alpha(), 0);
    }
    // The CE group's epoch 5 has one seed: no band there.
    EXPECT_TRUE(std::isnan(groups[0].std[4]));
    EXPECT_EQ(plot.yAxis->label(), "validation accuracy (%)");
    EXPECT_EQ(plot.xAxis->label(), "epoch");
}

TEST(LearningCurvesFigure, EachSeedIsOneFaintThinLineWithItsValues) {
    const auto groups = sampleCurves("toy/alpha");
    QCustomPlot plot;
    plotLearningCurves(plot, groups, "");
    int seedGraphs = 0;
    for (int i = 0; i < plot.graphCount(); ++i)
        if (plot.graph(i)->objectName().startsWith("seed/")) ++seedGraphs;
    EXPECT_EQ(seedGraphs, 6);
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const QCPGraph* mean = graph(plot, QString("mean/%1").arg(i));
        for (const auto& [seed, curve] : groups[i].seeds) {
            QCPGraph* g = graph(plot, QString("seed/%1/%2").arg(i).arg(seed));
            ASSERT_NE(g, nullptr);
            const auto drawn = points(g);
            ASSERT_EQ(drawn.size(), curve.size());
            for (std::size_t e = 0; e < curve.size(); ++e) {
                EXPECT_EQ(drawn[e].first, curve[e].epoch);
                EXPECT_NEAR(drawn[e].second, curve[e].value * 100.0, 1e-9);
            }
            EXPECT_LT(g->pen().color().alpha(), 128);
            EXPECT_LT(g->pen().widthF(), mean->pen().widthF());
        }
    }
    // Without a label given, one is made from the metric, with its unit.
    EXPECT_EQ(plot.yAxis->label(), "validation accuracy (%)");
}

TEST(LearningCurvesFigure, LegendHoldsOnlyTheMeansColouredByLossStyledByProtocol) {
    auto groups = sampleCurves("toy/alpha");
    auto squareEarly = groups[1];
    squareEarly.key.protocol = "early_stopping";
    auto squareFixed = groups[1];
    squareFixed.key.protocol = "fixed_epochs";
    groups.push_back(squareEarly);
    groups.push_back(squareFixed);
    QCustomPlot plot;
    plotLearningCurves(plot, groups, "");
    EXPECT_EQ(legendTexts(plot), QStringList({"mean/0", "mean/1", "mean/2", "mean/3"}));

    const QColor ce = graph(plot, "mean/0")->pen().color();
    const QColor square = graph(plot, "mean/1")->pen().color();
    EXPECT_GT(ce.blue(), ce.red()) << "cross-entropy is drawn in blues";
    EXPECT_GT(square.red(), square.blue()) << "the square loss is drawn in warm colours";
    // Same loss variant, other protocol: same hue (a lighter or darker shade), other line style.
    const QColor earlyColour = graph(plot, "mean/2")->pen().color();
    for (const char* other : {"mean/1", "mean/3"}) {
        EXPECT_EQ(graph(plot, other)->pen().color().hue(), earlyColour.hue()) << other;
        EXPECT_NE(graph(plot, other)->pen().color(), earlyColour) << other;
    }
    EXPECT_EQ(graph(plot, "mean/0")->pen().style(), Qt::SolidLine);
    EXPECT_EQ(graph(plot, "mean/1")->pen().style(), Qt::DashLine);
    EXPECT_EQ(graph(plot, "mean/2")->pen().style(), Qt::SolidLine);
    EXPECT_EQ(graph(plot, "mean/3")->pen().style(), Qt::DotLine);
    EXPECT_TRUE(graph(plot, "mean/1")->name().contains("same epochs as CE"));
}

TEST(LearningCurvesFigure, SquareLossVariantsGetDistinctColoursAndNamedDifferences) {
    auto groups = sampleCurves("toy/alpha");
    auto rescaled = groups[1];
    rescaled.key.k = 15.0;
    rescaled.key.M = 30.0;
    groups.push_back(rescaled);
    QCustomPlot plot;
    plotLearningCurves(plot, groups, "");
    const QColor first = graph(plot, "mean/1")->pen().color();
    const QColor second = graph(plot, "mean/2")->pen().color();
    EXPECT_NE(first, second);
    EXPECT_TRUE(graph(plot, "mean/2")->name().contains("k=15, M=30")) << graph(plot, "mean/2")->name().toStdString();
    EXPECT_FALSE(graph(plot, "mean/0")->name().contains("k=")) << "CE has one variant only";
}

// ---- Figure 3 ---------------------------------------------------------------------------

TEST(SeedSpreadFigure, EachLossSeedsArePointsInPercentSquareLeftCeRight) {
    QCustomPlot plot;
    plotSeedSpread(plot, sampleAnalysis(), "test/acc", "early_stopping");
    const std::vector<std::string> tasks = {"toy/alpha", "toy/beta"};
    for (std::size_t u = 0; u < tasks.size(); ++u) {
        for (const auto& [role, slot, values] :
             {std::make_tuple(QString("square"), 0.0, kSquareAcc.at(tasks[u])),
              std::make_tuple(QString("ce"), 1.0, kCeAcc.at(tasks[u]))}) {
            const auto drawn = points(graph(plot, QString("%1 seeds/%2").arg(role).arg(u)));
            ASSERT_EQ(drawn.size(), values.size()) << role.toStdString();
            for (std::size_t j = 0; j < values.size(); ++j) {
                EXPECT_NEAR(drawn[j].first, slot + kSeedOffset + seedJitter(int(j), 5), kEps);
                EXPECT_NEAR(drawn[j].second, values[j] * 100.0, 1e-9);
            }
        }
    }
}

TEST(SeedSpreadFigure, MeanMarkerAndErrorBarPerLossAreMeanAndStdInPercent) {
    QCustomPlot plot;
    plotSeedSpread(plot, sampleAnalysis(), "test/acc", "early_stopping");
    const std::vector<std::string> tasks = {"toy/alpha", "toy/beta"};
    for (std::size_t u = 0; u < tasks.size(); ++u) {
        for (const auto& [role, slot, values] :
             {std::make_tuple(QString("square"), 0.0, kSquareAcc.at(tasks[u])),
              std::make_tuple(QString("ce"), 1.0, kCeAcc.at(tasks[u]))}) {
            const auto mean = points(graph(plot, QString("%1 mean/%2").arg(role).arg(u)));
            ASSERT_EQ(mean.size(), 1u);
            EXPECT_NEAR(mean[0].first, slot + kMeanOffset, kEps);
            EXPECT_NEAR(mean[0].second, meanOf(values) * 100.0, 1e-9);
            QCPErrorBars* bars = errorBars(plot, QString("%1 std/%2").arg(role).arg(u));
            ASSERT_NE(bars, nullptr);
            EXPECT_EQ(bars->dataPlottable(), findPlottable(plot, QString("%1 mean/%2").arg(role).arg(u)));
            EXPECT_NEAR(bars->data()->at(0).errorPlus, sampleStdOf(values) * 100.0, 1e-9);
        }
    }
}

TEST(SeedSpreadFigure, OnePanelPerTaskNamedAfterItWithItsOwnRangeAndUnit) {
    QCustomPlot plot;
    plotSeedSpread(plot, sampleAnalysis(), "test/acc", "early_stopping");
    const auto rects = plot.axisRects();
    ASSERT_EQ(rects.size(), 2);
    EXPECT_EQ(rects[0]->axis(QCPAxis::atBottom)->label(), "toy/alpha");
    EXPECT_EQ(rects[1]->axis(QCPAxis::atBottom)->label(), "toy/beta");
    // One y-axis title for all panels.
    QCPItemText* yTitle = nullptr;
    for (int i = 0; i < plot.itemCount(); ++i)
        if (plot.item(i)->objectName() == "y label") yTitle = qobject_cast<QCPItemText*>(plot.item(i));
    ASSERT_NE(yTitle, nullptr);
    EXPECT_EQ(yTitle->text(), "test accuracy (%)");
    // alpha lies around 91 %, beta around 75 %: each panel shows its own task's values.
    EXPECT_TRUE(rects[0]->axis(QCPAxis::atLeft)->range().contains(92.1));
    EXPECT_FALSE(rects[0]->axis(QCPAxis::atLeft)->range().contains(77.0));
    EXPECT_TRUE(rects[1]->axis(QCPAxis::atLeft)->range().contains(74.0));
    EXPECT_EQ(legendTexts(plot), QStringList({"square seeds/0", "ce seeds/0", "square mean/0"}));
}

TEST(SeedSpreadFigure, ATaskWithOnlyOneLossShowsThatLoss) {
    LossAnalysis analysis = sampleAnalysis();
    analysis.comparisons.clear();
    analysis.groups.erase(std::remove_if(analysis.groups.begin(), analysis.groups.end(),
                                         [](const LossGroup& g) { return g.key.loss == "square"; }),
                          analysis.groups.end());
    QCustomPlot plot;
    plotSeedSpread(plot, analysis, "test/acc", "early_stopping");
    EXPECT_EQ(findPlottable(plot, "square seeds/0"), nullptr);
    EXPECT_EQ(points(graph(plot, "ce seeds/0")).size(), 5u);
    EXPECT_EQ(points(graph(plot, "ce seeds/1")).size(), 5u);
}

// ---- shared -----------------------------------------------------------------------------

TEST(Figures, DrawingAgainReplacesThePreviousFigure) {
    QCustomPlot plot;
    plotSeedSpread(plot, sampleAnalysis(), "test/acc", "early_stopping");
    plotSeedDifferences(plot, sampleAnalysis(), "test/acc", "early_stopping");
    EXPECT_EQ(plot.axisRects().size(), 1);
    EXPECT_EQ(plot.plottableCount(), 4); // seeds, mean, std, zero
    EXPECT_EQ(findPlottable(plot, "square seeds/0"), nullptr);
    plotLearningCurves(plot, sampleCurves("toy/alpha"), "");
    EXPECT_EQ(findPlottable(plot, "seeds"), nullptr);
    EXPECT_EQ(plot.legend->itemCount(), 2);
}

TEST(Figures, MetricUnitsAndNames) {
    EXPECT_TRUE(isPercentMetric("test/acc"));
    EXPECT_TRUE(isPercentMetric("val/error"));
    EXPECT_TRUE(isPercentMetric("f1"));
    EXPECT_FALSE(isPercentMetric("test/loss"));
    EXPECT_FALSE(isPercentMetric("test/brier"));
    EXPECT_EQ(metricDisplayName("val/acc"), "validation accuracy");
    EXPECT_EQ(metricDisplayName("test/top5"), "test top-5 accuracy");
    EXPECT_EQ(metricDisplayName("test/error"), "test error");
    EXPECT_EQ(seedJitter(0, 1), 0.0);
    EXPECT_DOUBLE_EQ(seedJitter(0, 5), -kSeedJitterHalfWidth);
    EXPECT_DOUBLE_EQ(seedJitter(4, 5), kSeedJitterHalfWidth);
}

// ---- recipes ----------------------------------------------------------------------------

namespace {

// One task trained with two recipes (model.hidden [16] and [256]), analysed by analyzeRuns
// from runs that carry their stored YAML: CE and square loss, seeds 0 and 1 each.
LossAnalysis twoRecipeAnalysis(std::vector<RunRecord>* records = nullptr) {
    std::vector<RunResult> runs;
    std::int64_t id = 0;
    for (const std::string hidden : {"[16]", "[256]"})
        for (const std::string loss : {"ce", "square"})
            for (std::int64_t seed = 0; seed < 2; ++seed) {
                RunResult r;
                r.run.id = ++id;
                r.run.taskId = "toy/mlp";
                r.run.lossName = loss;
                r.run.loss = loss;
                r.run.lr = 0.1;
                r.run.protocol = "early_stopping";
                r.run.seed = seed;
                r.run.status = RunStatus::Completed;
                r.run.specYaml = "task: toy/mlp\nseed: " + std::to_string(seed) + "\nloss: {name: " + loss +
                                 ", loss: " + loss + ", lr: 0.1}\nprotocol: early_stopping\nmodel:\n  hidden: " +
                                 hidden + "\n";
                r.reported["test/acc"] = (hidden == "[16]" ? 0.8 : 0.9) + 0.01 * double(seed) + (loss == "square" ? 0.005 : 0.0);
                if (records) records->push_back(r.run);
                runs.push_back(r);
            }
    return analyzeRuns(runs, {{"toy/mlp", TaskMeta{"vision", 10, ""}}});
}

} // namespace

TEST(RecipeFigures, EachRecipeHasItsOwnSlotPanelAndCurveNamedByItsLabel) {
    std::vector<RunRecord> records;
    const LossAnalysis analysis = twoRecipeAnalysis(&records);

    QCustomPlot fig1;
    plotSeedDifferences(fig1, analysis, "test/acc", "early_stopping");
    const auto ticks = tickLabels(fig1.xAxis);
    ASSERT_EQ(ticks.size(), 2);
    EXPECT_EQ(ticks.value(0.0), "toy/mlp (hidden [16])");
    EXPECT_EQ(ticks.value(1.0), "toy/mlp (hidden [256])");
    // Two seeds per slot, each difference 0.5 points: nothing paired across recipes.
    const auto drawn = points(graph(fig1, "seeds"));
    ASSERT_EQ(drawn.size(), 4u);
    for (const auto& point : drawn) EXPECT_NEAR(point.second, 0.5, 1e-9);

    QCustomPlot fig3;
    plotSeedSpread(fig3, analysis, "test/acc", "early_stopping");
    const auto rects = fig3.axisRects();
    ASSERT_EQ(rects.size(), 2);
    EXPECT_TRUE(rects[0]->axis(QCPAxis::atBottom)->label().endsWith("hidden [16]"))
        << rects[0]->axis(QCPAxis::atBottom)->label().toStdString();
    EXPECT_TRUE(rects[1]->axis(QCPAxis::atBottom)->label().endsWith("hidden [256]"))
        << rects[1]->axis(QCPAxis::atBottom)->label().toStdString();
    EXPECT_EQ(points(graph(fig3, "ce seeds/1")).size(), 2u);

    std::vector<EpochMetricRow> rows;
    for (const RunRecord& r : records) rows.push_back({r.id, 1, {"val", "acc", 0.5}});
    const std::vector<CurveGroup> curves = buildCurves(records, rows, "val/acc");
    ASSERT_EQ(curves.size(), 4u);
    QCustomPlot fig2;
    plotLearningCurves(fig2, curves, "");
    QStringList names;
    for (int i = 0; i < 4; ++i) names << graph(fig2, QString("mean/%1").arg(i))->name();
    EXPECT_EQ(names, QStringList({"CE (hidden [16]), early stopping", "square (hidden [16]), early stopping",
                                  "CE (hidden [256]), early stopping", "square (hidden [256]), early stopping"}));
    EXPECT_NE(graph(fig2, "mean/0")->pen().color(), graph(fig2, "mean/2")->pen().color());
}

// ---- Reliability diagrams ----------------------------------------------------------------

TEST(ReliabilityFigure, PointsAreAccuracyAgainstConfidenceAndSharesOfTheNonEmptyBins) {
    const auto all = sampleReliability();
    const std::vector<ReliabilityGroup> groups(all.begin(), all.begin() + 2);
    QCustomPlot plot;
    plotReliability(plot, groups);
    for (std::size_t i = 0; i < groups.size(); ++i) {
        std::vector<std::pair<double, double>> reliability, share;
        for (const ReliabilityBin& bin : groups[i].bins) {
            if (bin.count == 0) continue;
            reliability.emplace_back(bin.confidence, bin.accuracy);
            share.emplace_back((bin.lower + bin.upper) / 2, 100.0 * bin.count / groups[i].examples);
        }
        const auto drawn = points(graph(plot, QString("reliability/%1").arg(i)));
        const auto drawnShare = points(graph(plot, QString("share/%1").arg(i)));
        ASSERT_EQ(drawn.size(), reliability.size()) << i;
        ASSERT_EQ(drawnShare.size(), share.size()) << i;
        for (std::size_t j = 0; j < drawn.size(); ++j) {
            EXPECT_NEAR(drawn[j].first, reliability[j].first, kEps) << i << "/" << j;
            EXPECT_NEAR(drawn[j].second, reliability[j].second, kEps) << i << "/" << j;
            EXPECT_NEAR(drawnShare[j].first, share[j].first, kEps) << i << "/" << j;
            EXPECT_NEAR(drawnShare[j].second, share[j].second, kEps) << i << "/" << j;
        }
    }
    // Bin 14 of the CE group: 960 of 1000 examples -> 96 %.
    EXPECT_NEAR(points(graph(plot, "share/0")).back().second, 96.0, kEps);
    EXPECT_EQ(points(graph(plot, "diagonal")), (std::vector<std::pair<double, double>>{{0.0, 0.0}, {1.0, 1.0}}));
    // Two panels: the diagram above, the shares below on a log scale.
    ASSERT_EQ(plot.axisRects().size(), 2);
    EXPECT_EQ(graph(plot, "share/0")->valueAxis()->scaleType(), QCPAxis::stLogarithmic);
    EXPECT_EQ(graph(plot, "reliability/0")->valueAxis()->range(), QCPRange(0.0, 1.0));
}

TEST(ReliabilityFigure, LegendNamesEachGroupWithItsEceColouredAsTheOtherFigures) {
    auto groups = sampleReliability();
    groups[2].key.taskId = "toy/alpha"; // one seed: the ECE without a std
    groups[2].key.lr = 0.05;            // a second CE variant: the legend names the lr
    QCustomPlot plot;
    plotReliability(plot, groups);
    EXPECT_EQ(legendTexts(plot), QStringList({"reliability/0", "reliability/1", "reliability/2"}));
    EXPECT_EQ(graph(plot, "reliability/0")->name(), QString::fromUtf8("CE (lr=0.1), early stopping: ECE 0.021 \u00b1 0.004"));
    EXPECT_TRUE(graph(plot, "reliability/1")->name().startsWith("square, early stopping: ECE 0.038"))
        << graph(plot, "reliability/1")->name().toStdString();
    EXPECT_TRUE(graph(plot, "reliability/2")->name().endsWith("ECE 0.050")) << graph(plot, "reliability/2")->name().toStdString();
    const QColor ce = graph(plot, "reliability/0")->pen().color();
    const QColor square = graph(plot, "reliability/1")->pen().color();
    EXPECT_GT(ce.blue(), ce.red());
    EXPECT_GT(square.red(), square.blue());
    EXPECT_EQ(graph(plot, "share/1")->pen().color(), square);
}

namespace {

// A reliability group of toy/spirals with the bins of the example plugin's spirals runs.
ReliabilityGroup spiralsGroup(const std::string& loss, const std::string& lossName, const std::string& protocol,
                              double lr, double k, double M, double eceMean, double eceStd) {
    const std::map<int, double> counts = {{5, 50}, {6, 40}, {7, 10}}, accuracies = {{5, 0.3}, {6, 0.5}, {7, 0.9}};
    ReliabilityGroup group = makeReliabilityGroup(makeKey("toy/spirals", loss, protocol, lr, k, M), counts, accuracies,
                                                  eceMean, eceStd, 3);
    group.key.lossName = lossName;
    return group;
}

// Each reliability legend entry's text after applyColumnStyle at `width` points, and the
// entries before it.
QStringList styledNames(QCustomPlot& plot, const std::vector<ReliabilityGroup>& groups, int width, QStringList& before) {
    plotReliability(plot, groups);
    for (std::size_t i = 0; i < groups.size(); ++i) before << graph(plot, QString("reliability/%1").arg(i))->name();
    applyColumnStyle(plot, width);
    QStringList after;
    for (std::size_t i = 0; i < groups.size(); ++i) after << graph(plot, QString("reliability/%1").arg(i))->name();
    return after;
}

} // namespace

// At column width (252 points: a 1050 px figure at 300 dpi) a legend entry with a learning
// rate or a rescaled square loss in its name was wider than the figure, and its
// "ECE 0.139 ± 0.007" was cut at the right edge ("ECE 0.0", or nothing). A few such
// entries now continue on a second line, broken after ", " or ": ", so the ECE is whole.
TEST(ReliabilityFigure, LegendEntriesTooWideForTheColumnBreakSoThatTheEceIsNotCut) {
    const std::vector<ReliabilityGroup> groups = {
        spiralsGroup("ce", "ce", "early_stopping", 0.05, 1, 1, 0.0442, 0.0144),
        spiralsGroup("square", "square", "early_stopping", 0.05, 1, 1, 0.2626, 0.0331),
        spiralsGroup("square", "square_k5_M10", "early_stopping", 0.005, 5, 10, 0.1387, 0.0065)};
    const int width = 252;
    QCustomPlot plot;
    QStringList before;
    const QStringList after = styledNames(plot, groups, width, before);
    EXPECT_LE(plot.legend->minimumOuterSizeHint().width(), width);
    for (int i = 0; i < after.size(); ++i) {
        // The same words, only line breaks where there were spaces after ',' or ':'.
        EXPECT_EQ(QString(after[i]).replace(QLatin1Char('\n'), QLatin1Char(' ')), before[i]) << after[i].toStdString();
        if (after[i].contains(QLatin1Char('\n'))) {
            EXPECT_TRUE(after[i].split(QLatin1Char('\n')).last().startsWith(QStringLiteral("ECE "))) << after[i].toStdString();
        }
    }
    EXPECT_TRUE(after[2].contains(QLatin1Char('\n'))) << "the widest entry is not broken";
    // A legend that fits keeps its entries on one line.
    QCustomPlot narrow;
    QStringList sample;
    EXPECT_EQ(styledNames(narrow, sampleReliability(), width, sample), sample);
}

// Five such entries (CE, two square losses, two protocols) broken into lines would take half
// the figure and squeeze the panels flat: each keeps one line, its name shortened in the
// middle, and still ends with its whole ECE.
TEST(ReliabilityFigure, ManyWideLegendEntriesKeepOneLineEachWithTheirWholeEce) {
    std::vector<ReliabilityGroup> groups = {spiralsGroup("ce", "ce", "early_stopping", 0.005, 1, 1, 0.0938, 0.027)};
    for (const char* protocol : {"early_stopping", "same_epochs_as_ce"}) {
        groups.push_back(spiralsGroup("square", "square", protocol, 0.005, 1, 1, 0.1356, 0.0257));
        groups.push_back(spiralsGroup("square", "square_k3_M4", protocol, 0.005, 3, 4, 0.0590, 0.0384));
    }
    const int width = 252;
    QCustomPlot plot;
    QStringList before;
    const QStringList after = styledNames(plot, groups, width, before);
    EXPECT_LE(plot.legend->minimumOuterSizeHint().width(), width);
    for (int i = 0; i < after.size(); ++i) {
        EXPECT_FALSE(after[i].contains(QLatin1Char('\n'))) << after[i].toStdString();
        const QString ece = before[i].mid(before[i].lastIndexOf(QStringLiteral(": ")));
        EXPECT_TRUE(after[i].endsWith(ece)) << after[i].toStdString() << " should end with " << ece.toStdString();
    }
    EXPECT_EQ(after[0], before[0]); // "CE, early stopping: ECE ..." fits as it is
    EXPECT_TRUE(after[4].contains(QChar(0x2026))) << after[4].toStdString();
}

int main(int argc, char** argv) {
    // Also when ctest's environment is not in effect (test discovery at build time).
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication application(argc, argv);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
