#!/usr/bin/env bash
# Fetches minja, Google's Jinja implementation for chat templates (MIT; the engine llama.cpp
# renders Hugging Face chat templates with), into third_party/minja without touching the system.
# No C++ Jinja is packaged for Debian 12, but llama.cpp's sources, minja and the nlohmann/json it
# is tested with included, ship on PyPI inside the llama-cpp-python sdist (pinned by version and
# sha256 below). Also kept: llama.cpp's collection of real models' chat templates
# (models/templates/*.jinja), which the unit tests render against jinja2. scripts/patch_minja.py
# then hardens the engine against hostile templates (recursion, time, division by zero, ...).
set -euo pipefail
VERSION="0.3.16"
SHA256="34ed0f9bd9431af045bb63d9324ae620ad0536653740e9bb163a2e1fcb973be6"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/third_party/minja"
# The marker names the patch level too, so a checkout with an older patch level is refetched.
MARKER="$VERSION+$(sha256sum "$root/scripts/patch_minja.py" | cut -c1-12)"
if [[ -f "$dest/.version" && "$(cat "$dest/.version")" == "$MARKER" ]]; then
  echo "fetch_minja: already present in $dest"; exit 0
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
# pip resolves the sdist from PyPI (its JSON API is not reachable here); it reads the sdist's
# metadata, nothing is compiled.
py="$root/.venv/bin/python"; [[ -x "$py" ]] || py=python3
"$py" -m pip download -q --no-deps --no-binary :all: -d "$work" "llama-cpp-python==$VERSION"
mv "$work/llama_cpp_python-$VERSION.tar.gz" "$work/sdist.tar.gz"
echo "$SHA256  $work/sdist.tar.gz" | sha256sum -c --quiet -
top="llama_cpp_python-$VERSION/vendor/llama.cpp"
tar -xzf "$work/sdist.tar.gz" -C "$work" "$top/vendor/minja" "$top/vendor/nlohmann" \
  "$top/models/templates" "$top/licenses/LICENSE-jsonhpp" "$top/LICENSE"
rm -rf "$dest"
mkdir -p "$dest/include/minja" "$dest/include/nlohmann" "$dest/templates"
cp "$work/$top/vendor/minja/minja.hpp" "$dest/include/minja/"
"$py" "$root/scripts/patch_minja.py" "$dest/include/minja/minja.hpp"
cp "$work/$top/vendor/nlohmann/json.hpp" "$work/$top/vendor/nlohmann/json_fwd.hpp" "$dest/include/nlohmann/"
cp "$work/$top"/models/templates/*.jinja "$dest/templates/"
cp "$work/$top/licenses/LICENSE-jsonhpp" "$dest/LICENSE-nlohmann-json"
cp "$work/$top/LICENSE" "$dest/LICENSE-llama.cpp"
echo "$MARKER" > "$dest/.version"
echo "fetch_minja: minja + nlohmann/json from llama-cpp-python $VERSION in $dest"
