// The experiment designer: its YAML round trip against the loader (every shipped preset),
// edits made through its widgets, the paper's k/M preset, bad input and the data-folder
// warning. Widgets are found by objectName; the form is checked through the YAML it writes,
// resolved by the same loader that losslab-cli uses.
#include <gtest/gtest.h>

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QWheelEvent>
#include <QApplication>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "error_matchers.h"
#include "losslab/error.h"
#include "losslab/losses/paper_rescaling.h"
#include "losslab/spec/experiment_spec.h"
#include "losslab/tasks/plugin_loader.h"
#include "losslab/tasks/task_registry.h"
#include "losslab/training/compute_setup.h"
#include "toy_registry.h"
#include "workbench/experiment_designer.h"
#include "workbench/experiment_form.h"
#include "workbench/loss_table_model.h"

namespace fs = std::filesystem;
using namespace losslab;
using losslab::fixtures::throwsErrorWith;

namespace {

// The vision plugin's tasks and the toy task, registered once for all tests.
const TaskRegistry& registry() {
    static TaskRegistry* tasks = [] {
        auto* r = new TaskRegistry;
        loadPlugins(*r, {LOSSLAB_PLUGIN_BUILD_DIR});
        fixtures::addToyTask(*r);
        fixtures::addToyTask(*r, "toy/files", 600, true);
        return r;
    }();
    return *tasks;
}

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::string> shippedPresets() {
    std::vector<std::string> paths;
    for (const auto& entry : fs::directory_iterator(fs::path(LOSSLAB_SOURCE_DIR) / "resources" / "experiments"))
        if (entry.path().extension() == ".yaml") paths.push_back(entry.path().string());
    std::sort(paths.begin(), paths.end());
    return paths;
}

std::string presetPath(const std::string& name) {
    return (fs::path(LOSSLAB_SOURCE_DIR) / "resources" / "experiments" / name).string();
}

ExperimentSpec resolveYaml(const QString& yaml) {
    return loadExperimentText(yaml.toStdString(), "designer.yaml", {}, registry());
}

template <typename T>
T* widget(const ExperimentDesigner& designer, const char* name) {
    T* w = designer.findChild<T*>(QString::fromLatin1(name));
    EXPECT_NE(w, nullptr) << "no widget named " << name;
    return w;
}

bool shown(const QWidget* w, const ExperimentDesigner& designer) { return w && w->isVisibleTo(&designer); }

// Loads a shipped preset into a designer; the test fails where the plugins were not built.
void loadPreset(ExperimentDesigner& designer, const std::string& file) {
    const std::string path = presetPath(file);
    designer.loadYaml(QString::fromStdString(readFile(path)), QString::fromStdString(path));
}

void selectLossRow(ExperimentDesigner& designer, int row) {
    auto* view = widget<QTableView>(designer, "lossTable");
    view->setCurrentIndex(view->model()->index(row, LossTableModel::NameColumn));
}

} // namespace

// ---- round trip -----------------------------------------------------------------------------

TEST(DesignerRoundTrip, EveryShippedPresetGivesTheSameRunsAsTheFile) {
    ASSERT_NE(registry().findInfo("fashion_mnist/mlp"), nullptr) << "the vision plugin did not load";
    const std::vector<std::string> presets = shippedPresets();
    ASSERT_GE(presets.size(), 3u);
    for (const auto& path : presets) {
        SCOPED_TRACE(path);
        const ExperimentSpec direct = loadExperimentFile(path, {}, registry());
        ExperimentDesigner designer(registry());
        designer.loadYaml(QString::fromStdString(readFile(path)), QString::fromStdString(path));
        const QString yaml = designer.toYaml();
        const ExperimentSpec viaDesigner = loadExperimentText(yaml.toStdString(), path, {}, registry());
        EXPECT_EQ(viaDesigner.toYaml(), direct.toYaml()) << yaml.toStdString();
        const std::vector<RunSpec> a = direct.expand(), b = viaDesigner.expand();
        ASSERT_EQ(a.size(), b.size());
        for (std::size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(b[i].toYaml(), a[i].toYaml()) << "run " << i;
            EXPECT_EQ(b[i].dependsOn, a[i].dependsOn) << "run " << i;
        }
        EXPECT_EQ(designer.experiment().toYaml(), direct.toYaml());
        EXPECT_FALSE(designer.isModified());

        // The designer's own YAML loads back into the same form.
        ExperimentDesigner again(registry());
        again.loadYaml(yaml, QString::fromStdString(path));
        EXPECT_EQ(again.toYaml(), yaml);
    }
}

TEST(DesignerRoundTrip, KeysTheFileStatesAreKeptEvenAtTheirDefault) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "default.yaml");
    const ExperimentSpec spec = resolveYaml(designer.toYaml());
    const std::string yaml = designer.toYaml().toStdString();
    // default.yaml states momentum 0.9 and val_fraction auto, both the defaults.
    EXPECT_NE(yaml.find("momentum: 0.9"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("val_fraction: auto"), std::string::npos) << yaml;
    EXPECT_NE(yaml.find("preset: paper"), std::string::npos) << yaml;
    // ...and shows the keys without a widget of their own in "Other keys".
    auto* other = widget<QTableWidget>(designer, "otherKeysTable");
    QStringList keys;
    for (int r = 0; r < other->rowCount(); ++r) keys << other->item(r, 0)->text();
    EXPECT_TRUE(keys.contains("model.hidden")) << keys.join(", ").toStdString();
    EXPECT_TRUE(keys.contains("data.limit_train"));
    EXPECT_TRUE(keys.contains("train.momentum"));
    EXPECT_FALSE(keys.contains("train.batch_size")) << "batch size has its own spin box";
    EXPECT_EQ(spec.params.raw("model.hidden"), "[256]");
}

TEST(DesignerRoundTrip, NamesAndTextsWithYamlSyntaxSurvive) {
    ExperimentDesigner designer(registry());
    const QString text = QStringLiteral(
        "name: \"a: b # not a comment\"\n"
        "description: \"two\\nlines, with \\\"quotes\\\" and \\\\ backslash\"\n"
        "task: toy/blobs\n"
        "seeds: [7, 3]\n"
        "losses:\n"
        "  - {loss: ce, name: \"null\", lr: 0.01}\n"
        "  - {loss: square, k: 2.5, M: 3, lr: 0.2}\n"
        "  - {loss: square, name: \"sq, big\", k: 15, M: 30}\n"
        "  - {loss: square, name: \"- x\", preset: paper, M: 4, lr: 5e-05}\n"
        "model: {hidden: 8}\n");
    designer.loadYaml(text, "odd.yaml");
    const ExperimentSpec direct = loadExperimentText(text.toStdString(), "odd.yaml", {}, registry());
    const ExperimentSpec via = resolveYaml(designer.toYaml());
    EXPECT_EQ(via.name, "a: b # not a comment");
    EXPECT_EQ(via.description, direct.description);
    EXPECT_EQ(via.toYaml(), direct.toYaml()) << designer.toYaml().toStdString();
    ASSERT_EQ(via.losses.size(), 4u);
    EXPECT_EQ(via.losses[0].name, "null");
    EXPECT_EQ(via.losses[1].name, "square_k2.5_M3");
    EXPECT_EQ(via.losses[2].name, "sq, big");
    EXPECT_EQ(via.losses[3].preset, "paper");
    EXPECT_EQ(via.losses[3].M, 4.0);
    EXPECT_EQ(via.seeds, (std::vector<std::int64_t>{7, 3}));
}

// ---- the Qt-free form -----------------------------------------------------------------------

TEST(DesignerForm, FindsSectionKeysInBlockAndFlowStyle) {
    const std::set<std::string> keys = sectionKeysStated(
        "task: x   # train: {lr: 1}\n"
        "train:\n"
        "  lr: 0.1      # comment\n"
        "  milestones:\n"
        "    - 10\n"
        "  \"momentum\": 0.9\n"
        "\n"
        "data: {root: \"a, b: c\", val_fraction: 0.2,\n"
        "       limit_train: 5}\n"
        "model:\n"
        "    hidden: [1, 2]\n"
        "runner: {}\n"
        "name: train\n");
    EXPECT_EQ(keys, (std::set<std::string>{"train.lr", "train.milestones", "train.momentum", "data.root",
                                           "data.val_fraction", "data.limit_train", "model.hidden"}));
}

TEST(DesignerForm, SwitchingTheTaskDropsKeysTheNewTaskLacks) {
    ExperimentForm form = ExperimentForm::fromYaml(readFile(presetPath("default.yaml")), "default.yaml", registry());
    ASSERT_TRUE(form.params.count("model.hidden"));
    const std::vector<std::string> dropped = form.switchTask("mnist/cnn", registry());
    EXPECT_EQ(dropped, std::vector<std::string>{"model.hidden"});
    EXPECT_EQ(form.params.count("train.momentum"), 1u);
    EXPECT_EQ(form.resolve("switched.yaml", registry()).taskId, "mnist/cnn");
}

TEST(DesignerForm, SeedListParsing) {
    EXPECT_EQ(parseSeedList("3, 17,42"), (std::vector<std::int64_t>{3, 17, 42}));
    EXPECT_EQ(parseSeedList("[0]"), (std::vector<std::int64_t>{0}));
    EXPECT_FALSE(parseSeedList("1, -2").has_value());
    EXPECT_FALSE(parseSeedList("1 2").has_value());
    EXPECT_FALSE(parseSeedList("[1, 2").has_value());
}

// ---- edits through the widgets --------------------------------------------------------------

TEST(DesignerEdits, WidgetsChangeTheYaml) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "default.yaml");
    QSignalSpy changed(&designer, &ExperimentDesigner::changed);

    // Learning rate of the square loss.
    auto* view = widget<QTableView>(designer, "lossTable");
    ASSERT_TRUE(view->model()->setData(view->model()->index(1, LossTableModel::LrColumn), "0.3"));
    EXPECT_EQ(resolveYaml(designer.toYaml()).losses[1].lr, 0.3);
    EXPECT_TRUE(designer.isModified());
    EXPECT_GE(changed.count(), 1);

    // A refused learning rate leaves the loss as it was and says why.
    EXPECT_FALSE(view->model()->setData(view->model()->index(1, LossTableModel::LrColumn), "-1"));
    EXPECT_EQ(resolveYaml(designer.toYaml()).losses[1].lr, 0.3);
    EXPECT_TRUE(shown(widget<QLabel>(designer, "designerNote"), designer));

    // A rescaled square loss with the paper's k and M.
    widget<QPushButton>(designer, "addRescaledSquareLoss")->click();
    ExperimentSpec spec = resolveYaml(designer.toYaml());
    ASSERT_EQ(spec.losses.size(), 3u);
    EXPECT_EQ(spec.losses[2].kind, LossKind::Square);
    EXPECT_EQ(spec.losses[2].preset, "paper");
    EXPECT_EQ(spec.losses[2].k, paperRescaling("", 10).k);
    EXPECT_EQ(spec.losses[2].M, paperRescaling("", 10).M);
    EXPECT_NE(spec.losses[2].name, spec.losses[1].name) << "a new loss gets a name of its own";

    // Protocols: untick "same epochs as CE".
    ASSERT_TRUE(widget<QCheckBox>(designer, "protocolSameEpochsAsCe")->isChecked());
    widget<QCheckBox>(designer, "protocolSameEpochsAsCe")->click();
    spec = resolveYaml(designer.toYaml());
    EXPECT_EQ(spec.protocols, std::vector<Protocol>{Protocol::EarlyStopping});
    widget<QCheckBox>(designer, "protocolFixedEpochs")->click();
    EXPECT_EQ(resolveYaml(designer.toYaml()).protocols,
              (std::vector<Protocol>{Protocol::EarlyStopping, Protocol::FixedEpochs}));

    // Seeds: a count, then a list typed by hand.
    widget<QSpinBox>(designer, "seedCount")->setValue(3);
    EXPECT_EQ(resolveYaml(designer.toYaml()).seeds, (std::vector<std::int64_t>{0, 1, 2}));
    widget<QComboBox>(designer, "seedsMode")->setCurrentIndex(1);
    auto* seedList = widget<QLineEdit>(designer, "seedList");
    seedList->clear();
    QTest::keyClicks(seedList, "3, 17, 42");
    EXPECT_EQ(resolveYaml(designer.toYaml()).seeds, (std::vector<std::int64_t>{3, 17, 42}));

    // Batch size, max epochs, optimizer.
    widget<QSpinBox>(designer, "batchSize")->setValue(64);
    widget<QSpinBox>(designer, "maxEpochs")->setValue(7);
    auto* optimizer = widget<QComboBox>(designer, "optimizer");
    optimizer->setCurrentIndex(optimizer->findText("adamw"));
    spec = resolveYaml(designer.toYaml());
    EXPECT_EQ(spec.params.getInt("train.batch_size"), 64);
    EXPECT_EQ(spec.params.getInt("train.max_epochs"), 7);
    EXPECT_EQ(spec.params.getString("train.optimizer"), "adamw");

    // Device: the CPU; runs per GPU no longer applies.
    auto* device = widget<QComboBox>(designer, "device");
    device->setCurrentIndex(device->findData("cpu"));
    EXPECT_EQ(resolveYaml(designer.toYaml()).device, "cpu");
    EXPECT_FALSE(widget<QSpinBox>(designer, "runsPerDevice")->isEnabled());

    // Removing a loss.
    selectLossRow(designer, 0);
    widget<QPushButton>(designer, "removeLoss")->click();
    spec = resolveYaml(designer.toYaml());
    ASSERT_EQ(spec.losses.size(), 2u);
    EXPECT_EQ(spec.losses[0].kind, LossKind::Square);

    // The status line counts the runs: 3 seeds x 4 loss-protocol pairs, each named.
    const QString status = widget<QLabel>(designer, "designerStatus")->text();
    EXPECT_TRUE(status.startsWith(QStringLiteral("12 runs = 3 seeds \u00d7 4 ("))) << status.toStdString();
    EXPECT_NE(status.indexOf(QStringLiteral("early stopping, fixed epochs")), -1) << status.toStdString();
}

// The wheel over an unfocused spin box or combo box scrolls the form; it changes nothing.
TEST(DesignerEdits, WheelChangesOnlyAFocusedField) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "default.yaml");
    designer.resize(500, 300);
    designer.show();
    ASSERT_TRUE(QTest::qWaitForWindowExposed(&designer));
    const QString before = designer.toYaml();
    auto wheelOver = [](QWidget* w, int steps) {
        const QPointF at(w->width() / 2.0, w->height() / 2.0);
        QWheelEvent event(at, w->mapToGlobal(at), QPoint(), QPoint(0, -120 * steps), Qt::NoButton, Qt::NoModifier,
                          Qt::NoScrollPhase, false);
        QApplication::sendEvent(w, &event);
    };
    auto* seeds = widget<QSpinBox>(designer, "seedCount");
    auto* mode = widget<QComboBox>(designer, "seedsMode");
    ASSERT_EQ(seeds->value(), 5);
    wheelOver(seeds, 3);
    wheelOver(mode, 1);
    EXPECT_EQ(seeds->value(), 5) << "an unfocused spin box took the wheel";
    EXPECT_EQ(mode->currentIndex(), 0) << "an unfocused combo box took the wheel";
    EXPECT_EQ(designer.toYaml(), before);
    EXPECT_FALSE(designer.isModified());

    // Once focused (clicked or tabbed to), the wheel steps it as usual.
    seeds->setFocus(Qt::OtherFocusReason);
    QApplication::processEvents();
    if (seeds->hasFocus()) {
        wheelOver(seeds, 1);
        EXPECT_EQ(seeds->value(), 4);
    }
}

// An error in edits names the file as edited, not the file as if it were broken; a note about a
// refused edit goes once an edit goes through.
TEST(DesignerEdits, ErrorsInEditsDoNotBlameTheFileAndStaleNotesGo) {
    ExperimentDesigner designer(registry());
    const std::string path = presetPath("default.yaml");
    designer.loadYaml(QString::fromStdString(readFile(path)), QString::fromStdString(path));
    auto* view = widget<QTableView>(designer, "lossTable");
    auto* model = qobject_cast<LossTableModel*>(view->model());
    ASSERT_NE(model, nullptr);
    // A refused learning rate: a note; then a valid one: the note goes.
    EXPECT_FALSE(model->setData(model->index(1, LossTableModel::LrColumn), "-1"));
    EXPECT_TRUE(shown(widget<QLabel>(designer, "designerNote"), designer));
    ASSERT_TRUE(model->setData(model->index(1, LossTableModel::LrColumn), "0.3"));
    EXPECT_FALSE(shown(widget<QLabel>(designer, "designerNote"), designer));
    // Below DBL_MIN (std::stod threw std::out_of_range on it, out of this edit's slot): a
    // learning rate the experiment takes as written.
    ASSERT_TRUE(model->setData(model->index(1, LossTableModel::LrColumn), "1e-310"));
    EXPECT_EQ(designer.experiment().losses.at(1).lr, 1e-310);

    while (model->rowCount() > 0) model->removeLoss(0);
    const QString status = widget<QLabel>(designer, "designerStatus")->text();
    EXPECT_TRUE(status.contains(QStringLiteral("default.yaml, as edited here: "))) << status.toStdString();
    EXPECT_FALSE(status.contains(QString::fromStdString(path))) << status.toStdString();
    try {
        designer.experiment();
        ADD_FAILURE() << "an experiment without losses was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("default.yaml, as edited here: losses", 0), 0u) << e.what();
    }
}

// The task panel names the task's model and what the experiment changes in it.
TEST(DesignerEdits, TaskModelSaysWhatTheExperimentChanges) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "default.yaml"); // fashion_mnist/mlp, model.hidden [256] (task: [512, 512])
    const QString model = widget<QLabel>(designer, "taskModel")->text();
    EXPECT_TRUE(model.contains(QStringLiteral("784-512-512-10 by default"))) << model.toStdString();
    EXPECT_TRUE(model.contains(QStringLiteral("this experiment: hidden [256]"))) << model.toStdString();

    // An edit of the key updates it; the task's own value gives the plain name back.
    auto* table = widget<QTableWidget>(designer, "otherKeysTable");
    int hidden = -1;
    for (int r = 0; r < table->rowCount(); ++r)
        if (table->item(r, 0)->text() == QStringLiteral("model.hidden")) hidden = r;
    ASSERT_GE(hidden, 0);
    table->item(hidden, 1)->setText(QStringLiteral("64"));
    EXPECT_TRUE(widget<QLabel>(designer, "taskModel")->text().contains(QStringLiteral("hidden [64]")));
    table->item(hidden, 1)->setText(QStringLiteral("512, 512"));
    EXPECT_EQ(widget<QLabel>(designer, "taskModel")->text(), QStringLiteral("MLP 784-512-512-10"));
}

// The default preset: cross-entropy trains only under early stopping, so 15 runs are 5 seeds x
// 3 (not 2 losses x 2 protocols x 5 seeds = 20).
TEST(DesignerEdits, RunCountNamesTheProtocolsOfEachLoss) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "default.yaml");
    EXPECT_EQ(widget<QLabel>(designer, "designerStatus")->text(),
              QStringLiteral("15 runs = 5 seeds \u00d7 3 (ce: early stopping; square: early stopping, same epochs as CE)"));
}

TEST(DesignerEdits, OtherKeysAreEditedCheckedAddedAndRemoved) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "default.yaml");
    auto* table = widget<QTableWidget>(designer, "otherKeysTable");
    auto rowOf = [&](const QString& key) {
        for (int r = 0; r < table->rowCount(); ++r)
            if (table->item(r, 0)->text() == key) return r;
        return -1;
    };
    const int hidden = rowOf("model.hidden");
    ASSERT_GE(hidden, 0);
    table->item(hidden, 1)->setText("64,64");
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.raw("model.hidden"), "[64, 64]");
    EXPECT_EQ(table->item(hidden, 1)->text(), "[64, 64]") << "the value is shown in canonical form";

    table->item(hidden, 1)->setText("wide");
    EXPECT_EQ(table->item(hidden, 1)->text(), "[64, 64]") << "a refused value is put back";
    EXPECT_NE(widget<QLabel>(designer, "designerNote")->text().indexOf("model.hidden"), -1);

    auto* choice = widget<QComboBox>(designer, "otherKeyChoice");
    const int wd = choice->findData("train.weight_decay");
    ASSERT_GE(wd, 0);
    choice->setCurrentIndex(wd);
    widget<QPushButton>(designer, "addOtherKey")->click();
    const int added = rowOf("train.weight_decay");
    ASSERT_GE(added, 0);
    table->item(added, 1)->setText("5e-4");
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.getDouble("train.weight_decay"), 5e-4);

    table->setCurrentCell(rowOf("data.limit_train"), 0);
    widget<QPushButton>(designer, "removeOtherKey")->click();
    EXPECT_EQ(rowOf("data.limit_train"), -1);
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.getInt("data.limit_train"), 0) << "back to the default";
}

TEST(DesignerEdits, SameEpochsWithoutCrossEntropySaysWhatItNeeds) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "default.yaml");
    auto* note = widget<QLabel>(designer, "protocolNote");
    EXPECT_FALSE(shown(note, designer));
    selectLossRow(designer, 0); // ce
    widget<QPushButton>(designer, "removeLoss")->click();
    EXPECT_TRUE(shown(note, designer));
    EXPECT_NE(note->text().indexOf("cross-entropy loss"), -1) << note->text().toStdString();
    EXPECT_THROW(designer.experiment(), Error);

    widget<QPushButton>(designer, "addCrossEntropy")->click();
    EXPECT_FALSE(shown(note, designer));
    widget<QCheckBox>(designer, "protocolEarlyStopping")->click();
    EXPECT_TRUE(shown(note, designer));
    EXPECT_NE(note->text().indexOf("early-stopping"), -1);
    EXPECT_FALSE(widget<QSpinBox>(designer, "patience")->isEnabled());
}

// "Add square loss" clicked twice gives two losses that would train the same runs twice: the
// status line says so at once, in red, as the run would refuse it; removing one mends it.
TEST(DesignerEdits, TheSameLossAddedTwiceIsRefusedWhileEditing) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "default.yaml");
    auto* status = widget<QLabel>(designer, "designerStatus");
    EXPECT_FALSE(status->text().startsWith("Cannot run yet")) << status->text().toStdString();
    const std::size_t before = designer.experiment().losses.size();

    widget<QPushButton>(designer, "addSquareLoss")->click();
    widget<QPushButton>(designer, "addSquareLoss")->click();
    EXPECT_TRUE(status->text().startsWith("Cannot run yet")) << status->text().toStdString();
    EXPECT_NE(status->text().indexOf("same loss"), -1) << status->text().toStdString();
    EXPECT_NE(status->styleSheet().indexOf("color"), -1);
    EXPECT_THROW(designer.experiment(), Error);

    selectLossRow(designer, static_cast<int>(before) + 1);
    widget<QPushButton>(designer, "removeLoss")->click();
    EXPECT_FALSE(status->text().startsWith("Cannot run yet")) << status->text().toStdString();
    EXPECT_EQ(designer.experiment().losses.size(), before + 1);
}

TEST(DesignerEdits, TaskComboShowsTheTaskAndDropsKeysItLacks) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "default.yaml");
    auto* combo = widget<QComboBox>(designer, "taskCombo");
    combo->setCurrentIndex(combo->findData("cifar10/wrn"));
    const TaskInfo& info = registry().requireInfo("cifar10/wrn");
    const QString dataset = widget<QLabel>(designer, "taskDataset")->text();
    EXPECT_TRUE(dataset.startsWith(QString::fromStdString(info.dataset))) << dataset.toStdString();
    EXPECT_NE(dataset.indexOf(QString::fromStdString(info.dataFormat)), -1) << dataset.toStdString();
    EXPECT_NE(widget<QLabel>(designer, "taskClasses")->text().indexOf("airplane"), -1);
    EXPECT_NE(widget<QLabel>(designer, "taskNote")->text().indexOf("model.hidden"), -1);
    const ExperimentSpec spec = resolveYaml(designer.toYaml());
    EXPECT_EQ(spec.taskId, "cifar10/wrn");
    // Not stated by the file, so the new task's recipe applies; a folder of another dataset is not kept.
    EXPECT_EQ(spec.params.getInt("model.depth"), 28);
    EXPECT_EQ(spec.params.getString("data.root"), "");
}

// ---- the paper's k and M --------------------------------------------------------------------

TEST(DesignerPaper, PaperButtonGivesTableNineValues) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "wrn_cifar10.yaml");
    const TaskInfo& info = registry().requireInfo("cifar10/wrn");
    ASSERT_EQ(info.paperDataset, "cifar10");
    auto* model = widget<QTableView>(designer, "lossTable")->model();
    ASSERT_TRUE(model->setData(model->index(1, LossTableModel::KColumn), "5"));
    ASSERT_TRUE(model->setData(model->index(1, LossTableModel::MColumn), "7"));
    ExperimentSpec spec = resolveYaml(designer.toYaml());
    EXPECT_EQ(spec.losses[1].k, 5.0);
    EXPECT_EQ(spec.losses[1].M, 7.0);
    EXPECT_EQ(spec.losses[1].preset, "") << "a hand-set k makes the loss a custom one";
    EXPECT_EQ(spec.losses[1].name, "square_k5_M7");

    auto* paper = widget<QPushButton>(designer, "paperPreset");
    selectLossRow(designer, 0);
    EXPECT_FALSE(paper->isEnabled()) << "cross-entropy has no k and M";
    selectLossRow(designer, 1);
    ASSERT_TRUE(paper->isEnabled());
    paper->click();
    spec = resolveYaml(designer.toYaml());
    const Rescaling expected = paperRescaling(info.paperDataset, info.numClasses);
    EXPECT_EQ(spec.losses[1].k, expected.k);
    EXPECT_EQ(spec.losses[1].M, expected.M);
    // PAPER-NOTES, Table 9: CIFAR-10 has k = 1 and M = 1.
    EXPECT_EQ(spec.losses[1].k, 1.0);
    EXPECT_EQ(spec.losses[1].M, 1.0);
    EXPECT_EQ(spec.losses[1].preset, "paper");
    EXPECT_EQ(spec.losses[1].name, "square");
    EXPECT_NE(widget<QLabel>(designer, "paperInfo")->text().indexOf("Table 9 (cifar10)"), -1);
    EXPECT_EQ(model->index(1, LossTableModel::LossColumn).data().toString(), "square (paper)");
}

TEST(DesignerPaper, PaperPresetFollowsTheLoaderForKAndM) {
    // The loader's rule: an explicit k or M wins over the preset's value for that parameter.
    ExperimentDesigner designer(registry());
    designer.loadYaml("task: toy/blobs\nlosses: [{loss: square, preset: paper, M: 20}]\n", "p.yaml");
    auto* model = widget<QTableView>(designer, "lossTable")->model();
    const Rescaling rule = paperRescaling("", 4);
    EXPECT_EQ(model->index(0, LossTableModel::KColumn).data().toString().toDouble(), rule.k);
    EXPECT_EQ(model->index(0, LossTableModel::MColumn).data().toString(), "20");
    const ExperimentSpec spec = resolveYaml(designer.toYaml());
    EXPECT_EQ(spec.losses[0].M, 20.0);
    EXPECT_EQ(spec.losses[0].preset, "paper");
}

// ---- bad input ------------------------------------------------------------------------------

TEST(DesignerBadInput, BadYamlThrowsAndLeavesTheFormAsItWas) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "default.yaml");
    designer.setModified(true);
    const QString before = designer.toYaml();
    QSignalSpy changed(&designer, &ExperimentDesigner::changed);

    EXPECT_TRUE(throwsErrorWith(
        [&] { designer.loadYaml("task: fashion_mnist/mlp\nlosses: [ce]\ntrain:\n  patience: 0\n", "bad.yaml"); },
        {"bad.yaml:4", "train.patience"}));
    EXPECT_TRUE(throwsErrorWith([&] { designer.loadYaml("task: [unclosed\n", "syntax.yaml"); }, {"syntax.yaml:"}));
    EXPECT_TRUE(throwsErrorWith([&] { designer.loadYaml("task: nope/none\nlosses: [ce]\n", "task.yaml"); },
                                {"task.yaml:1", "unknown task 'nope/none'"}));

    EXPECT_EQ(designer.toYaml(), before);
    EXPECT_EQ(widget<QLineEdit>(designer, "experimentName")->text(), "default");
    EXPECT_EQ(widget<QComboBox>(designer, "taskCombo")->currentData().toString(), "fashion_mnist/mlp");
    EXPECT_EQ(widget<QTableView>(designer, "lossTable")->model()->rowCount(), 2);
    EXPECT_TRUE(designer.isModified());
    EXPECT_EQ(changed.count(), 0);
}

// ---- data folder ----------------------------------------------------------------------------

TEST(DesignerData, MissingFolderShowsTheWarningWithTheHint) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "tcn_permuted_mnist.yaml"); // data.root "" and MNIST has no default folder
    const TaskInfo& info = registry().requireInfo("mnist/tcn_permuted");
    ASSERT_FALSE(info.dataHint.empty());
    auto* warning = widget<QLabel>(designer, "dataWarning");
    EXPECT_TRUE(shown(warning, designer));
    EXPECT_NE(warning->text().indexOf(QString::fromStdString(info.dataHint)), -1) << warning->text().toStdString();

    QTemporaryDir folder;
    ASSERT_TRUE(folder.isValid());
    auto* edit = widget<QLineEdit>(designer, "dataFolder");
    QTest::keyClicks(edit, folder.path());
    EXPECT_FALSE(shown(warning, designer));
    EXPECT_NE(widget<QLabel>(designer, "dataFolderInUse")->text().indexOf(folder.path()), -1);
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.getString("data.root"), folder.path().toStdString());

    edit->clear();
    QTest::keyClicks(edit, "/nonexistent/losslab/mnist");
    EXPECT_TRUE(shown(warning, designer));
    EXPECT_NE(warning->text().indexOf("not found"), -1);
    EXPECT_NE(warning->text().indexOf("/nonexistent/losslab/mnist"), -1);
    EXPECT_NE(warning->text().indexOf(QString::fromStdString(info.dataHint)), -1);
}

// The text tasks: their data formats, a CSV set's classes from data.classes, and text8's
// single file accepted as the data root.
TEST(DesignerData, TextTasksShowTheirFormatsAndTakeAFileAsRoot) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "esim_mrpc.yaml");
    EXPECT_NE(widget<QLabel>(designer, "taskDataset")->text().indexOf("GLUE TSV folder: train.tsv, dev.tsv"), -1);
    EXPECT_NE(widget<QLabel>(designer, "taskClasses")->text().indexOf("not_equivalent, equivalent"), -1);
    auto* combo = widget<QComboBox>(designer, "taskCombo");
    ASSERT_GE(combo->findData("text/csv/bilstm"), 0);
    combo->setCurrentIndex(combo->findData("text/csv/bilstm"));
    EXPECT_NE(widget<QLabel>(designer, "taskClasses")->text().indexOf("data.classes"), -1);
    combo->setCurrentIndex(combo->findData("chars/text8/transformer"));
    QTemporaryDir folder;
    ASSERT_TRUE(folder.isValid());
    const QString file = folder.filePath(QStringLiteral("text8"));
    {
        QFile f(file);
        ASSERT_TRUE(f.open(QIODevice::WriteOnly));
        f.write("the cat sat on the mat");
    }
    auto* edit = widget<QLineEdit>(designer, "dataFolder");
    edit->clear();
    QTest::keyClicks(edit, file);
    EXPECT_FALSE(shown(widget<QLabel>(designer, "dataWarning"), designer));
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.getString("data.root"), file.toStdString());
}

TEST(DesignerData, RememberedFolderIsUsedWhenTheFileHasNone) {
    QTemporaryDir folder;
    ASSERT_TRUE(folder.isValid());
    ExperimentDesigner designer(registry());
    designer.setDataRoots({{"MNIST", folder.path()}});
    loadPreset(designer, "tcn_permuted_mnist.yaml");
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.getString("data.root"), folder.path().toStdString());
    EXPECT_FALSE(shown(widget<QLabel>(designer, "dataWarning"), designer));
    EXPECT_EQ(designer.dataRoots().value("MNIST"), folder.path());

    // A file that names its folder keeps it.
    designer.loadYaml("task: mnist/cnn\nlosses: [ce]\ndata: {root: /elsewhere}\n", "own.yaml");
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.getString("data.root"), "/elsewhere");
}

// ---- device ---------------------------------------------------------------------------------

TEST(DesignerDevice, OffersEveryCudaDeviceAndKeepsAForeignOne) {
    ExperimentDesigner designer(registry());
    auto* device = widget<QComboBox>(designer, "device");
    QStringList items;
    for (int i = 0; i < device->count(); ++i) items << device->itemData(i).toString();
    QStringList expected{"auto", "cpu"};
    for (int n = 0; n < cudaDeviceCount(); ++n) expected << QStringLiteral("cuda:%1").arg(n);
    EXPECT_EQ(items, expected);

    designer.setCudaDeviceCount(2);
    items.clear();
    for (int i = 0; i < device->count(); ++i) items << device->itemData(i).toString();
    EXPECT_EQ(items, (QStringList{"auto", "cpu", "cuda:0", "cuda:1"}));
    device->setCurrentIndex(device->findData("cuda:1"));
    EXPECT_EQ(resolveYaml(designer.toYaml()).device, "cuda:1");
    widget<QSpinBox>(designer, "runsPerDevice")->setValue(3);
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.getInt("runner.runs_per_device"), 3);

    designer.loadYaml("task: toy/blobs\nlosses: [ce]\ndevice: cuda:7\n", "gpu.yaml");
    EXPECT_EQ(device->currentData().toString(), "cuda:7");
    EXPECT_EQ(resolveYaml(designer.toYaml()).device, "cuda:7");
}


// The TorchScript presets name files: "Choose file..." picks one for the selected file key.
TEST(DesignerEdits, AFileKeyIsChosenWithTheFilePicker) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "bert_mrpc.yaml");
    auto* table = widget<QTableWidget>(designer, "otherKeysTable");
    auto rowOf = [&](const QString& key) {
        for (int r = 0; r < table->rowCount(); ++r)
            if (table->item(r, 0)->text() == key) return r;
        return -1;
    };
    auto* choose = widget<QPushButton>(designer, "chooseOtherKeyFile");
    table->setCurrentCell(rowOf("model.max_length"), 0);
    EXPECT_FALSE(choose->isEnabled()) << "not a file key";
    QString asked;
    designer.setFilePicker([&](const QString& key, const QString&) {
        asked = key;
        return QStringLiteral("/models/bert-base-cased.pt");
    });
    table->setCurrentCell(rowOf("model.file"), 0);
    ASSERT_TRUE(choose->isEnabled());
    choose->click();
    EXPECT_EQ(asked, QStringLiteral("model.file"));
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.getString("model.file"), "/models/bert-base-cased.pt");
    designer.setFilePicker([](const QString&, const QString&) { return QString(); }); // cancelled
    choose->click();
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.getString("model.file"), "/models/bert-base-cased.pt");
}

// Any key a task declares as a path (ParamType::Path), a user's plugin's too, gets "Choose
// file..."; a relative file typed into the table shows, and is stored, absolute.
TEST(DesignerEdits, APathKeyOfAnyTaskIsChosenWithTheFilePicker) {
    ExperimentDesigner designer(registry());
    designer.loadYaml("task: toy/files\nlosses: [ce]\ndata:\n  labels_file: labels.txt\n", "files.yaml");
    auto* table = widget<QTableWidget>(designer, "otherKeysTable");
    int row = -1;
    for (int r = 0; r < table->rowCount(); ++r)
        if (table->item(r, 0)->text() == QStringLiteral("data.labels_file")) row = r;
    ASSERT_GE(row, 0) << "data.labels_file is not in the other keys";
    auto* choose = widget<QPushButton>(designer, "chooseOtherKeyFile");
    table->setCurrentCell(row, 0);
    ASSERT_TRUE(choose->isEnabled()) << "a declared path key gets the file picker";
    designer.setFilePicker([](const QString&, const QString&) { return QStringLiteral("/data/labels.txt"); });
    choose->click();
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.getString("data.labels_file"), "/data/labels.txt");
    table->item(row, 1)->setText(QStringLiteral("sub/../labels.txt"));
    EXPECT_EQ(table->item(row, 1)->text(), QDir::current().absoluteFilePath(QStringLiteral("labels.txt")));
    EXPECT_EQ(resolveYaml(designer.toYaml()).params.getString("data.labels_file"),
              QDir::current().absoluteFilePath(QStringLiteral("labels.txt")).toStdString());
}

// ---- sweeps ---------------------------------------------------------------------------------

namespace {

// Chooses `key` in the sweep's key list and adds it; the new axis's values cell is returned.
QTableWidgetItem* addSweepAxis(ExperimentDesigner& designer, const QString& key) {
    auto* choice = widget<QComboBox>(designer, "sweepKeyChoice");
    const int index = choice->findData(key);
    EXPECT_GE(index, 0) << "the sweep does not offer " << key.toStdString();
    if (index < 0) return nullptr;
    choice->setCurrentIndex(index);
    widget<QPushButton>(designer, "addSweepAxis")->click();
    auto* table = widget<QTableWidget>(designer, "sweepTable");
    const int row = table->rowCount() - 1;
    EXPECT_EQ(table->item(row, 0)->text(), key);
    return table->item(row, 1);
}

QStringList sweepKeysOffered(const ExperimentDesigner& designer) {
    auto* choice = widget<QComboBox>(designer, "sweepKeyChoice");
    QStringList keys;
    for (int i = 0; i < choice->count(); ++i) keys << choice->itemData(i).toString();
    return keys;
}

std::vector<std::string> axisKeys(const ExperimentSpec& spec) {
    std::vector<std::string> keys;
    for (const auto& a : spec.sweep) keys.push_back(a.key);
    return keys;
}

const char* const kTwoLosses = "name: km\n"
                               "task: toy/blobs\n"
                               "losses: [ce, square]\n"
                               "protocols: [early_stopping]\n"
                               "seeds: 3\n";

} // namespace

// A 3 x 3 (k, M) grid of the square loss made with the widgets: cross-entropy runs once per
// seed, the square loss once per grid point and seed: 3 x (1 + 9) = 30 runs.
TEST(DesignerSweep, AKmGridBuiltWithTheWidgetsCountsItsRuns) {
    ExperimentDesigner designer(registry());
    designer.loadYaml(kTwoLosses, "km.yaml");
    EXPECT_TRUE(designer.toYaml().indexOf("sweep") < 0);
    EXPECT_FALSE(shown(widget<QWidget>(designer, "sweepBody"), designer)) << "collapsed without a sweep";
    // k and M only for the square loss; train.lr is not a sweep key (losses.*.lr is).
    const QStringList offered = sweepKeysOffered(designer);
    for (const char* key : {"losses.0.lr", "losses.1.lr", "losses.1.k", "losses.1.M", "losses.*.lr", "losses.*.k",
                            "losses.*.M", "train.weight_decay"})
        EXPECT_TRUE(offered.contains(key)) << key;
    for (const char* key : {"losses.0.k", "losses.0.M", "train.lr", "data.root", "runner.runs_per_device"})
        EXPECT_FALSE(offered.contains(key)) << key;

    QTableWidgetItem* k = addSweepAxis(designer, "losses.1.k");
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->text(), "1") << "an axis starts from the value in use";
    EXPECT_TRUE(shown(widget<QWidget>(designer, "sweepBody"), designer));
    k->setText("1, 5, 15");
    QTableWidgetItem* m = addSweepAxis(designer, "losses.1.M");
    ASSERT_NE(m, nullptr);
    m->setText("[1, 10, 30]");
    EXPECT_EQ(m->text(), "1, 10, 30") << "a flow list is shown as its items";
    EXPECT_TRUE(designer.isModified());
    // losses.*.k would sweep the same k twice; a key already swept is not offered again.
    EXPECT_FALSE(sweepKeysOffered(designer).contains("losses.*.k"));
    EXPECT_FALSE(sweepKeysOffered(designer).contains("losses.1.M"));

    const QString yaml = designer.toYaml();
    EXPECT_TRUE(yaml.endsWith("sweep:\n  losses.1.k: [1, 5, 15]\n  losses.1.M: [1, 10, 30]\n")) << yaml.toStdString();
    const ExperimentSpec spec = designer.experiment();
    ASSERT_EQ(spec.sweep.size(), 2u);
    EXPECT_EQ(spec.sweep[0].key, "losses.1.k");
    EXPECT_EQ(spec.sweep[0].values, (std::vector<std::string>{"1", "5", "15"}));
    EXPECT_EQ(spec.sweep[1].key, "losses.1.M");
    EXPECT_EQ(spec.sweep[1].values, (std::vector<std::string>{"1", "10", "30"}));
    EXPECT_EQ(spec.expand().size(), 30u);
    EXPECT_EQ(widget<QLabel>(designer, "sweepCount")->text(),
              QStringLiteral("3 \u00d7 3 grid: 9 points \u00d7 3 seeds \u2192 30 runs\nConfigurations per loss: ce 1, square 9"));
    EXPECT_EQ(widget<QLabel>(designer, "designerStatus")->text(),
              QStringLiteral("30 runs = 3 seeds \u00d7 10 (ce: early stopping; square \u00d79: early stopping)"));

    // The same form again from its YAML, axes shown and expanded.
    ExperimentDesigner again(registry());
    again.loadYaml(yaml, "km.yaml");
    EXPECT_EQ(again.toYaml(), yaml);
    auto* table = widget<QTableWidget>(again, "sweepTable");
    ASSERT_EQ(table->rowCount(), 2);
    EXPECT_EQ(table->item(1, 1)->text(), "1, 10, 30");
    EXPECT_TRUE(shown(widget<QWidget>(again, "sweepBody"), again));
    EXPECT_EQ(widget<QLabel>(again, "sweepCount")->text(), widget<QLabel>(designer, "sweepCount")->text());

    // Removing the axes gives the experiment without a sweep back.
    table = widget<QTableWidget>(designer, "sweepTable");
    while (table->rowCount() > 0) {
        table->setCurrentCell(0, 1);
        widget<QPushButton>(designer, "removeSweepAxis")->click();
    }
    EXPECT_EQ(designer.toYaml().indexOf("sweep"), -1);
    EXPECT_EQ(designer.experiment().expand().size(), 6u);
}

// Every kind of axis: a learning rate of every loss, a list-valued model key, a training key.
TEST(DesignerSweep, LossRatesAndDeclaredKeysMultiplyEveryLoss) {
    ExperimentDesigner designer(registry());
    designer.loadYaml("task: fashion_mnist/mlp\nlosses: [ce, square]\nprotocols: [early_stopping]\nseeds: 2\n",
                      "grid.yaml");
    addSweepAxis(designer, "losses.*.lr")->setText("0.01, 0.05, 0.2");
    QTableWidgetItem* hidden = addSweepAxis(designer, "model.hidden");
    ASSERT_NE(hidden, nullptr);
    EXPECT_EQ(hidden->text(), "[512, 512]") << "the task's model, as one list value";
    hidden->setText("[64, 64]");
    EXPECT_EQ(hidden->text(), "[64, 64]") << "one list value, not two";
    EXPECT_EQ(designer.experiment().sweep[1].values, (std::vector<std::string>{"[64, 64]"}));
    hidden->setText("[[16], [64]]");
    EXPECT_EQ(hidden->text(), "[16], [64]");
    addSweepAxis(designer, "train.weight_decay")->setText("0, 5e-4");
    EXPECT_FALSE(sweepKeysOffered(designer).contains("losses.0.lr")) << "losses.*.lr sweeps it already";
    const QString yaml = designer.toYaml();
    EXPECT_NE(yaml.indexOf("  losses.*.lr: [0.01, 0.05, 0.2]\n  model.hidden: [[16], [64]]\n"
                           "  train.weight_decay: [0, 5e-4]\n"),
              -1)
        << yaml.toStdString();
    const ExperimentSpec spec = designer.experiment();
    EXPECT_EQ(spec.sweep[1].values, (std::vector<std::string>{"[16]", "[64]"}));
    // 3 x 2 x 2 = 12 points; every loss runs at each: 12 x 2 losses x 2 seeds.
    EXPECT_EQ(spec.expand().size(), 48u);
    EXPECT_TRUE(widget<QLabel>(designer, "sweepCount")
                    ->text()
                    .startsWith(QStringLiteral("3 \u00d7 2 \u00d7 2 grid: 12 points \u00d7 2 seeds \u2192 48 runs")));
    ExperimentDesigner again(registry());
    again.loadYaml(yaml, "grid.yaml");
    EXPECT_EQ(again.toYaml(), yaml) << "5e-4 is kept as written";
}

TEST(DesignerSweep, RemovingALossDropsItsAxesAndRenumbersTheOthers) {
    ExperimentDesigner designer(registry());
    designer.loadYaml("task: toy/blobs\n"
                      "losses: [ce, square, {loss: square, name: big, k: 15, M: 30}]\n"
                      "protocols: [early_stopping]\n"
                      "seeds: 1\n"
                      "sweep:\n"
                      "  losses.0.lr: [0.01, 0.1]\n"
                      "  losses.1.k: [1, 5]\n"
                      "  losses.2.M: [10, 30]\n"
                      "  train.weight_decay: [0, 0.001]\n",
                      "three.yaml");
    EXPECT_EQ(designer.experiment().expand().size(), 2u * (2 + 2 + 2)); // weight decay x each loss's axis

    selectLossRow(designer, 1);
    widget<QPushButton>(designer, "removeLoss")->click();
    ExperimentSpec spec = designer.experiment();
    EXPECT_EQ(axisKeys(spec), (std::vector<std::string>{"losses.0.lr", "losses.1.M", "train.weight_decay"}));
    EXPECT_EQ(spec.losses[1].name, "big");
    const QString note = widget<QLabel>(designer, "designerNote")->text();
    EXPECT_TRUE(shown(widget<QLabel>(designer, "designerNote"), designer));
    EXPECT_NE(note.indexOf("removed losses.1.k"), -1) << note.toStdString();
    EXPECT_NE(note.indexOf(QStringLiteral("losses.2.M \u2192 losses.1.M")), -1) << note.toStdString();
    EXPECT_EQ(widget<QTableWidget>(designer, "sweepTable")->rowCount(), 3);

    // The last square loss goes: its M axis with it; cross-entropy's rate and the decay stay.
    selectLossRow(designer, 1);
    widget<QPushButton>(designer, "removeLoss")->click();
    spec = designer.experiment();
    EXPECT_EQ(axisKeys(spec), (std::vector<std::string>{"losses.0.lr", "train.weight_decay"}));
    EXPECT_EQ(spec.expand().size(), 4u);
}

TEST(DesignerSweep, AnInvalidValueShowsTheLoadersMessage) {
    ExperimentDesigner designer(registry());
    designer.loadYaml(kTwoLosses, "km.yaml");
    QTableWidgetItem* k = addSweepAxis(designer, "losses.1.k");
    ASSERT_NE(k, nullptr);
    auto* line = widget<QLabel>(designer, "sweepCount");

    k->setText("1, x, 15");
    EXPECT_EQ(k->text(), "1, x, 15") << "the text is kept for the user to correct";
    EXPECT_NE(line->text().indexOf("sweep.losses.1.k"), -1) << line->text().toStdString();
    EXPECT_NE(line->text().indexOf("km.yaml, as edited here"), -1) << line->text().toStdString();
    EXPECT_NE(line->styleSheet().indexOf("color"), -1);
    EXPECT_TRUE(widget<QLabel>(designer, "designerStatus")->text().startsWith("Cannot run yet"));
    EXPECT_THROW(designer.experiment(), Error);

    k->setText("1, 5, 5");
    EXPECT_NE(line->text().indexOf("listed twice"), -1) << line->text().toStdString();
    k->setText("");
    EXPECT_NE(line->text().indexOf("non-empty list"), -1) << line->text().toStdString();

    k->setText("1, 5");
    EXPECT_TRUE(line->text().startsWith(QStringLiteral("2 values: 2 points"))) << line->text().toStdString();
    EXPECT_EQ(line->styleSheet(), QString());
    EXPECT_EQ(designer.experiment().expand().size(), 9u);
}

// A swept square loss without a name is named "square" by the loader; the form does not pin
// the generated name of one grid point, and the table shows the loader's name.
TEST(DesignerSweep, ASweptSquareLossKeepsTheLoadersName) {
    ExperimentDesigner designer(registry());
    const QString text = "task: toy/blobs\n"
                         "losses: [ce, {loss: square, k: 15}]\n"
                         "sweep:\n"
                         "  losses.1.M: [1, 30]\n";
    designer.loadYaml(text, "named.yaml");
    EXPECT_EQ(designer.toYaml().indexOf("name: square"), -1) << designer.toYaml().toStdString();
    EXPECT_EQ(designer.experiment().losses[1].name, "square");
    auto* model = widget<QTableView>(designer, "lossTable")->model();
    EXPECT_EQ(model->index(1, LossTableModel::NameColumn).data().toString(), "square");
    // Without the sweep the loss is named from its k and M again.
    auto* table = widget<QTableWidget>(designer, "sweepTable");
    table->setCurrentCell(0, 1);
    widget<QPushButton>(designer, "removeSweepAxis")->click();
    EXPECT_EQ(model->index(1, LossTableModel::NameColumn).data().toString(), "square_k15_M1");
}

// The shipped (k, M) preset: its comment counts 3 x (1 + 9 + 9) = 57 runs.
TEST(DesignerSweep, TheShippedKmPresetCountsAsItExpands) {
    ExperimentDesigner designer(registry());
    loadPreset(designer, "km_sweep_fashion_mnist.yaml");
    EXPECT_EQ(designer.experiment().expand().size(), 57u);
    EXPECT_TRUE(widget<QLabel>(designer, "sweepCount")->text().startsWith(QStringLiteral("3 \u00d7 3 grid: 9 points \u00d7 3 seeds \u2192 57 runs")));
    EXPECT_TRUE(widget<QLabel>(designer, "designerStatus")->text().startsWith(QStringLiteral("57 runs = 3 seeds \u00d7 19 ")));
    EXPECT_EQ(widget<QTableWidget>(designer, "sweepTable")->rowCount(), 2);
    EXPECT_FALSE(designer.isModified());
}

// ---- sweeps in the Qt-free form -------------------------------------------------------------

TEST(DesignerForm, SweepValuesAreKeptAsWrittenInEveryStyle) {
    const std::string block = "task: fashion_mnist/mlp\n"
                              "losses: [ce, square]\n"
                              "sweep:\n"
                              "  losses.*.lr: [0.01,  5e-2]   # rates\n"
                              "  \"model.hidden\": [[16],\n"
                              "                   [64, 64]]\n"
                              "  train.weight_decay:\n"
                              "    - 0\n"
                              "    - 0.0005\n";
    const ExperimentForm form = ExperimentForm::fromYaml(block, "block.yaml", registry());
    ASSERT_EQ(form.sweep.size(), 3u);
    EXPECT_EQ(form.sweep[0], (FormSweepAxis{"losses.*.lr", "0.01,  5e-2"}));
    EXPECT_EQ(form.sweep[1], (FormSweepAxis{"model.hidden", "[16], [64, 64]"}));
    EXPECT_EQ(form.sweep[2], (FormSweepAxis{"train.weight_decay", "0, 0.0005"})) << "a block list: canonical values";
    const std::string yaml = form.toYaml();
    EXPECT_NE(yaml.find("sweep:\n  losses.*.lr: [0.01,  5e-2]\n  model.hidden: [[16], [64, 64]]\n"
                        "  train.weight_decay: [0, 0.0005]\n"),
              std::string::npos)
        << yaml;
    EXPECT_EQ(ExperimentForm::fromYaml(yaml, "again.yaml", registry()), form);
    EXPECT_EQ(form.resolve("again.yaml", registry()).expand().size(),
              loadExperimentText(block, "block.yaml", {}, registry()).expand().size());

    const ExperimentForm flow = ExperimentForm::fromYaml(
        "task: toy/blobs\nlosses: [ce, square]\nsweep: {losses.1.k: [1, 5], losses.1.M: [2,\n  3]}\n", "flow.yaml",
        registry());
    ASSERT_EQ(flow.sweep.size(), 2u);
    EXPECT_EQ(flow.sweep[0], (FormSweepAxis{"losses.1.k", "1, 5"}));
    EXPECT_EQ(flow.sweep[1], (FormSweepAxis{"losses.1.M", "2, 3"}));

    // A file without a sweep writes none.
    const ExperimentForm plain = ExperimentForm::fromYaml(readFile(presetPath("default.yaml")), "default.yaml", registry());
    EXPECT_TRUE(plain.sweep.empty());
    EXPECT_EQ(plain.toYaml().find("sweep"), std::string::npos);
}

TEST(DesignerForm, SweepValuesTypedAsTextOrFlowList) {
    EXPECT_EQ(normaliseSweepValues(" 1, 5, 15 "), "1, 5, 15");
    EXPECT_EQ(normaliseSweepValues("[1, 5, 15]"), "1, 5, 15");
    EXPECT_EQ(normaliseSweepValues("[16], [64]"), "[16], [64]");
    EXPECT_EQ(normaliseSweepValues("[[16], [64]]"), "[16], [64]");
    EXPECT_EQ(normaliseSweepValues("[\"a]\", b]"), "\"a]\", b");
    EXPECT_EQ(normaliseSweepValues("1,\n2"), "1, 2");
    // A list-valued key: brackets around plain items are one list value.
    EXPECT_EQ(normaliseSweepValues("[64, 64]", true), "[64, 64]");
    EXPECT_EQ(normaliseSweepValues("[[16], [64, 64]]", true), "[16], [64, 64]");
    EXPECT_EQ(normaliseSweepValues("16, 64", true), "16, 64");
    EXPECT_EQ(formatSweepValues({"0.01", "[16, 16]", "a, b"}), "0.01, [16, 16], \"a, b\"");
}

TEST(DesignerForm, RemovingOrMovingALossRefitsTheSweep) {
    ExperimentForm form = ExperimentForm::fromYaml("task: toy/blobs\n"
                                                   "losses: [ce, square, {loss: square, name: big}]\n"
                                                   "sweep:\n"
                                                   "  losses.2.k: [1, 5]\n"
                                                   "  losses.0.lr: [0.01, 0.1]\n"
                                                   "  losses.*.M: [1, 10]\n"
                                                   "  data.limit_train: [100, 200]\n",
                                                   "refit.yaml", registry());
    ExperimentForm moved = form;
    moved.moveLoss(2, 0); // big, ce, square
    EXPECT_EQ(moved.losses[0].name, "big");
    std::vector<std::string> keys;
    for (const auto& a : moved.sweep) keys.push_back(a.key);
    EXPECT_EQ(keys, (std::vector<std::string>{"losses.0.k", "losses.1.lr", "losses.*.M", "data.limit_train"}));
    EXPECT_EQ(moved.resolve("moved.yaml", registry()).expand().size(),
              form.resolve("refit.yaml", registry()).expand().size());

    EXPECT_EQ(form.removeLoss(2), std::vector<std::string>{"losses.2.k"});
    EXPECT_EQ(form.removeLoss(1), std::vector<std::string>{"losses.*.M"}) << "no square loss is left";
    keys.clear();
    for (const auto& a : form.sweep) keys.push_back(a.key);
    EXPECT_EQ(keys, (std::vector<std::string>{"losses.0.lr", "data.limit_train"}));
    EXPECT_EQ(form.resolve("refit.yaml", registry()).expand().size(), 4u * 5u); // 2 x 2 points x 5 seeds
}

TEST(DesignerForm, SwitchingTheTaskDropsSweepKeysTheNewTaskLacks) {
    ExperimentForm form = ExperimentForm::fromYaml(readFile(presetPath("km_sweep_fashion_mnist.yaml")),
                                                   "km_sweep_fashion_mnist.yaml", registry());
    form.sweep.push_back({"model.hidden", "[16], [64]"});
    const std::vector<std::string> dropped = form.switchTask("mnist/cnn", registry());
    EXPECT_EQ(dropped, (std::vector<std::string>{"model.hidden", "sweep model.hidden"}));
    ASSERT_EQ(form.sweep.size(), 2u) << "loss axes stay";
    EXPECT_EQ(form.resolve("switched.yaml", registry()).gridPointCount(), 9u);
}
