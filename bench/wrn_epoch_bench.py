#!/usr/bin/python3
"""WRN epoch in PyTorch's Python API: the baseline of the WRN row of scripts/gpu-check.sh.

Trains the Wide-ResNet of cifar10/wrn (plugins/vision/wide_resnet.cpp: pre-activation basic
blocks, 3x3 convolutions without bias, 1x1 shortcut where the shape changes, BN-ReLU, global
average pool, fc; depth 28, widen factor 10 by default) with the task's recipe (SGD lr 0.1,
Nesterov momentum 0.9, weight decay 5e-4, batch 128) and its augmentation (zero padding 4,
random crop and horizontal flip per image, on the device; then the CIFAR-10 mean / std) on
CIFAR-10 binary batches, for --epochs epochs, and prints one JSON line: the seconds of each
epoch's training pass (no evaluation; CUDA synchronised), images per second, the FLOPs of one
training image (3 x the forward pass's multiply-adds x 2, counted on the convolutions and the
fc layer) and the achieved TFLOP/s, with the GPU's peak when it is known (--peak-tflops
overrides). Precision: float32 with PyTorch's defaults (cuDNN convolutions may use TF32, matrix
products do not), the same as the engine, which changes neither; cuDNN benchmark mode on, as
the engine's configureProcess() sets it. Both are printed.

    python3 bench/wrn_epoch_bench.py --data-root DIR/cifar-10-batches-bin --device cuda --limit-train 20000

--make-data OUT --fashion-mnist ROOT writes a CIFAR-10-format folder (data_batch_1..5.bin,
test_batch.bin: records of 1 label byte and 3x32x32 bytes, channel planes, row-major) from
Fashion-MNIST, each 28x28 image padded to 32x32 and copied into the three channels, so that
accuracies mean something; --random writes random images and labels instead.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILE = "test_batch.bin"
RECORD = 1 + 3 * 32 * 32

# Dense peak TFLOP/s (NVIDIA data sheets): (FP32 without tensor cores, TF32 tensor cores).
PEAKS = [("H200", 67.0, 494.7), ("H100 PCIe", 51.2, 378.0), ("H100 NVL", 60.0, 417.5),
         ("H100", 66.9, 494.7), ("A100", 19.5, 156.0), ("L40S", 91.6, 183.0), ("A10", 31.2, 62.5)]


# ---- data ---------------------------------------------------------------------------------

def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = struct.unpack(">I", data[:4])[0] & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def idx_file(root, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(root, name)):
            return os.path.join(root, name)
    raise SystemExit(f"wrn_epoch_bench.py: {stem}(.gz) not found in {root}")


def records(images, labels):
    """[N, 28, 28] or [N, 3, 32, 32] uint8 images and [N] labels -> [N, 3073] CIFAR records."""
    if images.dim() == 3:
        images = F.pad(images, (2, 2, 2, 2)).unsqueeze(1).expand(-1, 3, -1, -1)
    return torch.cat([labels.to(torch.uint8).view(-1, 1), images.reshape(len(labels), -1)], 1).contiguous()


def make_data(out, fmnist_root, random):
    os.makedirs(out, exist_ok=True)
    if random:
        g = torch.Generator().manual_seed(0)
        def split(n):
            return (torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                    torch.randint(0, 10, (n,), generator=g, dtype=torch.uint8))
        train, test = split(50000), split(10000)
    else:
        train = (read_idx(idx_file(fmnist_root, "train-images-idx3-ubyte"))[:50000],
                 read_idx(idx_file(fmnist_root, "train-labels-idx1-ubyte"))[:50000])
        test = (read_idx(idx_file(fmnist_root, "t10k-images-idx3-ubyte")),
                read_idx(idx_file(fmnist_root, "t10k-labels-idx1-ubyte")))
    train_rec = records(*train)
    for i, name in enumerate(TRAIN_FILES):
        write_atomic(os.path.join(out, name), train_rec[i * 10000:(i + 1) * 10000])
    write_atomic(os.path.join(out, TEST_FILE), records(*test))
    print(f"wrn_epoch_bench.py: wrote {len(train_rec)} + {len(test[1])} CIFAR-format records "
          f"({'random' if random else 'Fashion-MNIST, padded to 32x32, 3 channels'}) into {out}", file=sys.stderr)


def write_atomic(path, rec):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(rec.numpy().tobytes())
    os.replace(tmp, path)


def load_cifar(root, limit):
    if os.path.isdir(os.path.join(root, "cifar-10-batches-bin")):
        root = os.path.join(root, "cifar-10-batches-bin")
    parts = []
    for name in TRAIN_FILES:
        with open(os.path.join(root, name), "rb") as f:
            parts.append(torch.frombuffer(bytearray(f.read()), dtype=torch.uint8).view(-1, RECORD))
    rec = torch.cat(parts)
    if 0 < limit < len(rec):
        rec = rec[torch.randperm(len(rec), generator=torch.Generator().manual_seed(0))[:limit]]
    return rec[:, 1:].reshape(-1, 3, 32, 32).contiguous(), rec[:, 0].long()


# ---- model --------------------------------------------------------------------------------

def conv3x3(cin, cout, stride):
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), conv3x3(cin, cout, stride)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), conv3x3(cout, cout, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride=stride, bias=False) if cin != cout or stride != 1 else None

    def forward(self, x):
        a = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(a))))
        return out + (self.shortcut(a) if self.shortcut is not None else x)


class WideResNet(nn.Module):
    def __init__(self, depth=28, widen=10, num_classes=10):
        super().__init__()
        n = (depth - 4) // 6
        self.stem = conv3x3(3, 16, 1)
        blocks, c = [], 16
        for stage, w in enumerate((16 * widen, 32 * widen, 64 * widen)):
            for b in range(n):
                blocks.append(Block(c, w, 2 if b == 0 and stage > 0 else 1))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(c)
        self.fc = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        x = F.relu(self.bn(self.blocks(self.stem(x))))
        return self.fc(x.mean((2, 3)))


def forward_flops(model, device):
    """FLOPs (2 x multiply-adds) of one image's forward pass, convolutions and fc only."""
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            total[0] += 2 * out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        else:
            total[0] += 2 * out.numel() * m.in_features
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32, device=device))
    model.train()
    for h in handles:
        h.remove()
    return total[0]


def crop_flip(images, padding, gen):
    b, c, h, w = images.shape
    dev = images.device
    padded = F.pad(images, (padding,) * 4)
    row = torch.randint(0, 2 * padding + 1, (b, 1), generator=gen, device=dev)
    col = torch.randint(0, 2 * padding + 1, (b, 1), generator=gen, device=dev)
    flip = torch.randint(0, 2, (b, 1), generator=gen, device=dev).bool()
    ar = torch.arange(w, device=dev).view(1, w)
    cols = col + torch.where(flip, (w - 1) - ar, ar)
    rows = row + torch.arange(h, device=dev).view(1, h)
    index = (rows.view(b, h, 1) * (w + 2 * padding) + cols.view(b, 1, w)).view(b, 1, h * w).expand(b, c, h * w)
    return padded.reshape(b, c, -1).gather(2, index).view(b, c, h, w)


def peak_for(name):
    for key, fp32, tf32 in PEAKS:
        if key in name:
            return fp32, tf32
    return None, None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", help="the cifar-10-batches-bin folder (or the folder above it)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--depth", type=int, default=28)
    p.add_argument("--widen", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--limit-train", type=int, default=0, help="train on this many images (0: all 50,000)")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--peak-tflops", type=float, default=0.0, help="the GPU's peak for the ratio (default: looked up)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32",
                   help="as LossLab's train.precision: fp32 keeps cuDNN's convolutions in fp32 too "
                        "(PyTorch lets them use TF32 by default), tf32 allows TF32, bf16 autocasts to bfloat16")
    p.add_argument("--make-data", metavar="OUT", help="write a CIFAR-format folder and exit")
    p.add_argument("--fashion-mnist", metavar="ROOT", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--random", action="store_true", help="with --make-data: random images instead of Fashion-MNIST")
    a = p.parse_args()
    if a.make_data:
        make_data(a.make_data, a.fashion_mnist, a.random)
        return 0
    if not a.data_root:
        p.error("--data-root is required (or --make-data OUT)")
    if (a.depth - 4) % 6 or a.depth < 10:
        p.error("--depth: expected 6n + 4 >= 10")
    cuda = a.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit("wrn_epoch_bench.py: --device cuda: this torch has no CUDA device")
    if cuda:
        torch.backends.cudnn.benchmark = True
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)

    images, labels = load_cifar(a.data_root, a.limit_train)
    images, labels = images.to(device), labels.to(device)
    mean = torch.tensor(CIFAR_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD, device=device).view(1, 3, 1, 1)
    # The same arithmetic as LossLab's train.precision (trainer.cpp sets both switches on CUDA).
    torch.backends.cudnn.allow_tf32 = a.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = a.precision == "tf32"
    autocast_device = "cuda" if cuda else "cpu"
    torch.manual_seed(0)
    model = WideResNet(a.depth, a.widen).to(device)
    flops_fwd = forward_flops(model, device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    gen = torch.Generator(device=device).manual_seed(0)
    n = len(labels)
    epoch_s, last_loss = [], float("nan")
    for _ in range(a.epochs):
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=device, generator=gen)
        for i in range(0, n, a.batch):
            idx = perm[i:i + a.batch]
            x = images[idx]
            if not a.no_augment:
                x = crop_flip(x, 4, gen)
            x = (x.float() / 255.0 - mean) / std
            opt.zero_grad()
            with torch.autocast(autocast_device, dtype=torch.bfloat16, enabled=a.precision == "bf16"):
                scores = model(x)
            loss = F.cross_entropy(scores.float(), labels[idx])
            loss.backward()
            opt.step()
        last_loss = loss.item()
        if cuda:
            torch.cuda.synchronize()
        epoch_s.append(time.perf_counter() - t0)
    gpu = torch.cuda.get_device_name(device) if cuda else ""
    fp32_peak, tf32_peak = peak_for(gpu)
    if a.peak_tflops > 0:
        fp32_peak = tf32_peak = a.peak_tflops
    flops_train = 3 * flops_fwd
    last = epoch_s[-1]
    achieved = flops_train * n / last / 1e12
    print(json.dumps({
        "impl": "pytorch-python", "torch": torch.__version__, "device": str(device), "gpu": gpu,
        "depth": a.depth, "widen": a.widen, "batch": a.batch, "images": n, "augment": not a.no_augment,
        "params": sum(t.numel() for t in model.parameters()),
        "precision": a.precision,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32 if cuda else False,
        "epoch_s": [round(s, 4) for s in epoch_s], "images_per_s": round(n / last, 2),
        "forward_gflop_per_image": round(flops_fwd / 1e9, 4), "train_gflop_per_image": round(flops_train / 1e9, 4),
        "achieved_tflops": round(achieved, 3), "peak_fp32_tflops": fp32_peak, "peak_tf32_tflops": tf32_peak,
        "last_loss": round(last_loss, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
