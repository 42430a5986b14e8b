#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, AddressSanitizer and UndefinedBehaviorSanitizer
# into build-fuzz/ (or $LOSSLAB_FUZZ_BUILD_DIR) and runs each target for a fixed time.
#   scripts/fuzz.sh [--seconds N] [--jobs N] [--make-seeds] [target...]
#     --seconds N   time per target (default 600)
#     --jobs N      targets run at the same time (default 1; each is one process on one core)
#     --make-seeds  rewrite the seed corpora in fuzz/corpus/ from fuzz/make_fuzz_seeds.cpp and stop
#     target        idx, cifar10, experiment_yaml, run_store (default: all four)
# Per target: the growing corpus is build-fuzz/corpus/<target>/ (seeded from fuzz/corpus/<target>/,
# which is never written), crash inputs go to build-fuzz/artifacts/<target>/, libFuzzer's output to
# build-fuzz/logs/<target>.log. A target stops at its first crash. Prints executions, coverage and
# crashes per target; exits 1 when any target crashed. docs/fuzzing.md has the details.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOSSLAB_FUZZ_BUILD_DIR:-$root/build-fuzz}
all_targets=(idx cifar10 experiment_yaml run_store)

seconds=600
jobs=1
make_seeds=0
targets=()
while (( $# > 0 )); do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    --make-seeds) make_seeds=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *)
      if [[ " ${all_targets[*]} " != *" $1 "* ]]; then
        echo "fuzz.sh: unknown target '$1'; targets: ${all_targets[*]}" >&2
        exit 2
      fi
      targets+=("$1"); shift ;;
  esac
done
(( ${#targets[@]} > 0 )) || targets=("${all_targets[@]}")
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "fuzz.sh: --seconds expects a positive integer" >&2; exit 2; }
[[ "$jobs" =~ ^[0-9]+$ && "$jobs" -gt 0 ]] || { echo "fuzz.sh: --jobs expects a positive integer" >&2; exit 2; }

if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found; install it with scripts/install-deps.sh --fuzz" >&2
  exit 1
fi

# Configure once; the build itself is incremental. Only the fuzz executables are built: the rest
# of the project would link against the instrumented core for nothing.
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLOSSLAB_FUZZ=ON -DLOSSLAB_GUI=OFF -DLOSSLAB_TESTS=OFF -DLOSSLAB_BENCH=OFF >/dev/null
fi

# ASan's defaults work with the uninstrumented LibTorch (leak and ODR checks included; set
# ASAN_OPTIONS=detect_leaks=0 should LibTorch's lazy allocations ever be reported as leaks).
# UBSan reports already abort (-fno-sanitize-recover); the stack trace says where.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if (( make_seeds )); then
  cmake --build "$build" --target losslab_fuzz_seeds -j "$(nproc)"
  "$build/bin/losslab_fuzz_seeds" "$root/fuzz/corpus" "$root/resources/experiments"
  echo "fuzz.sh: seeds written to $root/fuzz/corpus"
  exit 0
fi

cmake --build "$build" --target "${targets[@]/#/fuzz_}" -j "$(nproc)"

# Longest input per target: a few records or a small database is enough to reach every branch,
# and short inputs keep executions fast.
max_len() {
  case "$1" in
    idx) echo 8192 ;;
    cifar10) echo 12304 ;;          # 4 records of 3073 bytes + the 5-byte header
    experiment_yaml) echo 16384 ;;
    run_store) echo 65536 ;;
  esac
}

run_target() {
  local target=$1
  local corpus="$build/corpus/$target" artifacts="$build/artifacts/$target" log="$build/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$build/logs"
  local args=(-max_total_time="$seconds" -rss_limit_mb=4096 -max_len="$(max_len "$target")" -timeout=10
              -print_final_stats=1 -artifact_prefix="$artifacts/")
  [[ -f "$root/fuzz/$target.dict" ]] && args+=(-dict="$root/fuzz/$target.dict")
  # The first folder receives new inputs; the committed seeds are only read.
  local start=$SECONDS
  (cd "$build" && "$build/bin/fuzz_$target" "${args[@]}" "$corpus" "$root/fuzz/corpus/$target") >"$log" 2>&1 || true
  echo $((SECONDS - start)) >"$log.seconds"
}

summary() {
  local target=$1 log="$build/logs/$1.log" artifacts="$build/artifacts/$1"
  local runs cov crashes
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1 || true)
  crashes=$(find "$artifacts" -type f -newer "$log.start" 2>/dev/null | wc -l)
  printf '%-16s %5ss %12s executions   %-20s crashes: %s   (log: %s)\n' "$target" "$(cat "$log.seconds")" \
    "${runs:-?}" "${cov:-cov: ?}" "$crashes" "$log"
  if (( crashes > 0 )); then
    find "$artifacts" -type f -newer "$log.start" -printf '    %p\n'
    return 1
  fi
}

echo "fuzz.sh: ${targets[*]} for ${seconds}s each, ${jobs} at a time (logs in $build/logs)"
for target in "${targets[@]}"; do
  mkdir -p "$build/logs"
  touch "$build/logs/$target.log.start"
done
running=0
for target in "${targets[@]}"; do
  if (( running >= jobs )); then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$target" &
  running=$((running + 1))
done
wait

status=0
for target in "${targets[@]}"; do
  summary "$target" || status=1
done
exit $status
