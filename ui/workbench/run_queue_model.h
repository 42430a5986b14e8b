#pragma once
// RunQueueModel: one row per run of the batches started in this session, with its live
// state from RunEvents: status, epoch, progress and an estimate of the time left.
//
// Progress of a run is the fraction of its epoch budget done (target epochs for
// same_epochs_as_ce / fixed_epochs, max epochs for early stopping, which may stop sooner);
// the ETA extrapolates the run's own time per unit of progress.
//
// Thread rules: GUI thread only (feed it RunController's signals).
#include <QAbstractTableModel>
#include <QElapsedTimer>

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "losslab/runner/run_event.h"
#include "losslab/store/records.h"

namespace losslab {

class RunQueueModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Id, Task, Loss, Protocol, Seed, Device, Status, Epoch, Progress, Eta, ColumnCount };
    static constexpr int ProgressRole = Qt::UserRole + 1; // double in [0, 1]
    static constexpr int RunIdRole = Qt::UserRole + 2;    // qint64

    explicit RunQueueModel(QObject* parent = nullptr);

    void addRuns(const std::vector<RunRecord>& runs);
    void applyEvents(const std::vector<RunEvent>& events);
    void clearFinished(); // drops rows whose run has reached a final status
    void removeRuns(const std::vector<std::int64_t>& runIds); // deleted from the database: their rows go

    std::int64_t runIdAt(int row) const;
    int rowOf(std::int64_t runId) const; // -1 when absent
    RunStatus statusOf(std::int64_t runId) const;
    double progressOf(std::int64_t runId) const;
    int countWithStatus(RunStatus status) const;
    bool hasActiveRuns() const; // queued or running
    // Seconds until every queued and running run has finished, or -1 while nothing says yet
    // (no run has progressed): see estimateQueueSeconds().
    double queueEtaSeconds() const;
    static QString durationText(double seconds); // "3:05", "1:02:03"; "–" when unknown
    // The estimate behind it: the running runs' remaining seconds, plus the queued runs at the
    // mean length of a run (those finished, else the running ones' projected lengths), shared
    // over as many runs at once as are running now. -1 when there is nothing to go by.
    static double estimateQueueSeconds(const std::vector<double>& runningLeft, const std::vector<double>& runningTotal,
                                       const std::vector<double>& finishedLengths, int queued);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    struct Row {
        RunRecord run;
        bool waiting = false;     // behind its CE run
        int epoch = 0;            // epochs finished
        int maxEpochs = 0;
        std::int64_t step = 0;
        std::int64_t stepsPerEpoch = 0;
        double progress = 0.0;
        QElapsedTimer clock;      // since Started
        double seconds = -1.0;    // its length, once finished after starting here
        QString message;          // error text of a failed run
    };
    double etaSeconds(const Row& row) const;
    void apply(Row& row, const RunEvent& event);

    std::vector<Row> m_rows;
    std::unordered_map<std::int64_t, int> m_index; // run id -> row
};

} // namespace losslab
