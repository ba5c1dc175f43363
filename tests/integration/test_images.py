"""Encoded images as KServe BYTES inputs: decoded and preprocessed by the server for models with an
`image_input` config, checked exactly against onnxruntime fed the same normalisation."""
import io
import json
import struct

import numpy as np
import onnxruntime as ort
import requests
import tritonclient.http as httpclient
from PIL import Image

from conftest import FIXTURES


def png(pixels):
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def reference(pixels_list):
    x = np.stack([(p.astype(np.float32) / 255 - 0.5) / 0.25 for p in pixels_list]).transpose(0, 3, 1, 2)
    return ort.InferenceSession(f"{FIXTURES}/convnet/model.onnx").run(None, {"input": np.ascontiguousarray(x)})[0]


def send_images(server, images):
    payload = b"".join(struct.pack("<I", len(b)) + b for b in images)
    header = json.dumps({"inputs": [{"name": "input", "shape": [len(images)], "datatype": "BYTES",
                                     "parameters": {"binary_data_size": len(payload)}}]}).encode()
    return requests.post(server.url + "/v2/models/convnet/infer", data=header + payload,
                         headers={"Inference-Header-Content-Length": str(len(header))})


def test_png_images_are_decoded_and_normalised_server_side(server):
    rng = np.random.default_rng(4)
    pics = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(2)]
    r = send_images(server, [png(p) for p in pics])
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["shape"] == [2, 10]
    np.testing.assert_allclose(np.array(out["data"], np.float32).reshape(2, 10), reference(pics), rtol=1e-4, atol=1e-5)


def test_tritonclient_sends_jpeg_bytes(server):
    buf = io.BytesIO()
    Image.fromarray(np.full((120, 200, 3), 90, np.uint8)).save(buf, "JPEG")
    c = httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    x = httpclient.InferInput("input", [1], "BYTES")
    x.set_data_from_numpy(np.array([buf.getvalue()], dtype=object), binary_data=True)
    logits = c.infer("convnet", [x]).as_numpy("logits")
    assert logits.shape == (1, 10)
    # A flat 90-grey image stays flat after any resize: same answer as the reference.
    np.testing.assert_allclose(logits, reference([np.full((64, 64, 3), 90, np.uint8)]), rtol=1e-3, atol=1e-3)


def test_bad_images_name_the_failing_item(server):
    good = png(np.zeros((64, 64, 3), np.uint8))
    r = send_images(server, [good, b"\xff\xd8\xff not really a jpeg"])
    assert r.status_code == 400
    err = r.json()["error"]
    assert "image 1 of 'input'" in err and "invalid_image" in err
    r = send_images(server, [b""])
    assert r.status_code == 400 and "empty" in r.json()["error"]


def test_decompression_bomb_is_413(server):
    buf = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buf, "PNG", optimize=True)
    r = send_images(server, [buf.getvalue()])
    assert r.status_code == 413
    assert "20000x20000" in r.json()["error"]
    assert send_images(server, [png(np.zeros((64, 64, 3), np.uint8))]).status_code == 200


def test_model_metadata_says_which_input_takes_encoded_images(server):
    meta = requests.get(server.url + "/v2/models/convnet", timeout=10).json()
    assert meta["parameters"]["image_input"]["input"] == "input"
    assert meta["parameters"]["image_input"]["accepts"] == "BYTES"
    assert "image_input" not in requests.get(server.url + "/v2/models/simple", timeout=10).json()["parameters"]
    matte = requests.get(server.url + "/v2/models/matte", timeout=10).json()
    assert matte["parameters"]["task"] == "background_removal"
