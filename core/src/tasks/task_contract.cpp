#include "task_contract.h"

#include <utility>
#include <vector>

#include <c10/core/ScalarType.h>

#include "losslab/error.h"

namespace losslab::Internal {

std::string taskName(const TaskInfo& info) {
    return "task '" + info.id + "'" + (info.plugin.empty() ? std::string() : " (plugin '" + info.plugin + "')");
}

void checkSplit(const TaskInfo& info, const std::string& source, const std::string& name, const TensorSplit& split,
                std::int64_t classes, std::int64_t minLabel, bool mayBeEmpty) {
    const std::string where = taskName(info) + ": " + source + ": the " + name + " split";
    if (split.size() == 0) {
        if (mayBeEmpty) return;
        throw Error(where + " is empty; expected at least one example");
    }
    const torch::Tensor& labels = split.labels;
    for (const auto& [member, tensor] : {std::pair{"labels", &split.labels}, std::pair{"features", &split.features},
                                         std::pair{"lengths", &split.lengths}, std::pair{"features2", &split.features2},
                                         std::pair{"lengths2", &split.lengths2}})
        if (tensor->defined() && !tensor->is_cpu())
            throw Error(where + "'s " + member + " are on " + tensor->device().str() +
                        "; expected CPU tensors (the core moves them to the run's device)");
    if (!c10::isIntegralType(labels.scalar_type(), /*includeBool=*/false))
        throw Error(where + "'s labels are " + std::string(c10::toString(labels.scalar_type())) +
                    "; expected int64 class indices (TensorSplit::labels)");
    const std::int64_t rows = split.size();
    const std::pair<const char*, const torch::Tensor*> members[] = {
        {"features", &split.features}, {"lengths", &split.lengths}, {"features2", &split.features2}, {"lengths2", &split.lengths2}};
    for (const auto& [member, tensor] : members) {
        if (!tensor->defined()) {
            if (std::string(member) == "features") throw Error(where + " has labels but no features");
            continue;
        }
        if (tensor->dim() == 0 || tensor->size(0) != rows)
            throw Error(where + " has " + (tensor->dim() == 0 ? std::string("no rows") : std::to_string(tensor->size(0)) + " rows") +
                        " of " + member + " but " + std::to_string(rows) + " labels; expected one row per label");
    }
    const std::int64_t low = labels.min().item<std::int64_t>(), high = labels.max().item<std::int64_t>();
    if (low < minLabel || high >= classes) {
        const std::string counted = info.numClasses > 0 ? "the task's numClasses" : "data.classes";
        throw Error(where + " has label " + std::to_string(low < minLabel ? low : high) + "; expected labels in [0, " +
                    std::to_string(classes) + ") (" + counted + " is " + std::to_string(classes) + ")" +
                    (minLabel < 0 ? ", or " + std::to_string(minLabel) + " for padding" : std::string()));
    }
    for (const auto& [member, tensor] : {std::pair{"features", &split.features}, std::pair{"features2", &split.features2}}) {
        if (!tensor->defined() || !tensor->is_floating_point()) continue;
        const torch::Tensor bad = torch::isfinite(*tensor).logical_not().reshape({rows, -1}).any(1);
        if (bad.any().item<bool>())
            throw Error(where + " has NaN or infinite " + member + " (" + std::to_string(bad.sum().item<std::int64_t>()) +
                        " row(s), the first is row " + std::to_string(bad.nonzero()[0][0].item<std::int64_t>()) +
                        "); a run on them would only diverge");
    }
}

void checkScores(const torch::Tensor& out, const torch::Tensor& labels, std::int64_t classes, const TaskInfo& info) {
    auto shape = [](c10::IntArrayRef sizes) {
        std::string text;
        for (const auto s : sizes) text += (text.empty() ? "" : ", ") + std::to_string(s);
        return "[" + text + "]";
    };
    std::vector<std::int64_t> expected(labels.sizes().begin(), labels.sizes().end());
    expected.push_back(classes);
    bool ok = out.defined() && out.is_floating_point() && out.dim() == labels.dim() + 1 && out.size(0) == labels.size(0) &&
              out.size(-1) == classes;
    if (ok && out.dim() == 3) {
        ok = info.paddedLabels ? out.size(1) <= labels.size(1) : out.size(1) == labels.size(1);
        if (info.paddedLabels) expected[1] = out.size(1);
    }
    if (ok) return;
    const std::string got = !out.defined() ? std::string("no scores (an undefined tensor)")
                                           : std::string(c10::toString(out.scalar_type())) + " scores of shape " + shape(out.sizes());
    throw Error(taskName(info) + ": the model returned " + got + " for a batch of labels " + shape(labels.sizes()) +
                "; expected float scores of shape " + shape(expected) + ": one raw score for each of the " +
                std::to_string(classes) + " classes" + (out.dim() == 3 && info.paddedLabels ? " (at most as many positions as the labels)" : ""));
}

} // namespace losslab::Internal
