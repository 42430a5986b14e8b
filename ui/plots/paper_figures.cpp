#include "paper_figures.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <QFontMetrics>
#include <QLocale>
#include <qcustomplot.h>

#include "losslab/analysis/seed_stats.h"

namespace losslab {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Okabe-Ito based palette: cross-entropy in blues, square loss in warm colours / purple, so
// that the two losses stay apart for colour-blind readers and in greyscale (dark vs light).
const QColor kCeColours[] = {QColor(0x00, 0x72, 0xB2), QColor(0x56, 0xB4, 0xE9), QColor(0x1F, 0x3A, 0x5F)};
const QColor kSquareColours[] = {QColor(0xD5, 0x5E, 0x00), QColor(0xCC, 0x79, 0xA7), QColor(0xE6, 0x9F, 0x00),
                                 QColor(0x8C, 0x2D, 0x04)};
const QColor kSeedDifferenceColour(0x00, 0x9E, 0x73); // Figure 1: neither loss, a difference

// Print sizes (applyColumnStyle). At 3.5 x 2.33 inches, 8 / 9 pt leave Figure 1 with six
// rotated task names about 70 pt of plot height and push its three-line axis title into
// the legend; 7 / 8 pt read well and stay at or above the usual 7 pt minimum for figures.
constexpr int kTickPoints = 7;  // tick labels, legend, task names under Figure 3's panels
constexpr int kTitlePoints = 8; // axis titles

QString toQ(const std::string& text) { return QString::fromStdString(text); }

std::string baseMetric(const std::string& metric) {
    const auto slash = metric.rfind('/');
    return slash == std::string::npos ? metric : metric.substr(slash + 1);
}

// Mirrors core's lowerIsBetter() (loss_comparison.h): the sign convention of the
// differences, needed here only for the axis title.
// The analysis's rule (error rates of speech tasks included): one place decides.
bool lowerBetter(const std::string& metric) { return lowerIsBetter(metric); }

double metricScale(const std::string& metric) { return isPercentMetric(metric) ? 100.0 : 1.0; }

QString numberText(double value) { return QString::number(value, 'g', 4); }

bool sameKey(const LossGroupKey& a, const LossGroupKey& b) { return a == b; }

// The same loss (name, k, M, lr) trained with the same recipe.
bool sameVariant(const LossGroupKey& a, const LossGroupKey& b) {
    return a.recipe == b.recipe && a.lossName == b.lossName && a.loss == b.loss && a.k == b.k && a.M == b.M && a.lr == b.lr;
}

QString lossText(const LossGroupKey& key) { return key.loss == "ce" ? QStringLiteral("CE") : QStringLiteral("square"); }

QString protocolText(const std::string& protocol) {
    if (protocol == "early_stopping") return QStringLiteral("early stopping");
    if (protocol == "same_epochs_as_ce") return QStringLiteral("same epochs as CE");
    if (protocol == "fixed_epochs") return QStringLiteral("fixed epochs");
    return toQ(protocol);
}

// The same loss variant under another protocol keeps its hue, a little lighter (same epochs
// as CE) or darker (fixed epochs), so that overlapping curves stay apart.
QColor protocolTint(const QColor& colour, const std::string& protocol) {
    if (protocol == "same_epochs_as_ce") return colour.lighter(135);
    if (protocol == "fixed_epochs") return colour.darker(135);
    return colour;
}

Qt::PenStyle protocolPenStyle(const std::string& protocol) {
    if (protocol == "early_stopping") return Qt::SolidLine;
    if (protocol == "same_epochs_as_ce") return Qt::DashLine;
    if (protocol == "fixed_epochs") return Qt::DotLine;
    return Qt::DashDotLine;
}

// What tells `key` apart from the other variants in `others` (same loss kind): its recipe
// label when the task has several recipes ("hidden [16]"), then only the loss fields that
// differ, e.g. "lr=0.3" or "k=15, M=30". Empty when nothing differs.
QString variantText(const LossGroupKey& key, const std::vector<LossGroupKey>& others) {
    bool name = false, k = false, m = false, lr = false;
    for (const auto& other : others) {
        if (other.loss != key.loss) continue;
        name = name || other.lossName != key.lossName;
        k = k || other.k != key.k;
        m = m || other.M != key.M;
        lr = lr || other.lr != key.lr;
    }
    QStringList parts;
    if (!key.recipeLabel.empty()) parts << toQ(key.recipeLabel);
    if (name && !key.lossName.empty()) parts << toQ(key.lossName);
    if (k) parts << QStringLiteral("k=") + numberText(key.k);
    if (m) parts << QStringLiteral("M=") + numberText(key.M);
    if (lr) parts << QStringLiteral("lr=") + numberText(key.lr);
    return parts.join(QStringLiteral(", "));
}

// One colour per group: per loss kind one hue per variant (name, k, M, lr, recipe) in order
// of first appearance, tinted by protocol (protocolTint).
std::vector<QColor> groupColours(const std::vector<LossGroupKey>& keys) {
    std::vector<LossGroupKey> ceVariants, squareVariants;
    std::vector<QColor> colours;
    for (const LossGroupKey& key : keys) {
        auto& variants = key.loss == "ce" ? ceVariants : squareVariants;
        auto it = std::find_if(variants.begin(), variants.end(), [&](const LossGroupKey& v) { return sameVariant(v, key); });
        const std::size_t index = std::size_t(it - variants.begin());
        if (it == variants.end()) variants.push_back(key);
        const QColor colour = key.loss == "ce" ? kCeColours[index % std::size(kCeColours)]
                                               : kSquareColours[index % std::size(kSquareColours)];
        colours.push_back(protocolTint(colour, key.protocol));
    }
    return colours;
}

// "square (k=15, M=30), early stopping": the loss, what tells it apart from the other groups
// in `keys`, and the protocol.
QString groupLegendName(const LossGroupKey& key, const std::vector<LossGroupKey>& keys) {
    QString name = lossText(key);
    const QString variant = variantText(key, keys);
    if (!variant.isEmpty()) name += QStringLiteral(" (") + variant + QLatin1Char(')');
    return name + QStringLiteral(", ") + protocolText(key.protocol);
}

// Long task ids are shortened: for "dataset/model" the dataset part first (the model tells
// tasks of one dataset apart), else in the middle.
QString shortTaskLabel(const std::string& taskId, int maxChars = 18) {
    const QString text = toQ(taskId);
    if (text.size() <= maxChars) return text;
    const QChar ellipsis(0x2026);
    const int slash = int(text.lastIndexOf(QLatin1Char('/')));
    if (slash > 0) {
        const QString model = text.mid(slash); // with the '/'
        const int datasetChars = maxChars - int(model.size()) - 1;
        if (datasetChars >= 3) return text.left(datasetChars) + ellipsis + model;
    }
    const int keep = maxChars - 1;
    return text.left(keep / 2) + ellipsis + text.right(keep - keep / 2);
}

QCPScatterStyle meanBarStyle() {
    // A horizontal bar (the classic dot-plot mean marker); the path lives in a 6-unit box
    // that QCPScatterStyle scales to `size`.
    QPainterPath bar;
    bar.moveTo(-3.0, 0.0);
    bar.lineTo(3.0, 0.0);
    return QCPScatterStyle(bar, QPen(Qt::black, 0.9), Qt::NoBrush, 10.0);
}

QCPScatterStyle seedPointStyle(const QColor& colour) {
    QColor fill = colour;
    fill.setAlpha(110);
    return QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(colour, 0.8), QBrush(fill), 4.5);
}

void removeMarginGroups(QCustomPlot& plot) {
    const auto groups = plot.findChildren<QCPMarginGroup*>(QString(), Qt::FindDirectChildrenOnly);
    for (QCPMarginGroup* group : groups) delete group;
}

QCPLegend* addLegendRow(QCustomPlot& plot, int columns) {
    auto* legend = new QCPLegend;
    plot.plotLayout()->addElement(0, 0, legend);
    legend->setLayer(QStringLiteral("legend"));
    legend->setVisible(true);
    legend->setBorderPen(Qt::NoPen);
    legend->setBrush(Qt::NoBrush);
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    legend->setWrap(columns);
    plot.plotLayout()->setRowStretchFactor(0, 0.001);
    plot.legend = legend;
    return legend;
}

void useAxisRect(QCustomPlot& plot, QCPAxisRect* rect) {
    plot.xAxis = rect->axis(QCPAxis::atBottom);
    plot.yAxis = rect->axis(QCPAxis::atLeft);
    plot.xAxis2 = rect->axis(QCPAxis::atTop);
    plot.yAxis2 = rect->axis(QCPAxis::atRight);
}

// Empties the plot and builds the layout every figure shares: row 0 a legend above the
// data (so it never covers a point), row 1 one axis rect (unless the caller builds panels).
QCPAxisRect* resetPlot(QCustomPlot& plot, int legendColumns, bool withAxisRect = true) {
    plot.clearPlottables();
    plot.clearItems();
    removeMarginGroups(plot);
    plot.plotLayout()->clear();
    plot.plotLayout()->simplify();
    addLegendRow(plot, legendColumns);
    if (!withAxisRect) return nullptr;
    auto* rect = new QCPAxisRect(&plot, true);
    plot.plotLayout()->addElement(1, 0, rect);
    plot.plotLayout()->setRowStretchFactor(1, 1.0);
    useAxisRect(plot, rect);
    return rect;
}

QCPGraph* addGraph(QCustomPlot& plot, QCPAxisRect* rect, const QString& objectName, const QString& legendName,
                   bool inLegend) {
    QCPGraph* graph = plot.addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    graph->setObjectName(objectName);
    graph->setName(legendName);
    graph->removeFromLegend();
    if (inLegend && plot.legend) graph->addToLegend(plot.legend);
    return graph;
}

QCPGraph* addScatterGraph(QCustomPlot& plot, QCPAxisRect* rect, const QString& objectName, const QString& legendName,
                          bool inLegend, const QCPScatterStyle& style) {
    QCPGraph* graph = addGraph(plot, rect, objectName, legendName, inLegend);
    graph->setLineStyle(QCPGraph::lsNone);
    graph->setScatterStyle(style);
    return graph;
}

QCPErrorBars* addErrorBars(QCPAxisRect* rect, QCPGraph* on, const QString& objectName,
                           const QVector<double>& errors) {
    auto* bars = new QCPErrorBars(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
    bars->setObjectName(objectName);
    bars->setName(QStringLiteral("1 std"));
    bars->removeFromLegend();
    bars->setDataPlottable(on);
    bars->setData(errors);
    bars->setPen(QPen(Qt::black, 0.9));
    bars->setWhiskerWidth(5.0);
    bars->setSymbolGap(0.0); // the bar runs through the mean marker
    return bars;
}

// Range of finite values, widened by `pad` of its span (or by 1 when all are equal).
struct ValueRange {
    double low = std::numeric_limits<double>::infinity();
    double high = -std::numeric_limits<double>::infinity();
    void add(double value) {
        if (!std::isfinite(value)) return;
        low = std::min(low, value);
        high = std::max(high, value);
    }
    bool empty() const { return low > high; }
    QCPRange padded(double pad) const {
        if (empty()) return QCPRange(0.0, 1.0);
        const double span = high - low;
        const double margin = span > 0.0 ? span * pad : std::max(std::abs(high) * 0.01, 0.5);
        return QCPRange(low - margin, high + margin);
    }
};

void setCategoryTicks(QCPAxis* axis, const QVector<double>& positions, const QVector<QString>& labels) {
    QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
    ticker->setTicks(positions, labels);
    ticker->setSubTickCount(0);
    axis->setTicker(ticker);
    axis->grid()->setVisible(false);
    // Rotate when the labels would not fit side by side at column width: about 45
    // characters of 7 pt text fit across one column.
    int chars = 0;
    for (const QString& label : labels) {
        int longest = 0;
        for (const QString& line : label.split(QLatin1Char('\n'))) longest = std::max(longest, int(line.size()));
        chars += longest + 2;
    }
    // Negative angles end each label at its tick, so the last one does not run off the right.
    axis->setTickLabelRotation(chars > 45 ? -40.0 : 0.0);
}

struct SeedSeries {
    std::vector<double> values; // scaled, in seed order
    SeedStats stats;            // of the scaled values
};

SeedSeries seedSeries(const std::map<std::int64_t, double>& bySeed, double scale) {
    SeedSeries series;
    for (const auto& [seed, value] : bySeed) series.values.push_back(value * scale);
    series.stats = seedStats(series.values);
    return series;
}

double errorOf(const SeedStats& stats) { return std::isfinite(stats.std) ? stats.std : 0.0; }

} // namespace

double seedJitter(int index, int count) {
    if (count <= 1) return 0.0;
    return -kSeedJitterHalfWidth + 2.0 * kSeedJitterHalfWidth * index / double(count - 1);
}

bool isPercentMetric(const std::string& metric) {
    const std::string base = baseMetric(metric);
    return base == "acc" || base == "error" || base == "top5" || base == "f1" || isErrorRate(base);
}

std::string metricDisplayName(const std::string& metric) {
    const auto slash = metric.rfind('/');
    std::string split = slash == std::string::npos ? std::string() : metric.substr(0, slash);
    const std::string base = baseMetric(metric);
    if (split == "val") split = "validation";
    if (split == "train") split = "training";
    std::string name = base;
    if (base == "acc") name = "accuracy";
    else if (base == "top5") name = "top-5 accuracy";
    else if (base == "f1") name = "F1";
    else if (base == "ece") name = "ECE";
    else if (base == "brier") name = "Brier score";
    else if (isErrorRate(base)) name = base == "wer" ? "WER" : base == "per" ? "PER" : "CER";
    return split.empty() ? name : split + " " + name;
}

QCPAbstractPlottable* findPlottable(const QCustomPlot& plot, const QString& objectName) {
    auto& mutablePlot = const_cast<QCustomPlot&>(plot); // QCustomPlot::plottable() is not const
    for (int i = 0; i < plot.plottableCount(); ++i) {
        QCPAbstractPlottable* plottable = mutablePlot.plottable(i);
        if (plottable->objectName() == objectName) return plottable;
    }
    return nullptr;
}

void plotSeedDifferences(QCustomPlot& plot, const LossAnalysis& analysis, const std::string& metric,
                         const std::string& squareProtocol) {
    QCPAxisRect* rect = resetPlot(plot, 2);

    // Slots in the order of analysis.taskIds (tasks missing there go last, in their order).
    std::vector<const SeedComparison*> chosen;
    auto taskRank = [&](const std::string& task) {
        const auto it = std::find(analysis.taskIds.begin(), analysis.taskIds.end(), task);
        return int(it - analysis.taskIds.begin());
    };
    for (const auto& comparison : analysis.comparisons)
        if (comparison.metric == metric && comparison.square.protocol == squareProtocol) chosen.push_back(&comparison);
    std::stable_sort(chosen.begin(), chosen.end(), [&](const SeedComparison* a, const SeedComparison* b) {
        return taskRank(a->taskId) < taskRank(b->taskId);
    });

    const double scale = metricScale(metric);
    QCPGraph* seeds = addScatterGraph(plot, rect, QStringLiteral("seeds"), QStringLiteral("per-seed difference"), true,
                                      seedPointStyle(kSeedDifferenceColour));
    QCPGraph* means = addScatterGraph(plot, rect, QStringLiteral("mean"), QStringLiteral("mean \u00b1 1 std"), true,
                                      meanBarStyle());
    QVector<double> errors;
    QVector<double> tickPositions;
    QVector<QString> tickLabels;
    ValueRange range;
    range.add(0.0);
    for (std::size_t s = 0; s < chosen.size(); ++s) {
        const SeedComparison& comparison = *chosen[s];
        std::vector<double> scaled;
        const int n = int(comparison.differences.size());
        for (int j = 0; j < n; ++j) {
            const double value = comparison.differences[j] * scale;
            scaled.push_back(value);
            if (!std::isfinite(value)) continue; // a seed without a result: nothing to draw
            seeds->addData(double(s) + kSeedOffset + seedJitter(j, n), value);
            range.add(value);
        }
        const SeedStats stats = seedStats(scaled);
        means->addData(double(s) + kMeanOffset, stats.n > 0 ? stats.mean : kNaN);
        errors << errorOf(stats);
        range.add(stats.mean - errorOf(stats));
        range.add(stats.mean + errorOf(stats));

        QString label = shortTaskLabel(comparison.taskId, 18);
        std::vector<LossGroupKey> sameTask;
        for (const SeedComparison* other : chosen)
            if (other->taskId == comparison.taskId) sameTask.push_back(other->square);
        if (sameTask.size() > 1 || !comparison.square.recipeLabel.empty()) {
            const QString variant = variantText(comparison.square, sameTask);
            if (!variant.isEmpty()) label += QStringLiteral(" (") + variant + QLatin1Char(')');
        }
        tickPositions << double(s);
        tickLabels << label;
    }
    addErrorBars(rect, means, QStringLiteral("std"), errors);

    const double right = std::max<double>(1.0, double(chosen.size()));
    QCPGraph* zero = addGraph(plot, rect, QStringLiteral("zero"), QStringLiteral("no difference"), false);
    zero->setData(QVector<double>{-1.0, right + 1.0}, QVector<double>{0.0, 0.0});
    // Solid, so that the light grid line at 0 does not show through.
    zero->setPen(QPen(QColor(110, 110, 110), 0.7));
    // The zero line lies under the points.
    zero->setLayer(QStringLiteral("grid"));

    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    setCategoryTicks(x, tickPositions, tickLabels);
    x->setRange(-0.6, right - 0.4);
    x->setLabel(QString());
    const bool lower = lowerBetter(metric);
    // Three short lines: at column width the axis is too short for one or two long ones.
    QString yTitle = lower ? QStringLiteral("CE \u2212 square,\n") : QStringLiteral("square \u2212 CE,\n");
    yTitle += toQ(metricDisplayName(metric));
    if (isPercentMetric(metric)) yTitle += QStringLiteral("\n(percentage points)");
    y->setLabel(yTitle);
    y->setRange(range.padded(0.08));
}

void plotLearningCurves(QCustomPlot& plot, const std::vector<CurveGroup>& groups, const std::string& yLabel) {
    QCPAxisRect* rect = resetPlot(plot, 2);

    std::vector<LossGroupKey> keys;
    for (const auto& group : groups) keys.push_back(group.key);
    const std::vector<QColor> colours = groupColours(keys);

    ValueRange xRange, yRange;
    // Seeds first, then the bands, then the means: later graphs are drawn on top.
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const CurveGroup& group = groups[i];
        const double scale = metricScale(group.metric);
        QColor faint = colours[i];
        faint.setAlpha(70);
        for (const auto& [seed, points] : group.seeds) {
            QCPGraph* graph = addGraph(plot, rect, QStringLiteral("seed/%1/%2").arg(i).arg(seed),
                                       QStringLiteral("seed %1").arg(seed), false);
            graph->setPen(QPen(faint, 0.5));
            for (const CurvePoint& point : points) {
                graph->addData(point.epoch, point.value * scale);
                xRange.add(point.epoch);
                yRange.add(point.value * scale);
            }
        }
    }
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const CurveGroup& group = groups[i];
        const double scale = metricScale(group.metric);
        QCPGraph* lower = addGraph(plot, rect, QStringLiteral("band lower/%1").arg(i), QStringLiteral("mean - std"), false);
        QCPGraph* upper = addGraph(plot, rect, QStringLiteral("band upper/%1").arg(i), QStringLiteral("mean + std"), false);
        for (std::size_t e = 0; e < group.epochs.size() && e < group.mean.size(); ++e) {
            const double sd = e < group.std.size() ? group.std[e] : kNaN;
            const double mean = group.mean[e];
            lower->addData(group.epochs[e], std::isfinite(sd) ? (mean - sd) * scale : kNaN);
            upper->addData(group.epochs[e], std::isfinite(sd) ? (mean + sd) * scale : kNaN);
            yRange.add((mean - sd) * scale);
            yRange.add((mean + sd) * scale);
        }
        QColor fill = colours[i];
        fill.setAlpha(45);
        lower->setPen(Qt::NoPen);
        upper->setPen(Qt::NoPen);
        upper->setBrush(fill);
        upper->setChannelFillGraph(lower);
    }
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const CurveGroup& group = groups[i];
        const double scale = metricScale(group.metric);
        QCPGraph* mean = addGraph(plot, rect, QStringLiteral("mean/%1").arg(i), groupLegendName(group.key, keys), true);
        mean->setPen(QPen(colours[i], 1.3, protocolPenStyle(group.key.protocol)));
        for (std::size_t e = 0; e < group.epochs.size() && e < group.mean.size(); ++e) {
            mean->addData(group.epochs[e], group.mean[e] * scale);
            xRange.add(group.epochs[e]);
            yRange.add(group.mean[e] * scale);
        }
    }

    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    x->setLabel(QStringLiteral("epoch"));
    QSharedPointer<QCPAxisTickerFixed> epochTicker(new QCPAxisTickerFixed);
    epochTicker->setTickStep(1.0);
    epochTicker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    epochTicker->setTickCount(6);
    x->setTicker(epochTicker);
    if (xRange.empty()) x->setRange(0.0, 1.0);
    else if (xRange.low == xRange.high) x->setRange(xRange.low - 1.0, xRange.high + 1.0);
    else x->setRange(xRange.low, xRange.high);
    y->setRange(yRange.padded(0.05));

    std::string title = yLabel;
    if (title.empty() && !groups.empty()) {
        title = metricDisplayName(groups.front().metric);
        if (isPercentMetric(groups.front().metric)) title += " (%)";
    }
    y->setLabel(toQ(title));
}

void plotSeedSpread(QCustomPlot& plot, const LossAnalysis& analysis, const std::string& metric,
                    const std::string& protocol) {
    struct Unit {
        std::string taskId;
        const LossGroup* square = nullptr;
        const LossGroup* ce = nullptr;
        QString variant;
    };
    auto hasValues = [&](const LossGroup& group) {
        const auto it = group.values.find(metric);
        return it != group.values.end() && !it->second.empty();
    };
    auto findGroup = [&](const LossGroupKey& key) -> const LossGroup* {
        for (const auto& group : analysis.groups)
            if (sameKey(group.key, key)) return hasValues(group) ? &group : nullptr;
        return nullptr;
    };
    auto firstGroup = [&](const std::string& task, const RunRecipe& recipe, const std::string& loss,
                          const std::string& proto) -> const LossGroup* {
        for (const auto& group : analysis.groups)
            if (group.key.taskId == task && group.key.recipe == recipe && group.key.loss == loss &&
                group.key.protocol == proto && hasValues(group))
                return &group;
        return nullptr;
    };

    std::vector<std::string> tasks = analysis.taskIds;
    for (const auto& group : analysis.groups)
        if (std::find(tasks.begin(), tasks.end(), group.key.taskId) == tasks.end()) tasks.push_back(group.key.taskId);

    std::vector<Unit> units;
    for (const std::string& task : tasks) {
        std::vector<Unit> taskUnits;
        std::vector<LossGroupKey> squareKeys;
        for (const auto& comparison : analysis.comparisons) {
            if (comparison.taskId != task || comparison.metric != metric || comparison.square.protocol != protocol)
                continue;
            Unit unit{task, findGroup(comparison.square), findGroup(comparison.ce), {}};
            if (!unit.square && !unit.ce) continue;
            taskUnits.push_back(unit);
            squareKeys.push_back(comparison.square);
        }
        if (taskUnits.empty()) {
            // No comparison: per recipe of the task, its first square and CE groups.
            std::vector<const LossGroupKey*> recipes;
            for (const auto& group : analysis.groups)
                if (group.key.taskId == task &&
                    std::none_of(recipes.begin(), recipes.end(), [&](const LossGroupKey* k) { return k->recipe == group.key.recipe; }))
                    recipes.push_back(&group.key);
            for (const LossGroupKey* recipe : recipes) {
                Unit unit{task, firstGroup(task, recipe->recipe, "square", protocol), firstGroup(task, recipe->recipe, "ce", protocol),
                          toQ(recipe->recipeLabel)};
                if (!unit.ce) unit.ce = firstGroup(task, recipe->recipe, "ce", "early_stopping");
                if (unit.square || unit.ce) taskUnits.push_back(unit);
            }
        }
        if (!squareKeys.empty() && (taskUnits.size() > 1 || !squareKeys.front().recipeLabel.empty()))
            for (std::size_t u = 0; u < taskUnits.size(); ++u) taskUnits[u].variant = variantText(squareKeys[u], squareKeys);
        units.insert(units.end(), taskUnits.begin(), taskUnits.end());
    }

    resetPlot(plot, 3, false);
    const int count = std::max<int>(1, int(units.size()));
    // A grid about as wide as the figure is (3 : 2): 2 -> 2 x 1, 3 -> 3 x 1, 4..6 -> 3 x 2, 8 -> 4 x 2.
    const int columns = std::min(count, int(std::ceil(std::sqrt(1.5 * count))));
    auto* panels = new QCPLayoutGrid;
    plot.plotLayout()->addElement(1, 0, panels);
    plot.plotLayout()->setRowStretchFactor(1, 1.0);
    panels->setColumnSpacing(4);
    panels->setRowSpacing(2);
    // Room on the left for the one y-axis title all panels share.
    panels->setAutoMargins(QCP::msNone);
    panels->setMargins(QMargins(11, 0, 0, 0));

    const double scale = metricScale(metric);
    QString yTitle = toQ(metricDisplayName(metric));
    if (isPercentMetric(metric)) yTitle += QStringLiteral(" (%)");
    const QColor squareColour = kSquareColours[0];
    const QColor ceColour = kCeColours[0];
    std::vector<QCPMarginGroup*> rowGroups, columnGroups;
    for (int c = 0; c < columns; ++c) columnGroups.push_back(new QCPMarginGroup(&plot));
    bool squareInLegend = false, ceInLegend = false, meanInLegend = false;
    // About this many characters of 7 pt text fit under one panel.
    const int labelChars = std::max(8, (250 / columns - 24) / 4);

    for (int u = 0; u < count; ++u) {
        const int row = u / columns, column = u % columns;
        if (column == 0) rowGroups.push_back(new QCPMarginGroup(&plot));
        auto* rect = new QCPAxisRect(&plot, true);
        rect->setMinimumSize(20, 20); // the default 50 x 50 squeezes the legend with two rows of panels
        panels->addElement(row, column, rect);
        rect->setMarginGroup(QCP::msTop | QCP::msBottom, rowGroups.back());
        rect->setMarginGroup(QCP::msLeft | QCP::msRight, columnGroups[column]);
        if (u == 0) useAxisRect(plot, rect);
        QCPAxis* x = rect->axis(QCPAxis::atBottom);
        QCPAxis* y = rect->axis(QCPAxis::atLeft);
        // Square left, CE right: colour and legend say which, the x axis only names the task.
        setCategoryTicks(x, {0.0, 1.0}, {QString(), QString()});
        x->setTickLabelRotation(0.0);
        x->setTicks(false);
        x->setRange(-0.6, 1.6);
        y->ticker()->setTickCount(3);
        if (u >= int(units.size())) continue; // an empty analysis: one empty panel

        const Unit& unit = units[u];
        QString label = toQ(unit.taskId);
        if (label.size() > labelChars && label.contains(QLatin1Char('/'))) {
            // "dataset/model" on two lines before anything is cut.
            const int slash = int(label.lastIndexOf(QLatin1Char('/')));
            label = shortTaskLabel(unit.taskId.substr(0, std::size_t(slash) + 1), labelChars) + QLatin1Char('\n') +
                    shortTaskLabel(unit.taskId.substr(std::size_t(slash) + 1), labelChars);
        } else {
            label = shortTaskLabel(unit.taskId, labelChars);
        }
        if (!unit.variant.isEmpty()) label += QLatin1Char('\n') + unit.variant;
        x->setLabel(label);

        ValueRange range;
        auto drawLoss = [&](const LossGroup* group, double slot, const QString& role, const QColor& colour,
                            const QString& legendName, bool& inLegend) {
            if (!group) return;
            const SeedSeries series = seedSeries(group->values.at(metric), scale);
            QCPGraph* seeds = addScatterGraph(plot, rect, QStringLiteral("%1 seeds/%2").arg(role).arg(u), legendName,
                                              !inLegend, seedPointStyle(colour));
            inLegend = true;
            const int n = int(series.values.size());
            for (int j = 0; j < n; ++j) {
                if (!std::isfinite(series.values[j])) continue;
                seeds->addData(slot + kSeedOffset + seedJitter(j, n), series.values[j]);
                range.add(series.values[j]);
            }
            QCPGraph* mean = addScatterGraph(plot, rect, QStringLiteral("%1 mean/%2").arg(role).arg(u),
                                             QStringLiteral("mean \u00b1 1 std"), !meanInLegend, meanBarStyle());
            meanInLegend = true;
            mean->addData(slot + kMeanOffset, series.stats.n > 0 ? series.stats.mean : kNaN);
            addErrorBars(rect, mean, QStringLiteral("%1 std/%2").arg(role).arg(u), {errorOf(series.stats)});
            range.add(series.stats.mean - errorOf(series.stats));
            range.add(series.stats.mean + errorOf(series.stats));
        };
        drawLoss(unit.square, 0.0, QStringLiteral("square"), squareColour, QStringLiteral("square loss"), squareInLegend);
        drawLoss(unit.ce, 1.0, QStringLiteral("ce"), ceColour, QStringLiteral("cross-entropy"), ceInLegend);
        y->setRange(range.padded(0.12));
    }

    // The shared y-axis title, rotated, in the margin left of the panels.
    auto* title = new QCPItemText(&plot);
    title->setObjectName(QStringLiteral("y label"));
    title->setClipToAxisRect(false);
    title->position->setType(QCPItemPosition::ptViewportRatio);
    title->position->setCoords(0.0, 0.5);
    title->setPositionAlignment(Qt::AlignTop | Qt::AlignHCenter);
    title->setRotation(-90.0);
    title->setText(yTitle);

    // Legend order: square, CE, mean marker.
    if (plot.legend) {
        std::vector<QCPAbstractLegendItem*> items;
        // itemCount() counts the cells of the legend grid; a cell may be empty.
        for (int i = 0; i < plot.legend->itemCount(); ++i)
            if (plot.legend->item(i)) items.push_back(plot.legend->item(i));
        auto rank = [](QCPAbstractLegendItem* item) {
            auto* plottableItem = qobject_cast<QCPPlottableLegendItem*>(item);
            const QString name = plottableItem ? plottableItem->plottable()->objectName() : QString();
            if (name.startsWith(QStringLiteral("square seeds"))) return 0;
            if (name.startsWith(QStringLiteral("ce seeds"))) return 1;
            return 2;
        };
        std::vector<QCPAbstractPlottable*> ordered;
        std::stable_sort(items.begin(), items.end(), [&](auto* a, auto* b) { return rank(a) < rank(b); });
        for (auto* item : items) ordered.push_back(static_cast<QCPPlottableLegendItem*>(item)->plottable());
        for (auto* plottable : ordered) plottable->removeFromLegend(plot.legend);
        for (auto* plottable : ordered) plottable->addToLegend(plot.legend);
    }
}

void plotReliability(QCustomPlot& plot, const std::vector<ReliabilityGroup>& groups) {
    resetPlot(plot, 1, false);
    auto* panels = new QCPLayoutGrid;
    plot.plotLayout()->addElement(1, 0, panels);
    plot.plotLayout()->setRowStretchFactor(1, 1.0);
    panels->setRowSpacing(2);
    auto* margins = new QCPMarginGroup(&plot);
    auto* top = new QCPAxisRect(&plot, true);
    auto* bottom = new QCPAxisRect(&plot, true);
    for (QCPAxisRect* rect : {top, bottom}) {
        rect->setMinimumSize(20, 20);
        rect->setMarginGroup(QCP::msLeft | QCP::msRight, margins);
    }
    panels->addElement(0, 0, top);
    panels->addElement(1, 0, bottom);
    panels->setRowStretchFactors({2.4, 1.0});
    useAxisRect(plot, top);

    QCPGraph* diagonal = addGraph(plot, top, QStringLiteral("diagonal"), QStringLiteral("perfect calibration"), false);
    diagonal->setPen(QPen(QColor(150, 150, 150), 0.8, Qt::DashLine));
    diagonal->addData(0.0, 0.0);
    diagonal->addData(1.0, 1.0);

    std::vector<LossGroupKey> keys;
    for (const auto& group : groups) keys.push_back(group.key);
    const std::vector<QColor> colours = groupColours(keys);
    ValueRange shareRange;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const ReliabilityGroup& group = groups[i];
        QString name = groupLegendName(group.key, keys) + QStringLiteral(": ECE ") + QString::number(group.ece.mean, 'f', 3);
        if (std::isfinite(group.ece.std)) name += QStringLiteral(" \u00b1 ") + QString::number(group.ece.std, 'f', 3);
        const QCPScatterStyle marker(QCPScatterStyle::ssCircle, QPen(colours[i], 0.8), QBrush(colours[i]), 3.0);
        QCPGraph* curve = addGraph(plot, top, QStringLiteral("reliability/%1").arg(i), name, true);
        curve->setPen(QPen(colours[i], 1.1, protocolPenStyle(group.key.protocol)));
        curve->setScatterStyle(marker);
        QCPGraph* share = addGraph(plot, bottom, QStringLiteral("share/%1").arg(i), name, false);
        share->setPen(QPen(colours[i], 0.9, protocolPenStyle(group.key.protocol)));
        share->setScatterStyle(marker);
        for (const ReliabilityBin& bin : group.bins) {
            if (!(bin.count > 0) || !(group.examples > 0)) continue;
            curve->addData(bin.confidence, bin.accuracy);
            const double percent = 100.0 * bin.count / group.examples;
            share->addData((bin.lower + bin.upper) / 2.0, percent);
            shareRange.add(percent);
        }
    }

    QCPAxis* x = top->axis(QCPAxis::atBottom);
    QCPAxis* y = top->axis(QCPAxis::atLeft);
    x->setRange(0.0, 1.0);
    y->setRange(0.0, 1.0);
    x->setTickLabels(false); // the panel below names the axis
    y->setLabel(QStringLiteral("accuracy"));
    y->ticker()->setTickCount(5);
    x->ticker()->setTickCount(5);

    QCPAxis* bx = bottom->axis(QCPAxis::atBottom);
    QCPAxis* by = bottom->axis(QCPAxis::atLeft);
    bx->setRange(0.0, 1.0);
    bx->ticker()->setTickCount(5);
    bx->setLabel(QStringLiteral("confidence"));
    // Most examples sit in the highest bins once a model is trained: a log scale keeps the
    // thinly filled bins visible.
    by->setScaleType(QCPAxis::stLogarithmic);
    QSharedPointer<QCPAxisTickerLog> logTicker(new QCPAxisTickerLog);
    logTicker->setLogBase(10);
    logTicker->setTickCount(2); // 0.01, 1, 100: the panel is short
    logTicker->setSubTickCount(0);
    by->setTicker(logTicker);
    by->setNumberFormat(QStringLiteral("g"));
    by->setLabel(QStringLiteral("share (%)"));
    if (shareRange.empty()) by->setRange(0.1, 100.0);
    else by->setRange(std::max(1e-3, shareRange.low / 2.0), 150.0);
}

namespace {

// `text` on lines no wider than `width` pixels, broken after ", " or ": " (greedily, so a
// legend entry's ": ECE ..." goes to the next line first); a piece without such a break that
// is wider stays whole.
QString wrappedText(const QString& text, const QFontMetrics& metrics, int width) {
    QStringList pieces; // each ends with its ", " or ": "
    int start = 0;
    for (int i = 0; i + 1 < int(text.size()); ++i) {
        if ((text[i] == QLatin1Char(',') || text[i] == QLatin1Char(':')) && text[i + 1] == QLatin1Char(' ')) {
            pieces << text.mid(start, i + 2 - start);
            start = i + 2;
        }
    }
    pieces << text.mid(start);
    QStringList lines;
    QString line;
    for (const QString& piece : pieces) {
        if (!line.isEmpty() && metrics.horizontalAdvance(line + piece.trimmed()) > width) {
            lines << line.trimmed();
            line.clear();
        }
        line += piece;
    }
    lines << line.trimmed();
    return lines.join(QLatin1Char('\n'));
}

// A legend of one column still wider than the figure (long group names; a reliability
// diagram's "ECE mean ± std" after them) was cut at the right edge, the ECE with it. Each
// entry too wide breaks into lines instead; when that makes the legend take more than 2/5 of
// the figure's height (the report's figures are 3:2), the panels would shrink to nothing, so
// then each entry keeps one line and its name is shortened in the middle ("…"), the part
// after its last ": " (the ECE) kept whole.
void fitLegendNames(QCPLegend& legend, int viewportWidth) {
    int widestText = 0;
    std::vector<QCPPlottableLegendItem*> items;
    for (int i = 0; i < legend.itemCount(); ++i) {
        auto* item = qobject_cast<QCPPlottableLegendItem*>(legend.item(i));
        if (!item) continue;
        items.push_back(item);
        const QFontMetrics metrics(item->font());
        widestText = std::max(widestText, metrics.boundingRect(0, 0, 0, legend.iconSize().height(), Qt::TextDontClip,
                                                               item->plottable()->name()).width());
    }
    // What the legend adds around its widest text: margins, icon, padding. Two pixels to
    // spare for the hinting of the 300 dpi PNG.
    const int textWidth = viewportWidth - (legend.minimumOuterSizeHint().width() - widestText) - 2;
    QStringList names;
    for (QCPPlottableLegendItem* item : items) {
        QCPAbstractPlottable* plottable = item->plottable();
        names << plottable->name();
        plottable->setName(wrappedText(plottable->name(), QFontMetrics(item->font()), textWidth));
    }
    if (legend.minimumOuterSizeHint().height() <= viewportWidth * 2 / 3 * 2 / 5) return;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const QString& name = names[int(i)];
        const QFontMetrics metrics(items[i]->font());
        const int colon = int(name.lastIndexOf(QStringLiteral(": ")));
        const QString tail = colon >= 0 ? name.mid(colon) : QString();
        const QString head = colon >= 0 ? name.left(colon) : name;
        const int headWidth = std::max(0, textWidth - metrics.horizontalAdvance(tail));
        items[i]->plottable()->setName(metrics.elidedText(head, Qt::ElideMiddle, headWidth) + tail);
    }
}

} // namespace

void applyColumnStyle(QCustomPlot& plot, int viewportWidth) {
    // "sans-serif" is a fontconfig alias for raster and PDF output and a CSS generic family
    // that every SVG viewer knows (the resolved name, e.g. "Sans Serif", is not).
    QFont tickFont = plot.font();
    tickFont.setFamily(QStringLiteral("sans-serif"));
    tickFont.setStyleHint(QFont::SansSerif);
    tickFont.setPixelSize(kTickPoints);
    QFont labelFont = tickFont;
    labelFont.setPixelSize(kTitlePoints);
    plot.setFont(tickFont);
    // Tick labels as the tables write numbers, "0.5" whatever the user's locale: QCustomPlot
    // formats them with the widget's locale, which is the system's (LC_ALL=de_DE.UTF-8 gave
    // "0,5" next to legend text such as "ECE 0.050").
    QLocale numbers = QLocale::c();
    numbers.setNumberOptions(QLocale::OmitGroupSeparator);
    plot.setLocale(numbers);
    const QPen axisPen(Qt::black, 0.6, Qt::SolidLine, Qt::SquareCap);
    const QPen gridPen(QColor(215, 215, 215), 0.4, Qt::SolidLine);

    const bool panels = plot.axisRects().size() > 1;
    for (QCPAxisRect* rect : plot.axisRects()) {
        rect->setMinimumMargins(QMargins(2, 2, 6, 2));
        for (QCPAxis* axis : rect->axes()) {
            axis->setTickLabelFont(tickFont);
            // Under small panels the task names use the tick size.
            axis->setLabelFont(panels && axis->axisType() == QCPAxis::atBottom ? tickFont : labelFont);
            axis->setBasePen(axisPen);
            axis->setTickPen(axisPen);
            axis->setSubTickPen(QPen(Qt::black, 0.4));
            axis->setTickLength(0, 3);
            axis->setSubTicks(false); // minor ticks are clutter at column width
            axis->setTickLabelPadding(2);
            axis->setLabelPadding(2);
            axis->grid()->setPen(gridPen);
            axis->grid()->setZeroLinePen(gridPen);
        }
    }
    const auto elements = plot.plotLayout()->elements(true);
    for (QCPLayoutElement* element : elements) {
        if (auto* legend = qobject_cast<QCPLegend*>(element)) {
            legend->setFont(tickFont);
            legend->setIconSize(16, 7);
            legend->setIconTextPadding(3);
            legend->setRowSpacing(0);
            legend->setColumnSpacing(8);
            legend->setMargins(QMargins(3, 3, 3, 2));
            // Item heights come from the hinted metrics of a 7 px font; scaled to 300 dpi the
            // descenders reach further: a little room below keeps them from being clipped.
            for (int i = 0; i < legend->itemCount(); ++i)
                if (QCPAbstractLegendItem* item = legend->item(i)) item->setMargins(QMargins(0, 0, 0, 2));
            // Fewer columns until the legend fits across the figure (long names: one per row).
            for (int columns = std::max(1, legend->wrap()); columns >= 1; --columns) {
                legend->setWrap(columns);
                legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
                if (legend->minimumOuterSizeHint().width() <= viewportWidth) break;
            }
            if (legend->minimumOuterSizeHint().width() > viewportWidth) fitLegendNames(*legend, viewportWidth);
        }
    }
    for (int i = 0; i < plot.itemCount(); ++i)
        if (auto* text = qobject_cast<QCPItemText*>(plot.item(i))) text->setFont(labelFont);
}

} // namespace losslab
