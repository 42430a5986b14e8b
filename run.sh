#!/usr/bin/env bash
# Installs what is missing, builds in Release into build/, and runs the default experiment
# (Fashion-MNIST MLP: cross-entropy vs square loss, both protocols, 5 seeds) on the CLI,
# printing the comparison table, then writes its full report (tables, statistics, figures)
# into ./losslab-out/. `./run.sh --headless` does the same (it will stay the command-line
# path once ./run.sh opens the window). Other arguments go to `losslab-cli run`.
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
[[ "${1:-}" == "--headless" ]] && shift
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cli="${LOSSLAB_BUILD_DIR:-$root/build}/bin/losslab-cli"
exec "$cli" run "$root/resources/experiments/default.yaml" --report "$PWD/losslab-out" "$@"
