// ExperimentDesigner's widgets and their connections (buildUi); the form logic is in
// experiment_designer.cpp.
#include "workbench/experiment_designer.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QStackedWidget>
#include <QTableView>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>
#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include "losslab/error.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/compute_setup.h"
#include "workbench/experiment_designer_keys.h"
#include "workbench/loss_table_model.h"

namespace losslab {

using namespace designer;

namespace {

QLabel* wrappingLabel(const QString& objectName) {
    auto* label = new QLabel;
    label->setObjectName(objectName);
    label->setWordWrap(true);
    label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return label;
}

// Spin boxes and combo boxes take the mouse wheel only once they have the focus (a click or
// Tab): scrolling the form over them must scroll the form, not change the number of seeds.
// The ignored wheel event goes on to the parent widgets, up to the scroll area.
class FocusedWheelOnly : public QObject {
public:
    using QObject::QObject;

protected:
    bool eventFilter(QObject* watched, QEvent* event) override {
        if (event->type() == QEvent::Wheel) {
            auto* w = qobject_cast<QWidget*>(watched);
            if (w && !w->hasFocus()) {
                event->ignore();
                return true;
            }
        }
        return QObject::eventFilter(watched, event);
    }
};

} // namespace

void ExperimentDesigner::buildUi() {
    auto* outer = new QVBoxLayout(this);
    outer->setContentsMargins(0, 0, 0, 0);
    auto* scroll = new QScrollArea;
    scroll->setObjectName(QStringLiteral("designerScroll"));
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    auto* content = new QWidget;
    auto* column = new QVBoxLayout(content);
    column->setContentsMargins(6, 6, 6, 6);
    scroll->setWidget(content);
    outer->addWidget(scroll, 1);

    auto newForm = [](QGroupBox* box) {
        auto* form = new QFormLayout(box);
        form->setRowWrapPolicy(QFormLayout::WrapLongRows);
        form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
        return form;
    };
    auto declHelp = [](const char* key) {
        for (const auto& d : coreParamDecls())
            if (d.key == key) return qs(d.help);
        return QString();
    };
    auto spinFor = [&](const char* key, const QString& name) {
        auto* spin = new QSpinBox;
        spin->setObjectName(name);
        for (const auto& d : coreParamDecls()) {
            if (d.key != key) continue;
            spin->setMinimum(d.min ? static_cast<int>(std::max<double>(*d.min, INT_MIN)) : 0);
            spin->setMaximum(d.max ? static_cast<int>(std::min<double>(*d.max, INT_MAX)) : INT_MAX);
            spin->setToolTip(qs(d.help) + QStringLiteral(" (") + qs(key) + QStringLiteral(")"));
        }
        return spin;
    };

    // Experiment
    auto* experimentBox = new QGroupBox(tr("Experiment"));
    auto* experimentForm = newForm(experimentBox);
    m_name = new QLineEdit;
    m_name->setObjectName(QStringLiteral("experimentName"));
    m_name->setPlaceholderText(tr("(the file name)"));
    m_name->setToolTip(tr("Stored with every run; losslab-cli list/report --experiment select by it"));
    m_description = new QPlainTextEdit;
    m_description->setObjectName(QStringLiteral("experimentDescription"));
    m_description->setTabChangesFocus(true);
    m_description->setFixedHeight(m_description->fontMetrics().lineSpacing() * 3 + 12);
    m_description->setPlaceholderText(tr("Free text, stored with the experiment"));
    experimentForm->addRow(tr("Name"), m_name);
    experimentForm->addRow(tr("Description"), m_description);
    column->addWidget(experimentBox);

    // Task
    auto* taskBox = new QGroupBox(tr("Task"));
    auto* taskLayout = new QVBoxLayout(taskBox);
    m_task = new QComboBox;
    m_task->setObjectName(QStringLiteral("taskCombo"));
    m_task->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_task->setMinimumContentsLength(16);
    for (const auto& info : m_tasks.list()) {
        m_task->addItem(qs(info.id), qs(info.id));
        m_task->setItemData(m_task->count() - 1, qs(info.description), Qt::ToolTipRole);
    }
    taskLayout->addWidget(m_task);
    m_taskNote = wrappingLabel(QStringLiteral("taskNote"));
    m_taskNote->setStyleSheet(kNoteStyle);
    m_taskNote->hide();
    taskLayout->addWidget(m_taskNote);
    m_taskDescription = wrappingLabel(QStringLiteral("taskDescription"));
    m_taskDataset = wrappingLabel(QStringLiteral("taskDataset"));
    m_taskModel = wrappingLabel(QStringLiteral("taskModel"));
    m_taskClasses = wrappingLabel(QStringLiteral("taskClasses"));
    taskLayout->addWidget(m_taskDescription);
    auto* facts = new QFormLayout;
    facts->setRowWrapPolicy(QFormLayout::WrapLongRows);
    facts->addRow(tr("Dataset:"), m_taskDataset);
    facts->addRow(tr("Model:"), m_taskModel);
    facts->addRow(tr("Classes:"), m_taskClasses);
    taskLayout->addLayout(facts);
    auto* folderRow = new QHBoxLayout;
    m_dataFolder = new QLineEdit;
    m_dataFolder->setObjectName(QStringLiteral("dataFolder"));
    m_dataFolder->setToolTip(declHelp(kDataRoot) + QStringLiteral(" (data.root)"));
    m_browse = new QPushButton(tr("Browse\u2026"));
    m_browse->setObjectName(QStringLiteral("browseDataFolder"));
    m_browse->setToolTip(tr("Choose the folder holding this dataset; it is remembered for the dataset"));
    folderRow->addWidget(new QLabel(tr("Data folder")));
    folderRow->addWidget(m_dataFolder, 1);
    folderRow->addWidget(m_browse);
    taskLayout->addLayout(folderRow);
    m_dataInUse = wrappingLabel(QStringLiteral("dataFolderInUse"));
    taskLayout->addWidget(m_dataInUse);
    m_dataWarning = wrappingLabel(QStringLiteral("dataWarning"));
    m_dataWarning->setStyleSheet(kWarningStyle);
    m_dataWarning->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::LinksAccessibleByMouse);
    m_dataWarning->hide();
    taskLayout->addWidget(m_dataWarning);
    column->addWidget(taskBox);

    // Losses
    auto* lossBox = new QGroupBox(tr("Losses"));
    auto* lossLayout = new QVBoxLayout(lossBox);
    m_lossView = new QTableView;
    m_lossView->setObjectName(QStringLiteral("lossTable"));
    m_lossView->setModel(m_lossModel);
    m_lossView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_lossView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_lossView->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed |
                                QAbstractItemView::AnyKeyPressed);
    m_lossView->verticalHeader()->hide();
    m_lossView->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_lossView->horizontalHeader()->setSectionResizeMode(LossTableModel::NameColumn, QHeaderView::Stretch);
    m_lossView->setMinimumHeight(m_lossView->fontMetrics().lineSpacing() * 8);
    m_lossView->setToolTip(tr("Double-click a cell to edit it. Every loss has its own learning rate"));
    lossLayout->addWidget(m_lossView);
    auto* lossButtons = new QGridLayout;
    auto button = [](const QString& text, const QString& name, const QString& tip) {
        auto* b = new QPushButton(text);
        b->setObjectName(name);
        b->setToolTip(tip);
        return b;
    };
    m_addCe = button(tr("Add cross-entropy"), QStringLiteral("addCrossEntropy"), tr("Softmax and negative log-likelihood"));
    m_addSquare = button(tr("Add square loss"), QStringLiteral("addSquareLoss"),
                         tr("The square loss on raw outputs, k = M = 1 (the paper's Eq. 1)"));
    m_addRescaled = button(tr("Add rescaled square loss (paper k/M)"), QStringLiteral("addRescaledSquareLoss"),
                           tr("A square loss with the paper's k and M for this task (Table 9, else its class-count rule)"));
    m_paperPreset = button(tr("Paper k/M"), QStringLiteral("paperPreset"),
                           tr("Set k and M of the selected square loss to the paper's values for this task"));
    m_removeLoss = button(tr("Remove"), QStringLiteral("removeLoss"), tr("Remove the selected loss"));
    lossButtons->addWidget(m_addCe, 0, 0);
    lossButtons->addWidget(m_addSquare, 0, 1);
    lossButtons->addWidget(m_addRescaled, 1, 0, 1, 2);
    lossButtons->addWidget(m_paperPreset, 2, 0);
    lossButtons->addWidget(m_removeLoss, 2, 1);
    lossLayout->addLayout(lossButtons);
    m_paperInfo = wrappingLabel(QStringLiteral("paperInfo"));
    lossLayout->addWidget(m_paperInfo);
    column->addWidget(lossBox);

    // Protocols
    auto* protocolBox = new QGroupBox(tr("Protocols"));
    auto* protocolLayout = new QVBoxLayout(protocolBox);
    m_earlyStopping = new QCheckBox(tr("Early stopping"));
    m_earlyStopping->setObjectName(QStringLiteral("protocolEarlyStopping"));
    m_earlyStopping->setToolTip(tr("Train until validation accuracy has not improved for 'patience' epochs; "
                                   "report the best epoch"));
    m_sameEpochs = new QCheckBox(tr("Same epochs as cross-entropy"));
    m_sameEpochs->setObjectName(QStringLiteral("protocolSameEpochsAsCe"));
    m_sameEpochs->setToolTip(tr("Square losses train for exactly the epochs that cross-entropy's early-stopping run "
                                "chose, same seed (needs a cross-entropy loss and early stopping)"));
    m_fixedEpochs = new QCheckBox(tr("Fixed epochs (max epochs)"));
    m_fixedEpochs->setObjectName(QStringLiteral("protocolFixedEpochs"));
    m_fixedEpochs->setToolTip(tr("Train exactly 'max epochs' epochs and report the last"));
    protocolLayout->addWidget(m_earlyStopping);
    protocolLayout->addWidget(m_sameEpochs);
    protocolLayout->addWidget(m_fixedEpochs);
    m_protocolNote = wrappingLabel(QStringLiteral("protocolNote"));
    m_protocolNote->setStyleSheet(kWarningStyle);
    m_protocolNote->hide();
    protocolLayout->addWidget(m_protocolNote);
    column->addWidget(protocolBox);

    // Training
    auto* trainBox = new QGroupBox(tr("Training"));
    auto* trainForm = newForm(trainBox);
    auto* seedsRow = new QHBoxLayout;
    m_seedsMode = new QComboBox;
    m_seedsMode->setObjectName(QStringLiteral("seedsMode"));
    m_seedsMode->addItems({tr("Count"), tr("List")});
    m_seedsMode->setToolTip(tr("Count: seeds 0 to N-1. List: exactly the seeds given. Every loss and protocol "
                               "uses the same seeds, so results pair by seed"));
    m_seedsStack = new QStackedWidget;
    m_seedCount = new QSpinBox;
    m_seedCount->setObjectName(QStringLiteral("seedCount"));
    m_seedCount->setRange(1, 10000);
    m_seedCount->setToolTip(tr("How many seeds: 5 means seeds 0, 1, 2, 3, 4 (the paper averages over 5)"));
    m_seedList = new QLineEdit;
    m_seedList->setObjectName(QStringLiteral("seedList"));
    m_seedList->setPlaceholderText(tr("3, 17, 42"));
    m_seedList->setToolTip(tr("Non-negative integers separated by commas, each once"));
    m_seedsStack->addWidget(m_seedCount);
    m_seedsStack->addWidget(m_seedList);
    m_seedsStack->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    m_seedsStack->setMaximumHeight(m_seedList->sizeHint().height());
    seedsRow->addWidget(m_seedsMode);
    seedsRow->addWidget(m_seedsStack, 1);
    trainForm->addRow(tr("Seeds"), seedsRow);
    m_batchSize = spinFor(kBatchSize, QStringLiteral("batchSize"));
    m_maxEpochs = spinFor(kMaxEpochs, QStringLiteral("maxEpochs"));
    m_patience = spinFor(kPatience, QStringLiteral("patience"));
    m_optimizer = new QComboBox;
    m_optimizer->setObjectName(QStringLiteral("optimizer"));
    for (const auto& d : coreParamDecls())
        if (d.key == kOptimizer) {
            for (const auto& c : d.choices) m_optimizer->addItem(qs(c), qs(c));
            m_optimizer->setToolTip(qs(d.help) + QStringLiteral(" (train.optimizer)"));
        }
    trainForm->addRow(tr("Batch size"), m_batchSize);
    trainForm->addRow(tr("Max epochs"), m_maxEpochs);
    trainForm->addRow(tr("Patience"), m_patience);
    trainForm->addRow(tr("Optimizer"), m_optimizer);
    column->addWidget(trainBox);

    // Device
    auto* deviceBox = new QGroupBox(tr("Device"));
    auto* deviceForm = newForm(deviceBox);
    m_device = new QComboBox;
    m_device->setObjectName(QStringLiteral("device"));
    m_device->setToolTip(tr("auto: every CUDA device LibTorch sees, else the CPU; cpu; or one CUDA device"));
    m_runsPerDevice = spinFor(kRunsPerDevice, QStringLiteral("runsPerDevice"));
    deviceForm->addRow(tr("Device"), m_device);
    deviceForm->addRow(tr("Runs per GPU"), m_runsPerDevice);
    column->addWidget(deviceBox);

    // Other keys
    auto* otherBox = new QGroupBox(tr("Other keys"));
    otherBox->setToolTip(tr("Every other key of the experiment file (model.*, data.*, train.*, runner.*). "
                            "A key not listed takes the task's recipe or the default"));
    auto* otherLayout = new QVBoxLayout(otherBox);
    m_otherKeys = new QTableWidget(0, 2);
    m_otherKeys->setObjectName(QStringLiteral("otherKeysTable"));
    m_otherKeys->setHorizontalHeaderLabels({tr("Key"), tr("Value")});
    m_otherKeys->verticalHeader()->hide();
    m_otherKeys->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    m_otherKeys->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_otherKeys->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_otherKeys->setSelectionMode(QAbstractItemView::SingleSelection);
    m_otherKeys->setMinimumHeight(m_otherKeys->fontMetrics().lineSpacing() * 9);
    otherLayout->addWidget(m_otherKeys);
    auto* otherRow = new QHBoxLayout;
    m_otherKeyChoice = new QComboBox;
    m_otherKeyChoice->setObjectName(QStringLiteral("otherKeyChoice"));
    m_otherKeyChoice->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_otherKeyChoice->setMinimumContentsLength(12);
    m_addOtherKey = button(tr("Add"), QStringLiteral("addOtherKey"), tr("Add the chosen key with its current value"));
    m_removeOtherKey = button(tr("Remove"), QStringLiteral("removeOtherKey"),
                              tr("Remove the selected key: it goes back to the recipe or the default"));
    m_chooseFile = button(tr("Choose file…"), QStringLiteral("chooseOtherKeyFile"),
                          tr("Pick the file the selected key names (model.file, model.vocab, model.embeddings)"));
    otherRow->addWidget(m_otherKeyChoice, 1);
    otherRow->addWidget(m_addOtherKey);
    otherRow->addWidget(m_removeOtherKey);
    otherRow->addWidget(m_chooseFile);
    otherLayout->addLayout(otherRow);
    column->addWidget(otherBox);

    // Sweep: collapsed until there is one; the count line shows either way.
    auto* sweepBox = new QGroupBox(tr("Sweep"));
    sweepBox->setObjectName(QStringLiteral("sweepBox"));
    sweepBox->setToolTip(tr("Run a grid of values: every combination of the axes, for every seed. "
                            "Each loss gets its own loss axes times the other axes (docs/sweeps.md)"));
    auto* sweepLayout = new QVBoxLayout(sweepBox);
    m_sweepToggle = new QToolButton;
    m_sweepToggle->setObjectName(QStringLiteral("sweepToggle"));
    m_sweepToggle->setCheckable(true);
    m_sweepToggle->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_sweepToggle->setAutoRaise(true);
    m_sweepToggle->setArrowType(Qt::RightArrow);
    m_sweepToggle->setToolTip(tr("Show or hide the sweep's axes"));
    sweepLayout->addWidget(m_sweepToggle);
    m_sweepBody = new QWidget;
    m_sweepBody->setObjectName(QStringLiteral("sweepBody"));
    auto* bodyLayout = new QVBoxLayout(m_sweepBody);
    bodyLayout->setContentsMargins(0, 0, 0, 0);
    m_sweepTable = new QTableWidget(0, 2);
    m_sweepTable->setObjectName(QStringLiteral("sweepTable"));
    m_sweepTable->setHorizontalHeaderLabels({tr("Key"), tr("Values")});
    m_sweepTable->verticalHeader()->hide();
    m_sweepTable->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    m_sweepTable->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_sweepTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_sweepTable->setSelectionMode(QAbstractItemView::SingleSelection);
    m_sweepTable->setMinimumHeight(m_sweepTable->fontMetrics().lineSpacing() * 6);
    m_sweepTable->setToolTip(tr("Double-click the values to edit them: comma-separated (1, 5, 15) or a YAML flow "
                                "list ([1, 5, 15]); a list value in brackets ([16], [64, 64])"));
    bodyLayout->addWidget(m_sweepTable);
    auto* sweepRow = new QHBoxLayout;
    m_sweepKeyChoice = new QComboBox;
    m_sweepKeyChoice->setObjectName(QStringLiteral("sweepKeyChoice"));
    m_sweepKeyChoice->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_sweepKeyChoice->setMinimumContentsLength(12);
    m_sweepKeyChoice->setToolTip(tr("losses.N.lr / k / M: loss N only (N from 0, as in the loss table); "
                                    "losses.*: every loss (k and M: every square loss); any other key: every loss"));
    m_addSweepAxis = button(tr("Add"), QStringLiteral("addSweepAxis"),
                            tr("Add the chosen key as an axis, starting from its current value"));
    m_removeSweepAxis = button(tr("Remove"), QStringLiteral("removeSweepAxis"), tr("Remove the selected axis"));
    sweepRow->addWidget(m_sweepKeyChoice, 1);
    sweepRow->addWidget(m_addSweepAxis);
    sweepRow->addWidget(m_removeSweepAxis);
    bodyLayout->addLayout(sweepRow);
    sweepLayout->addWidget(m_sweepBody);
    m_sweepCount = wrappingLabel(QStringLiteral("sweepCount"));
    sweepLayout->addWidget(m_sweepCount);
    m_sweepBody->hide();
    column->addWidget(sweepBox);
    column->addStretch(1);

    m_note = wrappingLabel(QStringLiteral("designerNote"));
    m_note->setStyleSheet(kNoteStyle);
    m_note->hide();
    outer->addWidget(m_note);
    m_status = wrappingLabel(QStringLiteral("designerStatus"));
    m_status->setContentsMargins(6, 2, 6, 4);
    outer->addWidget(m_status);

    // ---- connections
    connect(m_name, &QLineEdit::textEdited, this, [this](const QString& text) {
        m_form.name = text.toStdString();
        edited();
    });
    connect(m_description, &QPlainTextEdit::textChanged, this, [this] {
        if (m_populating) return;
        m_form.description = m_description->toPlainText().toStdString();
        edited();
    });
    connect(m_task, qOverload<int>(&QComboBox::currentIndexChanged), this, &ExperimentDesigner::onTaskChosen);
    connect(m_dataFolder, &QLineEdit::textEdited, this, &ExperimentDesigner::onDataFolderEdited);
    connect(m_dataFolder, &QLineEdit::editingFinished, this, [this] {
        const TaskInfo* task = currentTask();
        const QString folder = m_dataFolder->text().trimmed();
        if (task && !folder.isEmpty() && QFileInfo(folder).isDir()) m_dataRoots[qs(task->dataset)] = folder;
    });
    connect(m_browse, &QPushButton::clicked, this, &ExperimentDesigner::onBrowseDataFolder);

    auto lossesChanged = [this] {
        if (!m_populating) edited();
    };
    connect(m_lossModel, &QAbstractItemModel::dataChanged, this, lossesChanged);
    connect(m_lossModel, &QAbstractItemModel::rowsInserted, this, lossesChanged);
    // Removed and moved losses: the sweep's axes follow them first (this handler calls edited()).
    connect(m_lossModel, &QAbstractItemModel::rowsRemoved, this,
            [this](const QModelIndex&, int first, int last) { onLossRowsRemoved(first, last); });
    connect(m_lossModel, &QAbstractItemModel::rowsMoved, this,
            [this](const QModelIndex&, int start, int end, const QModelIndex&, int destination) {
                onLossRowsMoved(start, end, destination);
            });
    connect(m_lossModel, &QAbstractItemModel::modelReset, this, lossesChanged);
    connect(m_lossModel, &LossTableModel::editRejected, this, &ExperimentDesigner::showNote);
    connect(m_lossView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this] { refreshDerived(); });
    connect(m_addCe, &QPushButton::clicked, this, [this] { addLoss(LossKind::CrossEntropy, false); });
    connect(m_addSquare, &QPushButton::clicked, this, [this] { addLoss(LossKind::Square, false); });
    connect(m_addRescaled, &QPushButton::clicked, this, [this] { addLoss(LossKind::Square, true); });
    connect(m_paperPreset, &QPushButton::clicked, this, &ExperimentDesigner::onPaperPreset);
    connect(m_removeLoss, &QPushButton::clicked, this, &ExperimentDesigner::onRemoveLoss);

    for (QCheckBox* box : {m_earlyStopping, m_sameEpochs, m_fixedEpochs})
        connect(box, &QCheckBox::toggled, this, &ExperimentDesigner::onProtocolToggled);

    connect(m_seedsMode, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int mode) {
        m_seedsStack->setCurrentIndex(mode);
        if (m_populating) return;
        if (mode == 1 && m_seedList->text().trimmed().isEmpty()) {
            std::vector<std::int64_t> seeds;
            for (int s = 0; s < m_seedCount->value(); ++s) seeds.push_back(s);
            m_seedList->setText(qs(formatSeedList(seeds)));
        }
        onSeedsEdited();
    });
    connect(m_seedCount, qOverload<int>(&QSpinBox::valueChanged), this, [this] { onSeedsEdited(); });
    connect(m_seedList, &QLineEdit::textEdited, this, [this] { onSeedsEdited(); });

    auto intKey = [this](QSpinBox* spin, const char* key) {
        connect(spin, qOverload<int>(&QSpinBox::valueChanged), this,
                [this, key](int v) { onDedicatedEdited(key, std::to_string(v)); });
    };
    intKey(m_batchSize, kBatchSize);
    intKey(m_maxEpochs, kMaxEpochs);
    intKey(m_patience, kPatience);
    intKey(m_runsPerDevice, kRunsPerDevice);
    connect(m_optimizer, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int index) {
        if (index >= 0) onDedicatedEdited(kOptimizer, m_optimizer->itemData(index).toString().toStdString());
    });
    connect(m_device, qOverload<int>(&QComboBox::currentIndexChanged), this, [this](int index) {
        if (m_populating || index < 0) return;
        m_form.device = m_device->itemData(index).toString().toStdString();
        edited();
    });

    connect(m_otherKeys, &QTableWidget::itemChanged, this, &ExperimentDesigner::onOtherKeyEdited);
    connect(m_otherKeys, &QTableWidget::currentCellChanged, this, [this] { refreshDerived(); });
    connect(m_addOtherKey, &QPushButton::clicked, this, &ExperimentDesigner::onAddOtherKey);
    connect(m_removeOtherKey, &QPushButton::clicked, this, &ExperimentDesigner::onRemoveOtherKey);
    connect(m_chooseFile, &QPushButton::clicked, this, &ExperimentDesigner::onChooseOtherKeyFile);

    connect(m_sweepToggle, &QToolButton::toggled, this, [this](bool on) { setSweepExpanded(on); });
    connect(m_sweepTable, &QTableWidget::itemChanged, this, &ExperimentDesigner::onSweepValuesEdited);
    connect(m_sweepTable, &QTableWidget::currentCellChanged, this, [this] {
        m_removeSweepAxis->setEnabled(m_sweepTable->currentRow() >= 0);
    });
    connect(m_addSweepAxis, &QPushButton::clicked, this, &ExperimentDesigner::onAddSweepAxis);
    connect(m_removeSweepAxis, &QPushButton::clicked, this, &ExperimentDesigner::onRemoveSweepAxis);

    auto* wheelGuard = new FocusedWheelOnly(this);
    const auto guard = [wheelGuard](QWidget* w) {
        w->setFocusPolicy(Qt::StrongFocus); // not WheelFocus: the wheel alone does not focus it
        w->installEventFilter(wheelGuard);
    };
    for (auto* w : findChildren<QAbstractSpinBox*>()) guard(w);
    for (auto* w : findChildren<QComboBox*>()) guard(w);
}

// ---- public API -----------------------------------------------------------------------------

} // namespace losslab
