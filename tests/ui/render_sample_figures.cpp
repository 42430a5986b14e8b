// Renders the report figures of a realistic synthetic study into a folder, for people to look
// at (not a test): five tasks shaped after the paper's numbers, 5 seeds, CE, square loss with
// early stopping and with CE's epochs, one task with a rescaled (k, M) square loss, and
// validation-accuracy curves for two tasks.
//   losslab_ui_render_samples OUT_DIR
#include <cmath>
#include <iostream>
#include <random>

#include "losslab/error.h"
#include "plots/figure_export.h"
#include "sample_analysis.h"

using namespace losslab;
using namespace losslab::testing;

namespace {

struct TaskShape {
    std::string id;
    double ceMean, ceStd, squareMean, squareStd, sameEpochsShift;
};

std::vector<double> draw(std::mt19937& rng, double mean, double std) {
    std::normal_distribution<double> normal(mean, std);
    std::vector<double> values;
    for (int i = 0; i < 5; ++i) values.push_back(std::min(1.0, normal(rng)));
    return values;
}

// Accuracy per epoch that rises towards `plateau` at `rate` per epoch, with seed noise.
std::vector<double> curve(std::mt19937& rng, int epochs, double start, double plateau, double rate, double noise) {
    std::normal_distribution<double> normal(0.0, noise);
    std::vector<double> values;
    for (int e = 1; e <= epochs; ++e)
        values.push_back(std::min(1.0, plateau - (plateau - start) * std::exp(-rate * (e - 1)) + normal(rng)));
    return values;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: losslab_ui_render_samples OUT_DIR\n";
        return 2;
    }
    std::mt19937 rng(20210503);
    const std::vector<TaskShape> shapes = {
        {"mnist/tcn_permuted", 0.977, 0.00173, 0.977, 0.00161, -0.0005},
        {"cifar10/wrn", 0.963, 0.00481, 0.959, 0.00184, -0.004},
        {"fashion_mnist/mlp", 0.893, 0.0030, 0.897, 0.0022, -0.002},
        {"cifar10/resnet18", 0.934, 0.0035, 0.938, 0.0028, -0.006},
        {"fashion_mnist/small_cnn", 0.912, 0.0026, 0.915, 0.0019, -0.001},
    };
    LossAnalysis analysis;
    for (const auto& shape : shapes) {
        analysis.taskIds.push_back(shape.id);
        analysis.tasks[shape.id] = TaskMeta{"vision", 10, ""};
        const LossGroup ce =
            makeGroup(makeKey(shape.id, "ce", "early_stopping", 0.05), "test/acc", draw(rng, shape.ceMean, shape.ceStd));
        std::vector<double> square = draw(rng, shape.squareMean, shape.squareStd);
        std::vector<double> same = square;
        for (double& v : same) v += shape.sameEpochsShift;
        const LossGroup squareGroup = makeGroup(makeKey(shape.id, "square", "early_stopping", 0.1), "test/acc", square);
        const LossGroup sameGroup = makeGroup(makeKey(shape.id, "square", "same_epochs_as_ce", 0.1), "test/acc", same);
        analysis.groups.insert(analysis.groups.end(), {ce, squareGroup, sameGroup});
        analysis.comparisons.push_back(makeComparison(squareGroup, ce, "test/acc"));
        analysis.comparisons.push_back(makeComparison(sameGroup, ce, "test/acc"));
        if (shape.id == "cifar10/resnet18") {
            const LossGroup rescaled = makeGroup(makeKey(shape.id, "square", "early_stopping", 0.1, 1.0, 15.0),
                                                 "test/acc", draw(rng, shape.squareMean - 0.002, shape.squareStd));
            analysis.groups.push_back(rescaled);
            analysis.comparisons.push_back(makeComparison(rescaled, ce, "test/acc"));
        }
    }

    std::map<std::string, std::vector<CurveGroup>> curves;
    auto seedCurves = [&](int epochs, double start, double plateau, double rate, double noise) {
        std::map<std::int64_t, std::vector<double>> out;
        for (std::int64_t seed = 1; seed <= 5; ++seed) {
            const int stop = epochs - int(seed % 3) * 2; // early stopping ends at different epochs
            out[seed] = curve(rng, stop, start, plateau, rate, noise);
        }
        return out;
    };
    // cifar10/wrn: the square loss converges more slowly (10 classes); CE stops early.
    curves["cifar10/wrn"] = {
        makeCurveGroup(makeKey("cifar10/wrn", "ce", "early_stopping", 0.05), "val/acc",
                       seedCurves(60, 0.45, 0.962, 0.12, 0.004)),
        makeCurveGroup(makeKey("cifar10/wrn", "square", "early_stopping", 0.1), "val/acc",
                       seedCurves(80, 0.35, 0.959, 0.07, 0.004)),
        makeCurveGroup(makeKey("cifar10/wrn", "square", "same_epochs_as_ce", 0.1), "val/acc",
                       seedCurves(60, 0.35, 0.955, 0.07, 0.004)),
    };
    curves["fashion_mnist/mlp"] = {
        makeCurveGroup(makeKey("fashion_mnist/mlp", "ce", "early_stopping", 0.05), "val/acc",
                       seedCurves(30, 0.80, 0.893, 0.25, 0.003)),
        makeCurveGroup(makeKey("fashion_mnist/mlp", "square", "early_stopping", 0.1), "val/acc",
                       seedCurves(34, 0.78, 0.897, 0.2, 0.003)),
        makeCurveGroup(makeKey("fashion_mnist/mlp", "square", "early_stopping", 0.1, 1.0, 15.0), "val/acc",
                       seedCurves(34, 0.74, 0.893, 0.15, 0.003)),
    };

    try {
        std::vector<std::string> warnings;
        for (const auto& path : writeReportFigures(analysis, curves, argv[1], FigureFormats{}, warnings))
            std::cout << path << "\n";
        for (const auto& warning : warnings) std::cerr << "warning: " << warning << "\n";
    } catch (const Error& error) {
        std::cerr << "error: " << error.what() << "\n";
        return 1;
    }
    return 0;
}
