#!/usr/bin/env bash
# Fetches ONNX Runtime into third_party/onnxruntime/{include,lib} without touching the system:
#  - the runtime libonnxruntime.so.1 from the npm package onnxruntime-node (pinned),
#  - the C/C++ API headers from Debian 13's libonnxruntime-dev .deb, downloaded through a
#    private apt directory and unpacked with dpkg -x (never installed system-wide).
# The C API is backward compatible, so the 1.21 headers drive the 1.30 runtime.
# Skipped when ONNXRUNTIME_ROOT points at an official release tarball (GPU builds).
set -euo pipefail
ORT_NPM_VERSION="${ORT_NPM_VERSION:-1.30.0}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/third_party/onnxruntime"
if [[ -n "${ONNXRUNTIME_ROOT:-}" ]]; then
  echo "fetch_onnxruntime: using ONNXRUNTIME_ROOT=$ONNXRUNTIME_ROOT"; exit 0
fi
if [[ -f "$dest/lib/libonnxruntime.so.1" && -f "$dest/include/onnxruntime_cxx_api.h" ]]; then
  echo "fetch_onnxruntime: already present in $dest"; exit 0
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$dest/lib" "$dest/include"

# Runtime from npm.
(cd "$work" && npm pack --silent "onnxruntime-node@${ORT_NPM_VERSION}" >/dev/null)
tar -xzf "$work/onnxruntime-node-${ORT_NPM_VERSION}.tgz" -C "$work" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
cp "$work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$dest/lib/"
ln -sf libonnxruntime.so.1 "$dest/lib/libonnxruntime.so"

# Headers from Debian 13 (trixie), via a private apt state directory.
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc/sources.list.d" "$apt_dir/etc/preferences.d"
cat > "$apt_dir/etc/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main
SRC
aopts=(-o Dir::Etc::SourceList="$apt_dir/etc/sources.list" -o Dir::Etc::SourceParts="$apt_dir/etc/sources.list.d"
       -o Dir::Etc::Preferences="$apt_dir/etc/preferences" -o Dir::Etc::PreferencesParts="$apt_dir/etc/preferences.d"
       -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" -o Dir::State::Status=/dev/null
       -o APT::Architecture=amd64 -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${aopts[@]}" update -qq
(cd "$work" && apt-get "${aopts[@]}" download libonnxruntime-dev >/dev/null)
dpkg -x "$work"/libonnxruntime-dev_*.deb "$work/deb"
hdr="$(dirname "$(find "$work/deb" -name onnxruntime_cxx_api.h | head -1)")"
cp "$hdr"/*.h "$dest/include/"
echo "fetch_onnxruntime: runtime ${ORT_NPM_VERSION} + headers in $dest"
