#!/usr/bin/env bash
# Installs what is missing, builds in Release into build/, and opens the LossLab window with
# the default experiment loaded (Fashion-MNIST MLP: cross-entropy vs square loss, both
# protocols, 5 seeds); press Run (Ctrl+R) to start it. Arguments go to `losslab`
# (e.g. --run to start at once, --db FILE).
#
# `./run.sh --headless` (and ./run.sh on a machine without a display) runs the same
# experiment on the command line instead, prints the comparison table and writes the full
# report (tables, statistics, figures) into ./losslab-out/; further arguments go to
# `losslab-cli run`.
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
headless=0
if [[ "${1:-}" == "--headless" ]]; then
  headless=1
  shift
fi
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
bin="${LOSSLAB_BUILD_DIR:-$root/build}/bin"
experiment="$root/resources/experiments/default.yaml"
if (( headless == 0 )) && [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
  echo "run.sh: no display (DISPLAY and WAYLAND_DISPLAY are unset): running the command-line path" >&2
  headless=1
fi
if (( headless )); then
  exec "$bin/losslab-cli" run "$experiment" --report "$PWD/losslab-out" "$@"
fi
exec "$bin/losslab" "$experiment" "$@"
