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
"""
import argparse
import ctypes
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

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


def cross_entropy(outputs, labels):
    return F.cross_entropy(outputs, labels, reduction="none").mean()


def square_loss(outputs, labels, k=1.0, m=1.0):
    # The same tensor ops as LossFunction::perExample, then the batch mean.
    num_classes = outputs.size(1)
    target = torch.zeros_like(outputs).scatter_(1, labels.unsqueeze(1), m)
    sq = (outputs - target).pow(2)
    if k != 1.0:
        true_term = sq.gather(1, labels.unsqueeze(1))
        sq = sq.scatter(1, labels.unsqueeze(1), true_term * k)
    return (sq.sum(1) / float(num_classes)).mean()


def openblas():
    """The OpenBLAS that torch loaded (through libblas.so.3), or None."""
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_get_num_threads  # noqa: B018 - raises AttributeError for another BLAS
        return lib
    except (OSError, AttributeError):
        return None


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
    p.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: every core)")
    p.add_argument("--hidden", default="[512, 512]")
    p.add_argument("--loss", choices=["ce", "square"], default="ce")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--blas-threads", type=int, default=-1,
                   help="openblas_set_num_threads(N) (default: leave OpenBLAS as it starts)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    for name, least in (("batch", 1), ("steps", 1), ("warmup", 0), ("threads", 0)):
        if getattr(a, name) < least:
            p.error(f"--{name}: expected an integer >= {least}, got {getattr(a, name)}")

    blas_lib = openblas()
    if a.blas_threads > 0:
        if blas_lib is None:
            raise SystemExit("step_bench.py: --blas-threads: the loaded BLAS is not OpenBLAS")
        blas_lib.openblas_set_num_threads(a.blas_threads)
    if blas_lib is not None:
        blas = f"BLAS: OpenBLAS, {blas_lib.openblas_get_num_threads()} thread(s)"
    else:
        blas = "BLAS: reference or unknown BLAS"
    if a.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("step_bench.py: --device cuda: this torch has no CUDA device")
    device = torch.device(a.device)
    cuda = a.device == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True  # as configureProcess() does
    torch.set_num_threads(a.threads if a.threads > 0 else (os.cpu_count() or 1))

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
    loss_fn = cross_entropy if a.loss == "ce" else square_loss
    features = torch.randn(shape).to(device)
    labels = torch.randint(0, NUM_CLASSES, (a.batch,), dtype=torch.long).to(device)

    def step():
        optimizer.zero_grad(set_to_none=False)  # what the engine's zeroGradients() does (torch_compat.h)
        outputs = model(features)
        value = loss_fn(outputs, labels)
        value.backward()
        optimizer.step()

    for _ in range(a.warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    ms = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        ms.append((time.perf_counter() - t0) * 1000.0)
    median, mean = statistics.median(ms), statistics.fmean(ms)

    task = f"fashion_mnist/{a.model}"
    hidden_text = "[" + ", ".join(str(w) for w in hidden) + "]" if a.model == "mlp" else ""
    if a.json:
        print(json.dumps({"impl": "python", "torch": torch.__version__, "task": task, "model": a.model,
                          "hidden": hidden_text, "batch": a.batch, "loss": a.loss, "device": a.device,
                          "threads": torch.get_num_threads(), "blas": blas, "warmup": a.warmup,
                          "steps": a.steps, "median_ms": round(median, 4), "mean_ms": round(mean, 4)}))
    else:
        print(f"python torch {torch.__version__}  {task}" + (f" hidden {hidden_text}" if hidden_text else "")
              + f"  batch {a.batch}  loss {a.loss}  device {a.device}  threads {torch.get_num_threads()}  {blas}")
        print(f"       median {median:.3f} ms/step, mean {mean:.3f} ms/step over {a.steps} steps"
              f" ({a.warmup} warm-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
