#!/usr/bin/env python3
"""25 camera-RAW (DNG) files of 24 MP (6000x4000) to 1024x1024 FP32 tensors, total wall time:
Sightline's media pipeline (bench/dng_bench, C++, libraw + libvips) against rawpy (LibRaw's
Python binding) + Pillow doing the same, both with 2 worker threads and the files' bytes already
in memory (as a request body is), in one run.

Two sets: `preview` files carry a 3000x2000 JPEG preview (what most cameras embed), so the
preview stands in for the sensor data; `nopreview` files carry only a 750x500 thumbnail, so both
sides demosaic at half size (3000x2000). Files are written once to build/bench/dng/ by
scripts/dng_writer.py (distinct content per file).

  .venv/bin/python bench/run_dng_bench.py [--files 25]
"""
import argparse
import concurrent.futures
import io
import json
import os
import subprocess
import sys
import time

import numpy as np
import rawpy
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import dng_writer  # noqa: E402

W, H, SIZE = 6000, 4000, 1024


def scene(seed):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (H // 100, W // 100, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(small).resize((W, H), Image.BILINEAR)).astype(np.int16)
    noise = rng.integers(-6, 7, (H, W, 1), dtype=np.int16)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def ensure_files(folder, kind, count):
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        path = os.path.join(folder, f"{kind}_{i:02d}.dng")
        if not os.path.exists(path):
            dng_writer.write_dng(path, scene(i), "jpeg" if kind == "preview" else "bitmap", preview_scale=2)


def rawpy_pillow(data):
    with rawpy.imread(io.BytesIO(data)) as raw:
        try:
            thumb = raw.extract_thumb()
        except rawpy.LibRawError:
            thumb = None
        if thumb is not None and thumb.format == rawpy.ThumbFormat.JPEG:
            img = Image.open(io.BytesIO(thumb.data))
            img.draft("RGB", (SIZE, SIZE))
            img = img.convert("RGB")
            if min(img.size) < SIZE:
                img = None
        else:
            img = None
        if img is None:
            img = Image.fromarray(raw.postprocess(half_size=True, use_camera_wb=True, output_bps=8))
    img = img.resize((SIZE, SIZE), Image.BICUBIC)
    a = np.asarray(img, dtype=np.float32) / 255.0
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None])


def time_python(folder, threads):
    # Bytes in memory before the clock starts, as on the C++ side.
    blobs = [open(os.path.join(folder, f), "rb").read() for f in sorted(os.listdir(folder))]
    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(rawpy_pillow, blobs))
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    out = {}
    for kind in ("preview", "nopreview"):
        folder = os.path.join(ROOT, "build", "bench", "dng", kind)
        ensure_files(folder, kind, args.files)
        ours = json.loads(subprocess.run([os.path.join(ROOT, "build", "bench", "dng_bench"), "--dir", folder,
                                          "--size", str(SIZE), "--threads", str(args.threads)],
                                         check=True, capture_output=True, text=True).stdout)
        theirs = time_python(folder, args.threads)
        out[kind] = {"sightline": ours, "rawpy_pillow_total_s": round(theirs, 3),
                     "speedup": round(theirs / ours["total_s"], 2)}
        print(kind, json.dumps(out[kind]), flush=True)
    json.dump(out, open(os.path.join(ROOT, "build", "bench", "dng_results.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
