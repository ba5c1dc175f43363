"""Black-box fixtures: start the real `sightline` binary on a loopback port with the generated
fixture models, and stop it with SIGTERM (checking it exits cleanly) when the test is done."""
import contextlib
import http.server
import io
import json
import os
import signal
import subprocess
import tempfile
import time

import pytest
import requests
from PIL import Image

BIN = os.environ.get("SIGHTLINE_BIN", os.path.join(os.path.dirname(__file__), "../../build/sightline"))
FIXTURES = os.environ.get("SIGHTLINE_FIXTURES", os.path.join(os.path.dirname(__file__), "../../build/fixtures/models"))
IMAGES = os.environ.get("SIGHTLINE_IMAGE_FIXTURES", os.path.join(os.path.dirname(__file__), "../../build/fixtures/images"))
TOKENIZERS = os.environ.get("SIGHTLINE_TOKENIZER_FIXTURES",
                            os.path.join(os.path.dirname(__file__), "../../build/fixtures/tokenizers"))
PHOTOS = os.environ.get("SIGHTLINE_PHOTOS", os.path.join(os.path.dirname(__file__), "../../build/fixtures/photos"))
MODELS = os.environ.get("SIGHTLINE_MODELS", os.path.join(os.path.dirname(__file__), "../../models"))
SANITIZED = os.environ.get("SIGHTLINE_SANITIZED") == "1"
STARTUP_TIMEOUT = 120 if SANITIZED else 30


class Server:
    def __init__(self, *extra, repo=FIXTURES, wait_ready=True, address_space_bytes=None, env=None):
        self.tmp = tempfile.TemporaryDirectory()
        self.port_file = os.path.join(self.tmp.name, "port")
        self.log_path = os.path.join(self.tmp.name, "server.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--model-repository", repo, "--host", "127.0.0.1", "--port", "0",
             "--port-file", self.port_file, *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})),
            preexec_fn=(lambda: __import__("resource").setrlimit(
                __import__("resource").RLIMIT_AS, (address_space_bytes, address_space_bytes)))
            if address_space_bytes else None)
        deadline = time.time() + STARTUP_TIMEOUT
        while not os.path.exists(self.port_file) or not open(self.port_file).read().strip():
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
            if time.time() > deadline:
                raise RuntimeError(f"server did not start:\n{self.logs()}")
            time.sleep(0.05)
        self.port = int(open(self.port_file).read())
        self.url = f"http://127.0.0.1:{self.port}"
        # The server listens while its models load (/readyz answers 503 until they are warm); a bad
        # model or config makes it exit instead.
        deadline = time.time() + 10 * STARTUP_TIMEOUT  # ISNet warms up for seconds (minutes under ASan)
        while wait_ready:
            try:
                if requests.get(self.url + "/readyz", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
            if time.time() > deadline:
                raise RuntimeError(f"server did not become ready:\n{self.logs()}")
            time.sleep(0.05)

    def logs(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def metrics(self, **headers):
        text = requests.get(self.url + "/metrics", headers=headers, timeout=5).text
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not stop on SIGTERM")
        self.log.close()
        code = self.proc.returncode
        logs = self.logs() if code != 0 else ""
        self.tmp.cleanup()
        assert code == 0, f"server exited with {code}:\n{logs}"


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def make_server():
    started = []

    def start(*extra, repo=FIXTURES, wait_ready=True, address_space_bytes=None, env=None):
        s = Server(*extra, repo=repo, wait_ready=wait_ready, address_space_bytes=address_space_bytes, env=env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def infer_body(inputs, **extra):
    body = {"inputs": inputs}
    body.update(extra)
    return json.dumps(body)


def model_loaded_line(server, model):
    """The server's `model_loaded` log line for `model` (parsed), or None before it is written."""
    for line in server.logs().splitlines():
        if line.startswith("{") and '"model_loaded"' in line:
            entry = json.loads(line)
            if entry.get("model") == model:
                return entry
    return None


def wait_until(predicate, timeout=60, what="the condition"):
    """Polls `predicate` (reading observable server state: metrics, a log line) until it holds;
    fails after `timeout` seconds. The poll interval only paces the polling."""
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def wait_delivered(sock, timeout=30):
    """Waits until the peer's kernel holds every byte sent on `sock` (SIOCOUTQ, nothing unsent or
    unacknowledged), so the next piece a test sends reaches the server separately, however loaded
    the machine."""
    import fcntl
    import struct
    import termios

    def unsent():
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
    wait_until(lambda: unsent() == 0, timeout=timeout, what="the piece to reach the server")


def metric_sum(metrics, prefix, **labels):
    """Sum of every sample whose name starts with `prefix` and carries all `labels`."""
    return sum(v for name, v in metrics.items()
               if name.startswith(prefix) and all(f'{k}="{x}"' in name for k, x in labels.items()))


def sample_png(color, size):
    buf = io.BytesIO()
    img = Image.new("RGB", size, color)
    img.paste((20, 200, 60), (size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2))
    img.save(buf, "PNG")
    return buf.getvalue()


@contextlib.contextmanager
def image_host(good=100, corrupt=5, missing=5, slow=0, slow_seconds=0.3, headers_seen=None):
    """A local image host on loopback: /img{i}.png is a distinct PNG for i < good (the first `slow`
    of them answer after `slow_seconds`), corrupt for the next `corrupt`, 404 after. Each request's
    headers are appended to `headers_seen` when given. Yields (base URL, number of URLs)."""
    import threading
    images = {i: sample_png(((i * 37) % 256, (i * 91) % 256, (i * 53) % 256), (64 + i, 48 + i)) for i in range(good)}

    class Host(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if headers_seen is not None:
                headers_seen.append(dict(self.headers))
            n = int(self.path[4:].split(".")[0]) if self.path.startswith("/img") else -1
            body = images.get(n) if n < good else (b"\x89PNG broken" * 10 if n < good + corrupt else None)
            if body is None:
                self.send_error(404)
                return
            if 0 <= n < slow:
                time.sleep(slow_seconds)  # the host is slow on purpose; no test waits on this
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Host)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", good + corrupt + missing
    finally:
        httpd.shutdown()
