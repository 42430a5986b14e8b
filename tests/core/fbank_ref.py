#!/usr/bin/env python3
"""Reference filterbank features for tests/core/test_audio.cpp: reads a 16-bit PCM WAV file
with Python's wave module (torchaudio.load needs TorchCodec from torchaudio 2.9 on, which
Debian does not package), computes torchaudio.compliance.kaldi.fbank (80 bins, 25 ms / 10 ms, no dither,
samples scaled by 32768 as Kaldi reads 16-bit audio) and appends the deltas and delta-deltas
of torchaudio.functional.compute_deltas (win_length 5), then writes the [T, 240] float32 array
row by row to OUT. Usage: fbank_ref.py WAV OUT
"""
import sys
import wave

import numpy
import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi


def read_wav(path):
    """[channels, samples] float32 in [-1, 1), as torchaudio.load returns 16-bit PCM, and the rate."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            sys.exit(f"{path}: {8 * w.getsampwidth()}-bit samples; expected 16-bit PCM")
        frames = numpy.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        samples = frames.reshape(-1, w.getnchannels()).T.astype(numpy.float32) / 32768.0
        return torch.from_numpy(numpy.ascontiguousarray(samples)), w.getframerate()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: fbank_ref.py WAV OUT")
    waveform, rate = read_wav(sys.argv[1])
    features = kaldi.fbank(waveform * 32768.0, num_mel_bins=80, frame_length=25.0, frame_shift=10.0,
                           dither=0.0, sample_frequency=float(rate))
    delta = torchaudio.functional.compute_deltas(features.t().unsqueeze(0), win_length=5)
    delta2 = torchaudio.functional.compute_deltas(delta, win_length=5)
    out = torch.cat([features, delta[0].t(), delta2[0].t()], dim=1).contiguous()
    with open(sys.argv[2], "wb") as f:
        f.write(out.numpy().astype("float32").tobytes())
    print(out.shape[0], out.shape[1])


if __name__ == "__main__":
    main()
