#!/usr/bin/env bash
# Fault-tolerance test of losslab-cli: kills `run` / `resume --all` with SIGKILL at random
# moments, checks the database after every kill (SQLite integrity, no committed epoch row lost
# or changed), resumes to completion and requires results identical to an uninterrupted
# reference run. The experiment trains for ~3 s, about four kill delays; when a process
# finishes before its kill, that database (a "round") is compared with the reference and the
# next kill starts a fresh one, until N kills have landed. Then stops a run with SIGTERM, expects exit
# 143 and cancelled runs, resumes them and compares again. docs/fault-tolerance.md explains
# what is checked and why.
#
# Usage: scripts/kill-test.sh [--kills N] [--cli PATH] [--keep DIR] [--seed S]
#   --kills N   SIGKILLs that must land on a live process (default 20)
#   --cli PATH  the losslab-cli to test (default: build/bin/losslab-cli of this checkout)
#   --keep DIR  work in DIR and keep the databases, logs and dumps there
#   --seed S    seed of the random kill delays (default: the process id); printed, so a
#               failing sequence can be replayed (timing still varies with the load)
# Exit status: 0 every check passed, 1 a check failed (the message says which), 2 bad usage
# or a missing prerequisite (the CLI, sqlite3, Fashion-MNIST).
set -uo pipefail

kills_wanted=20
cli=""
keep=""
seed=$$
landed=0
usage() { sed -n '11,16p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case $1 in
    --kills) kills_wanted=${2:-}; shift 2 ;;
    --kills=*) kills_wanted=${1#*=}; shift ;;
    --cli) cli=${2:-}; shift 2 ;;
    --cli=*) cli=${1#*=}; shift ;;
    --keep) keep=${2:-}; shift 2 ;;
    --keep=*) keep=${1#*=}; shift ;;
    --seed) seed=${2:-}; shift 2 ;;
    --seed=*) seed=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "kill-test: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $kills_wanted =~ ^[0-9]+$ && $kills_wanted -ge 1 ]] || { echo "kill-test: --kills: expected an integer >= 1, got '$kills_wanted'" >&2; exit 2; }
[[ $seed =~ ^[0-9]+$ ]] || { echo "kill-test: --seed: expected a non-negative integer, got '$seed'" >&2; exit 2; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cli=${cli:-$root/build/bin/losslab-cli}
[[ -x $cli ]] || { echo "kill-test: no executable losslab-cli at $cli (build it, or pass --cli PATH)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "kill-test: the sqlite3 shell is missing (Debian package sqlite3; scripts/install-deps.sh)" >&2; exit 2; }
data=/usr/share/datasets/fashion-mnist
[[ -e $data/train-images-idx3-ubyte.gz ]] || { echo "kill-test: Fashion-MNIST is not installed in $data (Debian package fashion-mnist)" >&2; exit 2; }

if [[ -n $keep ]]; then
  mkdir -p "$keep" || { echo "kill-test: cannot create $keep" >&2; exit 2; }
  work=$(cd "$keep" && pwd)
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
RANDOM=$seed

fail() {
  echo "kill-test: FAIL: $*" >&2
  if [[ -n $keep ]]; then where="files kept in $work"; else where="rerun with --keep DIR to keep the files"; fi
  echo "kill-test: after $landed kill(s); seed $seed; $where" >&2
  exit 1
}
log() { echo "kill-test: $*"; }

# The experiment: 2 losses x 2 protocols x 2 seeds = 6 runs (same_epochs_as_ce applies to the
# square loss only). Patience 50 > max_epochs, so early stopping trains every epoch: ~3 s of
# training on one core after ~0.7 s of start-up, so that several kills land on each database.
# One thread per run, so that the reference and every resumed process compute in the same order.
cat > "$work/kill-test.yaml" <<YAML
name: kill-test
task: fashion_mnist/mlp
device: cpu
losses: [ce, square]
protocols: [early_stopping, same_epochs_as_ce]
seeds: 2
data: {root: $data, limit_train: 600, limit_test: 300}
train: {max_epochs: 40, patience: 50, log_every_steps: 2}
model: {hidden: [16]}
runner: {threads: 1}
YAML

# Epoch rows as "run|epoch|split|metric|value" (value with 17 significant digits, so equal
# text means equal doubles), sorted for comm. wall_s and examples_per_s are timings. The ECE
# bins of each epoch come along as metrics "bin<b>" with "count/confidence/correct" as value.
dump_epochs() {
  sqlite3 -readonly "$1" "SELECT run_id, epoch, split, metric, printf('%.17g', value) FROM epoch_metrics
                          WHERE metric NOT IN ('wall_s', 'examples_per_s')
                          UNION ALL
                          SELECT run_id, epoch, split, 'bin' || bin,
                                 printf('%.17g/%.17g/%.17g', count, confidence_sum, correct) FROM calibration_bins" |
    LC_ALL=C sort
}
dump_steps() {
  sqlite3 -readonly "$1" "SELECT run_id, step, epoch, metric, printf('%.17g', value) FROM step_metrics" | LC_ALL=C sort
}
dump_bins() {
  sqlite3 -readonly "$1" "SELECT run_id, epoch, split, bin, printf('%.17g/%.17g/%.17g', count, confidence_sum, correct)
                          FROM calibration_bins" | LC_ALL=C sort
}
count_runs() { sqlite3 -readonly "$1" "SELECT COUNT(*) FROM runs"; }

integrity_checks=0
rows_checked=0
# check_db DB OLD_DUMP NEW_DUMP WHAT: integrity, no gap in any run's epochs, and every row of
# OLD_DUMP still in the database with the same value.
check_db() {
  local db=$1 old=$2 new=$3 what=$4 out
  out=$(sqlite3 -readonly "$db" "PRAGMA integrity_check" 2>&1)
  [[ $out == ok ]] || fail "$what: PRAGMA integrity_check of $db says: $out"
  integrity_checks=$((integrity_checks + 1))
  out=$(sqlite3 -readonly "$db" "SELECT run_id || ': epochs ' || MIN(epoch) || '-' || MAX(epoch) || ', ' || COUNT(DISTINCT epoch) || ' distinct'
                                 FROM epoch_metrics GROUP BY run_id
                                 HAVING MIN(epoch) != 1 OR COUNT(DISTINCT epoch) != MAX(epoch)")
  [[ -z $out ]] || fail "$what: a run's stored epochs have a gap: $out"
  dump_epochs "$db" > "$new" || fail "$what: cannot read epoch_metrics of $db"
  local lost
  lost=$(LC_ALL=C comm -23 "$old" "$new")
  if [[ -n $lost ]]; then
    local first key now
    first=$(head -1 <<<"$lost")
    key=${first%|*}
    now=$(grep -F "$key|" "$new" | head -1)
    fail "$what: $(wc -l <<<"$lost") epoch_metrics row(s) committed before are gone or changed; first: '$first', now: '${now:-no row}'"
  fi
  rows_checked=$((rows_checked + $(wc -l < "$old")))
}

# make_ref YAML REF: an uninterrupted run into REF.sqlite, and what compare_with_ref needs.
make_ref() {
  local yaml=$1 ref=$2
  "$cli" run "$yaml" --db "$work/$ref.sqlite" --quiet > "$work/$ref.out" 2>&1 || fail "the reference run $ref failed: $(tail -5 "$work/$ref.out")"
  "$cli" list --db "$work/$ref.sqlite" --format csv | cut -d, -f4-14 > "$work/$ref.list"
  count_runs "$work/$ref.sqlite" > "$work/$ref.runs"
  [[ $(grep -c ',completed,' "$work/$ref.list") -eq $(cat "$work/$ref.runs") ]] || fail "the reference $ref did not complete every run: $(cat "$work/$ref.list")"
  "$cli" report --db "$work/$ref.sqlite" --out "$work/$ref-report" --formats csv --figures none > /dev/null 2>&1 || fail "report of the reference $ref failed"
  grep -vE ',(wall_s|examples_per_s),' "$work/$ref-report/metrics-long.csv" > "$work/$ref.metrics"
  dump_steps "$work/$ref.sqlite" > "$work/$ref.steps"
  dump_bins "$work/$ref.sqlite" > "$work/$ref.bins"
  [[ -s $work/$ref.bins ]] || fail "the reference $ref stored no ECE bins"
}

# compare_with_ref DB REF WHAT: list columns loss..test_acc, metrics-long.csv (timings left
# out), step_metrics, calibration_bins and the checkpoint folder must equal those of the
# reference REF.
compare_with_ref() {
  local db=$1 ref=$2 what=$3 name
  name=$(basename "$db" .sqlite)
  "$cli" list --db "$db" --format csv | cut -d, -f4-14 > "$work/$name.list" || fail "$what: list failed"
  cmp -s "$work/$ref.list" "$work/$name.list" || fail "$what: runs differ from the reference (loss..test_acc): $(diff "$work/$ref.list" "$work/$name.list" | head -20)"
  rm -rf "$work/$name-report"
  "$cli" report --db "$db" --out "$work/$name-report" --formats csv --figures none > /dev/null 2> "$work/$name-report.err" ||
    fail "$what: report failed: $(cat "$work/$name-report.err")"
  grep -vE ',(wall_s|examples_per_s),' "$work/$name-report/metrics-long.csv" > "$work/$name.metrics"
  cmp -s "$work/$ref.metrics" "$work/$name.metrics" || fail "$what: metrics-long.csv differs from the reference: $(diff "$work/$ref.metrics" "$work/$name.metrics" | head -20)"
  dump_steps "$db" > "$work/$name.steps"
  cmp -s "$work/$ref.steps" "$work/$name.steps" || fail "$what: step_metrics differ from the reference: $(diff "$work/$ref.steps" "$work/$name.steps" | head -20)"
  dump_bins "$db" > "$work/$name.bins"
  cmp -s "$work/$ref.bins" "$work/$name.bins" || fail "$what: calibration_bins differ from the reference: $(diff "$work/$ref.bins" "$work/$name.bins" | head -20)"
  local dir=$work/$name-checkpoints left want have
  left=$(find "$dir" -name '*.resume.pt*' 2>/dev/null)
  [[ -z $left ]] || fail "$what: resume checkpoints left after every run completed: $left"
  # Every run that trained itself keeps its reported weights; a run whose epochs were copied
  # from its early-stopping sibling (runner.reuse_prefix, runs.reused_from) has none. Which
  # runs copied depends on where the kills landed (a resumed run trains), so the set is
  # read from this database, not from the reference.
  want=$(sqlite3 -readonly "$db" "SELECT id FROM runs WHERE reused_from IS NULL ORDER BY id" | paste -sd ' ' -)
  have=$(find "$dir" -name 'run-*.pt' 2>/dev/null | sed -n 's|.*/run-\([0-9]*\)\.pt$|\1|p' | sort -n | paste -sd ' ' -)
  [[ $have == "$want" ]] || fail "$what: expected run-<id>.pt checkpoints in $dir for the runs that trained themselves (ids ${want:-none}), found ids ${have:-none}"
}

# --- the reference ---------------------------------------------------------------------
log "losslab-cli: $cli; work folder: $work; seed $seed; kills wanted: $kills_wanted"
t0=$SECONDS
make_ref "$work/kill-test.yaml" ref
runs_total=$(cat "$work/ref.runs")
[[ $runs_total -eq 6 ]] || fail "the reference has $runs_total runs, expected 6"
log "reference: $runs_total runs, $(($(wc -l < "$work/ref.metrics") - 1)) epoch metric rows, $(wc -l < "$work/ref.steps") step rows, $((SECONDS - t0)) s"

# --- SIGKILL at random moments ---------------------------------------------------------
test_db=$work/test.sqlite
landed=0          # SIGKILLs that ended a live process
with_progress=0   # ... after which more epoch rows were stored than at the previous check
of_run=0          # ... of them on `run` (the others on `resume --all`)
missed=0          # the process had already finished when the signal came
rounds=0          # fresh databases trained to completion and compared with the reference
fresh_round() {
  rm -rf "$test_db" "$test_db-wal" "$test_db-shm" "$test_db-journal" "$work/test-checkpoints"
  : > "$work/prev.dump"
  mode=run
}
finish_round() { # the test database has every run completed: compare, then start afresh
  compare_with_ref "$test_db" ref "round $((rounds + 1))"
  rounds=$((rounds + 1))
  fresh_round
}
# A process that exists and is not a zombie (kill -0 succeeds on an unreaped zombie too).
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}
fresh_round
attempt=0
while ((landed < kills_wanted)); do
  attempt=$((attempt + 1))
  : > "$work/attempt-$attempt.log" # exists before the child opens it, for the grep below
  if [[ $mode == run ]]; then
    "$cli" run "$work/kill-test.yaml" --db "$test_db" >> "$work/attempt-$attempt.log" 2>&1 &
  else
    "$cli" resume --db "$test_db" --all >> "$work/attempt-$attempt.log" 2>&1 &
  fi
  pid=$!
  # The delay counts from the line saying the runs are stored (run) or resumed (resume), so
  # that kills land on training and storing rather than on the ~0.5 s of loading plugins and
  # data; a kill during that start-up is still possible when a resume has little left to do.
  for _ in $(seq 1 3000); do
    grep -qE '^losslab-cli: (experiment|resuming)' "$work/attempt-$attempt.log" && break
    alive "$pid" || break
    sleep 0.01
  done
  ms=$((50 + RANDOM % 1451))
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rc=$?
  case $rc in
    137) landed=$((landed + 1)); what="kill $landed ($mode, after $ms ms)"; [[ $mode == run ]] && of_run=$((of_run + 1)) ;;
    0) missed=$((missed + 1)); what="attempt $attempt ($mode finished within $ms ms)" ;;
    *) fail "attempt $attempt: $mode exited $rc instead of being killed: $(tail -5 "$work/attempt-$attempt.log")" ;;
  esac
  if [[ ! -e $test_db ]] || [[ $(count_runs "$test_db") -eq 0 ]]; then
    # Killed before the runs were stored: nothing to resume, so the next try is a new `run`.
    fresh_round
    continue
  fi
  check_db "$test_db" "$work/prev.dump" "$work/now.dump" "$what"
  (($(wc -l < "$work/now.dump") > $(wc -l < "$work/prev.dump"))) && [[ $rc -eq 137 ]] && with_progress=$((with_progress + 1))
  mv "$work/now.dump" "$work/prev.dump"
  mode=resume
  if [[ $rc -eq 0 ]]; then
    # A process that finished leaves no unfinished run (run: all completed; resume: all resumed).
    unfinished=$(sqlite3 -readonly "$test_db" "SELECT COUNT(*) FROM runs WHERE status != 'completed'")
    [[ $unfinished -eq 0 ]] || fail "$what: exit 0 but $unfinished run(s) not completed: $("$cli" list --db "$test_db" 2>&1)"
    finish_round
  fi
done

# --- resume to completion --------------------------------------------------------------
if [[ $mode == run ]]; then
  "$cli" run "$work/kill-test.yaml" --db "$test_db" > "$work/final.log" 2>&1 || fail "the last run failed: $(tail -5 "$work/final.log")"
else
  "$cli" resume --db "$test_db" --all > "$work/final.log" 2>&1 || fail "resume --all after the last kill exited $?: $(tail -5 "$work/final.log")"
fi
check_db "$test_db" "$work/prev.dump" "$work/now.dump" "after the final resume"
compare_with_ref "$test_db" ref "after $landed kills, resumed to completion"
rounds=$((rounds + 1))
log "SIGKILL: $landed kills landed ($with_progress after new epochs were stored), $missed missed, $rounds round(s) resumed to completion: identical to the reference"

# --- SIGTERM ---------------------------------------------------------------------------
# The same with one seed (3 runs) and its own reference. A run trains ~0.5 s, so it is still
# training when the CLI handles the signal (it looks every 50 ms).
sed 's/^name: kill-test/name: kill-test-term/; s/^seeds: 2/seeds: 1/' \
  "$work/kill-test.yaml" > "$work/kill-test-term.yaml"
make_ref "$work/kill-test-term.yaml" term-ref
term_db=$work/term.sqlite
: > "$work/term.err"
"$cli" run "$work/kill-test-term.yaml" --db "$term_db" > "$work/term.out" 2>> "$work/term.err" &
pid=$!
for _ in $(seq 1 3000); do grep -q ' epoch 1/' "$work/term.err" && break; sleep 0.01; done
grep -q ' epoch 1/' "$work/term.err" || { kill -KILL "$pid"; fail "SIGTERM: no epoch finished within 30 s: $(tail -3 "$work/term.err")"; }
kill -TERM "$pid"
wait "$pid"
rc=$?
[[ $rc -eq 143 ]] || fail "SIGTERM: exit $rc, expected 143: $(tail -3 "$work/term.err")"
grep -q 'stopping: the current runs are cancelled' "$work/term.err" || fail "SIGTERM: no 'stopping' message: $(tail -3 "$work/term.err")"
: > "$work/empty.dump"
check_db "$term_db" "$work/empty.dump" "$work/term.dump" "after SIGTERM"
other=$(sqlite3 -readonly "$term_db" "SELECT id || ' ' || status FROM runs WHERE status NOT IN ('completed', 'cancelled')")
[[ -z $other ]] || fail "SIGTERM: runs neither completed nor cancelled: $other"
cancelled_ids=$(sqlite3 -readonly "$term_db" "SELECT id FROM runs WHERE status = 'cancelled' ORDER BY id" | tr '\n' ' ')
[[ -n $cancelled_ids ]] || fail "SIGTERM: no run was cancelled"
n_cancelled=$(wc -w <<<"$cancelled_ids")
mid_run=$(sqlite3 -readonly "$term_db" "SELECT id FROM runs WHERE status = 'cancelled' AND epochs > 0" | tr '\n' ' ')
[[ -n $mid_run ]] || fail "SIGTERM: no run was cancelled mid-training (after its first epoch): $("$cli" list --db "$term_db" 2>&1)"
for id in $mid_run; do
  [[ -e $work/term-checkpoints/run-$id.resume.pt ]] || fail "SIGTERM: run $id was cancelled after an epoch but has no resume checkpoint"
done
# resume --all takes interrupted runs only; cancelled runs are resumed by id.
# shellcheck disable=SC2086
"$cli" resume --db "$term_db" $cancelled_ids > "$work/term-resume.log" 2>&1 || fail "SIGTERM: resume of runs $cancelled_ids exited $?: $(tail -5 "$work/term-resume.log")"
check_db "$term_db" "$work/term.dump" "$work/term2.dump" "after resuming the cancelled runs"
compare_with_ref "$term_db" term-ref "SIGTERM, resumed"
log "SIGTERM: exit 143, $n_cancelled run(s) cancelled ($(wc -w <<<"$mid_run") after at least one epoch), resumed: identical to the reference"

# --- summary ---------------------------------------------------------------------------
cat <<EOF
kill-test summary (seed $seed, $((SECONDS - t0)) s)
  SIGKILL: $landed kill(s) landed ($of_run on run, $((landed - of_run)) on resume --all; $with_progress after new epoch rows had been committed), $missed attempt(s) finished before the kill
  integrity checks: $integrity_checks, all 'ok'
  epoch_metrics rows re-checked after kills: $rows_checked, none lost or changed
  rounds resumed to completion and compared with the reference: $rounds, all identical
    (list loss..test_acc of $runs_total runs, $(($(wc -l < "$work/ref.metrics") - 1)) metrics-long.csv rows, $(wc -l < "$work/ref.steps") step_metrics rows; run-<id>.pt for each run that trained itself, no *.resume.pt left)
  SIGTERM: exit 143, $n_cancelled of $(cat "$work/term-ref.runs") run(s) cancelled, $(wc -w <<<"$mid_run") of them mid-training, resumed by id: identical to its own reference
PASS
EOF
