#pragma once
// A tiny synthetic task for engine tests: Gaussian blobs in 8 dimensions, 4 classes, a small
// MLP. Trains in milliseconds on a CPU, needs no data files. Options make it fail on purpose.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/functional/activation.h>

#include "losslab/data/tensor_split.h"
#include "losslab/error.h"
#include "losslab/tasks/model_random.h"
#include "losslab/tasks/task.h"

namespace losslab::fixtures {

struct ToyTaskOptions {
    std::string id = "toy/blobs";
    std::int64_t examples = 600;
    bool missingData = false; // loadData throws like a missing folder would
    // The transform asks for its features on the CPU (InputTransform::featuresOnHost), throws
    // when a batch's are anywhere else, and moves them to the run's device itself.
    bool featuresOnHost = false;
    // Declares data.labels_file, a path key (ParamType::Path) the task does not read.
    bool pathKey = false;
};

class ToyModel : public ClassifierModule {
public:
    ToyModel(std::int64_t hidden, std::int64_t classes, double dropout, at::Generator& init) : m_dropout(dropout) {
        m_fc1 = register_module("fc1", torch::nn::Linear(8, hidden));
        m_fc2 = register_module("fc2", torch::nn::Linear(hidden, classes));
        initLikePyTorch(*this, init);
    }
    torch::Tensor forward(const ModelInput& in) override {
        const torch::Tensor h = torch::relu(m_fc1->forward(in.features));
        return m_fc2->forward(dropout(h, m_dropout, is_training(), in.generator));
    }

private:
    torch::nn::Linear m_fc1{nullptr}, m_fc2{nullptr};
    double m_dropout;
};

class ToyTransform : public InputTransform {
public:
    ToyTransform(bool featuresOnHost, const torch::Device& device) : m_featuresOnHost(featuresOnHost), m_device(device) {}
    ModelInput apply(const TensorSplit& batch, bool, at::Generator&) const override {
        ModelInput input;
        input.features = batch.features;
        if (m_featuresOnHost) {
            if (!batch.features.is_cpu()) throw Error("toy/host: a batch's features are not on the CPU");
            input.features = copyToDevice(batch.features, m_device);
        }
        return input;
    }
    bool featuresOnHost() const override { return m_featuresOnHost; }

private:
    bool m_featuresOnHost;
    torch::Device m_device;
};

class ToyTask : public Task {
public:
    explicit ToyTask(ToyTaskOptions options = {}) : m_options(std::move(options)) {
        m_info.id = m_options.id;
        m_info.description = "Gaussian blobs, 4 classes (tests only)";
        m_info.domain = "test";
        m_info.dataset = "blobs";
        m_info.model = "MLP 8-h-4";
        m_info.numClasses = 4;
        m_info.params = {{"model.hidden", ParamType::Int, "16", "hidden units", 1.0, {}, {}},
                         {"model.dropout", ParamType::Double, "0", "dropout after the hidden layer", 0.0, 0.9, {}}};
        m_info.recipe = {{"train.lr", "0.05"}, {"train.batch_size", "32"}, {"train.max_epochs", "6"}};
        if (m_options.pathKey)
            m_info.params.push_back({"data.labels_file", ParamType::Path, "", "a file of labels (tests: not read)", {}, {}, {}});
    }
    const TaskInfo& info() const override { return m_info; }

    DataBundle loadData(const ParamSet&) const override {
        if (m_options.missingData) throw Error("/nonexistent/blobs: data folder not found (tests)");
        auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
        auto make = [&](std::int64_t n) {
            TensorSplit s;
            s.labels = torch::randint(0, 4, {n}, gen, torch::TensorOptions().dtype(torch::kLong));
            const torch::Tensor centers = torch::eye(4, 8) * 2.5;
            s.features = centers.index_select(0, s.labels) + torch::randn({n, 8}, gen, torch::TensorOptions());
            return s;
        };
        DataBundle b;
        b.train = make(m_options.examples);
        b.test = make(m_options.examples / 2);
        b.source = "synthetic blobs";
        return b;
    }
    std::unique_ptr<InputTransform> makeTransform(const ParamSet&, const torch::Device& device) const override {
        return std::make_unique<ToyTransform>(m_options.featuresOnHost, device);
    }
    std::shared_ptr<ClassifierModule> makeModel(const ParamSet& params, at::Generator& init) const override {
        return std::make_shared<ToyModel>(params.getInt("model.hidden"), 4, params.getDouble("model.dropout"), init);
    }

private:
    ToyTaskOptions m_options;
    TaskInfo m_info;
};

} // namespace losslab::fixtures
