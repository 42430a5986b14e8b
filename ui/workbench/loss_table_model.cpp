#include "workbench/loss_table_model.h"

#include <QBrush>
#include <QFont>
#include <QPalette>

#include <cmath>

namespace losslab {
namespace {

QString number(double v) { return QString::fromStdString(formatShortest(v)); }

// A number > 0 in the C locale (QString::toDouble ignores the user's locale).
bool parsePositive(const QVariant& value, double& out) {
    bool ok = false;
    const double v = value.toString().trimmed().toDouble(&ok);
    if (!ok || !std::isfinite(v) || v <= 0) return false;
    out = v;
    return true;
}

} // namespace

LossTableModel::LossTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LossTableModel::setLosses(const std::vector<FormLoss>& losses) {
    beginResetModel();
    m_losses = losses;
    endResetModel();
}

void LossTableModel::setPaperRescaling(const Rescaling& paper) {
    m_paper = paper;
    if (!m_losses.empty())
        emit dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
}

void LossTableModel::setKmSwept(const std::vector<bool>& sweptRows) {
    if (sweptRows == m_kmSwept) return;
    m_kmSwept = sweptRows;
    if (!m_losses.empty()) emit dataChanged(index(0, NameColumn), index(rowCount() - 1, NameColumn));
}

bool LossTableModel::kmSwept(int row) const {
    return row >= 0 && static_cast<std::size_t>(row) < m_kmSwept.size() && m_kmSwept[static_cast<std::size_t>(row)] &&
           m_losses[static_cast<std::size_t>(row)].kind == LossKind::Square && m_losses[static_cast<std::size_t>(row)].name.empty();
}

bool LossTableModel::nameTaken(const std::string& name, int exceptRow) const {
    for (int r = 0; r < rowCount(); ++r)
        if (r != exceptRow && m_losses[static_cast<std::size_t>(r)].displayName(m_paper) == name) return true;
    return false;
}

int LossTableModel::addLoss(FormLoss loss) {
    if (nameTaken(loss.displayName(m_paper), -1)) {
        const std::string base = loss.displayName(m_paper);
        for (int n = 2;; ++n) {
            const std::string candidate = base + "_" + std::to_string(n);
            if (!nameTaken(candidate, -1)) {
                loss.name = candidate;
                break;
            }
        }
    }
    const int row = rowCount();
    beginInsertRows(QModelIndex(), row, row);
    m_losses.push_back(loss);
    endInsertRows();
    return row;
}

void LossTableModel::removeLoss(int row) {
    if (row < 0 || row >= rowCount()) return;
    beginRemoveRows(QModelIndex(), row, row);
    m_losses.erase(m_losses.begin() + row);
    endRemoveRows();
}

bool LossTableModel::applyPaperPreset(int row) {
    if (row < 0 || row >= rowCount()) return false;
    FormLoss& loss = m_losses[static_cast<std::size_t>(row)];
    if (loss.kind != LossKind::Square) return false;
    loss.paperPreset = true;
    loss.k.reset();
    loss.M.reset();
    emit dataChanged(index(row, 0), index(row, ColumnCount - 1));
    return true;
}

int LossTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_losses.size());
}

int LossTableModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant LossTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount()) return {};
    const FormLoss& loss = m_losses[static_cast<std::size_t>(index.row())];
    const bool square = loss.kind == LossKind::Square;
    const QString paperSource = QString::fromStdString(m_paper.source);
    switch (index.column()) {
    case NameColumn:
        if (role == Qt::DisplayRole && kmSwept(index.row())) return QStringLiteral("square");
        if (role == Qt::DisplayRole || role == Qt::EditRole) return QString::fromStdString(loss.displayName(m_paper));
        if (role == Qt::FontRole && loss.name.empty()) {
            QFont font;
            font.setItalic(true);
            return font;
        }
        if (role == Qt::ToolTipRole && kmSwept(index.row()))
            return tr("The sweep varies k or M: the runs are named 'square' (type a name to choose another)");
        if (role == Qt::ToolTipRole)
            return loss.name.empty() ? tr("Generated from the loss, k and M; type a name to fix it")
                                     : tr("Clear the name to have it generated from the loss, k and M");
        break;
    case LossColumn:
        if (role == Qt::DisplayRole)
            return square ? (loss.paperPreset ? tr("square (paper)") : tr("square")) : tr("ce");
        if (role == Qt::ToolTipRole) {
            if (!square) return tr("Cross-entropy: softmax and negative log-likelihood");
            return loss.paperPreset ? tr("Square loss with the paper's k and M for this task: %1").arg(paperSource)
                                    : tr("Square loss on the raw outputs, no softmax");
        }
        break;
    case LrColumn:
        if (role == Qt::DisplayRole || role == Qt::EditRole) return number(loss.lr);
        if (role == Qt::ToolTipRole) return tr("This loss's learning rate (a number > 0)");
        break;
    case KColumn:
    case MColumn: {
        const bool isK = index.column() == KColumn;
        if (role == Qt::DisplayRole || role == Qt::EditRole) {
            if (!square) return role == Qt::DisplayRole ? QVariant(QStringLiteral("\u2014")) : QVariant();
            return number(isK ? loss.effectiveK(m_paper) : loss.effectiveM(m_paper));
        }
        if (role == Qt::ToolTipRole) {
            if (!square) return tr("k and M apply to the square loss only");
            const bool explicitValue = isK ? loss.k.has_value() : loss.M.has_value();
            const QString what = isK ? tr("k: weight of the true class's term") : tr("M: scale of the one-hot target");
            if (loss.paperPreset && !explicitValue) return what + tr(" (from the paper: %1)").arg(paperSource);
            return what;
        }
        if (role == Qt::ForegroundRole && square && loss.paperPreset &&
            !(isK ? loss.k.has_value() : loss.M.has_value()))
            return QPalette().brush(QPalette::Disabled, QPalette::Text);
        break;
    }
    default:
        break;
    }
    if (role == Qt::TextAlignmentRole && index.column() >= LrColumn)
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

bool LossTableModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (!index.isValid() || role != Qt::EditRole || index.row() >= rowCount()) return false;
    FormLoss& loss = m_losses[static_cast<std::size_t>(index.row())];
    const FormLoss before = loss;
    switch (index.column()) {
    case NameColumn: {
        const std::string name = value.toString().trimmed().toStdString();
        if (name.find_first_of("\r\n") != std::string::npos) {
            emit editRejected(tr("A loss name is one line of text"));
            return false;
        }
        FormLoss probe = loss;
        probe.name = name;
        if (nameTaken(probe.displayName(m_paper), index.row())) {
            emit editRejected(tr("Another loss is named '%1'; loss names must be unique")
                                  .arg(QString::fromStdString(probe.displayName(m_paper))));
            return false;
        }
        // The generated name typed by hand stays generated: it follows k and M.
        loss.name = name == loss.generatedName(m_paper) ? std::string() : name;
        break;
    }
    case LrColumn: {
        double v = 0;
        if (!parsePositive(value, v)) {
            emit editRejected(tr("Learning rate: expected a number > 0, got '%1'").arg(value.toString()));
            return false;
        }
        loss.lr = v;
        break;
    }
    case KColumn:
    case MColumn: {
        if (loss.kind != LossKind::Square) return false;
        double v = 0;
        const bool isK = index.column() == KColumn;
        if (!parsePositive(value, v)) {
            emit editRejected(tr("%1: expected a number > 0, got '%2'").arg(isK ? "k" : "M", value.toString()));
            return false;
        }
        if (loss.paperPreset) {
            // A hand-set value turns the row into a custom one; keep the other value as shown.
            loss.k = loss.effectiveK(m_paper);
            loss.M = loss.effectiveM(m_paper);
            loss.paperPreset = false;
        }
        (isK ? loss.k : loss.M) = v;
        if (loss.k && *loss.k == 1.0) loss.k.reset();
        if (loss.M && *loss.M == 1.0) loss.M.reset();
        break;
    }
    default:
        return false;
    }
    if (loss == before) return true;
    emit dataChanged(this->index(index.row(), 0), this->index(index.row(), ColumnCount - 1));
    return true;
}

Qt::ItemFlags LossTableModel::flags(const QModelIndex& index) const {
    if (!index.isValid()) return Qt::NoItemFlags;
    Qt::ItemFlags f = Qt::ItemIsEnabled | Qt::ItemIsSelectable;
    const FormLoss& loss = m_losses[static_cast<std::size_t>(index.row())];
    switch (index.column()) {
    case NameColumn:
    case LrColumn:
        f |= Qt::ItemIsEditable;
        break;
    case KColumn:
    case MColumn:
        if (loss.kind == LossKind::Square) f |= Qt::ItemIsEditable;
        break;
    default:
        break;
    }
    return f;
}

QVariant LossTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case NameColumn: return tr("Name");
        case LossColumn: return tr("Loss");
        case LrColumn: return tr("lr");
        case KColumn: return tr("k");
        case MColumn: return tr("M");
        default: return {};
        }
    }
    if (role == Qt::ToolTipRole) {
        switch (section) {
        case NameColumn: return tr("A label for the loss, unique in the experiment");
        case LossColumn: return tr("ce: cross-entropy; square: the square loss on raw outputs");
        case LrColumn: return tr("Learning rate of this loss (the one hyper-parameter the paper re-tunes)");
        case KColumn: return tr("Rescaled square loss: weight of the true class's term");
        case MColumn: return tr("Rescaled square loss: scale of the one-hot target");
        default: return {};
        }
    }
    return {};
}

} // namespace losslab
