#!/usr/bin/env python3
"""/healthz latency while one large text request runs, with one I/O thread (--http-threads 1) and
the text-embedding cache off, on the CLIP fixture (scripts/gen_clip_fixture.py). Before the
foundation issue the I/O thread tokenised: one /v1/tokenize or /v1/embeddings request of 2048
sixty-word texts held /healthz for as long as it tokenised. Prints, per route, the large request's
time and the /healthz latencies (p50, p95, max) sampled on a kept-alive connection meanwhile.

  .venv/bin/python bench/run_health_under_load.py [--bin build/sightline] [--repeat 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(binary, repo):
    tmp = tempfile.mkdtemp()
    port_file = os.path.join(tmp, "port")
    proc = subprocess.Popen([binary, "serve", "--model-repository", repo, "--host", "127.0.0.1", "--port", "0",
                             "--port-file", port_file, "--http-threads", "1", "--text-embedding-cache-mb", "0",
                             "--log-level", "warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        if os.path.exists(port_file) and open(port_file).read().strip():
            url = f"http://127.0.0.1:{int(open(port_file).read())}"
            try:
                if requests.get(url + "/readyz", timeout=2).status_code == 200:
                    return proc, url
            except requests.ConnectionError:
                pass
        time.sleep(0.05)
    proc.kill()
    sys.exit("server did not become ready")


def one_run(url, route, texts):
    payload = json.dumps({"model": "clip-tiny", "input": texts})
    done = threading.Event()
    took = {}

    def big():
        t0 = time.perf_counter()
        r = requests.post(url + route, data=payload, headers={"Content-Type": "application/json"}, timeout=600)
        took["s"] = time.perf_counter() - t0
        took["status"] = r.status_code
        done.set()

    probe = requests.Session()
    probe.get(url + "/healthz", timeout=5)
    t = threading.Thread(target=big)
    t.start()
    lat = []
    while not done.is_set():
        t0 = time.perf_counter()
        probe.get(url + "/healthz", timeout=30)
        lat.append((time.perf_counter() - t0) * 1000)
    t.join()
    return took, lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "sightline"))
    ap.add_argument("--repo", default=os.path.join(ROOT, "build", "fixtures", "models"))
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    proc, url = start(a.bin, a.repo)
    try:
        for route in ("/v1/tokenize", "/v1/embeddings"):
            for rep in range(a.repeat):
                # Distinct texts per run: nothing is cached anywhere.
                texts = [" ".join(f"w{rep}r{i}x{k}" for k in range(60)) for i in range(2048)]
                took, lat = one_run(url, route, texts)
                lat.sort()
                print(f"{route:16s} run {rep}: request {took['s'] * 1000:7.0f} ms (HTTP {took['status']}); "
                      f"/healthz n={len(lat)} p50 {statistics.median(lat):.2f} ms, "
                      f"p95 {lat[int(0.95 * (len(lat) - 1))]:.2f} ms, max {lat[-1]:.2f} ms", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
