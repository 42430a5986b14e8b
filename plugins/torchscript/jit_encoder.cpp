#include "jit_encoder.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <string_view>
#include <system_error>
#include <vector>

#include <ATen/Context.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/serialization/import.h>
#include <torch/cuda.h>
#include <torch/nn/functional/linear.h>
#include <torch/version.h>

#include "losslab/error.h"
#include "losslab/spec/file_digest.h"
#include "losslab/tasks/model_random.h"

namespace losslab::torchscript {

namespace {

namespace fs = std::filesystem;

const char* const kDocs = "see docs/torchscript-models.md";

std::string firstLine(const std::string& text) {
    const auto end = text.find('\n');
    return end == std::string::npos ? text : text.substr(0, end);
}

// What went wrong, in one line: TorchScript's interpreter puts the cause last, after the
// traceback ("RuntimeError: ..."); LibTorch's own errors first.
std::string errorSummary(const std::string& text) {
    std::string line = firstLine(text);
    if (text.rfind("The following operation failed in the TorchScript interpreter", 0) == 0) {
        std::size_t end = text.find_last_not_of("\n ");
        if (end != std::string::npos) {
            const std::size_t start = text.rfind('\n', end);
            line = text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1) + 1);
        }
    }
    constexpr std::size_t kMost = 240;
    return line.size() > kMost ? line.substr(0, kMost) + "..." : line;
}

// The first line with text: the interpreter's and the compiler's messages start with a newline.
std::string firstNonEmptyLine(const std::string& text) {
    std::size_t start = text.find_first_not_of("\n\r \t");
    if (start == std::string::npos) return text;
    std::string line = firstLine(text.substr(start));
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    return line;
}

// The compiler's reason, before the code it points at. LibTorch 2 states a call that fits no
// schema in two lines ("aten::op(Tensor query, ...) -> Tensor:", then "Argument key not
// provided."): a first line ending in ':' takes the next one with it.
std::string compilerReason(const std::string& text) {
    const std::string first = firstNonEmptyLine(text);
    if (first.empty() || first.back() != ':') return first;
    const std::size_t at = text.find(first);
    const std::string next = firstNonEmptyLine(text.substr(at + first.size()));
    return next.empty() ? first : first + " " + next;
}

// LibTorch's "[enforce fail at inline_container.cc:165] . " before the message.
std::string withoutEnforcePrefix(const std::string& line) {
    if (line.rfind("[enforce fail at ", 0) != 0) return line;
    const std::size_t end = line.find("] ");
    if (end == std::string::npos) return line;
    std::string rest = line.substr(end + 2);
    if (rest.rfind(". ", 0) == 0) rest = rest.substr(2);
    return rest;
}

const char* const kNewerPyTorch =
    "A file exported by a newer PyTorch may use a newer format or operations this LibTorch lacks (PyTorch 2's "
    "aten::scaled_dot_product_attention, say): export it with PyTorch " TORCH_VERSION
    " if you can, and a Hugging Face model with attn_implementation=\"eager\"; ";

std::string shapeText(const torch::Tensor& t) { return c10::str(t.sizes()); }

std::string inputsText(EncoderKind kind) {
    return kind == EncoderKind::Text ? "(input_ids, attention_mask, token_type_ids)" : "(images)";
}

// Whether `block` (or a block nested in it) calls an operation that draws random numbers.
bool drawsRandom(const torch::jit::Block* block) {
    static const std::array<std::string_view, 11> kRandom = {"dropout",  "rand",     "bernoulli", "normal",
                                                             "uniform",  "multinomial", "rrelu",  "poisson",
                                                             "exponential", "cauchy", "geometric"};
    for (const torch::jit::Node* node : block->nodes()) {
        const std::string name = node->kind().toQualString();
        if (name.rfind("aten::", 0) == 0)
            for (const auto word : kRandom)
                if (name.find(word) != std::string::npos) return true;
        for (const torch::jit::Block* inner : node->blocks())
            if (drawsRandom(inner)) return true;
    }
    return false;
}

bool graphDrawsRandom(torch::jit::Module& module) {
    try {
        const auto graph = module.get_method("forward").graph()->copy();
        torch::jit::Inline(*graph); // calls of sub-modules' methods and of functions
        return drawsRandom(graph->block());
    } catch (const std::exception&) {
        return true; // when in doubt, treat its draws as random
    }
}

std::vector<c10::IValue> trialInputs(EncoderKind kind, const TrialInput& trial, const torch::Device& device) {
    const auto longs = torch::TensorOptions().dtype(torch::kLong).device(device);
    if (kind == EncoderKind::Image) // not constant: dropout of a constant 0 would go unseen
        return {torch::linspace(-1, 1, 2 * 3 * trial.imageSize * trial.imageSize, torch::TensorOptions().device(device))
                    .view({2, 3, trial.imageSize, trial.imageSize})};
    // Two examples of other tokens (ids 0 and 1), so that an encoder that ignores its input is seen.
    return {torch::arange(2, longs).view({2, 1}).expand({2, trial.length}).contiguous(),
            torch::ones({2, trial.length}, longs), torch::zeros({2, trial.length}, longs)};
}

// The features of a trial forward pass on `device`.
torch::Tensor trialForward(torch::jit::Module& module, EncoderKind kind, EncoderOutput output, const TrialInput& trial,
                           const torch::Device& device, const std::string& path) {
    torch::NoGradGuard noGrad;
    return encoderFeatures(module.forward(trialInputs(kind, trial, device)), output, path);
}

bool sameValues(const torch::Tensor& a, const torch::Tensor& b) {
    if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type()) return false;
    return a.eq(b).logical_or(a.isnan().logical_and(b.isnan())).all().item<bool>();
}

// The trial forward pass (module in eval mode) on `device`, checking that the module follows
// eval mode as evaluation needs: it leaves its buffers alone (no batch-norm statistics
// updated) and gives the same features for the same input a second time (no dropout or other
// draws, which LibTorch cannot seed in evaluation). A model traced in train mode does neither:
// tracing records the mode.
torch::Tensor checkedTrialForward(torch::jit::Module& module, EncoderKind kind, EncoderOutput output, const TrialInput& trial,
                                  const torch::Device& device, const std::string& path) {
    std::vector<std::pair<std::string, torch::Tensor>> before;
    for (const auto& b : module.named_buffers(/*recurse=*/true))
        if (b.value.defined()) before.emplace_back(b.name, b.value.detach().clone());
    const torch::Tensor features = trialForward(module, kind, output, trial, device, path);
    const char* const howToExport = "Trace it after calling model.eval(), or script it (torch.jit.script), which "
                                    "follows train and eval mode; ";
    std::string changed;
    std::size_t count = 0;
    for (const auto& b : module.named_buffers(/*recurse=*/true)) {
        if (!b.value.defined()) continue;
        const auto it = std::find_if(before.begin(), before.end(), [&](const auto& e) { return e.first == b.name; });
        if (it != before.end() && sameValues(it->second, b.value.detach())) continue;
        if (count++ < 3) changed += (changed.empty() ? "" : ", ") + b.name;
    }
    if (count > 0)
        throw Error(path + " (model.file): forward changes the module's buffers in eval mode (" + changed +
                    (count > 3 ? ", ... " + std::to_string(count) + " in all" : std::string()) +
                    "): its batch norm keeps updating its statistics and normalising with the batch's, as a model "
                    "traced in train mode does, so evaluation would depend on the batch. " + howToExport + kDocs);
    torch::Tensor again = trialForward(module, kind, output, trial, device, path);
    if (!torch::allclose(features.to(torch::kDouble), again.to(torch::kDouble), 1e-5, 1e-6, /*equal_nan=*/true))
        throw Error(path + " (model.file): forward gives different features for the same input in eval mode: it "
                           "draws random numbers there (dropout, as a model traced in train mode does), so evaluation "
                           "would apply dropout, drawn from a generator the run does not own. " + howToExport + kDocs);
    return features;
}

void checkSignature(torch::jit::Module& module, EncoderKind kind, const std::string& path) {
    const auto method = module.find_method("forward");
    if (!method) throw Error(path + " (model.file): the TorchScript module has no forward method; " + kDocs);
    const auto& arguments = method->function().getSchema().arguments();
    std::vector<std::string> names;
    std::size_t required = 0;
    for (std::size_t i = 1; i < arguments.size(); ++i) { // 0 is self
        names.push_back(arguments[i].name());
        if (!arguments[i].default_value()) required = i;
    }
    const std::size_t needed = kind == EncoderKind::Text ? 3 : 1;
    if (names.size() < needed || required > needed) {
        std::string taken;
        for (const auto& n : names) taken += (taken.empty() ? "" : ", ") + n;
        throw Error(path + " (model.file): its forward takes (" + taken + ") but " +
                    (kind == EncoderKind::Text ? "a text" : "an image") + " encoder's must take " + inputsText(kind) +
                    "; " + kDocs);
    }
}

constexpr const char* kDigestKey = "model_file_digest";

} // namespace

EncoderOutput parseEncoderOutput(const std::string& text) {
    if (text == "pooled") return EncoderOutput::Pooled;
    if (text == "sequence") return EncoderOutput::Sequence;
    throw Error("model.output: expected pooled or sequence, got '" + text + "'");
}

torch::Tensor encoderFeatures(const c10::IValue& value, EncoderOutput output, const std::string& path) {
    const std::int64_t rank = output == EncoderOutput::Pooled ? 2 : 3;
    const char* const want = output == EncoderOutput::Pooled ? "[B, H] (model.output: pooled)" : "[B, T, H] (model.output: sequence)";
    torch::Tensor found;
    std::string seen;
    auto consider = [&](const c10::IValue& v, const std::string& label) {
        seen += (seen.empty() ? "" : ", ") + label;
        if (!v.isTensor()) {
            seen += v.isGenericDict() ? "a dict" : v.tagKind();
            return;
        }
        const torch::Tensor t = v.toTensor();
        seen += shapeText(t);
        if (!found.defined() && t.dim() == rank) found = t;
    };
    if (value.isTuple()) {
        for (const auto& v : value.toTupleRef().elements()) consider(v, "");
    } else if (value.isList()) {
        for (const c10::IValue& v : value.toListRef()) consider(v, "");
    } else if (value.isGenericDict()) { // its values in their order (TorchScript's dicts keep it)
        for (const auto& item : value.toGenericDict())
            consider(item.value(), (item.key().isString() ? item.key().toStringRef() : item.key().tagKind()) + ": ");
    } else {
        consider(value, "");
    }
    if (!found.defined())
        throw Error(path + " (model.file): forward returned " +
                    (value.isTensor() ? "a tensor " : value.isGenericDict() ? "a dict of " : "") + seen + "; expected " +
                    want + (value.isTensor() ? "" : " or a tuple, list or dict holding one") + ". " +
                    (output == EncoderOutput::Pooled ? "Set model.output: sequence for an encoder that returns [B, T, H]; "
                                                     : "Set model.output: pooled for an encoder that returns [B, H]; ") +
                    kDocs);
    if (!found.is_floating_point())
        throw Error(path + " (model.file): forward returned " + shapeText(found) + " " + std::string(c10::toString(found.scalar_type())) +
                    " features; expected floating-point ones; " + kDocs);
    return output == EncoderOutput::Sequence ? found.select(1, 0) : found;
}

LoadedEncoder loadEncoder(const std::string& path, EncoderKind kind, EncoderOutput output, const TrialInput& trial) {
    if (path.empty())
        throw Error(std::string("model.file is not set: name the TorchScript ") + (kind == EncoderKind::Text ? "text" : "image") +
                    " encoder to fine-tune (a file written by torch.jit.save); " + kDocs);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw Error(path + " (model.file): no such file");
    LoadedEncoder encoder;
    encoder.path = path;
    try {
        // Weights saved on a GPU are loaded on the CPU; the run moves them to its device.
        encoder.module = torch::jit::load(path, torch::Device(torch::kCPU));
    } catch (const c10::Error& e) {
        std::string message = withoutEnforcePrefix(firstNonEmptyLine(e.what_without_backtrace()));
        if (message.find("Attempted to read a PyTorch file with version") != std::string::npos) {
            const std::size_t upgrade = message.find(" The version of your PyTorch installation"); // advice that does not fit
            if (upgrade != std::string::npos) message.erase(upgrade);
            throw Error(path + " (model.file): written in a newer file format than LibTorch " + TORCH_VERSION +
                        ", which LossLab uses, reads (" + message + "). " + kNewerPyTorch + kDocs);
        }
        throw Error(path + " (model.file): not a TorchScript file (" + message +
                    "). Save the encoder with torch.jit.script(model).save(path) or torch.jit.trace(model, inputs)."
                    "save(path); a state dict written by torch.save is not enough; " + kDocs);
    } catch (const std::exception& e) {
        // The compiler's errors (torch::jit::ErrorReport) point at the code ("<--- HERE"); the
        // graph's own checks fail on a file of torch.jit.optimize_for_inference.
        const std::string message = e.what();
        if (message.find("<--- HERE") != std::string::npos)
            throw Error(path + " (model.file): LibTorch " + TORCH_VERSION + ", which LossLab uses, cannot compile its code (" +
                        compilerReason(message) + "). " + kNewerPyTorch + kDocs);
        throw Error(path + " (model.file): LibTorch " + TORCH_VERSION + ", which LossLab uses, cannot load it (" +
                    firstNonEmptyLine(message) + "). Save the module as torch.jit.script or torch.jit.trace returns it "
                    "(a module of torch.jit.optimize_for_inference does not load back, even in PyTorch 1.13); " + kDocs);
    }
    encoder.digest = fileDigest(path, "model.file");
    checkSignature(encoder.module, kind, path);
    encoder.module.eval();
    torch::Tensor features;
    try {
        features = checkedTrialForward(encoder.module, kind, output, trial, torch::kCPU, path);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) { // c10::Error, or the interpreter's torch::jit::JITException
        const auto* c10Error = dynamic_cast<const c10::Error*>(&e);
        const std::string message = errorSummary(c10Error ? c10Error->what_without_backtrace() : e.what());
        const bool mentionsCuda = message.find("CUDA") != std::string::npos || message.find("cuda") != std::string::npos;
        if (mentionsCuda && !torch::cuda::is_available())
            throw Error(path + " (model.file): the model's code runs on CUDA (" + message +
                        ") and this machine has no CUDA device. Export it on the CPU: script it, or trace it with "
                        "inputs and weights on the CPU; " + kDocs);
        if (!torch::cuda::is_available())
            throw Error(path + " (model.file): a trial forward pass on " + inputsText(kind) + " of shape " +
                        (kind == EncoderKind::Text ? "[2, " + std::to_string(trial.length) + "]"
                                                   : "[2, 3, " + std::to_string(trial.imageSize) + ", " +
                                                         std::to_string(trial.imageSize) + "]") +
                        " failed: " + message + "; " + kDocs);
        // Code traced on a GPU may run only there: try once on it.
        try {
            encoder.module.to(torch::Device(torch::kCUDA));
            features = checkedTrialForward(encoder.module, kind, output, trial, torch::Device(torch::kCUDA), path);
            encoder.module.to(torch::Device(torch::kCPU));
        } catch (const Error&) {
            throw;
        } catch (const std::exception& again) {
            throw Error(path + " (model.file): a trial forward pass failed on the CPU (" + message + ") and on CUDA (" +
                        errorSummary(again.what()) + "); " + kDocs);
        }
    }
    if (features.size(0) != 2)
        throw Error(path + " (model.file): forward returned " + shapeText(features) +
                    " features for a batch of 2 examples; expected one row per example; " + kDocs);
    encoder.hidden = features.size(1);
    if (encoder.hidden < 1) throw Error(path + " (model.file): forward returned features of size 0");
    // The trial's two examples differ; features equal to the last bit mean the encoder does not
    // read its input (traced with the input as a constant, or returning a parameter), and a run
    // would train a head on the same features for every example.
    if (sameValues(features[0], features[1]))
        throw Error(path + " (model.file): forward gives the same features for two different " +
                    std::string(kind == EncoderKind::Text ? "token sequences" : "images") +
                    ": the encoder does not read its input (traced with an example input held as a constant?), "
                    "so no classifier could be trained on it; " + kDocs);
    encoder.drawsRandom = graphDrawsRandom(encoder.module);
    return encoder;
}

// ---- the classifier ---------------------------------------------------------------------

namespace {

// Registers `tensor` under a dotted `name` ("layers.0.attention.qkv.weight") below `root`,
// creating one plain module per name part, so that saved archives keep the encoder's names.
void registerNested(torch::nn::Module& root, const std::string& name, const torch::Tensor& tensor, bool parameter,
                    bool requiresGrad) {
    torch::nn::Module* node = &root;
    std::size_t start = 0;
    for (std::size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', start)) {
        const std::string part = name.substr(start, dot - start);
        std::shared_ptr<torch::nn::Module> child;
        for (const auto& item : node->named_children())
            if (item.key() == part) child = item.value();
        if (!child) child = node->register_module(part, std::make_shared<torch::nn::Module>());
        node = child.get();
        start = dot + 1;
    }
    const std::string leaf = name.substr(start);
    if (parameter)
        node->register_parameter(leaf, tensor, requiresGrad);
    else
        node->register_buffer(leaf, tensor);
}

} // namespace

EncoderClassifierImpl::EncoderClassifierImpl(LoadedEncoder encoder, EncoderKind kind, EncoderOutput output,
                                             const HeadOptions& head, at::Generator& init)
    : m_encoder(std::move(encoder.module)), m_kind(kind), m_output(output), m_path(std::move(encoder.path)),
      m_digest(std::move(encoder.digest)), m_drawsRandom(encoder.drawsRandom), m_options(head) {
    auto root = register_module("encoder", std::make_shared<torch::nn::Module>());
    // A parameter the file holds with requires_grad=False (frozen in PyTorch before saving)
    // stays fixed, as PyTorch's optimisers would leave it.
    std::int64_t parameters = 0, trainable = 0;
    for (const auto& p : m_encoder.named_parameters(/*recurse=*/true)) {
        if (!p.value.defined()) continue;
        const bool trains = !head.freezeEncoder && p.value.requires_grad();
        registerNested(*root, p.name, p.value, true, trains);
        ++parameters;
        trainable += trains ? 1 : 0;
    }
    if (!head.freezeEncoder && trainable == 0)
        throw Error(m_path + " (model.file): the encoder has nothing to fine-tune: " +
                    (parameters == 0 ? std::string("it holds no parameters (torch.jit.freeze turns them into constants)")
                                     : parameters == 1 ? std::string("its parameter was saved with requires_grad=False")
                                                       : "its " + std::to_string(parameters) +
                                                             " parameters were saved with requires_grad=False") +
                    ". Save it without freezing, with requires_grad=True, or set model.freeze_encoder: true to train "
                    "the head alone; " + kDocs);
    for (const auto& b : m_encoder.named_buffers(/*recurse=*/true))
        if (b.value.defined()) registerNested(*root, b.name, b.value, false, false);
    m_head = register_module("head", torch::nn::Linear(encoder.hidden, head.classes));
    torch::NoGradGuard noGrad;
    normalInit(m_head->weight, 0.0, 0.02, init);
    m_head->bias.zero_();
    train(true);
}

void EncoderClassifierImpl::train(bool on) {
    torch::nn::Module::train(on);
    m_encoder.train(on && !m_options.freezeEncoder);
}

void EncoderClassifierImpl::to(torch::Device device, bool non_blocking) {
    torch::nn::Module::to(device, non_blocking); // the registered tensors, shared with the encoder
    m_encoder.to(device, non_blocking);           // and any other tensor the encoder holds
}

void EncoderClassifierImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
    torch::nn::Module::to(device, dtype, non_blocking);
    m_encoder.to(device, dtype, non_blocking);
}

void EncoderClassifierImpl::to(torch::Dtype dtype, bool non_blocking) {
    torch::nn::Module::to(dtype, non_blocking);
    m_encoder.to(dtype, non_blocking);
}

void EncoderClassifierImpl::save(torch::serialize::OutputArchive& archive) const {
    torch::nn::Module::save(archive);
    archive.write(kDigestKey, c10::IValue(m_digest));
}

void EncoderClassifierImpl::load(torch::serialize::InputArchive& archive) {
    c10::IValue stored;
    if (archive.try_read(kDigestKey, stored) && stored.isString() && stored.toStringRef() != m_digest)
        throw Error(m_path + " (model.file) has changed since these weights were saved with it (" + stored.toStringRef() +
                    ", now " + m_digest + "): a run resumed from them would go on with other code or weights");
    torch::nn::Module::load(archive);
}

c10::IValue EncoderClassifierImpl::encode(const ModelInput& input, bool drawsNow) {
    std::vector<c10::IValue> inputs;
    if (m_kind == EncoderKind::Text) {
        const torch::Tensor& ids = input.features;
        const torch::Tensor positions = torch::arange(ids.size(1), torch::TensorOptions().dtype(torch::kLong).device(ids.device()));
        const torch::Tensor mask = positions.unsqueeze(0).lt(input.lengths.unsqueeze(1)).to(torch::kLong);
        const torch::Tensor types = input.features2.defined() ? input.features2 : torch::zeros_like(ids);
        inputs = {ids, mask, types};
    } else {
        inputs = {input.features};
    }
    if (!drawsNow) return m_encoder.forward(inputs);
    if (!input.generator.defined())
        throw Error(m_path + ": a training forward pass without the run's generator (ModelInput::generator)");
    // Seed the device's global generator from the run's own one, and keep other runs'
    // TorchScript forward passes off it until this one has drawn (see jit_encoder.h).
    at::Generator gen = input.generator;
    const std::int64_t seed =
        torch::randint(std::int64_t{1} << 62, {1}, gen, torch::TensorOptions().dtype(torch::kLong).device(gen.device()))
            .item<std::int64_t>();
    std::lock_guard<std::mutex> lock(globalGeneratorMutex());
    at::Generator global = at::globalContext().defaultGenerator(gen.device());
    {
        std::lock_guard<std::mutex> generatorLock(global.mutex());
        global.set_current_seed(static_cast<std::uint64_t>(seed));
    }
    return m_encoder.forward(inputs);
}

torch::Tensor EncoderClassifierImpl::forward(const ModelInput& input) {
    // Built only for a message: forward runs every training step.
    auto batchText = [&] {
        return std::string(m_kind == EncoderKind::Text ? "input_ids " : "images ") + shapeText(input.features);
    };
    torch::Tensor features;
    try {
        if (m_options.freezeEncoder) {
            torch::NoGradGuard noGrad;
            features = encoderFeatures(encode(input, false), m_output, m_path);
        } else {
            features = encoderFeatures(encode(input, is_training() && m_drawsRandom), m_output, m_path);
        }
    } catch (const Error&) {
        throw;
    } catch (const c10::OutOfMemoryError&) {
        throw; // the core reports it as it reports any model's
    } catch (const std::exception& e) { // the interpreter's errors: the cause comes last, after its traceback
        const auto* c10Error = dynamic_cast<const c10::Error*>(&e);
        const std::string message = c10Error ? c10Error->what_without_backtrace() : e.what();
        throw Error(m_path + " (model.file): forward failed on " + batchText() + ": " + errorSummary(message) + "\n" + message);
    }
    // The trial pass fixed H, and the head has one row per example to score.
    const std::int64_t batch = input.features.size(0);
    if (features.size(0) != batch || features.size(1) != m_head->weight.size(1))
        throw Error(m_path + " (model.file): forward returned " + shapeText(features) + " features for " + batchText() +
                    "; expected [" + std::to_string(batch) + ", " + std::to_string(m_head->weight.size(1)) +
                    "]: one row per example, of the size H the trial forward pass gave; " + kDocs);
    features = dropout(features.to(m_head->weight.scalar_type()), m_options.dropout, is_training(), input.generator);
    return m_head(features);
}

} // namespace losslab::torchscript
