#!/usr/bin/env python3
"""Chooses the background-removal variant that is fastest on this host for the same result, and
writes it into the model's sightline.json ("variant"), with the measurements beside it in
variant_choice.json (issue 11, field report 7).

    scripts/choose_variant.py --model models/isnet [--photos build/fixtures/photos] [--rounds 4]

Candidates are the variant files present: model.onnx (fp32, made from the shipped fp16 weights by
`prepare_model.py upcast-fp16`), model_fp16.onnx, model_quint8.onnx (shipped, dynamically
quantized), model_int8.onnx (statically calibrated by `prepare_model.py quantize-static`). Each runs the real test
photos (scikit-image's, fetched by scripts/fetch_photos.py) at the model's input size with the
thread count the server gives it (all cores), in alternating order so that load on the machine
touches every candidate alike; the median time per image decides. A candidate must give the same
result as fp32: fp16 within 0.01 of every mask value, an 8-bit variant a mask IoU (at 0.5) of at
least 0.98 on every photo; otherwise it is not chosen however fast it is.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

CANDIDATES = {"fp32": "model.onnx", "fp16": "model_fp16.onnx", "quint8": "model_quint8.onnx",
              "int8": "model_int8.onnx"}


def preprocess(path, size, mean, std):
    img = Image.open(path).convert("RGB").resize((size, size), Image.LANCZOS)
    x = (np.asarray(img, np.float32) - np.array(mean, np.float32)) / np.array(std, np.float32)
    return x.transpose(2, 0, 1)[None]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="models/isnet")
    ap.add_argument("--photos", default="build/fixtures/photos")
    ap.add_argument("--rounds", type=int, default=4, help="timed runs per candidate (each on another photo)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, os.path.join(here, "fetch_photos.py"), "--out", args.photos], check=True)
    cfg_path = os.path.join(args.model, "sightline.json")
    cfg = json.load(open(cfg_path))
    ii = cfg["image_input"]
    present = {v: os.path.join(args.model, f) for v, f in CANDIDATES.items()
               if os.path.exists(os.path.join(args.model, f))}
    if "fp32" not in present:
        raise SystemExit(f"{args.model}: no model.onnx (fp32) to compare against; run prepare_model.py upcast-fp16")
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.log_severity_level = 3
    # As the server runs them: idle pool threads do not spin (they would steal the cores from the
    # candidate being timed).
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sessions = {v: ort.InferenceSession(p, so, providers=["CPUExecutionProvider"]) for v, p in present.items()}
    size = sessions["fp32"].get_inputs()[0].shape[-1]
    size = size if isinstance(size, int) else 1024
    photos = sorted(os.path.join(args.photos, p) for p in os.listdir(args.photos))
    inputs = [preprocess(p, size, ii["mean"], ii["std"]) for p in photos]
    name = sessions["fp32"].get_inputs()[0].name

    def run(v, x):
        want = sessions[v].get_inputs()[0].type
        return sessions[v].run(None, {name: x.astype(np.float16) if "float16" in want else x})[0].astype(np.float32)

    # Agreement with fp32 on every photo.
    reference = [run("fp32", x) for x in inputs]
    report = {"threads": args.threads, "photos": [os.path.basename(p) for p in photos], "candidates": {}}
    for v in present:
        outs = [run(v, x) for x in inputs]
        diff = max(float(np.max(np.abs(o - r))) for o, r in zip(outs, reference))
        ious = []
        for o, r in zip(outs, reference):
            a, b = o > 0.5, r > 0.5
            ious.append(float((a & b).sum() / max(1, (a | b).sum())))
        same = diff <= 0.01 if v in ("fp32", "fp16") else min(ious) >= 0.98
        report["candidates"][v] = {"file": os.path.basename(present[v]), "max_abs_diff_vs_fp32": diff,
                                   "min_mask_iou_vs_fp32": min(ious), "same_result": same, "seconds": []}
    # Alternating timed runs (one warm-up each above).
    for r in range(args.rounds):
        for v in present:
            x = inputs[r % len(inputs)]
            t = time.perf_counter()
            run(v, x)
            report["candidates"][v]["seconds"].append(time.perf_counter() - t)
    for v, c in report["candidates"].items():
        c["median_seconds"] = statistics.median(c["seconds"])
        print(f"{v:>7}: {c['median_seconds']:.3f} s/image (median of {args.rounds}), max diff vs fp32 "
              f"{c['max_abs_diff_vs_fp32']:.2g}, min mask IoU {c['min_mask_iou_vs_fp32']:.4f}"
              f"{'' if c['same_result'] else '  (not the same result: excluded)'}")
    eligible = {v: c for v, c in report["candidates"].items() if c["same_result"]}
    choice = min(eligible, key=lambda v: eligible[v]["median_seconds"])
    report["chosen"] = choice
    cfg["variant"] = choice
    # Thread settings for the chosen variant: every intra-op thread count up to the cores, timed in
    # alternation; fewer threads than cores are configured only when measurably faster here.
    if args.threads > 1:
        by_threads = {}
        for n in range(1, args.threads + 1):
            o = ort.SessionOptions()
            o.intra_op_num_threads = n
            o.log_severity_level = 3
            o.add_session_config_entry("session.intra_op.allow_spinning", "0")
            by_threads[n] = {"session": ort.InferenceSession(present[choice], o, providers=["CPUExecutionProvider"]),
                             "seconds": []}
        feed_name = by_threads[1]["session"].get_inputs()[0].name
        want16 = "float16" in by_threads[1]["session"].get_inputs()[0].type
        for r in range(max(2, args.rounds // 2)):
            for n, t in by_threads.items():
                x = inputs[r % len(inputs)]
                t0 = time.perf_counter()
                t["session"].run(None, {feed_name: x.astype(np.float16) if want16 else x})
                t["seconds"].append(time.perf_counter() - t0)
        medians = {n: statistics.median(t["seconds"]) for n, t in by_threads.items()}
        best = min(medians, key=medians.get)
        report["intra_op_threads_seconds"] = medians
        for n, m in medians.items():
            print(f"  {choice} with {n} intra-op thread(s): {m:.3f} s/image")
        opt = cfg.setdefault("optimization", {})
        if best < args.threads and medians[best] < 0.95 * medians[args.threads]:
            opt["intra_op_threads"] = best
        else:
            opt.pop("intra_op_threads", None)  # all cores, the server's default
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.model, "variant_choice.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(f"chosen: {choice} -> {cfg_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
