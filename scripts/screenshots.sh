#!/usr/bin/env bash
# Takes the documentation's screenshots (docs/screenshots/) under Xvfb:
#   1. a scratch database gets a finished, shortened default experiment through losslab-cli
#      (3 seeds, 3,000 training examples, at most 8 epochs: about a minute on 2 cores);
#   2. losslab_ui_screenshots opens the window on it at 1366x768 and at 2560x1440, starts
#      the default experiment live and grabs the main views.
# Needs the full build (scripts/build.sh) and Xvfb (scripts/install-deps.sh --screenshots).
# Look at the pictures before committing them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOSSLAB_BUILD_DIR:-$root/build}
out=${1:-$root/docs/screenshots}
"$root/scripts/install-deps.sh" --screenshots
cmake --build "$build" -j "$(nproc)" --target losslab_cli losslab_ui_screenshots losslab_presets >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$build/bin/losslab-cli" run "$root/resources/experiments/default.yaml" --db "$scratch/runs.sqlite" \
  --seeds 3 --limit-train 3000 --max-epochs 8 --device cpu --quiet >/dev/null
mkdir -p "$out"
export XDG_CONFIG_HOME="$scratch/config" XDG_RUNTIME_DIR="$scratch/runtime"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
shoot() { # screen prefix [window size; default: the window's first-start size]
  xvfb-run -a -s "-screen 0 $1x24 -dpi 96" \
    "$build/bin/losslab_ui_screenshots" --db "$scratch/runs.sqlite" --out "$out" --prefix "$2" ${3:+--size "$3"}
}
shoot 1366x768 "" 1366x768          # a small laptop screen, window maximised
shoot 2560x1440 "2560x1440-"        # a large screen, the size LossLab picks at first start
echo "screenshots: written to $out"
