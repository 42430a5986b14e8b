#!/usr/bin/env bash
# Command-line tests of losslab-cli: exit statuses, messages, and that bad input leaves an
# existing database exactly as it was. Usage: cli_test.sh CLI CASE
set -uo pipefail
cli=$1
case_name=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL [$case_name]: $*" >&2; exit 1; }

# expect STATUS PATTERN -- ARGS...: runs the CLI, checks exit status and that stderr+stdout match PATTERN.
expect() {
  local want=$1 pattern=$2; shift 3
  local out rc
  out=$("$cli" "$@" 2>&1); rc=$?
  [[ $rc -eq $want ]] || fail "exit $rc, expected $want for: $* -- output: $out"
  grep -qE -- "$pattern" <<<"$out" || fail "output lacks /$pattern/ for: $* -- output: $out"
}

# mrpc_folder DIR: a GLUE MRPC folder of generated sentence pairs (train.tsv 160, dev.tsv 40).
mrpc_folder() {
  mkdir -p "$1"
  local words=(alpha bravo charlie delta echo foxtrot golf hotel india juliet) split file i a b
  for split in train:160 dev:40; do
    file="$1/${split%%:*}.tsv"
    printf 'Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n' > "$file"
    for ((i = 0; i < ${split##*:}; i++)); do
      a="${words[i % 10]} ${words[(i * 3) % 10]} ${words[(i * 7) % 10]}"
      if (( i % 2 )); then b="$a"; else b="${words[(i + 1) % 10]} ${words[(i + 4) % 10]}"; fi
      printf '%d\t%d\t%d\t%s.\t%s?\n' $((i % 2)) $i $((i + 1)) "$a" "$b" >> "$file"
    done
  done
}

tiny() {
  cat > "$work/tiny.yaml" <<YAML
name: tiny
task: fashion_mnist/mlp
device: cpu
losses: [ce, square]
protocols: [early_stopping]
seeds: 1
data: {limit_train: 300, limit_test: 200}
train: {max_epochs: 1}
model: {hidden: [16]}
YAML
}

# A database holding one finished experiment, and its listing, to compare after bad input.
seed_db() {
  tiny
  "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --quiet >/dev/null 2>&1 || fail "could not create the reference database"
  listed_before
  cp "$work/runs.sqlite" "$work/runs.copy"
}
# listed_before: the listing of runs.sqlite that db_unchanged compares with.
listed_before() {
  "$cli" list --db "$work/runs.sqlite" --format csv > "$work/before.csv" || fail "list failed"
}
# figures_made DIR OUT NAME...: the report in DIR has NAME.png for every NAME (a headless
# build makes no figures and says so in the command's output OUT).
figures_made() {
  local dir=$1 out=$2 f
  shift 2
  grep -q 'figures need the full build' "$out" && return 0
  for f in "$@"; do [[ -s "$dir/$f.png" ]] || fail "missing $f.png: $(ls "$dir")"; done
}
db_unchanged() {
  "$cli" list --db "$work/runs.sqlite" --format csv > "$work/after.csv" || fail "list failed after bad input"
  cmp -s "$work/before.csv" "$work/after.csv" || fail "the database listing changed: $(diff "$work/before.csv" "$work/after.csv")"
}

case "$case_name" in
version)
  expect 0 '^losslab-cli [0-9]+\.[0-9]+' -- --version ;;
help)
  expect 0 'Commands:' -- --help
  for c in tasks run list delete; do expect 0 'Usage: losslab-cli '"$c" -- "$c" --help; done
  expect 2 "unknown command 'frobnicate'" -- frobnicate
  expect 2 'unknown option --bogus' -- run --bogus ;;
bad-args)
  # An option's value that is the next option, a repeated flag and an extra argument are
  # refused (exit 2) before anything is read, trained or stored.
  seed_db
  cd "$work" || fail "cd $work"
  expect 2 "run: --db: expected FILE, got the option '--quiet' \(for a file of that name write \./--quiet\)" -- run tiny.yaml --db --quiet
  expect 2 "run: --db: expected FILE, got the option '--dry-run'" -- run tiny.yaml --db --dry-run
  expect 2 "run: --report: expected DIR, got the option '--quiet'" -- run tiny.yaml --db runs.sqlite --report --quiet
  expect 2 "merge: --db: expected FILE, got the option '--quiet'" -- merge runs.sqlite --db --quiet
  expect 2 "report: --out: expected DIR, got the option '--figures'" -- report --db runs.sqlite --out --figures none
  expect 2 "run: --set: expected KEY=VALUE, got the option '--quiet'" -- run tiny.yaml --db runs.sqlite --set --quiet
  [[ ! -e $work/--quiet && ! -e $work/--dry-run && ! -e $work/--figures ]] || fail "a file named after an option was made: $(ls -A "$work")"
  expect 2 "run: --quiet is given twice" -- run tiny.yaml --db runs.sqlite --quiet --quiet
  expect 2 "run: --dry-run is given twice" -- run tiny.yaml --db runs.sqlite --dry-run --dry-run
  expect 2 "tasks: unexpected argument 'extra'" -- tasks extra
  expect 2 "list: unexpected argument 'extra'" -- list --db runs.sqlite extra
  # --device's value is taken as written: 'cuda:' is not a YAML mapping, and empty is not auto.
  expect 2 "\-\-device cuda:: device: expected auto, cpu, cuda or cuda:N, got 'cuda:'" -- run tiny.yaml --db runs.sqlite --device cuda:
  expect 2 "\-\-device : device: expected auto, cpu, cuda or cuda:N, got ''" -- run tiny.yaml --db runs.sqlite --device=
  db_unchanged
  # A value that starts with a minus but not "--" is a value: a negative number.
  expect 2 "train\.patience: expected an integer in \[1, 100000\], got '-1'" -- run tiny.yaml --db runs.sqlite --set train.patience=-1
  # Written as --name=value, a value starting with "--" is meant as written.
  expect 0 "Nothing was run" -- run tiny.yaml --db=--odd.sqlite --dry-run --quiet ;;
tasks)
  out=$("$cli" tasks) || fail "tasks exited non-zero"
  for id in fashion_mnist/mlp fashion_mnist/cnn mnist/mlp mnist/tcn_permuted cifar10/wrn cifar10/resnet18 \
            glue/mrpc/lstm_attention glue/mrpc/lstm_cnn glue/qnli/lstm_attention glue/qnli/lstm_cnn \
            glue/qqp/lstm_attention glue/qqp/lstm_cnn glue/sst2/bilstm text/csv/bilstm \
            chars/text8/transformer chars/enwik8/transformer; do
    grep -q "^$id " <<<"$out" || fail "task $id missing from: $out"
  done
  grep -q "^glue/mrpc/lstm_attention .*GLUE TSV folder: train.tsv, dev.tsv" <<<"$out" || fail "MRPC's data format missing: $out"
  grep -q "^text/csv/bilstm  *data.classes " <<<"$out" || fail "the CSV task's classes: $out"
  verbose=$("$cli" tasks --verbose 2>/dev/null) || fail "tasks --verbose exited non-zero"
  grep -q "test set: test = GLUE's dev set" <<<"$verbose" || fail "tasks --verbose lacks GLUE's test-set note" ;;
text-run)
  # The paper's MRPC row (preset esim_mrpc) and text8 row (transformer_text8) on generated
  # data, shrunk to seconds: both run, store F1 / bits per character, and report.
  mrpc_folder "$work/MRPC"
  "$cli" run esim_mrpc --db "$work/runs.sqlite" --seeds 1 --max-epochs 2 --quiet --set data.root="$work/MRPC" \
    --set model.embedding_dim=8 --set model.hidden=8 --set protocols='[early_stopping]' --set device=cpu \
    --report "$work/report" > "$work/out" 2>&1 || fail "esim_mrpc: $(cat "$work/out")"
  grep -q 'F1' "$work/report/table-main.md" || fail "no F1 column: $(cat "$work/report/table-main.md")"
  grep -q "test = GLUE's dev set" "$work/report/table-main.md" || fail "no note on GLUE's dev set: $(cat "$work/report/table-main.md")"
  figures_made "$work/report" "$work/out" fig1-seed-differences fig3-seed-spread fig2-curves-glue_mrpc_lstm_attention
  # A damaged training file: the file and line are named, and the database is left as it was.
  listed_before
  mkdir -p "$work/BAD" && cp "$work/MRPC/dev.tsv" "$work/BAD/"
  { head -3 "$work/MRPC/train.tsv"; printf '1\t7\tonly three fields\n'; } > "$work/BAD/train.tsv"
  expect 2 "BAD/train.tsv:4: .*expected" -- run esim_mrpc --db "$work/runs.sqlite" --seeds 1 --set data.root="$work/BAD" --set device=cpu
  db_unchanged
  for ((i = 0; i < 400; i++)); do printf 'the cat sat on the mat and the dog ran far '; done > "$work/text8"
  "$cli" run transformer_text8 --db "$work/runs.sqlite" --seeds 1 --max-epochs 1 --quiet --set data.root="$work/text8" \
    --set model.layers=1 --set model.dim=16 --set model.heads=2 --set model.feed_forward=32 --set data.context=20 \
    --set protocols='[early_stopping]' --set device=cpu > "$work/out" 2>&1 || fail "transformer_text8: $(cat "$work/out")"
  "$cli" report --db "$work/runs.sqlite" --experiment transformer_text8 --out "$work/r2" --figures none > "$work/out" 2>&1 ||
    fail "report: $(cat "$work/out")"
  grep -q ',test,bpc,' "$work/r2/metrics-long.csv" || fail "no test bpc in metrics-long.csv" ;;
torchscript-run)
  # The paper's BERT MRPC row (preset bert_mrpc: both losses, both protocols) with a tiny
  # BERT-like encoder scripted here by Debian's python3-torch, on generated pairs: the runs
  # complete and appear in the report's tables (with F1) and figures. A state dict given as
  # model.file is refused, naming the file, before any run is stored.
  # A build without ICU has no WordPiece tokenizer and no torchscript/text: skipped (77).
  "$cli" tasks | grep -q '^torchscript/text' || { echo "built without ICU: no torchscript/text"; exit 77; }
  python=${LOSSLAB_BENCH_PYTHON:-/usr/bin/python3}
  "$python" "$(dirname "$0")/../core/torchscript_models.py" "$work/models" > "$work/out" 2>&1 ||
    fail "torchscript_models.py: $(cat "$work/out")"
  mrpc_folder "$work/MRPC"
  bert=(--set data.root="$work/MRPC" --set model.vocab="$work/models/vocab.txt" --set model.max_length=32
        --set model.lowercase=true --set device=cpu)
  "$cli" run bert_mrpc --db "$work/runs.sqlite" --seeds 2 --max-epochs 2 --quiet "${bert[@]}" \
    --set model.file="$work/models/text_pooled.pt" --report "$work/report" > "$work/out" 2>&1 || fail "bert_mrpc: $(cat "$work/out")"
  [[ $("$cli" list --db "$work/runs.sqlite" --format csv | grep -c ',completed,') -eq 6 ]] ||
    fail "expected 6 completed runs: $("$cli" list --db "$work/runs.sqlite")"
  grep -q 'torchscript/text' "$work/report/table-main.md" || fail "no torchscript/text row: $(cat "$work/report/table-main.md")"
  grep -q 'F1' "$work/report/table-main.md" || fail "no F1 column: $(cat "$work/report/table-main.md")"
  figures_made "$work/report" "$work/out" fig1-seed-differences fig3-seed-spread fig2-curves-torchscript_text
  # The runs store their files' digests; the estimate of the same runs still finds them.
  sqlite3 -readonly "$work/runs.sqlite" "SELECT spec_yaml FROM runs WHERE id = 1" | grep -qE '^  model.file: "fnv1a64:[0-9a-f]{16}:[0-9]+"$' ||
    fail "no digest of model.file in the stored run"
  "$cli" run bert_mrpc --db "$work/runs.sqlite" --seeds 2 --max-epochs 2 --dry-run "${bert[@]}" \
    --set model.file="$work/models/text_pooled.pt" > "$work/est.out" 2>&1
  grep -q 'Estimate: .* from the same recipe and protocol' "$work/est.out" || fail "no estimate from the stored runs: $(cat "$work/est.out")"
  listed_before
  expect 2 "not_torchscript.pt \(model.file\): not a TorchScript file" -- run bert_mrpc --db "$work/runs.sqlite" --seeds 1 \
    "${bert[@]}" --set model.file="$work/models/not_torchscript.pt"
  db_unchanged ;;
speech-run)
  # The paper's LibriSpeech row (preset librispeech_ctc_attention: both losses, both protocols)
  # on the speech fixture corpus synthesised with espeak-ng, with a tiny recogniser and
  # SentencePiece units trained on the transcripts: the runs complete, the report leads with
  # the test WER and writes Figures 1-3. A truncated FLAC is refused, naming the file, before
  # any run is stored. Without espeak-ng or sox (or a build without the speech plugin): skipped.
  "$cli" tasks > "$work/tasks" 2>&1
  grep -q '^speech/librispeech/ctc_attention' "$work/tasks" || { echo "built without the speech plugin"; exit 77; }
  bash "$(dirname "$0")/../speech/make_fixture_corpus.sh" --speakers 2 --phrases 12 --heldout 6 --labels 2 \
    --commands-train 2 --commands-val 1 --commands-test 1 "$work/corpus" > "$work/out" 2>&1
  rc=$?
  (( rc == 77 )) && { cat "$work/out"; exit 77; }
  (( rc == 0 )) || fail "make_fixture_corpus.sh: $(cat "$work/out")"
  speech=(--set data.root="$work/corpus/librispeech" --set data.train=train --set data.dev=dev --set data.test=test
          --set model.spm_units=30 --set data.classes=30 --set model.vgg=false --set model.encoder_layers=1
          --set model.encoder_units=32 --set model.projection_units=32 --set model.project_every_layer=true
          --set model.attention_dim=32 --set model.decoder_layers=1 --set model.decoder_units=32 --set model.dropout=0
          --set train.batch_size=8 --set device=cpu)
  "$cli" run librispeech_ctc_attention --db "$work/runs.sqlite" --seeds 2 --max-epochs 2 --quiet "${speech[@]}" \
    --report "$work/report" > "$work/out" 2>&1 || fail "librispeech_ctc_attention: $(cat "$work/out")"
  [[ $("$cli" list --db "$work/runs.sqlite" --format csv | grep -c ',completed,') -eq 6 ]] ||
    fail "expected 6 completed runs: $("$cli" list --db "$work/runs.sqlite")"
  head -6 "$work/report/table-main.md" | grep -q 'speech/librispeech/ctc_attention | test WER (%)' ||
    fail "the main table does not lead with the test WER: $(cat "$work/report/table-main.md")"
  grep -q 'test CER (%)' "$work/report/table-main.md" || fail "no test CER: $(cat "$work/report/table-main.md")"
  grep -q ',test,wer_sub,' "$work/report/metrics-long.csv" || fail "no substitution counts in metrics-long.csv"
  figures_made "$work/report" "$work/out" fig1-seed-differences fig3-seed-spread fig2-curves-speech_librispeech_ctc_attention
  ls "$work"/runs-cache/speech-features-*.pt > /dev/null 2>&1 || fail "no feature cache beside the database: $(ls "$work")"
  listed_before
  cp -r "$work/corpus/librispeech" "$work/BAD"
  flac=$(find "$work/BAD/test" -name '*.flac' | sort | head -1)
  truncate -s 2000 "$flac"
  expect 2 "$(basename "$flac")" -- run librispeech_ctc_attention --db "$work/runs.sqlite" --seeds 1 "${speech[@]}" \
    --set data.root="$work/BAD"
  db_unchanged ;;
list-csv)
  seed_db
  header=$(head -1 "$work/before.csv" | tr -d '\r')
  [[ $header == run_id,experiment,task,loss,k,M,lr,protocol,seed,status,epochs,best_epoch,val_acc,test_acc* ]] || fail "header: $header"
  [[ $(wc -l < "$work/before.csv") -eq 3 ]] || fail "expected 2 runs: $(cat "$work/before.csv")"
  grep -q ',ce,1,1,0.05,early_stopping,0,completed,1,1,0\.' "$work/before.csv" || fail "ce row: $(cat "$work/before.csv")"
  grep -q ',square,1,1,0.05,early_stopping,0,completed,' "$work/before.csv" || fail "square row"
  expect 2 'no database at' -- list --db "$work/none.sqlite"
  # Two stored instances of one experiment: its name is listed once.
  "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --quiet >/dev/null 2>&1 || fail "second run"
  expect 0 'known experiments: tiny$' -- list --db "$work/runs.sqlite" --experiment nope
  # reused_from: a stored source shows as its id, one deleted since as its uid (the store is
  # read once more for the sources outside the runs listed, not once per run).
  sqlite3 "$work/runs.sqlite" "UPDATE runs SET reused_from = (SELECT uid FROM runs WHERE id = 3) WHERE id IN (2, 4);
    UPDATE runs SET reused_from = 'feedfacefeedfacefeedfacefeedface' WHERE id = 1" || fail "sqlite3"
  # Columns by name: a field may hold a quoted comma ("LibTorch 2.6.0, oneDNN off" on Debian 13).
  "$cli" list --db "$work/runs.sqlite" --format csv |
    python3 -c 'import csv, sys; print("run_id,reused_from"); [print(r["run_id"] + "," + r["reused_from"]) for r in csv.DictReader(sys.stdin)]' > "$work/reused.csv"
  [[ $(tr '\n' ' ' < "$work/reused.csv") == "run_id,reused_from 1,feedfacefeedfacefeedfacefeedface 2,3 3, 4,3 " ]] ||
    fail "reused_from: $(cat "$work/reused.csv")"
  # Columns are padded by characters, not bytes: a name with an umlaut (17 characters, 18
  # bytes) left the columns after it one short, and the header one long.
  sqlite3 "$work/runs.sqlite" "UPDATE experiments SET name = 'präzisionsmessung'" || fail "sqlite3"
  out=$("$cli" list --db "$work/runs.sqlite") || fail "list: $out"
  grep -qE '^run_id  experiment {9}task ' <<<"$out" || fail "header not padded to the name's characters: $out"
  grep -qE '^1 {7}präzisionsmessung  fashion_mnist/mlp ' <<<"$out" || fail "row: $out" ;;
bad-yaml)
  seed_db
  printf 'name: x\ntask: fashion_mnist/mlp\nlosses: [ce\n' > "$work/bad.yaml"
  expect 2 'bad\.yaml:[0-9]+:[0-9]+: YAML syntax error' -- run "$work/bad.yaml" --db "$work/runs.sqlite"
  mkdir "$work/somedir"
  expect 2 "somedir is a folder; expected an experiment YAML file" -- run "$work/somedir" --dry-run
  expect 2 "somedir is a folder; expected an experiment YAML file" -- run "$work/somedir" --db "$work/runs.sqlite"
  # A stream without end is read only up to the limit: refused at once, not read forever.
  out=$(timeout 60 "$cli" run /dev/zero --dry-run 2>&1); rc=$?
  [[ $rc -eq 2 ]] || fail "run /dev/zero: exit $rc, expected 2: $out"
  grep -q '/dev/zero: more than 1048576 bytes is too large for an experiment file (limit 1 MiB)' <<<"$out" || fail "run /dev/zero: $out"
  # An empty name is refused where it is written, at --dry-run already, and nothing is stored.
  sed 's/^name: tiny$/name: ""/' "$work/tiny.yaml" > "$work/noname.yaml"
  expect 2 'noname\.yaml:1:7: name: expected a non-empty string' -- run "$work/noname.yaml" --dry-run
  expect 2 'noname\.yaml:1:7: name: expected a non-empty string' -- run "$work/noname.yaml" --db "$work/runs.sqlite"
  expect 2 'noname\.yaml:1:7: name: expected a non-empty string' -- run "$work/noname.yaml" --db "$work/new.sqlite"
  [[ ! -e $work/new.sqlite ]] || fail "an experiment without a name still made $work/new.sqlite"
  # A Latin-1 byte would be stored in the name; a UTF-16 file would read as odd keys.
  sed $'s/^name: tiny$/name: caf\xe9/' "$work/tiny.yaml" > "$work/latin1.yaml"
  expect 2 'latin1\.yaml:1:10: invalid UTF-8 \(byte 0xE9\)' -- run "$work/latin1.yaml" --db "$work/runs.sqlite"
  printf '\xff\xfen\x00a\x00' > "$work/utf16.yaml"
  expect 2 'utf16\.yaml: the file is UTF-16 or UTF-32 .*save it as UTF-8' -- run "$work/utf16.yaml" --db "$work/runs.sqlite"
  db_unchanged ;;
bad-keys)
  seed_db
  expect 2 "\-\-set train\.patince=3: unknown key 'train\.patince'; known keys: .*train\.patience" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --set train.patince=3
  sed 's/max_epochs: 1/max_epochs: 1, patince: 3/' "$work/tiny.yaml" > "$work/typo.yaml"
  expect 2 "typo\.yaml:8:24: unknown key 'train\.patince'; known keys: .*train\.patience" -- run "$work/typo.yaml" --db "$work/runs.sqlite"
  printf 'train:\n  patience: 3\n' >> "$work/typo.yaml"
  expect 2 "typo\.yaml:10:1: key 'train' appears twice" -- run "$work/typo.yaml" --db "$work/runs.sqlite"
  expect 2 "unknown task 'nope/mlp'; known tasks: .*fashion_mnist/mlp" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --set task=nope/mlp
  expect 2 "train\.patience: expected an integer in \[1, 100000\], got '-1'" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --set train.patience=-1
  expect 2 "train\.batch_size: expected an integer.*got 'many'" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --set train.batch_size=many
  expect 2 -- "--max-epochs: expected an integer >= 1, got 'x'" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --max-epochs x
  expect 2 "unknown protocol 'early'" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --set protocols=[early]
  db_unchanged ;;
no-cuda)
  if "$cli" run --help >/dev/null && [[ -e /dev/nvidia0 ]]; then echo "skipped: this machine has a GPU"; exit 0; fi
  seed_db
  expect 2 "device 'cuda' was asked for, but this LibTorch sees no CUDA device" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --device cuda
  expect 2 "device 'cuda:3' was asked for" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --device cuda:3
  # Refused before a database is made: no empty file is left where the user asked for one.
  expect 2 "device 'cuda:3' was asked for" -- run "$work/tiny.yaml" --db "$work/new.sqlite" --device cuda:3
  expect 2 "device 'cuda:99999999999999999999': expected cuda:N with N a device number" -- \
    run "$work/tiny.yaml" --db "$work/new.sqlite" --device cuda:99999999999999999999
  [[ ! -e $work/new.sqlite ]] || fail "a device this machine lacks still made $work/new.sqlite"
  db_unchanged ;;
bad-onednn)
  # LOSSLAB_ONEDNN other than auto, on or off: exit 2 naming it, before a database is opened or made.
  seed_db
  export LOSSLAB_ONEDNN=yes
  expect 2 "LOSSLAB_ONEDNN: expected auto, on or off, got 'yes'" -- run "$work/tiny.yaml" --db "$work/runs.sqlite"
  expect 2 "LOSSLAB_ONEDNN: expected auto, on or off, got 'yes'" -- resume --all --db "$work/runs.sqlite"
  expect 2 "LOSSLAB_ONEDNN: expected auto, on or off, got 'yes'" -- run "$work/tiny.yaml" --db "$work/new.sqlite"
  [[ ! -e $work/new.sqlite ]] || fail "a bad LOSSLAB_ONEDNN still made $work/new.sqlite"
  db_unchanged
  # off: the runs train without oneDNN and record it with the library.
  export LOSSLAB_ONEDNN=off
  "$cli" run "$work/tiny.yaml" --db "$work/off.sqlite" --quiet > "$work/off.out" 2>&1 || fail "run with LOSSLAB_ONEDNN=off failed: $(tail -3 "$work/off.out")"
  unset LOSSLAB_ONEDNN
  libraries=$(sqlite3 -readonly "$work/off.sqlite" "SELECT DISTINCT library FROM runs")
  [[ $libraries =~ ^LibTorch\ [0-9.a-z+]+,\ oneDNN\ off$ ]] || fail "runs with LOSSLAB_ONEDNN=off record library '$libraries', expected 'LibTorch <version>, oneDNN off'" ;;
missing-data)
  seed_db
  expect 2 "/nonexistent/fmnist" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --set data.root=/nonexistent/fmnist
  db_unchanged ;;
corrupt-idx)
  seed_db
  mkdir -p "$work/idx"
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    cp "/usr/share/datasets/fashion-mnist/$f.gz" "$work/idx/" || fail "Fashion-MNIST is not installed"
  done
  # Truncate the training labels: header intact, data cut short.
  gzip -dc "$work/idx/train-labels-idx1-ubyte.gz" > "$work/labels.raw" || fail "gzip"
  head -c 1000 "$work/labels.raw" | gzip > "$work/idx/train-labels-idx1-ubyte.gz" || fail "gzip"
  expect 2 "train-labels-idx1-ubyte\.gz.*truncated" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --set data.root="$work/idx"
  # Wrong magic in the test images.
  printf 'not an idx file at all' | gzip > "$work/idx/t10k-images-idx3-ubyte.gz"
  cp "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz" "$work/idx/"
  expect 2 "t10k-images-idx3-ubyte\.gz" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --set data.root="$work/idx"
  db_unchanged ;;
corrupt-cifar)
  seed_db
  mkdir -p "$work/cifar"
  for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do head -c 6146 /dev/zero > "$work/cifar/$f.bin"; done
  head -c 5000 /dev/zero > "$work/cifar/data_batch_3.bin"
  expect 2 "data_batch_3\.bin.*3073" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --set task=cifar10/resnet18 --set data.root="$work/cifar" --set model=null
  db_unchanged ;;
unwritable-db)
  tiny
  expect 2 "cannot create folder /proc/nonexistent" -- run "$work/tiny.yaml" --db /proc/nonexistent/runs.sqlite
  printf 'this is not a database' > "$work/text.sqlite"
  expect 2 "not an SQLite database|not a LossLab database" -- run "$work/tiny.yaml" --db "$work/text.sqlite"
  [[ $(cat "$work/text.sqlite") == 'this is not a database' ]] || fail "the foreign file was changed"
  # A file where the checkpoint folder goes: refused before any run is stored or trained.
  seed_db
  mv "$work/runs-checkpoints" "$work/runs-checkpoints.kept" || fail "no checkpoint folder after a run"
  printf 'in the way' > "$work/runs-checkpoints"
  expect 2 "cannot create the checkpoint folder $work/runs-checkpoints of the database $work/runs\.sqlite: a file of that name is in the way" -- \
    run "$work/tiny.yaml" --db "$work/runs.sqlite"
  db_unchanged ;;
read-only-db)
  # A database that cannot be written (an archived study, another user's results, a read-only
  # mount) is listed, reported, exported and estimated from without a change; a run into it is
  # refused. As root, permissions bind nobody: the commands run as user nobody (setpriv).
  seed_db
  ro="$work/ro"
  mkdir "$ro" && mv "$work/runs.sqlite" "$ro/" && cp "$ro/runs.sqlite" "$work/runs.copy"
  [[ ! -e "$ro/runs.sqlite-wal" ]] || fail "a cleanly closed database left runs.sqlite-wal"
  chmod 444 "$ro/runs.sqlite" && chmod 555 "$ro" && chmod 755 "$work"
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  as=()
  if [[ $(id -u) -eq 0 ]]; then
    command -v setpriv >/dev/null || { echo "SKIP: root without setpriv"; exit 77; }
    as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  fi
  "${as[@]}" test -x "$cli" || { echo "SKIP: user nobody cannot run $cli"; exit 77; }
  as_user() { local out rc; out=$("${as[@]}" "$cli" "$@" 2>&1); rc=$?; [[ $rc -eq 0 ]] || fail "exit $rc for: $* -- $out"; printf '%s\n' "$out"; }
  as_user list --db "$ro/runs.sqlite" --format csv > "$work/ro.csv"
  cmp -s "$work/before.csv" "$work/ro.csv" || fail "read-only listing differs: $(diff "$work/before.csv" "$work/ro.csv")"
  mkdir "$work/out" && chmod 777 "$work/out"
  as_user report --db "$ro/runs.sqlite" --out "$work/out/report" --formats md --figures none >/dev/null
  [[ -s "$work/out/report/table-main.md" ]] || fail "no report table from the read-only database"
  as_user export --db "$ro/runs.sqlite" --out "$work/out/tb" >/dev/null
  [[ -n $(find "$work/out/tb" -name 'events.out.tfevents.*' -print -quit) ]] || fail "no TensorBoard files from the read-only database"
  out=$(as_user plan "$work/tiny.yaml" --slurm "$work/out/slurm" --db "$ro/runs.sqlite")
  grep -q "completed runs in $ro/runs.sqlite (2 of" <<<"$out" || fail "no estimate from the read-only database's runs: $out"
  out=$("${as[@]}" "$cli" run "$work/tiny.yaml" --db "$ro/runs.sqlite" 2>&1); rc=$?
  [[ $rc -eq 2 ]] && grep -q 'cannot be written' <<<"$out" || fail "a run into the read-only database: exit $rc -- $out"
  cmp -s "$ro/runs.sqlite" "$work/runs.copy" || fail "the read-only database changed"
  ls "$ro" | grep -qv '^runs\.sqlite$' && fail "files left in the read-only folder: $(ls "$ro")"
  true ;;
run-table)
  tiny
  out=$("$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" 2>"$work/err"); rc=$?
  [[ $rc -eq 0 ]] || fail "exit $rc: $(cat "$work/err")"
  grep -q '| Task | Metric | Square loss | Cross-entropy |' <<<"$out" || fail "table header: $out"
  grep -qE '^\| fashion_mnist/mlp \| test accuracy \(%\) \| (\*\*)?[0-9]+\.[0-9]{2}(\*\*)? \| (\*\*)?[0-9]+\.[0-9]{2}(\*\*)? \|$' <<<"$out" || fail "table row: $out"
  grep -q '2 completed, 0 diverged, 0 failed, 0 cancelled' <<<"$out" || fail "summary: $out"
  grep -q 'epoch 1/1 train loss' "$work/err" || fail "no progress lines on a non-terminal: $(cat "$work/err")" ;;
diverged)
  # Runs whose training blew up are diverged, not results: the table says no run completed.
  tiny
  out=$("$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --set 'protocols=[fixed_epochs]' \
        --set 'losses=[{loss: ce, lr: 1000}, {loss: square, lr: 1000}]' --set train.max_epochs=2 2>"$work/err")
  grep -q '^### Test results: no run completed$' <<<"$out" || fail "title: $out"
  grep -q '0 completed, 2 diverged, 0 failed, 0 cancelled' <<<"$out" || fail "summary: $out"
  grep -q 'left out (not completed): seed 0: diverged' <<<"$out" || fail "left-out note: $out"
  grep -qE 'diverged in epoch 1.*(train.divergence_factor|not finite)' "$work/err" || fail "no divergence reason: $(cat "$work/err")"
  # Without a validation split (fixed_epochs) the progress line has no validation accuracy.
  "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --set 'protocols=[fixed_epochs]' --set 'losses=[ce]' >/dev/null 2>"$work/err" ||
    fail "the fixed-epochs run failed: $(cat "$work/err")"
  grep -qE 'epoch 1/1 train loss [0-9.]+, test acc [0-9.]+ \(best epoch 1\)$' "$work/err" || fail "progress line: $(cat "$work/err")" ;;
sigint)
  tiny
  sed -i 's/max_epochs: 1/max_epochs: 200, patience: 200/' "$work/tiny.yaml"
  "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 300); do grep -q 'epoch 2/200' "$work/err" && break; sleep 0.1; done
  grep -q 'epoch 2/200' "$work/err" || { kill -9 $pid; fail "the run did not start: $(cat "$work/err")"; }
  kill -INT $pid
  wait $pid; rc=$?
  [[ $rc -eq 130 ]] || fail "exit $rc after SIGINT, expected 130: $(tail -3 "$work/err")"
  grep -q 'stopping: the current runs are cancelled' "$work/err" || fail "no stop message"
  "$cli" list --db "$work/runs.sqlite" --format csv > "$work/list.csv"
  [[ $(grep -c ',cancelled,' "$work/list.csv") -eq 2 ]] || fail "both runs should be cancelled: $(cat "$work/list.csv")"
  grep -q ' 0 completed, 0 diverged, 0 failed, 2 cancelled' "$work/out" || grep -q '^0 completed, 0 diverged, 0 failed, 2 cancelled' "$work/out" || fail "summary: $(cat "$work/out")" ;;
report)
  seed_db
  out=$("$cli" report --db "$work/runs.sqlite" --experiment tiny --out "$work/report" 2>"$work/err"); rc=$?
  [[ $rc -eq 0 ]] || fail "report exit $rc: $(cat "$work/err")"
  for f in table-main table-std stats headline; do
    for ext in csv md tex; do [[ -s "$work/report/$f.$ext" ]] || fail "missing $f.$ext"; done
  done
  [[ -s "$work/report/seed-results.csv" && -s "$work/report/metrics-long.csv" ]] || fail "missing raw files"
  head -1 "$work/report/metrics-long.csv" | tr -d '\r' | grep -qx 'run_id,experiment,task,recipe,loss,k,M,protocol,seed,epoch,split,metric,value' || fail "metrics-long header"
  # The reliability diagrams' data: 15 bins per group, whose examples add up to the group's
  # (data.limit_test: 200 test examples, one seed).
  head -1 "$work/report/reliability.csv" | tr -d '\r' |
    grep -qx 'task,recipe,loss_name,loss,k,M,lr,protocol,split,seeds,examples,ece_mean,ece_std,ece_pooled,bin,lower,upper,count,confidence,accuracy' ||
    fail "reliability.csv header: $(head -1 "$work/report/reliability.csv" 2>&1)"
  bins=$(tr -d '\r' < "$work/report/reliability.csv" | awk -F, 'NR > 1 {
      key = $1 FS $3 FS $8; n[key]++; sum[key] += $18; examples[key] = $11; if ($9 != "test") bad = "split " $9 }
    END { for (k in n) { groups++; if (n[k] != 15) bad = k ": " n[k] " bins"; if (sum[k] != examples[k] || examples[k] != 200) bad = k ": " sum[k] " of " examples[k] }
          print (bad == "" ? groups " groups" : bad) }')
  [[ $bins == "2 groups" ]] || fail "reliability.csv: $bins"
  if grep -q 'figures need the full build' "$work/err"; then
    echo "headless build: no figures"
  else
    for f in fig1-seed-differences fig3-seed-spread fig2-curves-fashion_mnist_mlp fig4-reliability-fashion_mnist_mlp; do
      for ext in png svg pdf; do [[ -s "$work/report/$f.$ext" ]] || fail "missing $f.$ext"; done
    done
  fi
  ls "$work/report" | grep -q tmp && fail "temporary files left: $(ls "$work/report")"
  expect 2 "no experiment 'nope'.*stored experiments: tiny" -- report --db "$work/runs.sqlite" --experiment nope --out "$work/r2"
  expect 2 "split: expected test, val or train" -- report --db "$work/runs.sqlite" --split dev --out "$work/r2"
  expect 2 "cannot create the report folder /proc/nope" -- report --db "$work/runs.sqlite" --out /proc/nope/out
  expect 2 -- "--out DIR is required" -- report --db "$work/runs.sqlite"
  # run --report: a folder that cannot be made stops the run before anything trains or is stored.
  listed_before
  printf 'in the way' > "$work/blocker"
  expect 2 "run: --report: cannot create the report folder $work/blocker: a file of that name is in the way" -- \
    run "$work/tiny.yaml" --db "$work/runs.sqlite" --report "$work/blocker"
  expect 2 "run: --report: cannot create the report folder /proc/nope" -- run "$work/tiny.yaml" --db "$work/runs.sqlite" --report /proc/nope/out
  expect 2 "run: --report: cannot create the report folder" -- run "$work/tiny.yaml" --db "$work/new.sqlite" --report "$work/blocker/sub"
  [[ ! -e $work/new.sqlite ]] || fail "run --report with a bad folder still made $work/new.sqlite"
  db_unchanged
  # A report that fails after the runs are stored (a folder where a table goes) is exit 1, not
  # 2 ("nothing was run"), and says how to write it again.
  mkdir -p "$work/late/table-main.md"
  out=$("$cli" run "$work/tiny.yaml" --db "$work/late.sqlite" --report "$work/late" --quiet 2>&1); rc=$?
  [[ $rc -eq 1 ]] || fail "a report failing after the runs: exit $rc -- $out"
  grep -q "the runs are stored, but their report was not written: .*table-main.md" <<<"$out" || fail "late report message: $out"
  grep -qF "(write it again with: losslab-cli report --db $work/late.sqlite --experiment 'tiny#1' --out $work/late)" <<<"$out" ||
    fail "late report: no command to write it again: $out"
  [[ $("$cli" list --db "$work/late.sqlite" --format csv | grep -c ',completed,') -eq 2 ]] || fail "the runs of the failed report are not stored"
  sed -i 's/losses: \[ce, square\]/losses: [ce]/; s/name: tiny/name: ceonly/' "$work/tiny.yaml"
  "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --quiet >/dev/null 2>&1 || fail "ce-only run"
  expect 0 "only one loss \\(cross-entropy\\).*no pairing by seed" -- report --db "$work/runs.sqlite" --experiment ceonly --out "$work/r3" --figures none
  # A name with '#' is selected by its name (before, only as NAME#ID); a value that is both a
  # stored name and NAME#ID of another experiment is refused, saying how to write each.
  sed -i 's/^name: .*/name: "tiny#1"/' "$work/tiny.yaml"
  out=$("$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --quiet 2>&1) || fail "run of tiny#1: $out"
  grep -qF "Experiment 'tiny#1' (#3)" <<<"$out" || fail "expected experiment #3: $out"
  expect 2 "experiment 'tiny#1' is ambiguous .*: it is the name of experiment #3 and also instance #1 of 'tiny'; write 'tiny#1#3' for the first, 'tiny#01' for the second" -- \
    report --db "$work/runs.sqlite" --experiment 'tiny#1' --out "$work/r4" --figures none
  expect 0 "Report of 1 experiment\\(s\\), 1 run" -- report --db "$work/runs.sqlite" --experiment 'tiny#1#3' --out "$work/r4" --figures none
  expect 0 "Report of 1 experiment\\(s\\), 2 run" -- report --db "$work/runs.sqlite" --experiment 'tiny#01' --out "$work/r4" --figures none
  sed -i 's/^name: .*/name: "x #2"/' "$work/tiny.yaml"
  "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --quiet >/dev/null 2>&1 || fail "run of 'x #2'"
  expect 0 "Report of 1 experiment\\(s\\), 1 run" -- report --db "$work/runs.sqlite" --experiment 'x #2' --out "$work/r4" --figures none
  # run --report of "x" #6 beside an experiment named "x#6": its report is still written.
  sed -i 's/^name: .*/name: "x#6"/' "$work/tiny.yaml"
  "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --quiet >/dev/null 2>&1 || fail "run of 'x#6'"
  sed -i 's/^name: .*/name: x/' "$work/tiny.yaml"
  out=$("$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --report "$work/r5" --quiet 2>&1) || fail "run --report beside x#6: $out"
  grep -qF "Experiment 'x' (#6)" <<<"$out" || fail "expected experiment #6: $out"
  [[ -s "$work/r5/table-main.md" ]] || fail "run --report beside x#6 wrote no table: $out";;
export)
  seed_db
  logs="$work/tb logs"
  out=$("$cli" export --db "$work/runs.sqlite" --out "$logs" 2>"$work/err"); rc=$?
  [[ $rc -eq 0 ]] || fail "export exit $rc: $(cat "$work/err")"
  grep -qx 'Exported 2 run(s) of 1 experiment(s) to .* as TensorBoard event files:' <<<"$out" || fail "export output: $out"
  grep -qx '  tiny#1/fashion_mnist/mlp/square/early_stopping/seed0' <<<"$out" || fail "export lists no square run folder: $out"
  python3 "$(dirname "$0")/check_tfevents.py" "$work/runs.sqlite" "$logs" || fail "the event files do not hold the stored metrics"
  find "$logs" -name '*tmp*' | grep -q . && fail "temporary files left: $(find "$logs")"
  # Again: the same files, replaced, none added.
  before=$(cd "$logs" && find . -type f | sort)
  "$cli" export --db "$work/runs.sqlite" --out "$logs" >/dev/null 2>&1 || fail "second export"
  [[ "$(cd "$logs" && find . -type f | sort)" == "$before" ]] || fail "a second export changed the file names: $(find "$logs")"
  expect 2 "no experiment 'nope'.*stored experiments: tiny" -- export --db "$work/runs.sqlite" --experiment nope --out "$work/t2"
  expect 2 -- "--format: expected tensorboard or mlflow, got 'parquet'" -- export --db "$work/runs.sqlite" --format parquet --out "$work/t2"
  expect 2 -- "--out DIR is required" -- export --db "$work/runs.sqlite"
  expect 2 "no database at $work/none.sqlite" -- export --db "$work/none.sqlite" --out "$work/t2"
  expect 2 "cannot create the folder /proc/nope" -- export --db "$work/runs.sqlite" --out /proc/nope/out
  [[ -e "$work/t2" ]] && fail "a refused export created its folder"
  # Cut off after the first run (a full disk, a folder in the way): the error says what was written.
  mkdir -p "$work/t3/tiny#1/fashion_mnist/mlp/square/early_stopping" && touch "$work/t3/tiny#1/fashion_mnist/mlp/square/early_stopping/seed0"
  expect 2 "a file of that name is in the way; 1 of 2 run\(s\) written before this: tiny#1/fashion_mnist/mlp/ce/early_stopping/seed0;.*export again" -- \
    export --db "$work/runs.sqlite" --out "$work/t3"
  db_unchanged;;
export-mlflow)
  # Runs sent to a stand-in MLflow tracking server over HTTP (fake_mlflow.py: MLflow's REST
  # calls and limits, one run per search page). The checker compares what it holds with the
  # database. Again: nothing sent twice. From a database with fewer epochs first: the rest
  # appended. A stored value changed: the MLflow run replaced.
  tiny
  sed -i 's/max_epochs: 1/max_epochs: 3, log_every_steps: 1/; s/protocols: \[early_stopping\]/protocols: [early_stopping, same_epochs_as_ce]/' "$work/tiny.yaml"
  "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --quiet >/dev/null 2>&1 || fail "could not create the database"
  listed_before
  out=$("$cli" export --db "$work/runs.sqlite" --format mlflow --tracking-uri http://127.0.0.1:9 2>&1)
  grep -q 'built without libcurl' <<<"$out" && { echo "SKIP: built without libcurl"; exit 77; }
  unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY MLFLOW_TRACKING_URI MLFLOW_TRACKING_TOKEN \
        MLFLOW_TRACKING_USERNAME MLFLOW_TRACKING_PASSWORD
  here=$(dirname "$0")
  python3 "$here/fake_mlflow.py" "$work/port" "$work/state.json" --token t0k3n &
  server=$!
  trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
  uri="http://127.0.0.1:$(cat "$work/port")"
  mlflow_export() { MLFLOW_TRACKING_TOKEN=t0k3n "$cli" export --format mlflow --tracking-uri "$uri" "$@"; }
  # Without the token: refused, with MLflow's words and what to set.
  expect 2 "GET experiments/get-by-name answered HTTP 401 \(UNAUTHENTICATED.*set MLFLOW_TRACKING_TOKEN" -- export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri"
  # First from a copy that lacks the last epoch of run 1 (its epoch rows and steps).
  cp "$work/runs.sqlite" "$work/short.sqlite"
  sqlite3 "$work/short.sqlite" "DELETE FROM epoch_metrics WHERE run_id = 1 AND epoch = 3; DELETE FROM step_metrics WHERE run_id = 1 AND epoch = 3; UPDATE runs SET epochs = 2, best_epoch = MIN(best_epoch, 2), status = 'interrupted' WHERE id = 1" || fail "sqlite3"
  out=$(mlflow_export --db "$work/short.sqlite" 2>&1) || fail "export of the short database: $out"
  grep -q ': 3 created, 0 appended, 0 unchanged, 0 replaced;' <<<"$out" || fail "first export: $out"
  grep -q 'MLflow experiment: tiny#1 (id 1)' <<<"$out" || fail "first export names no MLflow experiment: $out"
  python3 "$here/check_mlflow.py" "$work/short.sqlite" "$work/state.json" || fail "MLflow does not hold the short database's runs"
  out=$(mlflow_export --db "$work/runs.sqlite" 2>&1) || fail "export: $out"
  grep -q ': 0 created, 1 appended, 2 unchanged, 0 replaced;' <<<"$out" || fail "second export: $out"
  grep -q '(run 1): appended' <<<"$out" || fail "run 1 not appended: $out"
  python3 "$here/check_mlflow.py" "$work/runs.sqlite" "$work/state.json" || fail "MLflow does not hold the stored runs"
  out=$(mlflow_export --db "$work/runs.sqlite" 2>&1) || fail "export again: $out"
  grep -q ': 0 created, 0 appended, 3 unchanged, 0 replaced; 0 metric point(s) sent' <<<"$out" || fail "third export: $out"
  python3 "$here/check_mlflow.py" "$work/runs.sqlite" "$work/state.json" || fail "a third export changed what MLflow holds"
  # A stored value of an epoch MLflow has changes (a resumed run retrained it): sent again.
  cp "$work/runs.sqlite" "$work/changed.sqlite"
  sqlite3 "$work/changed.sqlite" "UPDATE epoch_metrics SET value = value + 0.5 WHERE run_id = 2 AND epoch = 1 AND split = 'val' AND metric = 'loss'" || fail "sqlite3"
  out=$(mlflow_export --db "$work/changed.sqlite" 2>&1) || fail "export of the changed database: $out"
  grep -q ': 0 created, 0 appended, 2 unchanged, 1 replaced;' <<<"$out" || fail "fourth export: $out"
  python3 "$here/check_mlflow.py" "$work/changed.sqlite" "$work/state.json" || fail "MLflow does not hold the changed run"
  python3 - "$work/state.json" <<'PY' || fail "the replaced MLflow run is not in MLflow's trash"
import json, sys
runs = json.load(open(sys.argv[1]))["runs"].values()
sys.exit(0 if sum(r["lifecycle_stage"] == "deleted" for r in runs) == 1 else 1)
PY
  # A run that diverged in the middle of an epoch: the steps of that epoch are sent too.
  cp "$work/changed.sqlite" "$work/diverged.sqlite"
  sqlite3 "$work/diverged.sqlite" "INSERT INTO step_metrics(run_id, step, epoch, metric, value) SELECT run_id, step + (SELECT MAX(step) FROM step_metrics WHERE run_id = 3), 4, metric, NULL FROM step_metrics WHERE run_id = 3 AND epoch = 1; UPDATE runs SET status = 'diverged', error = 'loss became NaN' WHERE id = 3" || fail "sqlite3"
  out=$(mlflow_export --db "$work/diverged.sqlite" 2>&1) || fail "export of the diverged run: $out"
  grep -q ': 0 created, 1 appended, 2 unchanged, 0 replaced;' <<<"$out" || fail "export of the diverged run: $out"
  python3 "$here/check_mlflow.py" "$work/diverged.sqlite" "$work/state.json" || fail "MLflow lacks the diverged run's last steps"
  # A server (or a proxy in front of it) that answers HTTP 200 with a web page: an error naming
  # the call, exit 2, not yaml-cpp's words.
  python3 "$here/fake_mlflow.py" "$work/port2" "$work/state2.json" --fault runs/search:1:html &
  faulty=$!
  trap 'kill $server $faulty 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do [[ -s "$work/port2" ]] && break; sleep 0.1; done
  expect 2 "MLflow at http://127.0.0.1:[0-9]+: POST runs/search answered with no JSON object.*Sign in to continue" -- \
    export --db "$work/runs.sqlite" --format mlflow --tracking-uri "http://127.0.0.1:$(cat "$work/port2")"
  kill $faulty; wait $faulty 2>/dev/null
  # A slow and flaky server: what changes something is not sent twice where the server may have
  # acted on it, and the next export mends what happened. MLFLOW_HTTP_REQUEST_TIMEOUT=1: the GET
  # answered after 3 s is sent again; runs/create answered after 3 s is not (exit 2, saying how
  # long it waited and which variable sets it), and the server makes the run all the same.
  python3 "$here/fake_mlflow.py" "$work/port3" "$work/state3.json" --fault experiments/get-by-name:1:slow:3 \
    --fault runs/create:1:slow:3 --fault runs/log-batch:1:applied:close --fault runs/update:1:applied:close \
    --fault runs/create:2:applied:504 --fault runs/create:3:twice &
  flaky=$!
  trap 'kill $server $flaky 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do [[ -s "$work/port3" ]] && break; sleep 0.1; done
  uri3="http://127.0.0.1:$(cat "$work/port3")"
  MLFLOW_HTTP_REQUEST_TIMEOUT=soon expect 2 "MLFLOW_HTTP_REQUEST_TIMEOUT is 'soon': expected a whole number of seconds, 1 or more" -- \
    export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri3"
  MLFLOW_HTTP_REQUEST_MAX_RETRIES=10 expect 2 "MLFLOW_HTTP_REQUEST_MAX_RETRIES is '10': expected a whole number from 0 to 9" -- \
    export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri3"
  MLFLOW_HTTP_REQUEST_TIMEOUT=1 expect 2 "POST runs/create got no answer within 1 s \(MLFLOW_HTTP_REQUEST_TIMEOUT=SECONDS sets how long to wait\); the request may have reached MLflow" -- \
    export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri3"
  acted() { python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["calls"].get(sys.argv[2], 0) < int(sys.argv[3]))' "$work/state3.json" "$1" "$2"; }
  for _ in $(seq 1 100); do acted runs/create 1 && break; sleep 0.1; done
  acted runs/create 1 || fail "the slow server never made the run"
  # The first log-batch is applied, then the connection closes: not sent again.
  expect 2 "POST runs/log-batch lost its connection before the answer came.*may have reached MLflow" -- \
    export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri3"
  # runs/update, the same status set again, is sent again; a gateway's 504 on runs/create is not.
  expect 2 "POST runs/create answered HTTP 504 .*may have reached MLflow" -- export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri3"
  # A proxy sends runs/create twice: two MLflow runs with run 3's uid; the next export keeps the
  # one with the points and moves the other to MLflow's trash.
  out=$("$cli" export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri3" 2>&1) || fail "export after the faults: $out"
  grep -q ': 1 created, 1 appended, 1 unchanged, 0 replaced;' <<<"$out" || fail "export after the faults: $out"
  out=$("$cli" export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri3" 2>&1) || fail "export that mends: $out"
  grep -q ': 0 created, 0 appended, 3 unchanged, 0 replaced; 0 metric point(s) sent; 1 duplicate MLflow run(s) moved to MLflow.s trash' <<<"$out" ||
    fail "the duplicate run is not said to be trashed: $out"
  grep -q "(run 3): unchanged, 0 point(s) sent, MLflow run [0-9a-f]*; 1 other MLflow run(s) with its losslab.uid moved to MLflow's trash: [0-9a-f]" <<<"$out" ||
    fail "run 3's line does not name the trashed run: $out"
  python3 "$here/check_mlflow.py" "$work/runs.sqlite" "$work/state3.json" || fail "the flaky server does not hold the stored runs once each"
  python3 - "$work/state3.json" <<'PY' || fail "not one MLflow run in the trash"
import json, sys
runs = json.load(open(sys.argv[1]))["runs"].values()
sys.exit(0 if sum(r["lifecycle_stage"] == "deleted" for r in runs) == 1 else 1)
PY
  kill $flaky; wait $flaky 2>/dev/null
  # A busy server (HTTP 429 or 503 with Retry-After): a wait of up to 60 s is kept before the
  # request is sent again; a longer one stops the export (exit 2) saying so, with nothing sent
  # again in the meantime.
  python3 "$here/fake_mlflow.py" "$work/port4" "$work/state4.json" --fault experiments/get-by-name:1:busy:429:3600 \
    --fault experiments/get-by-name:2:busy:503:2 &
  busy=$!
  trap 'kill $server $busy 2>/dev/null; rm -rf "$work"' EXIT
  for _ in $(seq 1 100); do [[ -s "$work/port4" ]] && break; sleep 0.1; done
  uri4="http://127.0.0.1:$(cat "$work/port4")"
  expect 2 "GET experiments/get-by-name answered HTTP 429 and asks to be sent again in 3600 s \(Retry-After\), longer than the 60 s LossLab waits; nothing was changed by it: export again later" -- \
    export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri4"
  started=$(date +%s%N)
  out=$("$cli" export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri4" 2>&1) || fail "export to the busy server: $out"
  waited=$(( ($(date +%s%N) - started) / 1000000 ))
  (( waited >= 2000 )) || fail "the export sent its request again after $waited ms, before the server's Retry-After of 2 s"
  python3 "$here/check_mlflow.py" "$work/runs.sqlite" "$work/state4.json" || fail "the busy server does not hold the stored runs"
  kill $busy; wait $busy 2>/dev/null
  # Addresses that are no tracking server.
  MLFLOW_TRACKING_TOKEN=t0k3n expect 2 "GET experiments/get-by-name answered HTTP 404 \(<html>.*is $uri/wrong the address of an MLflow tracking server" -- \
    export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri/wrong"
  expect 2 "tracking URI 'sqlite:///mlflow.db'.*needs a server in front of it: mlflow server --backend-store-uri" -- \
    export --db "$work/runs.sqlite" --format mlflow --tracking-uri sqlite:///mlflow.db
  expect 2 "no MLflow tracking server given: pass --tracking-uri" -- export --db "$work/runs.sqlite" --format mlflow
  kill $server; wait $server 2>/dev/null
  expect 2 "cannot reach the MLflow tracking server at $uri.*is .mlflow server. running there" -- \
    export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri"
  expect 2 -- "--out is for --format tensorboard" -- export --db "$work/runs.sqlite" --format mlflow --tracking-uri "$uri" --out "$work/t2"
  expect 2 -- "--tracking-uri is for --format mlflow" -- export --db "$work/runs.sqlite" --tracking-uri "$uri" --out "$work/t2"
  db_unchanged;;
kill-resume)
  # SIGKILL in the middle of a run, then `resume --all`: the results must equal an
  # uninterrupted run's, epoch by epoch, and no committed epoch may be lost.
  tiny
  sed -i 's/max_epochs: 1/max_epochs: 6, patience: 50, log_every_steps: 2/; s/seeds: 1/seeds: [3]/' "$work/tiny.yaml"
  "$cli" run "$work/tiny.yaml" --db "$work/ref.sqlite" --quiet >/dev/null 2>&1 || fail "reference run failed"
  "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 1 300); do grep -q 'epoch 3/6' "$work/err" && break; sleep 0.05; done
  kill -KILL $pid; wait $pid 2>/dev/null
  # `list` only reads, and already says what happened: the runs of a killed process are
  # interrupted, not running or queued.
  "$cli" list --db "$work/runs.sqlite" --format csv > "$work/killed.csv"
  grep -qE ',(running|queued),' "$work/killed.csv" && fail "runs of the killed process still listed as running or queued: $(cat "$work/killed.csv")"
  grep -q ',interrupted,' "$work/killed.csv" || fail "expected interrupted runs after the kill: $(cat "$work/killed.csv")"
  expect 0 'now .interrupted.' -- resume --db "$work/runs.sqlite" --all --quiet
  for db in ref runs; do
    "$cli" list --db "$work/$db.sqlite" --format csv | cut -d, -f4-14 > "$work/$db.list"
    "$cli" report --db "$work/$db.sqlite" --out "$work/$db-report" --formats csv --figures none >/dev/null 2>&1 || fail "report of $db"
    grep -vE ',(wall_s|examples_per_s),' "$work/$db-report/metrics-long.csv" > "$work/$db.metrics"
  done
  cmp -s "$work/ref.list" "$work/runs.list" || fail "resumed runs differ: $(diff "$work/ref.list" "$work/runs.list")"
  cmp -s "$work/ref.metrics" "$work/runs.metrics" || fail "resumed epoch metrics differ: $(diff "$work/ref.metrics" "$work/runs.metrics" | head)"
  grep -q ',completed,' "$work/runs.list" || fail "not completed" ;;
relative-paths)
  # A relative data.root is stored absolute: a run planned in one folder is resumed from
  # another (a cluster node, the window started from a launcher) with the same data.
  tiny
  mkdir -p "$work/study" "$work/elsewhere"
  ln -s /usr/share/datasets/fashion-mnist "$work/study/fm"
  (cd "$work/study" && "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --set data.root=fm --quiet) > "$work/out" 2>&1 ||
    fail "run: $(tail -3 "$work/out")"
  spec=$(sqlite3 -readonly "$work/runs.sqlite" "SELECT spec_yaml FROM runs WHERE id = 1")
  grep -qF "root: \"$work/study/fm\"" <<<"$spec" || fail "the stored run does not name the absolute data folder: $spec"
  # Run 1 as a killed process leaves it before its first epoch: resumed from another folder.
  sqlite3 "$work/runs.sqlite" "DELETE FROM epoch_metrics WHERE run_id = 1; DELETE FROM step_metrics WHERE run_id = 1; UPDATE runs SET epochs = 0, best_epoch = 0, status = 'interrupted' WHERE id = 1" || fail "sqlite3"
  (cd "$work/elsewhere" && "$cli" resume 1 --db "$work/runs.sqlite" --quiet) > "$work/resume.out" 2>&1 ||
    fail "resume from another folder: $(tail -3 "$work/resume.out")"
  "$cli" list --db "$work/runs.sqlite" --format csv | grep -q '^1,.*,completed,' || fail "run 1 not completed after resume: $("$cli" list --db "$work/runs.sqlite" --format csv)"
  # "~/" is the home folder.
  out=$(cd "$work/elsewhere" && HOME="$work/study" "$cli" run "$work/tiny.yaml" --db "$work/home.sqlite" --set 'data.root=~/fm' --quiet 2>&1) ||
    fail "data.root ~/fm: $out"
  sqlite3 -readonly "$work/home.sqlite" "SELECT spec_yaml FROM runs WHERE id = 1" | grep -qF "root: \"$work/study/fm\"" ||
    fail "~/fm was not stored as the home folder's fm" ;;
full-disk)
  # A file-size limit stands in for a full disk: writes fail, the runs stop with a clear
  # message, and what was stored before stays intact.
  seed_db
  out=$(ulimit -f 400; "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --set seeds=30 --set train.max_epochs=30 \
        --set train.patience=30 --set train.log_every_steps=1 2>&1); rc=$?
  [[ $rc -eq 1 ]] || fail "exit $rc, expected 1: $(tail -3 <<<"$out")"
  grep -q 'the run database stopped accepting writes.*the disk may be full or a file-size limit reached' <<<"$out" || fail "no clear message: $(tail -3 <<<"$out")"
  "$cli" list --db "$work/runs.sqlite" --format csv | head -3 > "$work/after.csv"
  cmp -s "$work/before.csv" "$work/after.csv" || fail "stored runs changed: $(diff "$work/before.csv" "$work/after.csv")"
  if command -v sqlite3 >/dev/null; then
    [[ $(sqlite3 "$work/runs.sqlite" 'PRAGMA integrity_check') == ok ]] || fail "integrity check failed"
  fi
  # A checkpoint larger than the limit (a 2048-wide layer: ~20 MB with momentum and the best
  # weights) while the database's writes still fit: LibTorch's file writer threw from its
  # destructor and the process aborted (exit 134). Now the runs stop as cancelled, exit 1, and
  # resume from the database's epochs once the limit is gone.
  out=$(ulimit -f 4096; "$cli" run "$work/tiny.yaml" --db "$work/ckpt.sqlite" --set 'model.hidden=[2048]' \
        --set train.max_epochs=3 --set train.patience=3 2>&1); rc=$?
  [[ $rc -eq 1 ]] || fail "checkpoint: exit $rc, expected 1: $(tail -3 <<<"$out")"
  grep -q "a run's checkpoint could not be written (.*run-[0-9]*.resume.pt: cannot be written (File too large)" <<<"$out" ||
    fail "checkpoint: no clear message: $(tail -3 <<<"$out")"
  "$cli" list --db "$work/ckpt.sqlite" --format csv > "$work/ckpt.csv"
  [[ $(grep -c ',cancelled,' "$work/ckpt.csv") -eq 2 ]] || fail "checkpoint: expected 2 cancelled runs: $(cat "$work/ckpt.csv")"
  ls "$work"/ckpt-checkpoints/*.tmp >/dev/null 2>&1 && fail "checkpoint: a temporary file was left: $(ls "$work/ckpt-checkpoints")"
  ids=$(cut -d, -f1 "$work/ckpt.csv" | grep -E '^[0-9]+$' | tr '\n' ' ')
  # shellcheck disable=SC2086
  "$cli" resume --db "$work/ckpt.sqlite" $ids --quiet >/dev/null 2>&1 || fail "checkpoint: resume failed"
  [[ $("$cli" list --db "$work/ckpt.sqlite" --format csv | grep -c ',completed,') -eq 2 ]] || fail "checkpoint: not completed after resume" ;;
sweep-plan)
  # A k sweep over seeds: --dry-run counts without storing; plan --slurm writes the job array;
  # its script, run as Slurm would run each array task, fills one part per task; the merged
  # parts hold the numbers of the same sweep run in one process, once however often merged.
  tiny
  cat >> "$work/tiny.yaml" <<YAML
sweep: {losses.1.k: [1, 2]}
YAML
  sed -i 's/protocols: \[early_stopping\]/protocols: [early_stopping, same_epochs_as_ce]/; s/seeds: 1/seeds: 2/' "$work/tiny.yaml"
  "$cli" run "$work/tiny.yaml" --db "$work/dry.sqlite" --dry-run > "$work/dry.out" 2>&1 || fail "dry run: $(cat "$work/dry.out")"
  grep -q '^10 runs in 6 independent units' "$work/dry.out" || fail "dry run count: $(cat "$work/dry.out")"
  grep -q 'square (2 configurations)' "$work/dry.out" || fail "dry run configurations: $(cat "$work/dry.out")"
  grep -qE '^9 +square +2 +1 .*same_epochs_as_ce +1 +5 +loss.k=2' "$work/dry.out" || fail "dry run list: $(cat "$work/dry.out")"
  [[ ! -e $work/dry.sqlite ]] || fail "--dry-run created the database"
  "$cli" run "$work/tiny.yaml" --db "$work/whole.sqlite" --quiet > "$work/whole.out" 2>&1 || fail "whole sweep: $(tail -5 "$work/whole.out")"
  "$cli" run "$work/tiny.yaml" --db "$work/whole.sqlite" --dry-run --quiet > "$work/est.out" 2>&1
  grep -q 'Estimate: .* 10 run(s) from the same recipe and protocol' "$work/est.out" || fail "no estimate: $(cat "$work/est.out")"
  "$cli" run "$work/tiny.yaml" --db "$work/whole.sqlite" --dry-run --quiet --set 'model.hidden=[32]' > "$work/est.out" 2>&1
  grep -q 'Estimate: .* 10 run(s) from the same protocol, another recipe' "$work/est.out" || fail "no estimate: $(cat "$work/est.out")"
  # Packed by run count (no stored runs): units of 3, 1, 1, 3, 1, 1 runs into ceil(10 / 3) = 4 tasks.
  "$cli" plan "$work/tiny.yaml" --slurm "$work/packed" --db "$work/none.sqlite" > "$work/packed.out" 2>&1 || fail "plan: $(cat "$work/packed.out")"
  grep -q '^#SBATCH --array=0-3$' "$work/packed/array.sbatch" || fail "packed array range: $(cat "$work/packed.out")"
  grep -q 'longest over mean 1.2' "$work/packed.out" || fail "packed balance: $(cat "$work/packed.out")"
  [[ $(grep -c '^# losslab-plan-task ' "$work/packed/experiment.yaml") -eq 4 ]] || fail "task lines: $(head "$work/packed/experiment.yaml")"
  # A cluster's MaxArraySize (--max-tasks): auto packs the 6 units into 2 tasks; none, one task
  # per unit, is refused before anything is written (sbatch would refuse the array only at submit).
  "$cli" plan "$work/tiny.yaml" --slurm "$work/capped" --max-tasks 2 --db "$work/none.sqlite" > "$work/capped.out" 2>&1 || fail "plan --max-tasks 2: $(cat "$work/capped.out")"
  grep -q '^#SBATCH --array=0-1$' "$work/capped/array.sbatch" || fail "capped array range: $(cat "$work/capped.out")"
  [[ $(grep -c '^# losslab-plan-task ' "$work/capped/experiment.yaml") -eq 2 ]] || fail "capped task lines: $(head "$work/capped/experiment.yaml")"
  [[ $(sed -n 's/^# losslab-plan-task [0-9]*: *//p' "$work/capped/experiment.yaml" | tr ',' '\n' | sort -n | tr '\n' ' ') == "0 1 2 3 4 5 6 7 8 9 " ]] \
    || fail "the capped tasks do not hold every run once: $(head "$work/capped/experiment.yaml")"
  expect 2 "--pack none makes one array task per independent unit, 6 here, more than --max-tasks 5 .*use --pack auto" -- \
    plan "$work/tiny.yaml" --slurm "$work/uncapped" --pack none --max-tasks 5 --db "$work/none.sqlite"
  [[ ! -e $work/uncapped ]] || fail "the refused plan made its folder"
  expect 2 "--max-tasks" -- plan "$work/tiny.yaml" --slurm "$work/uncapped" --max-tasks 0 --db "$work/none.sqlite"
  "$cli" plan "$work/tiny.yaml" --slurm "$work/plan" --pack none --array-parallel 2 --time 00:30:00 --cpus-per-task 1 --db "$work/whole.sqlite" \
    > "$work/plan.out" 2>&1 || fail "plan: $(cat "$work/plan.out")"
  grep -q '^#SBATCH --array=0-5%2$' "$work/plan/array.sbatch" || fail "array range: $(cat "$work/plan/array.sbatch")"
  grep -q '^#SBATCH --time=00:30:00$' "$work/plan/array.sbatch" || fail "no time limit"
  grep -q '^#SBATCH --open-mode=append$' "$work/plan/array.sbatch" || fail "a requeued task's log loses its first try: $(cat "$work/plan/array.sbatch")"
  grep -q '"array_tasks": 6' "$work/plan/manifest.json" || fail "manifest: $(head -20 "$work/plan/manifest.json")"
  expect 2 "--time: expected HH:MM:SS" -- plan "$work/tiny.yaml" --slurm "$work/plan2" --time 'x; rm -rf /' --db "$work/whole.sqlite"
  for i in 0 1 2 3 4 5; do
    SLURM_ARRAY_TASK_ID=$i SLURM_CPUS_PER_TASK=1 bash "$work/plan/array.sbatch" > "$work/task-$i.out" 2>&1 \
      || fail "array task $i: $(tail -5 "$work/task-$i.out")"
  done
  expect 2 "already holds parts" -- plan "$work/tiny.yaml" --slurm "$work/plan" --db "$work/whole.sqlite"
  # Slurm may requeue a task: it finds its runs done.
  SLURM_ARRAY_TASK_ID=0 bash "$work/plan/array.sbatch" > "$work/again.out" 2>&1 || fail "requeued task: $(cat "$work/again.out")"
  grep -q 'nothing to do' "$work/again.out" || fail "requeued task ran again: $(cat "$work/again.out")"
  # Slurm requeued task 2 onto another node after its first node SIGKILLed it: its part holds
  # its runs as running there. Without Slurm's word that this is a requeue, that task may still
  # run: refused (it said 'nothing to do', exit 0, and the runs never finished); requeued
  # (SLURM_RESTART_COUNT), the script takes them over and they finish as in the whole sweep.
  sqlite3 "$work/plan/part-2.sqlite" "UPDATE runs SET status = 'running', host = 'node17', pid = 4242, epochs = 0" || fail "sqlite3"
  out=$(SLURM_ARRAY_TASK_ID=2 bash "$work/plan/array.sbatch" 2>&1); rc=$?
  [[ $rc -eq 2 ]] || fail "task 2 left running on node17: exit $rc: $out"
  grep -q "part-2.sqlite: run 1 of array task 2 is running, recorded on host node17, pid 4242.*run the task again with --take-over" <<<"$out" \
    || fail "task 2 left running on node17: $out"
  [[ $(sqlite3 "$work/plan/part-2.sqlite" "SELECT COUNT(*) FROM runs WHERE status = 'running'") -gt 0 ]] || fail "the refused task changed its part"
  out=$(SLURM_ARRAY_TASK_ID=2 SLURM_RESTART_COUNT=1 bash "$work/plan/array.sbatch" 2>&1) || fail "requeued task 2: $out"
  grep -q 'array task 2: took over .* run(s) left queued or running on host node17' <<<"$out" || fail "requeued task 2: $out"
  [[ $(sqlite3 "$work/plan/part-2.sqlite" "SELECT COUNT(*) FROM runs WHERE status != 'completed'") -eq 0 ]] \
    || fail "requeued task 2 did not complete its runs: $(sqlite3 "$work/plan/part-2.sqlite" 'SELECT id, status FROM runs')"
  # A run a live process on this host holds is never taken over.
  sleep 300 & owner=$!
  sqlite3 "$work/plan/part-4.sqlite" "UPDATE runs SET status = 'running', host = '$(hostname)', pid = $owner, pid_start = $(awk '{print $22}' /proc/$owner/stat)" || fail "sqlite3"
  out=$(SLURM_ARRAY_TASK_ID=4 SLURM_RESTART_COUNT=1 bash "$work/plan/array.sbatch" 2>&1); rc=$?
  kill $owner; wait $owner 2>/dev/null
  [[ $rc -eq 2 ]] || fail "task 4 held by a live process: exit $rc: $out"
  grep -q "is running in process $owner on this host, which is still alive: another copy of the task is training it" <<<"$out" || fail "task 4 held by a live process: $out"
  "$cli" run "$work/plan/experiment.yaml" --task-index 4 --db "$work/plan/part-4.sqlite" --quiet > "$work/task4.out" 2>&1 || fail "task 4 after its owner ended: $(cat "$work/task4.out")"
  expect 2 "--take-over .* needs --task-index" -- run "$work/tiny.yaml" --take-over --db "$work/x.sqlite"
  # The frozen experiment edited after plan: refused, naming it (it trained other runs into a
  # second experiment that merge then kept beside the first).
  mkdir "$work/edited" && cp "$work/plan/experiment.yaml" "$work/edited/" && sed -i 's/limit_test: 200/limit_test: 100/' "$work/edited/experiment.yaml"
  expect 2 "edited/experiment.yaml was changed after .losslab-cli plan. wrote it" -- run "$work/edited/experiment.yaml" --task-index 0 --db "$work/edited/part-0.sqlite"
  [[ ! -e $work/edited/part-0.sqlite ]] || fail "a refused task created its part"
  # A plan folder with a space, '#' and '%' in its path: sbatch splits #SBATCH lines at spaces,
  # cuts them at '#' and expands '%' in file names, so the log line is quoted and '%' doubled.
  "$cli" plan "$work/tiny.yaml" --slurm "$work/my plan #1 100%" --db "$work/none.sqlite" > "$work/odd.out" 2>&1 || fail "plan: $(cat "$work/odd.out")"
  grep -qxF "#SBATCH --output=\"$work/my plan #1 100%%/logs/task-%a.out\"" "$work/my plan #1 100%/array.sbatch" \
    || fail "log line: $(grep output "$work/my plan #1 100%/array.sbatch")"
  expect 2 'a plan folder.s path cannot hold a double quote' -- plan "$work/tiny.yaml" --slurm "$work/q\"x" --db "$work/none.sqlite"
  # Two tasks of the plan run into one database: the second adds its runs to the experiment of
  # the first (it said "nothing to do"); an interrupted run is continued by its own task only,
  # on the device that task is given.
  plan="$work/plan/experiment.yaml"
  task_runs() { grep "^# losslab-plan-task $1:" "$plan" | cut -d: -f2 | tr ',' '\n' | grep -c .; }
  for i in 0 1; do
    "$cli" run "$plan" --task-index $i --db "$work/shared.sqlite" --quiet > "$work/shared-$i.out" 2>&1 \
      || fail "task $i into one database: $(tail -5 "$work/shared-$i.out")"
  done
  grep -q 'nothing to do' "$work/shared-1.out" && fail "task 1 took task 0's runs for its own: $(cat "$work/shared-1.out")"
  [[ $(sqlite3 "$work/shared.sqlite" "SELECT COUNT(*) FROM runs WHERE status = 'completed'") -eq $(( $(task_runs 0) + $(task_runs 1) )) ]] \
    || fail "tasks 0 and 1 in one database: $(sqlite3 "$work/shared.sqlite" 'SELECT id, status FROM runs')"
  [[ $(sqlite3 "$work/shared.sqlite" 'SELECT COUNT(*) FROM experiments') -eq 1 ]] || fail "task 1 stored a second experiment"
  sqlite3 "$work/shared.sqlite" "UPDATE runs SET status = 'interrupted' WHERE id = 1"
  "$cli" run "$plan" --task-index 1 --db "$work/shared.sqlite" > "$work/shared-again.out" 2>&1 || fail "task 1 again: $(cat "$work/shared-again.out")"
  grep -q 'Every run of array task 1 is already in .*: nothing to do' "$work/shared-again.out" \
    || fail "task 1 continued task 0's run: $(cat "$work/shared-again.out")"
  "$cli" run "$plan" --task-index 0 --db "$work/shared.sqlite" --device cuda:7 > "$work/shared-dev.out" 2>&1 \
    && fail "the requeued task's --device cuda:7 was not used: $(cat "$work/shared-dev.out")"
  grep -q 'cuda:7' "$work/shared-dev.out" || fail "--device cuda:7: $(cat "$work/shared-dev.out")"
  "$cli" run "$plan" --task-index 0 --db "$work/shared.sqlite" --device cpu > "$work/shared-0.out" 2>&1 \
    || fail "requeued task 0: $(cat "$work/shared-0.out")"
  grep -q 'array task 0 ran before: continuing 1 of its run(s)' "$work/shared-0.out" || fail "task 0 requeued: $(cat "$work/shared-0.out")"
  [[ $(sqlite3 "$work/shared.sqlite" "SELECT status FROM runs WHERE id = 1") == completed ]] || fail "run 1 was not continued"
  expect 2 "6 array tasks" -- run "$work/plan/experiment.yaml" --task-index 6 --db "$work/x.sqlite"
  expect 2 "6 array tasks" -- run "$work/plan/experiment.yaml" --task-index 6 --dry-run --db "$work/x.sqlite"
  "$cli" run "$work/plan/experiment.yaml" --task-index 3 --dry-run --db "$work/x.sqlite" > "$work/dry3.out" 2>&1 || fail "dry run of task 3: $(cat "$work/dry3.out")"
  grep -qE "^--task-index 3 runs $(task_runs 3) of these 10 runs: [0-9]" "$work/dry3.out" || fail "dry run of task 3: $(cat "$work/dry3.out")"
  expect 2 "would change them" -- run "$work/plan/experiment.yaml" --task-index 1 --seeds 3 --db "$work/x.sqlite"
  "$cli" merge "$work"/plan/part-*.sqlite --db "$work/merged.sqlite" > "$work/merge.out" 2>&1 || fail "merge: $(cat "$work/merge.out")"
  "$cli" merge "$work"/plan/part-*.sqlite --db "$work/merged.sqlite" > "$work/merge2.out" 2>&1 || fail "merge again: $(cat "$work/merge2.out")"
  for db in whole merged; do
    "$cli" list --db "$work/$db.sqlite" --format csv | awk -F, 'NR > 1 { print $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 }' | sort > "$work/$db.rows"
  done
  [[ $(wc -l < "$work/merged.rows") -eq 10 ]] || fail "merged $(wc -l < "$work/merged.rows") runs, expected 10"
  cmp -s "$work/whole.rows" "$work/merged.rows" || fail "merged parts differ from the whole sweep: $(diff "$work/whole.rows" "$work/merged.rows")"
  [[ $(sqlite3 "$work/merged.sqlite" 'SELECT COUNT(*) FROM experiments') -eq 1 ]] || fail "the parts did not merge into one experiment"
  "$cli" report --db "$work/merged.sqlite" --out "$work/report" --figures none > "$work/report.out" 2>&1 || fail "report: $(cat "$work/report.out")"
  [[ -s $work/report/table-tuned.md ]] || fail "no tuned table: $(ls "$work/report")"
  printf 'task: fashion_mnist/mlp\nlosses: [ce, square]\nsweep:\n  losses.0.k: [1, 2]\n' > "$work/bad.yaml"
  expect 2 "bad.yaml:4:3: sweep: losses.0.k: loss 0 \('ce'\) is cross-entropy" -- run "$work/bad.yaml" --dry-run ;;
merge)
  # Two parts written by two runs (as two array tasks would), merged twice into one database:
  # the second merge adds nothing, run ids stay unique, a part still being written or the
  # target given as a part is refused without writing anything, and report works on the result.
  tiny
  "$cli" run "$work/tiny.yaml" --db "$work/parts/part-0.sqlite" --quiet > "$work/p0.out" 2>&1 || fail "part 0: $(tail -5 "$work/p0.out")"
  "$cli" run "$work/tiny.yaml" --db "$work/parts/part-1.sqlite" --seeds 2 --quiet > "$work/p1.out" 2>&1 || fail "part 1: $(tail -5 "$work/p1.out")"
  "$cli" merge "$work"/parts/part-*.sqlite --db "$work/merged.sqlite" > "$work/merge.out" 2>&1 || fail "merge: $(cat "$work/merge.out")"
  grep -q 'part-0.sqlite: 1 experiment and 2 runs added; 42 epoch rows, 2 step rows, 2 checkpoint files$' "$work/merge.out" || fail "merge output: $(cat "$work/merge.out")"
  grep -q '^Merged 2 parts into .*merged.sqlite: 2 experiments and 6 runs added' "$work/merge.out" || fail "merge totals: $(cat "$work/merge.out")"
  "$cli" merge "$work"/parts/part-*.sqlite --db "$work/merged.sqlite" > "$work/merge2.out" 2>&1 || fail "merge again: $(cat "$work/merge2.out")"
  grep -q '^Merged 2 parts into .*: nothing new (6 runs already there)$' "$work/merge2.out" || fail "the second merge added runs: $(cat "$work/merge2.out")"
  "$cli" list --db "$work/merged.sqlite" --format csv > "$work/merged.csv" || fail "list of the merged database"
  [[ $(tail -n +2 "$work/merged.csv" | cut -d, -f1 | sort -u | wc -l) -eq 6 ]] || fail "merged run ids: $(cat "$work/merged.csv")"
  for i in 1 2 3 4 5 6; do [[ -s $work/merged-checkpoints/run-$i.pt ]] || fail "no checkpoint for merged run $i: $(ls "$work/merged-checkpoints")"; done
  cp "$work/merged.csv" "$work/before.csv"
  # Refused, exit 2, nothing written: the target as a part; a missing part; a part still running elsewhere.
  expect 2 'is the target database itself' -- merge "$work/merged.sqlite" --db "$work/merged.sqlite"
  expect 2 'part-9.sqlite: no such file' -- merge "$work/parts/part-0.sqlite" "$work/parts/part-9.sqlite" --db "$work/new.sqlite"
  [[ ! -e $work/new.sqlite ]] || fail "a refused merge created its target"
  "$cli" run "$work/tiny.yaml" --db "$work/parts/part-2.sqlite" --set seeds=1 --set name=late --quiet > "$work/p2.out" 2>&1 || fail "part 2: $(tail -5 "$work/p2.out")"
  sqlite3 "$work/parts/part-2.sqlite" "UPDATE runs SET status = 'running', host = 'node17', pid = 4242 WHERE id = 2" || fail "sqlite3"
  expect 2 'part-2.sqlite: run 2 is running, recorded on host node17, pid 4242.*squeue.*--allow-unfinished' -- \
    merge "$work"/parts/part-*.sqlite --db "$work/merged.sqlite"
  "$cli" list --db "$work/merged.sqlite" --format csv > "$work/after.csv"
  cmp -s "$work/before.csv" "$work/after.csv" || fail "a refused merge changed the database: $(diff "$work/before.csv" "$work/after.csv")"
  # The array task was killed: merged as interrupted on request, which resume then continues.
  "$cli" merge "$work"/parts/part-*.sqlite --db "$work/merged.sqlite" --allow-unfinished > "$work/merge3.out" 2>&1 || fail "merge --allow-unfinished: $(cat "$work/merge3.out")"
  grep -q 'part-2.sqlite: 1 experiment and 2 runs added (1 as interrupted)' "$work/merge3.out" || fail "merge --allow-unfinished: $(cat "$work/merge3.out")"
  grep -q "warning: .*part-2.sqlite: 1 unfinished run(s) merged as interrupted (--allow-unfinished), though run 2's process 4242 on host node17 cannot be checked from here" \
    "$work/merge3.out" || fail "merge --allow-unfinished gave no warning: $(cat "$work/merge3.out")"
  "$cli" list --db "$work/merged.sqlite" --format csv > "$work/merged3.csv"
  grep -q '^8,late,.*,interrupted,' "$work/merged3.csv" || fail "run 8 is not interrupted: $(cat "$work/merged3.csv")"
  "$cli" resume 8 --db "$work/merged.sqlite" --quiet > "$work/resume.out" 2>&1 || fail "resume of the merged run: $(tail -5 "$work/resume.out")"
  "$cli" list --db "$work/merged.sqlite" --format csv | grep -q '^8,late,.*,completed,' || fail "the resumed merged run did not complete"
  # Without WAL (as on a network file system): said once on stderr, and merging works.
  LOSSLAB_STORE_JOURNAL=delete "$cli" merge "$work"/parts/part-0.sqlite --db "$work/nowal.sqlite" > "$work/nowal.out" 2>&1 || fail "merge without WAL: $(cat "$work/nowal.out")"
  [[ $(grep -c 'note: nowal.sqlite: journal_mode=DELETE' "$work/nowal.out") -eq 1 ]] || fail "no journal note: $(cat "$work/nowal.out")"
  [[ $(sqlite3 "$work/nowal.sqlite" 'PRAGMA journal_mode') == delete ]] || fail "nowal.sqlite is in WAL mode"
  # A target that cannot take a part's rows (a file-size limit stands in for a full disk) is a
  # failed write, exit 1, also when it is the first part (it was exit 2, 'invalid input');
  # nothing of the part stays, and merging again once there is room adds it.
  out=$(ulimit -f 70; "$cli" merge "$work/parts/part-0.sqlite" --db "$work/full.sqlite" 2>&1); rc=$?
  [[ $rc -eq 1 ]] || fail "merge into a full target: exit $rc, expected 1: $out"
  grep -q 'while merging .*part-0.sqlite into .*full.sqlite: nothing of this part was merged' <<<"$out" || fail "merge into a full target: $out"
  [[ $(sqlite3 "$work/full.sqlite" 'SELECT COUNT(*) FROM runs') -eq 0 ]] || fail "a failed merge left runs in its target"
  "$cli" merge "$work/parts/part-0.sqlite" --db "$work/full.sqlite" > "$work/full.out" 2>&1 || fail "merge once there is room: $(cat "$work/full.out")"
  grep -q '1 experiment and 2 runs added' "$work/full.out" || fail "merge once there is room: $(cat "$work/full.out")"
  "$cli" report --db "$work/merged.sqlite" --out "$work/report" --figures none > "$work/report.out" 2>&1 || fail "report: $(cat "$work/report.out")"
  [[ -s $work/report/table-main.md ]] || fail "no main table: $(ls "$work/report")"
  grep -q 'fashion_mnist' "$work/report/table-main.md" || fail "the report lacks the merged experiment: $(cat "$work/report/table-main.md")" ;;
delete)
  # Two experiments: tiny (seeds 0 and 1; the square same_epochs_as_ce runs take their epoch
  # counts from the CE runs and copy their epochs from the square early-stopping runs) and other.
  tiny
  sed -i 's/protocols: \[early_stopping\]/protocols: [early_stopping, same_epochs_as_ce]/; s/seeds: 1/seeds: 2/' "$work/tiny.yaml"
  "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --quiet >/dev/null 2>&1 || fail "could not run tiny"
  "$cli" run "$work/tiny.yaml" --db "$work/runs.sqlite" --quiet --seeds 1 --set name=other --set 'protocols=[early_stopping]' \
    >/dev/null 2>&1 || fail "could not run other"
  listed_before
  # run_of LOSS PROTOCOL SEED [EXPERIMENT]: the id of that run, from the listing.
  run_of() { awk -F, -v l="$1" -v p="$2" -v s="$3" -v e="${4:-tiny}" '$2 == e && $4 == l && $8 == p && $9 == s { print $1 }' "$work/before.csv"; }
  ce1=$(run_of ce early_stopping 1); sq1=$(run_of square early_stopping 1); same1=$(run_of square same_epochs_as_ce 1)
  other_ids=$(awk -F, '$2 == "other" { print $1 }' "$work/before.csv")
  [[ -n $ce1 && -n $sq1 && -n $same1 && $(wc -w <<<"$other_ids") -eq 2 ]] || fail "unexpected runs: $(cat "$work/before.csv")"
  tiny_exp=$(sqlite3 "$work/runs.sqlite" "SELECT id FROM experiments WHERE name = 'tiny'") || fail "sqlite3"
  other_exp=$(sqlite3 "$work/runs.sqlite" "SELECT id FROM experiments WHERE name = 'other'") || fail "sqlite3"
  ckpt=$work/runs-checkpoints
  for id in $ce1 $sq1 $other_ids; do [[ -s $ckpt/run-$id.pt ]] || fail "no checkpoint run-$id.pt: $(ls "$ckpt")"; done
  (cd "$ckpt" && md5sum run-*) > "$work/sums.before"
  # checkpoints_kept ID...: every checkpoint file but those of the runs named is as it was, and
  # those are gone.
  checkpoints_kept() {
    local id pattern='^$'
    for id in "$@"; do
      pattern+="|  run-$id\.(pt|resume\.pt)$"
      [[ ! -e $ckpt/run-$id.pt && ! -e $ckpt/run-$id.resume.pt ]] || fail "run $id's checkpoint files are still there: $(ls "$ckpt")"
    done
    (cd "$ckpt" && md5sum run-*) > "$work/sums.after"
    diff <(grep -Ev "$pattern" "$work/sums.before") "$work/sums.after" >/dev/null || fail "other checkpoint files changed: $(diff "$work/sums.before" "$work/sums.after")"
  }
  # Refused, exit 2, nothing deleted: no selector; an unknown run, experiment or status beside a
  # valid selector; stdin that is not a terminal without --yes.
  expect 2 'say which runs: --run ID, --experiment NAME or --status STATUS' -- delete --db "$work/runs.sqlite" --yes
  expect 2 "no run 999 .*nothing was deleted" -- delete --db "$work/runs.sqlite" --experiment other --run 999 --yes
  expect 2 "no experiment 'nope' \(stored experiments: tiny \(#$tiny_exp\), other \(#$other_exp\)\).*nothing was deleted" -- \
    delete --db "$work/runs.sqlite" --experiment other --experiment nope --yes
  expect 2 "no experiment 'tiny#$other_exp'" -- delete --db "$work/runs.sqlite" --experiment "tiny#$other_exp" --yes
  expect 2 "\-\-status: unknown run status 'done'; expected one of: queued, running, completed, .*nothing was deleted" -- \
    delete --db "$work/runs.sqlite" --experiment other --status done --yes
  expect 2 "\-\-run: expected a run id" -- delete --db "$work/runs.sqlite" --run 1x --yes
  out=$("$cli" delete --db "$work/runs.sqlite" --experiment other 2>&1 </dev/null); rc=$?
  [[ $rc -eq 2 ]] || fail "non-terminal stdin without --yes: exit $rc: $out"
  grep -q 'standard input is not a terminal.*pass --yes to delete these 2 run(s)' <<<"$out" || fail "non-terminal stdin: $out"
  db_unchanged; checkpoints_kept
  # On a terminal it asks; anything but y / yes keeps the runs. (Where no pseudo-terminal can be
  # made, as in a chroot without /dev/pts, this part is skipped.)
  if command -v script >/dev/null && script -qec true /dev/null >/dev/null 2>&1 </dev/null; then
    out=$(printf 'n\n' | script -qec "$(printf '%q ' "$cli" delete --db "$work/runs.sqlite" --experiment other)" /dev/null 2>&1)
    grep -q 'Delete 2 run(s) with their metrics and checkpoint files? This cannot be undone. \[y/N\]' <<<"$out" || fail "no question: $out"
    grep -q 'Nothing was deleted' <<<"$out" || fail "declined: $out"
    db_unchanged; checkpoints_kept
  fi
  # A dry run lists, with the kept runs that depend on the ones that would go, and changes nothing.
  out=$("$cli" delete --db "$work/runs.sqlite" --run "$ce1" --run "$sq1" --dry-run 2>&1 </dev/null) || fail "dry run: $out"
  grep -qE "^  $ce1 +tiny#$tiny_exp +fashion_mnist/mlp +ce +early_stopping +1 +completed$" <<<"$out" || fail "dry run listing: $out"
  grep -q "Note: kept run $same1 (square same_epochs_as_ce seed 1) took its epoch count from cross-entropy run $ce1, which is deleted" <<<"$out" || fail "no dependsOn note: $out"
  grep -q "Note: kept run $same1 (square same_epochs_as_ce seed 1) has its epochs copied from run $sq1 (runner.reuse_prefix)" <<<"$out" || fail "no reuse note: $out"
  grep -q 'Nothing was deleted (--dry-run)' <<<"$out" || fail "dry run: $out"
  db_unchanged; checkpoints_kept
  # A run a live process owns (this sleep) is refused, and with it the whole selection.
  sleep 300 & owner=$!
  sqlite3 "$work/runs.sqlite" "UPDATE runs SET status = 'running', pid = $owner, pid_start = $(awk '{print $22}' /proc/$owner/stat) WHERE id = $sq1" || fail "sqlite3"
  listed_before
  grep -q "^$sq1,tiny,.*,running," "$work/before.csv" || { kill $owner; fail "run $sq1 is not running: $(cat "$work/before.csv")"; }
  out=$("$cli" delete --db "$work/runs.sqlite" --experiment tiny --yes 2>&1 </dev/null); rc=$?
  db_unchanged_rc=0; ( db_unchanged ) || db_unchanged_rc=1 # while its owner lives: it reads as running
  kill $owner; wait $owner 2>/dev/null
  [[ $rc -eq 2 ]] || fail "a running run: exit $rc: $out"
  grep -q "cannot delete run $sq1: it is running; cancel it first.*nothing was deleted" <<<"$out" || fail "a running run: $out"
  (( db_unchanged_rc == 0 )) || fail "a refused delete changed the database"
  checkpoints_kept
  # Its process gone, the run reads as interrupted, with a resume file (deleted with it below).
  printf 'state' > "$ckpt/run-$sq1.resume.pt"
  (cd "$ckpt" && md5sum run-*) > "$work/sums.before"
  # Selectors intersect: the failed runs of tiny (not other's). The run cancelled before it
  # started (no stored epoch count) that takes its epoch count from one of them could no longer
  # be resumed: said.
  sqlite3 "$work/runs.sqlite" "UPDATE runs SET status = 'failed', error = 'out of memory' WHERE id IN ($ce1, $(head -1 <<<"$other_ids"));
    UPDATE runs SET status = 'cancelled', target_epochs = 0 WHERE id = $same1" || fail "sqlite3"
  listed_before
  out=$("$cli" delete --db "$work/runs.sqlite" --experiment tiny --status failed --yes 2>&1 </dev/null) || fail "delete failed runs of tiny: $out"
  grep -q "Deleted 1 run(s) with their metrics and checkpoint files" <<<"$out" || fail "delete failed runs of tiny: $out"
  grep -q "Note: kept run $same1 .* is cancelled and takes its epoch count from cross-entropy run $ce1, which is deleted: resume cannot continue it then" <<<"$out" ||
    fail "no note that run $same1 cannot be resumed: $out"
  "$cli" list --db "$work/runs.sqlite" --format csv > "$work/after.csv"
  diff <(grep -v "^$ce1," "$work/before.csv") "$work/after.csv" >/dev/null || fail "not exactly run $ce1 went: $(diff "$work/before.csv" "$work/after.csv")"
  checkpoints_kept "$ce1"
  expect 0 "No run in .* matches the selection: nothing to delete" -- delete --db "$work/runs.sqlite" --experiment tiny --status failed --yes
  out=$("$cli" delete --db "$work/runs.sqlite" --experiment "tiny#$tiny_exp" --run "$sq1" --status interrupted --yes 2>&1 </dev/null) || fail "delete run $sq1: $out"
  grep -q "Note: kept run $same1 .*has its epochs copied from run $sq1" <<<"$out" || fail "no reuse note: $out"
  checkpoints_kept "$ce1" "$sq1"
  # An experiment emptied by the deletion goes with its runs.
  out=$("$cli" delete --db "$work/runs.sqlite" --experiment other --yes 2>&1 </dev/null) || fail "delete other: $out"
  grep -q "Deleted 2 run(s)" <<<"$out" || fail "delete other: $out"
  grep -q "Experiment 'other' (#$other_exp) had no runs left and was deleted" <<<"$out" || fail "delete other: $out"
  checkpoints_kept "$ce1" "$sq1" $other_ids
  expect 0 'known experiments: tiny$' -- list --db "$work/runs.sqlite" --experiment other
  "$cli" list --db "$work/runs.sqlite" --format csv | grep -q ',other,' && fail "other's runs are still listed"
  [[ $("$cli" list --db "$work/runs.sqlite" --format csv | wc -l) -eq $(( $(wc -l < "$work/before.csv") - 4 )) ]] || fail "more than 4 runs went"
  [[ $(sqlite3 "$work/runs.sqlite" "SELECT COUNT(*) FROM experiments WHERE name = 'other'") -eq 0 ]] || fail "experiment other is still stored"
  expect 2 "no experiment 'other'" -- delete --db "$work/runs.sqlite" --experiment other --yes
  # A value that is a stored name and also NAME#ID of another experiment is refused, nothing
  # deleted; each reading can be written so that it means one.
  "$cli" run "$work/tiny.yaml" --db "$work/hash.sqlite" --quiet --seeds 1 --set 'protocols=[early_stopping]' >/dev/null 2>&1 || fail "run tiny"
  "$cli" run "$work/tiny.yaml" --db "$work/hash.sqlite" --quiet --seeds 1 --set 'protocols=[early_stopping]' --set 'name=tiny#1' \
    >/dev/null 2>&1 || fail "run tiny#1"
  cp "$work/hash.sqlite" "$work/runs.sqlite" && listed_before
  expect 2 "\-\-experiment 'tiny#1' is ambiguous: it is the name of experiment #2 and also instance #1 of 'tiny'; write 'tiny#1#2' for the first, 'tiny#01' for the second; nothing was deleted" -- \
    delete --db "$work/runs.sqlite" --experiment 'tiny#1' --yes
  db_unchanged
  out=$("$cli" delete --db "$work/runs.sqlite" --experiment 'tiny#1#2' --dry-run 2>&1 </dev/null) || fail "tiny#1#2: $out"
  grep -qE '^  [0-9]+ +tiny#1#2 ' <<<"$out" && ! grep -qE '^  [0-9]+ +tiny#1 ' <<<"$out" || fail "tiny#1#2 selects more than experiment 2: $out"
  out=$("$cli" delete --db "$work/runs.sqlite" --experiment 'tiny#01' --dry-run 2>&1 </dev/null) || fail "tiny#01: $out"
  grep -qE '^  [0-9]+ +tiny#1 ' <<<"$out" && ! grep -qE '^  [0-9]+ +tiny#1#2 ' <<<"$out" || fail "tiny#01 selects more than experiment 1: $out" ;;
*)
  fail "unknown case" ;;
esac
echo "ok [$case_name]"
