"""/v1/remove-background and /v1/metadata against the real binary: every way in (multipart, raw
body, base64 JSON, data: URI, image_url, image_path), every output form, effects, the result
cache, the SSRF and path guards, errors, and the one-shot CLI. The `matte` fixture model marks
red pixels foreground and blue ones background, so every mask has a known truth."""
import base64
import http.server
import io
import os
import subprocess
import threading

import numpy as np
import pytest
import requests
from PIL import Image

from conftest import BIN, FIXTURES, IMAGES, MODELS, PHOTOS, SANITIZED

BG, FG = (20, 40, 200), (220, 30, 30)


def scene(w=300, h=200, box=(90, 50, 210, 150)):
    img = Image.new("RGB", (w, h), BG)
    img.paste(FG, box)
    truth = np.zeros((h, w), bool)
    truth[box[1]:box[3], box[0]:box[2]] = True
    return img, truth


def encode(img, fmt="PNG", **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def iou(mask, truth):
    m = mask > 127
    return (m & truth).sum() / (m | truth).sum()


def post(server, **kw):
    return requests.post(server.url + "/v1/remove-background", timeout=60, **kw)


@pytest.fixture(scope="module")
def png_scene():
    img, truth = scene()
    return encode(img), truth


def test_multipart_mask_matches_the_known_foreground(server, png_scene):
    data, truth = png_scene
    r = post(server, files={"file": ("scene.png", data, "image/png")}, data={"output": "mask"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert "infer;dur=" in r.headers["server-timing"]
    mask = np.array(Image.open(io.BytesIO(r.content)))
    assert mask.shape == truth.shape  # back at the original resolution
    assert iou(mask, truth) > 0.95


def test_raw_body_cutout_keeps_colour_and_sets_alpha(server, png_scene):
    data, truth = png_scene
    r = post(server, data=data, headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    cut = np.array(Image.open(io.BytesIO(r.content)))
    assert cut.shape == truth.shape + (4,)
    assert iou(cut[..., 3], truth) > 0.95
    assert tuple(cut[100, 150, :3]) == FG and cut[100, 150, 3] == 255
    assert cut[5, 5, 3] == 0


def test_base64_and_data_uri_json_with_jpeg_over_a_colour(server, png_scene):
    data, truth = png_scene
    for image in (base64.b64encode(data).decode(), "data:image/png;base64," + base64.b64encode(data).decode()):
        r = post(server, json={"image": image, "format": "jpeg", "bg_color": "#00ff00"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "image/jpeg"
        out = np.array(Image.open(io.BytesIO(r.content))).astype(int)
        assert np.abs(out[5, 5] - [0, 255, 0]).max() < 12      # background became the colour
        assert np.abs(out[100, 150] - FG).max() < 12           # foreground kept


def test_both_outputs_with_effects_answer_json(server, png_scene):
    data, truth = png_scene
    r = post(server, files={"file": ("s.png", data)},
             data={"output": "both", "effects": "bw,popart,dither,color", "format": "webp", "metadata": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body["outputs"]) == ["bw", "popart", "dither", "color", "mask"]
    assert body["width"] == 300 and body["height"] == 200
    assert set(body["timing"]) >= {"decode_ms", "infer_ms", "postprocess_ms", "encode_ms", "total_ms"}
    assert body["metadata"]["format"] == "png"
    for name, out in body["outputs"].items():
        assert out["content_type"] == "image/webp"
        img = Image.open(io.BytesIO(base64.b64decode(out["data"])))
        assert img.size == (300, 200), name
    dither = np.array(Image.open(io.BytesIO(base64.b64decode(body["outputs"]["dither"]["data"]))).convert("RGBA"))
    assert iou(dither[..., 3], truth) > 0.95  # effects keep the cutout's alpha


def test_effects_are_deterministic_and_distinct(make_server, png_scene):
    s = make_server("--result-cache-mb", "0")
    data, _ = png_scene
    runs = [post(s, data=data, headers={"Content-Type": "image/png"}, params={"effects": "bw,popart,dither,color",
                                                                              "output": "cutout"}).json()
            for _ in range(2)]
    assert runs[0]["outputs"] == runs[1]["outputs"]
    images = {k: np.array(Image.open(io.BytesIO(base64.b64decode(v["data"]))))
              for k, v in runs[0]["outputs"].items()}
    fg = {k: tuple(v[100, 150, :3]) for k, v in images.items()}
    assert fg["bw"][0] == fg["bw"][1] == fg["bw"][2]            # grey
    assert set(np.unique(images["dither"][..., 0])) <= {0, 255}  # pure black and white
    assert len(set(fg.values())) == 4
    assert runs[0]["cache_hit"] is False


def test_result_cache_hits_return_the_same_bytes(server, png_scene):
    data, _ = png_scene
    params = {"output": "mask", "max_side": "150"}
    before = server.metrics()
    first = post(server, data=data, headers={"Content-Type": "image/png"}, params=params)
    second = post(server, data=data, headers={"Content-Type": "image/png"}, params=params)
    assert second.headers["x-cache"] == "hit"
    assert first.content == second.content
    after = server.metrics()
    key = 'sightline_result_cache_lookups_total{cache="remove_background",result="hit"}'
    assert after[key] - before.get(key, 0) >= 1
    # Different parameters are a different entry.
    third = post(server, data=data, headers={"Content-Type": "image/png"}, params={"output": "mask", "max_side": "100"})
    assert third.headers["x-cache"] == "miss"
    assert Image.open(io.BytesIO(third.content)).size == (100, 67)


def test_post_process_gives_a_hard_mask(server, png_scene):
    data, truth = png_scene
    r = post(server, data=data, headers={"Content-Type": "image/png"}, params={"output": "mask", "post_process": "true"})
    mask = np.array(Image.open(io.BytesIO(r.content)))
    assert set(np.unique(mask)) <= {0, 255}
    assert iou(mask, truth) > 0.95


def test_post_process_on_a_one_pixel_wide_image(server):
    """A mask thinner than the clean-up's 3x3 filters is cleaned, not a 500 (a review finding)."""
    for size in ((1, 3000), (3000, 1), (2, 2)):
        data = encode(Image.new("RGB", size, FG))
        r = post(server, data=data, headers={"Content-Type": "image/png"}, params={"output": "mask", "post_process": "true"})
        assert r.status_code == 200, (size, r.text)
        mask = np.array(Image.open(io.BytesIO(r.content)))
        assert mask.shape == size[::-1]
        assert set(np.unique(mask)) <= {0, 255}


def test_dng_input(server):
    data = open(os.path.join(IMAGES, "scene_preview.dng"), "rb").read()
    r = post(server, data=data, headers={"Content-Type": "image/x-adobe-dng"}, params={"output": "mask", "max_side": "300"})
    assert r.status_code == 200, r.text
    mask = np.array(Image.open(io.BytesIO(r.content)))
    assert mask.shape == (200, 300)
    truth = np.zeros((200, 300), bool)
    truth[50:150, 75:225] = True  # the fixture's box (150..450, 100..300) at half scale
    assert iou(mask, truth) > 0.9


@pytest.mark.parametrize("kwargs, status, needle", [
    (dict(params={"output": "x"}), 400, "output must be"),
    (dict(params={"colour": "red"}), 400, "unknown parameter 'colour'"),
    (dict(params={"bg_color": "nope"}), 400, "bg_color"),
    (dict(params={"effects": "sepia"}), 400, "unknown effect"),
    (dict(params={"model": "nope"}), 404, "unknown model"),
    (dict(params={"model": "simple"}), 400, "not a background-removal model"),
])
def test_bad_parameters_are_400s(server, png_scene, kwargs, status, needle):
    r = post(server, data=png_scene[0], headers={"Content-Type": "image/png"}, **kwargs)
    assert r.status_code == status and needle in r.json()["error"]["message"], r.text


def test_many_images_answer_one_entry_each(server, png_scene):
    # Several files (or a list): one JSON entry per image, in order, each with its outputs or its
    # own error, and the batch's timing. Each entry is what the image alone would have answered.
    files = [("f", ("a.png", png_scene[0])), ("f", ("bad.jpg", b"not an image")), ("f", ("c.png", png_scene[0]))]
    r = post(server, files=files, data={"output": "mask"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["succeeded"] == 2 and body["failed"] == 1
    items = body["data"]
    assert [it["index"] for it in items] == [0, 1, 2]
    assert items[1]["error"]["type"] == "invalid_image" and "bad.jpg" in items[1]["error"]["message"]
    alone = post(server, data=png_scene[0], headers={"Content-Type": "image/png"}, params={"output": "mask"})
    for it in (items[0], items[2]):
        assert base64.b64decode(it["outputs"]["mask"]["data"]) == alone.content
        assert it["outputs"]["mask"]["content_type"] == "image/png"
    assert set(body["timing"]) >= {"download_ms", "decode_ms", "queue_ms", "inference_ms", "total_ms"}
    # A JSON list of one answers the list shape too.
    one = post(server, json={"images": [base64.b64encode(png_scene[0]).decode()], "output": "mask"})
    assert one.status_code == 200 and len(one.json()["data"]) == 1


def test_bad_images_and_counts(server, png_scene):
    cases = [
        (dict(data=b"", headers={"Content-Type": "image/png"}), 400, "empty"),
        (dict(data=png_scene[0][:200], headers={"Content-Type": "image/png"}), 400, "invalid_image"),
        (dict(data=b"\x00garbage" * 50, headers={"Content-Type": "image/jpeg"}), 400, "invalid_image"),
        (dict(data=open(os.path.join(IMAGES, "bomb.png"), "rb").read(), headers={"Content-Type": "image/png"}), 413, "limit"),
        (dict(json={"output": "mask"}), 400, "at least one image"),
        (dict(data=b"hello", headers={"Content-Type": "text/plain"}), 415, "not accepted"),
        (dict(data=b"{", headers={"Content-Type": "application/json"}), 400, "not valid JSON"),
        (dict(data=b"--x\r\n", headers={"Content-Type": "multipart/form-data; boundary=x"}), 400, "multipart"),
    ]
    for kwargs, status, needle in cases:
        r = post(server, **kwargs)
        assert r.status_code == status, (kwargs.get("headers"), r.text)
        err = r.json()["error"]
        assert needle in err["message"] or needle == err.get("type"), r.text  # kinds are data
    assert requests.get(server.url + "/healthz").status_code == 200


class _Images(http.server.BaseHTTPRequestHandler):
    files = {}

    def do_GET(self):
        if self.path.startswith("/redirect-to-"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/redirect-to-"):].replace("~", "/"))
            self.end_headers()
            return
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except ConnectionError:
            pass  # the server stopped reading at its size cap

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def image_host(png_scene):
    _Images.files = {"/scene.png": png_scene[0], "/big.bin": b"\x89PNG" + b"\x00" * (3 << 20)}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_image_url_to_loopback_is_refused_by_default(server, image_host):
    r = post(server, json={"image_url": image_host + "/scene.png"})
    assert r.status_code == 403, r.text
    assert "internal address" in r.json()["error"]["message"]
    for url in ("file:///etc/passwd", "gopher://127.0.0.1/", "http://169.254.169.254/latest/meta-data/",
                "http://[::1]:1/", "http://10.0.0.1/x"):
        r = post(server, json={"image_url": url})
        assert r.status_code == 403, (url, r.text)


def test_image_url_fetches_when_allow_listed(make_server, image_host, png_scene):
    s = make_server("--fetch-allow-cidr", "127.0.0.1/32", "--fetch-max-mb", "1")
    r = post(s, json={"image_url": image_host + "/scene.png", "output": "mask"})
    assert r.status_code == 200, r.text
    assert iou(np.array(Image.open(io.BytesIO(r.content))), png_scene[1]) > 0.95
    # rembg-style query parameter, and multipart field.
    assert post(s, params={"url": image_host + "/scene.png"}).status_code == 200
    assert post(s, files={"image_url": (None, image_host + "/scene.png")}).status_code == 200
    assert post(s, json={"image_url": image_host + "/missing.png"}).status_code == 502
    big = post(s, json={"image_url": image_host + "/big.bin"})
    assert big.status_code == 413, big.text
    # A redirect is followed, but each hop is checked: an allowed host may not bounce to a refused one.
    ok = post(s, json={"image_url": image_host + "/redirect-to-" + image_host.replace("/", "~") + "~scene.png"})
    assert ok.status_code == 200, ok.text
    bounced = post(s, json={"image_url": image_host + "/redirect-to-http:~~169.254.169.254~x"})
    assert bounced.status_code == 403, bounced.text


def test_image_path_only_under_allowed_directories(make_server, tmp_path, png_scene):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "scene.png").write_bytes(png_scene[0])
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_scene[0])
    (allowed / "link.png").symlink_to(secret)
    off = make_server()
    assert post(off, json={"image_path": str(allowed / "scene.png")}).status_code == 403
    s = make_server("--allow-path", str(allowed))
    assert post(s, json={"image_path": str(allowed / "scene.png")}).status_code == 200
    for escape in (str(allowed / ".." / "secret.png"), str(allowed / "link.png"), "/etc/passwd", "relative.png"):
        r = post(s, json={"image_path": escape})
        assert r.status_code == 403, (escape, r.text)
    assert post(s, json={"image_path": str(allowed / "missing.png")}).status_code == 404


def test_metadata_route(server):
    files = [("files", ("exif.jpg", open(os.path.join(IMAGES, "exif.jpg"), "rb").read(), "image/jpeg")),
             ("files", ("raw.dng", open(os.path.join(IMAGES, "scene_raw.dng"), "rb").read(), "image/x-adobe-dng")),
             ("files", ("junk.bin", b"junk", "application/octet-stream"))]
    r = requests.post(server.url + "/v1/metadata", files=files, timeout=30)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    md = data[0]["metadata"]
    assert md["make"] == "Sightline" and md["model"] == "TestCam 1" and md["lens"] == "TestLens 50mm F1.8"
    assert md["captured_at"] == "2024-05-06T07:08:09"
    assert abs(md["gps"]["latitude"] - 48.858222) < 1e-5 and abs(md["gps"]["longitude"] - 2.2945) < 1e-5
    assert data[1]["metadata"]["format"] == "dng" and data[1]["metadata"]["width"] == 600
    assert data[2]["error"]["code"] == "invalid_argument"


def test_metadata_route_bounds_the_image_count(server):
    """Every image route answers one entry per image: 1025 are refused up front (413), on
    /v1/metadata as on the others, before any is fetched."""
    urls = {"image_urls": ["http://127.0.0.1:9/%d.png" % i for i in range(1025)]}
    for route in ("/v1/metadata", "/v1/remove-background"):
        r = requests.post(server.url + route, json=urls, timeout=30)
        assert r.status_code == 413, (route, r.text[:200])
        assert "at most 1024 images" in r.json()["error"]["message"]


def test_cli_remove_bg(tmp_path, png_scene):
    src = tmp_path / "in.png"
    src.write_bytes(png_scene[0])
    out = tmp_path / "out.png"
    p = subprocess.run([BIN, "remove-bg", str(src), "-o", str(out), "--model-repository", FIXTURES, "--model", "matte"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    cut = np.array(Image.open(out))
    assert cut.shape == (200, 300, 4) and iou(cut[..., 3], png_scene[1]) > 0.95
    p = subprocess.run([BIN, "remove-bg", str(src), "-o", str(tmp_path / "fx.webp"), "-m", FIXTURES,
                        "--effects", "bw,popart"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "fx_bw.webp").exists() and (tmp_path / "fx_popart.webp").exists()
    bad = subprocess.run([BIN, "remove-bg", str(src), "-o", str(out), "-m", FIXTURES, "--effects", "sepia"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "unknown effect" in bad.stderr


@pytest.mark.skipif(not os.path.exists(os.path.join(MODELS, "isnet", "model_quint8.onnx")),
                    reason="models/isnet not fetched (scripts/setup.sh fetches it)")
def test_real_isnet_separates_an_object_from_a_plain_background(make_server):
    # A red disc on a smooth grey gradient: ISNet must find the disc. (Its own judgement of
    # "salient" is not our truth on harder scenes; the peers' masks are compared in bench/.)
    w, h = 800, 600
    grad = np.tile(np.linspace(180, 230, w).astype(np.uint8), (h, 1))
    img = Image.fromarray(np.stack([grad] * 3, -1))
    from PIL import ImageDraw
    ImageDraw.Draw(img).ellipse((250, 150, 550, 450), fill=(200, 40, 40))
    yy, xx = np.mgrid[:h, :w]
    truth = ((xx - 400) / 150.0) ** 2 + ((yy - 300) / 150.0) ** 2 <= 1
    s = make_server(repo=MODELS)
    r = post(s, data=encode(img, "JPEG", quality=92), headers={"Content-Type": "image/jpeg"},
             params={"output": "mask"})
    assert r.status_code == 200, r.text
    mask = np.array(Image.open(io.BytesIO(r.content)))
    assert mask[truth].mean() > 240 and mask[~truth].mean() < 30
    assert iou(mask, truth) > 0.75


def test_adaptive_quality_switches_under_load_and_back(server, png_scene):
    # matte_adaptive's configured variant takes ~100 ms; with a 20 ms switch threshold a burst
    # queues, so later requests run on the fast variant and the answer says so.
    import concurrent.futures
    data, truth = png_scene

    def one(i):
        # max_side differs per request, so no answer comes from the result cache.
        return post(server, data=data, headers={"Content-Type": "image/png"},
                    params={"model": "matte_adaptive", "output": "mask", "max_side": str(200 + i)})

    one(100)  # teaches the batcher the per-item time its wait prediction uses
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(8)))
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    qualities = [(r.headers["x-quality"], r.headers["x-model-variant"]) for r in answers]
    assert ("reduced", "fast") in qualities, qualities
    assert ("full", "fp32") in qualities, qualities
    for r in answers:  # both variants compute the same rule
        mask = np.array(Image.open(io.BytesIO(r.content)).resize((300, 200)))
        assert iou(mask, truth) > 0.9
    # Idle again: back to full quality.
    calm = post(server, data=data, headers={"Content-Type": "image/png"},
                params={"model": "matte_adaptive", "output": "mask", "max_side": "150"})
    assert calm.headers["x-quality"] == "full", calm.headers
    assert server.metrics()['sightline_model_degraded{model="matte_adaptive"}'] == 0


@pytest.mark.skipif(not os.path.isdir(PHOTOS), reason="run scripts/fetch_photos.py (setup does)")
def test_real_photographs_in_every_format(server):
    # scikit-image's bundled photographs, re-encoded by Pillow into each format the server reads.
    formats = [("JPEG", {"quality": 90}), ("PNG", {}), ("WEBP", {"quality": 90}), ("AVIF", {"quality": 70}),
               ("TIFF", {}), ("GIF", {})]
    names = sorted(os.listdir(PHOTOS))
    assert len(names) >= 5
    files, expected = [], []
    for name in names:
        img = Image.open(os.path.join(PHOTOS, name)).convert("RGB")
        for fmt, kw in formats:
            files.append(("files", (f"{name}.{fmt.lower()}", encode(img, fmt, **kw), "application/octet-stream")))
            expected.append((name, fmt, img.size))
    r = requests.post(server.url + "/v1/metadata", files=files, timeout=120)
    assert r.status_code == 200, r.text
    for entry, (name, fmt, size) in zip(r.json()["data"], expected):
        assert "metadata" in entry, (name, fmt, entry)
        assert (entry["metadata"]["width"], entry["metadata"]["height"]) == size, (name, fmt)
    # And through the whole background-removal path (matte fixture), at the photo's own size.
    for name in names:
        img = Image.open(os.path.join(PHOTOS, name)).convert("RGB")
        r = post(server, data=encode(img, "WEBP", quality=90), headers={"Content-Type": "image/webp"},
                 params={"output": "mask", "model": "matte"})
        assert r.status_code == 200, (name, r.text)
        assert Image.open(io.BytesIO(r.content)).size == img.size


def test_a_webp_answer_larger_than_webp_allows_is_refused_before_inference(server):
    wide = encode(Image.new("RGB", (20000, 2), (200, 30, 30)))
    before = server.metrics()
    runs = lambda m: sum(v for k, v in m.items() if k.startswith("sightline_inference_count") and "matte" in k)
    r = post(server, data=wide, headers={"Content-Type": "image/png"}, params={"format": "webp", "output": "mask"})
    assert r.status_code == 400, r.text
    assert "16383" in r.json()["error"]["message"] and "max_side" in r.json()["error"]["message"]
    assert runs(server.metrics()) == runs(before)  # refused before the model ran
    r = post(server, data=wide, headers={"Content-Type": "image/png"},
             params={"format": "webp", "output": "mask", "max_side": "16000"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/webp"
    assert runs(server.metrics()) > runs(before)  # the metric counts runs of this model
