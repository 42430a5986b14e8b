#!/usr/bin/env bash
# Installs what is missing, builds in Release into build/, and runs the default experiment
# (Fashion-MNIST MLP: cross-entropy vs square loss, both protocols, 5 seeds) on the CLI,
# ending with the comparison table. Arguments after --headless go to `losslab-cli run`.
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
[[ "${1:-}" == "--headless" ]] && shift
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
exec "${LOSSLAB_BUILD_DIR:-$root/build}/bin/losslab-cli" run "$root/resources/experiments/default.yaml" "$@"
