#!/usr/bin/env bash
# Wall time of one experiment on this machine's CPU three ways, in one run:
#   baseline    runner.reuse_prefix=off, train.train_metrics=full (every run trained, the
#               training set evaluated after every epoch: LossLab before these options)
#   reuse       runner.reuse_prefix=auto: the square loss's same_epochs_as_ce runs copy the
#               first epochs of the square early-stopping run of their seed
#   reuse+at_report  and train.train_metrics=at_report: the training set is evaluated only
#               after epochs the protocol may report
# and checks that every run's reported test and validation accuracy is the same all three
# ways (they must be: both options are exact on the CPU). Prints a Markdown table with the
# ratio to the baseline. It measures; it never fails on time.
#
#   bench/run_protocol_bench.sh [--experiment NAME] [--seeds N] [--limit-train N]
#                               [--max-epochs N] [--repeats N] [--quick]
#
# Defaults: the shipped `default` experiment as it is (5 seeds, 12,000 images, up to 20
# epochs), 1 repeat. --quick: 2 seeds, 2,000 images, 4 epochs. Environment:
# LOSSLAB_BUILD_DIR (default build/).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOSSLAB_BUILD_DIR:-$root/build}
cli=$build/bin/losslab-cli
experiment=default
repeats=1
extra=()
while (( $# )); do
  case $1 in
    --experiment) experiment=$2; shift 2 ;;
    --seeds) extra+=(--seeds "$2"); shift 2 ;;
    --limit-train) extra+=(--limit-train "$2"); shift 2 ;;
    --max-epochs) extra+=(--max-epochs "$2"); shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --quick) extra+=(--seeds 2 --limit-train 2000 --max-epochs 4); shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_protocol_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x $cli ]] || { echo "run_protocol_bench.sh: no $cli (build first: scripts/build.sh)" >&2; exit 2; }
work=$(mktemp -d /tmp/losslab-protocol-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

names=(baseline reuse reuse+at_report)
settings=("--set runner.reuse_prefix=off --set train.train_metrics=full"
          "--set runner.reuse_prefix=auto --set train.train_metrics=full"
          "--set runner.reuse_prefix=auto --set train.train_metrics=at_report")
declare -A times
for (( r = 1; r <= repeats; ++r )); do
  for i in "${!names[@]}"; do
    db=$work/${i}-$r.sqlite
    # shellcheck disable=SC2086  # settings are words
    start=$(date +%s.%N)
    "$cli" run "$experiment" --device cpu --quiet --db "$db" "${extra[@]}" ${settings[$i]} > "$work/${i}-$r.out" 2>&1 \
      || { cat "$work/${i}-$r.out" >&2; exit 1; }
    end=$(date +%s.%N)
    times[$i]+="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }') "
    # loss, protocol, seed, status, epochs, best epoch, val and test accuracy of every run
    "$cli" list --db "$db" --format csv | tr -d '\r' | awk -F, 'NR > 1 { print $4, $8, $9, $10, $11, $12, $13, $14 }' \
      | sort > "$work/${i}-$r.results"
  done
done

echo "## Protocol options: one experiment three ways (CPU)"
echo
echo "- experiment: \`$experiment\` ${extra[*]:-(as shipped)}; $(nproc) cores; $(date -u +%Y-%m-%d)"
same=yes
for i in 1 2; do cmp -s "$work/0-1.results" "$work/$i-1.results" || same=no; done
echo "- every run's status, epochs, reported epoch, validation and test accuracy identical all three ways: $same"
reused=$(sqlite3 "$work/1-1.sqlite" "SELECT count(*) FROM runs WHERE reused_from IS NOT NULL" 2>/dev/null || echo "?")
runs=$(sqlite3 "$work/1-1.sqlite" "SELECT count(*) FROM runs" 2>/dev/null || echo "?")
echo "- runs: $runs; copied by reuse: $reused"
echo
echo "| way | wall time (s), median of $repeats | / baseline |"
echo "|---|---:|---:|"
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
base=$(echo "${times[0]}" | median)
for i in "${!names[@]}"; do
  m=$(echo "${times[$i]}" | median)
  awk -v n="${names[$i]}" -v m="$m" -v b="$base" 'BEGIN { printf "| %s | %.1f | %.2f |\n", n, m, m / b }'
done
[[ $same == yes ]]
