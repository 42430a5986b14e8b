#!/usr/bin/env bash
# make_fixture_corpus.sh --from: a corpus made elsewhere (the folder ctest's speech.fixture-corpus
# filled, and a .tar.xz of it, as scripts/gpu-deps.sh packs for the GPU check) is copied into
# another folder with its Kaldi tables' absolute paths rewritten; a corpus made with other counts,
# or without the settings line, is refused naming the file and both settings.
#
# Usage: test_fixture_from.sh CORPUS   (exit 77 when CORPUS holds no complete corpus)
set -euo pipefail
corpus=$1
script=$(cd "$(dirname "$0")" && pwd)/make_fixture_corpus.sh
[[ -e $corpus/.complete ]] || { echo "no complete corpus in $corpus (speech.fixture-corpus skipped)"; exit 77; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/losslab-fixture-from.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# check_copy DIR: every file of the corpus is there, the absolute paths point into DIR and exist.
check_copy() {
  local dir=$1 n=0 id path
  [[ -e $dir/.complete ]] || fail "$dir: no .complete"
  grep -qxF "folder: $dir" "$dir/.complete" || fail "$dir/.complete does not name its folder: $(cat "$dir/.complete")"
  diff -rq -x .complete -x wav.scp "$corpus" "$dir" || fail "$dir differs from $corpus"
  for table in train/wav.scp test/wav.scp; do
    while read -r id path; do
      [[ $path == "$dir"/kaldi/wav/* ]] || fail "$dir/kaldi/$table: $id -> $path, expected a path under $dir"
      [[ -f $path ]] || fail "$dir/kaldi/$table: $id -> $path does not exist"
      n=$((n + 1))
    done <"$dir/kaldi/$table"
  done
  diff -q "$corpus/kaldi/dev/wav.scp" "$dir/kaldi/dev/wav.scp" || fail "the relative dev table changed"
  ((n > 0)) || fail "$dir: no absolute paths checked"
  echo "ok: $dir ($n absolute paths rewritten)"
}

# From the folder, into a folder whose name has a space.
bash "$script" --from "$corpus" "$scratch/from folder" || fail "--from a folder exited $?"
check_copy "$scratch/from folder"

# From a .tar.xz of it, through the environment, copied again over an older copy.
tar -C "$corpus" -cJf "$scratch/corpus.tar.xz" .
LOSSLAB_FIXTURE_FROM=$scratch/corpus.tar.xz bash "$script" "$scratch/from folder" || fail "--from a .tar.xz exited $?"
check_copy "$scratch/from folder"

# Other counts: refused, naming both settings; no .complete is left behind.
rc=0
LOSSLAB_FIXTURE_LABELS=2 bash "$script" --from "$scratch/corpus.tar.xz" "$scratch/other" 2>"$scratch/err" || rc=$?
((rc == 2)) || fail "other counts: exit $rc, expected 2"
grep -q "corpus.tar.xz: expected a corpus made with \"speakers=.* labels=2 " "$scratch/err" || fail "message: $(cat "$scratch/err")"
made=$(sed -n 's/^settings: //p' "$corpus/.complete")
[[ -n $made ]] || fail "$corpus/.complete has no settings line"
grep -qF "says \"$made\"" "$scratch/err" || fail "message lacks the corpus's settings ($made): $(cat "$scratch/err")"
[[ ! -e $scratch/other/.complete ]] || fail "a refused copy left a .complete"

# A corpus without the settings line (an older script's) is refused too.
cp -R "$corpus" "$scratch/old"
echo "make_fixture_corpus.sh finished" >"$scratch/old/.complete"
rc=0
bash "$script" --from "$scratch/old" "$scratch/other" 2>"$scratch/err" || rc=$?
((rc == 2)) || fail "a corpus without settings: exit $rc, expected 2"
grep -q 'says "nothing"' "$scratch/err" || fail "message: $(cat "$scratch/err")"
echo "ok: other counts and an older corpus are refused"

# Given only through the environment, a corpus of other counts is passed over: the script
# synthesises the one asked for (or exits 77 without espeak-ng and sox, as without --from).
rc=0
LOSSLAB_FIXTURE_FROM=$scratch/corpus.tar.xz LOSSLAB_FIXTURE_SPEAKERS=1 LOSSLAB_FIXTURE_PHRASES=2 LOSSLAB_FIXTURE_HELDOUT=2 \
  LOSSLAB_FIXTURE_LABELS=1 LOSSLAB_FIXTURE_COMMANDS_TRAIN=1 LOSSLAB_FIXTURE_COMMANDS_VAL=1 LOSSLAB_FIXTURE_COMMANDS_TEST=1 \
  bash "$script" "$scratch/small" >/dev/null 2>"$scratch/err" || rc=$?
grep -q "LOSSLAB_FIXTURE_FROM passed over: --from $scratch/corpus.tar.xz: expected a corpus made with \"speakers=1 " "$scratch/err" \
  || fail "message: $(cat "$scratch/err")"
case $rc in
  0) grep -qxF "settings: speakers=1 phrases=2 heldout=2 labels=1 commands=1/1/1" "$scratch/small/.complete" \
       || fail "synthesised corpus: $(cat "$scratch/small/.complete")"
     grep -q "copied from" "$scratch/small/.complete" && fail "the small corpus was copied, not synthesised"
     echo "ok: other counts through the environment: synthesised" ;;
  77) echo "ok: other counts through the environment: passed over (no espeak-ng or sox here: exit 77)" ;;
  *) fail "other counts through the environment: exit $rc: $(cat "$scratch/err")" ;;
esac
