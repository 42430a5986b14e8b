#include "losslab/training/optimizer_factory.h"

#include <cmath>

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "losslab/error.h"

namespace losslab {

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const ParamSet& params,
                                                       const std::vector<torch::Tensor>& parameters, double lr) {
    const std::string& name = params.getString("train.optimizer");
    const double wd = params.getDouble("train.weight_decay");
    if (name == "sgd") {
        const double momentum = params.getDouble("train.momentum");
        const bool nesterov = params.getBool("train.nesterov");
        if (nesterov && momentum <= 0) throw Error("train.nesterov: Nesterov momentum needs train.momentum > 0");
        return std::make_unique<torch::optim::SGD>(
            parameters, torch::optim::SGDOptions(lr).momentum(momentum).nesterov(nesterov).weight_decay(wd));
    }
    if (name == "adam")
        return std::make_unique<torch::optim::Adam>(parameters, torch::optim::AdamOptions(lr).weight_decay(wd));
    if (name == "adamw")
        return std::make_unique<torch::optim::AdamW>(parameters, torch::optim::AdamWOptions(lr).weight_decay(wd));
    throw Error("train.optimizer: expected sgd, adam or adamw, got '" + name + "'");
}

double scheduledLearningRate(const ParamSet& params, double baseLr, int epoch) {
    const std::string& schedule = params.getString("train.schedule");
    if (schedule == "multistep") {
        double lr = baseLr;
        const double gamma = params.getDouble("train.gamma");
        for (const auto m : params.getIntList("train.milestones"))
            if (epoch > m) lr *= gamma;
        return lr;
    }
    if (schedule == "cosine") {
        const double total = static_cast<double>(params.getInt("train.max_epochs"));
        const double t = std::min(static_cast<double>(epoch - 1), total) / total;
        return baseLr * 0.5 * (1.0 + std::cos(M_PI * t));
    }
    return baseLr;
}

bool schedulesPerStep(const ParamSet& params) { return params.getString("train.schedule") == "linear"; }

std::int64_t warmupSteps(const ParamSet& params, std::int64_t totalSteps) {
    const double fraction = params.has("train.warmup") ? params.getDouble("train.warmup") : 0.0;
    return static_cast<std::int64_t>(std::ceil(fraction * static_cast<double>(totalSteps)));
}

double stepLearningRate(const ParamSet& params, double baseLr, std::int64_t step, std::int64_t totalSteps) {
    const std::int64_t warmup = warmupSteps(params, totalSteps);
    if (step < warmup) return baseLr * static_cast<double>(step) / static_cast<double>(warmup);
    const double left = static_cast<double>(totalSteps - step) / static_cast<double>(std::max<std::int64_t>(1, totalSteps - warmup));
    return baseLr * std::max(0.0, left);
}

void setLearningRate(torch::optim::Optimizer& optimizer, double lr) {
    for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

} // namespace losslab
