#!/usr/bin/env bash
# Runs the README's ./test.sh on Debian 13 (trixie: LibTorch 2.6, Qt 6.8, GoogleTest 1.16)
# from this Debian 12 machine: a Debian 13 root made with mmdebstrap from Debian's archive,
# cached outside the source tree, a clean copy of a git checkout put into it, and ./test.sh
# run there in a chroot (as root). Prints the ctest summary; exits non-zero on any failure.
#
#   scripts/check-debian13.sh [--root DIR] [--rebuild] [--mirror URL] [--after COMMAND]
#                             [CHECKOUT [REVISION]]
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
mirror=http://deb.debian.org/debian
checkout=
revision=HEAD
after=

usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }
while (( $# )); do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
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
  say "creating a Debian 13 root in $root from $mirror"
  t=$SECONDS
  rm -rf --one-file-system "$root.tmp"
  mmdebstrap --variant=apt --mode=root --components=main --include=ca-certificates \
      --aptopt='Acquire::Retries "3"' trixie "$root.tmp" \
      "deb $mirror trixie main" "deb $mirror trixie-updates main" \
      "deb ${mirror%/debian}/debian-security trixie-security main" >>"$log" 2>&1 ||
    { say "mmdebstrap failed; see $log"; exit 1; }
  mv "$root.tmp" "$root"
  say "root created in $((SECONDS - t)) s"
fi
grep -q '^VERSION_CODENAME=trixie' "$root/etc/os-release" ||
  { say "$root is not a Debian 13 root (see its etc/os-release); use --rebuild"; exit 1; }

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
rm -rf --one-file-system "${root:?}$src"
mkdir -p "$root$src"
git -C "$checkout" archive --format=tar "$commit" | tar -x -C "$root$src"
say "testing $checkout at $commit ($(git -C "$checkout" log -1 --format=%s "$commit" | cut -c1-60))"

# ---- ./test.sh inside ----------------------------------------------------------------------

in_root() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      /bin/bash -c "cd $src && $1" 2>&1 | tee -a "$log"
  return "${PIPESTATUS[0]}"
}
# install-deps.sh first, on its own, only to time it apart from the build; ./test.sh runs it
# again (then it finds nothing missing).
t=$SECONDS
set +e
in_root scripts/install-deps.sh
status=$?
install_seconds=$((SECONDS - t))
t=$SECONDS
(( status == 0 )) && { in_root ./test.sh; status=$?; }
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
echo "== Debian 13 check, $(date -u +%Y-%m-%dT%H:%MZ), commit ${commit:0:12}"
chroot "$root" dpkg-query -W -f='   ${Package} ${Version}\n' libtorch-dev qt6-base-dev libgtest-dev cmake g++ || true
grep -E '^([0-9]+% tests passed|The following tests FAILED|[[:space:]]+[0-9]+ - .*\(|Total Test time)' "$log" || true
echo "   install-deps ${install_seconds} s; ./test.sh ${test_seconds} s (of which ctest ${ctest_seconds:-?} s);" \
     "whole check $((SECONDS - started)) s; log: $log"
if (( status != 0 )); then say "FAILED: exit status $status"; fi
exit "$status"
}
