#pragma once
// The losses of the experiment designer as a table: name, loss (ce / square), learning rate,
// k and M. Edits are checked as they are made: a learning rate, k or M must be a number > 0
// (C locale: "0.05", "5e-4"); a refused edit leaves the cell as it was and emits
// editRejected. k and M of a cross-entropy row are not editable. Editing k or M of a row that
// uses the paper preset turns it into a hand-set row (both values become explicit). A square
// row without a name of its own whose k or M the sweep varies shows "square", as the loader
// names it (setKmSwept).
// GUI thread only.
#include <QAbstractTableModel>
#include <QString>

#include <vector>

#include "workbench/experiment_form.h"

namespace losslab {

class LossTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { NameColumn, LossColumn, LrColumn, KColumn, MColumn, ColumnCount };

    explicit LossTableModel(QObject* parent = nullptr);

    void setLosses(const std::vector<FormLoss>& losses);
    const std::vector<FormLoss>& losses() const { return m_losses; }

    // The current task's paper values: rows with the paper preset show (and resolve to) them.
    void setPaperRescaling(const Rescaling& paper);
    const Rescaling& paperRescaling() const { return m_paper; }

    // Which rows' k or M a sweep varies (row i: sweptRows[i]); rows past the end: none.
    void setKmSwept(const std::vector<bool>& sweptRows);

    // Appends `loss`; when its name would clash with a row's, it gets a numbered name
    // ("square_2"). Returns the new row.
    int addLoss(FormLoss loss);
    void removeLoss(int row);
    // Square rows only: k and M from the paper for the current task, preset paper.
    bool applyPaperPreset(int row);

    int rowCount(const QModelIndex& parent = QModelIndex()) const override;
    int columnCount(const QModelIndex& parent = QModelIndex()) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

signals:
    void editRejected(const QString& why);

private:
    bool nameTaken(const std::string& name, int exceptRow) const;
    bool kmSwept(int row) const;

    std::vector<FormLoss> m_losses;
    Rescaling m_paper;
    std::vector<bool> m_kmSwept;
};

} // namespace losslab
