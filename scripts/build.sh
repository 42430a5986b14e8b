#!/usr/bin/env bash
# Configures and builds LossLab in Release into build/ (or $LOSSLAB_BUILD_DIR).
# Extra arguments go to CMake's configure step (e.g. -DLOSSLAB_GUI=OFF).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOSSLAB_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
