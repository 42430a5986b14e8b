#!/usr/bin/env bash
# Downloads (apt-get download, no install) the Debian packages that the GPU machine lacks for
# scripts/gpu-check.sh into .gpu-deps/ of this checkout, so that the device call can carry them
# (carry [".gpu-deps"]; the carry limit is 64 MiB in all, these are ~40 MiB):
#
#   libsqlite3-dev         sqlite3.h (the GPU machine has libsqlite3.so.0 but no header)
#   sqlite3                the sqlite3 shell, which the CLI tests call
#   zlib1g-dev             zlib.h, in case the GPU machine has none (CMake needs ZLIB)
#   dataset-fashion-mnist  the Fashion-MNIST IDX files (fashion_mnist/*; also read as MNIST by
#                          mnist/tcn_permuted and re-encoded as CIFAR-format data by gpu-check)
#   libsndfile1-dev, libsndfile1 and the libraries it needs (FLAC, Ogg, Vorbis, Opus, mpg123,
#                          LAME): the core's audio reader, so the GPU build has the speech plugin;
#                          gpu-check links only the libraries the machine lacks
#   libjpeg62-turbo-dev, libjpeg62-turbo, libpng-dev, libpng16-16: the core's image reader
#                          (image_folder tasks, the image tests), where the machine has no
#                          jpeglib.h or png.h
#
# and speech-fixture-corpus.tar.xz: the speech tests' corpus, synthesised here by
# tests/speech/make_fixture_corpus.sh (espeak-ng and sox, which the GPU machine lacks) and copied
# there with its --from; made again when that script is newer. Without espeak-ng or sox here it is
# left out and the speech tests skip on the GPU machine (saying so).
#
# Debian has no MNIST or CIFAR-10 package: gpu-check uses Fashion-MNIST in their place.
# Idempotent: a package whose .deb is already there and readable is not downloaded again.
# Writes .gpu-deps/MANIFEST (file, size, sha256) and makes sure .gpu-deps/ is ignored by git.
#
# Usage: scripts/gpu-deps.sh [--update]   (--update: run apt-get update first)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=$root/.gpu-deps
packages=(libsqlite3-dev sqlite3 zlib1g-dev dataset-fashion-mnist
          libsndfile1-dev libsndfile1 libflac12 libogg0 libvorbis0a libvorbisenc2 libopus0 libmpg123-0 libmp3lame0
          libjpeg62-turbo-dev libjpeg62-turbo libpng-dev libpng16-16)
corpus=speech-fixture-corpus.tar.xz
limit_mib=60 # leave room under the 64 MiB carry limit

case "${1:-}" in
  --update) apt-get update -qq ;;
  "") ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "gpu-deps: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

mkdir -p "$dest"

# Ignored by git: .gitignore may already say so; otherwise .git/info/exclude gets the line.
if ! git -C "$root" check-ignore -q "$dest/x.deb" 2>/dev/null; then
  exclude=$(git -C "$root" rev-parse --git-path info/exclude)
  [[ $exclude = /* ]] || exclude=$root/$exclude
  mkdir -p "$(dirname "$exclude")"
  touch "$exclude"
  grep -qxF '/.gpu-deps/' "$exclude" || echo '/.gpu-deps/' >> "$exclude"
fi

cd "$dest"
for p in "${packages[@]}"; do
  have=""
  for f in "${p}"_*.deb; do
    [[ -e $f ]] || continue
    if dpkg-deb -I "$f" >/dev/null 2>&1 && [[ $(dpkg-deb -f "$f" Package) == "$p" ]]; then have=$f; fi
  done
  if [[ -n $have ]]; then
    echo "gpu-deps: $p: have $have"
    continue
  fi
  echo "gpu-deps: $p: downloading"
  if ! apt-get download -q -o APT::Sandbox::User=root "$p"; then
    echo "gpu-deps: apt-get download $p failed; try scripts/gpu-deps.sh --update" >&2
    exit 1
  fi
done

# Plain file names: an epoch's "%3a" and a "~" become "_" (odd characters for file transfers).
for f in ./*.deb; do
  clean=${f//%3a/_}; clean=${clean//[^A-Za-z0-9._+\/-]/_}
  [[ $clean == "$f" ]] || mv -f -- "$f" "$clean"
done

# One version per package: drop older .debs left by an earlier run.
for p in "${packages[@]}"; do
  mapfile -t debs < <(ls -1t "${p}"_*.deb 2>/dev/null)
  if (( ${#debs[@]} > 1 )); then rm -f -- "${debs[@]:1}"; fi
done

# The speech tests' corpus, made again when the script that makes it changed.
maker=$root/tests/speech/make_fixture_corpus.sh
if [[ -e $corpus && ! $maker -nt $corpus ]]; then
  echo "gpu-deps: $corpus: have it"
else
  echo "gpu-deps: $corpus: synthesising the speech tests' corpus (espeak-ng, sox)"
  scratch=$(mktemp -d)
  rc=0
  bash "$maker" "$scratch/corpus" >"$scratch/log" 2>&1 || rc=$?
  if (( rc == 0 )); then
    tar -C "$scratch/corpus" -cJf "$corpus.part" . && mv -f "$corpus.part" "$corpus"
  else
    rm -f "$corpus"
    echo "gpu-deps: $maker exited $rc: no $corpus, the speech tests will skip on the GPU machine:" >&2
    tail -3 "$scratch/log" >&2
  fi
  rm -rf "$scratch"
fi

shopt -s nullglob
files=(./*.deb ./*.tar.xz)
shopt -u nullglob
sha256sum "${files[@]}" | while read -r sum file; do
  printf '%s\t%s\t%s\n' "${file#./}" "$(stat -c %s "$file")" "$sum"
done > MANIFEST
total=$(du -cb "${files[@]}" | tail -1 | cut -f1)
echo "gpu-deps: ${#files[@]} files, $((total / 1024 / 1024)) MiB in $dest"
if (( total > limit_mib * 1024 * 1024 )); then
  echo "gpu-deps: more than $limit_mib MiB: the device call's carry limit is 64 MiB" >&2
  exit 1
fi
