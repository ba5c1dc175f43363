#!/usr/bin/env bash
# Installs the background-removal peers the benchmark compares against, pinned, into ignored
# folders: rembg's server (PyPI) in bench/peers/.venv-rembg and @imgly/background-removal-node
# (npm, install scripts off: they download from GitHub) in bench/peers/imgly/node_modules.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [[ ! -x "$here/.venv-rembg/bin/rembg" ]]; then
  python3 -m venv "$here/.venv-rembg"
  "$here/.venv-rembg/bin/pip" install -q --disable-pip-version-check "rembg[cpu,cli]==2.0.86" "onnxruntime==1.32.0"
fi
if [[ ! -d "$here/imgly/node_modules/@imgly/background-removal-node" ]]; then
  (cd "$here/imgly" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error)
fi
echo "peers ready"
