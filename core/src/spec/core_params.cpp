// The core's settings catalogue: every data.*, train.* and runner.* key an experiment may set
// beside a task's own, with its type, default, bounds and meaning (docs/experiment-keys.md
// lists the same). Kept apart from the experiment file's reading, which uses it.
#include "losslab/spec/experiment_spec.h"

namespace losslab {

const std::vector<ParamDecl>& coreParamDecls() {
    static const std::vector<ParamDecl> kDecls = {
        {"data.root", ParamType::Path, "", "folder holding the task's data files (empty: the task's default)", {}, {}, {}},
        {"data.val_fraction", ParamType::Double, "auto", "fraction of the training set held out for validation; auto: 0.1 for the protocols that need a validation set (early_stopping, same_epochs_as_ce), 0 for fixed_epochs", 0.0, 0.9, {"auto"}},
        {"data.split_seed", ParamType::Int, "0", "seed of the validation split and of data.limit_train's subset, the same for every seed of the experiment; per_seed: drawn from each run's seed", 0.0, {}, {"per_seed"}},
        {"data.limit_train", ParamType::Int, "0", "train on a seeded subset of this many examples (0: all)", 0.0, {}, {}},
        {"data.limit_test", ParamType::Int, "0", "evaluate on a seeded subset of this many test examples (0: all)", 0.0, {}, {}},
        {"train.batch_size", ParamType::Int, "128", "examples per optimiser step", 1.0, 1e6, {}},
        {"train.eval_batch_size", ParamType::Int, "1000", "examples per forward pass when evaluating", 1.0, 1e7, {}},
        {"train.max_epochs", ParamType::Int, "30", "upper bound on epochs (fixed_epochs trains exactly this many)", 1.0, 100000.0, {}},
        {"train.patience", ParamType::Int, "5", "early stopping: epochs without a better validation accuracy before stopping", 1.0, 100000.0, {}},
        {"train.optimizer", ParamType::String, "sgd", "optimiser", {}, {}, {"sgd", "adam", "adamw"}},
        {"train.lr", ParamType::Double, "0.05", "learning rate of losses that do not set their own", 0.0, {}, {}},
        {"train.momentum", ParamType::Double, "0.9", "SGD momentum", 0.0, 1.0, {}},
        {"train.nesterov", ParamType::Bool, "false", "SGD Nesterov momentum", {}, {}, {}},
        {"train.precision", ParamType::String, "fp32",
         "arithmetic of training and evaluation: fp32 (the paper's), bf16 (autocast to bfloat16) or tf32 (CUDA matrix "
         "products and convolutions in TensorFloat-32); bf16 and tf32 change the numbers", {}, {}, {"fp32", "bf16", "tf32"}},
        {"train.channels_last", ParamType::Bool, "false", "images and convolution weights in channels-last memory order", {}, {}, {}},
        {"train.cuda_graphs", ParamType::String, "off",
         "CUDA graphs of the training step: on (capture where the step allows it), auto (only small models) or off; "
         "the same kernels, so the same numbers", {}, {}, {"auto", "on", "off"}},
        {"train.weight_decay", ParamType::Double, "0", "L2 weight decay (decoupled for adamw)", 0.0, {}, {}},
        {"train.schedule", ParamType::String, "constant", "learning-rate schedule: constant, multistep and cosine per epoch; linear (warm-up, then linear decay to 0) per step", {}, {}, {"constant", "multistep", "cosine", "linear"}},
        {"train.milestones", ParamType::IntList, "[]", "multistep: epochs after which the rate is multiplied by gamma", 1.0, {}, {}},
        {"train.gamma", ParamType::Double, "0.1", "multistep: factor applied at each milestone", 0.0, 1.0, {}},
        {"train.grad_clip", ParamType::Double, "0", "clip the global gradient norm to this value (0: off)", 0.0, {}, {}},
        {"train.log_every_steps", ParamType::Int, "50", "store the training loss every this many steps", 1.0, {}, {}},
        {"train.divergence_factor", ParamType::Double, "100", "a run diverged when a logged training loss is not finite or exceeds this many times its first batch's loss (the loss at initialisation); 0: only non-finite losses", 0.0, {}, {}},
        {"train.train_metrics", ParamType::String, "full", "train-split metrics: full (evaluate after each epoch), at_report (evaluate only at the epochs the protocol may report) or running (averaged during the epoch)", {}, {}, {"full", "at_report", "running"}},
        {"runner.runs_per_device", ParamType::Int, "1", "runs training at once on each CUDA device", 1.0, 64.0, {}},
        {"runner.cpu_runs", ParamType::Int, "1", "runs training at once on the CPU (each gets cores / cpu_runs threads)", 1.0, 64.0, {}},
        {"runner.reuse_prefix", ParamType::String, "auto",
         "a square loss's same_epochs_as_ce run: auto takes its epochs from the early-stopping run of the same recipe and seed "
         "where training is deterministic (CPU); off trains it", {}, {}, {"auto", "off"}},
        {"runner.resume_every_epochs", ParamType::Int, "0",
         "epochs between resume checkpoints; 0: whenever writing one costs at most a tenth of the training time since the last", 0.0, 1000000.0, {}},
        {"runner.threads", ParamType::Int, "0", "CPU threads per run (0: OMP_NUM_THREADS, or the usable cores shared among runner.cpu_runs)", 0.0, 1024.0, {}},
    };
    return kDecls;
}

} // namespace losslab
