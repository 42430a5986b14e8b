#!/usr/bin/env bash
# Synthesises a small speech corpus with espeak-ng and writes it in the layouts LossLab reads:
#
#   OUTDIR/librispeech/{train,dev,test}/<speaker>/<chapter>/<speaker>-<chapter>-NNNN.flac
#                                       + <speaker>-<chapter>.trans.txt   (upper-case transcripts)
#   OUTDIR/kaldi/{train,dev,test}/{wav.scp,text,utt2spk}   the same utterances, 16 kHz WAV under
#       OUTDIR/kaldi/wav/; train: absolute paths; dev: paths relative to OUTDIR/kaldi (the data
#       dir's parent); test: recordings of two utterances joined by 0.3 s of silence + segments
#   OUTDIR/commands/<label>/<hash>_nohash_0.wav (1 s clips) + validation_list.txt, testing_list.txt,
#       _background_noise_/white_noise.wav, README.md
#   OUTDIR/timit/{TRAIN,TEST}/DR<n>/<SPEAKER>/{SA1,SX1,SI1}.{WAV,PHN,TXT}  (NIST SPHERE, 61-phone
#       labels spread evenly over the samples), with core-test, dev and unused TEST speakers
#   OUTDIR/.complete   written last
#
# Audio: 16 kHz, mono, 16-bit. Voices, speeds (-s 130..190) and pitches (-p 30..70) follow a fixed
# schedule and sox runs without dither, so two runs give the same files.
#
# Usage: make_fixture_corpus.sh [options] OUTDIR
#   --speakers N        LibriSpeech/Kaldi train speakers (env LOSSLAB_FIXTURE_SPEAKERS, default 3)
#   --phrases N         phrases each train speaker reads, <= 24 (LOSSLAB_FIXTURE_PHRASES, 20)
#   --heldout N         dev and test utterances each, <= phrases (LOSSLAB_FIXTURE_HELDOUT, 12)
#   --labels N          Speech Commands labels, <= 10 (LOSSLAB_FIXTURE_LABELS, 6)
#   --commands-train N  clips per label (LOSSLAB_FIXTURE_COMMANDS_TRAIN, 30)
#   --commands-val N    (LOSSLAB_FIXTURE_COMMANDS_VAL, 6)
#   --commands-test N   (LOSSLAB_FIXTURE_COMMANDS_TEST, 6)
#   --jobs N            parallel synthesis jobs (LOSSLAB_FIXTURE_JOBS, 2)
#   --from PATH         copy a corpus this script made elsewhere instead of synthesising one
#                       (LOSSLAB_FIXTURE_FROM): its folder, or a .tar.xz of that folder's
#                       contents (scripts/gpu-deps.sh makes one for machines without espeak-ng).
#                       Its counts must be these; its Kaldi tables' absolute paths are rewritten.
#                       A corpus of other counts is an error with --from (exit 2); given only
#                       by LOSSLAB_FIXTURE_FROM (which every caller in a test run sees, some with
#                       counts of their own), it is passed over and the corpus synthesised.
# Exit status 77 when espeak-ng or sox (with FLAC and SPHERE support) is missing: tests skip then.
set -euo pipefail

speakers=${LOSSLAB_FIXTURE_SPEAKERS:-3}
phrases=${LOSSLAB_FIXTURE_PHRASES:-20}
heldout=${LOSSLAB_FIXTURE_HELDOUT:-12}
labels=${LOSSLAB_FIXTURE_LABELS:-6}
commandsTrain=${LOSSLAB_FIXTURE_COMMANDS_TRAIN:-30}
commandsVal=${LOSSLAB_FIXTURE_COMMANDS_VAL:-6}
commandsTest=${LOSSLAB_FIXTURE_COMMANDS_TEST:-6}
jobs=${LOSSLAB_FIXTURE_JOBS:-2}
from=${LOSSLAB_FIXTURE_FROM:-}
fromOption=0

usage() {
    sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --speakers) speakers=$2; shift 2 ;;
        --phrases) phrases=$2; shift 2 ;;
        --heldout) heldout=$2; shift 2 ;;
        --labels) labels=$2; shift 2 ;;
        --commands-train) commandsTrain=$2; shift 2 ;;
        --commands-val) commandsVal=$2; shift 2 ;;
        --commands-test) commandsTest=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --from) from=$2; fromOption=1; shift 2 ;;
        -h|--help) usage ;;
        -*) echo "make_fixture_corpus.sh: unknown option $1" >&2; usage ;;
        *) [ -z "$out" ] || usage; out=$1; shift ;;
    esac
done
[ -n "$out" ] || usage
for n in "$speakers" "$phrases" "$heldout" "$labels" "$commandsTrain" "$commandsVal" "$commandsTest" "$jobs"; do
    case "$n" in ''|*[!0-9]*) echo "make_fixture_corpus.sh: \"$n\" is not a count" >&2; exit 2 ;; esac
done
if [ "$phrases" -lt 1 ] || [ "$phrases" -gt 24 ] || [ "$heldout" -gt "$phrases" ] || [ "$labels" -lt 1 ] \
    || [ "$labels" -gt 10 ] || [ "$speakers" -lt 1 ] || [ "$commandsTrain" -lt 1 ] || [ "$jobs" -lt 1 ]; then
    echo "make_fixture_corpus.sh: expected 1 <= phrases <= 24, heldout <= phrases, 1 <= labels <= 10," \
         "speakers >= 1, commands-train >= 1, jobs >= 1" >&2
    exit 2
fi

# What .complete records: the counts that decide the corpus (not --jobs), and the folder it was
# written to (the Kaldi train and test tables hold absolute paths).
settings="speakers=$speakers phrases=$phrases heldout=$heldout labels=$labels commands=$commandsTrain/$commandsVal/$commandsTest"

# ---- --from: a corpus made elsewhere ----------------------------------------------------------
# Its .complete, read before anything is copied: "settings: ..." and "folder: ..." lines.
if [ -n "$from" ]; then
    if [ ! -e "$from" ]; then
        echo "make_fixture_corpus.sh: --from $from: no such file or folder" >&2
        exit 2
    fi
    if [ -d "$from" ]; then
        complete=$(cat "$from/.complete" 2>/dev/null || true)
    elif ! complete=$(tar -xJOf "$from" ./.complete 2>/dev/null); then
        echo "make_fixture_corpus.sh: --from $from: expected a folder or a .tar.xz this script's corpus was packed into" \
             "(with its .complete)" >&2
        exit 2
    fi
    madeWith=$(printf '%s\n' "$complete" | sed -n 's/^settings: //p')
    madeIn=$(printf '%s\n' "$complete" | sed -n 's/^folder: //p')
    if [ -z "$madeIn" ] || [ "$madeWith" != "$settings" ]; then
        message="--from $from: expected a corpus made with \"$settings\"; its .complete says \"${madeWith:-nothing}\" (made by an older script, or with other counts)"
        if [ "$fromOption" = 1 ]; then
            echo "make_fixture_corpus.sh: $message" >&2
            exit 2
        fi
        echo "make_fixture_corpus.sh: LOSSLAB_FIXTURE_FROM passed over: $message; synthesising" >&2
        from=""
    fi
fi
if [ -n "$from" ]; then
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    rm -rf "$out/.complete" "$out/librispeech" "$out/kaldi" "$out/commands" "$out/timit"
    if [ -d "$from" ]; then
        cp -R "$from/." "$out/"
    else
        tar -xJf "$from" -C "$out"
    fi
    rm -f "$out/.complete"
    for f in "$out"/kaldi/*/wav.scp; do
        [ -f "$f" ] || continue
        while read -r id path; do
            case "$path" in "$madeIn"/*) path="$out/${path#"$madeIn"/}" ;; esac
            echo "$id $path"
        done <"$f" >"$f.new"
        mv "$f.new" "$f"
    done
    printf 'make_fixture_corpus.sh finished\nsettings: %s\nfolder: %s\ncopied from: %s\n' "$settings" "$out" "$from" >"$out/.complete"
    exit 0
fi

for tool in espeak-ng sox soxi; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "make_fixture_corpus.sh: $tool not found; install espeak-ng and sox (scripts/install-deps.sh)" >&2
        exit 77
    fi
done
formats=$(sox -h 2>/dev/null | sed -n 's/^AUDIO FILE FORMATS: //p')
for format in flac sph wav; do
    case " $formats " in
        *" $format "*) ;;
        *) echo "make_fixture_corpus.sh: this sox cannot write $format files (formats: $formats)" >&2; exit 77 ;;
    esac
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
work="$out/.work"
rm -rf "$work" "$out/.complete" "$out/librispeech" "$out/kaldi" "$out/commands" "$out/timit"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# ---- the schedule ---------------------------------------------------------------------------

phraseList=(
    "one two three" "four five six" "seven eight nine" "zero" "yes" "no" "two four six eight" "one nine"
    "three five seven" "eight zero" "stop" "go" "up" "down" "left right" "six" "nine two" "don't go"
    "five" "seven one" "three" "no no" "eight four" "yes go")
voiceList=(en-us en-gb+m3 en-gb-scotland en-us+f3 en-gb-x-rp+f2 en-029 en-us+m3 en-gb-scotland+f4
    en-gb-x-gbclan en-us-nyc+f1 en-gb+f5 en-gb-x-rp+m2)
commandList=(yes no up down left right on off stop go)

voice() { echo "${voiceList[$(($1 % ${#voiceList[@]}))]}"; }
speed() { echo $((130 + ($1 * 23 + $2 * 7) % 61)); }  # 130..190
pitch() { echo $((30 + ($1 * 17 + $2 * 11) % 41)); }  # 30..70
upper() { echo "$1" | tr '[:lower:]' '[:upper:]'; }

jobList="$work/jobs"
: >"$jobList"
# mode voice speed pitch text out [extra]: one tab-separated line per clip.
job() {
    local IFS=$'\t'
    echo "$*" >>"$jobList"
}

# ---- LibriSpeech and Kaldi: the same utterances ------------------------------------------------

# set speakerId voiceIndex count: speaker <speakerId> reads phrases 0..count-1 in chapters
# <speakerId>1 (first half) and <speakerId>2 (second half).
declare -a uttIds uttTexts uttSets uttSpeakers
plan_reader() {
    local set=$1 speaker=$2 v=$3 count=$4 i chapter number id
    for ((i = 0; i < count; i++)); do
        if [ "$i" -lt $(((count + 1) / 2)) ]; then chapter=${speaker}1; number=$i
        else chapter=${speaker}2; number=$((i - (count + 1) / 2)); fi
        id=$(printf '%s-%s-%04d' "$speaker" "$chapter" "$number")
        mkdir -p "$out/librispeech/$set/$speaker/$chapter" "$out/kaldi/wav/$set"
        job wav "$(voice "$v")" "$(speed "$v" "$i")" "$(pitch "$v" "$i")" "${phraseList[$i]}" \
            "$out/kaldi/wav/$set/$id.wav" "$out/librispeech/$set/$speaker/$chapter/$id.flac"
        echo "$id $(upper "${phraseList[$i]}")" >>"$out/librispeech/$set/$speaker/$chapter/$speaker-$chapter.trans.txt"
        uttIds+=("$id"); uttTexts+=("$(upper "${phraseList[$i]}")"); uttSets+=("$set"); uttSpeakers+=("$speaker")
    done
}
for ((s = 0; s < speakers; s++)); do plan_reader train $((101 + s)) "$s" "$phrases"; done
if [ "$heldout" -gt 0 ]; then
    plan_reader dev 201 "$speakers" "$heldout"
    plan_reader test 301 $((speakers + 1)) "$heldout"
fi

# ---- Speech Commands --------------------------------------------------------------------------

commandSpeakers=$((commandsTrain + commandsVal + commandsTest))
commandHash() { printf '%08x' $(((($1 + 1) * 2654435761) % 4294967296)); }
mkdir -p "$out/commands/_background_noise_"
: >"$out/commands/validation_list.txt"
: >"$out/commands/testing_list.txt"
for ((l = 0; l < labels; l++)); do
    label=${commandList[$l]}
    mkdir -p "$out/commands/$label"
    for ((k = 0; k < commandSpeakers; k++)); do
        file="$(commandHash "$k")_nohash_0.wav"
        job cmd "$(voice "$k")" "$(speed "$k" "$l")" "$(pitch "$k" "$l")" "$label" "$out/commands/$label/$file"
        if [ "$k" -ge "$commandsTrain" ] && [ "$k" -lt $((commandsTrain + commandsVal)) ]; then
            echo "$label/$file" >>"$out/commands/validation_list.txt"
        elif [ "$k" -ge $((commandsTrain + commandsVal)) ]; then
            echo "$label/$file" >>"$out/commands/testing_list.txt"
        fi
    done
done
echo "Synthetic Speech Commands layout for LossLab's tests (espeak-ng voices)." >"$out/commands/README.md"

# ---- TIMIT ------------------------------------------------------------------------------------

# Words and their TIMIT 61-phone transcriptions (hand-written: the alignment is not real; the
# sample ranges spread the phones evenly over the clip). Sentence 0 is SA1 (excluded by readers).
timitWords=(
    "she had your dark suit"
    "one two three"
    "the winner had a potato"
    "seven boys measure something"
    "stop at the bottom"
    "how cheap is oil"
    "good judge")
timitPhones=(
    "h# sh iy hv ae dcl d y er dcl d aa r kcl k s ux tcl t h#"
    "h# w ah n tcl t uw th r iy h#"
    "h# dh ax w ih nx axr pau hv ae dcl d ax pcl p ax-h tcl t ey dx ow h#"
    "h# s eh v en bcl b oy z epi m eh zh axr s ah m th ih eng h#"
    "h# s tcl t aa pcl p q ae tcl dh ix bcl b aa dx em h#"
    "h# hh aw ch iy pcl p ih z q oy el h#"
    "h# gcl g uh dcl d jh ah dcl jh h#")
# part/region/speaker: two train regions; TEST holds two core-test speakers (mdab0, felc0), two
# dev speakers (faks0, mgwt0) and one speaker in neither list (mrcg0, not used by the recipe).
timitSpeakers=(TRAIN/DR1/FCJF0 TRAIN/DR1/MDPK0 TRAIN/DR2/FAEM0 TRAIN/DR2/MARC0
    TEST/DR1/MDAB0 TEST/DR1/FELC0 TEST/DR2/FAKS0 TEST/DR3/MGWT0 TEST/DR4/MRCG0)
for ((j = 0; j < ${#timitSpeakers[@]}; j++)); do
    dir="$out/timit/${timitSpeakers[$j]}"
    mkdir -p "$dir"
    speaker=${timitSpeakers[$j]##*/}
    case "$speaker" in F*) v=$((3 + 2 * (j % 3))) ;; *) v=$((1 + 5 * (j % 2))) ;; esac # female / male voices
    sx=$((1 + j % 6))
    si=$((1 + (j + 3) % 6))
    for pair in "SA1 0" "SX1 $sx" "SI1 $si"; do
        set -- $pair
        job sph "$(voice "$v")" "$(speed "$j" "$2")" "$(pitch "$j" "$2")" "${timitWords[$2]}" "$dir/$1" \
            "${timitPhones[$2]}"
    done
done

# ---- synthesis ----------------------------------------------------------------------------------

synth() {
    local mode voice speed pitch text target extra
    IFS=$'\t' read -r mode voice speed pitch text target extra <<<"$1"
    local raw="$target.raw.wav"
    espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$raw" "$text"
    case "$mode" in
        wav)
            sox -R -D -G "$raw" -r 16000 -c 1 -b 16 "$target"
            [ -z "$extra" ] || sox -R -D "$target" "$extra"
            ;;
        cmd) # Speech Commands clips are one second long
            sox -V1 -R -D -G "$raw" -r 16000 -c 1 -b 16 "$target" pad 0 1 trim 0 1  # -V1: pad warns when trim cuts it short
            ;;
        sph)
            sox -R -D -G "$raw" -r 16000 -c 1 -b 16 -t sph "$target.WAV"
            local samples phones count i
            samples=$(soxi -s "$target.WAV")
            read -r -a phones <<<"$extra"
            count=${#phones[@]}
            for ((i = 0; i < count; i++)); do
                echo "$((i * samples / count)) $(((i + 1) * samples / count)) ${phones[$i]}"
            done >"$target.PHN"
            local sentence
            sentence="$(echo "${text:0:1}" | tr '[:lower:]' '[:upper:]')${text:1}."
            echo "0 $samples $sentence" >"$target.TXT"
            ;;
    esac
    rm -f "$raw"
}
export -f synth
if ! xargs -d '\n' -P "$jobs" -n 1 bash -c 'set -euo pipefail; synth "$1"' _ <"$jobList"; then
    echo "make_fixture_corpus.sh: synthesis failed (see the espeak-ng / sox messages above)" >&2
    exit 1
fi
sox -R -D -n -r 16000 -c 1 -b 16 "$out/commands/_background_noise_/white_noise.wav" synth 2 whitenoise vol 0.05

# ---- Kaldi data directories ---------------------------------------------------------------------

for set in train dev test; do mkdir -p "$out/kaldi/$set"; : >"$out/kaldi/$set/text"; : >"$out/kaldi/$set/utt2spk"
    : >"$out/kaldi/$set/wav.scp"; done
sox -R -D -n -r 16000 -c 1 -b 16 "$work/gap.wav" trim 0 0.3
pending=""  # test: the first utterance of a recording not yet written
recording=0
for ((u = 0; u < ${#uttIds[@]}; u++)); do
    id=${uttIds[$u]}; set=${uttSets[$u]}
    echo "$id ${uttTexts[$u]}" >>"$out/kaldi/$set/text"
    echo "$id ${uttSpeakers[$u]}" >>"$out/kaldi/$set/utt2spk"
    case "$set" in
        train) echo "$id $out/kaldi/wav/train/$id.wav" >>"$out/kaldi/train/wav.scp" ;;
        dev) echo "$id wav/dev/$id.wav" >>"$out/kaldi/dev/wav.scp" ;;
        test)
            if [ -z "$pending" ] && [ $((u + 1)) -lt ${#uttIds[@]} ]; then pending=$id; continue; fi
            rec=$(printf '%s-rec%02d' "${uttSpeakers[$u]}" "$recording"); recording=$((recording + 1))
            if [ -n "$pending" ]; then
                first="$out/kaldi/wav/test/$pending.wav"
                second="$out/kaldi/wav/test/$id.wav"
                sox -R -D "$first" "$work/gap.wav" "$second" "$out/kaldi/wav/test/$rec.wav"
                d1=$(soxi -D "$first"); d2=$(soxi -D "$second")
                printf '%s %s 0.000 %.3f\n' "$pending" "$rec" "$d1" >>"$out/kaldi/test/segments"
                awk -v u="$id" -v r="$rec" -v a="$d1" -v b="$d2" \
                    'BEGIN { printf "%s %s %.3f %.3f\n", u, r, a + 0.3, a + 0.3 + b }' >>"$out/kaldi/test/segments"
                rm -f "$first" "$second"
                pending=""
            else
                mv "$out/kaldi/wav/test/$id.wav" "$out/kaldi/wav/test/$rec.wav"
                printf '%s %s 0.000 -1\n' "$id" "$rec" >>"$out/kaldi/test/segments"
            fi
            echo "$rec $out/kaldi/wav/test/$rec.wav" >>"$out/kaldi/test/wav.scp"
            ;;
    esac
done
# Kaldi keeps its tables sorted.
for f in "$out"/kaldi/*/{text,utt2spk,wav.scp,segments}; do
    if [ -f "$f" ]; then LC_ALL=C sort -o "$f" "$f"; fi
done
# Written last: LOSSLAB_SPEECH_FIXTURE_DIR users check for it; --from reads the last two lines.
printf 'make_fixture_corpus.sh finished\nsettings: %s\nfolder: %s\n' "$settings" "$out" >"$out/.complete"
exit 0
