#!/usr/bin/env bash
# Times one training step of the text plugin's models in LibTorch C++ (losslab-bench-text-step,
# through the engine's own code path) and in PyTorch's Python API (bench/text_step_bench.py,
# the models mirrored in bench/text_models_ref.py) on this machine, in one run, and prints a
# Markdown table with the ratio C++ / Python. It measures; it never fails on time.
#
#   bench/run_text_step_bench.sh [--device cpu|cuda] [--repeats N] [--steps N] [--warmup N]
#                                [--threads N] [--wait-idle SECONDS] [--env VAR=VALUE]... [--quick]
#
# Configurations, each with ce and square, with the tasks' defaults and recipes (Adam, gradient
# clipping, dropout on): ESIM (glue/mrpc/lstm_attention: embedding 300, hidden 300, 30002
# embedding rows) at batch 64 on sentence pairs of 10 to 40 tokens, and the character
# Transformer (chars/text8/transformer: 4 layers, dim 256, 4 heads, feed-forward 1024,
# context 70) at batch 8 and 32. Every configuration runs as alternating invocations, repeated
# --repeats times (default 3); each cell is the median of the per-invocation medians. A step of
# ESIM takes seconds on two cores: the defaults are 10 timed steps after 2 warm-up.
#
# BLAS threads, other processes, --env and the environment variables: as bench/run_step_bench.sh
# (the engine keeps OpenBLAS single-threaded; on CPU the table shows Python both as it starts
# and with OPENBLAS_NUM_THREADS=1 like the engine).
#
# Environment: LOSSLAB_BUILD_DIR (default build/), LOSSLAB_BENCH_PYTHON (default
# /usr/bin/python3: Debian's python3-torch; a pyenv python3 on PATH has no torch).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bench_name=run_text_step_bench
# The options, the waiting for a quiet machine, the invocations and the environment lines,
# shared with bench/run_step_bench.sh.
. "$root/bench/bench_lib.sh"
exe=$build/bin/losslab-bench-text-step
exe_target=losslab_bench_text_step
py_script=$root/bench/text_step_bench.py
steps=10
warmup=2
bench_options "$@"

# model batch
configs=("esim 64" "transformer 8" "transformer 32")
losses=(ce square)
if (( quick )); then configs=("transformer 8"); losses=(ce); repeats=1; fi

bench_run

echo "## Training step of the text models: LibTorch C++ vs PyTorch Python ($device)"
echo
bench_environment --model transformer --batch 1
echo "- step: zero_grad, forward (dropout on), loss, backward, clip_grad_norm_ (the recipe's train.grad_clip), Adam step (the recipe's lr)"

"$python" - "$root/bench" "$results" "$device" "$disturbed_limit" "$max_tries" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import bench_common


def parameter_notes(summary):
    params = {}
    for r in summary.records:
        params.setdefault(r["model"], {})[r["impl"]] = r.get("parameters")
    for model, by_impl in params.items():
        if len(set(by_impl.values())) > 1:
            print(f"- WARNING: {model}: the two sides' models differ in size: "
                  + ", ".join(f"{impl} {n} parameters" for impl, n in by_impl.items())
                  + " (bench/text_models_ref.py is out of step with plugins/text)")
        else:
            print(f"- {model}: {next(iter(by_impl.values()))} parameters on both sides")


def config_name(m, batch):
    name = "ESIM (glue/mrpc), pairs of 10-40 tokens" if m == "esim" else "Transformer 4x256 (chars/text8), context 70"
    return f"{name}, batch {batch}"


bench_common.summarize(sys.argv[2:], "| Config | Loss |", "|---|---|",
                       lambda model, batch, loss: [config_name(model, batch), loss], notes=parameter_notes)
EOF
