#!/usr/bin/env bash
# Runs per hour of one small sweep on this machine, two ways: `losslab-cli run` directly, and
# through a one-node Slurm started here (scripts/local-slurm.sh): `losslab-cli plan --slurm`,
# `sbatch` of its job array, waiting for the array, `losslab-cli merge`. The difference is the
# overhead of the Slurm path: a process per array task (LibTorch, the plugins and the data
# loaded again), the scheduler's latency between tasks, the plan and the merge. Prints a
# Markdown table. It measures; it never fails on time.
#
#   bench/run_sweep_bench.sh [--repeats N] [--parallel N] [--wait-idle SECONDS] [--serial] [--quick]
#
# The sweep: fashion_mnist/mlp (784-256-10), 30,000 training images, 4 epochs, early
# stopping, cross-entropy and a 2 x 2 grid of the square loss's k and M, 2 seeds: 10 runs.
# Both paths run --parallel runs at once (default: nproc) with one thread each:
# `runner.cpu_runs` directly, `--array-parallel` and `--cpus-per-task 1` through Slurm.
# --serial adds `losslab-cli run` as it runs by default (one run at a time, every core's
# threads). Each path runs --repeats times (default 3), alternating, each on a fresh database
# after waiting up to --wait-idle seconds (default 120) for a quiet second; a cell is the
# median (range in brackets). --quick: a 5-run sweep of 300 images, once.
#
# Needs root and Debian's munge, slurmctld, slurmd and slurm-client (scripts/install-deps.sh);
# the cluster starts before the first measurement and stops at the end (its start and stop
# times are printed, not counted). Environment: LOSSLAB_BUILD_DIR (default build/).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOSSLAB_BUILD_DIR:-$root/build}
cli=$build/bin/losslab-cli
repeats=3
parallel=$(env -u OMP_NUM_THREADS nproc)
wait_idle=120
serial=0
quick=0
while (( $# )); do
  case $1 in
    --repeats) repeats=$2; shift 2 ;;
    --parallel) parallel=$2; shift 2 ;;
    --wait-idle) wait_idle=$2; shift 2 ;;
    --serial) serial=1; shift ;;
    --quick) quick=1; repeats=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_sweep_bench.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -x $cli ]] || { echo "run_sweep_bench.sh: no $cli: build first (scripts/build.sh)" >&2; exit 1; }
for c in plan merge; do
  "$cli" "$c" --help >/dev/null 2>&1 || { echo "run_sweep_bench.sh: $cli has no '$c' command" >&2; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "run_sweep_bench.sh: needs sqlite3 (scripts/install-deps.sh)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/losslab-sweep-bench.XXXXXX")
chmod 0755 "$work"
state=$work/slurm
started=0
cleanup() {
  if ((started)); then
    local t0
    t0=$(date +%s.%N)
    bash "$root/scripts/local-slurm.sh" stop "$state" || true
    echo "run_sweep_bench: cluster stopped in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export HOME=$work/home XDG_DATA_HOME=$work/home/.local/share   # no default database touched
mkdir -p "$HOME"

if ((quick)); then
  data='{limit_train: 300, limit_test: 200}' epochs=1 hidden='[16]' seeds=1
else
  data='{limit_train: 30000, limit_test: 2000}' epochs=4 hidden='[256]' seeds=2
fi
cat > "$work/sweep.yaml" <<YAML
name: sweep_bench
task: fashion_mnist/mlp
device: cpu
losses: [ce, {loss: square, lr: 0.02}]
protocols: [early_stopping]
seeds: $seeds
data: $data
train: {max_epochs: $epochs}
model: {hidden: $hidden}
sweep:
  losses.1.k: [1, 5]
  losses.1.M: [1, 10]
YAML

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# Waits (at most --wait-idle seconds) for a second in which the machine is under 10 % busy.
busy() { local _c u n s i w q sq st _r; read -r _c u n s i w q sq st _r </proc/stat; echo $((u + n + s + q + sq + st)); }
wait_quiet() {
  local waited=0 b0 ncpu
  ncpu=$(env -u OMP_NUM_THREADS nproc --all)
  while ((waited < wait_idle)); do
    b0=$(busy); sleep 1
    (( ($(busy) - b0) <= 10 * ncpu )) && return 0
    waited=$((waited + 1))
  done
  echo "run_sweep_bench: the machine was not quiet for ${wait_idle} s; measuring anyway" >&2
}
# completed DB: completed runs; trained DB: their summed wall_seconds.
completed() { sqlite3 "$1" "SELECT COUNT(*) FROM runs WHERE status = 'completed'"; }
trained() { sqlite3 "$1" "SELECT printf('%.1f', TOTAL(wall_seconds)) FROM runs"; }

runs=$("$cli" run "$work/sweep.yaml" --dry-run --db "$work/none.sqlite" | sed -n 's/^\([0-9]*\) runs in .*/\1/p')
[[ -n $runs ]] || { echo "run_sweep_bench.sh: --dry-run gave no run count" >&2; exit 1; }

t0=$(now)
started=1
eval "$(bash "$root/scripts/local-slurm.sh" start "$state" 2>"$work/start.err")" ||
  { cat "$work/start.err" >&2; exit 1; }
start_s=$(since "$t0")
echo "run_sweep_bench: $(tail -n 1 "$work/start.err"), in $start_s s" >&2

results=$work/results.tsv   # path, wall s, trained s, plan s, wait s, merge s
: > "$results"
direct() {  # direct NAME CPU_RUNS THREADS
  local db=$work/direct.sqlite t
  rm -f "$db"*
  wait_quiet
  t=$(now)
  "$cli" run "$work/sweep.yaml" --db "$db" --quiet --set runner.cpu_runs="$2" --set runner.threads="$3" \
      > "$work/direct.out" 2>&1 || { cat "$work/direct.out" >&2; exit 1; }
  local wall
  wall=$(since "$t")
  [[ $(completed "$db") == "$runs" ]] || { echo "run_sweep_bench: $1 completed $(completed "$db") of $runs runs" >&2; exit 1; }
  printf '%s\t%s\t%s\t-\t-\t-\n' "$1" "$wall" "$(trained "$db")" >> "$results"
  echo "run_sweep_bench: $1: $wall s" >&2
}
slurm() {
  local plan=$work/plan db=$work/merged.sqlite t t_plan t_wait t_merge job
  rm -rf "$plan" "$db"*
  wait_quiet
  t=$(now)
  "$cli" plan "$work/sweep.yaml" --slurm "$plan" --array-parallel "$parallel" --cpus-per-task 1 \
      --db "$work/none.sqlite" > "$work/plan.out" 2>&1 || { cat "$work/plan.out" >&2; exit 1; }
  t_plan=$(since "$t")
  local t1
  t1=$(now)
  job=$(sbatch --parsable "$plan/array.sbatch")
  job=${job%%;*}
  while [[ -n $(squeue -h -j "$job" -o %i 2>/dev/null) ]]; do sleep 0.2; done
  t_wait=$(since "$t1")
  t1=$(now)
  "$cli" merge "$plan"/part-*.sqlite --db "$db" > "$work/merge.out" 2>&1 || { cat "$work/merge.out" >&2; exit 1; }
  t_merge=$(since "$t1")
  local wall
  wall=$(since "$t")
  [[ $(completed "$db") == "$runs" ]] || { echo "run_sweep_bench: Slurm completed $(completed "$db") of $runs runs (logs: $plan/logs)" >&2; exit 1; }
  printf 'slurm\t%s\t%s\t%s\t%s\t%s\n' "$wall" "$(trained "$db")" "$t_plan" "$t_wait" "$t_merge" >> "$results"
  echo "run_sweep_bench: slurm: $wall s (plan $t_plan, array $t_wait, merge $t_merge)" >&2
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < repeats; r++)); do
  if ((r % 2)); then slurm; direct direct "$parallel" 1; else direct direct "$parallel" 1; slurm; fi
  ((serial)) && direct serial 1 0
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
tasks=$(sed -n 's/.* as \([0-9]*\) Slurm array task.*/\1/p' "$work/plan.out")

echo "## Runs per hour of a small sweep: losslab-cli run vs a local Slurm"
echo
echo "- date (UTC): $(date -u '+%Y-%m-%d %H:%M'); $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(env -u OMP_NUM_THREADS nproc) cores, $(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); $(. /etc/os-release && echo "$PRETTY_NAME"), Slurm $(sinfo -V | cut -d' ' -f2)"
echo "- sweep: $runs runs of fashion_mnist/mlp (hidden $hidden, data $data, $epochs epoch(s), early stopping); Slurm: $tasks array tasks, at most $parallel at once, 1 CPU each"
echo "- load average before / after: $load_before / $load_after; cluster start $start_s s (not counted)"
echo "- $repeats repetition(s), alternating; cells: median (range)"
echo
awk -F'\t' -v runs="$runs" -v par="$parallel" '
  function med(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
                                  return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
  function cell(p, k,   a, n, i) { n = 0; for (i = 1; i <= rows; i++) if (path[i] == p && val[i, k] != "-") a[++n] = val[i, k]
                                   if (!n) return "-"; mn = a[1]; mx = a[1]; for (i = 1; i <= n; i++) { if (a[i] < mn) mn = a[i]; if (a[i] > mx) mx = a[i] }
                                   m = med(a, n); return n > 1 ? sprintf("%.1f (%.1f-%.1f)", m, mn, mx) : sprintf("%.1f", m) }
  function wall(p,   a, n, i) { n = 0; for (i = 1; i <= rows; i++) if (path[i] == p) a[++n] = val[i, 2]; return n ? med(a, n) : 0 }
  { rows++; path[rows] = $1; for (k = 2; k <= 6; k++) val[rows, k] = $k; seen[$1] = 1 }
  END {
    name["direct"] = "`losslab-cli run`, runner.cpu_runs=" par ", 1 thread each"
    name["slurm"] = "local Slurm: plan + sbatch (array %" par ", 1 CPU each) + merge"
    name["serial"] = "`losslab-cli run` as by default (one run at a time, all cores)"
    print "| Path | Wall s | Runs per hour | vs direct | Training s (sum of runs) | Plan s | Array s | Merge s |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|"
    base = wall("direct")
    n = split("direct slurm serial", order, " ")
    for (o = 1; o <= n; o++) {
      p = order[o]; if (!seen[p]) continue
      w = wall(p)
      printf "| %s | %s | %.0f | %.2f | %s | %s | %s | %s |\n", name[p], cell(p, 2), runs * 3600 / w, base / w,
             cell(p, 3), cell(p, 4), cell(p, 5), cell(p, 6)
    }
    if (seen["slurm"] && base > 0)
      printf "\nOverhead of the Slurm path: %.1f s per run (median wall difference over %d runs).\n", (wall("slurm") - base) / runs, runs
  }' "$results"
