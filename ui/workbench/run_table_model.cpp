#include "workbench/run_table_model.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>

#include <QStringList>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "losslab/error.h"
#include "losslab/spec/run_recipe.h"
#include "losslab/store/run_store.h"

namespace losslab {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const QString kMissing = QStringLiteral("–");

QString qs(const std::string& text) { return QString::fromStdString(text); }

QString formatNumber(double value) {
    return std::isnan(value) ? kMissing : QString::number(value, 'g', 5);
}

// 42.3 s, 3:05 (min:s), 1:02:03 (h:min:s).
QString formatDuration(double seconds) {
    if (!(seconds > 0.0)) return kMissing;
    if (seconds < 60.0) return QStringLiteral("%1 s").arg(seconds, 0, 'f', 1);
    const auto total = static_cast<qint64>(std::llround(seconds));
    const qint64 h = total / 3600, m = (total / 60) % 60, s = total % 60;
    if (h == 0) return QStringLiteral("%1:%2").arg(m).arg(s, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1:%2:%3").arg(h).arg(m, 2, 10, QLatin1Char('0')).arg(s, 2, 10, QLatin1Char('0'));
}

// The store writes UTC ("2026-11-26T18:30:00Z"); people read local time.
QString formatStarted(const std::string& iso) {
    if (iso.empty()) return kMissing;
    const QDateTime time = QDateTime::fromString(qs(iso), Qt::ISODate);
    if (!time.isValid()) return qs(iso);
    return time.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm"));
}

bool appliesToSquareLoss(const RunRecord& run) { return run.loss != "ce"; }

bool isMetricFraction(const QString& key) {
    const QString metric = key.section(QLatin1Char('/'), -1);
    return metric == QLatin1String("acc") || metric == QLatin1String("error") ||
           metric == QLatin1String("top5");
}

QColor statusColour(RunStatus status) {
    switch (status) {
    case RunStatus::Failed:
    case RunStatus::Diverged: return QColor(0xc0, 0x28, 0x28);
    case RunStatus::Interrupted: return QColor(0xc2, 0x7c, 0x0e);
    case RunStatus::Running: return QColor(0x1f, 0x5f, 0xc8);
    case RunStatus::Cancelled:
    case RunStatus::Queued: return QColor(0x70, 0x70, 0x70);
    case RunStatus::Completed: break;
    }
    return {};
}

} // namespace

RunTableModel::RunTableModel(QObject* parent) : QAbstractTableModel(parent) {}

QStringList RunTableModel::settingsDifferences(const RunRecord& a, const RunRecord& b) {
    const auto settings = [](const RunRecord& run) {
        RunRecipe all;
        try {
            all = runRecipe(run.specYaml);
        } catch (const Error&) {
            all = {{"spec", run.specYaml}};
        }
        all["seed"] = std::to_string(run.seed); // left out of recipes, but it tells runs apart
        return all;
    };
    const RunRecipe first = settings(a), second = settings(b);
    std::set<std::string> keys;
    for (const auto& [key, value] : first) keys.insert(key);
    for (const auto& [key, value] : second) keys.insert(key);
    QStringList lines;
    for (const std::string& key : keys) {
        const auto x = first.find(key), y = second.find(key);
        const QString left = x == first.end() ? tr("(unset)") : qs(x->second);
        const QString right = y == second.end() ? tr("(unset)") : qs(y->second);
        if (left != right) lines << QStringLiteral("%1: %2 \u2192 %3").arg(qs(key), left, right);
    }
    return lines;
}

QString RunTableModel::experimentLabel(const RunRecord& run) {
    return QStringLiteral("%1 #%2").arg(qs(run.experiment)).arg(run.experimentId);
}

namespace {

RunRecipe readTrainingRecipe(const RunRecord& run) {
    try {
        return trainingRecipe(runRecipe(run.specYaml));
    } catch (const Error&) {
        return {{"spec", "(unreadable)"}};
    }
}

} // namespace

RunRecipe RunRecipeCache::recipeOf(const RunRecord& run) {
    const std::size_t hash = std::hash<std::string>{}(run.specYaml);
    {
        const std::lock_guard<std::mutex> lock(m_mutex);
        auto it = m_entries.find(run.id);
        if (it != m_entries.end() && it->second.hash == hash && it->second.length == run.specYaml.size())
            return it->second.recipe;
    }
    RunRecipe recipe = readTrainingRecipe(run);
    const std::lock_guard<std::mutex> lock(m_mutex);
    ++m_parses;
    m_entries[run.id] = Entry{hash, run.specYaml.size(), recipe};
    return recipe;
}

void RunRecipeCache::keepOnly(const std::vector<RunRecord>& runs) {
    std::unordered_map<qint64, bool> present;
    present.reserve(runs.size());
    for (const RunRecord& run : runs) present.emplace(run.id, true);
    const std::lock_guard<std::mutex> lock(m_mutex);
    for (auto it = m_entries.begin(); it != m_entries.end();)
        it = present.count(it->first) ? std::next(it) : m_entries.erase(it);
}

int RunRecipeCache::parses() const {
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_parses;
}

QHash<qint64, RunTableModel::RecipeSummary> RunTableModel::recipeSummaries(const std::vector<RunRecord>& runs,
                                                                           RunRecipeCache* cache) {
    // Per task, its distinct training recipes (model, data and training keys: the report's
    // grouping rule without the loss and protocol, which have columns of their own).
    if (cache) cache->keepOnly(runs);
    std::map<std::string, std::vector<RunRecipe>> recipesOfTask;
    std::vector<RunRecipe> recipeOfRun(runs.size());
    for (std::size_t i = 0; i < runs.size(); ++i) {
        recipeOfRun[i] = cache ? cache->recipeOf(runs[i]) : readTrainingRecipe(runs[i]);
        auto& recipes = recipesOfTask[runs[i].taskId];
        if (std::find(recipes.begin(), recipes.end(), recipeOfRun[i]) == recipes.end()) recipes.push_back(recipeOfRun[i]);
    }
    std::map<std::string, std::vector<std::string>> labelsOfTask;
    for (const auto& [task, recipes] : recipesOfTask) labelsOfTask[task] = recipeLabels(recipes);
    QHash<qint64, RecipeSummary> out;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const auto& recipes = recipesOfTask[runs[i].taskId];
        const auto at = static_cast<std::size_t>(std::find(recipes.begin(), recipes.end(), recipeOfRun[i]) - recipes.begin());
        RecipeSummary summary;
        summary.label = qs(labelsOfTask[runs[i].taskId][at]);
        QStringList lines;
        for (const auto& [key, value] : recipeOfRun[i]) lines << qs(key + ": " + value);
        summary.settings = lines.join(QLatin1Char('\n'));
        out.insert(runs[i].id, summary);
    }
    return out;
}

void RunTableModel::setRuns(std::vector<RunRecord> runs, std::optional<QHash<qint64, RecipeSummary>> recipes) {
    beginResetModel();
    m_recipes = recipes ? std::move(*recipes) : recipeSummaries(runs);
    m_runs = std::move(runs);
    m_rowById.clear();
    m_rowById.reserve(static_cast<qsizetype>(m_runs.size()));
    for (std::size_t i = 0; i < m_runs.size(); ++i) m_rowById.insert(m_runs[i].id, static_cast<int>(i));
    endResetModel();
}

const RunRecord* RunTableModel::runAt(int row) const {
    if (row < 0 || row >= static_cast<int>(m_runs.size())) return nullptr;
    return &m_runs[static_cast<std::size_t>(row)];
}

int RunTableModel::rowOfRun(qint64 runId) const { return m_rowById.value(runId, -1); }

void RunTableModel::setExtraMetric(const QString& key, const QHash<qint64, double>& values) {
    const bool titleChanged = key != m_extraKey;
    m_extraKey = key;
    m_extraIsFraction = isMetricFraction(key);
    m_extraValues = values;
    if (titleChanged) emit headerDataChanged(Qt::Horizontal, ExtraMetricColumn, ExtraMetricColumn);
    if (!m_runs.empty())
        emit dataChanged(index(0, ExtraMetricColumn), index(rowCount() - 1, ExtraMetricColumn));
}

int RunTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_runs.size());
}

int RunTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QString RunTableModel::formatPercent(double fraction) {
    if (std::isnan(fraction)) return kMissing;
    return QStringLiteral("%1 %").arg(fraction * 100.0, 0, 'f', 2);
}

double RunTableModel::extraValue(qint64 runId) const {
    if (m_extraKey.isEmpty()) return kNaN;
    return m_extraValues.value(runId, kNaN);
}

QVariant RunTableModel::displayValue(const RunRecord& run, int column) const {
    switch (column) {
    case IdColumn: return QString::number(run.id);
    case ExperimentColumn: return experimentLabel(run);
    case TaskColumn: return qs(run.taskId);
    case RecipeColumn: return m_recipes.value(run.id).label;
    case LossColumn: return qs(run.lossName);
    case KColumn: return appliesToSquareLoss(run) ? formatNumber(run.k) : kMissing;
    case MColumn: return appliesToSquareLoss(run) ? formatNumber(run.M) : kMissing;
    case LrColumn: return formatNumber(run.lr);
    case ProtocolColumn: return qs(run.protocol);
    case SeedColumn: return QString::number(run.seed);
    case StatusColumn: return QString::fromLatin1(runStatusName(run.status));
    case EpochsColumn:
        // A run that has not reached its planned length shows how far it got.
        if (run.targetEpochs > 0 && run.epochs < run.targetEpochs && run.status != RunStatus::Completed)
            return QStringLiteral("%1 / %2").arg(run.epochs).arg(run.targetEpochs);
        return QString::number(run.epochs);
    case ReportedEpochColumn: return run.bestEpoch > 0 ? QString::number(run.bestEpoch) : kMissing;
    case ValAccColumn: return formatPercent(run.valAcc);
    case TestAccColumn: return formatPercent(run.testAcc);
    case ExtraMetricColumn: {
        const double value = extraValue(run.id);
        return m_extraIsFraction ? formatPercent(value) : formatNumber(value);
    }
    case WallTimeColumn: return formatDuration(run.wallSeconds);
    case DeviceColumn: return run.device.empty() ? kMissing : qs(run.device);
    case StartedColumn: return formatStarted(run.startedAt);
    case TagsColumn: return qs(run.tags);
    case NotesColumn: {
        // One line in the table; the notes pane and the tooltip show all of it.
        const QString notes = qs(run.notes);
        const qsizetype newline = notes.indexOf(QLatin1Char('\n'));
        return newline < 0 ? notes : notes.left(newline) + QStringLiteral(" …");
    }
    default: return {};
    }
}

QVariant RunTableModel::rawValue(const RunRecord& run, int column) const {
    switch (column) {
    case IdColumn: return QVariant::fromValue<qint64>(run.id);
    case ExperimentColumn: return experimentLabel(run);
    case TaskColumn: return qs(run.taskId);
    case RecipeColumn: return m_recipes.value(run.id).label;
    case LossColumn: return qs(run.lossName);
    case KColumn: return appliesToSquareLoss(run) ? run.k : kNaN;
    case MColumn: return appliesToSquareLoss(run) ? run.M : kNaN;
    case LrColumn: return run.lr;
    case ProtocolColumn: return qs(run.protocol);
    case SeedColumn: return QVariant::fromValue<qint64>(run.seed);
    case StatusColumn: return QString::fromLatin1(runStatusName(run.status));
    case EpochsColumn: return QVariant::fromValue<qint64>(run.epochs);
    case ReportedEpochColumn: return run.bestEpoch > 0 ? static_cast<double>(run.bestEpoch) : kNaN;
    case ValAccColumn: return run.valAcc;
    case TestAccColumn: return run.testAcc;
    case ExtraMetricColumn: return extraValue(run.id);
    case WallTimeColumn: return run.wallSeconds > 0.0 ? run.wallSeconds : kNaN;
    case DeviceColumn: return qs(run.device);
    case StartedColumn: return qs(run.startedAt);
    case TagsColumn: return qs(run.tags);
    case NotesColumn: return qs(run.notes);
    default: return {};
    }
}

QVariant RunTableModel::data(const QModelIndex& index, int role) const {
    const RunRecord* run = index.isValid() ? runAt(index.row()) : nullptr;
    if (!run || index.column() < 0 || index.column() >= ColumnCount) return {};
    const int column = index.column();
    switch (role) {
    case Qt::DisplayRole: return displayValue(*run, column);
    case Qt::UserRole: return rawValue(*run, column);
    case Qt::EditRole:
        if (column == TagsColumn) return qs(run->tags);
        if (column == NotesColumn) return qs(run->notes);
        return displayValue(*run, column);
    case Qt::ToolTipRole:
        if ((run->status == RunStatus::Failed || run->status == RunStatus::Diverged) && !run->error.empty())
            return qs(run->error);
        if (column == NotesColumn && !run->notes.empty()) return qs(run->notes);
        if (column == RecipeColumn || column == ExperimentColumn) {
            const QString settings = m_recipes.value(run->id).settings;
            return settings.isEmpty() ? QVariant() : QVariant(tr("Training settings of run %1:\n%2").arg(run->id).arg(settings));
        }
        return {};
    case Qt::ForegroundRole:
        if (column == StatusColumn) {
            const QColor colour = statusColour(run->status);
            if (colour.isValid()) return QBrush(colour);
        }
        return {};
    case Qt::TextAlignmentRole:
        switch (column) {
        case IdColumn: case KColumn: case MColumn: case LrColumn: case SeedColumn:
        case EpochsColumn: case ReportedEpochColumn: case ValAccColumn: case TestAccColumn:
        case ExtraMetricColumn: case WallTimeColumn:
            return int(Qt::AlignRight | Qt::AlignVCenter);
        default: return {};
        }
    default: return {};
    }
}

QVariant RunTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case ExperimentColumn: return tr("The experiment's name and number: a name run again gets a new number");
        case RecipeColumn: return tr("What sets this run's recipe apart from the task's other recipes here (model, data "
                                     "and training keys); empty when all are the same. Hover a cell for every setting");
        case LossColumn: return tr("The loss's name in the experiment");
        case KColumn: return tr("Square loss: weight of the true class's term");
        case MColumn: return tr("Square loss: target value of the true class");
        case ReportedEpochColumn: return tr("The epoch the protocol reports; metrics are taken there");
        case ValAccColumn: return tr("Validation accuracy at the reported epoch");
        case TestAccColumn: return tr("Test accuracy at the reported epoch");
        case ExtraMetricColumn: return tr("The metric chosen above, at the reported epoch");
        case TagsColumn: return tr("Comma-separated labels; double-click to edit");
        case NotesColumn: return tr("Free text; double-click to edit");
        default: return {};
        }
    }
    if (role != Qt::DisplayRole) return {};
    switch (section) {
    case IdColumn: return tr("Id");
    case ExperimentColumn: return tr("Experiment");
    case TaskColumn: return tr("Task");
    case RecipeColumn: return tr("Recipe");
    case LossColumn: return tr("Loss");
    case KColumn: return tr("k");
    case MColumn: return tr("M");
    case LrColumn: return tr("lr");
    case ProtocolColumn: return tr("Protocol");
    case SeedColumn: return tr("Seed");
    case StatusColumn: return tr("Status");
    case EpochsColumn: return tr("Epochs");
    case ReportedEpochColumn: return tr("Reported epoch");
    case ValAccColumn: return tr("Val acc");
    case TestAccColumn: return tr("Test acc");
    case ExtraMetricColumn: return m_extraKey.isEmpty() ? tr("Metric") : m_extraKey;
    case WallTimeColumn: return tr("Wall time");
    case DeviceColumn: return tr("Device");
    case StartedColumn: return tr("Started");
    case TagsColumn: return tr("Tags");
    case NotesColumn: return tr("Notes");
    default: return {};
    }
}

Qt::ItemFlags RunTableModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags flags = QAbstractTableModel::flags(index);
    if (index.isValid() && (index.column() == TagsColumn || index.column() == NotesColumn))
        flags |= Qt::ItemIsEditable;
    return flags;
}

bool RunTableModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (role != Qt::EditRole || !index.isValid() || index.row() >= rowCount()) return false;
    RunRecord& run = m_runs[static_cast<std::size_t>(index.row())];
    if (index.column() == TagsColumn) {
        const std::string tags = normalizeTags(value.toString().toStdString());
        if (tags == run.tags) return true;
        run.tags = tags;
        emit dataChanged(index, index);
        emit tagsEdited(run.id, qs(tags));
        return true;
    }
    if (index.column() == NotesColumn) {
        const std::string notes = value.toString().toStdString();
        if (notes == run.notes) return true;
        run.notes = notes;
        emit dataChanged(index, index);
        emit notesEdited(run.id, qs(notes));
        return true;
    }
    return false;
}

} // namespace losslab
