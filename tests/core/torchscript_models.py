#!/usr/bin/env python3
"""Writes the small TorchScript encoders the TorchScript-task tests fine-tune (and the bench
times), scripted at test time with the machine's PyTorch (Debian's python3-torch; no
downloads), into the folder given as the only argument:

  vocab.txt             a hand-made BERT vocabulary: the special tokens, the test sentences'
                        words (some only as word pieces) and punctuation
  text_sequence.pt      a 2-layer BERT-like encoder: forward(input_ids, attention_mask,
                        token_type_ids) -> [B, T, H] (LossLab takes position 0, [CLS])
  text_pooled.pt        the same with BERT's pooler: -> [B, H]
  text_tuple.pt         the same returning (sequence, pooled), as Hugging Face models traced
                        with torchscript=True do
  text_dict.pt          the same returning {"last_hidden_state": sequence, "pooler_output":
                        pooled}, as a scripted model with Hugging Face's names may
  image.pt              a small conv encoder with batch norm and dropout:
                        forward(images [B, 3, S, S]) -> [B, H]
  bad_signature.pt      a text encoder whose forward takes only input_ids
  bad_rank.pt           a text encoder that returns one number per example ([B])
  cuda_code.pt          a text encoder whose code moves its input to CUDA
  not_torchscript.pt    a state dict saved with torch.save: a zip file, but no TorchScript
  newer_format.pt       text_pooled.pt claiming file format version 99, as a file of a PyTorch
                        newer than LibTorch can read
  newer_op.pt           text_pooled.pt calling aten::scaled_dot_product_attention (PyTorch 2's,
                        unknown to LibTorch 1.13) where it calls tanh

The weights are drawn from torch.manual_seed(0), so every run of the script writes the
same models. Usage: torchscript_models.py OUT_DIR
"""
import math
import os
import sys
import zipfile
from typing import Dict, Tuple

import torch
from torch import nn

HIDDEN = 32
HEADS = 2
LAYERS = 2
MAX_POSITIONS = 64
DROPOUT = 0.1

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
# The fixture sentences' words (tests/core/text_fixtures.h); some are in the vocabulary only
# as pieces, so that WordPiece splits them ("foxtrot" -> "fox", "##trot").
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "fox", "##trot", "golf", "hotel", "india", "juliet", "kilo",
         "lima", "mike", "nov", "##ember", "oscar", "papa", "que", "##bec", "romeo", "sierra", "tango", "great",
         "awful", "mark", "##0", "##1", "##2", "c", "quoted"]
PUNCTUATION = [".", "?", ",", "\"", "!"]


class SelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.Linear(HIDDEN, 3 * HIDDEN)
        self.out = nn.Linear(HIDDEN, HIDDEN)
        self.drop = nn.Dropout(DROPOUT)
        self.heads = HEADS

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        d = h // self.heads
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q.reshape(b, t, self.heads, d).transpose(1, 2)
        k = k.reshape(b, t, self.heads, d).transpose(1, 2)
        v = v.reshape(b, t, self.heads, d).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d)
        scores = scores + (1.0 - mask)[:, None, None, :] * -10000.0
        weights = self.drop(torch.softmax(scores, dim=-1))
        return self.out(torch.matmul(weights, v).transpose(1, 2).reshape(b, t, h))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = SelfAttention()
        self.norm1 = nn.LayerNorm(HIDDEN)
        self.ff1 = nn.Linear(HIDDEN, 4 * HIDDEN)
        self.ff2 = nn.Linear(4 * HIDDEN, HIDDEN)
        self.norm2 = nn.LayerNorm(HIDDEN)
        self.drop = nn.Dropout(DROPOUT)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.attention(x, mask)))
        return self.norm2(x + self.drop(self.ff2(torch.nn.functional.gelu(self.ff1(x)))))


class TinyBert(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.word = nn.Embedding(vocab_size, HIDDEN)
        self.position = nn.Embedding(MAX_POSITIONS, HIDDEN)
        self.segment = nn.Embedding(2, HIDDEN)
        self.norm = nn.LayerNorm(HIDDEN)
        self.drop = nn.Dropout(DROPOUT)
        self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])
        self.pooler = nn.Linear(HIDDEN, HIDDEN)

    def sequence(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                 token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.size(1), device=input_ids.device)
        x = self.word(input_ids) + self.position(positions)[None] + self.segment(token_type_ids)
        x = self.drop(self.norm(x))
        mask = attention_mask.to(x.dtype)
        for layer in self.layers:
            x = layer(x, mask)
        return x


class SequenceEncoder(TinyBert):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.sequence(input_ids, attention_mask, token_type_ids)


class PooledEncoder(TinyBert):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.pooler(self.sequence(input_ids, attention_mask, token_type_ids)[:, 0]))


class TupleEncoder(TinyBert):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x = self.sequence(input_ids, attention_mask, token_type_ids)
        return x, torch.tanh(self.pooler(x[:, 0]))


class DictEncoder(TinyBert):
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> Dict[str, torch.Tensor]:
        x = self.sequence(input_ids, attention_mask, token_type_ids)
        return {"last_hidden_state": x, "pooler_output": torch.tanh(self.pooler(x[:, 0]))}


class ImageEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.drop = nn.Dropout(DROPOUT)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(images)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.drop(x.mean(dim=(2, 3)))


class BadSignature(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.word = nn.Embedding(vocab_size, HIDDEN)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.word(input_ids)


class BadRank(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.word = nn.Embedding(vocab_size, HIDDEN)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.word(input_ids).sum(dim=(1, 2))


class CudaCode(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.word = nn.Embedding(vocab_size, HIDDEN)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor) -> torch.Tensor:
        return self.word(input_ids.to(torch.device("cuda")))


def rewrite(source: str, target: str, change) -> None:
    """Copies the archive `source` to `target`, each record's bytes passed through change(name, bytes)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info, change(info.filename, src.read(info.filename)))


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: torchscript_models.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    vocab = SPECIAL + WORDS + PUNCTUATION
    with open(os.path.join(out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    n = len(vocab)
    torch.manual_seed(0)
    models = {
        "text_sequence.pt": SequenceEncoder(n),
        "text_pooled.pt": PooledEncoder(n),
        "text_tuple.pt": TupleEncoder(n),
        "image.pt": ImageEncoder(),
        "bad_signature.pt": BadSignature(n),
        "bad_rank.pt": BadRank(n),
        "cuda_code.pt": CudaCode(n),
        "text_dict.pt": DictEncoder(n),  # last: the others' weights stay as they were
    }
    for name, model in models.items():
        torch.jit.script(model).save(os.path.join(out, name))
    torch.save(SequenceEncoder(n).state_dict(), os.path.join(out, "not_torchscript.pt"))
    rewrite(os.path.join(out, "text_pooled.pt"), os.path.join(out, "newer_format.pt"),
            lambda name, data: b"99\n" if name.endswith("/version") else data)
    rewrite(os.path.join(out, "text_pooled.pt"), os.path.join(out, "newer_op.pt"),
            lambda name, data: data.replace(b"torch.tanh(", b"torch.scaled_dot_product_attention(")
            if name.endswith("/code/__torch__.py") else data)
    print(out)


if __name__ == "__main__":
    main()
