#!/usr/bin/env python3
"""The two safety classifiers set-up installs, in bare onnxruntime on this machine: ms per image at
batch 1 and 8 (2 intra-op threads, median of 5 rounds of 10 runs), and whether they agree on the
test photos' verdict (unsafe probability >= each model's threshold).

  .venv/bin/python bench/run_safety_models_bench.py [--repo models] [--photos build/fixtures/photos]
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from gen_nsfwjs_reference import photo_tensor  # noqa: E402  nsfwjs's input, as the tests build it


def session(path):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 2
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def ms_per_image(s, name, batch):
    x = np.random.default_rng(0).random((batch, 224, 224, 3), dtype=np.float32)
    for _ in range(3):
        s.run(None, {name: x})
    rounds = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(10):
            s.run(None, {name: x})
        rounds.append((time.perf_counter() - t) / 10 / batch * 1000)
    return sorted(rounds)[2]


def unsafe(cfg, probs):
    labels = cfg["classification"]["labels"]
    return sum(float(probs[labels.index(u)]) for u in cfg["classification"]["unsafe_labels"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=os.path.join(ROOT, "models"))
    ap.add_argument("--photos", default=os.path.join(ROOT, "build", "fixtures", "photos"))
    a = ap.parse_args()
    models = {"open_nsfw": "input:0", "nsfwjs": "input_1"}
    photos = sorted(os.listdir(a.photos))
    verdicts = {}
    for m, name in models.items():
        cfg = json.load(open(os.path.join(a.repo, m, "sightline.json")))
        s = session(os.path.join(a.repo, m, "model.onnx"))
        print(f"{m}: {ms_per_image(s, name, 1):.2f} ms/image at batch 1, {ms_per_image(s, name, 8):.2f} at batch 8")
        scores = []
        for p in photos:  # each model's own preprocessing (see scripts/fetch_video_models.py)
            im = Image.open(os.path.join(a.photos, p)).convert("RGB")
            if m == "open_nsfw":
                im = im.resize((256, 256), Image.BILINEAR).crop((16, 16, 240, 240))
                x = np.asarray(im, np.float32)[:, :, ::-1] - np.array([104, 117, 123], np.float32)
            else:
                x = photo_tensor(os.path.join(a.photos, p))
            scores.append(unsafe(cfg, s.run(None, {name: np.ascontiguousarray(x[None])})[0][0]))
        verdicts[m] = [sc >= cfg["classification"]["threshold"] for sc in scores]
        print(f"  unsafe probability per photo: " + ", ".join(f"{p} {sc:.3f}" for p, sc in zip(photos, scores)))
    agree = sum(x == y for x, y in zip(*verdicts.values()))
    print(f"verdicts agree on {agree} of {len(photos)} photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
