#!/usr/bin/python3
"""PyTorch (Python API) baseline for losslab-bench-speech-step.

Times one training step (zero_grad, forward, the study's loss on the decoder's scores, the
objective lambda * CTC + (1 - lambda) * s * loss, backward, gradient clipping, Adam step) of a
joint CTC-attention recogniser that mirrors the speech plugin's (the same layers, shapes, masking,
packed LSTMs, loss and parameter count; the weights are drawn the same way, not the same
values), on the same batch, with the same thread count and timing method as
bench/speech_step_bench.cpp, and prints the same format. Run it with Debian's /usr/bin/python3
(python3-torch, the same 1.13 as libtorch-dev). It measures; it never passes or fails on time.

Mirrors (keep in step with the C++ side):
  plugins/speech/ctc_attention.cpp  CtcAttentionImpl: VGG2L front end (optional), BLSTMP encoder
                                on packed sequences with frame subsampling, CTC branch (ctc_loss,
                                sum / B, zero_infinity), location-aware attention, LSTMCell
                                decoder fed [embedding; context], teacher forcing <sos> y1..yL,
                                objective lambda * CTC + (1 - lambda) * s * loss, s the mean
                                number of units; ESPnet's init_like_chainer. Dropout is 0 in
                                both models (the TIMIT recipe's), so none is drawn.
  core/src/losses/loss_function.cpp  ce: F.cross_entropy; square: k = 1, M = 15; labels padded
                                with -1 are ignored (the mean over the real positions)
  the TIMIT row's recipe        Adam lr 0.001 (weight decay 0), gradient norm clipped at 5,
                                lambda 0.3 (resources/experiments/timit_ctc_attention.yaml)

The batch (see bench/speech_step_bench.cpp): features [B, T, 80] drawn N(0, 1) from a generator
seeded with 1000 + seed; utterance b has T - (37 b) % 101 frames and 30 + (7 b) % 11 units
2 + (131 b + 17 i) % 39, then <eos> (41), padded with -1.
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import rnn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402  (bench/bench_common.py)

VOCAB = 42
FEATURES = 80


# ---- the model (plugins/speech/ctc_attention.cpp) -------------------------------------------

def frame_mask(lengths, frames):
    return torch.arange(frames, dtype=torch.long).unsqueeze(0) < lengths.unsqueeze(1)


def mask_frames(x, lengths, time_dim):
    padded = frame_mask(lengths, x.size(time_dim)).logical_not()
    shape = [1] * x.dim()
    shape[0] = x.size(0)
    shape[time_dim] = x.size(time_dim)
    return x.masked_fill(padded.view(shape), 0.0)


def subsampled_lengths(lengths, s):
    return (lengths + (s - 1)).div(s, rounding_mode="floor")


def run_packed(lstm, x, lengths):
    packed = rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = lstm(packed)
    return rnn.pad_packed_sequence(out, batch_first=True, padding_value=0.0, total_length=x.size(1))[0]


class CtcAttention(nn.Module):
    def __init__(self, vocab, input_dim=80, vgg=True, encoder_layers=4, encoder_units=320, projection_units=320,
                 subsample=(1, 2, 2, 1, 1), attention_dim=320, attention_channels=10, attention_filter=100,
                 decoder_units=300, ctc_weight=0.5):
        super().__init__()
        self.vocab = vocab
        self.vgg = vgg
        self.subsample0 = subsample[0] if not vgg and subsample else 1
        self.ctc_weight = ctc_weight
        self.decoder_units = decoder_units
        features = input_dim
        if vgg:
            channels = [1, 64, 64, 128, 128]
            self.vgg_convs = nn.ModuleList(nn.Conv2d(channels[i], channels[i + 1], 3, padding=1) for i in range(4))
            features = 128 * (((input_dim + 1) // 2 + 1) // 2)
        self.lstms = nn.ModuleList()
        self.projections = nn.ModuleList()
        self.layer_subsample = []
        for layer in range(encoder_layers):
            self.lstms.append(nn.LSTM(features, encoder_units, batch_first=True, bidirectional=True))
            self.projections.append(nn.Linear(2 * encoder_units, projection_units))  # BLSTMP: every layer
            s = subsample[layer + 1] if not vgg and layer + 1 < len(subsample) else 1
            self.layer_subsample.append(s)
            features = projection_units
        self.ctc = nn.Linear(projection_units, vocab)
        self.att_enc = nn.Linear(projection_units, attention_dim)
        self.att_dec = nn.Linear(decoder_units, attention_dim, bias=False)
        self.att_loc = nn.Linear(attention_channels, attention_dim, bias=False)
        self.att_conv = nn.Conv1d(1, attention_channels, 2 * attention_filter + 1, padding=attention_filter,
                                  bias=False)
        self.att_score = nn.Linear(attention_dim, 1)
        self.embedding = nn.Embedding(vocab, decoder_units)
        self.cell = nn.LSTMCell(decoder_units + projection_units, decoder_units)
        self.output = nn.Linear(decoder_units, vocab)
        self.init_like_espnet()
        self.ctc_loss = None
        self.attention_scale = 1.0

    def init_like_espnet(self):
        with torch.no_grad():
            for p in self.parameters():
                if p.dim() == 1:
                    p.zero_()
                else:
                    fan_in = p.size(1) * math.prod(p.shape[2:])
                    p.normal_(0.0, 1.0 / math.sqrt(fan_in))
            self.embedding.weight.normal_(0.0, 1.0)
            u = self.decoder_units
            self.cell.bias_ih[u:2 * u].fill_(1.0)

    def encode(self, features, lengths):
        x = mask_frames(features.float(), lengths, 1)
        if self.subsample0 > 1:
            x = x[:, ::self.subsample0]
            lengths = subsampled_lengths(lengths, self.subsample0)
        if self.vgg:
            x = x.unsqueeze(1)
            for block in range(2):
                for k in range(2):
                    x = mask_frames(torch.relu(self.vgg_convs[2 * block + k](x)), lengths, 2)
                x = F.max_pool2d(x, 2, 2, 0, 1, ceil_mode=True)
                lengths = subsampled_lengths(lengths, 2)
            x = x.transpose(1, 2)
            x = x.reshape(x.size(0), x.size(1), x.size(2) * x.size(3))
        last = len(self.lstms) - 1
        for layer, (lstm, projection, s) in enumerate(zip(self.lstms, self.projections, self.layer_subsample)):
            x = run_packed(lstm, x, lengths)
            if s > 1:
                x = x[:, ::s]
                lengths = subsampled_lengths(lengths, s)
            x = projection(x)
            if layer != last:
                x = torch.tanh(x)
        return mask_frames(x, lengths, 1), lengths

    def make_memory(self, states, lengths):
        return states, self.att_enc(states), frame_mask(lengths, states.size(1))

    def initial_state(self, memory, rows):
        states, _, mask = memory
        h = torch.zeros(rows, self.decoder_units)
        c = torch.zeros(rows, self.decoder_units)
        real = mask.to(states.dtype)
        return [h, c, real / real.sum(1, keepdim=True)]

    def attend(self, memory, query, state):
        states, projected, mask = memory
        location = self.att_loc(self.att_conv(state[2].unsqueeze(1)).transpose(1, 2))
        e = self.att_score(torch.tanh(location + projected + self.att_dec(query).unsqueeze(1))).squeeze(2)
        e = e.masked_fill(mask.logical_not(), -math.inf)
        state[2] = torch.softmax(2.0 * e, 1)
        return torch.matmul(state[2].unsqueeze(1), states).squeeze(1)

    def decoder_step(self, previous, state, memory):
        embedded = self.embedding(previous)
        context = self.attend(memory, state[0], state)
        state[0], state[1] = self.cell(torch.cat([embedded, context], 1), (state[0], state[1]))
        return self.output(state[0])

    def ctc_branch(self, states, lengths, targets, target_lengths, batch):
        log_probs = torch.log_softmax(self.ctc(states), 2).transpose(0, 1)
        return F.ctc_loss(log_probs, targets, lengths, target_lengths, blank=0, reduction="sum",
                          zero_infinity=True) / max(batch, 1)

    def forward(self, features, lengths, labels):
        states, enc_lengths = self.encode(features, lengths)
        batch = states.size(0)
        eos = self.vocab - 1
        # The labels on the CPU: units end at <eos> or the first padded position.
        units = []
        for row in labels.tolist():
            u = []
            for v in row:
                if v == -1 or v == eos:
                    break
                u.append(v)
            units.append(u)
        longest = max((len(u) for u in units), default=0)
        self.attention_scale = sum(len(u) for u in units) / batch if batch else 1.0
        self.ctc_loss = None
        if self.ctc_weight > 0:
            targets = torch.zeros(batch, max(longest, 1), dtype=torch.long)
            for b, u in enumerate(units):
                targets[b, :len(u)] = torch.tensor(u, dtype=torch.long)
            target_lengths = torch.tensor([len(u) for u in units], dtype=torch.long)
            self.ctc_loss = self.ctc_branch(states, enc_lengths, targets, target_lengths, batch)
        steps = longest + 1
        previous = torch.full((batch, steps), eos, dtype=torch.long)
        for b, u in enumerate(units):
            previous[b, 0] = eos  # <sos>
            previous[b, 1:len(u) + 1] = torch.tensor(u, dtype=torch.long)
        memory = self.make_memory(states, enc_lengths)
        state = self.initial_state(memory, batch)
        scores = [self.decoder_step(previous[:, i], state, memory) for i in range(steps)]
        return torch.stack(scores, 1)

    def objective(self, study_loss):
        lam = self.ctc_weight
        if lam >= 1.0:
            return self.ctc_loss
        attention = study_loss * self.attention_scale
        if lam <= 0.0:
            return attention
        return lam * self.ctc_loss + (1.0 - lam) * attention


def make_model(name, ctc_weight):
    if name == "timit":  # CtcAttentionOptions::timit(42)
        return CtcAttention(VOCAB, FEATURES, vgg=False, ctc_weight=ctc_weight)
    return CtcAttention(VOCAB, FEATURES, vgg=True, encoder_layers=2, encoder_units=128, projection_units=128,
                        attention_dim=128, decoder_units=128, ctc_weight=ctc_weight)


# ---- the loss (core/src/losses/loss_function.cpp, padding ignored) --------------------------

def padded_loss(kind):
    m = 15.0 if kind == "square" else 1.0

    def rows(outputs, labels):
        if kind == "ce":
            return F.cross_entropy(outputs, labels, reduction="none")
        target = torch.zeros_like(outputs).scatter_(1, labels.unsqueeze(1), m)
        return (outputs - target).pow(2).sum(1) / float(outputs.size(1))  # k = 1

    def loss(outputs, labels):
        outputs = outputs.reshape(-1, outputs.size(-1))
        labels = labels[:, :outputs.size(0) // labels.size(0)].reshape(-1)
        real = labels.ge(0)
        per = rows(outputs, labels.clamp_min(0)) * real.to(outputs.dtype)
        return per.sum() / real.sum().clamp_min(1).to(outputs.dtype)
    return loss


# ---- the batch ----------------------------------------------------------------------------

def speech_batch(batch, frames, seed):
    gen = torch.Generator().manual_seed(1000 + seed)
    features = torch.randn(batch, frames, FEATURES, generator=gen)
    lengths = torch.tensor([frames - (37 * i) % 101 for i in range(batch)], dtype=torch.long)
    units = [30 + (7 * i) % 11 for i in range(batch)]
    labels = torch.full((batch, max(units) + 1), -1, dtype=torch.long)
    for i, n in enumerate(units):
        labels[i, :n] = torch.tensor([2 + (131 * i + 17 * k) % (VOCAB - 3) for k in range(n)])
        labels[i, n] = VOCAB - 1
    return features, lengths, labels


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_common.add_model_arguments(p, ["timit", "small"], batch=8, steps=10, warmup=2)
    p.add_argument("--loss", choices=["ce", "square"], default="ce", help="square: k = 1, M = 15")
    p.add_argument("--frames", type=int, default=300, help="T: utterance b has T - (37 b) %% 101 frames")
    p.add_argument("--grad-clip", type=float, default=5.0)
    p.add_argument("--ctc-weight", type=float, default=0.3)
    p.add_argument("--profile", action="store_true", help="also time the step's parts")
    bench_common.add_run_arguments(p)
    a = bench_common.parse_args(p, min_batch=1)
    if a.frames < 101:
        p.error(f"--frames: expected an integer >= 101, got {a.frames}")
    if a.device != "cpu":
        p.error("--device: this benchmark runs on the CPU only")
    blas, _ = bench_common.set_up(a, "speech_step_bench.py")
    torch.manual_seed(a.seed)
    model = make_model(a.model, a.ctc_weight)
    model.train()
    features, lengths, labels = speech_batch(a.batch, a.frames, a.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0)
    loss_fn = padded_loss(a.loss)
    clip = a.grad_clip

    def step():
        optimizer.zero_grad(set_to_none=False)  # what the engine's zeroGradients() does (torch_compat.h)
        outputs = model(features, lengths, labels)
        value = model.objective(loss_fn(outputs, labels))
        value.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()

    median, mean = bench_common.time_steps(step, a.warmup, a.steps, False)
    bench_common.print_report(a, f"speech/ctc_attention {a.model}", a.batch, blas, median, mean, grad_clip=clip,
                              parameters=sum(p.numel() for p in model.parameters()))
    if a.profile:
        profile(a, model, optimizer, loss_fn, features, lengths, labels, clip)
    return 0


def profile(a, model, optimizer, loss_fn, features, lengths, labels, clip):
    """The step in parts, as bench/speech_step_bench.cpp's --profile times them."""
    eos = VOCAB - 1
    batch, steps = labels.shape
    target_lengths = (labels.ge(0) & labels.ne(eos)).sum(1)
    ctc_targets = labels.clamp_min(0)[:, :steps - 1].contiguous()
    previous = torch.full((batch, steps), eos, dtype=torch.long)
    for i in range(batch):
        n = int(target_lengths[i])
        previous[i, 1:n + 1] = labels[i, :n]
    scale = float(target_lengths.sum()) / batch
    lam = a.ctc_weight
    names = ["encoder fwd", "CTC fwd", "decoder fwd", "loss+objective", "backward", "clip", "adam", "total"]
    parts = {n: [] for n in names}

    def part_step(record):
        t = [time.perf_counter()]

        def lap():
            t.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=False)
        states, enc_lengths = model.encode(features, lengths)
        lap()
        ctc = model.ctc_branch(states, enc_lengths, ctc_targets, target_lengths, batch)
        lap()
        memory = model.make_memory(states, enc_lengths)
        state = model.initial_state(memory, batch)
        outputs = torch.stack([model.decoder_step(previous[:, i], state, memory) for i in range(steps)], 1)
        lap()
        value = lam * ctc + (1.0 - lam) * scale * loss_fn(outputs, labels)
        lap()
        value.backward()
        lap()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        lap()
        optimizer.step()
        lap()
        if record:
            for n, (t0, t1) in zip(names, zip(t, t[1:])):
                parts[n].append((t1 - t0) * 1000.0)
            parts["total"].append((t[-1] - t[0]) * 1000.0)

    for _ in range(a.warmup):
        part_step(False)
    for _ in range(a.steps):
        part_step(True)
    print(f"       parts (median ms over {a.steps} steps):"
          + "".join(f"  {n} {statistics.median(parts[n]):.2f}" for n in names))


if __name__ == "__main__":
    sys.exit(main())
