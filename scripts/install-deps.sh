#!/usr/bin/env bash
# Installs what LossLab needs from Debian's archive (Debian 12 or 13: every name below exists
# in both), and only what is missing.
#   scripts/install-deps.sh            build + test + run dependencies
#   scripts/install-deps.sh --bench    the benchmarks' needs (now all in the default set; kept for scripts)
#   scripts/install-deps.sh --fuzz     also clang and libFuzzer (scripts/fuzz.sh)
#   scripts/install-deps.sh --screenshots  also Xvfb (scripts/screenshots.sh)
set -euo pipefail

packages=(
  build-essential cmake pkg-config sqlite3   # sqlite3: the kill test checks integrity with it
  libtorch-dev libopenblas0-pthread   # without OpenBLAS, LibTorch falls back to the reference BLAS
  libyaml-cpp-dev libsqlite3-dev zlib1g-dev libgtest-dev
  libicu-dev                          # Unicode data for BERT's WordPiece tokenizer (same name on Debian 12 and 13)
  libsndfile1-dev                     # reading WAV, FLAC and NIST SPHERE audio (the speech data layer)
  libjpeg-dev libpng-dev              # reading JPEG and PNG images (the image-folder tasks: ImageNet)
  libcurl4-openssl-dev                # HTTP(S) to an MLflow tracking server (export --format mlflow)
  sentencepiece                       # SentencePiece units for the speech recognisers (spm_train, spm_encode: run as programs)
  espeak-ng sox                       # the speech tests synthesise their fixture corpus (sox converts formats)
  qt6-base-dev qt6-svg-dev libqcustomplot-dev fonts-dejavu-core   # the window and the report figures
  dataset-fashion-mnist               # the default experiment's data, no download needed
  desktop-file-utils appstream dpkg-dev   # tests validate the desktop entry, metainfo and package
  file                                # cpack's shlibdeps (packaging.deb); a minimal Debian lacks it
  python3-torch python3-numpy         # PyTorch's Python API: the text models' reference in the tests, the benchmarks' baseline
  python3-torchaudio                  # the tests' reference for Kaldi-compatible filterbank features
  python3-pil                         # PIL, the image decoding bench's baseline (bench/run_image_decode_bench.sh)
  munge slurmctld slurmd slurm-client   # the one-node Slurm of scripts/local-slurm.sh (tests/slurm): it runs its own daemons;
                                      # the packages' services need an /etc/slurm/slurm.conf, which LossLab never writes
)
for option in "$@"; do
  case "$option" in
    --bench) ;;   # python3-torch and python3-numpy are in the default set
    --fuzz) packages+=(clang libclang-rt-dev) ;;   # libFuzzer of the release's default clang (14 on Debian 12, 19 on 13)
    --screenshots) packages+=(xvfb xauth) ;;
    *) echo "install-deps: unknown option $option (expected --bench, --fuzz or --screenshots)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if (( ${#missing[@]} == 0 )); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: missing packages (${missing[*]}) and no sudo to install them as $(id -un)" >&2
    exit 1
  fi
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
