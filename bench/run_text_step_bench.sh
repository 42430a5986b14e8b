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
build=${LOSSLAB_BUILD_DIR:-$root/build}
python=${LOSSLAB_BENCH_PYTHON:-/usr/bin/python3}
exe=$build/bin/losslab-bench-text-step
device=cpu
repeats=3
steps=10
warmup=2
threads=$(nproc)
quick=0
wait_idle=120
env_args=()

while (( $# )); do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --wait-idle) wait_idle=$2; shift 2 ;;
    --env)
      [[ "$2" == [A-Za-z_]*=* ]] || { echo "run_text_step_bench.sh: --env: expected VAR=VALUE, got '$2'" >&2; exit 2; }
      env_args+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_text_step_bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ "$device" != cpu && "$device" != cuda ]]; then
  echo "run_text_step_bench.sh: --device: expected cpu or cuda, got '$device'" >&2; exit 2
fi
if [[ ! -x "$exe" ]]; then
  echo "run_text_step_bench.sh: $exe not found; build it with" >&2
  echo "  cmake -S $root -B $build && cmake --build $build --target losslab_bench_text_step" >&2
  exit 1
fi
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "run_text_step_bench.sh: $python cannot import torch; install it with scripts/install-deps.sh --bench" >&2
  echo "  (or point LOSSLAB_BENCH_PYTHON at a python3 that has the same torch version as LibTorch)" >&2
  exit 1
fi

# model batch
configs=("esim 64" "transformer 8" "transformer 32")
losses=(ce square)
if (( quick )); then configs=("transformer 8"); losses=(ce); repeats=1; fi

results=$(mktemp)
line_file=$(mktemp)
trap 'rm -f "$results" "$line_file"' EXIT

# Share of the machine that other processes used while a command ran, the wait for a quiet
# second before each invocation and the reruns of disturbed ones: as in bench/run_step_bench.sh.
max_tries=3
disturbed_limit=10 # percent
ncpu=$(nproc)
machine_busy() { local _c u n s i w q sq st _r; read -r _c u n s i w q sq st _r </proc/stat; echo $((u + n + s + q + sq + st)); }
own_children() { local f; read -r -a f </proc/$$/stat; echo $((f[15] + f[16])); } # cutime + cstime
uptime_cs() { local up _r; read -r up _r </proc/uptime; echo "${up/./}"; }

# Waits (at most $wait_idle seconds) until other processes use under the limit for a second.
wait_quiet() {
  local waited=0 b0
  while (( waited < wait_idle )); do
    b0=$(machine_busy)
    sleep 1
    (( ($(machine_busy) - b0) * 100 / (100 * ncpu) <= disturbed_limit )) && return 0
    waited=$((waited + 1))
  done
}

# run_one VARIANT COMMAND...: appends "VARIANT<TAB>OTHER_PERCENT<TAB>JSON" to $results.
run_one() {
  local variant=$1; shift
  local try other b0 o0 t0
  for ((try = 1; try <= max_tries; ++try)); do
    wait_quiet
    b0=$(machine_busy); o0=$(own_children); t0=$(uptime_cs)
    "$@" --json >"$line_file"
    other=$(( ( ($(machine_busy) - b0) - ($(own_children) - o0) ) * 100 / ( ($(uptime_cs) - t0) * ncpu + 1 ) ))
    (( other < 0 )) && other=0
    (( other <= disturbed_limit )) && break
    echo "run_text_step_bench: other processes took ${other}% of the CPUs during $variant (try $try of $max_tries)" >&2
  done
  printf '%s\t%s\t%s\n' "$variant" "$other" "$(cat "$line_file")" >>"$results"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for cfg in "${configs[@]}"; do
  read -r model batch <<<"$cfg"
  for loss in "${losses[@]}"; do
    args=(--model "$model" --batch "$batch" --loss "$loss" --threads "$threads" --device "$device"
          --steps "$steps" --warmup "$warmup")
    echo "run_text_step_bench: $model batch $batch loss $loss" >&2
    for ((r = 0; r < repeats; ++r)); do
      run_one cpp env "${env_args[@]}" "$exe" "${args[@]}"
      run_one python env "${env_args[@]}" "$python" "$root/bench/text_step_bench.py" "${args[@]}"
      if [[ "$device" == cpu ]]; then
        run_one python_blas1 env "${env_args[@]}" OPENBLAS_NUM_THREADS=1 "$python" "$root/bench/text_step_bench.py" "${args[@]}"
      fi
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo "## Training step of the text models: LibTorch C++ vs PyTorch Python ($device)"
echo
echo "- date (UTC): $(date -u '+%Y-%m-%d %H:%M')"
echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores available (nproc)"
echo "- load average before / after: $load_before / $load_after"
echo "- torch: LibTorch $("$exe" --model transformer --batch 1 --steps 1 --warmup 0 --json | sed 's/.*"torch": "\([^"]*\)".*/\1/'), Python $("$python" -c 'import torch; print(torch.__version__)') ($python)"
echo "- torch build: $("$python" -c 'import torch,re; s=torch.__config__.show(); print(", ".join(re.findall(r"(BLAS_INFO=[^,]*|LAPACK_INFO=[^,]*|USE_OPENMP=[^,]*|USE_MKLDNN=[^,]*)", s)))')"
echo "- libblas.so.3: $(update-alternatives --display libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^ *link currently points to //p' || echo unknown)"
env_line=$( { env | grep -E '^(OPENBLAS_|OMP_|GOMP_|MKL_|GLIBC_TUNABLES=|MALLOC_)' || true; printf '%s\n' "${env_args[@]}"; } | sed '/^$/d' | sort | tr '\n' ' ')
echo "- environment (same for both sides): ${env_line:-none of OPENBLAS_*, OMP_*, GOMP_*, MKL_*, GLIBC_TUNABLES, MALLOC_* set}"
echo "- intra-op threads: $threads on both sides; $steps timed steps after $warmup warm-up per invocation; $repeats invocation(s) per cell, alternating C++ and Python; a cell is the median of the per-invocation median ms per step (range in brackets)"
echo "- step: zero_grad, forward (dropout on), loss, backward, clip_grad_norm_ (the recipe's train.grad_clip), Adam step (the recipe's lr)"

"$python" - "$results" "$device" "$disturbed_limit" "$max_tries" <<'EOF'
import json, statistics, sys
rows, device = {}, sys.argv[2]
limit, tries = int(sys.argv[3]), int(sys.argv[4])
blas = {}
others = []
disturbed = set()
params = {}
for line in open(sys.argv[1]):
    variant, other, text = line.rstrip("\n").split("\t", 2)
    others.append(int(other))
    r = json.loads(text)
    key = (r["model"], r["batch"], r["loss"])
    rows.setdefault(key, {}).setdefault(variant, []).append(r["median_ms"])
    if int(other) > limit:
        disturbed.add(key)
    blas[variant] = r["blas"].split(";")[0]
    params.setdefault(r["model"], {})[r["impl"]] = r.get("parameters")

kept = sum(o > limit for o in others)
print(f"- CPU share taken by other processes during an invocation: median {statistics.median(others)}%, "
      f"max {max(others)}%; {kept} of {len(others)} invocations over {limit}% even after {tries} tries"
      + (" (their cells are marked *)" if kept else ""))
for model, by_impl in params.items():
    if len(set(by_impl.values())) > 1:
        print(f"- WARNING: {model}: the two sides' models differ in size: "
              + ", ".join(f"{impl} {n} parameters" for impl, n in by_impl.items())
              + " (bench/text_models_ref.py is out of step with plugins/text)")
    else:
        print(f"- {model}: {next(iter(by_impl.values()))} parameters on both sides")
print()

def med(v):
    return statistics.median(v) if v else float("nan")

def cell(v):
    # median of the invocations' medians, with their range when there are several
    if not v:
        return "-"
    return f"{med(v):.2f}" + (f" ({min(v):.2f}-{max(v):.2f})" if len(v) > 1 else "")

def config_name(m, batch):
    name = "ESIM (glue/mrpc), pairs of 10-40 tokens" if m == "esim" else "Transformer 4x256 (chars/text8), context 70"
    return f"{name}, batch {batch}"

cpu = device == "cpu"
head = "| Config | Loss | C++ ms | Python ms | C++ / Python |"
rule = "|---|---|---:|---:|---:|"
if cpu:
    head += " Python ms, OPENBLAS_NUM_THREADS=1 | C++ / Python, same BLAS threads |"
    rule += "---:|---:|"
print(head)
print(rule)
for (model, batch, loss), v in rows.items():
    c, p = v.get("cpp", []), v.get("python", [])
    mark = "*" if (model, batch, loss) in disturbed else ""
    cells = [config_name(model, batch) + mark, loss, cell(c), cell(p), f"{med(c) / med(p):.2f}"]
    if cpu:
        p1 = v.get("python_blas1", [])
        cells += [cell(p1), f"{med(c) / med(p1):.2f}"]
    print("| " + " | ".join(cells) + " |")
print()
for variant, text in blas.items():
    print(f"- {variant}: {text}")
EOF
