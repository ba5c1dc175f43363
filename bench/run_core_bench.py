#!/usr/bin/env python3
"""Core-server benchmarks (issue: server overhead, open-loop latency and shedding, cold start).

Every figure is a ratio measured in this one run against a baseline measured in the same run:
  1. overhead   = end-to-end items/s through Sightline (keep-alive, binary protocol, batch-1
                  requests) / bare ONNX Runtime Run() items/s with the same layout (instances,
                  intra-op threads, batch), in alternating short windows.
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


MODEL = "cnn224"


def make_repo(tmp, name, threads, batch, queue, extra_policy=None, instances=1, spinning=None, pool_priority=None):
    src = os.path.join(tmp, "all")
    if not os.path.exists(src):
        subprocess.check_call([sys.executable, os.path.join(ROOT, "scripts/gen_fixtures.py"), "--bench", "--out", src],
                              stdout=subprocess.DEVNULL)
    repo = os.path.join(tmp, name)
    os.makedirs(os.path.join(repo, MODEL))
    shutil.copy(os.path.join(src, MODEL, "model.onnx"), os.path.join(repo, MODEL, "model.onnx"))
    policy = {"max_queue_size": queue}
    policy.update(extra_policy or {})
    with open(os.path.join(repo, MODEL, "sightline.json"), "w") as f:
        json.dump({"max_batch_size": batch,
                   "dynamic_batching": {"max_queue_delay_microseconds": 2000, "preferred_batch_size": [batch],
                                        "default_queue_policy": policy},
                   "instance_group": {"count": instances},
                   "optimization": {"intra_op_threads": threads, **({"spinning": spinning} if spinning else {}),
                                    **({"pool_priority": pool_priority} if pool_priority else {})}},
                  f)
    return repo


SERVER_ARGS = []  # extra `sightline serve` arguments (--server-args)
CLIENT_ARGS = []  # extra bench/loadgen arguments (--client-args)


def start_server(repo, http_threads):
    port_file = tempfile.mktemp()
    t0 = time.perf_counter()
    proc = subprocess.Popen([os.path.join(BUILD, "sightline"), "serve", "-m", repo, "--host", "127.0.0.1", "--port", "0",
                             "--port-file", port_file, "--log-level", "warn", "--http-threads", str(http_threads)] + SERVER_ARGS)
    while not (os.path.exists(port_file) and open(port_file).read().strip()):
        if proc.poll() is not None:
            raise SystemExit("server failed to start")
        time.sleep(0.002)
    port = int(open(port_file).read())
    # The server listens while it loads, so every poll is a real HTTP exchange: one kept-alive
    # connection and a 5 ms pace keep the poller from taking CPU the warm-up needs (polling
    # every 2 ms with a new connection each time added ~1 s to ISNet's cold start).
    with requests.Session() as poller:
        while True:
            try:
                if poller.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None:
                raise SystemExit("server exited while loading")
            time.sleep(0.005)
    return proc, port, time.perf_counter() - t0


def body_file(tmp, batch):
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    header = json.dumps({"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": x.nbytes}}],
                         "parameters": {"binary_data_output": True}}).encode()
    path = os.path.join(tmp, f"body{batch}.bin")
    with open(path, "wb") as f:
        f.write(header + x.tobytes())
    return path, len(header)


def loadgen(port, body, hlen, **kw):
    args = [os.path.join(BUILD, "bench/loadgen"), "--port", str(port), "--path", f"/v2/models/{MODEL}/infer",
            "--body-file", body, "--header", f"Inference-Header-Content-Length: {hlen}"]
    for k, v in kw.items():
        args += [f"--{k}", str(v)]
    return sh(args + CLIENT_ARGS)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2, help="ORT intra-op threads, baseline and server")
    ap.add_argument("--seconds", type=float, default=2, help="length of each measured window")
    ap.add_argument("--rounds", type=int, default=10, help="baseline/server window pairs per layout")
    ap.add_argument("--spinning", choices=["off", "always"], default=None,
                    help="the server's optimization.spinning (default: the server's default)")
    ap.add_argument("--pool-priority", choices=["normal", "idle"],
                    help="the server's optimization.pool_priority (default: the server's default)")
    ap.add_argument("--layouts", default="b1_1x2,b8_1x2,b1_2x1,b1_1x1", help="which throughput layouts to run")
    ap.add_argument("--wait-budget-us", type=int, default=3000,
                    help="max_queue_wait_microseconds for the latency/overload runs (~1 service time under load)")
    ap.add_argument("--latency-only", action="store_true", help="skip the throughput layouts (uses --capacity)")
    ap.add_argument("--no-latency", action="store_true", help="skip the open-loop runs")
    ap.add_argument("--latency-seconds", type=float, default=8, help="length of each open-loop run")
    ap.add_argument("--capacity", type=float, default=0, help="with --latency-only: capacity in req/s")
    ap.add_argument("--out", default=os.path.join(BUILD, "bench/core_results.json"))
    ap.add_argument("--latency-instances", type=int, default=1,
                    help="instances for the open-loop runs (each gets threads / instances intra-op threads)")
    ap.add_argument("--http-threads", type=int, default=1, help="the server's I/O threads")
    ap.add_argument("--server-args", default="", help="extra arguments for `sightline serve`, e.g. '--max-connections 256'")
    ap.add_argument("--client-args", default="", help="extra arguments for bench/loadgen, e.g. '--copy-send' or '--nice -10'")
    args = ap.parse_args()
    SERVER_ARGS.extend(args.server_args.split())
    CLIENT_ARGS.extend(args.client_args.split())
    res = {"machine": {"cores": os.cpu_count()}, "model": MODEL}
    with tempfile.TemporaryDirectory() as tmp:
        body1, h1 = body_file(tmp, 1)
        # (label, batch, instances, threads per instance); the baseline gets the same batch and the
        # same layout: as many sessions as instances, each with the same intra-op threads.
        # b1_1x1 leaves a core to the client and the I/O thread, as a machine whose inference
        # threads do not take every core does; the others fill the cores with inference.
        layouts = [("b1_1x2", 1, 1, args.threads), ("b8_1x2", 8, 1, args.threads),
                   ("b1_2x1", 1, 2, max(1, args.threads // 2)), ("b1_1x1", 1, 1, 1)]
        # The machine's speed drifts by +-20% over seconds to minutes, so the baseline stays warm in
        # its own process and short windows alternate with the server's, ABBA order (bare, server,
        # server, bare, ...), so a linear drift cancels; each server window is paired with the
        # baseline window next to it and the median pair ratio is reported.
        layouts = [l for l in layouts if l[0] in args.layouts.split(",")]
        for label, batch, instances, threads in ([] if args.latency_only else layouts):
            repo = make_repo(tmp, f"repo_{label}", threads, batch, queue=64, instances=instances,
                             spinning=args.spinning, pool_priority=args.pool_priority)
            proc, port, cold = start_server(repo, args.http_threads)
            res["cold_start_s"] = cold
            base_proc = subprocess.Popen(
                [os.path.join(BUILD, "bench/ort_baseline"), "--model", os.path.join(repo, MODEL, "model.onnx"),
                 "--batch", str(batch), "--threads", str(threads), "--sessions", str(instances), "--windows",
                 "--warmup", "1"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

            def bare():
                base_proc.stdin.write(f"{args.seconds}\n")
                base_proc.stdin.flush()
                return json.loads(base_proc.stdout.readline())

            def served():
                return loadgen(port, body1, h1, connections=max(4, 3 * batch), duration=args.seconds, warmup=0.5)

            rounds = []
            try:
                for i in range(args.rounds):
                    if i % 2 == 0:
                        base, run = bare(), served()
                    else:
                        run, base = served(), bare()
                    # The client runs on the same cores as the server; the bare baseline has no
                    # client. Its CPU share is reported, and a ratio against a baseline scaled to
                    # the cores the client left over (an estimate: ORT scaled linearly).
                    share = run["client_cpu_s"] / run["client_wall_s"] / os.cpu_count()
                    rounds.append({"baseline": base, "server": run, "client_share": share,
                                   "ratio": run["throughput_ok_rps"] / base["items_per_s"],
                                   "ratio_without_client": run["throughput_ok_rps"] / (base["items_per_s"] * (1 - share))})
            finally:
                base_proc.stdin.close(); base_proc.wait()
                proc.terminate(); proc.wait()
            pooled = (sum(r["server"]["throughput_ok_rps"] for r in rounds) /
                      sum(r["baseline"]["items_per_s"] for r in rounds))
            rounds.sort(key=lambda r: r["ratio"])
            med = rounds[len(rounds) // 2]
            res[label] = {"batch": batch, "instances": instances, "threads_per_instance": threads,
                          "baseline": med["baseline"], "server": med["server"], "ratio": med["ratio"],
                          "pooled_ratio": pooled, "all_ratios": [round(r["ratio"], 3) for r in rounds],
                          "client_share_median": sorted(r["client_share"] for r in rounds)[len(rounds) // 2],
                          "ratio_without_client_median":
                              sorted(r["ratio_without_client"] for r in rounds)[len(rounds) // 2]}

        # Latency and shedding: each request runs alone (batch 1 is the fastest per image here),
        # a bounded queue, and the queue-wait budget that keeps accepted latency near unloaded.
        if not args.no_latency:
            lat_threads = max(1, args.threads // args.latency_instances)
            repo = make_repo(tmp, "repo_lat", lat_threads, 1, queue=64, spinning=args.spinning,
                             pool_priority=args.pool_priority,
                             instances=args.latency_instances,
                             extra_policy={"max_queue_wait_microseconds": args.wait_budget_us})
            proc, port, _ = start_server(repo, args.http_threads)
            try:
                capacity = args.capacity or res["b1_1x2" if args.latency_instances == 1 else "b1_2x1"]["server"][
                "throughput_ok_rps"]
                res["capacity_rps"] = capacity
                for key, frac in (("open_10pct", 0.1), ("open_50pct", 0.5), ("open_3x", 3.0)):
                    res[key] = loadgen(port, body1, h1, rate=round(capacity * frac, 1), connections=64,
                                       duration=args.latency_seconds)
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
    for label in [l for l in ("b1_1x2", "b8_1x2", "b1_2x1", "b1_1x1") if l in res]:
        r = res[label]
        spare = r["instances"] * r["threads_per_instance"] < os.cpu_count()
        print(f"{label}: batch {r['batch']}, {r['instances']} instance(s) x {r['threads_per_instance']} thread(s): "
              f"bare ORT {r['baseline']['items_per_s']:.1f} items/s, Sightline {r['server']['throughput_ok_rps']:.1f} "
              f"items/s ({r['server']['connections']} connections, {r['server']['reconnects']} resends) "
              f"-> median ratio {r['ratio']:.3f}, pooled {r['pooled_ratio']:.3f} (pairs: {r['all_ratios']}); "
              f"client took {100 * r['client_share_median']:.1f}% of the cores" +
              (" (a core the inference threads do not use)" if spare else
               f", ratio without it ~{r['ratio_without_client_median']:.3f}"))
    for k in [k for k in ("open_10pct", "open_50pct", "open_3x") if k in res]:
        r = res[k]
        print(f"{k}: rate {r['rate']}/s ok p50/p95/p99 = {r['latency_ok_ms']['p50']:.2f}/{r['latency_ok_ms']['p95']:.2f}/"
              f"{r['latency_ok_ms']['p99']:.2f} ms; shed {r['latency_shed_ms']['count']} p50/p95/p99 = "
              f"{r['latency_shed_ms']['p50']:.2f}/{r['latency_shed_ms']['p95']:.2f}/{r['latency_shed_ms']['p99']:.2f} ms; status {r['status']}")
    if "open_3x" in res:
        print(f"accepted p95 at 3x / unloaded p95 = {res['overload_accepted_p95_over_unloaded_p95']:.2f}")
    if "cold_start_s" in res:
        print(f"cold start ({MODEL} repo): {res['cold_start_s']*1000:.0f} ms" +
              (f"; ISNet repo: {res['cold_start_isnet_s']:.2f} s" if "cold_start_isnet_s" in res else ""))


if __name__ == "__main__":
    main()
