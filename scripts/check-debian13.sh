#!/usr/bin/env bash
# Runs the README's ./test.sh on Debian 13 (trixie: LibTorch 2.6, Qt 6.8, GoogleTest 1.16)
# from this Debian 12 machine: a Debian 13 root made with mmdebstrap from Debian's archive,
# cached outside the source tree, a clean copy of a git checkout put into it, and ./test.sh
# run there in a chroot (as root). Prints the ctest summary; exits non-zero on any failure.
#
#   scripts/check-debian13.sh [--cuda | --suite sid] [--root DIR] [--rebuild] [--mirror URL]
#                             [--after COMMAND] [CHECKOUT [REVISION]]
#
# CHECKOUT   a git repository (default: the one this script lives in); REVISION (default
#            HEAD) is exported with `git archive`: committed files only, no build folders.
# --root DIR the cached Debian 13 root (default
#            ${XDG_CACHE_HOME:-~/.cache}/losslab/debian13-root). The first run creates it
#            (a minimal root; ./test.sh's scripts/install-deps.sh then installs the packages
#            into it, so that step is checked too); later runs reuse it, packages included.
# --rebuild  delete the cached root and create a fresh one first.
# --mirror   the Debian archive (default http://deb.debian.org/debian; security updates
#            come from the matching debian-security).
# --after    a bash command run in the copy inside the root once ./test.sh has passed, e.g.
#            'scripts/install-deps.sh --bench && bench/run_step_bench.sh --quick'.
# --suite sid  Debian unstable instead of Debian 13: the newest LibTorch, Qt, GoogleTest, CMake
#            and g++ Debian has (LibTorch 2.14 on 2026-12-06, newer than the GPU machine's
#            PyTorch 2.11), so that an API LibTorch removed after 2.6 shows here first. Root
#            ${XDG_CACHE_HOME:-~/.cache}/losslab/debian-sid-root; its build folder
#            (/root/build-sid) stays between runs, like --cuda's, so a rerun compiles only what
#            changed.
# --cuda     the CUDA build without a GPU: a root with Debian 13's contrib and non-free
#            sections (default ${XDG_CACHE_HOME:-~/.cache}/losslab/debian13-cuda-root) gets
#            LibTorch 2.6 built with CUDA (libtorch-cuda-dev) and CUDA 12.4
#            (nvidia-cuda-toolkit) instead of the CPU LibTorch; the headless program
#            (-DLOSSLAB_GUI=OFF) is built against it and every test run (the CUDA ones skip:
#            there is no GPU). It compiles and links the code that only a CUDA LibTorch has
#            (CUDA graphs, sync debug mode) before a GPU machine's time is spent on it.
#
# Needs root (mmdebstrap and chroot), git and mmdebstrap (installed with apt-get when
# missing). The log of the last run is ROOT.log next to the root folder.
set -euo pipefail
# The whole script is one block, read before it runs: editing or checking out this file while a
# check runs (for an hour) must not change what the running check does.
{
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/losslab
root=$cache/debian13-root
rebuild=0
cuda=0
suite=trixie
mirror=http://deb.debian.org/debian
checkout=
revision=HEAD
after=

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
while (( $# )); do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --cuda) cuda=1; [[ $root == "$cache/debian13-root" ]] && root=$cache/debian13-cuda-root; shift ;;
    --suite)
      case "${2:-}" in
        trixie) ;;
        sid|unstable) suite=sid; [[ $root == "$cache/debian13-root" ]] && root=$cache/debian-sid-root ;;
        *) echo "check-debian13: --suite expects trixie or sid, not '${2:-}'" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --after) after=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "check-debian13: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *)
      if [[ -z $checkout ]]; then checkout=$1; else revision=$1; fi
      shift ;;
  esac
done
checkout=${checkout:-$here}
if (( cuda )) && [[ $suite != trixie ]]; then
  # Debian unstable's contrib has only the CUDA LibTorch 2.6, older than its CPU LibTorch.
  echo "check-debian13: --cuda checks Debian 13's CUDA LibTorch; it does not go with --suite $suite" >&2
  exit 2
fi
if [[ $suite == trixie ]]; then release="Debian 13"; else release="Debian unstable"; fi
# The CUDA build and unstable's keep their build folder between runs (see below).
incremental=$cuda
[[ $suite == trixie ]] || incremental=1

if [[ $(id -u) -ne 0 ]]; then
  echo "check-debian13: needs root (mmdebstrap, mount and chroot); run it with sudo" >&2
  exit 2
fi
git -C "$checkout" rev-parse --verify -q "$revision^{commit}" >/dev/null ||
  { echo "check-debian13: '$checkout' has no commit '$revision'" >&2; exit 2; }
commit=$(git -C "$checkout" rev-parse "$revision^{commit}")
root=$(mkdir -p "$(dirname "$root")" && cd "$(dirname "$root")" && pwd)/$(basename "$root")
case "$root/" in
  "$here"/*|"$(cd "$checkout" && pwd)"/*)
    echo "check-debian13: the root ($root) must be outside the source tree" >&2; exit 2 ;;
esac
log=$root.log
: > "$log"
say() { echo "check-debian13: $*" | tee -a "$log" >&2; }
started=$SECONDS

# ---- the Debian 13 root --------------------------------------------------------------------

if (( rebuild )) && [[ -e $root ]]; then
  say "deleting $root (--rebuild)"
  rm -rf --one-file-system "$root"
fi
if [[ ! -x $root/usr/bin/apt-get ]]; then
  if ! command -v mmdebstrap >/dev/null; then
    say "installing mmdebstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
  fi
  say "creating a $release root in $root from $mirror"
  t=$SECONDS
  rm -rf --one-file-system "$root.tmp"
  sections=main
  (( cuda )) && sections="main contrib non-free non-free-firmware"
  sources=("deb $mirror $suite $sections")
  # Unstable has no -updates or security suites.
  [[ $suite == trixie ]] && sources+=("deb $mirror trixie-updates $sections"
    "deb ${mirror%/debian}/debian-security trixie-security $sections")
  # Unstable's Release file is valid for a week only; a mirror that lags (this workplace's did, by
  # a month) would stop apt. The check wants the packages, not the freshest ones.
  aptopts=(--aptopt='Acquire::Retries "3"')
  [[ $suite == trixie ]] || aptopts+=(--aptopt='Acquire::Check-Valid-Until "false"')
  mmdebstrap --variant=apt --mode=root --components="${sections// /,}" --include=ca-certificates \
      "${aptopts[@]}" "$suite" "$root.tmp" "${sources[@]}" >>"$log" 2>&1 ||
    { say "mmdebstrap failed; see $log"; exit 1; }
  mv "$root.tmp" "$root"
  say "root created in $((SECONDS - t)) s"
fi
if [[ $suite == trixie ]]; then
  grep -q '^VERSION_CODENAME=trixie' "$root/etc/os-release"
else
  grep -q 'sid' "$root/etc/debian_version"   # unstable's os-release names the next release
fi || { say "$root is not a $release root (see its etc/os-release); use --rebuild"; exit 1; }

# ---- mounts, undone on exit ----------------------------------------------------------------

mounted=()
cleanup() {
  local i
  for (( i = ${#mounted[@]} - 1; i >= 0; i-- )); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mount_in() {  # mount_in TARGET mount-arguments...
  local target=$root$1; shift
  mkdir -p "$target"
  mount "$@" "$target"
  mounted+=("$target")
  # A bind mount of a host folder must not pass mounts made below it back to the host.
  mount --make-rprivate "$target"
}
mount_in /proc -t proc proc
mount_in /sys -t sysfs sysfs
mount_in /dev --bind /dev
mount_in /dev/pts --bind /dev/pts
mount_in /dev/shm -t tmpfs -o mode=1777 shm
mount_in /tmp -t tmpfs -o mode=1777 tmp
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# Packages must not start their services in the root: munged (the munge package) would outlive
# the check and keep its mounts busy. The Slurm test (tests/slurm) starts daemons of its own.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

# ---- a clean copy of the checkout ----------------------------------------------------------

src=/root/losslab
build_env=
(( incremental && ! cuda )) && build_env=LOSSLAB_BUILD_DIR=/root/build-$suite
if (( incremental )); then
  # A whole build takes half an hour or more on two cores: its folder (/root/build-cuda,
  # /root/build-sid) stays between runs, and only the files that changed are written into the
  # copy (with a new time), so a later run compiles only what changed.
  rm -rf --one-file-system "${root:?}$src.new"
  mkdir -p "$root$src.new" "$root$src"
  git -C "$checkout" archive --format=tar "$commit" | tar -x -C "$root$src.new"
  (cd "$root$src.new" && find . -type f -print0) | while IFS= read -r -d '' f; do
    cmp -s "$root$src.new/$f" "$root$src/$f" || { mkdir -p "$(dirname "$root$src/$f")"; cp "$root$src.new/$f" "$root$src/$f"; }
  done
  (cd "$root$src" && find . -type f -print0) | while IFS= read -r -d '' f; do
    [[ -e $root$src.new/$f ]] || rm -f "$root$src/$f"
  done
  rm -rf --one-file-system "${root:?}$src.new"
else
  rm -rf --one-file-system "${root:?}$src"
  mkdir -p "$root$src"
  git -C "$checkout" archive --format=tar "$commit" | tar -x -C "$root$src"
fi
say "testing $checkout at $commit ($(git -C "$checkout" log -1 --format=%s "$commit" | cut -c1-60))"

# ---- ./test.sh inside ----------------------------------------------------------------------

in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb $build_env \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      /bin/bash -c "cd $src && $1" 2>&1 | tee -a "$log"
  return "${PIPESTATUS[0]}"
}
# install-deps.sh first, on its own, only to time it apart from the build; ./test.sh runs it
# again (then it finds nothing missing). With --cuda: the headless build's packages with the
# CUDA LibTorch (install-deps.sh would bring the CPU one, which conflicts with it).
cuda_packages=(
  build-essential cmake ninja-build pkg-config sqlite3 libyaml-cpp-dev libsqlite3-dev zlib1g-dev
  libgtest-dev libicu-dev libsndfile1-dev libjpeg-dev libpng-dev sentencepiece espeak-ng sox dataset-fashion-mnist file
  libtorch-cuda-dev nvidia-cuda-toolkit python3-torch-cuda python3-numpy python3-torchaudio
)
cuda_build="cmake -S . -B /root/build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DLOSSLAB_GUI=OFF \
  && cmake --build /root/build-cuda -j$(nproc) && (cd /root/build-cuda && ctest -j$(nproc) --output-on-failure)"
t=$SECONDS
set +e
if (( cuda )); then
  # LibTorch's CUDA build needs cuDNN, which Debian has only as nvidia-cudnn, an install script
  # that downloads it from NVIDIA (off this machine's network). A stand-in package takes its
  # name, and a stub libcudnn.so.9 made of the cuDNN functions LibTorch's libraries call (each
  # returns an error; without a GPU none is ever reached) lets the programs link and load.
  in_root "set -e; rm -rf /tmp/standin; mkdir -p /tmp/standin/DEBIAN
    printf '%s\n' 'Package: nvidia-cudnn' 'Version: 9.0.0.312~cuda12+losslab1' 'Architecture: amd64' \
      'Maintainer: LossLab check <none@localhost>' 'Provides: libcudnn.so.9' \
      'Description: stand-in for the cuDNN download script (LossLab CUDA build check, no GPU)' \
      > /tmp/standin/DEBIAN/control
    dpkg-query -W -f='\${Version}' nvidia-cudnn 2>/dev/null | grep -q losslab ||
      { dpkg-deb -b /tmp/standin /tmp/standin.deb >/dev/null && dpkg -i /tmp/standin.deb >/dev/null; }
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${cuda_packages[*]} >/dev/null
    # libtorch_cuda and libtorch_python (PyTorch's Python API: the tests' references) call cuDNN.
    for lib in /usr/lib/x86_64-linux-gnu/libtorch*.so.2.* /usr/lib/x86_64-linux-gnu/libc10*.so.2.*; do
      [ -e \"\$lib\" ] && nm -D --undefined-only \"\$lib\"
    done | awk '\$2 ~ /^cudnn/ { sub(/@.*/, \"\", \$2); print \"int \" \$2 \"(void) { return 1; }\" }' |
      sort -u > /tmp/cudnn_stub.c
    echo 'libcudnn.so.9 { global: *; };' > /tmp/cudnn_stub.map   # libtorch_cuda asks for cudnnX@libcudnn.so.9
    gcc -shared -fPIC -Wl,-soname,libcudnn.so.9 -Wl,--version-script=/tmp/cudnn_stub.map -o /usr/local/lib/libcudnn.so.9 /tmp/cudnn_stub.c
    ln -sf libcudnn.so.9 /usr/local/lib/libcudnn.so; ldconfig
    echo \"stub libcudnn.so.9: \$(wc -l < /tmp/cudnn_stub.c) functions\""
else
  in_root scripts/install-deps.sh
fi
status=$?
install_seconds=$((SECONDS - t))
t=$SECONDS
if (( status == 0 )); then
  if (( cuda )); then in_root "$cuda_build"; else in_root ./test.sh; fi
  status=$?
fi
test_seconds=$((SECONDS - t))
if (( status == 0 )) && [[ -n $after ]]; then
  say "--after: $after"
  t=$SECONDS
  in_root "$after"
  status=$?
  say "--after exited $status after $((SECONDS - t)) s"
fi
set -e
ctest_seconds=$(sed -n 's/^Total Test time (real) = *\([0-9.]*\) sec.*/\1/p' "$log" | tail -1)

echo
echo "== $release $( (( cuda )) && echo 'CUDA build ')check, $(date -u +%Y-%m-%dT%H:%MZ), commit ${commit:0:12}"
if (( cuda )); then
  chroot "$root" dpkg-query -W -f='   ${Package} ${Version}\n' libtorch-cuda-dev nvidia-cuda-toolkit libgtest-dev cmake g++ || true
else
  chroot "$root" dpkg-query -W -f='   ${Package} ${Version}\n' libtorch-dev qt6-base-dev libgtest-dev cmake g++ || true
fi
grep -E '^([0-9]+% tests passed|The following tests FAILED|[[:space:]]+[0-9]+ - .*\(|Total Test time)' "$log" || true
echo "   install ${install_seconds} s; $( (( cuda )) && echo 'build and ctest' || echo ./test.sh) ${test_seconds} s (of which ctest ${ctest_seconds:-?} s);" \
     "whole check $((SECONDS - started)) s; log: $log"
if (( status != 0 )); then say "FAILED: exit status $status"; fi
exit "$status"
}
