#!/usr/bin/env python3
"""Four effects fused in one request against four separate requests (one effect each), on one
photo, through Sightline's /v1/remove-background with the real ISNet, result cache on (its
default: the four single-effect requests differ in parameters, so each one infers).

Reports wall time of each way (best of `--rounds`), their ratio, and the effect stage alone
(the server's postprocess time: fused pass vs the sum of four single-effect passes).

  .venv/bin/python bench/run_effects_bench.py [--photo build/fixtures/photos/coffee.png]
"""
import argparse
import io
import json
import os
import sys
import time

import requests
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bg_bench as bg  # noqa: E402

EFFECTS = ["bw", "popart", "dither", "color"]


def post_timing(url, data, effects, nonce):
    # `quality` varies per round so no round is a cache hit of an earlier one.
    r = requests.post(url, data=data, headers={"Content-Type": "image/jpeg"},
                      params={"effects": ",".join(effects), "format": "png", "quality": str(nonce)}, timeout=600)
    r.raise_for_status()
    timing = dict(item.split(";dur=") for item in r.headers["server-timing"].replace(" ", "").split(","))
    return {k: float(v) for k, v in timing.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photo", default=os.path.join(bg.ROOT, "build", "fixtures", "photos", "coffee.png"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repo", default=os.path.join(bg.ROOT, "models"))
    args = ap.parse_args()
    buf = io.BytesIO()
    Image.open(args.photo).convert("RGB").save(buf, "JPEG", quality=92)
    data = buf.getvalue()
    port = bg.free_port()
    sys_, _ = bg.sightline(port, args.repo, "fp16")
    # The bench's Sightline runs with the cache off; here it is on, as deployed.
    sys_.cmd = [c for c in sys_.cmd if c not in ("--result-cache-mb", "0")]
    url = f"http://127.0.0.1:{port}/v1/remove-background"
    fused, separate, fused_post, separate_post = [], [], [], []
    with sys_:
        post_timing(url, data, ["bw"], 100)  # warm
        for r in range(args.rounds):
            t = time.perf_counter()
            ft = post_timing(url, data, EFFECTS, 1 + r)
            fused.append(time.perf_counter() - t)
            fused_post.append(ft["postprocess"])
            t = time.perf_counter()
            posts = [post_timing(url, data, [e], 50 + 4 * r + i)["postprocess"] for i, e in enumerate(EFFECTS)]
            separate.append(time.perf_counter() - t)
            separate_post.append(sum(posts))
    out = {"photo": os.path.basename(args.photo), "fused_s": round(min(fused), 3),
           "separate_s": round(min(separate), 3), "separate_over_fused": round(min(separate) / min(fused), 2),
           "fused_effect_stage_ms": round(min(fused_post), 1),
           "separate_effect_stages_ms": round(min(separate_post), 1),
           "effect_stage_ratio": round(min(separate_post) / min(fused_post), 2)}
    print(json.dumps(out))
    json.dump(out, open(os.path.join(bg.ROOT, "build", "bench", "effects_results.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
