#!/usr/bin/env python3
"""Decode + preprocess of a 12 MP JPEG to a 1024x1024 (stretch) and a 224x224 (shortest edge +
centre crop) FP32 NCHW tensor: Sightline's media pipeline (bench/decode_bench, C++) against Pillow
doing the same, plain and with Pillow's JPEG draft mode (its shrink-on-load), one thread each, in
one run. Reports ms per image and the ratio Pillow / Sightline (higher = Sightline faster).
Run from the repository root after scripts/build.sh:  .venv/bin/python bench/run_decode_bench.py
"""
import io
import json
import os
import subprocess
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = 20


def photo_like(path):
    # 4000x3000: smooth gradients plus noise, so the JPEG has real entropy (~ a photo's size).
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:3000, 0:4000]
    base = np.stack([(x / 16) % 256, (y / 12) % 256, ((x + y) / 28) % 256], -1)
    img = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path, quality=90)


def pillow(path, size, crop, draft):
    img = Image.open(path)
    if draft:
        img.draft("RGB", (size, size))
    img = img.convert("RGB")
    if crop:
        s = size / min(img.size)
        img = img.resize((max(size, round(img.width * s)), max(size, round(img.height * s))), Image.BICUBIC)
        left, top = (img.width - size) // 2, (img.height - size) // 2
        img = img.crop((left, top, left + size, top + size))
    else:
        img = img.resize((size, size), Image.BICUBIC)
    a = np.asarray(img, dtype=np.float32) / 255.0
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None])


def time_pillow(path, size, crop, draft):
    pillow(path, size, crop, draft)
    t = time.perf_counter()
    for _ in range(N):
        pillow(path, size, crop, draft)
    return (time.perf_counter() - t) * 1000 / N


def main():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "photo12mp.jpg")
        photo_like(path)
        rows = []
        for size, crop in ((1024, False), (224, True)):
            ours = json.loads(subprocess.check_output(env=dict(os.environ, VIPS_CONCURRENCY="1"), args=[os.path.join(ROOT, "build/bench/decode_bench"), "--image", path,
                                                       "--size", str(size), "--mode", "crop" if crop else "stretch",
                                                       "--iterations", str(N)], text=True))["ms_per_image"]
            plain = time_pillow(path, size, crop, False)
            draft = time_pillow(path, size, crop, True)
            rows.append((size, "crop" if crop else "stretch", ours, plain, draft))
        print(f"12 MP JPEG ({os.path.getsize(path) / 1e6:.1f} MB), {N} iterations, 1 thread each")
        for size, mode, ours, plain, draft in rows:
            print(f"{size}x{size} {mode}: Sightline {ours:.1f} ms | Pillow {plain:.1f} ms (x{plain / ours:.2f}) | "
                  f"Pillow+draft {draft:.1f} ms (x{draft / ours:.2f})")


if __name__ == "__main__":
    main()
