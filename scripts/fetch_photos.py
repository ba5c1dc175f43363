#!/usr/bin/env python3
"""Real photographs for tests and benchmarks: scikit-image bundles a few in its wheel
(skimage/data). Downloads the pinned wheel from PyPI (no install) and extracts them.

  scripts/fetch_photos.py --out build/fixtures/photos
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "scikit-image==0.26.0"
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "retina.jpg"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    if all(os.path.exists(os.path.join(out, p)) for p in PHOTOS):
        return 0
    os.makedirs(out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "-d", tmp, WHEEL],
                       check=True)
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            for p in PHOTOS:
                with open(os.path.join(out, p), "wb") as f:
                    f.write(z.read("skimage/data/" + p))
    print(f"{len(PHOTOS)} photos from {WHEEL} written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
