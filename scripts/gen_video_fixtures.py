#!/usr/bin/env python3
"""Generates test videos with known shot boundaries from real photographs, with FFmpeg's CLI.

Each shot is a slow pan-and-zoom across one photo (so frames inside a shot differ a little, as in
real footage); between shots come hard cuts, fades through black and dissolves at known frames.
The same edit is encoded in several containers and codecs, with rotation metadata and with a
variable frame rate; bad inputs (truncated, empty, audio only, an image, huge dimensions) are made
beside them. `manifest.json` lists, per file, its codec, frame rate, and the known cuts (the first
frame of each new shot, and its time in seconds) that tests compare against.

Usage: gen_video_fixtures.py --photos build/fixtures/photos --out build/fixtures/videos
       gen_video_fixtures.py --fuzz-seeds tests/fuzz/corpus/video_decoder
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from PIL import Image

W, H = 320, 180
FPS = 25


def shot_frames(photo, n, seed):
    """n frames panning and zooming slowly over `photo` (an RGB array)."""
    rng = np.random.default_rng(seed)
    ph, pw = photo.shape[:2]
    # A window of the output's aspect, 70% -> 60% of the photo, drifting across it.
    base = min(pw / W, ph / H) * 0.7
    dx, dy = rng.uniform(-0.15, 0.15, 2)
    frames = []
    img = Image.fromarray(photo)
    for i in range(n):
        t = i / max(1, n - 1)
        scale = base * (1.0 - 0.15 * t)
        cw, ch = W * scale, H * scale
        cx = pw / 2 + dx * pw * (t - 0.5)
        cy = ph / 2 + dy * ph * (t - 0.5)
        box = (cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2)
        frames.append(np.asarray(img.resize((W, H), Image.BILINEAR, box=box)))
    return frames


def load_photos(folder):
    names = ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "retina.jpg"]
    return {n.split(".")[0]: np.asarray(Image.open(os.path.join(folder, n)).convert("RGB")) for n in names}


def edit(photos, plan):
    """plan: list of ("shot", photo, frames) | ("cut",) | ("fade", out_frames, black_frames, in_frames)
    | ("dissolve", frames). Returns (frames, cuts) where cuts are the first frames of new shots:
    a hard cut's first frame, the middle of a fade's black, the middle of a dissolve."""
    shots = [p for p in plan if p[0] == "shot"]
    rendered = [shot_frames(photos[s[1]], s[2], seed=i) for i, s in enumerate(shots)]
    frames, cuts = [], []
    si = 0
    pending = None
    for step in plan:
        if step[0] == "shot":
            shot = list(rendered[si])
            si += 1
            if pending and pending[0] == "fade":
                _, _, black, fade_in = pending
                cuts.append(len(frames) - black + black // 2)
                for k in range(fade_in):
                    shot[k] = (shot[k].astype(np.float32) * ((k + 1) / (fade_in + 1))).astype(np.uint8)
            elif pending and pending[0] == "dissolve":
                n = pending[1]
                tail = frames[-n:]
                del frames[-n:]
                for k in range(n):
                    a = (k + 1) / (n + 1)
                    shot[k] = ((1 - a) * tail[k].astype(np.float32) + a * shot[k].astype(np.float32)).astype(np.uint8)
                cuts.append(len(frames) + n // 2)
            elif pending and pending[0] == "cut":
                cuts.append(len(frames))
            frames.extend(shot)
            pending = None
        elif step[0] == "fade":
            _, fade_out, black, _ = step
            for k in range(fade_out):
                i = len(frames) - fade_out + k
                frames[i] = (frames[i].astype(np.float32) * (1 - (k + 1) / (fade_out + 1))).astype(np.uint8)
            frames.extend([np.zeros((H, W, 3), np.uint8)] * black)
            pending = step
        else:
            pending = step
    return frames, cuts


def encode(frames, path, codec_args, fps=FPS, extra_out=(), vf=None):
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{W}x{H}", "-r", str(fps), "-i", "-"]
    if vf:
        cmd += ["-vf", vf]
    cmd += list(codec_args) + list(extra_out) + [path]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    for f in frames:
        p.stdin.write(np.ascontiguousarray(f).tobytes())
    p.stdin.close()
    if p.wait() != 0:
        sys.exit(f"ffmpeg failed for {path}")


def set_display_rotation(path, clockwise):
    """Writes the MP4 track header's matrix so players turn frames `clockwise` degrees for display
    (FFmpeg 5.1's CLI has no -display_rotation and its mov muxer ignores the old `rotate` tag).
    The matrix is av_display_rotation_set(-clockwise): ISO/IEC 14496-12 8.3.2, 16.16 fixed point."""
    import math
    import struct
    data = bytearray(open(path, "rb").read())
    at = data.find(b"tkhd")
    assert at > 0 and data[at + 4] == 0, "expects one version-0 tkhd"
    theta = math.radians(-clockwise)
    c, s = round(math.cos(theta) * 65536), round(math.sin(theta) * 65536)
    matrix = [c, -s, 0, s, c, 0, 0, 0, 1 << 30]
    struct.pack_into(">9i", data, at + 4 + 40, *matrix)
    open(path, "wb").write(bytes(data))


def run(cmd):
    subprocess.run(cmd, check=True)


def fuzz_seeds(out):
    """Tiny clips (64x64 — x265 aborts below —, 6 frames) of every container and codec the decoder reads: the committed
    seed corpus of tests/fuzz/video_decoder_fuzz.cc."""
    os.makedirs(out, exist_ok=True)
    src = ["-f", "lavfi", "-i", "testsrc2=size=64x64:rate=10:duration=0.6"]
    seeds = {
        "h264.mp4": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
        "h264.ts": ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"],
        "hevc.mkv": ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error"],
        "vp8.webm": ["-c:v", "libvpx", "-deadline", "realtime"],
        "vp9.webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime"],
        "av1.mkv": ["-c:v", "libaom-av1", "-cpu-used", "8", "-usage", "realtime"],
        "mjpeg.avi": ["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"],
        "mpeg4.avi": ["-c:v", "mpeg4"],
        "flv1.flv": ["-c:v", "flv"],
    }
    for name, codec in seeds.items():
        run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *src, *codec, os.path.join(out, name)])
    shutil.copy(os.path.join(out, "h264.mp4"), os.path.join(out, "rotated.mp4"))
    set_display_rotation(os.path.join(out, "rotated.mp4"), 270)
    print(f"fuzz seeds: {len(seeds) + 1} clips in {out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos")
    ap.add_argument("--out")
    ap.add_argument("--fuzz-seeds", help="write only the fuzz seed clips into this folder")
    args = ap.parse_args()
    if args.fuzz_seeds:
        return fuzz_seeds(args.fuzz_seeds)
    if not args.photos or not args.out:
        ap.error("--photos and --out are required")
    os.makedirs(args.out, exist_ok=True)
    photos = load_photos(args.photos)
    manifest = {}

    def record(name, cuts, frames, fps=FPS, times=None, **extra):
        manifest[name] = {"frames": frames, "fps": fps, "cuts": cuts,
                          "cut_times": times if times is not None else [c / fps for c in cuts], **extra}

    # Hard cuts: 4 shots of 2 s.
    cuts_plan = [("shot", "astronaut", 50), ("cut",), ("shot", "coffee", 50), ("cut",),
                 ("shot", "chelsea", 50), ("cut",), ("shot", "rocket", 50)]
    frames, cuts = edit(photos, cuts_plan)
    h264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
    variants = {
        "cuts_h264.mp4": h264 + ["-movflags", "+faststart"],
        "cuts_h264.mov": h264,
        "cuts_hevc.mkv": ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                          "-pix_fmt", "yuv420p"],
        "cuts_vp9.webm": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "400k"],
        "cuts_vp8.webm": ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "400k"],
        "cuts_av1.mkv": ["-c:v", "libaom-av1", "-cpu-used", "8", "-usage", "realtime", "-b:v", "300k"],
        "cuts_mjpeg.avi": ["-c:v", "mjpeg", "-q:v", "5", "-pix_fmt", "yuvj420p"],
        "cuts_mpeg4.avi": ["-c:v", "mpeg4", "-q:v", "5"],
    }
    for name, codec in variants.items():
        encode(frames, os.path.join(args.out, name), codec)
        record(name, cuts, len(frames), codec=codec[1])

    # Rotation metadata: the same edit stored a quarter turn counter-clockwise, with a display
    # matrix that turns it back.
    encode(frames, os.path.join(args.out, "rotated_90.mp4"), h264, vf="transpose=cclock")
    set_display_rotation(os.path.join(args.out, "rotated_90.mp4"), 90)
    record("rotated_90.mp4", cuts, len(frames), rotation=90, width=W, height=H)

    # Variable frame rate: shot times from timestamps. The first 2 shots at 25 fps, then 12.5 fps.
    vfr_frames, vfr_cuts = edit(photos, cuts_plan)
    times = [i * 0.04 if i < 100 else 4.0 + (i - 100) * 0.08 for i in range(len(vfr_frames))]
    expr = "if(lt(N,100),N*0.04,4.0+(N-100)*0.08)/TB"
    encode(vfr_frames, os.path.join(args.out, "vfr.mkv"), h264 + ["-fps_mode", "vfr"], vf=f"setpts='{expr}'")
    record("vfr.mkv", vfr_cuts, len(vfr_frames), times=[times[c] for c in vfr_cuts], vfr=True)

    # Fades through black and a dissolve, then a hard cut.
    fade_plan = [("shot", "astronaut", 60), ("fade", 12, 8, 12), ("shot", "coffee", 60), ("cut",),
                 ("shot", "motorcycle_left", 50), ("dissolve", 20), ("shot", "rocket", 60)]
    frames_f, cuts_f = edit(photos, fade_plan)
    encode(frames_f, os.path.join(args.out, "fades.mp4"), h264)
    record("fades.mp4", cuts_f, len(frames_f), kinds=["fade", "cut", "dissolve"])

    # The same scene twice (A, B, A): dedupe drops the second A.
    twice_plan = [("shot", "chelsea", 40), ("cut",), ("shot", "coffee", 40), ("cut",), ("shot", "chelsea", 40)]
    frames_t, cuts_t = edit(photos, twice_plan)
    # edit() renders each shot with its own seed; the repeat shows the first shot's frames again.
    frames_t[80:120] = frames_t[0:40]
    encode(frames_t, os.path.join(args.out, "same_scene_twice.mp4"), h264)
    record("same_scene_twice.mp4", cuts_t, len(frames_t), repeats={"2": 0})

    # A longer video (60 s, 30 shots) for deadlines, hang-ups and benchmarks.
    names = list(photos)
    long_plan = []
    for i in range(30):
        if i:
            long_plan.append(("cut",))
        long_plan.append(("shot", names[i % len(names)], 50))
    frames_l, cuts_l = edit(photos, long_plan)
    encode(frames_l, os.path.join(args.out, "long_60s.mp4"), h264)
    record("long_60s.mp4", cuts_l, len(frames_l))

    # Ten minutes (15,000 frames) of FFmpeg's moving test pattern: long enough that a deadline or
    # a hang-up lands while it is still decoding.
    run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", "testsrc2=size=320x180:rate=25:duration=600", "-c:v", "libx264", "-preset", "ultrafast",
         "-crf", "38", "-g", "250", os.path.join(args.out, "long_10min.mp4")])

    # Bad inputs.
    good = os.path.join(args.out, "cuts_h264.mp4")
    data = open(good, "rb").read()
    open(os.path.join(args.out, "truncated.mp4"), "wb").write(data[: len(data) // 2])
    open(os.path.join(args.out, "empty.mp4"), "wb").close()
    run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
         "-c:a", "aac", os.path.join(args.out, "audio_only.m4a")])
    shutil.copy(os.path.join(args.photos, "rocket.jpg"), os.path.join(args.out, "image.jpg"))
    # Rawvideo frames 9000 px wide in AVI: a real, decodable stream over the 8192 limit.
    run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=9000x16:d=0.2",
         "-c:v", "rawvideo", "-pix_fmt", "gray", os.path.join(args.out, "huge_dimensions.avi")])
    # Matroska with audio longer than its video (a valid file, not truncated), and Matroska holding
    # audio with only a cover picture.
    run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-t", "2", "-i",
         "testsrc=size=64x48:rate=25", "-f", "lavfi", "-t", "8", "-i", "sine", "-map", "0", "-map", "1",
         "-c:v", "libx264", "-c:a", "aac", os.path.join(args.out, "long_audio.mkv")])
    run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-t", "3", "-i", "sine", "-i",
         os.path.join(args.photos, "rocket.jpg"), "-map", "0", "-map", "1", "-c:a", "aac", "-c:v", "mjpeg",
         "-disposition:v:0", "attached_pic", os.path.join(args.out, "audio_with_cover.mkv")])
    # A header that claims 12000x12000: two 16x16 raw frames whose AVI main header (avih) and
    # stream format (strf BITMAPINFOHEADER) are patched, so only the header is huge.
    tiny = os.path.join(args.out, "tiny_raw.avi")
    run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=16x16:d=0.2",
         "-c:v", "rawvideo", "-pix_fmt", "gray", tiny])
    import struct
    data = bytearray(open(tiny, "rb").read())
    avih, strf = data.find(b"avih"), data.find(b"strf")
    struct.pack_into("<II", data, avih + 8 + 32, 12000, 12000)  # dwWidth, dwHeight
    struct.pack_into("<ii", data, strf + 8 + 4, 12000, 12000)   # biWidth, biHeight
    open(os.path.join(args.out, "huge_dimensions_header.avi"), "wb").write(bytes(data))
    os.remove(tiny)
    # Random bytes named like a video.
    open(os.path.join(args.out, "noise.mp4"), "wb").write(np.random.default_rng(7).bytes(50_000))

    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"videos: {len(manifest)} with known cuts in {args.out}")


if __name__ == "__main__":
    main()
