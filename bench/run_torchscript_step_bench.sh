#!/usr/bin/env bash
# Times one fine-tuning step of a TorchScript encoder with LossLab's linear head in LibTorch C++
# (losslab-bench-torchscript-step, through the engine's own code path: the torchscript plugin)
# and in PyTorch's Python API (bench/torchscript_step_bench.py, the same TorchScript file) on
# this machine, in one run, and prints a Markdown table with the ratio C++ / Python. It
# measures; it never fails on time.
#
#   bench/run_torchscript_step_bench.sh [--device cpu|cuda] [--repeats N] [--steps N] [--warmup N]
#                                       [--threads N] [--wait-idle SECONDS] [--env VAR=VALUE]... [--quick]
#
# The encoders are the tests' tiny ones, written into a scratch folder by
# tests/core/torchscript_models.py: a 2-layer BERT-like text encoder (hidden 32, dropout 0.1,
# forward(input_ids, attention_mask, token_type_ids) -> pooled [B, 32]) on text of width 32,
# and a small conv encoder with batch norm and dropout on 3x32x32 images. Configurations, each
# with ce and square, with the tasks' recipes (text: AdamW; images: SGD with momentum; gradient
# norm clipped at 1): text at batch 32, images at batch 32 and 128. Alternating invocations,
# --repeats times (default 3); each cell is the median of the per-invocation medians.
#
# BLAS threads, other processes, --env and the environment variables: as bench/run_step_bench.sh.
# Environment: LOSSLAB_BUILD_DIR (default build/), LOSSLAB_BENCH_PYTHON (default
# /usr/bin/python3: Debian's python3-torch; a pyenv python3 on PATH has no torch).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench_name=run_torchscript_step_bench
. "$root/bench/bench_lib.sh"
exe=$build/bin/losslab-bench-torchscript-step
exe_target=losslab_bench_torchscript_step
py_script=$root/bench/torchscript_step_bench.py
steps=30
warmup=5
bench_options "$@"

models=$(mktemp -d)
"$python" "$root/tests/core/torchscript_models.py" "$models" >/dev/null
config_args() { config_extra=(--models "$models"); }

# model batch
configs=("text 32" "image 32" "image 128")
losses=(ce square)
if (( quick )); then configs=("text 32"); losses=(ce); repeats=1; fi

bench_run
trap 'rm -rf "$results" "$line_file" "$models"' EXIT

echo "## Fine-tuning step of a TorchScript encoder: LibTorch C++ vs PyTorch Python ($device)"
echo
bench_environment --model text --batch 1 --models "$models"
echo "- step: zero_grad, forward of the TorchScript encoder (dropout on) and the head, loss, backward, clip_grad_norm_ (1), the recipe's optimiser step (text AdamW, images SGD with momentum)"

"$python" - "$root/bench" "$results" "$device" "$disturbed_limit" "$max_tries" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import bench_common


def config_name(m, batch):
    name = ("tiny BERT-like encoder (2 layers, hidden 32), text of width 32" if m == "text"
            else "small conv encoder (2 conv + batch norm), 3x32x32 images")
    return f"{name}, batch {batch}"


bench_common.summarize(sys.argv[2:], "| Config | Loss |", "|---|---|",
                       lambda model, batch, loss: [config_name(model, batch), loss])
PY
