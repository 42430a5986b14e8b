#!/usr/bin/python3
"""The default LossLab experiment written as a researcher would in plain PyTorch (Python API).

resources/experiments/default.yaml, without any LossLab code: Fashion-MNIST from the four IDX
.gz files, 10 % of the training set held out for validation (one seeded split for every seed),
a seeded subset of 12,000 training examples, an MLP 784-256-10 (ReLU), SGD with momentum 0.9
(no Nesterov, no weight decay), batch 128, cross-entropy at lr 0.05 and the square loss at
lr 0.2 (k = M = 1: the mean over the batch of (1/C) * sum_i (f_i - onehot_i)^2, as
core/src/losses/loss_function.cpp), up to 20 epochs with early stopping on validation accuracy
(patience 5, strictly better only), and the square loss also trained for exactly the epochs
that cross-entropy's early stopping chose for the same seed ("same epochs as CE"); 5 seeds.
Every epoch evaluates the training, validation and test sets (the engine's default
train.train_metrics: full). All data is moved to the device, normalised, before training.

It is the baseline of the "default experiment, wall time" row of scripts/gpu-check.sh. It
prints one line per run on standard error and, at the end, one JSON line on standard output:
per-run test accuracy at the reported epoch, and the wall time (from the start of the script,
data loading included) and the training time (after loading).

    /usr/bin/python3 bench/peer_default.py --device cpu --seeds 1 --max-epochs 2 --limit-train 2000
    python3 bench/peer_default.py --device cuda --data-root /usr/share/datasets/fashion-mnist

The numbers are not expected to equal LossLab's bit for bit (other initialisation draws, split
and batch order); they are expected to be close (test accuracy ~0.85 with the full sizes).
"""
import argparse
import copy
import gzip
import json
import os
import struct
import sys
import time

T_START = time.perf_counter()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST, as plugins/vision/vision_transforms.cpp
NUM_CLASSES = 10
LOSSES = {"ce": 0.05, "square": 0.2}  # learning rates of default.yaml


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    body = bytearray(data[4 + 4 * ndim:])
    return torch.frombuffer(body, dtype=torch.uint8).reshape(dims)


def find(root, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(root, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"peer_default.py: {stem}(.gz) not found in {root}")


def load(root, device, val_fraction, limit_train, split_seed):
    def images(stem):
        x = read_idx(find(root, stem)).float().div_(255.0)
        return x.sub_(MEAN).div_(STD).unsqueeze(1)  # [N, 1, 28, 28]

    x_train, y_train = images("train-images-idx3-ubyte"), read_idx(find(root, "train-labels-idx1-ubyte")).long()
    x_test, y_test = images("t10k-images-idx3-ubyte"), read_idx(find(root, "t10k-labels-idx1-ubyte")).long()
    g = torch.Generator().manual_seed(split_seed)
    perm = torch.randperm(len(y_train), generator=g)
    n_val = round(val_fraction * len(y_train))
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    if 0 < limit_train < len(train_idx):
        g_sub = torch.Generator().manual_seed(split_seed + 1)
        train_idx = train_idx[torch.randperm(len(train_idx), generator=g_sub)[:limit_train]]
    splits = {"train": (x_train[train_idx], y_train[train_idx]),
              "val": (x_train[val_idx], y_train[val_idx]),
              "test": (x_test, y_test)}
    return {k: (x.to(device), y.to(device)) for k, (x, y) in splits.items()}


class Mlp(nn.Module):
    def __init__(self, hidden=256):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden)
        self.out = nn.Linear(hidden, NUM_CLASSES)

    def forward(self, x):
        return self.out(F.relu(self.fc1(x.flatten(1))))


def square_loss(outputs, labels):
    target = F.one_hot(labels, NUM_CLASSES).to(outputs.dtype)
    return ((outputs - target) ** 2).sum(1).div(NUM_CLASSES).mean()


def loss_fn(name):
    return F.cross_entropy if name == "ce" else square_loss


@torch.no_grad()
def evaluate(model, x, y, loss, batch=1000):
    model.eval()
    correct = torch.zeros((), device=x.device)
    total_loss = torch.zeros((), device=x.device)
    for i in range(0, len(y), batch):
        out = model(x[i:i + batch])
        correct += (out.argmax(1) == y[i:i + batch]).sum()
        total_loss += loss(out, y[i:i + batch]) * len(out)
    model.train()
    return correct.item() / len(y), total_loss.item() / len(y)


def train_run(data, loss_name, seed, epochs, early_stopping, patience, batch, device, train_eval):
    torch.manual_seed(seed)
    model = Mlp().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=LOSSES[loss_name], momentum=0.9)
    loss = loss_fn(loss_name)
    x, y = data["train"]
    order = torch.Generator(device=device).manual_seed(seed)
    best_acc, best_epoch, since_best, reported_test = -1.0, 0, 0, float("nan")
    epoch = 0
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(len(y), device=device, generator=order)
        for i in range(0, len(y), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss(model(x[idx]), y[idx]).backward()
            opt.step()
        if train_eval:
            evaluate(model, x, y, loss)
        test_acc, _ = evaluate(model, *data["test"], loss)
        if early_stopping:
            val_acc, _ = evaluate(model, *data["val"], loss)
            if val_acc > best_acc:
                best_acc, best_epoch, since_best, reported_test = val_acc, epoch, 0, test_acc
                best_state = copy.deepcopy(model.state_dict())  # what a researcher keeps
            else:
                since_best += 1
                if since_best >= patience:
                    break
        else:
            best_epoch, reported_test = epoch, test_acc
    if early_stopping:
        model.load_state_dict(best_state)
    return {"loss": loss_name, "protocol": "early_stopping" if early_stopping else "same_epochs_as_ce",
            "seed": seed, "epochs": epoch, "best_epoch": best_epoch, "test_acc": round(reported_test, 6)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--data-root", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--max-epochs", type=int, default=20)
    p.add_argument("--limit-train", type=int, default=12000)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads on the CPU (0: torch's default)")
    p.add_argument("--no-train-eval", action="store_true", help="skip the training-set evaluation each epoch")
    a = p.parse_args()
    for name in ("seeds", "max_epochs", "patience", "batch"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')}: expected an integer >= 1")
    if a.device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SystemExit("peer_default.py: --device cuda: this torch has no CUDA device")
        torch.backends.cudnn.benchmark = True
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)

    data = load(a.data_root, device, 0.1, a.limit_train, a.split_seed)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t_train = time.perf_counter()
    runs = []
    for seed in range(a.seeds):
        ce = train_run(data, "ce", seed, a.max_epochs, True, a.patience, a.batch, device, not a.no_train_eval)
        sq = train_run(data, "square", seed, a.max_epochs, True, a.patience, a.batch, device, not a.no_train_eval)
        same = train_run(data, "square", seed, max(ce["best_epoch"], 1), False, a.patience, a.batch, device,
                         not a.no_train_eval)
        for r in (ce, sq, same):
            print(f"peer_default: {r['loss']} {r['protocol']} seed {seed}: {r['epochs']} epoch(s), "
                  f"reports epoch {r['best_epoch']}, test acc {r['test_acc']:.4f}", file=sys.stderr)
            runs.append(r)
    if device.type == "cuda":
        torch.cuda.synchronize()
    end = time.perf_counter()
    print(json.dumps({"impl": "pytorch-python", "torch": torch.__version__, "device": str(device),
                      "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "",
                      "seeds": a.seeds, "max_epochs": a.max_epochs, "limit_train": a.limit_train,
                      "runs": runs, "train_s": round(end - t_train, 3), "wall_s": round(end - T_START, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
