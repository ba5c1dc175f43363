#!/usr/bin/env python3
"""CLIP benchmarks on a benchmark-sized tower (scripts/gen_clip_fixture.py --bench: ~1.4 GFLOP
per image, 512-d; the same ONNX file for both servers), in one run:

1. image embedding at a fixed open-loop rate (bench/loadgen, one photo as the raw body): Sightline's
   /v1/embed against a FastAPI + onnxruntime + Pillow service with its own batching thread
   (bench/peers/fastapi_clip.py, run by uvicorn from bench/peers/.venv-rembg, which has both);
2. zero-shot /v1/classify latency with a configured (cached) label set against 20 labels never
   seen before (every request's text prompts embedded anew);
3. 25 camera-RAW files (the 24 MP DNGs of bench/run_dng_bench.py) embedded end to end through
   /v1/embed with image_paths (decode included).

  bench/peers/setup_peers.sh && .venv/bin/python bench/run_clip_bench.py [--rate 8]
"""
import argparse
import base64
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import requests
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bg_bench as bg  # noqa: E402

ROOT = bg.ROOT


def loadgen(port, path, body_file, rate, seconds, content_type):
    out = subprocess.run([os.path.join(ROOT, "build", "bench", "loadgen"), "--port", str(port), "--path", path,
                          "--body-file", body_file, "--header", f"Content-Type: {content_type}",
                          "--connections", "32", "--duration", str(seconds), "--warmup", "2", "--rate", str(rate)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=8.0, help="requests per second, open loop")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--spin", action="store_true", help="let Sightline's ORT threads spin (optimization.allow_spinning)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="clip-bench-")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_clip_fixture.py"), "--bench", "--out", work,
                    "--tokenizer", os.path.join(ROOT, "build", "fixtures", "tokenizers", "clip", "tokenizer.json")],
                   check=True, capture_output=True)
    model_dir = os.path.join(work, "clip-bench")
    if args.spin:
        cfg_path = os.path.join(model_dir, "sightline.json")
        cfg = json.load(open(cfg_path))
        cfg["optimization"] = {"allow_spinning": True}
        json.dump(cfg, open(cfg_path, "w"))
    photo = os.path.join(work, "photo.jpg")
    Image.open(os.path.join(ROOT, "build", "fixtures", "photos", "astronaut.png")).convert("RGB").save(photo, quality=92)
    dng_dir = os.path.join(ROOT, "build", "bench", "dng", "preview")
    results = {"rate": args.rate, "seconds": args.seconds}

    port = bg.free_port()
    cmd = [os.path.join(ROOT, "build", "sightline"), "serve", "--model-repository", work, "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warn", "--allow-path", work]
    if os.path.isdir(dng_dir):
        cmd += ["--allow-path", dng_dir]
    # The image-embedding cache would answer every repeat of the one photo: off for the load test.
    with bg.System("sightline", cmd + ["--image-embedding-cache-mb", "0"], f"http://127.0.0.1:{port}/readyz"):
        results["sightline_embed"] = loadgen(port, "/v1/embed", photo, args.rate, args.seconds, "image/jpeg")
    print("sightline", json.dumps(results["sightline_embed"]), flush=True)

    with bg.System("sightline", cmd, f"http://127.0.0.1:{port}/readyz"):
        url = f"http://127.0.0.1:{port}/v1/classify"
        img = base64.b64encode(open(photo, "rb").read()).decode()
        requests.post(url, json={"image": img, "label_set": "objects"}, timeout=60)  # warm (image now cached)
        cached, fresh = [], []
        for i in range(20):
            t = time.perf_counter()
            requests.post(url, json={"image": img, "label_set": "objects"}, timeout=60).raise_for_status()
            cached.append(time.perf_counter() - t)
            t = time.perf_counter()
            requests.post(url, json={"image": img, "labels": [f"thing {i} {k}" for k in range(20)]},
                          timeout=60).raise_for_status()
            fresh.append(time.perf_counter() - t)
        results["classify_ms"] = {"cached_labels_p50": statistics.median(cached) * 1000,
                                  "uncached_labels_p50": statistics.median(fresh) * 1000,
                                  "ratio": statistics.median(fresh) / statistics.median(cached)}
        print("classify", json.dumps(results["classify_ms"]), flush=True)
        if os.path.isdir(dng_dir):
            files = sorted(os.path.join(dng_dir, f) for f in os.listdir(dng_dir))[:25]
            t = time.perf_counter()
            r = requests.post(f"http://127.0.0.1:{port}/v1/embed", json={"image_paths": files}, timeout=600)
            wall = time.perf_counter() - t
            body = r.json()
            results["raw_batch"] = {"files": len(files), "wall_s": wall, "succeeded": body.get("succeeded"),
                                    "timing": body.get("timing")}
            print("raw", json.dumps(results["raw_batch"]), flush=True)

    pport = bg.free_port()
    env = {"MODEL_DIR": model_dir}
    peer = [os.path.join(bg.PEERS, ".venv-rembg", "bin", "uvicorn"), "fastapi_clip:app", "--app-dir", bg.PEERS,
            "--host", "127.0.0.1", "--port", str(pport), "--log-level", "warning"]
    with bg.System("fastapi", peer, f"http://127.0.0.1:{pport}/health", env=env):
        results["fastapi_embed"] = loadgen(pport, "/embed", photo, args.rate, args.seconds, "image/jpeg")
    print("fastapi", json.dumps(results["fastapi_embed"]), flush=True)
    json.dump(results, open(os.path.join(ROOT, "build", "bench", "clip_results.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
