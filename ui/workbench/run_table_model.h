#pragma once
// RunTableModel: one row per stored run (RunRecord) with an optional extra metric column.
//
// Roles: Qt::DisplayRole is formatted for people (accuracy as a percent with two decimals,
// a missing value as "–"); Qt::UserRole is the raw value for sorting and filtering (numbers
// as double or qint64, NaN when absent; text as QString); Qt::EditRole is the text of the
// editable Tags and Notes cells; Qt::ToolTipRole carries the error text of failed and
// diverged runs; Qt::ForegroundRole colours the Status cell.
//
// Tags and Notes are editable: setData() updates the row and emits tagsEdited / notesEdited;
// the model never writes to the store itself (its owner forwards the signals).
//
// Thread rules: a Qt model; use it from the GUI thread only. Torch-free.
#include <QAbstractTableModel>
#include <QHash>
#include <QString>
#include <QStringList>
#include <QVector>

#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "losslab/spec/run_recipe.h"
#include "losslab/store/records.h"

namespace losslab {

// The training recipes read from runs' YAML, kept by run id between calls so that a
// refresh reads only the runs it has not seen (or whose YAML changed): the Runs tab of a
// database of 20,000 runs read them all at every refresh, 10 s each time. Holds only the
// runs of the last call. Thread-safe.
class RunRecipeCache {
public:
    RunRecipe recipeOf(const RunRecord& run);
    void keepOnly(const std::vector<RunRecord>& runs); // forgets the runs no longer there
    int parses() const; // YAML texts read so far (tests)

private:
    struct Entry {
        std::size_t hash = 0;
        std::size_t length = 0;
        RunRecipe recipe;
    };
    mutable std::mutex m_mutex;
    std::unordered_map<qint64, Entry> m_entries;
    int m_parses = 0;
};

class RunTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        IdColumn,
        ExperimentColumn,
        TaskColumn,
        RecipeColumn,
        LossColumn,
        KColumn,
        MColumn,
        LrColumn,
        ProtocolColumn,
        SeedColumn,
        StatusColumn,
        EpochsColumn,
        ReportedEpochColumn,
        ValAccColumn,
        TestAccColumn,
        ExtraMetricColumn,
        WallTimeColumn,
        DeviceColumn,
        StartedColumn,
        TagsColumn,
        NotesColumn,
        ColumnCount
    };

    explicit RunTableModel(QObject* parent = nullptr);

    // What the Recipe column shows of each run: the settings that tell its recipe apart from
    // the other recipes of its task among these runs ("hidden [16]"; "" when the task has one
    // recipe), and all its training settings, one per line, for the tooltip. Parses every
    // run's stored YAML: callable from any thread (the Runs tab computes it off the GUI thread).
    struct RecipeSummary {
        QString label;
        QString settings;
    };
    // With a cache, only runs it has not seen are read (see RunRecipeCache).
    static QHash<qint64, RecipeSummary> recipeSummaries(const std::vector<RunRecord>& runs, RunRecipeCache* cache = nullptr);
    // Every stored setting in which two runs differ (their recipes, with the loss, protocol
    // and seed), one "key: a → b" line each in key order; empty when they train alike.
    static QStringList settingsDifferences(const RunRecord& a, const RunRecord& b);
    // "default #3": the experiment's name and number, which tell repeated experiments apart.
    static QString experimentLabel(const RunRecord& run);

    // Replaces every row (a model reset). The extra metric values are kept by run id.
    // `recipes` from recipeSummaries(runs); computed here when not given.
    void setRuns(std::vector<RunRecord> runs, std::optional<QHash<qint64, RecipeSummary>> recipes = std::nullopt);
    const std::vector<RunRecord>& runs() const { return m_runs; }
    // The run in `row`, or nullptr when out of range.
    const RunRecord* runAt(int row) const;
    // The row of run `runId`, or -1.
    int rowOfRun(qint64 runId) const;

    // The extra column: its title ("test/ece"; empty = no metric chosen) and its value per
    // run id (runs without one show "–"). Values of acc / error / top5 show as percents.
    void setExtraMetric(const QString& key, const QHash<qint64, double>& values);
    const QString& extraMetricKey() const { return m_extraKey; }

    int rowCount(const QModelIndex& parent = QModelIndex()) const override;
    int columnCount(const QModelIndex& parent = QModelIndex()) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    // Tags (normalised as the store does: trimmed, empty and repeated tags dropped) and
    // Notes, with Qt::EditRole. Returns false for any other cell or role.
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;

    // "94.12 %" for 0.9412; "–" for NaN.
    static QString formatPercent(double fraction);

signals:
    // Emitted by setData when a run's tags / notes changed; tags are already normalised.
    void tagsEdited(qint64 runId, const QString& tags);
    void notesEdited(qint64 runId, const QString& notes);

private:
    QVariant displayValue(const RunRecord& run, int column) const;
    QVariant rawValue(const RunRecord& run, int column) const;
    double extraValue(qint64 runId) const;

    std::vector<RunRecord> m_runs;
    QHash<qint64, int> m_rowById;
    QString m_extraKey;
    QHash<qint64, RecipeSummary> m_recipes;
    bool m_extraIsFraction = false;
    QHash<qint64, double> m_extraValues;
};

} // namespace losslab
