"""Black-box tests of POST /v1/videos/shots on videos with known cuts (scripts/gen_video_fixtures.py:
real photographs edited with hard cuts, fades and dissolves, encoded in several containers and
codecs, with rotation metadata and a variable frame rate) and on bad inputs."""
import base64
import contextlib
import http.server
import json
import os
import socket
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


def test_a_deadline_stops_decoding_within_a_frame(video_server):
    s = video_server
    before = s.metrics()
    r = requests.post(s.url + "/v1/videos/shots", json={"video_path": os.path.join(VIDEOS, "long_10min.mp4")},
                      headers={"X-Request-Timeout-Ms": "400"}, timeout=60)
    assert r.status_code == 504, r.text
    wait_until(lambda: metric_sum(s.metrics(), "sightline_video_tasks_total", outcome="deadline_exceeded") -
               metric_sum(before, "sightline_video_tasks_total", outcome="deadline_exceeded") == 1,
               what="the task to end by its deadline")
    decoded = metric_sum(s.metrics(), "sightline_video_frames_decoded_total") - \
        metric_sum(before, "sightline_video_frames_decoded_total")
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
