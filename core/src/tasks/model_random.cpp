#include "losslab/tasks/model_random.h"

#include <cmath>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/rnn.h>

#include "losslab/error.h"

namespace losslab {
namespace {

std::int64_t receptiveField(const torch::Tensor& weight) {
    std::int64_t r = 1;
    for (std::int64_t d = 2; d < weight.dim(); ++d) r *= weight.size(d);
    return r;
}

// weight and bias U(-b, b), b = 1/sqrt(fan_in): what kaiming_uniform_(a = sqrt(5)) gives for
// the weight, and what Linear and ConvNd give their bias.
void initAffine(torch::Tensor& weight, torch::Tensor& bias, at::Generator& gen) {
    const std::int64_t fan = fanIn(weight);
    const double bound = fan > 0 ? 1.0 / std::sqrt(static_cast<double>(fan)) : 0.0;
    uniformInit(weight, -bound, bound, gen);
    if (bias.defined()) uniformInit(bias, -bound, bound, gen);
}

template <typename Norm>
bool initNorm(torch::nn::Module& m) {
    auto* norm = m.as<Norm>();
    if (!norm) return false;
    torch::NoGradGuard noGrad;
    if (norm->weight.defined()) norm->weight.fill_(1.0);
    if (norm->bias.defined()) norm->bias.zero_();
    return true;
}

template <typename Conv>
bool initConv(torch::nn::Module& m, at::Generator& gen) {
    auto* conv = m.as<Conv>();
    if (!conv) return false;
    initAffine(conv->weight, conv->bias, gen);
    return true;
}

template <typename Rnn>
bool initRnn(torch::nn::Module& m, std::int64_t hidden, at::Generator& gen) {
    auto* rnn = m.as<Rnn>();
    if (!rnn) return false;
    const double bound = hidden > 0 ? 1.0 / std::sqrt(static_cast<double>(hidden)) : 0.0;
    for (auto& p : rnn->parameters(/*recurse=*/false)) uniformInit(p, -bound, bound, gen);
    return true;
}

void initOne(torch::nn::Module& m, at::Generator& gen) {
    if (auto* linear = m.as<torch::nn::Linear>()) {
        initAffine(linear->weight, linear->bias, gen);
        return;
    }
    if (initConv<torch::nn::Conv1d>(m, gen) || initConv<torch::nn::Conv2d>(m, gen) ||
        initConv<torch::nn::Conv3d>(m, gen) || initConv<torch::nn::ConvTranspose1d>(m, gen) ||
        initConv<torch::nn::ConvTranspose2d>(m, gen) || initConv<torch::nn::ConvTranspose3d>(m, gen))
        return;
    if (auto* bn = m.as<torch::nn::BatchNorm1d>()) return bn->reset_parameters();
    if (auto* bn = m.as<torch::nn::BatchNorm2d>()) return bn->reset_parameters();
    if (auto* bn = m.as<torch::nn::BatchNorm3d>()) return bn->reset_parameters();
    if (initNorm<torch::nn::LayerNorm>(m) || initNorm<torch::nn::GroupNorm>(m)) return;
    if (auto* embedding = m.as<torch::nn::Embedding>()) {
        normalInit(embedding->weight, 0.0, 1.0, gen);
        if (auto pad = embedding->options.padding_idx()) {
            torch::NoGradGuard noGrad;
            embedding->weight[*pad].zero_();
        }
        return;
    }
    if (auto* lstm = m.as<torch::nn::LSTM>()) {
        initRnn<torch::nn::LSTM>(m, lstm->options.hidden_size(), gen);
        return;
    }
    if (auto* gru = m.as<torch::nn::GRU>()) {
        initRnn<torch::nn::GRU>(m, gru->options.hidden_size(), gen);
        return;
    }
    if (auto* rnn = m.as<torch::nn::RNN>()) initRnn<torch::nn::RNN>(m, rnn->options.hidden_size(), gen);
}

void visit(torch::nn::Module& m, at::Generator& gen) {
    initOne(m, gen);
    for (const auto& child : m.children()) visit(*child, gen);
}

} // namespace

std::int64_t fanIn(const torch::Tensor& weight) {
    return weight.dim() < 2 ? weight.numel() : weight.size(1) * receptiveField(weight);
}

std::int64_t fanOut(const torch::Tensor& weight) {
    return weight.dim() < 2 ? weight.numel() : weight.size(0) * receptiveField(weight);
}

std::mutex& globalGeneratorMutex() {
    static std::mutex mutex;
    return mutex;
}

void initLikePyTorch(torch::nn::Module& model, at::Generator& gen) {
    visit(model, gen);
}

void uniformInit(torch::Tensor& tensor, double low, double high, at::Generator& gen) {
    torch::NoGradGuard noGrad;
    tensor.uniform_(low, high, gen);
}

void normalInit(torch::Tensor& tensor, double mean, double std, at::Generator& gen) {
    torch::NoGradGuard noGrad;
    tensor.normal_(mean, std, gen);
}

void kaimingNormalInit(torch::Tensor& weight, bool useFanOut, at::Generator& gen) {
    const std::int64_t fan = useFanOut ? fanOut(weight) : fanIn(weight);
    normalInit(weight, 0.0, fan > 0 ? std::sqrt(2.0 / static_cast<double>(fan)) : 0.0, gen);
}

torch::Tensor dropout(const torch::Tensor& x, double p, bool training, const at::Generator& gen) {
    if (!training || p <= 0.0) return x;
    if (!gen.defined())
        throw Error("dropout in training mode needs the run's generator (ModelInput::generator), but none was given");
    if (p >= 1.0) return x * 0.0;
    const torch::Tensor mask = at::empty_like(x).bernoulli_(1.0 - p, gen).div_(1.0 - p);
    return x * mask;
}

at::Generator makeGenerator(const torch::Device& device, std::uint64_t seed) {
    if (device.is_cpu()) return at::make_generator<at::CPUGeneratorImpl>(seed);
    // A copy of the device's default generator is a generator of the right kind that no
    // other run shares; reseeding it makes it independent of the default's state.
    at::Generator gen = at::globalContext().defaultGenerator(device).clone();
    {
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_current_seed(seed);
    }
    return gen;
}

} // namespace losslab
