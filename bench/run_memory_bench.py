#!/usr/bin/env python3
"""Resident memory under sustained load: 32 concurrent clients send photos back to back for
`--seconds` (default 300) to one background-removal service at a time (Sightline, rembg's server,
optionally imgly), same ISNet weights and cores. Samples the service's RSS (process + children)
every 2 s and reports the start (after warm-up), peak and end values, the growth rate over the
last 80% of the run (MiB/min, least-squares), and how many requests were answered or refused.

  .venv/bin/python bench/run_memory_bench.py [--seconds 300] [--systems sightline,rembg]
"""
import argparse
import io
import json
import os
import sys
import threading
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bg_bench as bg  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=int, default=300)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--variant", default="fp16")
    ap.add_argument("--systems", default="sightline,rembg")
    ap.add_argument("--repo", default=os.path.join(bg.ROOT, "models"))
    ap.add_argument("--photos", default=os.path.join(bg.ROOT, "build", "fixtures", "photos"))
    args = ap.parse_args()
    photos = []
    for f in sorted(os.listdir(args.photos)):
        buf = io.BytesIO()
        Image.open(os.path.join(args.photos, f)).convert("RGB").save(buf, "JPEG", quality=92)
        photos.append(buf.getvalue())
    makers = {"sightline": bg.sightline, "rembg": bg.rembg, "imgly": bg.imgly}
    report = {}
    for name in args.systems.split(","):
        sys_, remove = makers[name](bg.free_port(), args.repo, args.variant)
        with sys_ as s:
            remove(photos[0])
            stop = time.time() + args.seconds
            counts = {"ok": 0, "failed": 0}
            lock = threading.Lock()

            def client(i):
                k = i
                while time.time() < stop:
                    try:
                        remove(photos[k % len(photos)])
                        outcome = "ok"
                    except Exception:
                        outcome = "failed"
                    with lock:
                        counts[outcome] += 1
                    k += 1

            threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)]
            t0 = time.time()
            for t in threads:
                t.start()
            samples, died_at = [], None
            while time.time() < stop:
                if s.proc.poll() is not None and died_at is None:
                    died_at = round(time.time() - t0)  # e.g. killed by the kernel's OOM killer
                if died_at is None:
                    samples.append((time.time() - t0, bg.rss_mb(s.proc.pid)))
                time.sleep(2)
            for t in threads:
                t.join(timeout=120)
            tail = [(t, m) for t, m in samples if t >= 0.2 * args.seconds]
            slope = float(np.polyfit([t for t, _ in tail], [m for _, m in tail], 1)[0] * 60) if len(tail) > 2 else 0.0
            report[name] = {"rss_start_mb": round(samples[0][1]), "rss_peak_mb": round(max(m for _, m in samples)),
                            "rss_end_mb": round(samples[-1][1]), "growth_mb_per_min": round(slope, 1),
                            "answered": counts["ok"], "failed": counts["failed"], "seconds": args.seconds,
                            "clients": args.clients, "died_after_s": died_at,
                            "exit_code": s.proc.poll()}
        print(name, json.dumps(report[name]), flush=True)
    out = os.path.join(bg.ROOT, "build", "bench", "memory_results.json")
    json.dump(report, open(out, "w"), indent=2)


if __name__ == "__main__":
    main()
