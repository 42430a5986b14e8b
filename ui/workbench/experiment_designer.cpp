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
#include <QVBoxLayout>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>

#include "losslab/error.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/compute_setup.h"
#include "workbench/loss_table_model.h"

namespace losslab {
namespace {

// Keys with a widget of their own; every other key goes to the "Other keys" table.
const char* const kDataRoot = "data.root";
const char* const kBatchSize = "train.batch_size";
const char* const kMaxEpochs = "train.max_epochs";
const char* const kPatience = "train.patience";
const char* const kOptimizer = "train.optimizer";
const char* const kRunsPerDevice = "runner.runs_per_device";

bool isDedicated(const std::string& key) {
    return key == kDataRoot || key == kBatchSize || key == kMaxEpochs || key == kPatience || key == kOptimizer ||
           key == kRunsPerDevice;
}

QString qs(const std::string& s) { return QString::fromStdString(s); }

const char* const kWarningStyle =
    "QLabel { background: #fff3cd; color: #5c3c00; border: 1px solid #e0a800; border-radius: 3px; padding: 4px; }";
const char* const kNoteStyle = "QLabel { color: #a15c00; }";

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

ExperimentDesigner::ExperimentDesigner(const TaskRegistry& tasks, QWidget* parent)
    : QWidget(parent), m_tasks(tasks), m_cudaDevices(std::max(0, cudaDeviceCount())) {
    setObjectName(QStringLiteral("experimentDesigner"));
    m_lossModel = new LossTableModel(this);

    // A first experiment to start from: both losses with early stopping on the first task.
    const std::vector<TaskInfo> list = m_tasks.list();
    if (!list.empty()) {
        m_form.taskId = list.front().id;
        FormLoss ce;
        ce.kind = LossKind::CrossEntropy;
        FormLoss square;
        square.kind = LossKind::Square;
        bool ok = false;
        const double lr = qs(m_form.paramValue("train.lr", m_tasks)).toDouble(&ok);
        if (ok && lr > 0) ce.lr = square.lr = lr;
        m_form.losses = {ce, square};
    }
    buildUi();
    populate();
}

// ---- layout ---------------------------------------------------------------------------------

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
    otherRow->addWidget(m_otherKeyChoice, 1);
    otherRow->addWidget(m_addOtherKey);
    otherRow->addWidget(m_removeOtherKey);
    otherLayout->addLayout(otherRow);
    column->addWidget(otherBox);
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
    connect(m_lossModel, &QAbstractItemModel::rowsRemoved, this, lossesChanged);
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

    auto* wheelGuard = new FocusedWheelOnly(this);
    const auto guard = [wheelGuard](QWidget* w) {
        w->setFocusPolicy(Qt::StrongFocus); // not WheelFocus: the wheel alone does not focus it
        w->installEventFilter(wheelGuard);
    };
    for (auto* w : findChildren<QAbstractSpinBox*>()) guard(w);
    for (auto* w : findChildren<QComboBox*>()) guard(w);
}

// ---- public API -----------------------------------------------------------------------------

void ExperimentDesigner::loadYaml(const QString& yamlText, const QString& displayName) {
    // Everything that can fail happens before the form is touched.
    ExperimentForm form = ExperimentForm::fromYaml(yamlText.toStdString(), displayName.toStdString(), m_tasks);
    m_form = std::move(form);
    m_displayName = displayName;
    useRememberedDataRoot();
    m_taskNote->hide();
    showNote(QString());
    populate();
    m_modified = false;
    emit changed();
}

QString ExperimentDesigner::toYaml() const { return qs(currentForm().toYaml()); }

ExperimentSpec ExperimentDesigner::experiment() const {
    try {
        return currentForm().resolve(m_displayName.toStdString(), m_tasks);
    } catch (const Error& e) {
        if (!m_modified) throw;
        // The problem is in the edits, not in the file they started from (a shipped preset is
        // not broken because a loss was removed here), and the line numbers would be those of
        // the form's own YAML: name the file as edited, without them.
        std::string text = e.what();
        const std::string file = m_displayName.toStdString();
        if (text.rfind(file, 0) == 0) {
            std::size_t rest = file.size();
            for (int field = 0; field < 2 && rest < text.size() && text[rest] == ':'; ++field) {
                std::size_t digits = rest + 1;
                while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
                if (digits == rest + 1) break;
                rest = digits;
            }
            text = QFileInfo(m_displayName).fileName().toStdString() + ", as edited here" + text.substr(rest);
        }
        throw Error(text);
    }
}

void ExperimentDesigner::setDataRoots(const QMap<QString, QString>& roots) {
    m_dataRoots = roots;
    useRememberedDataRoot();
    m_populating = true;
    refreshTaskInfo();
    m_populating = false;
    refreshDerived();
}

void ExperimentDesigner::setCudaDeviceCount(int count) {
    m_cudaDevices = std::max(0, count);
    m_populating = true;
    refreshDeviceItems();
    m_populating = false;
    refreshDerived();
}

// ---- filling the widgets --------------------------------------------------------------------

ExperimentForm ExperimentDesigner::currentForm() const {
    ExperimentForm form = m_form;
    form.losses = m_lossModel->losses();
    return form;
}

const TaskInfo* ExperimentDesigner::currentTask() const { return m_tasks.findInfo(m_form.taskId); }

std::optional<ParamDecl> ExperimentDesigner::declOf(const std::string& key) const {
    const TaskInfo* task = currentTask();
    const std::vector<ParamDecl> decls = task ? taskParamDecls(*task) : coreParamDecls();
    const auto it = std::find_if(decls.begin(), decls.end(), [&](const ParamDecl& d) { return d.key == key; });
    if (it == decls.end()) return std::nullopt;
    return *it;
}

void ExperimentDesigner::useRememberedDataRoot() {
    const TaskInfo* task = currentTask();
    if (!task) return;
    const auto it = m_form.params.find(kDataRoot);
    if (it != m_form.params.end() && !it->second.empty()) return;
    const QString root = m_dataRoots.value(qs(task->dataset));
    if (!root.isEmpty()) m_form.params[kDataRoot] = root.trimmed().toStdString();
}

void ExperimentDesigner::populate() {
    m_populating = true;
    m_name->setText(qs(m_form.name));
    m_description->setPlainText(qs(m_form.description));
    m_task->setCurrentIndex(m_task->findData(qs(m_form.taskId)));
    const TaskInfo* task = currentTask();
    m_lossModel->setPaperRescaling(task ? taskPaperRescaling(*task) : Rescaling{});
    m_lossModel->setLosses(m_form.losses);
    auto has = [&](Protocol p) {
        return std::find(m_form.protocols.begin(), m_form.protocols.end(), p) != m_form.protocols.end();
    };
    m_earlyStopping->setChecked(has(Protocol::EarlyStopping));
    m_sameEpochs->setChecked(has(Protocol::SameEpochsAsCe));
    m_fixedEpochs->setChecked(has(Protocol::FixedEpochs));
    m_seedsMode->setCurrentIndex(m_form.seedsAsList ? 1 : 0);
    m_seedsStack->setCurrentIndex(m_form.seedsAsList ? 1 : 0);
    m_seedCount->setValue(static_cast<int>(std::min<std::int64_t>(m_form.seedCount, 10000)));
    m_seedList->setText(m_form.seedsAsList ? qs(formatSeedList(m_form.seedList)) : QString());
    m_seedList->setStyleSheet(QString());
    refreshDeviceItems();
    refreshTaskInfo();
    refreshDedicated();
    refreshOtherKeys();
    m_populating = false;
    refreshDerived();
}

// The task's name for its model describes its defaults; say what this experiment changes.
void ExperimentDesigner::refreshModelText() {
    const TaskInfo* task = currentTask();
    if (!task) return;
    QStringList changed;
    const auto compact = [](std::string text) {
        text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
        return text;
    };
    for (const ParamDecl& decl : task->params) {
        if (decl.key.rfind("model.", 0) != 0) continue;
        const auto own = m_form.params.find(decl.key);
        if (own == m_form.params.end()) continue;
        std::string taskDefault = decl.defaultValue;
        for (const auto& [key, value] : task->recipe)
            if (key == decl.key) taskDefault = value;
        if (compact(own->second) != compact(taskDefault))
            changed << qs(decl.key.substr(6)) + QLatin1Char(' ') + qs(own->second);
    }
    m_taskModel->setText(changed.isEmpty() ? qs(task->model)
                                           : tr("%1 by default; this experiment: %2")
                                                 .arg(qs(task->model), changed.join(QStringLiteral(", "))));
}

void ExperimentDesigner::refreshTaskInfo() {
    const TaskInfo* task = currentTask();
    if (!task) {
        for (QLabel* label : {m_taskDescription, m_taskDataset, m_taskModel, m_taskClasses, m_dataInUse})
            label->clear();
        m_dataWarning->setText(tr("No task is registered: no task plugin was loaded."));
        m_dataWarning->show();
        return;
    }
    m_taskDescription->setText(qs(task->description));
    m_taskDataset->setText(qs(task->dataset));
    refreshModelText();
    QStringList names;
    for (const auto& n : task->classNames) names << qs(n);
    m_taskClasses->setText(names.isEmpty() ? QString::number(task->numClasses)
                                           : tr("%1: %2").arg(task->numClasses).arg(names.join(QStringLiteral(", "))));

    const auto own = m_form.params.find(kDataRoot);
    const QString root = own == m_form.params.end() ? QString() : qs(own->second);
    if (m_dataFolder->text() != root) m_dataFolder->setText(root);
    m_dataFolder->setPlaceholderText(task->defaultDataRoot.empty() ? tr("no default folder: choose one")
                                                                   : tr("default: %1").arg(qs(task->defaultDataRoot)));
    const QString inUse = root.isEmpty() ? qs(task->defaultDataRoot) : root;
    const QString hint = qs(task->dataHint);
    if (inUse.isEmpty()) {
        m_dataInUse->setText(tr("Data folder in use: none"));
        m_dataWarning->setText(tr("\u26a0 No data folder is set for %1, and the task has no default folder. %2")
                                   .arg(qs(task->dataset), hint));
        m_dataWarning->show();
    } else {
        m_dataInUse->setText(tr("Data folder in use: %1").arg(inUse));
        if (QFileInfo(inUse).isDir()) {
            m_dataWarning->hide();
            m_dataWarning->clear();
        } else {
            m_dataWarning->setText(tr("\u26a0 Data folder not found: %1\n%2").arg(inUse, hint));
            m_dataWarning->show();
        }
    }
}

void ExperimentDesigner::refreshDedicated() {
    const bool wasPopulating = m_populating;
    m_populating = true;
    auto intValue = [this](const char* key) { return qs(m_form.paramValue(key, m_tasks)).toInt(); };
    m_batchSize->setValue(intValue(kBatchSize));
    m_maxEpochs->setValue(intValue(kMaxEpochs));
    m_patience->setValue(intValue(kPatience));
    m_runsPerDevice->setValue(intValue(kRunsPerDevice));
    m_optimizer->setCurrentIndex(m_optimizer->findData(qs(m_form.paramValue(kOptimizer, m_tasks))));
    m_populating = wasPopulating;
}

void ExperimentDesigner::refreshDeviceItems() {
    const bool wasPopulating = m_populating;
    m_populating = true;
    m_device->clear();
    m_device->addItem(tr("auto"), QStringLiteral("auto"));
    m_device->setItemData(0, tr("Every CUDA device LibTorch sees, else the CPU"), Qt::ToolTipRole);
    m_device->addItem(tr("cpu"), QStringLiteral("cpu"));
    for (int n = 0; n < m_cudaDevices; ++n) {
        const QString id = QStringLiteral("cuda:%1").arg(n);
        m_device->addItem(id, id);
    }
    const QString current = qs(m_form.device);
    if (m_device->findData(current) < 0) {
        // A file written for another machine keeps its device; the runner checks it.
        m_device->addItem(tr("%1 (not on this machine)").arg(current), current);
        m_device->setItemData(m_device->count() - 1,
                              tr("CUDA devices LibTorch sees here: %1; this machine would refuse the run")
                                  .arg(m_cudaDevices),
                              Qt::ToolTipRole);
    }
    m_device->setCurrentIndex(m_device->findData(current));
    m_populating = wasPopulating;
}

void ExperimentDesigner::refreshOtherKeys() {
    const bool wasPopulating = m_populating;
    m_populating = true;
    m_otherKeys->setRowCount(0);
    for (const auto& [key, value] : m_form.params) {
        if (isDedicated(key)) continue;
        const int row = m_otherKeys->rowCount();
        m_otherKeys->insertRow(row);
        auto* keyItem = new QTableWidgetItem(qs(key));
        keyItem->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable);
        auto* valueItem = new QTableWidgetItem(qs(value));
        if (const auto d = declOf(key)) {
            const QString tip = qs(d->help) + QStringLiteral(" (") + qs(paramTypeName(d->type)) + QStringLiteral(")");
            keyItem->setToolTip(tip);
            valueItem->setToolTip(tip);
        }
        m_otherKeys->setItem(row, 0, keyItem);
        m_otherKeys->setItem(row, 1, valueItem);
    }
    m_otherKeyChoice->clear();
    const TaskInfo* task = currentTask();
    const std::vector<ParamDecl> decls = task ? taskParamDecls(*task) : coreParamDecls();
    for (const auto& d : decls) {
        if (isDedicated(d.key) || m_form.params.count(d.key)) continue;
        m_otherKeyChoice->addItem(qs(d.key), qs(d.key));
        m_otherKeyChoice->setItemData(m_otherKeyChoice->count() - 1, qs(d.help), Qt::ToolTipRole);
    }
    m_populating = wasPopulating;
}

void ExperimentDesigner::refreshDerived() {
    refreshModelText();
    const std::vector<FormLoss>& losses = m_lossModel->losses();
    const bool hasCe = std::any_of(losses.begin(), losses.end(),
                                   [](const FormLoss& l) { return l.kind == LossKind::CrossEntropy; });
    const bool hasSquare = std::any_of(losses.begin(), losses.end(),
                                       [](const FormLoss& l) { return l.kind == LossKind::Square; });
    QStringList notes;
    if (m_sameEpochs->isChecked()) {
        if (!hasCe || !m_earlyStopping->isChecked())
            notes << tr("Same epochs as cross-entropy needs a cross-entropy loss and the early-stopping protocol: "
                        "it trains each square loss for the epochs that cross-entropy's early stopping chose.");
        if (!hasSquare) notes << tr("Same epochs as cross-entropy applies to square losses; add one.");
    }
    if (!m_earlyStopping->isChecked() && !m_sameEpochs->isChecked() && !m_fixedEpochs->isChecked())
        notes << tr("Tick at least one protocol.");
    m_protocolNote->setText(notes.join(QLatin1Char('\n')));
    m_protocolNote->setVisible(!notes.isEmpty());
    m_patience->setEnabled(m_earlyStopping->isChecked());

    const int row = selectedLossRow();
    m_removeLoss->setEnabled(row >= 0);
    m_paperPreset->setEnabled(row >= 0 && losses[static_cast<std::size_t>(row)].kind == LossKind::Square);
    const TaskInfo* task = currentTask();
    m_addRescaled->setEnabled(task != nullptr);
    if (task) {
        const Rescaling paper = taskPaperRescaling(*task);
        m_paperInfo->setText(tr("Paper k/M for this task: k = %1, M = %2 (%3)")
                                 .arg(qs(formatShortest(paper.k)), qs(formatShortest(paper.M)), qs(paper.source)));
    } else {
        m_paperInfo->clear();
    }
    m_runsPerDevice->setEnabled(m_form.device != "cpu");
    m_removeOtherKey->setEnabled(m_otherKeys->currentRow() >= 0);
    m_addOtherKey->setEnabled(m_otherKeyChoice->count() > 0);

    try {
        const ExperimentSpec spec = experiment();
        const std::vector<RunSpec> planned = spec.expand();
        m_status->setStyleSheet(QString());
        auto count = [](std::size_t n, const QString& one, const QString& many) {
            return QStringLiteral("%1 %2").arg(n).arg(n == 1 ? one : many);
        };
        // Not every loss runs every protocol (same epochs as CE is for square losses only), so
        // the line names the protocols of each loss instead of multiplying the counts.
        QStringList perLoss;
        std::size_t perSeed = 0;
        for (const LossSpec& loss : spec.losses) {
            QStringList protocols;
            for (const RunSpec& run : planned) {
                const QString name = run.protocol == Protocol::EarlyStopping  ? tr("early stopping")
                                     : run.protocol == Protocol::SameEpochsAsCe ? tr("same epochs as CE")
                                                                                : tr("fixed epochs");
                if (run.loss.name == loss.name && run.seed == spec.seeds.front() && !protocols.contains(name))
                    protocols << name;
            }
            perSeed += static_cast<std::size_t>(protocols.size());
            if (!protocols.isEmpty()) perLoss << qs(loss.name) + QStringLiteral(": ") + protocols.join(QStringLiteral(", "));
        }
        m_status->setText(tr("%1 = %2 \u00d7 %3 (%4)")
                              .arg(count(planned.size(), tr("run"), tr("runs")),
                                   count(spec.seeds.size(), tr("seed"), tr("seeds")))
                              .arg(perSeed)
                              .arg(perLoss.join(QStringLiteral("; "))));
    } catch (const Error& e) {
        m_status->setStyleSheet(QStringLiteral("QLabel { color: #b00020; }"));
        m_status->setText(tr("Cannot run yet: %1").arg(QString::fromUtf8(e.what())));
    }
}

void ExperimentDesigner::showNote(const QString& note) {
    m_note->setText(note);
    m_note->setVisible(!note.isEmpty());
}

void ExperimentDesigner::edited() {
    if (m_populating) return;
    m_modified = true;
    // A note about a refused edit is stale once an edit went through.
    showNote(QString());
    refreshDerived();
    emit changed();
}

// ---- edits ----------------------------------------------------------------------------------

void ExperimentDesigner::onTaskChosen(int index) {
    if (m_populating || index < 0) return;
    const std::string id = m_task->itemData(index).toString().toStdString();
    if (id == m_form.taskId) return;
    const TaskInfo* before = currentTask();
    const std::string oldDataset = before ? before->dataset : std::string();
    const std::vector<std::string> dropped = m_form.switchTask(id, m_tasks);
    const TaskInfo* task = currentTask();
    if (task && task->dataset != oldDataset) {
        // A folder of another dataset would not hold this one's files.
        m_form.params.erase(kDataRoot);
        useRememberedDataRoot();
    }
    m_populating = true;
    m_lossModel->setPaperRescaling(task ? taskPaperRescaling(*task) : Rescaling{});
    refreshTaskInfo();
    refreshDedicated();
    refreshOtherKeys();
    m_populating = false;
    QStringList keys;
    for (const auto& k : dropped) keys << qs(k);
    m_taskNote->setText(keys.isEmpty() ? QString()
                                       : tr("Removed keys that %1 does not have: %2")
                                             .arg(qs(id), keys.join(QStringLiteral(", "))));
    m_taskNote->setVisible(!keys.isEmpty());
    edited();
}

void ExperimentDesigner::onProtocolToggled() {
    if (m_populating) return;
    const std::pair<QCheckBox*, Protocol> boxes[] = {{m_earlyStopping, Protocol::EarlyStopping},
                                                     {m_sameEpochs, Protocol::SameEpochsAsCe},
                                                     {m_fixedEpochs, Protocol::FixedEpochs}};
    for (const auto& [box, protocol] : boxes) {
        auto& list = m_form.protocols;
        const auto it = std::find(list.begin(), list.end(), protocol);
        if (box->isChecked() && it == list.end()) list.push_back(protocol);
        if (!box->isChecked() && it != list.end()) list.erase(it);
    }
    edited();
}

void ExperimentDesigner::onSeedsEdited() {
    if (m_populating) return;
    if (m_seedsMode->currentIndex() == 0) {
        m_form.seedsAsList = false;
        m_form.seedCount = m_seedCount->value();
        m_seedList->setStyleSheet(QString());
        showNote(QString());
        edited();
        return;
    }
    const auto seeds = parseSeedList(m_seedList->text().toStdString());
    if (!seeds) {
        m_seedList->setStyleSheet(QStringLiteral("QLineEdit { background: #fde2e2; }"));
        showNote(tr("Seeds: expected non-negative integers separated by commas, e.g. 3, 17, 42"));
        return;
    }
    m_seedList->setStyleSheet(QString());
    showNote(QString());
    m_form.seedsAsList = true;
    m_form.seedList = *seeds;
    edited();
}

void ExperimentDesigner::onDedicatedEdited(const std::string& key, const std::string& value) {
    if (m_populating) return;
    m_form.params[key] = value;
    edited();
}

void ExperimentDesigner::onDataFolderEdited(const QString& text) {
    if (m_populating) return;
    m_form.params[kDataRoot] = text.trimmed().toStdString();
    m_populating = true;
    refreshTaskInfo();
    m_populating = false;
    edited();
}

void ExperimentDesigner::onBrowseDataFolder() {
    const TaskInfo* task = currentTask();
    if (!task) return;
    QString start = m_dataFolder->text().trimmed();
    if (start.isEmpty()) start = qs(task->defaultDataRoot);
    if (start.isEmpty() || !QFileInfo(start).isDir()) start = QDir::homePath();
    const QString folder =
        QFileDialog::getExistingDirectory(this, tr("Data folder for %1").arg(qs(task->dataset)), start);
    if (folder.isEmpty()) return;
    m_dataRoots[qs(task->dataset)] = folder;
    m_form.params[kDataRoot] = folder.toStdString();
    m_populating = true;
    refreshTaskInfo();
    m_populating = false;
    edited();
}

void ExperimentDesigner::onOtherKeyEdited(QTableWidgetItem* item) {
    if (m_populating || !item || item->column() != 1) return;
    const QTableWidgetItem* keyItem = m_otherKeys->item(item->row(), 0);
    if (!keyItem) return;
    const std::string key = keyItem->text().toStdString();
    const std::string text = item->text().toStdString();
    std::string canonical = text;
    if (const auto d = declOf(key)) {
        try {
            canonical = canonicalParamValue(*d, text, "Other keys");
        } catch (const Error& e) {
            showNote(QString::fromUtf8(e.what()));
            m_populating = true;
            item->setText(qs(m_form.params[key]));
            m_populating = false;
            return;
        }
    }
    showNote(QString());
    if (canonical != text) {
        m_populating = true;
        item->setText(qs(canonical));
        m_populating = false;
    }
    if (m_form.params[key] == canonical) return;
    m_form.params[key] = canonical;
    edited();
}

void ExperimentDesigner::onAddOtherKey() {
    const int index = m_otherKeyChoice->currentIndex();
    if (index < 0) return;
    const std::string key = m_otherKeyChoice->itemData(index).toString().toStdString();
    m_form.params[key] = m_form.paramValue(key, m_tasks);
    refreshOtherKeys();
    const auto found = m_otherKeys->findItems(qs(key), Qt::MatchExactly);
    if (!found.isEmpty()) m_otherKeys->setCurrentCell(found.front()->row(), 1);
    edited();
}

void ExperimentDesigner::onRemoveOtherKey() {
    const int row = m_otherKeys->currentRow();
    if (row < 0 || !m_otherKeys->item(row, 0)) return;
    m_form.params.erase(m_otherKeys->item(row, 0)->text().toStdString());
    refreshOtherKeys();
    edited();
}

int ExperimentDesigner::selectedLossRow() const {
    const QModelIndex current = m_lossView->selectionModel()->currentIndex();
    return current.isValid() && current.row() < m_lossModel->rowCount() ? current.row() : -1;
}

void ExperimentDesigner::addLoss(LossKind kind, bool paperPreset) {
    FormLoss loss;
    loss.kind = kind;
    loss.paperPreset = kind == LossKind::Square && paperPreset;
    bool ok = false;
    const double lr = qs(m_form.paramValue("train.lr", m_tasks)).toDouble(&ok);
    if (ok && std::isfinite(lr) && lr > 0) loss.lr = lr;
    const int row = m_lossModel->addLoss(loss);
    m_lossView->setCurrentIndex(m_lossModel->index(row, LossTableModel::LrColumn));
    refreshDerived();
}

void ExperimentDesigner::onRemoveLoss() {
    const int row = selectedLossRow();
    if (row >= 0) m_lossModel->removeLoss(row);
    refreshDerived();
}

void ExperimentDesigner::onPaperPreset() {
    const int row = selectedLossRow();
    if (row >= 0) m_lossModel->applyPaperPreset(row);
}

} // namespace losslab
