#pragma once
// The experiment designer: a form for one experiment, read from and written as the YAML that
// `losslab-cli run` takes. It holds what the file states (ExperimentForm); every key it does
// not show in its own widget is kept in the "Other keys" table, so nothing of a loaded file
// is dropped. Laid out for a narrow dock (~380 px) and scrolls.
// The "Sweep" section edits the file's `sweep:` block (one row per axis: a key chosen from the
// losses' and the task's keys, its values as typed) and shows the grid and the run count of
// experiment(), or the loader's message when the sweep does not resolve. Removing a loss drops
// the axes that name it and renumbers those of the losses after it (the note says so).
//
// Promises: loadYaml() either fills the whole form or throws Error and changes nothing;
// loadYaml(toYaml()) gives the same form; experiment() resolves the form exactly as
// losslab-cli would resolve toYaml().
// GUI thread only. The TaskRegistry must outlive the designer.
#include <QMap>
#include <QString>
#include <QWidget>

#include <functional>
#include <optional>
#include <string>

#include "losslab/spec/experiment_spec.h"
#include "workbench/experiment_form.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;
class QStackedWidget;
class QTableView;
class QTableWidget;
class QTableWidgetItem;
class QToolButton;

namespace losslab {

class LossTableModel;
class TaskRegistry;

class ExperimentDesigner : public QWidget {
    Q_OBJECT
public:
    explicit ExperimentDesigner(const TaskRegistry& tasks, QWidget* parent = nullptr);

    // Fills the form from experiment YAML (as losslab-cli runs it). On bad input throws
    // losslab::Error whose message names `displayName`, the line and the key, and leaves the
    // form unchanged. When the file sets no data.root, the folder remembered for the task's
    // dataset (setDataRoots) is used. Clears the modified flag.
    void loadYaml(const QString& yamlText, const QString& displayName);
    // The form as experiment YAML; loadYaml(toYaml()) gives the same form.
    QString toYaml() const;
    // The form resolved through loadExperimentText; throws Error.
    ExperimentSpec experiment() const;
    // The name errors are reported under ("default.yaml"); set by loadYaml.
    QString displayName() const { return m_displayName; }

    // Dataset name (TaskInfo::dataset) -> data folder, e.g. from the settings. Used as
    // data.root when the YAML has none; "Browse..." adds to it.
    void setDataRoots(const QMap<QString, QString>& roots);
    QMap<QString, QString> dataRoots() const { return m_dataRoots; }

    // What "Choose file..." of the other keys asks: the file for `key` (a file key:
    // model.file, model.vocab, model.embeddings), starting at `start`; "" when cancelled. The
    // default is a file dialog; tests set their own.
    void setFilePicker(std::function<QString(const QString& key, const QString& start)> pick);

    // How many CUDA devices the device list offers (cuda:0 .. cuda:N-1). The constructor asks
    // LibTorch (cudaDeviceCount()); tests and a GPU-less preview may set it.
    void setCudaDeviceCount(int count);

    bool isModified() const { return m_modified; }
    void setModified(bool modified) { m_modified = modified; }

signals:
    void changed(); // any edit, and after loadYaml

private:
    void buildUi();
    ExperimentForm currentForm() const; // m_form with the losses of the table
    void populate();           // every widget from m_form
    void refreshTaskInfo();
    void refreshModelText(); // the task's model, and what the experiment changes in it    // info panel, data folder and warning
    void refreshDedicated();   // spin boxes and combos that show one key each
    void refreshOtherKeys();   // the other-keys table and its key choices
    void refreshDeviceItems();
    void refreshDerived();     // protocol note, button states, status and sweep lines
    void refreshSweep();       // the sweep table from m_form.sweep
    void refreshSweepKeys();   // the keys the sweep offers: the current losses', the task's
    void refreshCounts();      // status line and sweep line from experiment()
    void setSweepExpanded(bool expanded);
    void edited();             // after a user edit: modified, derived state, changed()
    void showNote(const QString& note);

    void onTaskChosen(int index);
    void onProtocolToggled();
    void onSeedsEdited();
    void onDedicatedEdited(const std::string& key, const std::string& value);
    void onDataFolderEdited(const QString& text);
    void onBrowseDataFolder();
    void onOtherKeyEdited(QTableWidgetItem* item);
    void onAddOtherKey();
    void onRemoveOtherKey();
    void onChooseOtherKeyFile();
    void onSweepValuesEdited(QTableWidgetItem* item);
    void onAddSweepAxis();
    void onRemoveSweepAxis();
    void onLossRowsRemoved(int first, int last);
    void onLossRowsMoved(int start, int end, int destination);
    void fitSweepToLosses(const std::vector<int>& newIndexOf, const QString& why);
    void addLoss(LossKind kind, bool paperPreset);
    void onRemoveLoss();
    void onPaperPreset();
    int selectedLossRow() const;
    void useRememberedDataRoot();
    std::optional<ParamDecl> declOf(const std::string& key) const; // core or task declaration
    bool isPathKey(const std::string& key) const;                  // declared ParamType::Path
    const TaskInfo* currentTask() const;

    const TaskRegistry& m_tasks;
    ExperimentForm m_form; // everything but the losses, which live in m_lossModel
    QString m_displayName = QStringLiteral("untitled.yaml");
    QMap<QString, QString> m_dataRoots;
    int m_cudaDevices = 0;
    bool m_modified = false;
    bool m_populating = false;

    LossTableModel* m_lossModel = nullptr;

    QLineEdit* m_name = nullptr;
    QPlainTextEdit* m_description = nullptr;
    QComboBox* m_task = nullptr;
    QLabel* m_taskDescription = nullptr;
    QLabel* m_taskDataset = nullptr;
    QLabel* m_taskModel = nullptr;
    QLabel* m_taskClasses = nullptr;
    QLabel* m_taskNote = nullptr;
    QLineEdit* m_dataFolder = nullptr;
    QPushButton* m_browse = nullptr;
    QLabel* m_dataInUse = nullptr;
    QLabel* m_dataWarning = nullptr;
    QTableView* m_lossView = nullptr;
    QPushButton* m_addCe = nullptr;
    QPushButton* m_addSquare = nullptr;
    QPushButton* m_addRescaled = nullptr;
    QPushButton* m_paperPreset = nullptr;
    QPushButton* m_removeLoss = nullptr;
    QLabel* m_paperInfo = nullptr;
    QCheckBox* m_earlyStopping = nullptr;
    QCheckBox* m_sameEpochs = nullptr;
    QCheckBox* m_fixedEpochs = nullptr;
    QLabel* m_protocolNote = nullptr;
    QComboBox* m_seedsMode = nullptr;
    QStackedWidget* m_seedsStack = nullptr;
    QSpinBox* m_seedCount = nullptr;
    QLineEdit* m_seedList = nullptr;
    QSpinBox* m_batchSize = nullptr;
    QSpinBox* m_maxEpochs = nullptr;
    QSpinBox* m_patience = nullptr;
    QComboBox* m_optimizer = nullptr;
    QComboBox* m_device = nullptr;
    QSpinBox* m_runsPerDevice = nullptr;
    QTableWidget* m_otherKeys = nullptr;
    QComboBox* m_otherKeyChoice = nullptr;
    QPushButton* m_addOtherKey = nullptr;
    QPushButton* m_removeOtherKey = nullptr;
    QPushButton* m_chooseFile = nullptr;
    QToolButton* m_sweepToggle = nullptr;
    QWidget* m_sweepBody = nullptr;
    QTableWidget* m_sweepTable = nullptr;
    QComboBox* m_sweepKeyChoice = nullptr;
    QPushButton* m_addSweepAxis = nullptr;
    QPushButton* m_removeSweepAxis = nullptr;
    QLabel* m_sweepCount = nullptr;
    std::function<QString(const QString&, const QString&)> m_pickFile;
    QLabel* m_note = nullptr;
    QLabel* m_status = nullptr;
};

} // namespace losslab
