#!/usr/bin/env bash
# Times one training step in LibTorch C++ (losslab-bench-step, through the engine's own code
# path) and in PyTorch's Python API (bench/step_bench.py) on this machine, in one run, and
# prints a Markdown table with the ratio C++ / Python. It measures; it never fails on time.
#
#   bench/run_step_bench.sh [--device cpu|cuda] [--repeats N] [--steps N] [--warmup N]
#                           [--threads N] [--wait-idle SECONDS] [--env VAR=VALUE]... [--quick]
#
# Configurations: MLP 784-512-512-10 at batch 128 and 512, the small CNN at batch 128, each
# with ce and square. Every configuration runs as alternating invocations, repeated
# --repeats times (default 3); each cell is the median of the per-invocation medians.
#
# BLAS threads: the engine keeps OpenBLAS single-threaded (configureProcess()); PyTorch's
# Python API leaves OpenBLAS at its default (one thread per core). On CPU the table shows
# Python both ways: as it starts, and with OPENBLAS_NUM_THREADS=1 like the engine. Other
# OPENBLAS_* variables (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE) are left as they are, the same
# for both sides, and printed.
#
# --env VAR=VALUE sets a variable for both sides (e.g. GLIBC_TUNABLES=... to compare under
# the same malloc settings); it is printed with the others.
#
# Environment: LOSSLAB_BUILD_DIR (default build/), LOSSLAB_BENCH_PYTHON (default
# /usr/bin/python3: Debian's python3-torch; a pyenv python3 on PATH has no torch).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench_name=run_step_bench
# The options, the waiting for a quiet machine, the invocations and the environment lines,
# shared with bench/run_text_step_bench.sh.
. "$root/bench/bench_lib.sh"
exe=$build/bin/losslab-bench-step
exe_target=losslab_bench_step
py_script=$root/bench/step_bench.py
steps=100
warmup=10
bench_options "$@"

# model batch hidden
configs=("mlp 128 [512, 512]" "mlp 512 [512, 512]" "cnn 128 -")
losses=(ce square)
if (( quick )); then configs=("mlp 128 [512, 512]"); losses=(ce); repeats=1; fi
config_args() { config_extra=(); if [[ "$1" == mlp ]]; then config_extra=(--hidden "$2"); fi; }

bench_run

echo "## Training step: LibTorch C++ vs PyTorch Python ($device)"
echo
bench_environment

"$python" - "$root/bench" "$results" "$device" "$disturbed_limit" "$max_tries" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import bench_common


def model_name(m):
    return "MLP 784-512-512-10" if m == "mlp" else "CNN conv32-conv64-fc128"


bench_common.summarize(sys.argv[2:], "| Model | Batch | Loss |", "|---|---:|---|",
                       lambda model, batch, loss: [model_name(model), str(batch), loss])
EOF
