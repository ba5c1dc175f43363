"""`sightline pull` against a stand-in Hugging Face hub on loopback: the hub's listing API
(/api/models/{repo}/revision/{rev}?blobs=true), /resolve/ downloads that redirect LFS files to a
"CDN" path with Range support, an access token, an interrupted transfer that must resume, and a
corrupted one that must fail its SHA-256 check. The pulled folder is then served."""
import hashlib
import http.server
import io
import json
import os
import subprocess
import threading

import pytest
import requests
from PIL import Image

from conftest import BIN, FIXTURES

REPO = "acme/clip-tiny"


class Hub(http.server.BaseHTTPRequestHandler):
    repo = REPO
    files = {}          # repo path -> bytes
    token = None
    cut_once = set()    # paths whose first CDN transfer stops halfway
    corrupt = set()     # paths served with wrong bytes
    ranges = []         # Range headers seen

    def authorized(self):
        return self.token is None or self.headers.get("Authorization") == f"Bearer {self.token}"

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.startswith(f"/api/models/{self.repo}/revision/"):
            if not self.authorized():
                return self.send_error(401)
            siblings = []
            for p, data in sorted(self.files.items()):
                entry = {"rfilename": p, "size": len(data)}
                if p.endswith(".onnx"):
                    entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                siblings.append(entry)
            return self.reply(200, json.dumps({"sha": "0123abcd", "siblings": siblings}).encode())
        prefix = f"/{self.repo}/resolve/"
        if path.startswith(prefix):
            if not self.authorized():
                return self.send_error(401)
            rel = path[len(prefix):].split("/", 1)[1]
            if rel not in self.files:
                return self.send_error(404)
            if rel.endswith(".onnx"):  # LFS: redirect to the CDN, as the real hub does
                self.send_response(302)
                self.send_header("Location", "/cdn/" + rel)
                self.end_headers()
                return
            return self.reply(200, self.files[rel])
        if path.startswith("/cdn/"):
            rel = path[len("/cdn/"):]
            data = self.files.get(rel)
            if data is None:
                return self.send_error(404)
            if rel in self.corrupt:
                data = bytes(b ^ 0xFF for b in data)
            rng = self.headers.get("Range")
            start = 0
            if rng:
                self.ranges.append((rel, rng))
                start = int(rng.split("=")[1].split("-")[0])
            body = data[start:]
            self.send_response(206 if rng else 200)
            self.send_header("Content-Length", str(len(body)))
            if rng:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if rel in self.cut_once:
                self.cut_once.discard(rel)
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.connection.shutdown(2)  # drop the connection mid-transfer
                return
            self.wfile.write(body)
            return
        self.send_error(404)

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def hub():
    src = os.path.join(FIXTURES, "clip-tiny")
    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), src)
            if rel != "sightline.json":  # hub repositories carry no Sightline config
                files[rel] = open(os.path.join(root, n), "rb").read()
    Hub.files, Hub.token, Hub.cut_once, Hub.corrupt, Hub.ranges = files, None, set(), set(), []
    Hub.repo = REPO
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def pull(endpoint, dest, *extra, token=None, repo=REPO):
    env = dict(os.environ, HF_ENDPOINT=endpoint)
    env.pop("HF_TOKEN", None)
    if token:
        env["HF_TOKEN"] = token
    return subprocess.run([BIN, "pull", repo, "--model-repository", str(dest), *extra], env=env,
                          capture_output=True, text=True, timeout=120)


def test_pull_a_variant_and_serve_it(hub, tmp_path, make_server):
    p = pull(hub, tmp_path, "--variant", "quantized")
    assert p.returncode == 0, p.stderr
    d = tmp_path / "clip-tiny"
    got = sorted(str(f.relative_to(d)) for f in d.rglob("*") if f.is_file())
    assert got == ["config.json", "onnx/text_model_quantized.onnx", "onnx/vision_model_quantized.onnx",
                   "preprocessor_config.json", "sightline.json", "tokenizer.json"]
    assert json.load(open(d / "sightline.json")) == {"variant": "quantized"}
    assert (d / "onnx/text_model_quantized.onnx").read_bytes() == Hub.files["onnx/text_model_quantized.onnx"]
    s = make_server(repo=str(tmp_path))
    r = requests.post(s.url + "/v1/embeddings", json={"model": "clip-tiny", "input": "a photo of a cat"}, timeout=30)
    assert r.status_code == 200, r.text
    assert len(r.json()["data"][0]["embedding"]) == 32


def test_token_is_sent_when_the_hub_wants_one(hub, tmp_path):
    Hub.token = "hf_secret"
    denied = pull(hub, tmp_path)
    assert denied.returncode != 0 and "HF_TOKEN" in denied.stderr
    ok = pull(hub, tmp_path, token="hf_secret")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "clip-tiny" / "onnx" / "vision_model.onnx").exists()


def test_interrupted_download_resumes(hub, tmp_path):
    Hub.cut_once = {"onnx/text_model.onnx"}
    first = pull(hub, tmp_path)
    assert first.returncode != 0 and "resume" in first.stderr
    part = tmp_path / "clip-tiny" / "onnx" / "text_model.onnx.part"
    assert part.exists() and 0 < part.stat().st_size < len(Hub.files["onnx/text_model.onnx"])
    second = pull(hub, tmp_path)
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "clip-tiny" / "onnx" / "text_model.onnx").read_bytes() == Hub.files["onnx/text_model.onnx"]
    assert any(rel == "onnx/text_model.onnx" and rng.startswith("bytes=") for rel, rng in Hub.ranges)


def test_checksum_mismatch_is_refused(hub, tmp_path):
    Hub.corrupt = {"onnx/vision_model.onnx"}
    p = pull(hub, tmp_path)
    assert p.returncode != 0 and "SHA-256" in p.stderr
    d = tmp_path / "clip-tiny" / "onnx"
    assert not (d / "vision_model.onnx").exists() and not (d / "vision_model.onnx.part").exists()


def test_unknown_repository_or_variant(hub, tmp_path):
    p = pull(hub, tmp_path, "--variant", "q4")
    assert p.returncode != 0 and "no ONNX files for variant 'q4'" in p.stderr


# The layouts of issue 12, as the hub holds them: the fixtures' model files, plus the variant files
# a real repository carries beside them (which `--variant` must leave behind).
LAYOUT_FILES = {
    "captioner-tiny": ["config.json", "generation_config.json", "onnx/decoder_model.onnx",
                       "onnx/decoder_model_merged.onnx", "onnx/decoder_with_past_model.onnx",
                       "onnx/encoder_model.onnx", "preprocessor_config.json", "tokenizer.json",
                       "tokenizer_config.json"],
    "vlm-tiny": ["config.json", "generation_config.json", "onnx/decoder_model_merged.onnx",
                 "onnx/embed_tokens.onnx", "onnx/vision_encoder.onnx", "preprocessor_config.json",
                 "tokenizer.json", "tokenizer_config.json"],
}


@pytest.mark.parametrize("folder", sorted(LAYOUT_FILES))
def test_pull_fetches_captioner_and_vision_language_layouts(hub, tmp_path, make_server, folder):
    src = os.path.join(FIXTURES, folder)
    Hub.files = {rel: open(os.path.join(src, rel), "rb").read() for rel in LAYOUT_FILES[folder]}
    Hub.files.update({rel.replace(".onnx", "_q4f16.onnx"): b"not this variant"
                      for rel in LAYOUT_FILES[folder] if rel.endswith(".onnx")})
    Hub.repo = "acme/" + folder
    p = pull(hub, tmp_path, repo="acme/" + folder)
    assert p.returncode == 0, p.stderr
    d = tmp_path / folder
    got = sorted(str(f.relative_to(d)) for f in d.rglob("*") if f.is_file() and f.name != "sightline.json")
    assert got == LAYOUT_FILES[folder]
    s = make_server(repo=str(tmp_path))
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(buf, "PNG")
    photo = buf.getvalue()
    r = requests.post(s.url + "/v1/caption?max_new_tokens=5", data=photo, headers={"Content-Type": "image/png"})
    assert r.status_code == 200, r.text
    assert r.json()["model"] == folder
