#!/usr/bin/env python3
"""Captioning benchmarks on a benchmark-sized model — `--family captioner`: the vit-gpt2 layout
(scripts/gen_captioner_fixture.py --size bench, d_model 256, 4 layers); `--family vlm`: FastVLM's
layout (scripts/gen_vlm_fixture.py --size bench, d_model 512, 4 layers, 256 image features and the
chat-templated prompt, ~310 prompt positions) — the same ONNX files for every system, one photo as
the raw body, greedy, max_new_tokens 32, open-loop requests at fixed rates (bench/loadgen: latency
from each request's scheduled send time) below capacity, and closed-loop capacity (8 connections
back to back), in one run:

1. Sightline's /v1/caption against the Python service teams write (bench/peers/caption_peer.py:
   FastAPI + onnxruntime, a generate() loop per request on the thread pool);
2. Sightline with step-level batching against Sightline decoding one sequence at a time
   (sightline.json "generation": {"max_rows": 1}).

Tokens/s = answered requests/s x the caption's tokens (the same image and greedy decoding: every
answer has the same length, read from a probe request). Also the time to first token under load
(sightline_generation_time_to_first_token_seconds).

  .venv/bin/python bench/run_caption_bench.py [--family captioner|vlm] [--rates 4] [--seconds 20]

`--family vlm --size real` runs a VLM of FastVLM-0.5B's language-model dimensions instead (Qwen2-0.5B:
24 layers, d_model 896, 14 / 2 heads, a 4864-wide gated MLP, 151,936 logits; random weights, 2 GB in
fp32), where a decode step of one sequence is bound by reading the weights, as on the real model;
each request takes seconds, so give it minutes (--seconds 150 --rates 0.1).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import requests
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bg_bench as bg  # noqa: E402
from run_clip_bench import loadgen  # noqa: E402

ROOT = bg.ROOT


def probe_tokens(url, photo):
    r = requests.post(url, data=open(photo, "rb").read(), headers={"Content-Type": "image/png"}, timeout=120)
    r.raise_for_status()
    body = r.json()
    return body["data"][0]["usage"]["completion_tokens"] if "data" in body else body["completion_tokens"]


def ttft(port):
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    vals = {}
    for line in text.splitlines():
        if line.startswith("sightline_generation_time_to_first_token_seconds_"):
            k, _, v = line.rpartition(" ")
            vals[k.split("{")[0].rsplit("_", 1)[1]] = float(v)
    return vals.get("sum", 0) / vals["count"] * 1000 if vals.get("count") else None


WARMUP = 2
NO_CAPACITY = False


def capacity(name, port, path, photo, seconds, tokens, results):
    """Closed loop, 8 connections back to back: the most the system answers."""
    out = subprocess.run([os.path.join(ROOT, "build", "bench", "loadgen"), "--port", str(port), "--path", path,
                          "--body-file", photo, "--header", "Content-Type: image/png", "--connections", "8",
                          "--duration", str(seconds), "--warmup", str(WARMUP)], check=True, capture_output=True,
                         text=True).stdout
    out = json.loads(out.strip().splitlines()[-1])
    row = {"closed_loop_rps": out["throughput_ok_rps"], "tokens_per_s": out["throughput_ok_rps"] * tokens,
           "p50_ms": out["latency_ok_ms"]["p50"], "p95_ms": out["latency_ok_ms"]["p95"], "status": out["status"]}
    results.setdefault(name + "_capacity", row)
    print(name, "capacity", json.dumps(row), flush=True)


def run_rates(name, port, path, photo, rates, seconds, tokens, results, metrics_port=None):
    if not NO_CAPACITY:
        capacity(name, port, path, photo, seconds, tokens, results)
    for rate in rates:
        before = ttft(metrics_port) if metrics_port else None
        out = loadgen(port, path, photo, rate, seconds, "image/png")
        row = {"rate": rate, "ok_rps": out["throughput_ok_rps"], "tokens_per_s": out["throughput_ok_rps"] * tokens,
               "p50_ms": out["latency_ok_ms"]["p50"], "p95_ms": out["latency_ok_ms"]["p95"],
               "status": out["status"], "errors": out["errors"]}
        if metrics_port:
            row["mean_ttft_ms_cumulative"] = ttft(metrics_port)
        results.setdefault(name, []).append(row)
        print(name, json.dumps(row), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="4", help="open-loop rates, below the systems' capacity")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--family", choices=["captioner", "vlm"], default="captioner")
    ap.add_argument("--size", choices=["bench", "real"], default="bench",
                    help="vlm only: the benchmark-sized model, or FastVLM-0.5B's dimensions")
    ap.add_argument("--skip-one-at-a-time", action="store_true",
                    help="leave out Sightline decoding one sequence at a time")
    ap.add_argument("--no-capacity", action="store_true", help="the open-loop rates only")
    args = ap.parse_args()
    global WARMUP, NO_CAPACITY
    NO_CAPACITY = args.no_capacity
    WARMUP = 2 if args.size == "bench" else 20  # a whole step-level batch in flight before measuring
    rates = [float(r) for r in args.rates.split(",")]
    work = tempfile.mkdtemp(prefix="caption-bench-")
    # No drift towards EOS: every answer runs to max_new_tokens, the same work for every system.
    tokenizers = os.path.join(ROOT, "build", "fixtures", "tokenizers")
    if args.family == "vlm":
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_vlm_fixture.py"), "--size", args.size,
                        "--eos-drift", "0", "--out", work, "--tokenizer",
                        os.path.join(tokenizers, "qwen2", "tokenizer.json")], check=True, capture_output=True)
        model = os.path.join(work, "vlm-" + args.size)
    else:
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_captioner_fixture.py"), "--size",
                        "bench", "--eos-drift", "0", "--out", work, "--tokenizer",
                        os.path.join(tokenizers, "gpt2", "tokenizer.json")], check=True, capture_output=True)
        model = os.path.join(work, "captioner-bench")
    photo = os.path.join(tempfile.mkdtemp(prefix="caption-photo-"), "photo.png")
    Image.open(os.path.join(ROOT, "build", "fixtures", "photos", "astronaut.png")).convert("RGB").resize(
        (512, 512)).save(photo)
    q = f"?max_new_tokens={args.max_new_tokens}"
    results = {"family": args.family, "size": args.size, "rates": rates, "seconds": args.seconds,
               "max_new_tokens": args.max_new_tokens}

    port = bg.free_port()
    cmd = [os.path.join(ROOT, "build", "sightline"), "serve", "--model-repository", work, "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warn"]
    with bg.System("sightline", cmd, f"http://127.0.0.1:{port}/readyz"):
        tokens = probe_tokens(f"http://127.0.0.1:{port}/v1/caption{q}", photo)
        results["sightline_tokens_per_caption"] = tokens
        run_rates("sightline", port, "/v1/caption" + q, photo, rates, args.seconds, tokens, results, port)

    if not args.skip_one_at_a_time:
        json.dump({"generation": {"max_rows": 1}}, open(os.path.join(model, "sightline.json"), "w"))
        with bg.System("sightline", cmd, f"http://127.0.0.1:{port}/readyz"):
            run_rates("sightline_one_at_a_time", port, "/v1/caption" + q, photo, rates, args.seconds, tokens,
                      results, port)
        os.remove(os.path.join(model, "sightline.json"))

    pport = bg.free_port()
    peer = [os.path.join(ROOT, ".venv", "bin", "uvicorn"), "caption_peer:app", "--app-dir", bg.PEERS,
            "--host", "127.0.0.1", "--port", str(pport), "--log-level", "warning",
            "--timeout-keep-alive", "600"]  # loadgen keeps its connections; uvicorn's 5 s default drops them
    with bg.System("fastapi", peer, f"http://127.0.0.1:{pport}/health", env={"CAPTION_MODEL": model}):
        ptokens = probe_tokens(f"http://127.0.0.1:{pport}/caption{q}", photo)
        results["peer_tokens_per_caption"] = ptokens
        run_rates("fastapi_peer", pport, "/caption" + q, photo, rates, args.seconds, ptokens, results)

    out = os.path.join(ROOT, "build", "bench", f"caption_results_{args.family}_{args.size}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    json.dump(results, open(out, "w"), indent=1)
    print(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
