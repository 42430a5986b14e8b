#!/usr/bin/env bash
# Times one training step of the speech plugin's joint CTC-attention recogniser in LibTorch C++
# (losslab-bench-speech-step: the plugin's CtcAttention, LossFunction, Adam, the runner's thread
# set-up) and in PyTorch's Python API (bench/speech_step_bench.py, the model mirrored with the
# same parameter count) on this machine, in one run, and prints a Markdown table with the ratio
# C++ / Python. It measures; it never fails on time.
#
#   bench/run_speech_step_bench.sh [--repeats N] [--steps N] [--warmup N] [--threads N]
#                                  [--wait-idle SECONDS] [--env VAR=VALUE]... [--quick]
#
# Configurations, each with ce and square (k = 1, M = 15, the TIMIT PER row's), batch 8 of
# 200-300 frames x 80 bins and 30-40 units, the TIMIT row's recipe (lambda 0.3, Adam lr 0.001,
# gradient norm clipped at 5): the TIMIT preset (BLSTMP 4 x 320, subsampling 1_2_2_1_1, no VGG,
# attention 320, decoder 300) and a small model (VGG2L, BLSTMP 2 x 128, attention and decoder
# 128). Alternating invocations, --repeats times (default 3); each cell is the median of the
# per-invocation medians. CPU only (the C++ side runs on the CPU only).
#
# BLAS threads, other processes, --env and the environment variables: as bench/run_step_bench.sh.
# Environment: LOSSLAB_BUILD_DIR (default build/), LOSSLAB_BENCH_PYTHON (default
# /usr/bin/python3: Debian's python3-torch; a pyenv python3 on PATH has no torch).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench_name=run_speech_step_bench
. "$root/bench/bench_lib.sh"
exe=$build/bin/losslab-bench-speech-step
exe_target=losslab_bench_speech_step
py_script=$root/bench/speech_step_bench.py
steps=5
warmup=2
bench_options "$@"
if [[ "$device" != cpu ]]; then echo "$bench_name.sh: --device: the speech step benchmark runs on the CPU only" >&2; exit 2; fi

# model batch
configs=("timit 8" "small 8")
losses=(ce square)
if (( quick )); then configs=("small 8"); losses=(ce); repeats=1; fi

bench_run

echo "## Training step of the joint CTC-attention recogniser: LibTorch C++ vs PyTorch Python ($device)"
echo
bench_environment --model small --batch 1 --frames 101
echo "- step: zero_grad, forward (encoder, CTC branch, teacher-forced attention decoder), the study's loss on the decoder's scores (padding ignored), objective 0.3 * CTC + 0.7 * s * loss, backward, clip_grad_norm_ (5), Adam (lr 0.001)"

"$python" - "$root/bench" "$results" "$device" "$disturbed_limit" "$max_tries" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import bench_common

NAMES = {"timit": "TIMIT preset: BLSTMP 4x320, subsampling 1_2_2_1_1, att 320, dec 300",
         "small": "small: VGG2L, BLSTMP 2x128, att 128, dec 128"}


def notes(summary):
    counts = {}
    for r in summary.records:
        counts.setdefault(r["model"], {}).setdefault(r["impl"], set()).add(r.get("parameters"))
    for model, sides in counts.items():
        print(f"- parameters, {model}: " + ", ".join(f"{impl} {sorted(v)}" for impl, v in sides.items()))


bench_common.summarize(sys.argv[2:], "| Config | Loss |", "|---|---|",
                       lambda model, batch, loss: [f"{NAMES.get(model, model)}, batch {batch}",
                                                   "square (k=1, M=15)" if loss == "square" else loss],
                       notes)
PY
