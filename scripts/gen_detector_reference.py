#!/usr/bin/env python3
"""Runs PySceneDetect 0.7's own detectors on a synthetic frame sequence and writes what they found,
so the C++ ports (src/media/video/shot_detection.cc) are checked cut for cut and score for score
on identical pixels (decoders and scalers differ; the detectors must not).

Writes into --out:
  detector_frames.rgb      N frames of 64x36 packed RGB24
  detector_reference.json  {"width", "height", "fps", "frames", "hsv": {...}, "runs": [{detector,
                           options, cuts, scores}]}

The sequence exercises what the detectors decide on: hard cuts, cuts closer than the minimum
shot length (the flash filter's merge), camera-like motion, flashes, fades through black.
"""

import argparse
import json
import os

import cv2
import numpy as np
from scenedetect import FrameTimecode
from scenedetect.detectors import AdaptiveDetector, ContentDetector, ThresholdDetector

W, H, FPS = 64, 36, 25.0


def scene(rng, n, motion):
    """n frames of one 'shot': a random smooth picture shifted a little each frame."""
    base = rng.integers(0, 256, (H // 4 + 2, W // 4 + 2, 3)).astype(np.uint8)
    big = cv2.resize(base, (W * 2, H * 2), interpolation=cv2.INTER_CUBIC)
    out = []
    for i in range(n):
        x = int(round(i * motion)) % W
        out.append(big[H // 2: H // 2 + H, x // 2: x // 2 + W].copy())
    return out


def build(seed=3):
    rng = np.random.default_rng(seed)
    frames = []
    frames += scene(rng, 40, 0.5)
    frames += scene(rng, 30, 0.3)          # cut at 40
    frames += scene(rng, 6, 0.2)           # cut at 70, then another at 76: merged by min length
    frames += scene(rng, 40, 1.0)
    flash = frames[-1].copy()
    frames.append(np.full_like(flash, 255))  # a one-frame flash
    frames += [flash] * 20
    for k in range(10):                    # fade out
        frames.append((frames[-1].astype(np.float32) * 0.7).astype(np.uint8))
    frames += [np.zeros((H, W, 3), np.uint8)] * 6
    nxt = scene(rng, 40, 0.4)
    for k in range(8):                     # fade in
        nxt[k] = (nxt[k].astype(np.float32) * (k + 1) / 9).astype(np.uint8)
    frames += nxt
    frames += scene(rng, 25, 2.0)          # fast motion
    frames += scene(rng, 30, 0.0)
    return frames


def run(detector, frames):
    cuts, scores = [], []
    for i, rgb in enumerate(frames):
        tc = FrameTimecode(i, fps=FPS)
        found = detector.process_frame(tc, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        cuts += [int(c.frame_num) for c in found]
        if hasattr(detector, "_frame_score"):
            scores.append(float(detector._frame_score))
    post = getattr(detector, "post_process", None)
    if post:
        cuts += [int(c.frame_num) for c in post(FrameTimecode(len(frames) - 1, fps=FPS))]
    return cuts, scores


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    frames = build()
    with open(os.path.join(args.out, "detector_frames.rgb"), "wb") as f:
        for fr in frames:
            f.write(np.ascontiguousarray(fr).tobytes())

    runs = []
    configs = [
        ("content", {"threshold": 27.0, "min_shot_s": 0.6}, lambda: ContentDetector(threshold=27.0, min_scene_len=0.6)),
        ("content", {"threshold": 12.0, "min_shot_s": 0.6}, lambda: ContentDetector(threshold=12.0, min_scene_len=0.6)),
        ("content", {"threshold": 20.0, "min_shot_s": 0.0}, lambda: ContentDetector(threshold=20.0, min_scene_len=0.0)),
        ("adaptive", {"adaptive_threshold": 3.0, "min_shot_s": 0.6}, lambda: AdaptiveDetector(min_scene_len=0.6)),
        ("adaptive", {"adaptive_threshold": 2.0, "min_shot_s": 0.2, "window_width": 3, "min_content_val": 8.0},
         lambda: AdaptiveDetector(adaptive_threshold=2.0, min_scene_len=0.2, window_width=3, min_content_val=8.0)),
        ("threshold", {"threshold": 12.0, "min_shot_s": 0.6}, lambda: ThresholdDetector(threshold=12, min_scene_len=0.6)),
        ("threshold", {"threshold": 40.0, "min_shot_s": 0.6, "fade_bias": -1.0},
         lambda: ThresholdDetector(threshold=40, min_scene_len=0.6, fade_bias=-1.0)),
    ]
    for name, options, make in configs:
        cuts, scores = run(make(), frames)
        runs.append({"detector": name, "options": options, "cuts": cuts, "scores": scores})

    # OpenCV's 8-bit RGB->HSV on every corner of the cube and random pixels.
    rng = np.random.default_rng(11)
    px = np.concatenate([np.array([[r, g, b] for r in (0, 1, 254, 255) for g in (0, 128, 255) for b in (0, 37, 255)]),
                         rng.integers(0, 256, (4000, 3))]).astype(np.uint8)
    hsv = cv2.cvtColor(px.reshape(1, -1, 3), cv2.COLOR_RGB2HSV).reshape(-1, 3)
    ref = {"width": W, "height": H, "fps": FPS, "frames": len(frames), "runs": runs,
           "hsv": {"rgb": px.reshape(-1).tolist(), "hsv": hsv.reshape(-1).tolist()}}
    with open(os.path.join(args.out, "detector_reference.json"), "w") as f:
        json.dump(ref, f)
    print(f"detector reference: {len(frames)} frames, " + ", ".join(f"{r['detector']} {r['cuts']}" for r in runs))


if __name__ == "__main__":
    main()
