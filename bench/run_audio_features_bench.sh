#!/usr/bin/env bash
# Speed of the speech data layer as a real-time factor, LossLab (losslab-bench-audio-features)
# against torchaudio (bench/audio_features_bench.py) on the same file, in one run: writes a WAV
# file of --seconds of 16 kHz audio (default 600: ten minutes of tones, sweeps and noise) into a
# scratch folder, then times reading it and computing 80-bin Kaldi filterbanks with deltas in
# 10 s utterances, at 1 thread and at every core, alternating the two programs --repeats times
# (default 3, medians). Prints a Markdown table. It measures; it never fails on time.
#   bench/run_audio_features_bench.sh [--seconds N] [--repeats N]
# Environment: LOSSLAB_BUILD_DIR (default build/), LOSSLAB_BENCH_PYTHON (default /usr/bin/python3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOSSLAB_BUILD_DIR:-$root/build}
python=${LOSSLAB_BENCH_PYTHON:-/usr/bin/python3}
seconds=600
repeats=3
while (( $# )); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    *) echo "run_audio_features_bench.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
exe=$build/bin/losslab-bench-audio-features
[[ -x $exe ]] || { echo "run_audio_features_bench.sh: build $exe first (cmake --build build --target losslab_bench_audio_features)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" - "$work/audio.wav" "$seconds" <<'PY'
import math, sys, wave, struct, random
path, seconds = sys.argv[1], float(sys.argv[2])
rate = 16000
r = random.Random(7)
with wave.open(path, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
    chunk = []
    for i in range(int(rate * seconds)):
        t = i / rate
        v = 0.3 * math.sin(2 * math.pi * 440 * t) + 0.2 * math.sin(2 * math.pi * (200 + 300 * (t % 5)) * t) + 0.1 * (r.random() - 0.5)
        chunk.append(int(max(-1.0, min(1.0, v)) * 32767))
        if len(chunk) == 16000:
            w.writeframes(struct.pack("<%dh" % len(chunk), *chunk)); chunk = []
    if chunk:
        w.writeframes(struct.pack("<%dh" % len(chunk), *chunk))
PY
echo "## Speech features: LossLab vs torchaudio (real-time factor: audio seconds per second of work)"
echo
echo "- date (UTC): $(date -u '+%Y-%m-%d %H:%M'); CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
echo "- torchaudio $("$python" -c 'import torchaudio; print(torchaudio.__version__)'), torch $("$python" -c 'import torch; print(torch.__version__)'); $seconds s of 16 kHz 16-bit WAV; 80 bins + deltas + delta-deltas in 10 s utterances; median of $repeats"
echo
echo "| threads | step | LossLab s | torchaudio s | LossLab x real time | torchaudio x real time | LossLab / torchaudio time |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for threads in 1 "$(nproc)"; do
  cpp=$("$exe" --wav "$work/audio.wav" --threads "$threads" --repeats "$repeats")
  py=$("$python" "$root/bench/audio_features_bench.py" --wav "$work/audio.wav" --threads "$threads" --repeats "$repeats")
  "$python" - "$threads" "$cpp" "$py" <<'PY'
import sys
threads = sys.argv[1]
_, c_read, c_feat, audio = sys.argv[2].split()
_, p_read, p_feat, _ = sys.argv[3].split()
audio = float(audio)
for step, c, p in (("read", float(c_read), float(p_read)), ("features", float(c_feat), float(p_feat))):
    print(f"| {threads} | {step} | {c:.3f} | {p:.3f} | {audio / c:.0f} | {audio / p:.0f} | {c / p:.2f} |")
PY
done
