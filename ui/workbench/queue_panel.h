#pragma once
// QueuePanel: the run queue as a table (RunQueueModel) with a progress bar per run, a
// summary line and the cancel buttons. It only asks; RunController does the cancelling.
//
// Thread rules: GUI thread only.
#include <QVector>
#include <QWidget>

class QLabel;
class QPushButton;
class QTableView;

namespace losslab {

class RunQueueModel;

class QueuePanel : public QWidget {
    Q_OBJECT
public:
    explicit QueuePanel(RunQueueModel& model, QWidget* parent = nullptr);

    QVector<qint64> selectedRunIds() const;
    QTableView* table() const { return m_table; }
    void setQueuedBatches(int count); // batches waiting behind the running one

signals:
    void cancelRequested(const QVector<qint64>& runIds);
    void cancelAllRequested();
    void runActivated(qint64 runId); // double click: show its curves

private:
    void updateSummary();
    void updateButtons();

    RunQueueModel& m_model;
    QTableView* m_table = nullptr;
    QLabel* m_summary = nullptr;
    QPushButton* m_cancel = nullptr;
    QPushButton* m_cancelAll = nullptr;
    QPushButton* m_clear = nullptr;
    int m_queuedBatches = 0;
};

} // namespace losslab
