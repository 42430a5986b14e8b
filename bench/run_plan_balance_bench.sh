#!/usr/bin/env bash
# The balance of `losslab-cli plan --slurm`: how long the longest array task runs against the
# mean task, estimated by the plan and measured by running every array task of the plan here,
# one after the other, as a Slurm node would run each (SLURM_ARRAY_TASK_ID set, the plan's own
# array.sbatch). It measures; it never fails on time.
#
#   bench/run_plan_balance_bench.sh [--limit-train N] [--max-epochs N] [--seeds N]
#
# The experiment is the shipped preset km_sweep_fashion_mnist (a 3 x 3 k, M sweep, both
# protocols), made smaller by --limit-train (default 3000) and --max-epochs (default 8). First
# the sweep runs once through `losslab-cli run` (the stored times the plan estimates from),
# then it is planned three ways: packed by those times, packed by run count (no database),
# and one task per independent unit; the packed-by-time plan's tasks are then run and timed.
# Prints a Markdown table. Environment: LOSSLAB_BUILD_DIR (default build/).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOSSLAB_BUILD_DIR:-$root/build}
cli=$build/bin/losslab-cli
limit=3000 epochs=8 seeds=3
while (( $# )); do
  case $1 in
    --limit-train) limit=$2; shift 2 ;;
    --max-epochs) epochs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    *) echo "usage: $0 [--limit-train N] [--max-epochs N] [--seeds N]" >&2; exit 2 ;;
  esac
done
[[ -x $cli ]] || { echo "no $cli: build first (scripts/build.sh)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/losslab-plan-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
size=(--limit-train "$limit" --max-epochs "$epochs" --seeds "$seeds" --device cpu)

start=$(date +%s.%N)
"$cli" run km_sweep_fashion_mnist --db "$work/runs.sqlite" "${size[@]}" --quiet > "$work/run.out" 2>&1
whole=$(echo "$(date +%s.%N) - $start" | bc)
runs=$(sqlite3 "$work/runs.sqlite" 'SELECT COUNT(*) FROM runs')

plan_line() { # NAME ARGS...: plans, prints "tasks longest mean ratio" from the manifest
  local name=$1; shift
  "$cli" plan km_sweep_fashion_mnist --slurm "$work/$name" "${size[@]}" "$@" > "$work/$name.out" 2>&1
  python3 - "$work/$name/manifest.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
b = m["balance"]
print(m["array_tasks"], m["cost_unit"], "%.1f" % b["longest_task"], "%.1f" % b["mean_task"], "%.2f" % b["longest_over_mean"])
PY
}
read -r t_time unit_time l_time m_time r_time < <(plan_line time --db "$work/runs.sqlite")
read -r t_count unit_count l_count m_count r_count < <(plan_line count --db "$work/none.sqlite")
read -r t_none unit_none l_none m_none r_none < <(plan_line none --db "$work/runs.sqlite" --pack none)

# Run the time-packed plan's tasks as Slurm would, and time each.
measured=()
for ((i = 0; i < t_time; i++)); do
  s=$(date +%s.%N)
  SLURM_ARRAY_TASK_ID=$i SLURM_CPUS_PER_TASK=$(nproc) bash "$work/time/array.sbatch" > "$work/task-$i.out" 2>&1 \
    || { echo "array task $i failed: $(tail -3 "$work/task-$i.out")" >&2; exit 1; }
  measured+=("$(echo "$(date +%s.%N) - $s" | bc)")
done
read -r m_longest m_mean m_ratio < <(python3 -c '
import sys
v = [float(x) for x in sys.argv[1:]]
print("%.1f %.1f %.2f" % (max(v), sum(v) / len(v), max(v) / (sum(v) / len(v))))' "${measured[@]}")

echo "Plan balance, km_sweep_fashion_mnist with --limit-train $limit --max-epochs $epochs --seeds $seeds: $runs runs; one process ran them in $(printf '%.0f' "$whole") s ($(nproc) cores, $(date -u +%F))"
echo
echo "| plan | array tasks | cost | longest task | mean task | longest / mean |"
echo "| --- | ---: | --- | ---: | ---: | ---: |"
echo "| packed by stored times (estimated) | $t_time | $unit_time | $l_time | $m_time | $r_time |"
echo "| packed by stored times (measured, each task's wall time) | $t_time | seconds | $m_longest | $m_mean | $m_ratio |"
echo "| packed by run count | $t_count | $unit_count | $l_count | $m_count | $r_count |"
echo "| one task per unit (--pack none) | $t_none | $unit_none | $l_none | $m_none | $r_none |"
