# What bench/run_step_bench.sh and bench/run_text_step_bench.sh share, sourced by both
# ("$root/bench/bench_lib.sh", after they set root and bench_name, the prefix of their messages):
# the options, the checks of the two programs, the alternating invocations with the wait for a
# quiet machine and the reruns of disturbed ones, and the environment lines of the report. The
# summary after them is bench/bench_common.py's (summarize). Not a program of its own.
#
# Before bench_options, a script sets exe (the C++ benchmark), exe_target (its CMake target),
# py_script (the Python side), steps and warmup (its defaults); before bench_run, configs
# ("MODEL BATCH REST...", one a configuration) and losses, and it may redefine config_args.

build=${LOSSLAB_BUILD_DIR:-$root/build}
python=${LOSSLAB_BENCH_PYTHON:-/usr/bin/python3}
device=cpu
repeats=3
threads=$(nproc)
quick=0
wait_idle=120
env_args=()

# bench_options ARG...: reads the command line (the options of the scripts' usage), then checks
# --device, that $exe is built and that $python imports torch; exits 2 or 1 otherwise.
bench_options() {
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
        [[ "$2" == [A-Za-z_]*=* ]] || { echo "$bench_name.sh: --env: expected VAR=VALUE, got '$2'" >&2; exit 2; }
        env_args+=("$2"); shift 2 ;;
      -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) echo "$bench_name.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
  done
  if [[ "$device" != cpu && "$device" != cuda ]]; then
    echo "$bench_name.sh: --device: expected cpu or cuda, got '$device'" >&2; exit 2
  fi
  if [[ ! -x "$exe" ]]; then
    echo "$bench_name.sh: $exe not found; build it with" >&2
    echo "  cmake -S $root -B $build && cmake --build $build --target $exe_target" >&2
    exit 1
  fi
  if ! "$python" -c 'import torch' 2>/dev/null; then
    echo "$bench_name.sh: $python cannot import torch; install it with scripts/install-deps.sh --bench" >&2
    echo "  (or point LOSSLAB_BENCH_PYTHON at a python3 that has the same torch version as LibTorch)" >&2
    exit 1
  fi
}

# Share of the machine that other processes used while a command ran: busy CPU time of the
# whole machine (/proc/stat) minus this script's waited-for children (/proc/$$/stat), over
# wall time x cores. On two cores a compile next door makes a 2-thread step many times
# slower, so each invocation first waits (up to --wait-idle seconds, default 120) for a quiet
# second, and disturbed invocations are rerun (up to $max_tries tries) and counted.
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
    echo "$bench_name: other processes took ${other}% of the CPUs during $variant (try $try of $max_tries)" >&2
  done
  printf '%s\t%s\t%s\n' "$variant" "$other" "$(cat "$line_file")" >>"$results"
}

# config_args MODEL REST: a configuration's own arguments (from the fields after MODEL and
# BATCH), into the array config_extra; none unless the script redefines it.
config_args() { config_extra=(); }

# bench_run: every configuration with every loss, --repeats times, as alternating invocations:
# C++, Python, and on CPU Python with OPENBLAS_NUM_THREADS=1. Records the load average before
# and after (load_before, load_after).
bench_run() {
  results=$(mktemp)
  line_file=$(mktemp)
  trap 'rm -f "$results" "$line_file"' EXIT
  local cfg model batch rest loss r
  local -a args
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  for cfg in "${configs[@]}"; do
    read -r model batch rest <<<"$cfg"
    config_args "$model" "$rest"
    for loss in "${losses[@]}"; do
      args=(--model "$model" --batch "$batch" --loss "$loss" --threads "$threads" --device "$device"
            --steps "$steps" --warmup "$warmup" "${config_extra[@]}")
      echo "$bench_name: $model batch $batch loss $loss" >&2
      for ((r = 0; r < repeats; ++r)); do
        run_one cpp env "${env_args[@]}" "$exe" "${args[@]}"
        run_one python env "${env_args[@]}" "$python" "$py_script" "${args[@]}"
        if [[ "$device" == cpu ]]; then
          run_one python_blas1 env "${env_args[@]}" OPENBLAS_NUM_THREADS=1 "$python" "$py_script" "${args[@]}"
        fi
      done
    done
  done
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
}

# bench_environment ARG...: the report's lines on the machine, the two torch builds (LibTorch's
# version from a one-step run of $exe with ARG... --steps 1 --warmup 0), the environment and
# the method.
bench_environment() {
  echo "- date (UTC): $(date -u '+%Y-%m-%d %H:%M')"
  echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores available (nproc)"
  echo "- load average before / after: $load_before / $load_after"
  echo "- torch: LibTorch $("$exe" "$@" --steps 1 --warmup 0 --json | sed 's/.*"torch": "\([^"]*\)".*/\1/'), Python $("$python" -c 'import torch; print(torch.__version__)') ($python)"
  echo "- torch build: $("$python" -c 'import torch,re; s=torch.__config__.show(); print(", ".join(re.findall(r"(BLAS_INFO=[^,]*|LAPACK_INFO=[^,]*|USE_OPENMP=[^,]*|USE_MKLDNN=[^,]*)", s)))')"
  echo "- libblas.so.3: $(update-alternatives --display libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n 's/^ *link currently points to //p' || echo unknown)"
  local env_line
  env_line=$( { env | grep -E '^(OPENBLAS_|OMP_|GOMP_|MKL_|GLIBC_TUNABLES=|MALLOC_)' || true; printf '%s\n' "${env_args[@]}"; } | sed '/^$/d' | sort | tr '\n' ' ')
  echo "- environment (same for both sides): ${env_line:-none of OPENBLAS_*, OMP_*, GOMP_*, MKL_*, GLIBC_TUNABLES, MALLOC_* set}"
  echo "- intra-op threads: $threads on both sides; $steps timed steps after $warmup warm-up per invocation; $repeats invocation(s) per cell, alternating C++ and Python; a cell is the median of the per-invocation median ms per step (range in brackets)"
}
