#!/usr/bin/python3
"""torchaudio baseline for losslab-bench-audio-features: reads the same WAV file with
torchaudio.load and computes compliance.kaldi.fbank (80 bins, no dither, samples x 32768) with
functional.compute_deltas twice, in utterances of --utterance seconds, with --threads intra-op
threads; prints "python <read s> <features s> <audio s>" (medians over --repeats)."""
import argparse
import sys
import time
import wave

import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi


def load(path):
    """torchaudio.load; from torchaudio 2.9 on it needs TorchCodec, which Debian does not package:
    then the wave module reads the 16-bit PCM file (stderr says so, the read time is its)."""
    try:
        return torchaudio.load(path)
    except ImportError as e:
        print(f"audio_features_bench: {e}; reading with the wave module", file=sys.stderr)
    with wave.open(path, "rb") as w:
        pcm = torch.frombuffer(bytearray(w.readframes(w.getnframes())), dtype=torch.int16)
        return pcm.view(-1, w.getnchannels()).t().float() / 32768.0, w.getframerate()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wav", required=True)
    p.add_argument("--utterance", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    reads, features = [], []
    audio_seconds = 0.0
    for _ in range(max(1, a.repeats)):
        t0 = time.perf_counter()
        waveform, rate = load(a.wav)
        reads.append(time.perf_counter() - t0)
        audio_seconds = waveform.shape[1] / rate
        step = int(a.utterance * rate)
        t0 = time.perf_counter()
        for start in range(0, waveform.shape[1], step):
            piece = waveform[:, start:start + step]
            if piece.shape[1] < 400:
                continue
            fb = kaldi.fbank(piece * 32768.0, num_mel_bins=80, dither=0.0, sample_frequency=float(rate))
            d = torchaudio.functional.compute_deltas(fb.t().unsqueeze(0), win_length=5)
            d2 = torchaudio.functional.compute_deltas(d, win_length=5)
            torch.cat([fb, d[0].t(), d2[0].t()], dim=1)
        features.append(time.perf_counter() - t0)
    print("python", sorted(reads)[len(reads) // 2], sorted(features)[len(features) // 2], audio_seconds)


if __name__ == "__main__":
    main()
