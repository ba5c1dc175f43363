#!/usr/bin/env python3
"""What a FastVLM-layout decoder's work costs on bare onnxruntime (2 intra-op threads), for
docs/BENCHMARKS.md: a prefill of the benchmark's 313 positions with logits for every position (the
export as it is) and for the last one only (the graph Sightline loads: the LM head's input sliced
first, built here with the onnx package the same way runtime/last_position_logits.cc does), and a
decode step of 1, 8 and 16 rows at ~380 positions of cache, with the pool threads spinning or not.
Each setting runs in its own process, the two alternating for --rounds rounds; medians are printed
(this machine's figures move by ±20 % between back-to-back runs).

  .venv/bin/python bench/vlm_step_costs.py [--model DIR]   (default: builds --size real in a temp dir)
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
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def last_position_graph(src, dst):
    """src's graph with the LM head fed the last position only; weights stay in src's data file."""
    m = onnx.load(src, load_external_data=False)
    g = m.graph
    producer = {o: n for n in g.node for o in n.output}
    head = producer["logits"]
    while head.op_type != "MatMul":
        head = producer[head.input[0]]
    g.initializer.extend(numpy_helper.from_array(np.array([v], np.int64), n)
                         for v, n in [(-1, "lp_starts"), (2 ** 63 - 1, "lp_ends"), (1, "lp_axes")])
    g.node.insert(list(g.node).index(head),
                  helper.make_node("Slice", [head.input[0], "lp_starts", "lp_ends", "lp_axes"], ["lp_last"]))
    head.input[0] = "lp_last"
    onnx.save(m, dst)


def feeds(dec, rows, positions, past):
    d = next(i for i in dec.get_inputs() if i.name == "inputs_embeds").shape[2]
    f = {"inputs_embeds": np.random.rand(rows, positions, d).astype(np.float32),
         "attention_mask": np.ones((rows, past + positions), np.int64),
         "position_ids": np.tile(np.arange(past, past + positions), (rows, 1))}
    for i in dec.get_inputs():
        if i.name.startswith("past_key_values."):
            f[i.name] = np.random.rand(rows, i.shape[1], past, i.shape[3]).astype(np.float32)
    return f


def ms(sess, f, n):
    sess.run(None, f)
    t = time.perf_counter()
    for _ in range(n):
        sess.run(None, f)
    return (time.perf_counter() - t) / n * 1000


def measure(model, spin, positions):
    """One process's figures for one spin setting: {label: ms}."""
    onnx_dir = os.path.join(model, "onnx")
    out = {}

    def session(path):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 2
        so.add_session_config_entry("session.intra_op.allow_spinning", spin)
        return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])

    for name, file in [("every position's logits", "decoder_model_merged.onnx"),
                       ("last position's logits", "decoder_last_position.onnx")]:
        s = session(os.path.join(onnx_dir, file))
        out[f"prefill of {positions} positions, {name}"] = ms(s, feeds(s, 1, positions, 0), 3)
    for rows in [1, 8, 16]:
        out[f"decode step, {rows} rows"] = ms(s, feeds(s, rows, 1, 380), 10)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a vlm fixture folder (default: gen_vlm_fixture.py --size real)")
    ap.add_argument("--positions", type=int, default=313)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--measure", choices=["0", "1"], help=argparse.SUPPRESS)  # one child process
    a = ap.parse_args()
    if a.measure:
        print(json.dumps(measure(a.model, a.measure, a.positions)))
        return
    work = None
    if not a.model:
        work = tempfile.mkdtemp(prefix="vlm-steps-")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_vlm_fixture.py"), "--size", "real",
                        "--eos-drift", "0", "--out", work, "--tokenizer",
                        os.path.join(ROOT, "build", "fixtures", "tokenizers", "qwen2", "tokenizer.json")], check=True)
        a.model = os.path.join(work, "vlm-real")
    onnx_dir = os.path.join(a.model, "onnx")
    last = os.path.join(onnx_dir, "decoder_last_position.onnx")
    last_position_graph(os.path.join(onnx_dir, "decoder_model_merged.onnx"), last)
    runs = {"1": [], "0": []}
    try:
        for _ in range(a.rounds):
            for spin in runs:
                out = subprocess.run([sys.executable, __file__, "--model", a.model, "--positions", str(a.positions),
                                      "--measure", spin], check=True, capture_output=True, text=True).stdout
                runs[spin].append(json.loads(out.strip().splitlines()[-1]))
    finally:
        os.remove(last)
        if work:
            shutil.rmtree(work, ignore_errors=True)
    for spin, rs in runs.items():
        for label in rs[0]:
            v = sorted(r[label] for r in rs)
            rows = int(label.split()[2]) if label.startswith("decode") else 1
            extra = f" ({v[len(v) // 2] / rows:.1f} ms a row)" if rows > 1 else ""
            print(f"spinning={'on ' if spin == '1' else 'off'} {label}: median {v[len(v) // 2]:.1f} ms"
                  f"{extra}, range {v[0]:.0f}-{v[-1]:.0f}")


if __name__ == "__main__":
    main()
