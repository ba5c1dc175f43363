#!/usr/bin/env python3
"""Memory soak under mixed traffic (issue 11, field report 12): one server holding the real ISNet
and the CLIP fixture, three clients at once for --minutes (default 30):

  - background removal of the test photos, each request's bytes made distinct (random crop and
    JPEG quality), so the result cache keeps filling and evicting;
  - CLIP text embeddings of fresh sentences and image embeddings of fresh small PNGs (both
    embedding caches fill and evict);
  - bad input: truncated AVIFs to /v1/metadata, random bytes to /v1/remove-background.

The server's resident memory (VmRSS) is sampled every --interval seconds with the caches' own
byte gauges; after --warmup minutes the least-squares slopes of RSS and of RSS less what the caches
report holding (growth nothing accounts for) are the figures, against a target of <= 0.5 MB/min.
The result cache is 64 MB, as in the field report, so it fills within the warm-up.

  .venv/bin/python bench/run_soak.py [--minutes 30] [--warmup 5]

Needs build/sightline, models/isnet (scripts/setup.sh), the fixtures (scripts/test.sh writes
them) and the photos (scripts/fetch_photos.py).
"""
import argparse
import io
import json
import os
import random
import subprocess
import tempfile
import threading
import time

import requests
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def slope_of(samples, value):
    """Least-squares slope of value(sample) against minutes."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mx = sum(s["minute"] for s in samples) / n
    my = sum(value(s) for s in samples) / n
    return sum((s["minute"] - mx) * (value(s) - my) for s in samples) / sum((s["minute"] - mx) ** 2 for s in samples)


def metrics(url):
    out = {}
    for line in requests.get(url + "/metrics", timeout=10).text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=5, help="minutes excluded from the slope")
    ap.add_argument("--interval", type=float, default=10)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "sightline"))
    ap.add_argument("--photos", default=os.path.join(ROOT, "build", "fixtures", "photos"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "soak.json"))
    ap.add_argument("--result-cache-mb", default="64")
    # Small enough that the embedding caches, too, are full before the warm-up ends: at this mix's
    # ~800 fresh image embeddings a minute the default 64 MB image cache would take hours to fill,
    # and a cache still filling is growth by design, not a leak.
    ap.add_argument("--text-embedding-cache-mb", default="8")
    ap.add_argument("--image-embedding-cache-mb", default="4")
    a = ap.parse_args()

    repo = tempfile.mkdtemp(prefix="soak-repo-")
    for name, src in [("isnet", os.path.join(ROOT, "models", "isnet")),
                      ("clip-tiny", os.path.join(ROOT, "build", "fixtures", "models", "clip-tiny")),
                      ("animals-classifier", os.path.join(ROOT, "build", "fixtures", "models", "animals-classifier"))]:
        os.symlink(src, os.path.join(repo, name))
    port_file = os.path.join(repo, "..", os.path.basename(repo) + ".port")
    log = open(os.path.join(tempfile.gettempdir(), "soak-server.log"), "wb")
    proc = subprocess.Popen([a.bin, "serve", "--model-repository", repo, "--host", "127.0.0.1", "--port", "0",
                             "--port-file", port_file, "--result-cache-mb", a.result_cache_mb,
                             "--text-embedding-cache-mb", a.text_embedding_cache_mb,
                             "--image-embedding-cache-mb", a.image_embedding_cache_mb],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            time.sleep(0.1)
        url = f"http://127.0.0.1:{int(open(port_file).read())}"
        while True:
            try:
                if requests.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        photos = [Image.open(os.path.join(a.photos, p)).convert("RGB") for p in sorted(os.listdir(a.photos))]
        avif = open(os.path.join(ROOT, "tests", "data", "truncated_avif_leak.avif"), "rb").read()
        stop = time.time() + a.minutes * 60
        counts = {"cutouts": 0, "clip": 0, "bad_handled": 0, "errors": 0}
        lock = threading.Lock()

        def count(key):
            with lock:
                counts[key] += 1

        def background():
            rng = random.Random(1)
            s = requests.Session()
            while time.time() < stop:
                img = rng.choice(photos)
                w, h = img.size
                box = (rng.randrange(0, w // 8), rng.randrange(0, h // 8), w - rng.randrange(0, w // 8),
                       h - rng.randrange(0, h // 8))
                buf = io.BytesIO()
                img.crop(box).save(buf, "JPEG", quality=rng.randrange(80, 95))
                r = s.post(url + "/v1/remove-background", data=buf.getvalue(),
                           headers={"Content-Type": "image/jpeg"}, timeout=600)
                count("cutouts" if r.status_code == 200 else "errors")

        def clip():
            rng = random.Random(2)
            s = requests.Session()
            words = "red green small large photo of a cat dog car tree house river night city".split()
            while time.time() < stop:
                texts = [" ".join(rng.choice(words) for _ in range(8)) + f" {rng.random()}" for _ in range(8)]
                r = s.post(url + "/v1/embeddings", json={"model": "clip-tiny", "input": texts}, timeout=60)
                count("clip" if r.status_code == 200 else "errors")
                buf = io.BytesIO()
                Image.new("RGB", (rng.randrange(32, 200), rng.randrange(32, 200)),
                          tuple(rng.randrange(256) for _ in range(3))).save(buf, "PNG")
                r = s.post(url + "/v1/embed", files={"file": ("x.png", buf.getvalue(), "image/png")}, timeout=60)
                count("clip" if r.status_code == 200 else "errors")

        def bad():
            rng = random.Random(3)
            s = requests.Session()
            while time.time() < stop:
                r1 = s.post(url + "/v1/metadata", data=avif, headers={"Content-Type": "image/avif"}, timeout=60)
                r2 = s.post(url + "/v1/remove-background", data=rng.randbytes(rng.randrange(10, 5000)),
                            headers={"Content-Type": "image/png"}, timeout=60)
                # Metadata may still read a truncated file's header (200); random bytes are a 400.
                count("bad_handled" if r1.status_code == 200 or 400 <= r1.status_code < 500 else "errors")
                count("bad_handled" if 400 <= r2.status_code < 500 else "errors")
                time.sleep(0.05)  # paces this client only; it measures nothing

        threads = [threading.Thread(target=f, daemon=True) for f in (background, clip, bad)]
        for t in threads:
            t.start()
        samples = []
        start = time.time()
        while time.time() < stop:
            m = metrics(url)
            caches = {k: v for k, v in m.items() if "cache_bytes" in k}
            malloc = {k.split('"')[1]: v for k, v in m.items() if k.startswith("sightline_malloc_bytes{")}
            samples.append({"minute": (time.time() - start) / 60, "rss_mb": rss_mb(proc.pid),
                            "cache_bytes": sum(caches.values()), "caches": caches, "malloc_bytes": malloc,
                            "trimmed_mb": m.get("sightline_malloc_trimmed_bytes_total", 0) / 2**20,
                            "counts": dict(counts)})
            print(f"{samples[-1]['minute']:6.1f} min  RSS {samples[-1]['rss_mb']:7.1f} MB  caches "
                  f"{samples[-1]['cache_bytes'] / 2**20:6.1f} MB  malloc in use "
                  f"{malloc.get('in_use', 0) / 2**20:6.1f} MB, free in arenas "
                  f"{malloc.get('free_in_arenas', 0) / 2**20:5.1f} MB, trimmed {samples[-1]['trimmed_mb']:6.1f} MB  "
                  f"{counts}", flush=True)
            time.sleep(a.interval)
        for t in threads:
            t.join(timeout=600)
        after = [s for s in samples if s["minute"] >= a.warmup]
        slope = slope_of(after, lambda s: s["rss_mb"])
        unexplained = slope_of(after, lambda s: s["rss_mb"] - s["cache_bytes"] / 2**20)
        result = {"minutes": a.minutes, "warmup_minutes": a.warmup, "rss_start_mb": samples[0]["rss_mb"],
                  "rss_at_warmup_mb": after[0]["rss_mb"] if after else None, "rss_end_mb": samples[-1]["rss_mb"],
                  "slope_mb_per_min_after_warmup": slope,
                  "slope_less_caches_mb_per_min_after_warmup": unexplained, "counts": counts, "samples": samples,
                  "server_alive": proc.poll() is None}
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        json.dump(result, open(a.out, "w"), indent=1)
        print(f"RSS {result['rss_start_mb']:.0f} MB at start, {result['rss_at_warmup_mb']:.0f} MB after "
              f"{a.warmup:g} min, {result['rss_end_mb']:.0f} MB at {a.minutes:g} min; slope after warm-up "
              f"{slope:+.2f} MB/min, less the caches {unexplained:+.2f} MB/min (target <= 0.5); {counts}")
    finally:
        proc.terminate()
        proc.wait(timeout=120)


if __name__ == "__main__":
    main()
