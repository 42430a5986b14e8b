#!/usr/bin/env bash
# shellcheck disable=SC2317  # the phase_* functions are called indirectly ("phase_$name")
# The GPU check of LossLab (docs/gpu-check.md): on the GPU machine, builds the headless
# program against the machine's PyTorch LibTorch, runs every test with CUDA required, checks
# CUDA runs (accuracies, out of memory, cancel and resume) and measures the benchmarks against
# PyTorch's Python API; logs and a JSON summary go into RESULTS_DIR.
#
#   scripts/gpu-check.sh RESULTS_DIR [--cpu] [--skip-build] [--only PHASE...] [--list]
#
# Phases, in order (each with its own timeout, its log RESULTS_DIR/PHASE.log and a line of
# RESULTS_DIR/summary.json: {phase, rc, seconds, note, metrics}):
#   deps            extract .gpu-deps/*.deb (scripts/gpu-deps.sh) into /tmp; Fashion-MNIST
#                   into /usr/share/datasets where that is writable (the tests read it there);
#                   CIFAR-format data re-encoded from Fashion-MNIST; libsndfile for the speech
#                   plugin (GPU_CHECK_SPEECH) and libjpeg and libpng for the image reader
#                   (GPU_CHECK_IMAGES) where the machine has none
#   build           configure build-gpu/ (Release, -DLOSSLAB_GUI=OFF, Ninja and ccache when
#                   present) against torch.utils.cmake_prefix_path, build with every core
#   ctest           every test, LOSSLAB_REQUIRE_CUDA=1; fails on a skip whose reason is CUDA;
#                   the speech tests read .gpu-deps/speech-fixture-corpus.tar.xz
#   runs            CUDA runs of default, cifar10/wrn and mnist/tcn_permuted: accuracies sane
#   oom             one run of an experiment with a huge batch fails with "out of memory",
#                   the other completes
#   resume          SIGTERM mid-run: runs cancelled (exit 143); resume: they complete
#   bench_step      bench/run_step_bench.sh --device cuda
#   bench_graphs    losslab-bench-step, eager vs replayed from a CUDA graph (train.cuda_graphs),
#                   MLP and small CNN at batch 128: the ratio graph / eager; the default
#                   experiment with train.cuda_graphs on against off, wall time and numbers
#   bench_default   default experiment, wall time: losslab-cli vs bench/peer_default.py
#   bench_seeds     5 seeds with runner.runs_per_device 5 vs 1: throughput ratio
#   bench_fmnist93  fashion_mnist/cnn: wall time from start to 93 % test accuracy
#   bench_wrn       WRN-28-10 epoch: LossLab / PyTorch Python, achieved TFLOP/s vs peak
#
# --cpu         run on this machine's CPU LibTorch with tiny sizes (the CUDA tests then skip,
#               and oom is skipped): to test the script without a GPU
# --skip-build  use the existing build: build-gpu/ (GPU), build/ (--cpu)
# --only P...   run only these phases (names up to the next option)
# --list        print the phases and exit
# Exit status: 0 every phase passed, 1 a phase failed or timed out, 2 bad usage.
#
# Sizes and timeouts come from GPU_CHECK_* variables (defaults: GPU / --cpu); the whole
# script stops starting phases GPU_CHECK_DEADLINE_S seconds (570) after it started.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
self=$root/scripts/gpu-check.sh
all_phases=(deps build ctest runs oom resume bench_step bench_graphs bench_default bench_seeds bench_fmnist93 bench_wrn)

log() { echo "gpu-check: $*"; }
die() { echo "gpu-check: $*" >&2; exit 2; }

# ---- settings (exported for the phases, which run as `gpu-check.sh __phase NAME`) ---------

# setting NAME GPU_DEFAULT CPU_DEFAULT: GPU_CHECK_NAME from the environment, else the default
# of the mode.
setting() {
  local var=GPU_CHECK_$1
  if [[ -z ${!var+x} ]]; then
    if [[ $GC_MODE == cpu ]]; then printf -v "$var" '%s' "$3"; else printf -v "$var" '%s' "$2"; fi
  fi
  export "${var?}"
}

settings() {
  #       name                 GPU     --cpu
  setting DEADLINE_S           570     1800
  setting BUILD_TIMEOUT        330     2400
  setting CTEST_TIMEOUT        180     900
  setting CTEST_TEST_TIMEOUT   150     300
  setting CTEST_ARGS           ""      ""
  setting SPEECH               auto    auto
  setting IMAGES               auto    auto
  setting RUNS_TIMEOUT         100     300
  setting RUNS_SEEDS           2       1
  setting RUNS_EPOCHS          3       1
  setting RUNS_LIMIT_TRAIN     12000   1000
  setting RUNS_LIMIT_TEST      2000    500
  setting RUNS_WRN_LIMIT_TRAIN 5000    128
  setting RUNS_WRN_EPOCHS      3       1
  setting RUNS_WRN_DEPTH       28      10
  setting RUNS_WRN_WIDEN       10      1
  setting RUNS_TCN_LIMIT_TRAIN 5000    256
  setting RUNS_TCN_LEVELS      8       2
  setting MIN_ACC_DEFAULT      0.75    0.5
  setting MIN_ACC_WRN          0.4     0.05
  setting MIN_ACC_TCN          0.4     0.05
  setting OOM_TIMEOUT          60      60
  setting OOM_BATCH            60000   60000
  setting RESUME_TIMEOUT       90      180
  setting RESUME_TASK          fashion_mnist/cnn fashion_mnist/mlp
  setting RESUME_EPOCHS        6       4
  setting RESUME_LIMIT_TRAIN   0       3000
  setting STEP_TIMEOUT         90      240
  setting STEP_REPEATS         1       1
  setting STEP_STEPS           100     10
  setting STEP_WARMUP          20      3
  setting GRAPHS_TIMEOUT       120     60
  setting DEFAULT_TIMEOUT      150     300
  setting DEFAULT_SEEDS        5       1
  setting DEFAULT_MAX_EPOCHS   20      2
  setting DEFAULT_LIMIT_TRAIN  12000   2000
  setting DEFAULT_RPD          5       0
  setting SEEDS_TIMEOUT        90      240
  setting SEEDS_TASK           fashion_mnist/cnn fashion_mnist/mlp
  setting SEEDS_N              5       2
  setting SEEDS_EPOCHS         2       1
  setting SEEDS_LIMIT_TRAIN    0       2000
  setting F93_TIMEOUT          90      240
  setting F93_TARGET           0.93    0.70
  setting F93_MAX_EPOCHS       20      2
  setting F93_LIMIT_TRAIN      0       3000
  setting WRN_TIMEOUT          120     240
  setting WRN_LIMIT_TRAIN      20000   256
  setting WRN_EPOCHS           2       1
  setting WRN_PRECISION        fp32    fp32
  setting WRN_DEPTH            28      10
  setting WRN_WIDEN            10      1
}

# The python3 with torch: python3 on PATH, else Debian's /usr/bin/python3.
pick_python() {
  local p
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import torch' 2>/dev/null; then echo "$p"; return; fi
  done
  echo python3
}

# Fashion-MNIST: extracted from .gpu-deps, else the Debian package's folder.
fmnist_root() {
  local d
  for d in "$GC_DEPS/usr/share/datasets/fashion-mnist" /usr/share/datasets/fashion-mnist; do
    [[ -e $d/train-images-idx3-ubyte.gz ]] && { echo "$d"; return; }
  done
  echo /usr/share/datasets/fashion-mnist
}

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
stamp() { local line; while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }

# metric KEY VALUE...: adds KEY (JSON value text) to the phase's metrics.
metric() { printf '%s\t%s\n' "$1" "$2" >> "$GC_WORK/metrics/$GC_PHASE.tsv"; }
note() { printf '%s\n' "$*" > "$GC_WORK/metrics/$GC_PHASE.note"; echo "NOTE: $*"; }

# py ARGS...: the helper below (database checks and numbers), with $GC_PY.
py() { "$GC_PY" "$GC_WORK/helper.py" "$@"; }

write_helper() {
  cat > "$GC_WORK/helper.py" <<'PYEOF'
import json, os, re, sqlite3, statistics, sys

def runs_of(db, exp=None):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    if exp is None:
        exp = c.execute("SELECT MAX(id) FROM experiments").fetchone()[0]
    rows = c.execute("""SELECT r.id, r.loss_name, r.protocol, r.seed, r.status, r.epochs, r.best_epoch,
                               COALESCE(r.error, ''), r.wall_seconds, r.device,
                               (SELECT value FROM epoch_metrics e WHERE e.run_id = r.id AND e.epoch = r.best_epoch
                                AND e.split = 'test' AND e.metric = 'acc')
                        FROM runs r WHERE r.experiment_id = ? ORDER BY r.id""", (exp,)).fetchall()
    keys = ["id", "loss", "protocol", "seed", "status", "epochs", "best_epoch", "error", "wall_s", "device", "test_acc"]
    return c, exp, [dict(zip(keys, r)) for r in rows]

def show(rows):
    for r in rows:
        acc = "-" if r["test_acc"] is None else f"{r['test_acc']:.4f}"
        print(f"  run {r['id']}: {r['loss']} {r['protocol']} seed {r['seed']} on {r['device']}: {r['status']}, "
              f"{r['epochs']} epoch(s), reports {r['best_epoch']}, test acc {acc}, {r['wall_s'] or 0:.1f} s"
              + (f" ({r['error']})" if r["error"] else ""))

def check_runs(db, min_acc, want_device):
    """Every run of the latest experiment completed on the device, test accuracy >= min_acc."""
    _, exp, rows = runs_of(db)
    show(rows)
    bad = [r for r in rows if r["status"] != "completed" or r["test_acc"] is None or r["test_acc"] < float(min_acc)
           or not str(r["device"]).startswith(want_device)]
    accs = [r["test_acc"] for r in rows if r["test_acc"] is not None]
    print(json.dumps({"experiment": exp, "runs": len(rows), "bad": len(bad),
                      "min_test_acc": min(accs) if accs else None, "max_test_acc": max(accs) if accs else None}))
    if not rows:
        print("FAIL: no runs stored"); return 1
    for r in bad:
        print(f"FAIL: run {r['id']}: {r['status']} on {r['device']}, test acc {r['test_acc']} (want completed on "
              f"{want_device}, >= {min_acc}) {r['error']}")
    return 1 if bad else 0

def check_oom(db):
    _, _, rows = runs_of(db)
    show(rows)
    oom = [r for r in rows if r["status"] == "failed" and re.search(r"out of memory", r["error"], re.I)]
    done = [r for r in rows if r["status"] == "completed"]
    ok = len(rows) == 2 and len(oom) == 1 and len(done) == 1
    print(json.dumps({"runs": len(rows), "oom_failed": len(oom), "completed": len(done),
                      "oom_error": oom[0]["error"][:300] if oom else None}))
    if not ok:
        print("FAIL: expected one run failed with 'out of memory' and one completed")
    return 0 if ok else 1

def cancelled(db):
    _, _, rows = runs_of(db)
    show(rows)
    other = [r for r in rows if r["status"] not in ("completed", "cancelled")]
    mid = [r for r in rows if r["status"] == "cancelled" and r["epochs"] > 0]
    if other:
        print("FAIL: runs neither completed nor cancelled: " + " ".join(str(r["id"]) for r in other)); return 1
    if not mid:
        print("FAIL: no run was cancelled after at least one epoch"); return 1
    print("CANCELLED " + " ".join(str(r["id"]) for r in rows if r["status"] == "cancelled"))
    return 0

def resumed(db, epochs):
    c, _, rows = runs_of(db)
    show(rows)
    bad = [r for r in rows if r["status"] != "completed" or r["epochs"] != int(epochs)]
    for r in rows:
        lo, hi, n = c.execute("SELECT MIN(epoch), MAX(epoch), COUNT(DISTINCT epoch) FROM epoch_metrics WHERE run_id = ?",
                              (r["id"],)).fetchone()
        if (lo, hi, n) != (1, int(epochs), int(epochs)):
            print(f"FAIL: run {r['id']}: stored epochs {lo}-{hi}, {n} distinct; expected 1-{epochs}")
            bad.append(r)
    for r in bad:
        print(f"FAIL: run {r['id']}: {r['status']} after {r['epochs']} epoch(s), expected completed after {epochs}")
    return 1 if bad else 0

def train_wall(db):
    """JSON: per run of the latest experiment, the train wall_s of every epoch."""
    c, _, rows = runs_of(db)
    out = {}
    for r in rows:
        out[r["id"]] = [v for (v,) in c.execute("SELECT value FROM epoch_metrics WHERE run_id = ? AND split = 'train' "
                                                  "AND metric = 'wall_s' ORDER BY epoch", (r["id"],))]
    print(json.dumps(out))
    return 0

def span(stamped):
    """Seconds from the line that says the runs are stored (after the data was loaded and
    checked) to the last run's end line of a stamped log."""
    t0 = t1 = None
    for line in open(stamped, errors="replace"):
        t, _, text = line.partition(" ")
        if re.search(r"losslab-cli: experiment '.*' \(#\d+\): \d+ runs", text) and t0 is None:
            t0 = float(t)
        if re.search(r": (completed|diverged|failed|cancelled)\b", text):
            t1 = float(t)
    print("nan" if t0 is None or t1 is None else f"{t1 - t0:.3f}")
    return 0

def skips(log, mode):
    """Skipped tests in ctest's LastTest.log, with reasons; CUDA skips fail in gpu mode."""
    text = open(log, errors="replace").read()
    blocks = re.split(r"\n(?=\d+/\d+ Testing: )", text)
    found, bad = [], []
    for b in blocks:
        m = re.match(r"\d+/\d+ Testing: (\S+)", b)
        if not m:
            continue
        name = m.group(1)
        out = b.split("<end of output>")[0]
        status = re.search(r"\nTest (Passed|Failed|Skipped|Not Run)[^\n]*", b)
        lines = out.splitlines()
        reasons = []
        for i, l in enumerate(lines):
            if re.search(r": Skipped$", l) and i + 1 < len(lines):
                reasons.append(lines[i + 1].strip())
            elif re.match(r"\s*skipped:", l, re.I):
                reasons.append(l.strip())
        skipped = "[  SKIPPED ]" in out or (status and status.group(1) in ("Skipped", "Not Run")) or \
            any(r.lower().startswith("skipped:") for r in reasons)
        if not skipped:
            continue
        reason = "; ".join(reasons) or (status.group(0).strip() if status else "no reason given")
        cuda = re.search(r"cuda|gpu|nvidia", reason, re.I)
        expected_on_gpu = re.search(r"\b(has|have) (cuda|a gpu|a cuda)|machine has", reason, re.I)
        kind = "cuda" if cuda and not expected_on_gpu else ("gpu-present" if cuda else "other")
        found.append((name, kind, reason))
        if kind == "cuda" and mode == "gpu":
            bad.append(name)
    for name, kind, reason in found:
        print(f"  skipped [{kind}] {name}: {reason}")
    print(json.dumps({"skipped": len(found), "cuda_skips": sum(k == "cuda" for _, k, _ in found), "bad": bad}))
    if bad:
        print(f"FAIL: {len(bad)} test(s) skipped for want of CUDA on the GPU machine")
    return 1 if bad else 0

def step_ratios(md):
    """JSON {"MODEL, batch B, LOSS": C++ / Python} from run_step_bench.sh's Markdown table."""
    head, out = None, {}
    for line in open(md):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| Model |"):
            head = cells
        elif head and line.startswith("| ") and not line.startswith("|---") and len(cells) == len(head):
            out[f"{cells[0].rstrip('*')}, batch {cells[1]}, {cells[2]}"] = float(cells[head.index("C++ / Python")])
    print(json.dumps(out or None))
    return 0

def graph_ratios(jsonl):
    """JSON {"MODEL, batch B": graph / eager} from losslab-bench-step --json lines, each side the
    median of its invocations' medians."""
    times = {}
    for line in open(jsonl):
        r = json.loads(line)
        key = (f"{r['model']}, batch {r['batch']}", bool(r.get("cuda_graphs")))
        times.setdefault(key, []).append(r["median_ms"])
    out = {}
    for (name, graphed), ms in times.items():
        eager = times.get((name, False))
        if graphed and eager:
            out[name] = round(statistics.median(ms) / statistics.median(eager), 4)
    print(json.dumps(out or None))
    return 0

def same_numbers(db_a, db_b):
    """JSON {"runs": N, "max_abs_diff": D}: the stored epoch metrics (timings aside) of two
    databases of the same experiment, matched by loss, protocol, seed, epoch, split, metric."""
    def values(path):
        c = sqlite3.connect(path)
        rows = c.execute("SELECT r.loss_name, r.protocol, r.seed, e.epoch, e.split, e.metric, e.value "
                         "FROM epoch_metrics e JOIN runs r ON r.id = e.run_id "
                         "WHERE e.metric NOT IN ('wall_s', 'examples_per_s')").fetchall()
        runs = c.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        return runs, {row[:6]: row[6] for row in rows}
    na, a = values(db_a)
    nb, b = values(db_b)
    common = set(a) & set(b)
    diff = max((abs(a[k] - b[k]) for k in common), default=float("nan"))
    print(json.dumps({"runs": na, "runs_other": nb, "values": len(common), "unmatched": len(set(a) ^ set(b)),
                      "max_abs_diff": diff}))
    return 0 if common and na == nb and not set(a) ^ set(b) else 1

def summary(results, work, mode, device):
    phases = []
    for line in open(os.path.join(work, "phases.tsv")):
        name, rc, secs = line.rstrip("\n").split("\t")
        ph = {"phase": name, "rc": int(rc), "seconds": float(secs)}
        mfile = os.path.join(work, "metrics", name + ".tsv")
        if os.path.exists(mfile):
            metrics = {}
            for ml in open(mfile):
                k, _, v = ml.rstrip("\n").partition("\t")
                try:
                    metrics[k] = json.loads(v)
                except ValueError:
                    metrics[k] = v
            ph["metrics"] = metrics
        nfile = os.path.join(work, "metrics", name + ".note")
        if os.path.exists(nfile):
            ph["note"] = open(nfile).read().strip()
        phases.append(ph)
    s = {"mode": mode, "device": device, "ok": all(p["rc"] == 0 for p in phases),
         "total_seconds": round(sum(p["seconds"] for p in phases), 1), "phases": phases}
    info = os.path.join(work, "machine.json")
    if os.path.exists(info):
        s["machine"] = json.load(open(info))
    tmp = os.path.join(results, "summary.json.tmp")
    with open(tmp, "w") as f:
        json.dump(s, f, indent=2)
    os.replace(tmp, os.path.join(results, "summary.json"))
    return 0

def table(results):
    s = json.load(open(os.path.join(results, "summary.json")))
    print(f"| phase | rc | seconds | note |\n|---|---:|---:|---|")
    for p in s["phases"]:
        extra = p.get("note", "")
        print(f"| {p['phase']} | {p['rc']} | {p['seconds']:.1f} | {extra} |")
    print(f"total {s['total_seconds']} s; {'all phases passed' if s['ok'] else 'SOME PHASES FAILED'}")
    return 0

if __name__ == "__main__":
    fn = {"check-runs": check_runs, "check-oom": check_oom, "cancelled": cancelled, "resumed": resumed,
          "train-wall": train_wall, "span": span, "skips": skips, "step-ratios": step_ratios, "graph-ratios": graph_ratios,
          "same-numbers": same_numbers, "summary": summary, "table": table}[sys.argv[1]]
    sys.exit(fn(*sys.argv[2:]))
PYEOF
}

# ---- phases --------------------------------------------------------------------------------

# The extracted libraries whose sonames the machine lacks (`ldconfig -p`) are linked into
# $GC_DEPS_LIB, which is on LD_LIBRARY_PATH for every phase; the machine's own stay in use.
link_missing_libraries() {
  local lib name have linked=()
  rm -rf "$GC_DEPS_LIB"
  mkdir -p "$GC_DEPS_LIB"
  have=$(ldconfig -p 2>/dev/null | awk '$1 ~ /^lib/ { print $1 }')
  for lib in "$GC_DEPS_LIBDIR"/lib*.so.[0-9]*; do
    [[ -e $lib ]] || continue
    name=${lib##*/}
    [[ $name =~ ^lib[^/]*\.so\.[0-9]+$ ]] || continue # sonames only: libFLAC.so.12, not .so.12.0.0
    grep -qxF "$name" <<<"$have" && continue
    ln -sf "$lib" "$GC_DEPS_LIB/$name"
    linked+=("$name")
  done
  log "libraries from .gpu-deps that this machine lacks, in $GC_DEPS_LIB: ${linked[*]:-none}"
}

# The speech plugin's library (GPU_CHECK_SPEECH): auto, the machine's libsndfile where it has
# the headers, else the one extracted from .gpu-deps; deps, the extracted one even where the
# machine has its own (to check this path on a machine that has it); off, neither (and no corpus
# for the speech tests). A program linked against the extracted libsndfile must run before the
# build is given it ($GC_DEPS/sndfile.ok); otherwise the build goes on without the speech plugin.
speech_deps() {
  rm -f "$GC_DEPS/sndfile.ok"
  case $GPU_CHECK_SPEECH in
    off) log "GPU_CHECK_SPEECH=off: no libsndfile from .gpu-deps, no corpus"; metric libsndfile '"off"'; return 0 ;;
    auto)
      if [[ -e /usr/include/sndfile.h ]]; then
        log "libsndfile: the machine's own"; metric libsndfile '"machine"'; return 0
      fi ;;
    deps) ;;
    *) echo "FAIL: GPU_CHECK_SPEECH=$GPU_CHECK_SPEECH: expected auto, deps or off"; return 1 ;;
  esac
  local version
  if [[ ! -e $GC_DEPS/usr/include/sndfile.h || ! -e $GC_DEPS_SNDFILE ]]; then
    note "no libsndfile here or in .gpu-deps (scripts/gpu-deps.sh): the build has no speech plugin"
    metric libsndfile '"none"'
    return 0
  fi
  printf '#include <sndfile.h>\n#include <cstdio>\nint main() { std::puts(sf_version_string()); }\n' \
    > "$GC_WORK/sndfile_check.cpp"
  if c++ -I"$GC_DEPS/usr/include" "$GC_WORK/sndfile_check.cpp" "$GC_DEPS_SNDFILE" -o "$GC_WORK/sndfile_check" \
      && version=$("$GC_WORK/sndfile_check"); then
    touch "$GC_DEPS/sndfile.ok"
    log "libsndfile from .gpu-deps: a program linked against it runs ($version)"
    metric libsndfile "\"$version from .gpu-deps\""
  else
    note "the libsndfile from .gpu-deps does not link or run here: the build has no speech plugin"
    metric libsndfile '"does not run"'
  fi
  return 0
}

# The image reader's libraries (GPU_CHECK_IMAGES), as speech_deps does for libsndfile: auto,
# the machine's libjpeg and libpng where it has jpeglib.h and png.h, else Debian's from
# .gpu-deps; deps, those even where the machine has its own; off, neither. A program that
# starts a JPEG decoder and asks libpng its version must link and run before the build is
# given them ($GC_DEPS/images.ok); otherwise the build has no image reader and the image tests
# skip, saying so.
image_deps() {
  rm -f "$GC_DEPS/images.ok"
  case $GPU_CHECK_IMAGES in
    off) log "GPU_CHECK_IMAGES=off: no libjpeg or libpng from .gpu-deps"; metric image_libs '"off"'; return 0 ;;
    auto)
      if [[ -e /usr/include/jpeglib.h && -e /usr/include/png.h ]]; then
        log "libjpeg and libpng: the machine's own"; metric image_libs '"machine"'; return 0
      fi ;;
    deps) ;;
    *) echo "FAIL: GPU_CHECK_IMAGES=$GPU_CHECK_IMAGES: expected auto, deps or off"; return 1 ;;
  esac
  local inc=$GC_DEPS/usr/include version
  if [[ ! -e $inc/jpeglib.h || ! -e $inc/png.h || ! -e $GC_DEPS_JPEG || ! -e $GC_DEPS_PNG ]]; then
    note "no libjpeg or libpng here or in .gpu-deps (scripts/gpu-deps.sh): the build has no image reader"
    metric image_libs '"none"'
    return 0
  fi
  # Debian keeps jconfig.h in the multiarch folder, which is not on the compiler's path here.
  if [[ ! -e $inc/jconfig.h && -e $inc/x86_64-linux-gnu/jconfig.h ]]; then ln -sf x86_64-linux-gnu/jconfig.h "$inc/jconfig.h"; fi
  cat > "$GC_WORK/image_check.cpp" <<'CPPEOF'
#include <cstdio>
#include <jpeglib.h>
#include <png.h>
int main() {
    jpeg_decompress_struct decoder;
    jpeg_error_mgr errors;
    decoder.err = jpeg_std_error(&errors);
    jpeg_create_decompress(&decoder);
    jpeg_destroy_decompress(&decoder);
    std::printf("libjpeg %d, libpng %s\n", JPEG_LIB_VERSION, png_get_libpng_ver(nullptr));
}
CPPEOF
  if c++ -I"$inc" "$GC_WORK/image_check.cpp" "$GC_DEPS_JPEG" "$GC_DEPS_PNG" -o "$GC_WORK/image_check" \
      && version=$("$GC_WORK/image_check"); then
    touch "$GC_DEPS/images.ok"
    log "libjpeg and libpng from .gpu-deps: a program linked against them runs ($version)"
    metric image_libs "\"$version from .gpu-deps\""
  else
    note "the libjpeg or libpng from .gpu-deps does not link or run here: the build has no image reader"
    metric image_libs '"does not run"'
  fi
  return 0
}

phase_deps() {
  local deb n=0
  mkdir -p "$GC_DEPS"
  for deb in "$root"/.gpu-deps/*.deb; do
    [[ -e $deb ]] || continue
    dpkg -x "$deb" "$GC_DEPS" || { echo "FAIL: dpkg -x $deb"; return 1; }
    n=$((n + 1))
  done
  log "extracted $n package(s) from $root/.gpu-deps into $GC_DEPS"
  local fm; fm=$(fmnist_root)
  [[ -e $fm/train-images-idx3-ubyte.gz ]] || { echo "FAIL: no Fashion-MNIST (run scripts/gpu-deps.sh here and carry .gpu-deps)"; return 1; }
  log "Fashion-MNIST: $fm"
  # The tests read Fashion-MNIST from the Debian package's folder.
  if [[ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
    if mkdir -p /usr/share/datasets/fashion-mnist 2>/dev/null && cp "$fm"/*.gz /usr/share/datasets/fashion-mnist/; then
      log "copied Fashion-MNIST to /usr/share/datasets/fashion-mnist for the tests"
    else
      note "/usr/share/datasets is not writable: the tests that read Fashion-MNIST will fail"
    fi
  fi
  if ! command -v sqlite3 >/dev/null && [[ -x $GC_DEPS/usr/bin/sqlite3 ]]; then
    "$GC_DEPS/usr/bin/sqlite3" --version || note "the extracted sqlite3 does not run here"
  fi
  # CIFAR-format data: Fashion-MNIST padded to 32x32 in 3 channels (Debian has no CIFAR-10).
  local c=$GC_CIFAR f ok=1
  for f in data_batch_1.bin data_batch_2.bin data_batch_3.bin data_batch_4.bin data_batch_5.bin test_batch.bin; do
    [[ $(stat -c %s "$c/$f" 2>/dev/null) == 30730000 ]] || ok=0
  done
  if (( ok )); then log "CIFAR-format data: $c (already there)"
  else "$GC_PY" "$root/bench/wrn_epoch_bench.py" --make-data "$c" --fashion-mnist "$fm" || { echo "FAIL: CIFAR-format data"; return 1; }
  fi
  link_missing_libraries
  speech_deps || return 1
  image_deps || return 1
  # What the machine is.
  "$GC_PY" - "$GC_WORK/machine.json" <<'PYEOF' || true
import json, os, platform, subprocess, sys
info = {"host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()}
try:
    import torch
    info["torch"] = torch.__version__
    info["cuda"] = torch.version.cuda
    info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
except Exception as e:  # noqa: BLE001
    info["torch"] = f"not importable: {e}"
for cmd in (["cmake", "--version"], ["c++", "--version"], ["ninja", "--version"], ["ccache", "--version"], ["nvidia-smi", "-L"]):
    try:
        info[cmd[0]] = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.splitlines()[0]
    except Exception:  # noqa: BLE001
        info[cmd[0]] = None
json.dump(info, open(sys.argv[1], "w"), indent=1)
print(json.dumps(info))
PYEOF
  return 0
}

# first_lib NAME...: the first of these libraries found in the usual multiarch folders.
first_lib() {
  local n d
  for n in "$@"; do
    for d in /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
      [[ -e $d/$n ]] && { echo "$d/$n"; return; }
    done
  done
  echo "/usr/lib/x86_64-linux-gnu/$1"
}

phase_build() {
  if (( GC_SKIP_BUILD )); then
    [[ -x $GC_BUILD/bin/losslab-cli ]] || { echo "FAIL: --skip-build: no $GC_BUILD/bin/losslab-cli"; return 1; }
    log "--skip-build: using $GC_BUILD"; note "skipped (--skip-build): $GC_BUILD"; return 0
  fi
  local prefix gen=() launcher=() extra=()
  prefix=$("$GC_PY" -c 'import torch; print(torch.utils.cmake_prefix_path)') || { echo "FAIL: $GC_PY cannot import torch"; return 1; }
  command -v ninja >/dev/null && gen=(-G Ninja)
  if command -v ccache >/dev/null; then
    export CCACHE_DIR=$GC_BUILD/.ccache CCACHE_BASEDIR=$root CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
    export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    ccache -z >/dev/null 2>&1 || true
  fi
  if [[ ! -e /usr/include/sqlite3.h && -e $GC_DEPS/usr/include/sqlite3.h ]]; then
    extra+=(-DSQLite3_INCLUDE_DIR="$GC_DEPS/usr/include" -DSQLite3_LIBRARY="$(first_lib libsqlite3.so.0 libsqlite3.so)")
  fi
  if [[ ! -e /usr/include/zlib.h && -e $GC_DEPS/usr/include/zlib.h ]]; then
    extra+=(-DZLIB_INCLUDE_DIR="$GC_DEPS/usr/include" -DZLIB_LIBRARY="$(first_lib libz.so.1 libz.so)")
  fi
  if [[ -e $GC_DEPS/sndfile.ok ]]; then # speech_deps: core/CMakeLists.txt's way without pkg-config
    extra+=(-DSNDFILE_INCLUDE_DIR="$GC_DEPS/usr/include" -DSNDFILE_LIBRARY="$GC_DEPS_SNDFILE")
    [[ $GPU_CHECK_SPEECH == deps ]] && extra+=(-DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON)
  fi
  if [[ -e $GC_DEPS/images.ok ]]; then # image_deps: FindJPEG and FindPNG pointed at the extracted ones
    extra+=(-DJPEG_INCLUDE_DIR="$GC_DEPS/usr/include" -DJPEG_LIBRARY="$GC_DEPS_JPEG"
            -DPNG_PNG_INCLUDE_DIR="$GC_DEPS/usr/include" -DPNG_LIBRARY="$GC_DEPS_PNG")
  fi
  local t0; t0=$(now)
  cmake -S "$root" -B "$GC_BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DLOSSLAB_GUI=OFF -DLOSSLAB_TESTS=ON \
    -DLOSSLAB_BENCH=ON -DCMAKE_PREFIX_PATH="$prefix" "${launcher[@]}" "${extra[@]}" || { echo "FAIL: configure"; return 1; }
  metric configure_s "$(elapsed "$t0")"
  t0=$(now)
  cmake --build "$GC_BUILD" -j"$(nproc)" || { echo "FAIL: build"; return 1; }
  metric build_s "$(elapsed "$t0")"
  if command -v ccache >/dev/null; then ccache -s 2>/dev/null | head -20; fi
  return 0
}

phase_ctest() {
  [[ -x $GC_CLI ]] || { echo "FAIL: no $GC_CLI (build first)"; return 1; }
  if ! command -v sqlite3 >/dev/null && [[ -x $GC_DEPS/usr/bin/sqlite3 ]]; then export PATH=$GC_DEPS/usr/bin:$PATH; fi
  if [[ $GC_MODE == gpu ]]; then export LOSSLAB_REQUIRE_CUDA=1; fi
  # The speech tests' corpus, made by scripts/gpu-deps.sh (no espeak-ng or sox here).
  local corpus=$root/.gpu-deps/speech-fixture-corpus.tar.xz
  if [[ $GPU_CHECK_SPEECH != off && -e $corpus ]]; then export LOSSLAB_FIXTURE_FROM=$corpus; fi
  local rc args=()
  read -r -a args <<<"$GPU_CHECK_CTEST_ARGS"
  ctest --test-dir "$GC_BUILD" -j"$(nproc)" --timeout "$GPU_CHECK_CTEST_TEST_TIMEOUT" --output-on-failure "${args[@]}"
  rc=$?
  local lastlog=$GC_BUILD/Testing/Temporary/LastTest.log
  [[ -e $lastlog ]] || { echo "FAIL: no $lastlog"; return 1; }
  echo "--- skipped tests (from $lastlog) ---"
  py skips "$lastlog" "$GC_MODE" | tee "$GC_WORK/skips.out"
  local srule=${PIPESTATUS[0]}
  metric skips "$(tail -1 "$GC_WORK/skips.out" | grep '^{' || echo null)"
  metric ctest_rc "$rc"
  (( rc == 0 && srule == 0 ))
}

# run_and_check NAME MIN_ACC ARGS...: losslab-cli run ARGS into runs.sqlite, then the check.
run_and_check() {
  local name=$1 min=$2 t0 rc; shift 2
  log "--- $name: losslab-cli run $*"
  t0=$(now)
  "$GC_CLI" run "$@" --db "$GC_WORK/runs.sqlite"
  rc=$?
  metric "${name}_s" "$(elapsed "$t0")"
  echo "losslab-cli run exited $rc"
  py check-runs "$GC_WORK/runs.sqlite" "$min" "$GC_DEVICE" | tee "$GC_WORK/$name.check"
  local crc=${PIPESTATUS[0]}
  metric "$name" "$(grep '^{' "$GC_WORK/$name.check" | tail -1 || echo null)"
  (( rc == 0 && crc == 0 ))
}

phase_runs() {
  local fm ok=0; fm=$(fmnist_root)
  rm -f "$GC_WORK/runs.sqlite"
  rm -rf "$GC_WORK/runs-checkpoints"
  run_and_check default "$GPU_CHECK_MIN_ACC_DEFAULT" default --device "$GC_DEVICE" \
    --seeds "$GPU_CHECK_RUNS_SEEDS" --max-epochs "$GPU_CHECK_RUNS_EPOCHS" --limit-train "$GPU_CHECK_RUNS_LIMIT_TRAIN" \
    --set data.root="$fm" --set data.limit_test="$GPU_CHECK_RUNS_LIMIT_TEST" || ok=1
  run_and_check wrn "$GPU_CHECK_MIN_ACC_WRN" wrn_cifar10 --device "$GC_DEVICE" --seeds 1 \
    --max-epochs "$GPU_CHECK_RUNS_WRN_EPOCHS" --limit-train "$GPU_CHECK_RUNS_WRN_LIMIT_TRAIN" \
    --set data.root="$GC_CIFAR" --set data.limit_test="$GPU_CHECK_RUNS_LIMIT_TEST" \
    --set model.depth="$GPU_CHECK_RUNS_WRN_DEPTH" --set model.widen_factor="$GPU_CHECK_RUNS_WRN_WIDEN" \
    --set train.train_metrics=at_report || ok=1
  run_and_check tcn "$GPU_CHECK_MIN_ACC_TCN" tcn_permuted_mnist --device "$GC_DEVICE" --seeds 1 \
    --max-epochs "$GPU_CHECK_RUNS_EPOCHS" --limit-train "$GPU_CHECK_RUNS_TCN_LIMIT_TRAIN" \
    --set data.root="$fm" --set data.limit_test="$GPU_CHECK_RUNS_LIMIT_TEST" \
    --set model.levels="$GPU_CHECK_RUNS_TCN_LEVELS" --set train.train_metrics=at_report || ok=1
  "$GC_CLI" list --db "$GC_WORK/runs.sqlite"
  return "$ok"
}

phase_oom() {
  if [[ $GC_MODE == cpu ]]; then note "skipped in --cpu mode (no CUDA memory to exhaust)"; return 0; fi
  local fm rc; fm=$(fmnist_root)
  rm -f "$GC_WORK/oom.sqlite"
  # Two runs: the whole training set in one batch (TCN activations: hundreds of GB) and 256
  # examples in one batch; the huge one runs first, so the second also shows the recovery.
  cat > "$GC_WORK/oom.yaml" <<YAML
name: gpu-check-oom
task: mnist/tcn_permuted
device: $GC_DEVICE
losses: [ce]
protocols: [fixed_epochs]
seeds: 1
data: {root: $fm, limit_test: 1000}
train: {batch_size: $GPU_CHECK_OOM_BATCH, max_epochs: 1}
runner: {runs_per_device: 1}
sweep:
  data.limit_train: [0, 256]
YAML
  cat "$GC_WORK/oom.yaml"
  "$GC_CLI" run "$GC_WORK/oom.yaml" --db "$GC_WORK/oom.sqlite"
  rc=$?
  echo "losslab-cli run exited $rc (expected 1: a run failed)"
  py check-oom "$GC_WORK/oom.sqlite" | tee "$GC_WORK/oom.check"
  local crc=${PIPESTATUS[0]}
  metric oom "$(grep '^{' "$GC_WORK/oom.check" | tail -1 || echo null)"
  (( rc == 1 && crc == 0 ))
}

phase_resume() {
  local fm rc pid db=$GC_WORK/resume.sqlite; fm=$(fmnist_root)
  rm -f "$db"; rm -rf "$GC_WORK/resume-checkpoints"
  cat > "$GC_WORK/resume.yaml" <<YAML
name: gpu-check-resume
task: $GPU_CHECK_RESUME_TASK
device: $GC_DEVICE
losses: [ce, square]
protocols: [early_stopping]
seeds: 1
data: {root: $fm, limit_train: $GPU_CHECK_RESUME_LIMIT_TRAIN, limit_test: 2000}
train: {max_epochs: $GPU_CHECK_RESUME_EPOCHS, patience: 1000}
runner: {$GC_PAR_KEY: 2}
YAML
  cat "$GC_WORK/resume.yaml"
  : > "$GC_WORK/resume.err"
  "$GC_CLI" run "$GC_WORK/resume.yaml" --db "$db" > "$GC_WORK/resume.out" 2> "$GC_WORK/resume.err" &
  pid=$!
  local i
  for ((i = 0; i < 2400; ++i)); do
    grep -q ' epoch 1/' "$GC_WORK/resume.err" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"; rc=$?
  cat "$GC_WORK/resume.err"
  echo "losslab-cli run exited $rc after SIGTERM (expected 143)"
  (( rc == 143 )) || { echo "FAIL: exit $rc; if 0, the runs finished before the signal: raise GPU_CHECK_RESUME_EPOCHS"; return 1; }
  py cancelled "$db" | tee "$GC_WORK/resume.check"
  (( PIPESTATUS[0] == 0 )) || return 1
  local ids; ids=$(sed -n 's/^CANCELLED //p' "$GC_WORK/resume.check")
  log "resuming runs $ids"
  # shellcheck disable=SC2086
  "$GC_CLI" resume --db "$db" $ids
  rc=$?
  echo "losslab-cli resume exited $rc"
  py resumed "$db" "$GPU_CHECK_RESUME_EPOCHS"
  local crc=$?
  metric resume "{\"cancelled\": \"$ids\", \"resume_rc\": $rc}"
  (( rc == 0 && crc == 0 ))
}

phase_bench_step() {
  local extra=()
  [[ $GC_MODE == cpu ]] && extra=(--quick)
  LOSSLAB_BUILD_DIR=$GC_BUILD LOSSLAB_BENCH_PYTHON=$GC_PY "$root/bench/run_step_bench.sh" --device "$GC_DEVICE" \
    --repeats "$GPU_CHECK_STEP_REPEATS" --steps "$GPU_CHECK_STEP_STEPS" --warmup "$GPU_CHECK_STEP_WARMUP" \
    --wait-idle 2 "${extra[@]}" | tee "$GC_WORK/step.md"
  local rc=${PIPESTATUS[0]}
  # The ratio column (C++ / Python) of each row, for the summary.
  metric step_ratios "$(py step-ratios "$GC_WORK/step.md")"
  return "$rc"
}

phase_bench_graphs() {
  if [[ $GC_MODE == cpu ]]; then note "skipped in --cpu mode (CUDA graphs need a GPU)"; return 0; fi
  local model mode fm t0 eager graphed
  rm -f "$GC_WORK/graphs.jsonl"
  # Alternating invocations, each side twice, so that drift over the phase hits both.
  for model in mlp cnn; do
    for mode in off on off on; do
      "$GC_BUILD/bin/losslab-bench-step" --device cuda --model "$model" --batch 128 --steps "$GPU_CHECK_STEP_STEPS" \
        --warmup "$GPU_CHECK_STEP_WARMUP" --cuda-graphs "$mode" --json | tee -a "$GC_WORK/graphs.jsonl"
      (( PIPESTATUS[0] == 0 )) || { echo "FAIL: losslab-bench-step --model $model --cuda-graphs $mode"; return 1; }
    done
  done
  metric graph_ratios "$(py graph-ratios "$GC_WORK/graphs.jsonl")"
  # The default experiment (one seed) with and without graphs: the same numbers, and the time.
  fm=$(fmnist_root)
  local common=(--device cuda --seeds 1 --max-epochs "$GPU_CHECK_DEFAULT_MAX_EPOCHS" --limit-train "$GPU_CHECK_DEFAULT_LIMIT_TRAIN"
                --set data.root="$fm" --quiet)
  rm -f "$GC_WORK/graphs-off.sqlite" "$GC_WORK/graphs-on.sqlite"
  t0=$(now)
  "$GC_CLI" run default "${common[@]}" --set train.cuda_graphs=off --db "$GC_WORK/graphs-off.sqlite" || { echo "FAIL: run, graphs off"; return 1; }
  eager=$(elapsed "$t0")
  t0=$(now)
  "$GC_CLI" run default "${common[@]}" --set train.cuda_graphs=on --db "$GC_WORK/graphs-on.sqlite" || { echo "FAIL: run, graphs on"; return 1; }
  graphed=$(elapsed "$t0")
  metric default_eager_s "$eager"
  metric default_graphs_s "$graphed"
  local same; same=$(py same-numbers "$GC_WORK/graphs-off.sqlite" "$GC_WORK/graphs-on.sqlite")
  local rc=$?
  metric default_graphs_numbers "$same"
  echo "numbers, graphs on vs off: $same"
  return "$rc"
}

phase_bench_default() {
  local fm t0 rc ll peer rpd; fm=$(fmnist_root)
  local common=(--device "$GC_DEVICE" --seeds "$GPU_CHECK_DEFAULT_SEEDS" --max-epochs "$GPU_CHECK_DEFAULT_MAX_EPOCHS"
                --limit-train "$GPU_CHECK_DEFAULT_LIMIT_TRAIN")
  rm -f "$GC_WORK/default.sqlite"
  log "--- LossLab: losslab-cli run default ${common[*]} (as shipped: runs_per_device 1)"
  t0=$(now)
  "$GC_CLI" run default "${common[@]}" --set data.root="$fm" --db "$GC_WORK/default.sqlite" --quiet || { echo "FAIL: losslab-cli run"; return 1; }
  ll=$(elapsed "$t0")
  metric losslab_s "$ll"
  if (( GPU_CHECK_DEFAULT_RPD > 1 )); then
    log "--- LossLab with runner.runs_per_device=$GPU_CHECK_DEFAULT_RPD"
    t0=$(now)
    "$GC_CLI" run default "${common[@]}" --set data.root="$fm" --set runner.runs_per_device="$GPU_CHECK_DEFAULT_RPD" \
      --db "$GC_WORK/default.sqlite" --quiet || { echo "FAIL: losslab-cli run"; return 1; }
    rpd=$(elapsed "$t0")
    metric losslab_rpd_s "$rpd"
  fi
  log "--- PyTorch Python: bench/peer_default.py"
  t0=$(now)
  "$GC_PY" "$root/bench/peer_default.py" "${common[@]}" --data-root "$fm" --threads "$(nproc)" > "$GC_WORK/peer.json"
  rc=$?
  peer=$(elapsed "$t0")
  cat "$GC_WORK/peer.json"
  (( rc == 0 )) || { echo "FAIL: peer_default.py exited $rc"; return 1; }
  metric peer_s "$peer"
  metric peer_mean_test_acc "$("$GC_PY" -c 'import json,sys; r=json.load(open(sys.argv[1]))["runs"]; print(round(sum(x["test_acc"] for x in r)/len(r),4))' "$GC_WORK/peer.json")"
  local ratio; ratio=$(awk -v a="$ll" -v b="$peer" 'BEGIN { printf "%.3f", a / b }')
  metric ratio_losslab_over_peer "$ratio"
  local msg="LossLab ${ll} s / PyTorch Python ${peer} s = ${ratio} (goal <= 0.2)"
  [[ -n ${rpd:-} ]] && msg+="; with runs_per_device $GPU_CHECK_DEFAULT_RPD: ${rpd} s = $(awk -v a="$rpd" -v b="$peer" 'BEGIN { printf "%.3f", a / b }')"
  note "$msg"
  return 0
}

phase_bench_seeds() {
  local fm; fm=$(fmnist_root)
  cat > "$GC_WORK/seeds.yaml" <<YAML
name: gpu-check-seeds
task: $GPU_CHECK_SEEDS_TASK
device: $GC_DEVICE
losses: [ce]
protocols: [fixed_epochs]
seeds: $GPU_CHECK_SEEDS_N
data: {root: $fm, limit_train: $GPU_CHECK_SEEDS_LIMIT_TRAIN}
train: {max_epochs: $GPU_CHECK_SEEDS_EPOCHS, train_metrics: at_report}
YAML
  cat "$GC_WORK/seeds.yaml"
  local par t0 wall span
  declare -A spans walls
  for par in 1 "$GPU_CHECK_SEEDS_N"; do
    rm -f "$GC_WORK/seeds.sqlite"
    log "--- $GC_PAR_KEY=$par"
    t0=$(now)
    "$GC_CLI" run "$GC_WORK/seeds.yaml" --db "$GC_WORK/seeds.sqlite" --set "runner.$GC_PAR_KEY=$par" 2>&1 >/dev/null \
      | stamp > "$GC_WORK/seeds-$par.log"
    (( PIPESTATUS[0] == 0 )) || { cat "$GC_WORK/seeds-$par.log"; echo "FAIL: losslab-cli run"; return 1; }
    wall=$(elapsed "$t0")
    span=$(py span "$GC_WORK/seeds-$par.log")
    cat "$GC_WORK/seeds-$par.log"
    walls[$par]=$wall; spans[$par]=$span
    echo "$GC_PAR_KEY=$par: process ${wall} s; from the runs' being stored (data loaded) to the last run's end ${span} s"
  done
  local n=$GPU_CHECK_SEEDS_N
  local ratio; ratio=$(awk -v a="${spans[1]}" -v b="${spans[$n]}" 'BEGIN { printf "%.2f", a / b }')
  metric "span_s_par1" "${spans[1]}"; metric "span_s_par$n" "${spans[$n]}"
  metric "wall_s_par1" "${walls[1]}"; metric "wall_s_par$n" "${walls[$n]}"
  metric throughput_ratio "$ratio"
  local pratio; pratio=$(awk -v a="${walls[1]}" -v b="${walls[$n]}" 'BEGIN { printf "%.2f", a / b }')
  metric throughput_ratio_process "$pratio"
  note "$n seeds, $GC_PAR_KEY=$n vs 1: throughput x$ratio (runs ${spans[$n]} s vs ${spans[1]} s; whole process x$pratio; goal >= 4 on CUDA)"
  return 0
}

phase_bench_fmnist93() {
  local fm pid t0 rc line hit="" epoch="" best=0; fm=$(fmnist_root)
  rm -f "$GC_WORK/f93.sqlite"
  cat > "$GC_WORK/f93.yaml" <<YAML
name: gpu-check-fmnist93
task: fashion_mnist/cnn
device: $GC_DEVICE
losses: [ce]
protocols: [early_stopping]
seeds: 1
data: {root: $fm, limit_train: $GPU_CHECK_F93_LIMIT_TRAIN}
train: {max_epochs: $GPU_CHECK_F93_MAX_EPOCHS, patience: 1000, train_metrics: at_report}
YAML
  cat "$GC_WORK/f93.yaml"
  : > "$GC_WORK/f93.err"
  t0=$(now)
  "$GC_CLI" run "$GC_WORK/f93.yaml" --db "$GC_WORK/f93.sqlite" > /dev/null 2> "$GC_WORK/f93.err" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    line=$(grep -E ' epoch [0-9]+/.*test acc [0-9.]+' "$GC_WORK/f93.err" \
           | awk -v t="$GPU_CHECK_F93_TARGET" '{ for (i = 1; i < NF; ++i) if ($i == "acc" && $(i-1) == "test") { a = $(i+1) + 0; if (a >= t) { print; exit } } }')
    if [[ -n $line ]]; then hit=$(elapsed "$t0"); kill -INT "$pid"; break; fi
    sleep 0.1
  done
  wait "$pid"; rc=$?
  cat "$GC_WORK/f93.err"
  # The best test accuracy seen, and the epoch that reached the target.
  best=$(grep -oE 'test acc [0-9.]+' "$GC_WORK/f93.err" | awk '{ if ($3 > m) m = $3 } END { print m + 0 }')
  epoch=$(sed -n 's/.* epoch \([0-9]*\)\/.*/\1/p' <<<"$line")
  metric best_test_acc "$best"
  if [[ -n $hit ]]; then
    metric seconds_to_target "$hit"; metric epoch "$epoch"
    note "test acc >= $GPU_CHECK_F93_TARGET at epoch $epoch, ${hit} s from start"
    (( rc == 130 || rc == 0 )) || { echo "FAIL: exit $rc"; return 1; }
  else
    metric seconds_to_target null
    note "test acc $GPU_CHECK_F93_TARGET not reached in $GPU_CHECK_F93_MAX_EPOCHS epochs (best $best)"
    (( rc == 0 )) || { echo "FAIL: exit $rc"; return 1; }
  fi
  return 0
}

phase_bench_wrn() {
  local t0 rc ll_wall
  rm -f "$GC_WORK/wrn.sqlite"
  cat > "$GC_WORK/wrn.yaml" <<YAML
name: gpu-check-wrn
task: cifar10/wrn
device: $GC_DEVICE
losses: [ce]
protocols: [fixed_epochs]
seeds: 1
data: {root: $GC_CIFAR, limit_train: $GPU_CHECK_WRN_LIMIT_TRAIN, limit_test: 500}
train: {max_epochs: $GPU_CHECK_WRN_EPOCHS, train_metrics: at_report, precision: $GPU_CHECK_WRN_PRECISION}
model: {depth: $GPU_CHECK_WRN_DEPTH, widen_factor: $GPU_CHECK_WRN_WIDEN}
YAML
  cat "$GC_WORK/wrn.yaml"
  t0=$(now)
  "$GC_CLI" run "$GC_WORK/wrn.yaml" --db "$GC_WORK/wrn.sqlite" || { echo "FAIL: losslab-cli run"; return 1; }
  ll_wall=$(elapsed "$t0")
  py train-wall "$GC_WORK/wrn.sqlite" > "$GC_WORK/wrn-ll.json" || return 1
  log "LossLab train wall_s per epoch: $(cat "$GC_WORK/wrn-ll.json")"
  "$GC_PY" "$root/bench/wrn_epoch_bench.py" --data-root "$GC_CIFAR" --device "$GC_DEVICE" \
    --limit-train "$GPU_CHECK_WRN_LIMIT_TRAIN" --epochs "$GPU_CHECK_WRN_EPOCHS" --depth "$GPU_CHECK_WRN_DEPTH" \
    --widen "$GPU_CHECK_WRN_WIDEN" --precision "$GPU_CHECK_WRN_PRECISION" --threads "$(nproc)" > "$GC_WORK/wrn-py.json"
  rc=$?
  cat "$GC_WORK/wrn-py.json"
  (( rc == 0 )) || { echo "FAIL: wrn_epoch_bench.py exited $rc"; return 1; }
  "$GC_PY" - "$GC_WORK/wrn-ll.json" "$GC_WORK/wrn-py.json" "$GC_WORK/metrics/$GC_PHASE" "$ll_wall" <<'PYEOF'
import json, sys
ll = json.load(open(sys.argv[1])); py = json.load(open(sys.argv[2])); out = sys.argv[3]
ll_epochs = next(iter(ll.values()))
ll_s, py_s = ll_epochs[-1], py["epoch_s"][-1]
n, g = py["images"], py["train_gflop_per_image"]
ll_tf = g * n / ll_s / 1000.0
m = {"images": n, "losslab_epoch_s": round(ll_s, 3), "python_epoch_s": round(py_s, 3),
     "ratio_losslab_over_python": round(ll_s / py_s, 3), "train_gflop_per_image": g,
     "losslab_tflops": round(ll_tf, 2), "python_tflops": py["achieved_tflops"],
     "peak_tf32_tflops": py["peak_tf32_tflops"], "peak_fp32_tflops": py["peak_fp32_tflops"],
     "losslab_process_s": float(sys.argv[4]), "gpu": py["gpu"], "cudnn_allow_tf32": py["cudnn_allow_tf32"]}
with open(out + ".tsv", "a") as f:
    for k, v in m.items():
        f.write(f"{k}\t{json.dumps(v)}\n")
peak = py["peak_tf32_tflops"]
text = (f"WRN-{py['depth']}-{py['widen']}, {n} images, last of {len(ll_epochs)} epoch(s): LossLab {ll_s:.2f} s, "
        f"Python {py_s:.2f} s, ratio {ll_s / py_s:.2f}; LossLab {ll_tf:.3g} TFLOP/s"
        + (f" = {100 * ll_tf / peak:.0f} % of the TF32 dense peak {peak}" if peak else "")
        + f", Python {py['achieved_tflops']:.3g}")
open(out + ".note", "w").write(text + "\n")
print("NOTE: " + text)
PYEOF
}

# ---- one phase, as a child process (so that `timeout` can end it and all it started) -------

if [[ ${1:-} == __phase ]]; then
  GC_PHASE=$2
  export GC_PHASE
  cd "$root" || exit 1
  "phase_$GC_PHASE"
  exit $?
fi

# ---- the driver ----------------------------------------------------------------------------

results=""
GC_MODE=gpu
GC_SKIP_BUILD=0
only=()
while (($#)); do
  case $1 in
    --cpu) GC_MODE=cpu; shift ;;
    --skip-build) GC_SKIP_BUILD=1; shift ;;
    --only)
      shift
      while (($#)) && [[ $1 != --* ]]; do only+=("$1"); shift; done
      ((${#only[@]})) || die "--only: name at least one phase (--list)" ;;
    --list) printf '%s\n' "${all_phases[@]}"; exit 0 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [[ -z $results ]] || die "one RESULTS_DIR only (got '$results' and '$1')"; results=$1; shift ;;
  esac
done
[[ -n $results ]] || die "usage: scripts/gpu-check.sh RESULTS_DIR [--cpu] [--skip-build] [--only PHASE...] (--help)"
for p in "${only[@]}"; do
  [[ " ${all_phases[*]} " == *" $p "* ]] || die "--only: unknown phase '$p'; phases: ${all_phases[*]}"
done
mkdir -p "$results" || die "cannot create $results"
results=$(cd "$results" && pwd)

export GC_MODE GC_SKIP_BUILD
export GC_RESULTS=$results
export GC_WORK=${GPU_CHECK_WORK:-/tmp/losslab-gpu-check}
export GC_DEPS=${GPU_CHECK_DEPS_DIR:-/tmp/losslab-gpu-deps}
export GC_DEPS_LIB=$GC_DEPS/lib-missing # link_missing_libraries: the libraries the machine lacks
export GC_DEPS_LIBDIR=$GC_DEPS/usr/lib/x86_64-linux-gnu # extracted from .gpu-deps
export GC_DEPS_SNDFILE=$GC_DEPS_LIBDIR/libsndfile.so
export GC_DEPS_JPEG=$GC_DEPS_LIBDIR/libjpeg.so
export GC_DEPS_PNG=$GC_DEPS_LIBDIR/libpng16.so
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$GC_DEPS_LIB
export GC_CIFAR=$GC_WORK/data/cifar-10-batches-bin
if [[ $GC_MODE == cpu ]]; then
  export GC_DEVICE=cpu GC_PAR_KEY=cpu_runs
  if (( GC_SKIP_BUILD )); then export GC_BUILD=${GPU_CHECK_BUILD_DIR:-$root/build}
  else export GC_BUILD=${GPU_CHECK_BUILD_DIR:-$root/build-gpu}; fi
else
  export GC_DEVICE=cuda GC_PAR_KEY=runs_per_device GC_BUILD=${GPU_CHECK_BUILD_DIR:-$root/build-gpu}
fi
export GC_CLI=$GC_BUILD/bin/losslab-cli
GC_PY=${GPU_CHECK_PYTHON:-$(pick_python)}
export GC_PY
settings
mkdir -p "$GC_WORK/metrics" "$GC_WORK/data"
rm -f "$GC_WORK/phases.tsv" "$GC_WORK"/metrics/*
write_helper

if ((${#only[@]})); then phases=("${only[@]}"); else phases=("${all_phases[@]}"); fi
start=$(now)
log "mode $GC_MODE, device $GC_DEVICE, build $GC_BUILD, python $GC_PY, results $results"
log "phases: ${phases[*]}; deadline ${GPU_CHECK_DEADLINE_S} s"
failed=0
for p in "${phases[@]}"; do
  var=GPU_CHECK_${p^^}_TIMEOUT
  case $p in
    deps) limit=60 ;;
    bench_step) limit=$GPU_CHECK_STEP_TIMEOUT ;;
    bench_graphs) limit=$GPU_CHECK_GRAPHS_TIMEOUT ;;
    bench_default) limit=$GPU_CHECK_DEFAULT_TIMEOUT ;;
    bench_seeds) limit=$GPU_CHECK_SEEDS_TIMEOUT ;;
    bench_fmnist93) limit=$GPU_CHECK_F93_TIMEOUT ;;
    bench_wrn) limit=$GPU_CHECK_WRN_TIMEOUT ;;
    *) limit=${!var} ;;
  esac
  left=$(awk -v s="$start" -v n="$(now)" -v d="$GPU_CHECK_DEADLINE_S" 'BEGIN { printf "%d", d - (n - s) - 5 }')
  (( left < limit )) && limit=$left
  t0=$(now)
  if (( limit < 15 )); then
    rc=124
    echo "not started: ${left} s left before the deadline" > "$results/$p.log"
    printf 'not started: no time left before the %s s deadline\n' "$GPU_CHECK_DEADLINE_S" > "$GC_WORK/metrics/$p.note"
  else
    # timeout leads its own process group; whatever the phase left running there (a run still
    # stopping after the signal) is killed once it returns.
    timeout -k 10 "$limit" "$self" __phase "$p" > "$results/$p.log" 2>&1 &
    tpid=$!
    wait "$tpid"
    rc=$?
    kill -KILL -- "-$tpid" 2>/dev/null
    if (( rc == 124 || rc == 137 )); then
      echo "gpu-check: phase $p timed out after $limit s" >> "$results/$p.log"
      printf 'timed out after %s s\n' "$limit" > "$GC_WORK/metrics/$p.note"
    fi
  fi
  secs=$(elapsed "$t0")
  printf '%s\t%s\t%s\n' "$p" "$rc" "$secs" >> "$GC_WORK/phases.tsv"
  py summary "$results" "$GC_WORK" "$GC_MODE" "$GC_DEVICE"
  (( rc == 0 )) || failed=1
  status=ok; (( rc == 0 )) || status="FAILED (rc $rc; see $results/$p.log)"
  log "$p: $status, $secs s$( [[ -e $GC_WORK/metrics/$p.note ]] && echo "; $(cat "$GC_WORK/metrics/$p.note")")"
done
echo
py table "$results"
exit $failed
