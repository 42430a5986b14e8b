#pragma once
// A TorchScript encoder the user gives as a file (model.file), checked when it is loaded, and
// the classifier LossLab fine-tunes: the encoder plus a linear head.
//
// The contract (docs/torchscript-models.md):
//   text:  forward(input_ids, attention_mask, token_type_ids), int64 [B, T] each;
//   image: forward(images), float [B, 3, S, S];
// returning a pooled [B, H] tensor or a sequence [B, T, H] (model.output), or a tuple / list /
// dict holding one (the first tensor of that rank is used, of a dict's values in their order;
// Hugging Face models traced with torchscript=True return (sequence, pooled)). Of a sequence,
// position 0 ([CLS]) is used.
//
// Randomness: the core's rule is that a run draws only from its own generators, but the code
// in a TorchScript file (its dropout) draws from torch's global generator. So a training
// forward pass of an encoder whose graph holds random operations runs under one process-wide
// lock, with the global generator of the training device first seeded from the run's own
// generator (ModelInput::generator). A seeded run thus gives the same numbers alone or beside
// other runs; TorchScript forward passes of concurrent runs take turns (backward passes,
// evaluation and encoders without random operations do not).
#include <cstdint>
#include <string>

#include <ATen/core/Generator.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/serialize/archive.h>

#include "losslab/tasks/task.h"

namespace losslab::torchscript {

enum class EncoderKind { Text, Image };
enum class EncoderOutput { Pooled, Sequence };

EncoderOutput parseEncoderOutput(const std::string& text); // "pooled" | "sequence"

// What a trial forward pass gives the encoder.
struct TrialInput {
    std::int64_t length = 8;     // text: tokens per example
    std::int64_t imageSize = 32; // image: S
};

// A loaded, checked encoder on the CPU.
struct LoadedEncoder {
    torch::jit::Module module;
    std::int64_t hidden = 0; // H, from the trial forward pass
    bool drawsRandom = true; // its forward graph holds random operations (dropout, rand, ...)
    std::string path;
    std::string digest; // of the file's bytes: checkpoints keep it, so a resume notices a changed file
};

// Loads `path` (model.file) on the CPU and checks it: a TorchScript file with a forward
// method taking the inputs of `kind`, whose trial forward pass (eval mode, no gradients, two
// examples of `trial`'s size) returns what `output` names. Every problem is a losslab::Error
// naming the file and what was expected: not set, missing, not TorchScript (a state dict
// saved with torch.save), no forward, the wrong signature or output rank, code that needs
// CUDA on a machine without it.
LoadedEncoder loadEncoder(const std::string& path, EncoderKind kind, EncoderOutput output, const TrialInput& trial);

struct HeadOptions {
    std::int64_t classes = 2;
    double dropout = 0;     // before the head, drawn from the run's generator
    bool freezeEncoder = false; // train the head only: the encoder stays in eval mode, without gradients
};

// The encoder's parameters and buffers are registered as this module's (under "encoder",
// with the encoder's own names as nested modules), so the core's optimiser, checkpoints,
// resume and best-epoch snapshots cover them like any model's; the head is "head", weights
// drawn N(0, 0.02) from the run's init generator and bias 0 (Hugging Face's BERT classifier).
class EncoderClassifierImpl : public ClassifierModule {
public:
    EncoderClassifierImpl(LoadedEncoder encoder, EncoderKind kind, EncoderOutput output, const HeadOptions& head,
                          at::Generator& init);

    // Text: input.features int64 ids [B, T], input.lengths [B] (the attention mask), and
    // input.features2 the token type ids [B, T]. Image: input.features float [B, 3, S, S].
    torch::Tensor forward(const ModelInput& input) override;

    void train(bool on = true) override;
    using torch::nn::Module::to;
    void to(torch::Device device, bool non_blocking = false) override;
    void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
    void to(torch::Dtype dtype, bool non_blocking = false) override;

    // The archive (checkpoints, reported weights) also holds the digest of model.file as it was
    // loaded, under "model_file_digest"; load() refuses an archive written with another file
    // (losslab::Error naming it), so a resumed run does not go on with changed code or weights.
    void save(torch::serialize::OutputArchive& archive) const override;
    void load(torch::serialize::InputArchive& archive) override;

private:
    c10::IValue encode(const ModelInput& input, bool drawsNow);

    torch::jit::Module m_encoder;
    EncoderKind m_kind;
    EncoderOutput m_output;
    std::string m_path;
    std::string m_digest;
    bool m_drawsRandom;
    HeadOptions m_options;
    torch::nn::Linear m_head{nullptr};
};

// Picks the [B, H] features from what forward returned (the contract above). Error naming
// `path` when it holds no tensor of the rank `output` needs.
torch::Tensor encoderFeatures(const c10::IValue& value, EncoderOutput output, const std::string& path);

} // namespace losslab::torchscript
