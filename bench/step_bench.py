#!/usr/bin/python3
"""PyTorch (Python API) baseline for losslab-bench-step.

Times one training step (zero_grad, forward, loss, backward, SGD step) of the same model,
batch, optimiser and loss as bench/step_bench.cpp, with the same thread count and timing
method, and prints the same format. Run it with Debian's /usr/bin/python3 (python3-torch,
the same 1.13 as libtorch-dev). It measures; it never passes or fails on time.

Mirrors (keep in step with the C++ side):
  plugins/vision/mlp.cpp        flatten, Linear-ReLU per hidden width, Linear to 10 scores
  plugins/vision/small_cnn.cpp  conv 32 3x3 pad 1 - ReLU - max-pool 2 - conv 64 3x3 pad 1 - ReLU
                                - max-pool 2 - fc 128 - ReLU - fc 10 (dropout 0: none)
  core/src/losses/loss_function.cpp  ce: F.cross_entropy; square (k = M = 1):
                                mean over the batch of (1/C) * sum_i (f_i - onehot_i)^2
  smallImageRecipe + core defaults   SGD lr 0.05, momentum 0.9, no Nesterov, no weight decay

What it shares with bench/text_step_bench.py (options, set-up, losses, timing, report) is in
bench/bench_common.py.
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (bench/bench_common.py)

NUM_CLASSES = 10
IMAGE_SIDE = 28
LR = 0.05
MOMENTUM = 0.9


class Mlp(nn.Module):
    def __init__(self, input_size, hidden, num_classes):
        super().__init__()
        widths = [input_size] + list(hidden)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.out = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.out(x)


class SmallCnn(nn.Module):
    def __init__(self, in_channels, image_size, num_classes):
        super().__init__()
        pooled = image_size // 2 // 2
        self.conv1 = nn.Conv2d(in_channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * pooled * pooled, 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), [2, 2])
        x = F.max_pool2d(F.relu(self.conv2(x)), [2, 2])
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def parse_hidden(text):
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        raise SystemExit(f"step_bench.py: --hidden: expected a list like [512, 512], got '{text}'")
    items = [s.strip() for s in body[1:-1].split(",") if s.strip()]
    try:
        widths = [int(s) for s in items]
    except ValueError:
        raise SystemExit(f"step_bench.py: --hidden: expected integers, got '{text}'")
    if any(w < 1 for w in widths):
        raise SystemExit(f"step_bench.py: --hidden: every width must be at least 1, got '{text}'")
    return widths


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_common.add_model_arguments(p, ["mlp", "cnn"], batch=128, steps=200, warmup=20)
    p.add_argument("--hidden", default="[512, 512]")
    p.add_argument("--loss", choices=["ce", "square"], default="ce")
    bench_common.add_run_arguments(p)
    a = bench_common.parse_args(p, min_batch=1)
    blas, device = bench_common.set_up(a, "step_bench.py")

    hidden = parse_hidden(a.hidden) if a.model == "mlp" else []
    torch.manual_seed(a.seed)
    if a.model == "mlp":
        model = Mlp(IMAGE_SIDE * IMAGE_SIDE, hidden, NUM_CLASSES)
        shape = (a.batch, IMAGE_SIDE * IMAGE_SIDE)
    else:
        model = SmallCnn(1, IMAGE_SIDE, NUM_CLASSES)
        shape = (a.batch, 1, IMAGE_SIDE, IMAGE_SIDE)
    model.to(device)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, nesterov=False, weight_decay=0)
    loss_fn = bench_common.loss_function(a.loss)
    features = torch.randn(shape).to(device)
    labels = torch.randint(0, NUM_CLASSES, (a.batch,), dtype=torch.long).to(device)

    def step():
        optimizer.zero_grad(set_to_none=False)  # what the engine's zeroGradients() does (torch_compat.h)
        outputs = model(features)
        value = loss_fn(outputs, labels)
        value.backward()
        optimizer.step()

    median, mean = bench_common.time_steps(step, a.warmup, a.steps, a.device == "cuda")
    hidden_text = "[" + ", ".join(str(w) for w in hidden) + "]" if a.model == "mlp" else ""
    bench_common.print_report(a, f"fashion_mnist/{a.model}", a.batch, blas, median, mean, hidden=hidden_text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
