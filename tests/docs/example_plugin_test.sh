#!/usr/bin/env bash
# Tests of the example task plugin (plugins/example, the worked example of
# docs/writing-a-task-plugin.md). Usage: example_plugin_test.sh CLI PLUGIN_BUILD_DIR SOURCE_DIR CASE
#   listed        `losslab-cli tasks` lists example/spirals (3 classes) from the build's plugin folder
#   plugin-path   a copy of the plugin in a folder on LOSSLAB_PLUGIN_PATH is loaded from there
#   experiment    plugins/example/spirals.yaml, shortened, completes with both losses and every
#                 protocol, better than chance
set -uo pipefail
cli=$1
plugins=$2
src=$3
case_name=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }
unset LOSSLAB_PLUGIN_PATH

case "$case_name" in
listed)
  out=$("$cli" tasks 2>"$work/err") || fail "tasks exited non-zero: $(cat "$work/err")"
  grep -qE '^example/spirals +3 +Spirals \(generated\) +MLP 2-64-64-3 ' <<<"$out" || fail "example/spirals missing or wrong in: $out"
  grep -q 'warning' "$work/err" && fail "plugin warnings: $(cat "$work/err")"
  out=$("$cli" tasks --verbose 2>&1) || fail "tasks --verbose exited non-zero"
  grep -qF "loaded plugin example " <<<"$out" || fail "no 'loaded plugin example' line: $out"
  grep -qF "$plugins/liblosslab-example.so" <<<"$out" || fail "not loaded from $plugins: $out"
  for key in 'data.train_per_class = 1000' 'data.noise = 0.05' 'model.hidden = \[64, 64\]' 'train.optimizer = adam  # recipe'; do
    grep -q "^  $key" <<<"$out" || fail "tasks --verbose lacks '$key': $out"
  done ;;
plugin-path)
  mkdir "$work/plugins"
  cp "$plugins/liblosslab-example.so" "$plugins/losslab-example.json" "$work/plugins/" || fail "the example plugin is not built in $plugins"
  out=$(LOSSLAB_PLUGIN_PATH="$work/plugins" "$cli" tasks --verbose 2>&1) || fail "tasks exited non-zero: $out"
  grep -qF "loaded plugin example 0." <<<"$out" || fail "no 'loaded plugin example' line: $out"
  grep -qF "($work/plugins/liblosslab-example.so)" <<<"$out" || fail "not loaded from LOSSLAB_PLUGIN_PATH: $out"
  grep -qF "$plugins/liblosslab-example.so" <<<"$out" && fail "loaded twice: $out"
  grep -qE '^example/spirals +3 ' <<<"$out" || fail "example/spirals not listed: $out" ;;
experiment)
  out=$("$cli" run "$src/plugins/example/spirals.yaml" --db "$work/runs.sqlite" --seeds 2 --max-epochs 8 2>"$work/err"); rc=$?
  [[ $rc -eq 0 ]] || fail "exit $rc: $(tail -5 "$work/err")"
  grep -q '| Task | Metric | Square loss | Cross-entropy | Square loss, same epochs as CE |' <<<"$out" || fail "table header: $out"
  row='^\| example/spirals \| test accuracy \(%\) \| (\*\*)?[0-9]+\.[0-9]{2} ± [0-9]+\.[0-9]{2}(\*\*)? \| (\*\*)?[0-9]+\.[0-9]{2} ± [0-9]+\.[0-9]{2}(\*\*)? \| (\*\*)?[0-9]+\.[0-9]{2} ± [0-9]+\.[0-9]{2}(\*\*)? \|$'
  grep -qE "$row" <<<"$out" || fail "table row: $out"
  grep -q '^6 completed, 0 diverged, 0 failed, 0 cancelled' <<<"$out" || fail "summary: $out"
  "$cli" list --db "$work/runs.sqlite" --format csv > "$work/list.csv" || fail "list failed"
  for loss in ce square; do
    [[ $(grep -c ",$loss,1,1,0.005,early_stopping,[01],completed," "$work/list.csv") -eq 2 ]] || fail "$loss early-stopping runs: $(cat "$work/list.csv")"
  done
  [[ $(grep -c ',square,1,1,0.005,same_epochs_as_ce,[01],completed,' "$work/list.csv") -eq 2 ]] || fail "same-epochs runs: $(cat "$work/list.csv")"
  # Three classes: chance is 33 %. Eight epochs of the recipe reach well above 80 %.
  awk -F, 'NR > 1 && $14 + 0 < 0.8 { bad = 1; print "run " $1 ": test accuracy " $14 } END { exit bad }' "$work/list.csv" \
    || fail "a run is barely better than chance: $(cat "$work/list.csv")" ;;
*)
  fail "unknown case" ;;
esac
echo "ok [$case_name]"
