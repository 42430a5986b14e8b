#!/usr/bin/env bash
# Keeps the documentation and the program in step: every command in the docs is run here (or
# is listed, with the reason, in allowlist.txt), and the reference pages are compared with
# what the program says about itself.
#
# Usage: check_docs.sh commands|reference SOURCE_DIR BUILD_DIR
#
# commands   Runs, against the programs in BUILD_DIR:
#            - every shell command of a ```sh / ```bash / ```shell block and every "$ " line of
#              a ```console block in README.md and docs/*.md, in order, one subshell per file
#              (so `cd` and variables carry over within a file), each of which must exit 0;
#            - every ```yaml block that is a whole experiment (it has `task:` and `losses:`);
#            - every ```sql block, with sqlite3, against a small database of real runs; a block
#              with a SELECT must return at least one row, or none when it contains the
#              comment "-- expect: no rows".
#            The commands run in a scratch folder that looks like the source tree (every entry
#            a link, except build/), with HOME in the scratch folder (so the default database
#            ~/.local/share/losslab/runs.sqlite is a fresh one), paths under /tmp/ moved into
#            it, losslab-cli and build/bin/losslab-cli on PATH, and these stand-ins:
#            - `losslab-cli run` and `resume` go through a wrapper that adds fast arguments
#              where the command has none of its own: --seeds 1, --max-epochs 1,
#              --limit-train 32, and (before the command's own --set, which win)
#              --set data.limit_test=32, --set data.val_fraction=0.005 and
#              --set train.train_metrics=running;
#            - ~/datasets/mnist holds a small MNIST look-alike (600 training and 200 test images
#              taken from Fashion-MNIST, which has the same IDX format);
#            - the files of tests/docs/fixtures/ (experiment files the docs name) are in the
#              working folder.
#            Commands that cannot run here (GPU, packaging, installing, rebuilding) must match
#            an entry of allowlist.txt, which says where they run instead.
# reference  Compares the reference pages with the program:
#            - links between the docs: every relative link's file and #anchor exists;
#            - every docs/*.md is linked from README.md;
#            - docs/cli.md has a section for every command of `losslab-cli --help` and names
#              every option of `losslab-cli COMMAND --help`; every option given to losslab-cli
#              anywhere in the docs exists; every other --option is listed in allowlist.txt;
#            - docs/experiment-keys.md documents exactly the keys the program accepts (top
#              level, losses, data/train/runner, and each task's own keys), with the program's
#              defaults, has a section for every task, and its documented defaults are accepted;
#            - docs/database.md documents exactly the tables and columns of the schema, its
#              indexes and version; every metric name stored by real runs is documented in
#              docs/database.md and docs/losses-and-metrics.md;
#            - docs/cli.md documents every column of `losslab-cli list`.
set -uo pipefail

mode=${1:?usage: check_docs.sh commands|reference SOURCE_DIR BUILD_DIR}
src=$(cd "${2:?source dir}" && pwd) || exit 2
build=$(cd "${3:?build dir}" && pwd) || exit 2
here=$(cd "$(dirname "$0")" && pwd)
cli=$build/bin/losslab-cli
[[ -x $cli ]] || { echo "check_docs: no $cli" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "check_docs: sqlite3 is missing (scripts/install-deps.sh installs it)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/losslab-docs.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/log"
: > "$work/failures"
fail() { echo "FAIL: $*" | tee -a "$work/failures" >&2; }
note() { echo "$*"; }

# Programs find their plugins next to themselves; a plugin path from the environment (ctest
# sets one) must not change what the docs' commands see.
unset LOSSLAB_PLUGIN_PATH XDG_DATA_HOME XDG_CONFIG_HOME
export XDG_RUNTIME_DIR=$work/runtime
mkdir -m 700 "$work/runtime"

docs=("$src/README.md" "$src"/docs/*.md)
awk -v root="$src" -f "$here/extract.awk" "${docs[@]}" > "$work/records" || { echo "check_docs: extract.awk failed" >&2; exit 2; }
US=$'\037'
RS_=$'\036'

# ---- the allow-list ---------------------------------------------------------------------------

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }
allow_cat=() allow_re=() allow_reason=()
flag_name=() flag_where=()
while IFS= read -r entry; do
    [[ $entry =~ ^[[:space:]]*(#|$) ]] && continue
    # Fields are separated by " | " (a regex may hold "|" without spaces around it).
    f1=${entry%% | *}; rest=${entry#* | }
    f2=${rest%% | *}; rest=${rest#* | }
    f3=${rest%% | *}
    f1=$(trim "$f1"); f2=$(trim "$f2"); f3=$(trim "$f3")
    if [[ $f1 == flag ]]; then
        flag_name+=("$f2"); flag_where+=("$f3")
    else
        case $f1 in ci|packaging|gpu|gpu-dry|manual|missing-ok) ;; *) echo "check_docs: allowlist.txt: unknown category '$f1' in: $entry" >&2; exit 2 ;; esac
        allow_cat+=("$f1"); allow_re+=("$f2"); allow_reason+=("$f3")
    fi
done < "$here/allowlist.txt"

# The command as the allow-list sees it: continuation lines joined, trailing comments removed.
canonical() {
    local text=${1//\\$RS_/ } out="" line
    while IFS= read -r line; do
        line=$(sed -E 's/(^|[[:space:]])#[^"'\'']*$//' <<<"$line")
        out+="$(trim "$line") "
    done <<<"${text//$RS_/$'\n'}"
    trim "$(tr -s ' ' <<<"$out")"
}

# Prints the index of the first allow-list entry matching $1, or nothing.
allowed() {
    local i
    for i in "${!allow_re[@]}"; do
        if [[ $1 =~ ${allow_re[$i]} ]]; then echo "$i"; return; fi
    done
}

# ---- shared fixtures ---------------------------------------------------------------------------

# A tiny experiment on the example plugin's task, for key and schema checks.
tiny_yaml() {
    cat > "$1" <<'YAML'
name: tiny
task: example/spirals
device: cpu
losses: [{loss: ce}, {loss: square}]
protocols: [early_stopping, same_epochs_as_ce]
seeds: 1
YAML
}

# A database with finished runs of every status the docs' queries look for: completed runs
# (spirals, and Fashion-MNIST for top-5) and one diverged run.
make_db() {
    local db=$1
    tiny_yaml "$work/tiny.yaml"
    "$cli" run "$work/tiny.yaml" --db "$db" --max-epochs 2 --quiet > "$work/log/db1" 2>&1 \
        || { fail "could not make the test database: $(tail -5 "$work/log/db1")"; return 1; }
    "$cli" run "$work/tiny.yaml" --db "$db" --max-epochs 2 --quiet --set name=diverging --set losses.1.lr=1e12 \
        --set protocols=early_stopping > "$work/log/db2" 2>&1
    [[ $(sqlite3 "$db" "SELECT COUNT(*) FROM runs WHERE status = 'diverged'") -ge 1 ]] \
        || { fail "the test database has no diverged run: $(tail -5 "$work/log/db2")"; return 1; }
    "$cli" run default --db "$db" --seeds 1 --max-epochs 1 --limit-train 200 --set data.limit_test=200 --quiet \
        > "$work/log/db3" 2>&1 || { fail "could not add a Fashion-MNIST run: $(tail -5 "$work/log/db3")"; return 1; }
    # Tags and notes, as the window's run browser stores them (RunStore::setRunTags).
    sqlite3 "$db" "UPDATE runs SET tags = 'baseline,first-try', notes = 'the first run' WHERE id = 1" \
        || { fail "could not tag a run"; return 1; }
}

# ================================================================================================
# commands
# ================================================================================================

# A losslab-cli that adds fast arguments to `run` (and checks GPU-sized commands without a GPU).
write_wrapper() {
    cat > "$1" <<WRAPPER
#!/usr/bin/env bash
# Written by tests/docs/check_docs.sh: the docs' losslab-cli, with fast arguments.
real=$cli
WRAPPER
    cat >> "$1" <<'WRAPPER'
has() { local a; for a in "${args[@]}"; do [[ $a == "$1" || $a == "$1="* ]] && return 0; done; return 1; }
args=("$@")
if [[ ${1:-} == run && ${LOSSLAB_DOCS_DRY:-} == 1 ]]; then
    # A GPU-sized run, on a machine without CUDA: it must get as far as the device check.
    has --device && extra=() || extra=(--device cuda)
    has --db || extra+=(--db "$LOSSLAB_DOCS_SCRATCH/dry.sqlite")
    out=$("$real" "$@" "${extra[@]}" 2>&1); rc=$?
    echo "$out"
    if [[ $rc -eq 2 && ( $out == *"sees no CUDA device"* || $out == *"sees 0 CUDA device"* ) ]]; then exit 0; fi
    echo "check_docs: expected exit 2 and 'sees no CUDA device' (or 'sees 0 CUDA devices') from a GPU-sized command, got exit $rc" >&2
    exit 1
fi
if [[ ${1:-} == run ]]; then
    shift
    extra=(--set data.limit_test=32 --set data.val_fraction=0.005 --set train.train_metrics=running)
    has --seeds || extra+=(--seeds 1)
    has --max-epochs || extra+=(--max-epochs 1)
    has --limit-train || extra+=(--limit-train 32)
    echo "check_docs: losslab-cli run ${extra[*]} $*" >&2
    exec "$real" run "${extra[@]}" "$@"
fi
exec "$real" "$@"
WRAPPER
    chmod +x "$1"
}

# An IDX file holding the first COUNT items of a Fashion-MNIST file (same format as MNIST).
idx_head() {
    local from=$1 to=$2 count=$3 item=$4 header=$5
    local hex raw=$work/idx.raw
    hex=$(printf '%08x' "$count")
    gzip -dc "$from" > "$raw" || return 1
    {
        head -c 4 "$raw"
        printf "\\x${hex:0:2}\\x${hex:2:2}\\x${hex:4:2}\\x${hex:6:2}"
        tail -c +9 "$raw" | head -c $((header - 8 + count * item))
    } > "$to"
    rm -f "$raw"
}

make_sandbox() {
    home=$work/home
    tree=$work/tree
    mkdir -p "$home" "$tree" "$work/bin" "$work/tmp"
    write_wrapper "$work/bin/losslab-cli"
    local entry name
    for entry in "$src"/* "$src"/.[!.]*; do
        [[ -e $entry ]] || continue
        name=${entry##*/}
        case $name in build|build-*|.git|losslab-out) continue ;; esac
        # What git ignores is the user's output (./run.sh's losslab-out/, build folders, a
        # .gpu-deps cache): a link to it would let a documented command overwrite it.
        if git -C "$src" check-ignore -q "$name" 2>/dev/null; then continue; fi
        ln -s "$entry" "$tree/$name"
    done
    local b
    for b in build build-cuda; do
        mkdir -p "$tree/$b/bin"
        ln -s "$build/lib" "$tree/$b/lib"
        ln -s "$build/share" "$tree/$b/share"
        ln -s "$work/bin/losslab-cli" "$tree/$b/bin/losslab-cli"
    done
    for entry in "$build"/bin/*; do
        [[ ${entry##*/} == losslab-cli ]] || ln -s "$entry" "$tree/build/bin/"
    done
    cp "$here"/fixtures/* "$tree/"

    local fm=/usr/share/datasets/fashion-mnist mnist=$home/datasets/mnist
    mkdir -p "$mnist"
    idx_head "$fm/train-images-idx3-ubyte.gz" "$mnist/train-images-idx3-ubyte" 600 784 16 &&
    idx_head "$fm/train-labels-idx1-ubyte.gz" "$mnist/train-labels-idx1-ubyte" 600 1 8 &&
    idx_head "$fm/t10k-images-idx3-ubyte.gz" "$mnist/t10k-images-idx3-ubyte" 200 784 16 &&
    idx_head "$fm/t10k-labels-idx1-ubyte.gz" "$mnist/t10k-labels-idx1-ubyte" 200 1 8 ||
        { fail "could not make the MNIST look-alike from $fm"; return 1; }
    # CIFAR-10's folder, with files of the right names and sizes (the CIFAR-10 runs of the docs
    # are GPU-sized: they stop at the device check, before reading them).
    local cifar=$home/datasets/cifar-10-batches-bin f
    mkdir -p "$cifar"
    for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
        head -c $((3073 * 20)) /dev/zero > "$cifar/$f.bin"
    done
    printf 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n' > "$cifar/batches.meta.txt"
}

run_doc_commands() {
    local doc=$1 kind file line lang text n=0
    (
        cd "$tree" || exit 1
        export HOME=$home LOSSLAB=$tree LOSSLAB_DOCS_SCRATCH=$work
        export PATH="$work/bin:$build/bin:$PATH"
        while IFS=$US read -r kind file line lang text; do
            [[ $kind == cmd && $file == "$doc" ]] || continue
            n=$((n + 1))
            local shown canon idx
            canon=$(canonical "$text")
            idx=$(allowed "$canon")
            if [[ -n $idx ]]; then
                echo "$idx" >> "$work/allow-used"
                if [[ ${allow_cat[$idx]} != gpu-dry ]]; then
                    note "  skip  $file:$line [${allow_cat[$idx]}] $canon"
                    continue
                fi
                if compgen -G '/dev/nvidia[0-9]*' >/dev/null; then
                    note "  skip  $file:$line [gpu-dry: this machine has a GPU] $canon"
                    continue
                fi
                export LOSSLAB_DOCS_DRY=1
            else
                unset LOSSLAB_DOCS_DRY
            fi
            text=${text//$RS_/$'\n'}
            text=${text//\/tmp\//$work/tmp/}
            local log=$work/log/cmd-$BASHPID-$n start=$SECONDS rc
            eval "$text" < /dev/null > "$log" 2>&1
            rc=$?
            shown=$([[ -n $idx ]] && echo "dry   " || echo "ran   ")
            if [[ $rc -ne 0 ]]; then
                fail "$file:$line: exit $rc: $canon"
                sed 's/^/    | /' "$log" | tail -15 >&2
            else
                note "  $shown$file:$line ($((SECONDS - start)) s) $canon"
            fi
        done < "$work/records"
    )
}

check_yaml_blocks() {
    local kind file line lang text n=0
    while IFS=$US read -r kind file line lang text; do
        [[ $kind == block && $lang == yaml ]] || continue
        text=${text//$RS_/$'\n'}
        grep -q '^task:' <<<"$text" && grep -q '^losses:' <<<"$text" || continue
        n=$((n + 1))
        printf '%s\n' "$text" > "$work/yaml-$n.yaml"
        local start=$SECONDS
        if HOME=$home "$work/bin/losslab-cli" run "$work/yaml-$n.yaml" --db "$work/yaml.sqlite" --quiet > "$work/log/yaml-$n" 2>&1; then
            note "  ran   $file:$line ($((SECONDS - start)) s, experiment file)"
        else
            fail "$file:$line: the experiment file does not run"
            sed 's/^/    | /' "$work/log/yaml-$n" | tail -10 >&2
        fi
    done < "$work/records"
}

check_sql_blocks() {
    local db=$work/queries.sqlite kind file line lang text n=0 out
    make_db "$db" || return
    while IFS=$US read -r kind file line lang text; do
        [[ $kind == block && $lang == sql ]] || continue
        n=$((n + 1))
        cp "$db" "$work/q.sqlite"
        text=${text//$RS_/$'\n'}
        if ! out=$(sqlite3 -bail "$work/q.sqlite" <<<"$text" 2>&1); then
            fail "$file:$line: the SQL fails: $out"
        elif grep -q -- '-- expect: no rows' <<<"$text"; then
            [[ -z $out ]] || fail "$file:$line: the query should return no row (it says so), but returns: $out"
            note "  ran   $file:$line (sql, no rows as expected)"
        elif grep -qi 'select' <<<"$text" && [[ -z $out ]]; then
            fail "$file:$line: the query returns no row on a database of real runs"
        else
            note "  ran   $file:$line (sql, $(grep -c '' <<<"$out") line(s) of output)"
        fi
    done < "$work/records"
}

commands_mode() {
    make_sandbox || return
    : > "$work/allow-used"
    # Tests never write into the source tree: whatever a documented command writes must land
    # in the scratch folder. Anything in SOURCE_DIR newer than this stamp afterwards (build
    # folders and .git aside) is a failure.
    touch "$work/source-stamp"
    local doc
    for doc in $(awk -F"$US" '$1 == "cmd" { print $2 }' "$work/records" | awk '!seen[$0]++'); do
        run_doc_commands "$doc"
    done
    check_yaml_blocks
    check_sql_blocks
    local changed
    changed=$(find "$src" \( -path "$src/.git" -o -path "$src/build" -o -path "$src/build-*" \) -prune -o \
        -newer "$work/source-stamp" -print 2>/dev/null | head -n 20)
    [[ -z $changed ]] || fail "documented commands wrote into the source tree (they must stay in the scratch folder):"$'\n'"$changed"
    local i
    for i in "${!allow_re[@]}"; do
        [[ ${allow_cat[$i]} == missing-ok ]] && continue
        grep -qx "$i" "$work/allow-used" || fail "allowlist.txt: no command in the docs matches '${allow_re[$i]}': remove the entry"
    done
}

# ================================================================================================
# reference
# ================================================================================================

# Markdown headings of a file as GitHub anchors, one per line.
anchors_of() {
    awk -F"$US" -v f="$1" '$1 == "prose" && $2 == f && $5 ~ /^#+ / {
        h = tolower($5); sub(/^#+ +/, "", h)
        gsub(/[^a-z0-9 _-]/, "", h); gsub(/ /, "-", h)
        if (seen[h]++) h = h "-" (seen[h] - 1)
        print h
    }' "$work/records"
}

check_links() {
    local kind file line lang text target path anchor dir resolved rel idx
    while IFS=$US read -r kind file line lang text; do
        [[ $kind == prose ]] || continue
        while [[ $text =~ \]\(([^\)\ ]+)\) ]]; do
            target=${BASH_REMATCH[1]}
            text=${text#*"${BASH_REMATCH[0]}"}
            case $target in http://*|https://*|mailto:*) continue ;; esac
            path=${target%%#*}
            anchor=$([[ $target == *#* ]] && echo "${target#*#}")
            dir=$(dirname "$file")
            if [[ -z $path ]]; then rel=$file; else rel=$(realpath -m --relative-to="$src" "$src/$dir/$path"); fi
            if [[ ! -e $src/$rel ]]; then
                idx=$(allowed "$rel")
                if [[ -n $idx && ${allow_cat[$idx]} == missing-ok ]]; then
                    note "  note  $file:$line: $target does not exist yet (${allow_reason[$idx]})"
                else
                    fail "$file:$line: link to a missing file: $target"
                fi
                continue
            fi
            if [[ -n $anchor && $rel == *.md ]]; then
                anchors_of "$rel" | grep -qxF -- "$anchor" || fail "$file:$line: no heading '#$anchor' in $rel"
            fi
        done
    done < "$work/records"
    local doc
    for doc in "$src"/docs/*.md; do
        grep -qF "](docs/${doc##*/})" "$src/README.md" || fail "README.md does not link docs/${doc##*/}"
    done
}

# The text of the section "LEVEL NAME" of a Markdown file, up to the next heading of that level
# or above (or, with a fourth argument "own", up to the next heading of any level).
section() {
    awk -v level="$2" -v name="$3" -v own="${4:-}" '
        /^```/ { code = !code }
        !code && /^#+ / {
            if ($0 == level " " name) { inside = 1; next }
            hashes = $0; sub(/ .*/, "", hashes)
            if (own != "" || length(hashes) <= length(level)) inside = 0
        }
        inside' "$1"
}

check_cli() {
    local help commands c opts o
    help=$("$cli" --help) || { fail "losslab-cli --help failed"; return; }
    commands=$(awk '/^Commands:/ { on = 1; next } on && /^  [a-z]+ / { print $1 } on && /^$/ { exit }' <<<"$help")
    [[ -n $commands ]] || { fail "no commands in losslab-cli --help"; return; }
    : > "$work/options"
    for c in $commands; do
        opts=$("$cli" "$c" --help | grep -oE '^  --[a-z][a-z0-9-]*' | tr -d ' ')
        echo "$c" $opts >> "$work/options"
        local text
        text=$(section "$src/docs/cli.md" "##" "$c")
        [[ -n $text ]] || { fail "docs/cli.md has no '## $c' section"; continue; }
        for o in $opts; do
            [[ $o == --help ]] && continue
            grep -qF -- "\`$o" <<<"$text" || fail "docs/cli.md, '## $c': option $o of 'losslab-cli $c --help' is not documented"
        done
    done

    # Every invocation of losslab-cli in the docs uses existing commands and options.
    local kind file line lang text
    while IFS=$US read -r kind file line lang text; do
        [[ $kind == prose || $kind == block ]] && continue
        [[ $text == *losslab-cli* ]] || continue
        text=${text//\\$RS_/ }
        text=${text//$RS_/ }
        local words w i cmd="" after=0
        read -ra words <<<"$text"
        for ((i = 0; i < ${#words[@]}; i++)); do
            w=${words[$i]}
            # after=1: the word after losslab-cli (a command or a global option); 2: later words
            if [[ $w == losslab-cli || $w == */losslab-cli ]]; then after=1; cmd=""; continue; fi
            ((after)) || continue
            case $w in
                '|'|'||'|'&&'|';'|'>'|'>>'|'2>&1'|'<'|'#'*|'2>'*|')'|'`') after=0; continue ;;
            esac
            if ((after == 1)); then
                after=2
                if [[ $w != -* ]]; then
                    if grep -qx "$w" <<<"$commands"; then cmd=$w
                    elif [[ $w =~ ^[a-z]+$ && $w != help ]]; then fail "$file:$line: losslab-cli has no command '$w': $text"; after=0
                    else after=0 # a placeholder such as COMMAND
                    fi
                    continue
                fi
            fi
            [[ $w == --* ]] || continue
            w=${w%%=*}
            w=${w%%[\`\),.:;]*}
            if [[ -z $cmd ]]; then
                [[ $w == --help || $w == --version ]] || fail "$file:$line: losslab-cli has no global option $w"
            elif ! grep -q "^$cmd .* $w\( \|$\)\|^$cmd $w\( \|$\)" "$work/options"; then
                fail "$file:$line: 'losslab-cli $cmd' has no option $w: $text"
            fi
        done
    done < "$work/records"

    # Every --option anywhere in the docs is losslab-cli's or listed in allowlist.txt.
    local known flag where f found
    known=" --help --version $(cut -d' ' -f2- "$work/options" | tr '\n' ' ') "
    for i in "${!flag_name[@]}"; do
        flag=${flag_name[$i]} where=${flag_where[$i]} found=0
        if [[ $where == external:* ]]; then found=1
        else
            for f in $where; do grep -qF -- "$flag" "$src/$f" 2>/dev/null && found=1; done
        fi
        ((found)) || fail "allowlist.txt: $flag is not an option of $where any more"
        known+="$flag "
    done
    local used
    used=$(awk -F"$US" '$1 != "block"' "$work/records" | grep -oE -- '(^|[^A-Za-z0-9_-])--[a-z][a-z0-9-]*' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
    for flag in $used; do
        [[ $known == *" $flag "* ]] || fail "the docs mention $flag, which is no option of losslab-cli; if it belongs to another program, add it to tests/docs/allowlist.txt ($(grep -lE -- "$flag([^a-z0-9-]|$)" "$src/README.md" "$src"/docs/*.md | sed "s|$src/||" | tr '\n' ' '))"
    done

    # The columns of `losslab-cli list`.
    local db=$1 header col
    header=$("$cli" list --db "$db" --format csv | head -1 | tr -d '\r')
    local columns
    columns=$(section "$src/docs/cli.md" "###" "Columns")
    for col in ${header//,/ }; do
        grep -qF "\`$col\`" <<<"$columns" || fail "docs/cli.md, '### Columns': column $col of 'losslab-cli list' is not documented"
    done
}

# "known keys: a, b, c" (or "a loss has: ...") from an error message, one per line.
known_keys() { sed -nE 's/.*(known keys|a loss has): //p' <<<"$1" | tr ',' '\n' | tr -d ' '; }

# Keys documented in a table of docs/experiment-keys.md: "KEY<TAB>DEFAULT" per row (the key
# column's backticked names; DEFAULT is column $1 of the row, when given).
doc_table_keys() {
    awk -F'|' -v col="${1:-0}" '/^\| *`/ {
        cell = $2
        while (match(cell, /`[^`]+`/)) {
            key = substr(cell, RSTART + 1, RLENGTH - 2); cell = substr(cell, RSTART + RLENGTH)
            d = ""
            if (col > 0) { d = $(col + 1); gsub(/^ +| +$/, "", d); gsub(/`/, "", d) }
            print key "\t" d
        }
    }'
}

same_value() {
    [[ $1 == "$2" ]] && return 0
    [[ $1 =~ ^-?[0-9.e+-]+$ && $2 =~ ^-?[0-9.e+-]+$ ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'
}

check_keys() {
    local db=$1 keysdoc=$src/docs/experiment-keys.md out
    tiny_yaml "$work/tiny.yaml"
    local try="$cli run $work/tiny.yaml --db $work/keys.sqlite"

    # Top-level keys and loss keys.
    out=$($try --set zzz=1 2>&1)
    diff <(known_keys "$out" | sort) <(section "$keysdoc" "##" "Top-level keys" own | doc_table_keys | cut -f1 | sort) > "$work/diff" \
        || fail "docs/experiment-keys.md, 'Top-level keys' differs from the program's (< program, > docs): $(tr '\n' ' ' < "$work/diff")"
    out=$($try --set 'losses.0={loss: ce, zzz: 1}' 2>&1)
    diff <(known_keys "$out" | sort) <(section "$keysdoc" "###" "losses" own | doc_table_keys | cut -f1 | sort) > "$work/diff" \
        || fail "docs/experiment-keys.md, '### losses' differs from the program's loss keys (< program, > docs): $(tr '\n' ' ' < "$work/diff")"

    # Each task's own keys, defaults and recipe, from `tasks --verbose`.
    "$cli" tasks --verbose 2>/dev/null | awk '
        /^[a-z0-9_]+(\/[a-z0-9_]+)+ \(plugin / { task = $1; next }
        /^$/ { task = "" }
        task != "" && /^  [a-z_]+\.[a-z_]+ = / {
            line = $0; sub(/^  /, "", line)
            key = line; sub(/ = .*/, "", key)
            value = line; sub(/^[^=]*= /, "", value)
            kind = (value ~ /  # recipe$/) ? "recipe" : "key"
            sub(/  # .*$/, "", value)
            print task "\t" kind "\t" key "\t" value
        }' > "$work/task-keys"
    local tasks t
    tasks=$("$cli" tasks 2>/dev/null | awk 'NR > 1 { print $1 }')
    [[ -n $tasks ]] || { fail "losslab-cli tasks lists no task"; return; }
    grep -qx 'example/spirals' <<<"$tasks" || fail "losslab-cli tasks does not list example/spirals (the example plugin)"

    # Core keys: every data/train/runner key the loader knows, less the task's own data keys.
    local s core_program=$work/core-program
    : > "$core_program"
    for s in data train runner; do
        out=$($try --set "$s.zzz=1" 2>&1)
        known_keys "$out" >> "$core_program"
    done
    grep -vxF -f <(awk -F'\t' '$1 == "example/spirals" && $2 == "key" { print $3 }' "$work/task-keys") "$core_program" | sort > "$work/core-program.sorted"
    : > "$work/core-doc"
    for s in data train runner; do
        section "$keysdoc" "###" "$s" own | doc_table_keys 3 >> "$work/core-doc"
    done
    diff "$work/core-program.sorted" <(cut -f1 "$work/core-doc" | sort) > "$work/diff" \
        || fail "docs/experiment-keys.md, '## Core keys' differs from the keys the program accepts (< program, > docs): $(tr '\n' ' ' < "$work/diff")"

    # Their defaults: an experiment that sets nothing stores every resolved value in
    # experiments.spec_yaml (a run's own YAML has "auto" values resolved for its protocol).
    local spec key value doc_default
    spec=$(sqlite3 "$db" "SELECT e.spec_yaml FROM experiments e WHERE e.name = 'tiny' ORDER BY e.id LIMIT 1")
    # Sections come in block style ("data:" then "  key: value" lines) or in flow style
    # ("train: {key: value, list: [1, 2], ...}"); strings may be quoted.
    awk '
        function emit(k, v) { if (v != "\"\"") gsub(/^"|"$/, "", v); print s "." k "\t" v }
        /^[a-z_]+:$/ { s = substr($0, 1, length($0) - 1); next }
        /^  [a-z_]+: / { k = $1; sub(/:$/, "", k); v = $0; sub(/^  [a-z_]+: /, "", v); emit(k, v); next }
        /^[a-z_]+: \{.*\}$/ {
            s = $1; sub(/:$/, "", s)
            body = $0; sub(/^[^{]*\{/, "", body); sub(/\}$/, "", body)
            depth = 0; item = ""
            for (i = 1; i <= length(body) + 1; i++) {
                c = (i <= length(body)) ? substr(body, i, 1) : ","
                if (c == "[") depth++
                if (c == "]") depth--
                if (c == "," && depth == 0) {
                    sub(/^ +/, "", item); k = item; sub(/:.*/, "", k); v = item; sub(/^[^:]*: */, "", v)
                    emit(k, v); item = ""
                } else item = item c
            }
        }' <<<"$spec" > "$work/spec-values"
    while IFS=$'\t' read -r key doc_default; do
        # The recipe of example/spirals, and max_epochs (the database's runs set it), change these.
        grep -q "^example/spirals	recipe	$key	" "$work/task-keys" && continue
        [[ $key == train.max_epochs ]] && continue
        value=$(awk -F'\t' -v k="$key" '$1 == k { print $2 }' "$work/spec-values")
        same_value "$value" "$doc_default" || fail "docs/experiment-keys.md: $key defaults to '$doc_default' in the docs, '$value' in the program"
    done < "$work/core-doc"

    # Documented defaults are accepted by the loader (and --set reaches every core key).
    local sets=()
    while IFS=$'\t' read -r key doc_default; do sets+=(--set "$key=$doc_default"); done < "$work/core-doc"
    out=$("$cli" run "$work/tiny.yaml" --db "$work/keys.sqlite" --quiet --set protocols=early_stopping --set losses=[ce] "${sets[@]}" --set train.max_epochs=1 2>&1) \
        || fail "docs/experiment-keys.md: the documented defaults are not accepted: $out"

    # Every task has a section; each section's keys and defaults are the task's.
    local headings
    headings=$(section "$keysdoc" "##" "Task keys and recipes" | grep '^### ')
    for t in $tasks; do
        grep -qE "^###( .*)?[ \`]${t}([ \`]|$)" <<<"$headings" || fail "docs/experiment-keys.md has no section for task $t"
    done
    local heading name
    while IFS= read -r heading; do
        name=${heading#\#\#\# }
        local doc_keys
        doc_keys=$(awk -v h="$heading" '/^```/ { code = !code } !code && /^#/ { inside = ($0 == h); next } inside' "$keysdoc" | doc_table_keys 3 | sort)
        for t in $(grep -oE '[a-z0-9_]+(/[a-z0-9_]+)+' <<<"$name"); do
            grep -qx "$t" <<<"$tasks" || { fail "docs/experiment-keys.md: '$heading' names $t, which no plugin registers"; continue; }
            diff <(awk -F'\t' -v t="$t" '$1 == t && $2 == "key" { print $3 "\t" $4 }' "$work/task-keys" | sort) <(printf '%s\n' "$doc_keys" | sed '/^$/d') > "$work/diff" \
                || fail "docs/experiment-keys.md, '$heading': the keys of $t (key, default) differ from 'losslab-cli tasks --verbose' (< program, > docs): $(tr '\n' ' ' < "$work/diff")"
        done
    done <<<"$headings"
}

check_schema() {
    local db=$1 dbdoc=$src/docs/database.md table col text idx
    for table in $(sqlite3 "$db" "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"); do
        text=$(section "$dbdoc" "###" "$table")
        [[ -n $text ]] || { fail "docs/database.md has no '### $table' section"; continue; }
        diff <(sqlite3 "$db" "SELECT name FROM pragma_table_info('$table') ORDER BY name") \
             <(doc_table_keys <<<"$text" | cut -f1 | sort) > "$work/diff" \
            || fail "docs/database.md, '### $table': the columns differ from the schema (< schema, > docs): $(tr '\n' ' ' < "$work/diff")"
    done
    while IFS= read -r idx; do
        [[ -n $idx ]] || continue
        grep -qF "\`$idx\`" "$dbdoc" || fail "docs/database.md does not list the index $idx"
    done < <(sqlite3 "$db" "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL" | sed -E 's/.* ON ([a-z_]+)\(([a-z_, ]+)\).*/\1(\2)/')
    local version
    version=$(sqlite3 "$db" "PRAGMA user_version")
    grep -q "The schema version is $version\." "$dbdoc" || fail "docs/database.md does not say 'The schema version is $version.'"

    # Metric names that real runs store.
    local metric
    for metric in $(sqlite3 "$db" "SELECT DISTINCT metric FROM epoch_metrics UNION SELECT DISTINCT metric FROM step_metrics"); do
        grep -qF "\`$metric\`" "$dbdoc" || fail "docs/database.md does not document the stored metric $metric"
        [[ $metric == train_loss ]] && continue
        grep -qE "^\| \`$metric\` \|" "$src/docs/losses-and-metrics.md" || fail "docs/losses-and-metrics.md has no row for the stored metric $metric"
    done
}

reference_mode() {
    check_links
    local db=$work/reference.sqlite
    make_db "$db" || return
    check_cli "$db"
    check_keys "$db"
    check_schema "$db"
}

start=$SECONDS
case $mode in
    commands) commands_mode ;;
    reference) reference_mode ;;
    *) echo "usage: check_docs.sh commands|reference SOURCE_DIR BUILD_DIR" >&2; exit 2 ;;
esac
count=$(grep -c '' "$work/failures")
echo "check_docs $mode: $count failure(s), $((SECONDS - start)) s"
[[ $count -eq 0 ]]
