#!/usr/bin/env bash
# A sweep through a real Slurm: starts a one-node cluster on this machine
# (scripts/local-slurm.sh), plans a small (k, M) sweep with `losslab-cli plan --slurm`, submits
# the job array with sbatch, waits, checks every array task's end state, merges the parts (twice:
# the second adds nothing), reports, and stops the daemons it started whatever happens.
#
# Usage: slurm_sweep_test.sh CLI [PLUGIN_DIR [SOURCE_DIR]]
# Exit status: 0 passed; 77 skipped (the cluster cannot start here: the reason is printed);
# anything else failed.
set -uo pipefail
cli=$(cd "$(dirname "${1:?usage: slurm_sweep_test.sh CLI [PLUGIN_DIR [SOURCE_DIR]]}")" && pwd)/$(basename "$1")
plugins=${2:-}
src=${3:-$(cd "$(dirname "$0")/../.." && pwd)}
local_slurm=$src/scripts/local-slurm.sh
[[ -x $cli ]] || { echo "FAIL: no $cli" >&2; exit 1; }
[[ -n $plugins ]] && export LOSSLAB_PLUGIN_PATH=$plugins   # sbatch passes the environment on to the tasks
export OMP_NUM_THREADS=1

work=$(mktemp -d "${TMPDIR:-/tmp}/losslab-slurm.XXXXXX")
chmod 0755 "$work"   # munged wants the folders above its socket searchable
state=$work/slurm
# Nothing may touch the user's default database.
export HOME=$work/home XDG_DATA_HOME=$work/home/.local/share
mkdir -p "$HOME"

started=0
plan_dir=$work/plan
finish() {
  local rc=$?
  trap - EXIT INT TERM
  if ((started)); then
    local t0=$SECONDS
    bash "$local_slurm" stop "$state" || echo "slurm-test: stopping the cluster failed" >&2
    echo "slurm-test: cluster stopped in $((SECONDS - t0)) s"
  fi
  if ((rc != 0 && rc != 77)); then
    local f
    for f in "$state"/log/*.log "$plan_dir"/logs/*.out; do
      [[ -s $f ]] && { echo "---- $f (last 20 lines)"; tail -n 20 "$f"; }
    done >&2
  fi
  rm -rf "$work"
  exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

for c in plan merge; do
  "$cli" "$c" --help >/dev/null 2>&1 || fail "losslab-cli has no '$c' command"
done

# ---- the cluster ---------------------------------------------------------------------------
t0=$SECONDS
started=1
out=$(bash "$local_slurm" start "$state" 2>"$work/start.err" </dev/null)
rc=$?
if ((rc == 3)); then
  started=0
  echo "SKIP: $(tail -n 1 "$work/start.err")"
  exit 77
fi
((rc == 0)) || fail "local-slurm.sh start exited $rc: $(cat "$work/start.err")"
eval "$out"
[[ -n ${SLURM_CONF:-} ]] || fail "local-slurm.sh start printed no SLURM_CONF: $out"
echo "slurm-test: $(tail -n 1 "$work/start.err") (in $((SECONDS - t0)) s)"

# ---- plan ------------------------------------------------------------------------------------
# 1 cross-entropy run + a 2 x 2 grid of the square loss's k and M = 5 runs, one per array task;
# small enough for seconds per run (the Fashion-MNIST files of dataset-fashion-mnist).
cat > "$work/sweep.yaml" <<'YAML'
name: slurm_sweep
task: fashion_mnist/mlp
device: cpu
losses: [ce, square]
protocols: [early_stopping]
seeds: 1
data: {limit_train: 300, limit_test: 200, val_fraction: 0.2}
train: {max_epochs: 1}
model: {hidden: [16]}
sweep:
  losses.1.k: [1, 5]
  losses.1.M: [1, 10]
YAML
# A space, '#' and '%' in the plan folder's path, as a user's project folder may have: sbatch
# splits #SBATCH lines at spaces, cuts them at '#' and expands '%' in the log's file name.
plan_dir="$work/sweep plan #1 100%"
"$cli" plan "$work/sweep.yaml" --slurm "$plan_dir" --array-parallel 2 --cpus-per-task 1 \
    > "$work/plan.out" 2>&1 || fail "plan failed: $(cat "$work/plan.out")"
runs=$(sed -n 's/^Planned \([0-9]*\) runs.*/\1/p' "$work/plan.out")
tasks=$(sed -n 's/.* as \([0-9]*\) Slurm array task.*/\1/p' "$work/plan.out")
# With no stored times the plan packs by run count: one run per task here, but any packing
# into 1 to 5 tasks is the plan's business; the test runs whatever it wrote.
[[ $runs == 5 ]] || fail "expected 5 runs: $(cat "$work/plan.out")"
[[ $tasks =~ ^[1-5]$ ]] || fail "expected 1 to 5 array tasks: $(cat "$work/plan.out")"
for f in array.sbatch experiment.yaml manifest.json; do
  [[ -s $plan_dir/$f ]] || fail "plan wrote no $f"
done
grep -qE "^#SBATCH --array=0(-$((tasks - 1)))?%2\$" "$plan_dir/array.sbatch" ||
  fail "array.sbatch lacks --array=0-$((tasks - 1))%2: $(cat "$plan_dir/array.sbatch")"
grep -q '"runs": 5,' "$plan_dir/manifest.json" || fail "manifest.json does not say 5 runs"

# ---- submit and wait ---------------------------------------------------------------------------
t0=$SECONDS
job=$(cd "$work" && sbatch --parsable "$plan_dir/array.sbatch" 2>&1) || fail "sbatch: $job"
job=${job%%;*}
[[ $job =~ ^[0-9]+$ ]] || fail "sbatch printed no job id: $job"
deadline=$((SECONDS + ${SLURM_TEST_TIMEOUT:-400}))
while [[ -n $(squeue -h -j "$job" -o %i 2>/dev/null) ]]; do
  if ((SECONDS > deadline)); then
    squeue -j "$job" >&2
    scancel "$job"
    fail "the job array $job is not done after ${SLURM_TEST_TIMEOUT:-400} s"
  fi
  sleep 0.5
done
echo "slurm-test: job array $job ($tasks tasks, at most 2 at once) done in $((SECONDS - t0)) s"

# Every array task: COMPLETED with exit code 0 in the job-completion log (this cluster has no
# accounting database for sacct), its output file and its part.
comp=$state/log/jobcomp.log
for ((i = 0; i < tasks; i++)); do
  line=""
  for ((try = 0; try < 20; try++)); do
    line=$(grep -E "ArrayJobId=$job ArrayTaskId=$i " "$comp" 2>/dev/null | tail -n 1)
    [[ -n $line ]] && break
    sleep 0.25
  done
  [[ -n $line ]] || fail "array task $i is not in the job-completion log $comp"
  [[ $line == *"JobState=COMPLETED "* && $line == *" ExitCode=0:0"* ]] ||
    fail "array task $i: $(grep -oE 'JobState=[A-Z_]+|ExitCode=[0-9:]+' <<<"$line" | tr '\n' ' ')-- $(cat "$plan_dir/logs/task-$i.out" 2>/dev/null)"
  [[ -f $plan_dir/logs/task-$i.out ]] || fail "array task $i wrote no logs/task-$i.out"
  [[ -s $plan_dir/part-$i.sqlite ]] || fail "array task $i wrote no part-$i.sqlite"
done

# ---- merge, twice ------------------------------------------------------------------------------
db=$work/runs.sqlite
"$cli" merge "$plan_dir"/part-*.sqlite --db "$db" > "$work/merge1.out" 2>&1 ||
  fail "merge failed: $(cat "$work/merge1.out")"
"$cli" list --db "$db" --format csv > "$work/list1.csv" || fail "list failed after the merge"
merged=$(($(wc -l < "$work/list1.csv") - 1))
((merged == runs)) || fail "the merged database lists $merged runs, the plan has $runs: $(cat "$work/list1.csv")"
counts() { sqlite3 "$db" 'SELECT (SELECT COUNT(*) FROM experiments) || " experiments, " || (SELECT COUNT(*) FROM runs) || " runs"'; }
have_sqlite=0
command -v sqlite3 >/dev/null && have_sqlite=1
((have_sqlite)) && counts1=$(counts)
"$cli" merge "$plan_dir"/part-*.sqlite --db "$db" > "$work/merge2.out" 2>&1 ||
  fail "the second merge failed: $(cat "$work/merge2.out")"
"$cli" list --db "$db" --format csv > "$work/list2.csv" || fail "list failed after the second merge"
cmp -s "$work/list1.csv" "$work/list2.csv" ||
  fail "the second merge changed the listing: $(diff "$work/list1.csv" "$work/list2.csv")"
if ((have_sqlite)); then
  counts2=$(counts)
  [[ $counts1 == "$counts2" ]] || fail "the second merge added rows: $counts1 before, $counts2 after"
  [[ $counts2 == *" $runs runs" ]] || fail "the merged database holds $counts2, the plan has $runs runs"
fi

# ---- report ------------------------------------------------------------------------------------
report=$work/report
"$cli" report --db "$db" --out "$report" > "$work/report.out" 2>&1 || fail "report failed: $(cat "$work/report.out")"
[[ -s $report/table-tuned.md ]] || fail "the report has no table-tuned.md: $(ls "$report")"
if ! grep -q 'figures need the full build' "$work/report.out"; then
  heatmaps=$(find "$report" -name 'figure-sweep-*-mean.png' | wc -l)
  ((heatmaps > 0)) || fail "the report has no heatmap figure: $(ls "$report")"
fi
echo "slurm-test: $runs runs planned, run as $tasks array tasks, merged (twice) and reported"
