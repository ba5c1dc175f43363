#!/usr/bin/env python3
"""Core-server benchmarks (issue: server overhead, open-loop latency and shedding, cold start).

Every figure is a ratio measured in this one run against a baseline measured in the same run:
  1. overhead   = end-to-end items/s through Sightline (keep-alive, binary protocol, batch-1
                  requests batched by the server to 8) / bare ONNX Runtime Run() items/s at batch 8,
                  same model and intra-op threads.
  2. latency    = open-loop p50/p95/p99 at a fixed rate; then at 3x the measured capacity:
                  accepted p95 / unloaded p95, and how fast shed answers come back.
  3. cold start = process start to /readyz 200.
Run from the repository root after scripts/build.sh:  .venv/bin/python bench/run_core_bench.py
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")


def sh(args):
    return json.loads(subprocess.check_output(args, text=True))


def make_repo(tmp, threads, queue):
    subprocess.check_call([sys.executable, os.path.join(ROOT, "scripts/gen_fixtures.py"), "--out", os.path.join(tmp, "all")],
                          stdout=subprocess.DEVNULL)
    repo = os.path.join(tmp, "repo")
    os.makedirs(os.path.join(repo, "convnet"))
    shutil.copy(os.path.join(tmp, "all/convnet/model.onnx"), os.path.join(repo, "convnet/model.onnx"))
    with open(os.path.join(repo, "convnet/sightline.json"), "w") as f:
        json.dump({"max_batch_size": 8,
                   "dynamic_batching": {"max_queue_delay_microseconds": 2000, "preferred_batch_size": [8],
                                        "default_queue_policy": {"max_queue_size": queue}},
                   "optimization": {"intra_op_threads": threads}}, f)
    return repo


def start_server(repo, http_threads):
    port_file = tempfile.mktemp()
    t0 = time.perf_counter()
    proc = subprocess.Popen([os.path.join(BUILD, "sightline"), "serve", "-m", repo, "--host", "127.0.0.1", "--port", "0",
                             "--port-file", port_file, "--log-level", "warn", "--http-threads", str(http_threads)])
    while not (os.path.exists(port_file) and open(port_file).read().strip()):
        if proc.poll() is not None:
            raise SystemExit("server failed to start")
        time.sleep(0.002)
    port = int(open(port_file).read())
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.002)
    return proc, port, time.perf_counter() - t0


def body_file(tmp, batch):
    x = np.random.default_rng(0).standard_normal((batch, 3, 64, 64)).astype(np.float32)
    header = json.dumps({"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": x.nbytes}}],
                         "parameters": {"binary_data_output": True}}).encode()
    path = os.path.join(tmp, f"body{batch}.bin")
    with open(path, "wb") as f:
        f.write(header + x.tobytes())
    return path, len(header)


def loadgen(port, body, hlen, **kw):
    args = [os.path.join(BUILD, "bench/loadgen"), "--port", str(port), "--path", "/v2/models/convnet/infer",
            "--body-file", body, "--header", f"Inference-Header-Content-Length: {hlen}"]
    for k, v in kw.items():
        args += [f"--{k}", str(v)]
    return sh(args)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2, help="ORT intra-op threads, baseline and server")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--out", default=os.path.join(BUILD, "bench/core_results.json"))
    args = ap.parse_args()
    res = {"machine": {"cores": os.cpu_count()}}
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(tmp, args.threads, queue=16)
        model = os.path.join(repo, "convnet/model.onnx")
        res["baseline"] = sh([os.path.join(BUILD, "bench/ort_baseline"), "--model", model, "--batch", "8",
                              "--threads", str(args.threads), "--seconds", str(args.seconds)])
        body1, h1 = body_file(tmp, 1)
        body8, h8 = body_file(tmp, 8)

        # Cold start, measured on its own fresh process.
        proc, port, cold = start_server(repo, 1)
        res["cold_start_s"] = cold
        proc.terminate(); proc.wait()

        proc, port, _ = start_server(repo, 1)
        try:
            closed = loadgen(port, body1, h1, connections=32, duration=args.seconds)
            closed8 = loadgen(port, body8, h8, connections=4, duration=args.seconds)
            res["server_closed_batch1"] = closed
            res["server_closed_batch8"] = closed8
            base = res["baseline"]["items_per_s"]
            res["overhead_ratio_batch1_requests"] = closed["throughput_ok_rps"] / base
            res["overhead_ratio_batch8_requests"] = closed8["throughput_ok_rps"] * 8 / base
            capacity = closed["throughput_ok_rps"]
            res["capacity_rps"] = capacity
            res["open_10pct"] = loadgen(port, body1, h1, rate=round(capacity * 0.1, 1), connections=64, duration=args.seconds)
            res["open_50pct"] = loadgen(port, body1, h1, rate=round(capacity * 0.5, 1), connections=64, duration=args.seconds)
            res["open_3x"] = loadgen(port, body1, h1, rate=round(capacity * 3, 1), connections=128, duration=args.seconds)
        finally:
            proc.terminate(); proc.wait()
        unloaded_p95 = res["open_10pct"]["latency_ok_ms"]["p95"]
        res["overload_accepted_p95_over_unloaded_p95"] = res["open_3x"]["latency_ok_ms"]["p95"] / unloaded_p95

        isnet = os.path.join(ROOT, "models")
        if os.path.exists(os.path.join(isnet, "isnet")):
            proc, port, cold_isnet = start_server(isnet, 1)
            res["cold_start_isnet_s"] = cold_isnet
            proc.terminate(); proc.wait()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=2)
    b = res["baseline"]
    print(f"bare ORT batch 8, {args.threads} threads: {b['items_per_s']:.0f} items/s")
    print(f"server, batch-1 requests x32 conns: {res['server_closed_batch1']['throughput_ok_rps']:.0f} items/s "
          f"-> overhead ratio {res['overhead_ratio_batch1_requests']:.3f}")
    print(f"server, batch-8 requests x4 conns: {res['server_closed_batch8']['throughput_ok_rps']*8:.0f} items/s "
          f"-> overhead ratio {res['overhead_ratio_batch8_requests']:.3f}")
    for k in ("open_10pct", "open_50pct", "open_3x"):
        r = res[k]
        print(f"{k}: rate {r['rate']}/s ok p50/p95/p99 = {r['latency_ok_ms']['p50']:.2f}/{r['latency_ok_ms']['p95']:.2f}/"
              f"{r['latency_ok_ms']['p99']:.2f} ms; shed {r['latency_shed_ms']['count']} p50/p99 = "
              f"{r['latency_shed_ms']['p50']:.2f}/{r['latency_shed_ms']['p99']:.2f} ms; status {r['status']}")
    print(f"accepted p95 at 3x / unloaded p95 = {res['overload_accepted_p95_over_unloaded_p95']:.2f}")
    print(f"cold start (convnet repo): {res['cold_start_s']*1000:.0f} ms" +
          (f"; ISNet repo: {res['cold_start_isnet_s']:.2f} s" if "cold_start_isnet_s" in res else ""))


if __name__ == "__main__":
    main()
