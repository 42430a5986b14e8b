#!/usr/bin/env bash
# Times decoding and cropping ImageNet-sized JPEGs per image on one thread: LossLab's pipeline
# of the image-folder tasks (losslab-bench-image-decode) and PIL doing what torchvision's
# transforms do (bench/image_decode_bench.py), on the same files, in one run, and prints a
# Markdown table with the ratio LossLab / PIL. It measures; it never fails on time.
#   bench/run_image_decode_bench.sh [IMAGES] [REPEATS]   (default 200 images, 5 repeats)
# Environment: LOSSLAB_BUILD_DIR (default build/), LOSSLAB_BENCH_PYTHON (default /usr/bin/python3,
# which has Debian's python3-pil).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LOSSLAB_BUILD_DIR:-$root/build}
python=${LOSSLAB_BENCH_PYTHON:-/usr/bin/python3}
images=${1:-200}
repeats=${2:-5}
cmake --build "$build" --target losslab_bench_image_decode >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/losslab-image-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$build/bin/losslab-bench-image-decode" write "$work" "$images"
cpp=$("$build/bin/losslab-bench-image-decode" time "$work" "$repeats")
py=$("$python" "$root/bench/image_decode_bench.py" "$work" "$repeats")
value() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2"; }
echo "| crop | LossLab ms/image | PIL ms/image | LossLab / PIL |"
echo "| --- | --- | --- | --- |"
for k in train eval; do
  a=$(value "${k}_ms" "$cpp")
  b=$(value "${k}_ms" "$py")
  printf '| %s | %.2f | %.2f | %.2f |\n' "$k" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')"
done
echo
echo "$images JPEGs of 500x375 (quality 90), one thread, median of $repeats passes; $(uname -m), $(nproc) cores, $(date -u +%F)"
