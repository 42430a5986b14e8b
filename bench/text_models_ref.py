#!/usr/bin/python3
"""PyTorch (Python API) mirror of the text plugin's four models (plugins/text).

It mirrors plugins/text/text_models.h, text_layers.cpp, lstm_models.cpp, pairwise_cnn.cpp and
char_transformer.cpp and must be kept in step with them: the same layers with the same
parameter shapes and count (only the names differ), the same forward computation. It serves
as the Python baseline of bench/text_step_bench.py and to check the C++ parameter counts.
Run it with Debian's /usr/bin/python3 (python3-torch 1.13); it also works with torch 2.x.

Inputs as the C++ models get them (losslab::ModelInput): token ids int64 [B, T] (0 = padding)
and lengths int64 [B] (each >= 1); pairs as (a, len_a, b, len_b). Every model returns raw
class scores: [B, C], or [B, T, C] for the character Transformer.

Differences that are not in the parameters or the computation: dropout here is PyTorch's
own (F.dropout, and inside nn.TransformerEncoderLayer); the C++ side draws its masks from the
run's generator (losslab::dropout). Initial weights are PyTorch's defaults from the global
generator, where the C++ side draws them from the run's (initLikePyTorch); nn.TransformerEncoder
copies one initialised layer into every block, the C++ draws every block anew.

CLI:
  python3 bench/text_models_ref.py count MODEL key=value ...
MODEL is bilstm, esim, lstm_cnn or transformer; keys: vocab (embedding rows, data.max_words
+ 2), embedding_dim, hidden, classes, cube_size, channels (comma-separated, e.g. 64,128), layers,
dim, heads, feed_forward, context, each defaulting to the task's default. It prints the total
number of parameters on one line. Exit status 2 on an unknown model, key or bad value.
"""
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

CUBE_CHANNELS = 13


# ---- text_layers.cpp ---------------------------------------------------------------------

def length_mask(lengths, width):
    """[B, T] bool, True at positions < lengths[b]."""
    positions = torch.arange(width, device=lengths.device, dtype=torch.long)
    return positions.unsqueeze(0) < lengths.to(torch.long).unsqueeze(1)


def run_packed(lstm, x, lengths):
    """Bidirectional batch-first LSTM on packed sequences: x [B, T, E] -> [B, T, 2H], forward
    states then backward states, zeros past each length. Packing needs the lengths on the CPU."""
    packed = pack_padded_sequence(x, lengths.to("cpu", torch.long), batch_first=True, enforce_sorted=False)
    out, _ = lstm(packed)
    return pad_packed_sequence(out, batch_first=True, padding_value=0.0, total_length=x.size(1))[0]


def masked_softmax(scores, mask, dim):
    return torch.softmax(scores.masked_fill(mask.logical_not(), float("-inf")), dim)


def masked_mean(x, mask):
    m = mask.unsqueeze(2).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)


def masked_max(x, mask):
    return x.masked_fill(mask.logical_not().unsqueeze(2), float("-inf")).max(1)[0]


def encode_pair(embedding, lstm, dropout, training, a_ids, len_a, b_ids, len_b):
    """Embedding - dropout - BiLSTM of both sentences of a pair, a before b (the order the
    dropout masks are drawn in), as the encode lambdas of EsimImpl::forward and
    PairwiseCnnImpl::forward do. Returns (a, mask_a, b, mask_b): states [B, La, 2H] and
    [B, Lb, 2H], masks [B, La] and [B, Lb]."""
    mask_a = length_mask(len_a, a_ids.size(1))
    mask_b = length_mask(len_b, b_ids.size(1))
    a = run_packed(lstm, F.dropout(embedding(a_ids), dropout, training), len_a)
    b = run_packed(lstm, F.dropout(embedding(b_ids), dropout, training), len_b)
    return a, mask_a, b, mask_b


def _embedding(vocab, dim):
    return nn.Embedding(vocab, dim, padding_idx=0)


def _bilstm(input_size, hidden):
    return nn.LSTM(input_size, hidden, batch_first=True, bidirectional=True)


# ---- lstm_models.cpp ---------------------------------------------------------------------

class BiLstmClassifier(nn.Module):
    """Embedding - dropout - BiLSTM(H) - attention pooling (softmax_t(w^T tanh(W h_t + b)) over
    real tokens) - dropout - Linear(2H, H) - ReLU - dropout - Linear(H, C)."""

    def __init__(self, vocab, embedding_dim, hidden, num_classes, dropout=0.5):
        super().__init__()
        self.dropout = dropout
        self.embedding = _embedding(vocab, embedding_dim)
        self.lstm = _bilstm(embedding_dim, hidden)
        self.attention = nn.Linear(2 * hidden, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)
        self.hidden = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, ids, lengths):
        p, train = self.dropout, self.training
        mask = length_mask(lengths, ids.size(1))
        x = F.dropout(self.embedding(ids), p, train)
        h = run_packed(self.lstm, x, lengths)  # [B, T, 2H]
        scores = self.score(torch.tanh(self.attention(h))).squeeze(2)
        weights = masked_softmax(scores, mask, 1)
        x = (weights.unsqueeze(2) * h).sum(1)
        x = F.dropout(x, p, train)
        x = F.dropout(F.relu(self.hidden(x)), p, train)
        return self.out(x)


class Esim(nn.Module):
    """ESIM (Chen et al. 2017): shared embedding and BiLSTM(H) encoder, soft alignment with masked
    softmax both ways, m = [a; a~; a - a~; a * a~] -> Linear(8H, H) - ReLU, composition BiLSTM(H),
    masked mean and max of both sentences -> [8H], dropout - Linear(8H, H) - tanh - dropout -
    Linear(H, C)."""

    def __init__(self, vocab, embedding_dim, hidden, num_classes, dropout=0.5):
        super().__init__()
        self.dropout = dropout
        self.embedding = _embedding(vocab, embedding_dim)
        self.encoder = _bilstm(embedding_dim, hidden)
        self.projection = nn.Linear(8 * hidden, hidden)
        self.composition = _bilstm(hidden, hidden)
        self.hidden = nn.Linear(8 * hidden, hidden)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, a_ids, len_a, b_ids, len_b):
        p, train = self.dropout, self.training
        a, mask_a, b, mask_b = encode_pair(self.embedding, self.encoder, p, train, a_ids, len_a, b_ids, len_b)
        e = torch.bmm(a, b.transpose(1, 2))  # [B, La, Lb]
        aligned_a = torch.bmm(masked_softmax(e, mask_b.unsqueeze(1), 2), b)
        aligned_b = torch.bmm(masked_softmax(e.transpose(1, 2), mask_a.unsqueeze(1), 2), a)

        def compose(x, aligned, lengths, mask):
            m = torch.cat([x, aligned, x - aligned, x * aligned], 2)
            m = F.dropout(F.relu(self.projection(m)), p, train)
            v = run_packed(self.composition, m, lengths)
            return torch.cat([masked_mean(v, mask), masked_max(v, mask)], 1)

        v = torch.cat([compose(a, aligned_a, len_a, mask_a), compose(b, aligned_b, len_b, mask_b)], 1)
        v = F.dropout(v, p, train)
        v = F.dropout(torch.tanh(self.hidden(v)), p, train)
        return self.out(v)


# ---- pairwise_cnn.cpp --------------------------------------------------------------------

def pair_measures(x, y):
    """x [B, La, D], y [B, Lb, D] -> cosine, L2 distance and dot product of every pair."""
    dot = torch.bmm(x, y.transpose(1, 2))
    nx, ny = x.pow(2).sum(2), y.pow(2).sum(2)
    norms = (nx.unsqueeze(2) * ny.unsqueeze(1)).clamp_min(1e-12).sqrt()
    distance = (nx.unsqueeze(2) + ny.unsqueeze(1) - 2 * dot).clamp_min(1e-8).sqrt()
    return [dot / norms, distance, dot]


class PairwiseCnn(nn.Module):
    """After He & Lin (2016): shared embedding and BiLSTM(H); a 13-channel similarity cube
    [B, 13, S, S] (cosine, L2 distance, dot of the forward, backward, concatenated and summed
    states, then an indicator of real pairs), zero outside the real pairs, cut or padded to
    S = cube_size; conv 3x3 (padding 1) - ReLU - max-pool 2 per entry of `channels` (no pooling
    once the side is under 2), global max pooling, Linear(channels[-1], H) - ReLU - dropout -
    Linear(H, C)."""

    def __init__(self, vocab, embedding_dim, hidden, cube_size, channels, num_classes, dropout=0.0):
        super().__init__()
        if not channels:
            raise ValueError("channels: expected at least one convolution block")
        self.dropout = dropout
        self.hidden_size = hidden
        self.cube_size = cube_size
        self.embedding = _embedding(vocab, embedding_dim)
        self.lstm = _bilstm(embedding_dim, hidden)
        convs, width = [], CUBE_CHANNELS
        for c in channels:
            convs.append(nn.Conv2d(width, c, 3, padding=1))
            width = c
        self.convs = nn.ModuleList(convs)
        self.hidden = nn.Linear(width, hidden)
        self.out = nn.Linear(hidden, num_classes)

    def similarity_cube(self, a, mask_a, b, mask_b):
        h = self.hidden_size
        af, ab, bf, bb = a[:, :, :h], a[:, :, h:], b[:, :, :h], b[:, :, h:]
        channels = []
        channels += pair_measures(af, bf)            # forward states
        channels += pair_measures(ab, bb)            # backward states
        channels += pair_measures(a, b)              # both, concatenated
        channels += pair_measures(af + ab, bf + bb)  # both, summed
        pairs = (mask_a.unsqueeze(2) & mask_b.unsqueeze(1)).to(a.dtype)
        channels.append(torch.ones_like(pairs))
        cube = torch.stack(channels, 1) * pairs.unsqueeze(1)  # [B, 13, La, Lb]
        s = self.cube_size
        cube = cube[:, :, : min(s, cube.size(2)), : min(s, cube.size(3))]
        return F.pad(cube, (0, s - cube.size(3), 0, s - cube.size(2)), value=0.0)

    def forward(self, a_ids, len_a, b_ids, len_b):
        p, train = self.dropout, self.training
        x = self.similarity_cube(*encode_pair(self.embedding, self.lstm, p, train, a_ids, len_a, b_ids, len_b))
        for conv in self.convs:
            x = F.relu(conv(x))
            if x.size(2) >= 2:
                x = F.max_pool2d(x, [2, 2])
        x = x.flatten(2).max(2)[0]  # global max pooling -> [B, channels]
        x = F.dropout(F.relu(self.hidden(x)), p, train)
        return self.out(x)


# ---- char_transformer.cpp ----------------------------------------------------------------

class CharTransformer(nn.Module):
    """Causal Transformer for next-symbol prediction: symbol embedding + learned position
    embedding - dropout - `layers` post-norm nn.TransformerEncoderLayer blocks (ReLU, dropout p,
    batch first) under a causal mask - Linear(dim, C) at every position -> [B, T, C]."""

    def __init__(self, num_symbols, layers=4, dim=256, heads=4, feed_forward=1024, context=70, dropout=0.1):
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
        self.dropout = dropout
        self.context = context
        self.symbols = nn.Embedding(num_symbols, dim)
        self.positions = nn.Embedding(context, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, feed_forward, dropout, activation="relu",
                                           batch_first=True, norm_first=False)
        # No nested tensors: there is no padding mask (and 2.x warns about them otherwise).
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(dim, num_symbols)

    def forward(self, ids, lengths=None):  # lengths: unused, as in the C++ (every window is full)
        t = ids.size(1)
        if t > self.context:
            raise ValueError(f"a sequence of {t} symbols is longer than the context ({self.context})")
        positions = torch.arange(t, device=ids.device, dtype=torch.long)
        x = self.symbols(ids) + self.positions(positions).unsqueeze(0)
        x = F.dropout(x, self.dropout, self.training)
        future = torch.triu(torch.full((t, t), float("-inf"), device=ids.device), 1)
        x = self.encoder(x, mask=future)
        return self.out(x)  # [B, T, C]


# ---- CLI ---------------------------------------------------------------------------------

# The tasks' defaults (plugins/text/text_tasks.cpp); vocab = data.max_words (30000) + 2.
WORD_DEFAULTS = {"vocab": 30002, "embedding_dim": 300, "classes": 2}
MODEL_KEYS = {
    "bilstm": dict(WORD_DEFAULTS, hidden=150),
    "esim": dict(WORD_DEFAULTS, hidden=300),
    "lstm_cnn": dict(WORD_DEFAULTS, hidden=250, cube_size=48, channels=[64, 128, 128, 128]),
    "transformer": {"classes": 27, "layers": 4, "dim": 256, "heads": 4, "feed_forward": 1024, "context": 70},
}
ALL_KEYS = ["vocab", "embedding_dim", "hidden", "classes", "cube_size", "channels", "layers", "dim", "heads",
            "feed_forward", "context"]


def build(model, v):
    """The model named as on the CLI, from a dict holding every key MODEL_KEYS[model] lists."""
    if model == "bilstm":
        return BiLstmClassifier(v["vocab"], v["embedding_dim"], v["hidden"], v["classes"])
    if model == "esim":
        return Esim(v["vocab"], v["embedding_dim"], v["hidden"], v["classes"])
    if model == "lstm_cnn":
        return PairwiseCnn(v["vocab"], v["embedding_dim"], v["hidden"], v["cube_size"], v["channels"], v["classes"])
    if model == "transformer":
        return CharTransformer(v["classes"], v["layers"], v["dim"], v["heads"], v["feed_forward"], v["context"])
    raise ValueError(model)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


def _usage_error(message):
    print(f"text_models_ref.py: {message}", file=sys.stderr)
    print("usage: text_models_ref.py count bilstm|esim|lstm_cnn|transformer [key=value ...]\n"
          "  keys: " + ", ".join(ALL_KEYS), file=sys.stderr)
    return 2


def _positive_int(key, text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{key}: expected an integer >= 1, got '{text}'")
    return value


def main(argv):
    if len(argv) < 2 or argv[0] != "count":
        return _usage_error("expected 'count MODEL key=value ...'")
    model = argv[1]
    if model not in MODEL_KEYS:
        return _usage_error(f"unknown model '{model}' (expected one of: {', '.join(MODEL_KEYS)})")
    values = dict(MODEL_KEYS[model])
    for arg in argv[2:]:
        key, sep, text = arg.partition("=")
        if not sep:
            return _usage_error(f"expected key=value, got '{arg}'")
        if key not in ALL_KEYS:
            return _usage_error(f"unknown key '{key}'")
        if key not in values:
            return _usage_error(f"key '{key}' does not apply to {model} (its keys: {', '.join(MODEL_KEYS[model])})")
        try:
            if key == "channels":
                items = [s.strip() for s in text.strip().strip("[]").split(",") if s.strip()]
                if not items:
                    raise ValueError(f"channels: expected a comma-separated list like 64,128, got '{text}'")
                values[key] = [_positive_int(key, s) for s in items]
            else:
                values[key] = _positive_int(key, text)
        except ValueError as e:
            return _usage_error(str(e))
    try:
        net = build(model, values)
    except ValueError as e:
        return _usage_error(str(e))
    print(parameter_count(net))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
