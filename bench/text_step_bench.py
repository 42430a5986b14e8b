#!/usr/bin/python3
"""PyTorch (Python API) baseline for losslab-bench-text-step.

Times one training step (zero_grad, forward, loss, backward, gradient clipping, Adam step) of
the same text model, batch, optimiser and loss as bench/text_step_bench.cpp, with the same
thread count and timing method, and prints the same format. Run it with Debian's
/usr/bin/python3 (python3-torch, the same 1.13 as libtorch-dev); it also runs on torch 2.x. It
measures; it never passes or fails on time.

Mirrors (keep in step with the C++ side):
  bench/text_models_ref.py      the models of plugins/text (Esim, CharTransformer), dropout on
  plugins/text/text_tasks.cpp   glue/mrpc/lstm_attention: embedding 300, hidden 300, 30000 + 2
                                embedding rows, dropout 0.5, 2 classes; Adam lr 1e-4, grad
                                clip 10, batch 64. chars/text8/transformer: 4 layers, dim 256,
                                4 heads, feed-forward 1024, context 70, dropout 0.1, 27 classes;
                                Adam lr 2.5e-4, grad clip 0.25, batch 8
  core/src/losses/loss_function.cpp  ce: F.cross_entropy; square (k = M = 1): mean over the
                                examples of (1/C) * sum_i (f_i - onehot_i)^2; [B, T, C] scores
                                count every position as one example
  core/src/training/trainer.cpp clip_grad_norm_ when train.grad_clip > 0, then the step

The batch is the same on both sides without a shared generator: sentence pair i has lengths
10 + (7 i) % 31 and 10 + (11 i + 3) % 31 (width 40), ids 2 + (131 i + 17 t) % 30000 and
2 + (131 i + 17 t + 1000) % 30000 at real positions (0 past them), label i % 2; character
window i has ids (131 i + 17 t) % 27 and labels (131 i + 17 (t + 1)) % 27 (width 70).

What it shares with bench/step_bench.py (options, set-up, losses, timing, report) is in
bench/bench_common.py.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (bench/bench_common.py)
import text_models_ref  # noqa: E402  (bench/text_models_ref.py)

# The tasks' defaults and recipes (plugins/text/text_tasks.cpp).
ESIM = {"task": "glue/mrpc/lstm_attention", "vocab": 30000 + 2, "embedding_dim": 300, "hidden": 300,
        "dropout": 0.5, "classes": 2, "lr": 1e-4, "grad_clip": 10.0, "batch": 64}
TRANSFORMER = {"task": "chars/text8/transformer", "layers": 4, "dim": 256, "heads": 4, "feed_forward": 1024,
               "context": 70, "dropout": 0.1, "classes": 27, "lr": 2.5e-4, "grad_clip": 0.25, "batch": 8}
PAIR_WIDTH = 40


def pair_batch(batch, vocab_words=ESIM["vocab"] - 2):
    """(a, len_a, b, len_b, labels): ids int64 [B, 40], lengths and labels int64 [B]."""
    len_a = torch.tensor([10 + (7 * i) % 31 for i in range(batch)], dtype=torch.long)
    len_b = torch.tensor([10 + (11 * i + 3) % 31 for i in range(batch)], dtype=torch.long)
    i = torch.arange(batch, dtype=torch.long).unsqueeze(1)
    t = torch.arange(PAIR_WIDTH, dtype=torch.long).unsqueeze(0)
    a = (2 + (131 * i + 17 * t) % vocab_words) * (t < len_a.unsqueeze(1))
    b = (2 + (131 * i + 17 * t + 1000) % vocab_words) * (t < len_b.unsqueeze(1))
    labels = torch.arange(batch, dtype=torch.long) % 2
    return a, len_a, b, len_b, labels


def char_batch(batch, context=TRANSFORMER["context"], classes=TRANSFORMER["classes"]):
    """(ids, labels): int64 [B, context] each, labels the next symbol of the same sequence."""
    i = torch.arange(batch, dtype=torch.long).unsqueeze(1)
    t = torch.arange(context, dtype=torch.long).unsqueeze(0)
    return (131 * i + 17 * t) % classes, (131 * i + 17 * (t + 1)) % classes


def flatten_positions(outputs, labels):
    """[B, T, C] and [B, T] -> [B*T, C] and [B*T]; [B, C] and [B] pass through."""
    if outputs.dim() <= 2:
        return outputs, labels
    return outputs.reshape(-1, outputs.size(-1)), labels.reshape(-1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_common.add_model_arguments(p, ["esim", "transformer"], batch=0, steps=20, warmup=3,
                                     batch_help="batch size (0: the task's recipe, esim 64, transformer 8)")
    p.add_argument("--loss", choices=["ce", "square"], default="ce")
    p.add_argument("--grad-clip", type=float, default=-1.0,
                   help="clip_grad_norm_ max norm (0: none; default: the task's recipe)")
    bench_common.add_run_arguments(p)
    a = bench_common.parse_args(p, min_batch=0)
    blas, device = bench_common.set_up(a, "text_step_bench.py")

    cfg = ESIM if a.model == "esim" else TRANSFORMER
    batch = a.batch if a.batch > 0 else cfg["batch"]
    clip = cfg["grad_clip"] if a.grad_clip < 0 else a.grad_clip
    torch.manual_seed(a.seed)
    if a.model == "esim":
        model = text_models_ref.Esim(cfg["vocab"], cfg["embedding_dim"], cfg["hidden"], cfg["classes"], cfg["dropout"])
        ids_a, len_a, ids_b, len_b, labels = pair_batch(batch)
        # Lengths travel to the device with the batch, as in the engine (TensorSplit::to).
        inputs = tuple(x.to(device) for x in (ids_a, len_a, ids_b, len_b))
    else:
        model = text_models_ref.CharTransformer(cfg["classes"], cfg["layers"], cfg["dim"], cfg["heads"],
                                                cfg["feed_forward"], cfg["context"], cfg["dropout"])
        ids, labels = char_batch(batch)
        inputs = (ids.to(device),)
    labels = labels.to(device)
    model.to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=0)
    loss_fn = bench_common.loss_function(a.loss)

    def step():
        optimizer.zero_grad(set_to_none=False)  # what the engine's zeroGradients() does (torch_compat.h)
        outputs = model(*inputs)
        value = loss_fn(*flatten_positions(outputs, labels))
        value.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()

    median, mean = bench_common.time_steps(step, a.warmup, a.steps, a.device == "cuda")
    bench_common.print_report(a, cfg["task"], batch, blas, median, mean, grad_clip=clip,
                              parameters=text_models_ref.parameter_count(model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
