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
#include "losslab/spec/run_recipe.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/compute_setup.h"
#include "workbench/experiment_designer_keys.h"
#include "workbench/loss_table_model.h"

namespace losslab {

using namespace designer;

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

bool ExperimentDesigner::isPathKey(const std::string& key) const {
    const auto d = declOf(key);
    return d && d->type == ParamType::Path;
}

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
    refreshSweep();
    setSweepExpanded(!m_form.sweep.empty());
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
    m_taskDataset->setText(task->dataFormat.empty() ? qs(task->dataset)
                                                    : tr("%1 \u2014 %2").arg(qs(task->dataset), qs(task->dataFormat)));
    refreshModelText();
    QStringList names;
    for (const auto& n : task->classNames) names << qs(n);
    if (task->numClasses == 0)
        m_taskClasses->setText(tr("from the data: set data.classes"));
    else
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
        // A folder, or for the character corpora the data set's single file itself.
        if (QFileInfo::exists(inUse)) {
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
    const QTableWidgetItem* currentKey = m_otherKeys->currentRow() >= 0 ? m_otherKeys->item(m_otherKeys->currentRow(), 0) : nullptr;
    m_chooseFile->setEnabled(currentKey && isPathKey(currentKey->text().toStdString()));
    m_addOtherKey->setEnabled(m_otherKeyChoice->count() > 0);

    // Swept square losses without a name are named "square" by the loader (the first of them
    // while no loss has that name): the loss table shows them so.
    {
        std::vector<std::string> names;
        const Rescaling paper = task ? taskPaperRescaling(*task) : Rescaling{};
        for (const FormLoss& l : losses) names.push_back(l.displayName(paper));
        std::vector<bool> swept(losses.size(), false);
        for (std::size_t i = 0; i < losses.size(); ++i) {
            const FormLoss& l = losses[i];
            if (l.kind != LossKind::Square || !l.name.empty() || names[i] == "square") continue;
            const bool km = std::any_of(m_form.sweep.begin(), m_form.sweep.end(), [&](const FormSweepAxis& a) {
                return a.key == "losses.*.k" || a.key == "losses.*.M" || a.key == "losses." + std::to_string(i) + ".k" ||
                       a.key == "losses." + std::to_string(i) + ".M";
            });
            if (km && std::find(names.begin(), names.end(), "square") == names.end()) {
                names[i] = "square";
                swept[i] = true;
            }
        }
        const bool wasPopulating = m_populating;
        m_populating = true;
        m_lossModel->setKmSwept(swept);
        m_populating = wasPopulating;
    }
    refreshSweepKeys();
    m_removeSweepAxis->setEnabled(m_sweepTable->currentRow() >= 0);
    m_addSweepAxis->setEnabled(m_sweepKeyChoice->count() > 0);
    refreshCounts();
}

void ExperimentDesigner::refreshCounts() {
    auto count = [](std::size_t n, const QString& one, const QString& many) {
        return QStringLiteral("%1 %2").arg(n).arg(n == 1 ? one : many);
    };
    try {
        const ExperimentSpec spec = experiment();
        // Which protocols each loss runs (same epochs as CE is for square losses only), from
        // the runs of one seed without the sweep; each of its configurations runs them all.
        // Counted, not expanded: a large grid would stall the window at every edit.
        ExperimentSpec single = spec;
        single.sweep.clear();
        if (!spec.seeds.empty()) single.seeds = {spec.seeds.front()};
        const std::vector<RunSpec> planned = single.expand();
        QStringList perLoss;
        QStringList configurations;
        std::size_t perSeed = 0;
        for (std::size_t i = 0; i < spec.losses.size(); ++i) {
            const LossSpec& loss = spec.losses[i];
            QStringList protocols;
            for (const RunSpec& run : planned) {
                const QString name = run.protocol == Protocol::EarlyStopping  ? tr("early stopping")
                                     : run.protocol == Protocol::SameEpochsAsCe ? tr("same epochs as CE")
                                                                                : tr("fixed epochs");
                if (run.loss.name == loss.name && !protocols.contains(name)) protocols << name;
            }
            const std::size_t configs = spec.configurationsOf(i);
            perSeed += configs * static_cast<std::size_t>(protocols.size());
            const QString label = configs == 1 ? qs(loss.name)
                                               : tr("%1 \u00d7%2").arg(qs(loss.name)).arg(configs);
            if (!protocols.isEmpty()) perLoss << label + QStringLiteral(": ") + protocols.join(QStringLiteral(", "));
            configurations << QStringLiteral("%1 %2").arg(qs(loss.name)).arg(configs);
        }
        const std::size_t runs = perSeed * spec.seeds.size();
        m_status->setStyleSheet(QString());
        m_status->setText(tr("%1 = %2 \u00d7 %3 (%4)")
                              .arg(count(runs, tr("run"), tr("runs")), count(spec.seeds.size(), tr("seed"), tr("seeds")))
                              .arg(perSeed)
                              .arg(perLoss.join(QStringLiteral("; "))));
        m_sweepCount->setStyleSheet(QString());
        if (spec.sweep.empty()) {
            m_sweepCount->setText(tr("No sweep: each loss runs once per protocol and seed. Add an axis to run a "
                                     "grid of values."));
        } else {
            QStringList sizes;
            for (const SweepAxis& axis : spec.sweep) sizes << QString::number(axis.values.size());
            const QString grid = spec.sweep.size() == 1 ? tr("%1 values").arg(sizes.front())
                                                        : tr("%1 grid").arg(sizes.join(QStringLiteral(" \u00d7 ")));
            m_sweepCount->setText(tr("%1: %2 \u00d7 %3 \u2192 %4\nConfigurations per loss: %5")
                                      .arg(grid, count(spec.gridPointCount(), tr("point"), tr("points")),
                                           count(spec.seeds.size(), tr("seed"), tr("seeds")),
                                           count(runs, tr("run"), tr("runs")),
                                           configurations.join(QStringLiteral(", "))));
        }
    } catch (const std::exception& e) { // Error, and anything a library below throws
        const QString message = QString::fromUtf8(e.what());
        m_status->setStyleSheet(QStringLiteral("QLabel { color: #b00020; }"));
        m_status->setText(tr("Cannot run yet: %1").arg(message));
        m_sweepCount->setStyleSheet(m_form.sweep.empty() ? QString() : QStringLiteral("QLabel { color: #b00020; }"));
        m_sweepCount->setText(m_form.sweep.empty() ? tr("No sweep.") : message);
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
    refreshSweep();
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

void ExperimentDesigner::setFilePicker(std::function<QString(const QString& key, const QString& start)> pick) {
    m_pickFile = std::move(pick);
}

void ExperimentDesigner::onChooseOtherKeyFile() {
    const int row = m_otherKeys->currentRow();
    if (row < 0 || !m_otherKeys->item(row, 0) || !m_otherKeys->item(row, 1)) return;
    const QString key = m_otherKeys->item(row, 0)->text();
    if (!isPathKey(key.toStdString())) return;
    QString start = m_otherKeys->item(row, 1)->text().trimmed();
    if (start.isEmpty() || !QFileInfo(start).exists()) start = QDir::homePath();
    const QString file = m_pickFile ? m_pickFile(key, start)
                                    : QFileDialog::getOpenFileName(this, tr("File for %1").arg(key), start);
    if (file.isEmpty()) return;
    m_otherKeys->item(row, 1)->setText(file); // checked and stored by onOtherKeyEdited
}

// ---- sweep ----------------------------------------------------------------------------------

namespace {

// What a sweep key varies, for its tooltip and the key list: "k of loss 1 ('square')".
QString lossAxisText(const std::string& key, const std::vector<FormLoss>& losses, const Rescaling& paper) {
    const std::size_t dot = key.find('.', 7);
    if (key.rfind("losses.", 0) != 0 || dot == std::string::npos) return {};
    const std::string index = key.substr(7, dot - 7), field = key.substr(dot + 1);
    const QString what = field == "lr" ? QObject::tr("learning rate") : qs(field);
    if (index == "*")
        return field == "lr" ? QObject::tr("learning rate of every loss")
                             : QObject::tr("%1 of every square loss").arg(what);
    bool ok = false;
    const int n = qs(index).toInt(&ok);
    if (!ok || n < 0 || static_cast<std::size_t>(n) >= losses.size()) return QObject::tr("%1 of loss %2").arg(what, qs(index));
    return QObject::tr("%1 of loss %2 ('%3')").arg(what, qs(index), qs(losses[static_cast<std::size_t>(n)].displayName(paper)));
}

} // namespace

void ExperimentDesigner::setSweepExpanded(bool expanded) {
    m_sweepBody->setVisible(expanded);
    m_sweepToggle->setArrowType(expanded ? Qt::DownArrow : Qt::RightArrow);
    if (m_sweepToggle->isChecked() != expanded) {
        const QSignalBlocker block(m_sweepToggle);
        m_sweepToggle->setChecked(expanded);
    }
}

void ExperimentDesigner::refreshSweep() {
    const bool wasPopulating = m_populating;
    m_populating = true;
    const TaskInfo* task = currentTask();
    const Rescaling paper = task ? taskPaperRescaling(*task) : Rescaling{};
    m_sweepTable->setRowCount(0);
    for (const FormSweepAxis& axis : m_form.sweep) {
        const int row = m_sweepTable->rowCount();
        m_sweepTable->insertRow(row);
        auto* keyItem = new QTableWidgetItem(qs(axis.key));
        keyItem->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable);
        QString tip = lossAxisText(axis.key, m_lossModel->losses(), paper);
        if (tip.isEmpty())
            if (const auto d = declOf(axis.key))
                tip = qs(d->help) + QStringLiteral(" (") + qs(paramTypeName(d->type)) + QStringLiteral(")");
        keyItem->setToolTip(tip);
        auto* valuesItem = new QTableWidgetItem(qs(axis.values));
        valuesItem->setToolTip(m_sweepTable->toolTip());
        m_sweepTable->setItem(row, 0, keyItem);
        m_sweepTable->setItem(row, 1, valuesItem);
    }
    m_sweepToggle->setText(m_form.sweep.empty() ? tr("Axes: none") : tr("Axes: %1").arg(m_form.sweep.size()));
    m_populating = wasPopulating;
}

void ExperimentDesigner::refreshSweepKeys() {
    const bool wasPopulating = m_populating;
    m_populating = true;
    const QString current = m_sweepKeyChoice->currentData().toString();
    m_sweepKeyChoice->clear();
    const std::vector<FormLoss>& losses = m_lossModel->losses();
    const TaskInfo* task = currentTask();
    const Rescaling paper = task ? taskPaperRescaling(*task) : Rescaling{};
    auto swept = [this](const std::string& key) {
        return std::any_of(m_form.sweep.begin(), m_form.sweep.end(), [&](const FormSweepAxis& a) { return a.key == key; });
    };
    // losses.*.k and losses.N.k sweep the same k twice: the loader refuses both together.
    auto anyOwn = [&](const std::string& field) {
        for (std::size_t i = 0; i < losses.size(); ++i)
            if (swept("losses." + std::to_string(i) + "." + field)) return true;
        return false;
    };
    auto offer = [&](const std::string& key, const QString& tip) {
        if (swept(key)) return;
        m_sweepKeyChoice->addItem(qs(key), qs(key));
        m_sweepKeyChoice->setItemData(m_sweepKeyChoice->count() - 1, tip, Qt::ToolTipRole);
    };
    const bool anySquare =
        std::any_of(losses.begin(), losses.end(), [](const FormLoss& l) { return l.kind == LossKind::Square; });
    for (const char* field : {"lr", "k", "M"}) {
        const bool squareOnly = std::string(field) != "lr";
        const std::string every = std::string("losses.*.") + field;
        for (std::size_t i = 0; i < losses.size(); ++i) {
            if (squareOnly && losses[i].kind != LossKind::Square) continue;
            if (swept(every)) continue;
            const std::string key = "losses." + std::to_string(i) + "." + field;
            offer(key, lossAxisText(key, losses, paper));
        }
        if ((!squareOnly || anySquare) && !anyOwn(field)) offer(every, lossAxisText(every, losses, paper));
    }
    const std::vector<ParamDecl> decls = task ? taskParamDecls(*task) : coreParamDecls();
    for (const auto& d : decls) {
        // train.lr only sets the losses' rates: the loader asks for losses.*.lr instead.
        if (d.key == "train.lr" || isRecipeExcludedKey(d.key)) continue;
        offer(d.key, qs(d.help));
    }
    const int again = m_sweepKeyChoice->findData(current);
    m_sweepKeyChoice->setCurrentIndex(again >= 0 ? again : 0);
    m_populating = wasPopulating;
}

void ExperimentDesigner::onSweepValuesEdited(QTableWidgetItem* item) {
    if (m_populating || !item || item->column() != 1) return;
    const int row = item->row();
    if (row < 0 || static_cast<std::size_t>(row) >= m_form.sweep.size()) return;
    const auto decl = declOf(m_form.sweep[static_cast<std::size_t>(row)].key);
    const bool listValued = decl && (decl->type == ParamType::IntList || decl->type == ParamType::DoubleList);
    const std::string values = normaliseSweepValues(item->text().toStdString(), listValued);
    if (qs(values) != item->text()) {
        m_populating = true;
        item->setText(qs(values));
        m_populating = false;
    }
    if (m_form.sweep[static_cast<std::size_t>(row)].values == values) return;
    m_form.sweep[static_cast<std::size_t>(row)].values = values;
    edited();
}

void ExperimentDesigner::onAddSweepAxis() {
    const int index = m_sweepKeyChoice->currentIndex();
    if (index < 0) return;
    const std::string key = m_sweepKeyChoice->itemData(index).toString().toStdString();
    // The axis starts from the value in use, so that the grid holds the current run.
    std::string values;
    if (key.rfind("losses.", 0) == 0) {
        const std::vector<FormLoss>& losses = m_lossModel->losses();
        const TaskInfo* task = currentTask();
        const Rescaling paper = task ? taskPaperRescaling(*task) : Rescaling{};
        const std::string field = key.substr(key.find_last_of('.') + 1);
        const std::string n = key.substr(7, key.find_last_of('.') - 7);
        for (std::size_t i = 0; i < losses.size() && values.empty(); ++i) {
            if (n != "*" && n != std::to_string(i)) continue;
            const FormLoss& l = losses[i];
            if (field == "lr") values = formatShortest(l.lr);
            else if (l.kind == LossKind::Square) values = formatShortest(field == "k" ? l.effectiveK(paper) : l.effectiveM(paper));
        }
    } else {
        values = formatSweepValues({m_form.paramValue(key, m_tasks)});
    }
    m_form.sweep.push_back({key, values});
    refreshSweep();
    setSweepExpanded(true);
    m_sweepTable->setCurrentCell(m_sweepTable->rowCount() - 1, 1);
    edited();
}

void ExperimentDesigner::onRemoveSweepAxis() {
    const int row = m_sweepTable->currentRow();
    if (row < 0 || static_cast<std::size_t>(row) >= m_form.sweep.size()) return;
    m_form.sweep.erase(m_form.sweep.begin() + row);
    refreshSweep();
    edited();
}

void ExperimentDesigner::fitSweepToLosses(const std::vector<int>& newIndexOf, const QString& why) {
    const std::vector<FormSweepAxis> before = m_form.sweep;
    m_form.losses = m_lossModel->losses();
    const std::vector<std::string> dropped = m_form.refitSweep(newIndexOf);
    // Kept axes stay in order; pair them with their old keys to name the renumbered ones.
    QStringList droppedKeys, renamed;
    std::size_t d = 0, k = 0;
    for (const FormSweepAxis& axis : before) {
        if (d < dropped.size() && axis.key == dropped[d]) {
            droppedKeys << qs(dropped[d++]);
        } else if (k < m_form.sweep.size()) {
            if (m_form.sweep[k].key != axis.key)
                renamed << QStringLiteral("%1 \u2192 %2").arg(qs(axis.key), qs(m_form.sweep[k].key));
            ++k;
        }
    }
    refreshSweep();
    edited();
    QStringList note;
    if (!droppedKeys.isEmpty())
        note << tr("Sweep: removed %1 (%2).").arg(droppedKeys.join(QStringLiteral(", ")), why);
    if (!renamed.isEmpty()) note << tr("Sweep: renumbered %1.").arg(renamed.join(QStringLiteral(", ")));
    if (!note.isEmpty()) showNote(note.join(QLatin1Char(' ')));
}

void ExperimentDesigner::onLossRowsRemoved(int first, int last) {
    if (m_populating) return;
    const int removed = last - first + 1;
    const int before = m_lossModel->rowCount() + removed;
    std::vector<int> newIndexOf(static_cast<std::size_t>(before));
    for (int i = 0; i < before; ++i) newIndexOf[static_cast<std::size_t>(i)] = i < first ? i : i > last ? i - removed : -1;
    fitSweepToLosses(newIndexOf, removed == 1 ? tr("it named the removed loss") : tr("they named removed losses"));
}

void ExperimentDesigner::onLossRowsMoved(int start, int end, int destination) {
    if (m_populating) return;
    // Rows start..end were moved before old row `destination`.
    const int count = m_lossModel->rowCount();
    std::vector<int> order; // order[new] = old
    for (int i = 0; i < count; ++i)
        if (i < start || i > end) order.push_back(i);
    const int insertAt = static_cast<int>(std::count_if(order.begin(), order.end(), [&](int i) { return i < destination; }));
    for (int i = end; i >= start; --i) order.insert(order.begin() + insertAt, i);
    std::vector<int> newIndexOf(static_cast<std::size_t>(count));
    for (int now = 0; now < count; ++now) newIndexOf[static_cast<std::size_t>(order[static_cast<std::size_t>(now)])] = now;
    fitSweepToLosses(newIndexOf, tr("the moved loss is not a square loss"));
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
