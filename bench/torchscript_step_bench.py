#!/usr/bin/python3
"""PyTorch (Python API) baseline for losslab-bench-torchscript-step.

Times one fine-tuning step (zero_grad, forward, loss, backward, gradient clipping, optimiser
step) of the same TorchScript encoder file plus a linear head, batch, optimiser and loss as
bench/torchscript_step_bench.cpp, with the same thread count and timing method, and prints the
same format. Run it with Debian's /usr/bin/python3 (python3-torch, the same 1.13 as
libtorch-dev); it also runs on torch 2.x. It measures; it never passes or fails on time.

Mirrors (keep in step with the C++ side):
  plugins/torchscript/jit_encoder.cpp  the head: dropout (text 0.1, images 0) then Linear(H, C),
                                weight N(0, 0.02), bias 0; a pooled [B, H] output
  plugins/torchscript/torchscript_tasks.cpp  torchscript/text: AdamW lr 2e-5, weight decay 0, grad
                                clip 1, 2 classes (data.classes); torchscript/image: SGD lr 0.01,
                                momentum 0.9, grad clip 1, 10 classes; attention mask from the
                                lengths
  core/src/losses/loss_function.cpp  ce: F.cross_entropy; square (k = M = 1)

The batch is computed (see bench/torchscript_step_bench.cpp): text example i has length
10 + (7 i) % 23 of width 32, ids 5 + (131 i + 17 t) % (V - 5) at real positions and 0 past
them, token types 1 from position length // 2 on, label i % 2; image i is 3 x 32 x 32 with
pixel p of channel c ((131 i + 17 p + 7 c) % 256) / 128 - 1, label i % 10.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (bench/bench_common.py)

WIDTH = 32
IMAGE_SIZE = 32
TEXT = {"task": "torchscript/text", "classes": 2, "dropout": 0.1, "grad_clip": 1.0}
IMAGE = {"task": "torchscript/image", "classes": 10, "dropout": 0.0, "grad_clip": 1.0}


def text_batch(batch, vocab):
    rows = torch.arange(batch, dtype=torch.long)
    lengths = rows * 7 % 23 + 10
    i = rows.unsqueeze(1)
    t = torch.arange(WIDTH, dtype=torch.long).unsqueeze(0)
    real = t < lengths.unsqueeze(1)
    ids = ((131 * i + 17 * t) % (vocab - 5) + 5) * real
    types = (t >= torch.div(lengths, 2, rounding_mode="floor").unsqueeze(1)).long() * real
    return ids, lengths, types, rows % 2


def image_batch(batch):
    i = torch.arange(batch, dtype=torch.long).view(batch, 1, 1)
    c = torch.arange(3, dtype=torch.long).view(1, 3, 1)
    p = torch.arange(IMAGE_SIZE * IMAGE_SIZE, dtype=torch.long).view(1, 1, -1)
    images = ((131 * i + 17 * p + 7 * c) % 256).float() / 128.0 - 1.0
    return images.view(batch, 3, IMAGE_SIZE, IMAGE_SIZE), torch.arange(batch, dtype=torch.long) % 10


class Classifier(torch.nn.Module):
    def __init__(self, encoder, hidden, classes, dropout):
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(hidden, classes)
        torch.nn.init.normal_(self.head.weight, 0.0, 0.02)
        torch.nn.init.zeros_(self.head.bias)

    def forward(self, *inputs):
        return self.head(self.dropout(self.encoder(*inputs)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_common.add_model_arguments(p, ["text", "image"], batch=32, steps=30, warmup=5)
    p.add_argument("--loss", choices=["ce", "square"], default="ce")
    p.add_argument("--models", required=True, help="the folder tests/core/torchscript_models.py wrote")
    bench_common.add_run_arguments(p)
    a = bench_common.parse_args(p, min_batch=0)
    blas, device = bench_common.set_up(a, "torchscript_step_bench.py")
    batch = a.batch if a.batch > 0 else 32
    torch.manual_seed(a.seed)
    text = a.model == "text"
    cfg = TEXT if text else IMAGE
    encoder = torch.jit.load(os.path.join(a.models, "text_pooled.pt" if text else "image.pt"), map_location="cpu")
    if text:
        with open(os.path.join(a.models, "vocab.txt"), encoding="utf-8") as f:
            vocab = sum(1 for line in f if line.strip())
        ids, lengths, types, labels = text_batch(batch, vocab)
        ids, lengths, types = ids.to(device), lengths.to(device), types.to(device)

        def inputs():  # the attention mask from the lengths, as the plugin builds it per step
            positions = torch.arange(ids.size(1), device=ids.device)
            return ids, (positions.unsqueeze(0) < lengths.unsqueeze(1)).long(), types
        trial = (ids[:2], torch.ones_like(ids[:2]), torch.zeros_like(ids[:2]))
    else:
        images, labels = image_batch(batch)
        images = images.to(device)

        def inputs():
            return (images,)
        trial = (images[:2],)
    encoder.eval()
    with torch.no_grad():
        hidden = encoder(*trial).size(1)
    model = Classifier(encoder, hidden, cfg["classes"], cfg["dropout"]).to(device)
    model.train()
    labels = labels.to(device)
    if text:
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=False, weight_decay=0)
    loss_fn = bench_common.loss_function(a.loss)
    clip = cfg["grad_clip"]

    def step():
        optimizer.zero_grad(set_to_none=False)  # what the engine's zeroGradients() does (torch_compat.h)
        value = loss_fn(model(*inputs()), labels)
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()

    median, mean = bench_common.time_steps(step, a.warmup, a.steps, a.device == "cuda")
    bench_common.print_report(a, cfg["task"], batch, blas, median, mean, grad_clip=clip,
                              parameters=sum(p.numel() for p in model.parameters()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
