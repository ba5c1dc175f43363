"""KServe v2 routes: health, metadata, JSON and binary round trips checked against the math."""
import json
import struct

import numpy as np
import onnxruntime as ort
import requests

from conftest import FIXTURES, infer_body


def simple_inputs(a, b):
    return [{"name": "INPUT0", "shape": list(a.shape), "datatype": "FP32", "data": a.tolist()},
            {"name": "INPUT1", "shape": list(b.shape), "datatype": "FP32", "data": b.flatten().tolist()}]


def test_health_and_server_metadata(server):
    assert requests.get(server.url + "/healthz").json() == {"status": "ok"}
    assert requests.get(server.url + "/readyz").status_code == 200
    assert requests.get(server.url + "/v2/health/live").status_code == 200
    assert requests.get(server.url + "/v2/health/ready").status_code == 200
    meta = requests.get(server.url + "/v2").json()
    assert meta["name"] == "sightline" and "binary_tensor_data" in meta["extensions"]
    models = {m["id"]: m for m in requests.get(server.url + "/v1/models").json()["data"]}
    assert {"simple", "simple_fixed", "dtypes", "strings", "convnet", "slow"} <= set(models)
    assert models["simple"]["max_batch_size"] == 8 and models["simple_fixed"]["max_batch_size"] == 0


def test_model_metadata_from_the_onnx_file(server):
    m = requests.get(server.url + "/v2/models/convnet").json()
    assert m["platform"] == "onnxruntime_onnx"
    assert m["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 64, 64]}]
    assert m["outputs"] == [{"name": "logits", "datatype": "FP32", "shape": [-1, 10]}]
    assert requests.get(server.url + "/v2/models/convnet/versions/1").json() == m
    assert requests.get(server.url + "/v2/models/convnet/ready").status_code == 200
    assert requests.get(server.url + "/v2/models/simple_fixed").json()["inputs"][0]["shape"] == [1, 16]


def test_unknown_model_and_version_are_404_with_string_error(server):
    r = requests.get(server.url + "/v2/models/nope")
    assert r.status_code == 404 and r.json()["error"] == "unknown model 'nope'"
    r = requests.get(server.url + "/v2/models/simple/versions/7")
    assert r.status_code == 404 and isinstance(r.json()["error"], str)
    r = requests.post(server.url + "/v2/models/nope/infer", data="{}")
    assert r.status_code == 404


def test_json_round_trip_matches_the_math(server):
    a = np.arange(48, dtype=np.float32).reshape(3, 16) / 7
    b = np.linspace(-1, 1, 48, dtype=np.float32).reshape(3, 16)
    r = requests.post(server.url + "/v2/models/simple/infer", data=infer_body(simple_inputs(a, b), id="abc"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model_name"] == "simple" and out["id"] == "abc"
    got = {o["name"]: np.array(o["data"], np.float32).reshape(o["shape"]) for o in out["outputs"]}
    np.testing.assert_array_equal(got["OUTPUT0"], a + b)
    np.testing.assert_array_equal(got["OUTPUT1"], a - b)
    assert "Server-Timing" in r.headers and "queue;dur=" in r.headers["Server-Timing"]


def test_versioned_infer_route(server):
    a = np.ones((1, 16), np.float32)
    r = requests.post(server.url + "/v2/models/simple/versions/1/infer", data=infer_body(simple_inputs(a, a)))
    assert r.status_code == 200


def test_binary_round_trip(server):
    a = np.random.default_rng(0).standard_normal((2, 16)).astype(np.float32)
    b = np.full((2, 16), 0.5, np.float32)
    header = json.dumps({
        "inputs": [{"name": "INPUT0", "shape": [2, 16], "datatype": "FP32", "parameters": {"binary_data_size": a.nbytes}},
                   {"name": "INPUT1", "shape": [2, 16], "datatype": "FP32", "parameters": {"binary_data_size": b.nbytes}}],
        "outputs": [{"name": "OUTPUT0", "parameters": {"binary_data": True}}, {"name": "OUTPUT1"}]}).encode()
    r = requests.post(server.url + "/v2/models/simple/infer", data=header + a.tobytes() + b.tobytes(),
                      headers={"Inference-Header-Content-Length": str(len(header)),
                               "Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    n = int(r.headers["Inference-Header-Content-Length"])
    meta = json.loads(r.content[:n])
    assert meta["outputs"][0]["parameters"]["binary_data_size"] == 128
    np.testing.assert_array_equal(np.frombuffer(r.content[n:], np.float32).reshape(2, 16), a + b)
    np.testing.assert_array_equal(np.array(meta["outputs"][1]["data"], np.float32).reshape(2, 16), a - b)


def test_every_datatype(server):
    u8 = np.array([[0, 1, 127, 255]], np.uint8)
    i32 = np.array([[-5, 0, 7, 2**31 - 2]], np.int32)
    i64 = np.array([[-(2**62), 0, 3, 2**62]], np.int64)
    f16 = np.array([[0.5, -1.25, 100, 0.1]], np.float16)
    f64 = np.array([[1e-3, -2.5, 3, 1e100]], np.float64)
    bl = np.array([[True, False, False, True]])
    inputs = [{"name": n, "shape": [1, 4], "datatype": dt, "data": arr.flatten().tolist()}
              for n, dt, arr in [("U8", "UINT8", u8), ("I32", "INT32", i32), ("I64", "INT64", i64),
                                 ("F16", "FP16", f16), ("F64", "FP64", f64), ("B", "BOOL", bl)]]
    r = requests.post(server.url + "/v2/models/dtypes/infer", data=infer_body(inputs))
    assert r.status_code == 200, r.text
    out = {o["name"]: o for o in r.json()["outputs"]}
    assert out["U8_DOUBLED"]["datatype"] == "INT32" and out["U8_DOUBLED"]["data"] == (u8.astype(np.int32) * 2).flatten().tolist()
    assert out["I32_PLUS1"]["data"] == (i32 + 1).flatten().tolist()
    assert out["I64_NEG"]["data"] == (-i64).flatten().tolist()
    np.testing.assert_array_equal(np.array(out["F16_TWICE"]["data"], np.float16), (f16.astype(np.float32) * 2).astype(np.float16).flatten())
    np.testing.assert_array_equal(np.array(out["F64_SQUARED"]["data"]), (f64 * f64).flatten())
    assert out["B_NOT"]["data"] == [False, True, True, False]


def test_bytes_tensors_json_and_binary(server):
    words = ["hello", "wörld", "", "x" * 300]
    r = requests.post(server.url + "/v2/models/strings/infer",
                      data=infer_body([{"name": "TEXT", "shape": [4, 1], "datatype": "BYTES", "data": words}]))
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == words
    payload = b"".join(struct.pack("<I", len(w.encode())) + w.encode() for w in words)
    header = json.dumps({"inputs": [{"name": "TEXT", "shape": [4, 1], "datatype": "BYTES",
                                     "parameters": {"binary_data_size": len(payload)}}],
                         "parameters": {"binary_data_output": True}}).encode()
    r = requests.post(server.url + "/v2/models/strings/infer", data=header + payload,
                      headers={"Inference-Header-Content-Length": str(len(header))})
    assert r.status_code == 200, r.text
    assert r.content[int(r.headers["Inference-Header-Content-Length"]):] == payload


def test_convnet_matches_onnxruntime_reference(server):
    x = np.random.default_rng(1).standard_normal((3, 3, 64, 64)).astype(np.float32)
    ref = ort.InferenceSession(f"{FIXTURES}/convnet/model.onnx").run(None, {"input": x})[0]
    header = json.dumps({"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                                     "parameters": {"binary_data_size": x.nbytes}}],
                         "parameters": {"binary_data_output": True}}).encode()
    r = requests.post(server.url + "/v2/models/convnet/infer", data=header + x.tobytes(),
                      headers={"Inference-Header-Content-Length": str(len(header))})
    assert r.status_code == 200, r.text
    got = np.frombuffer(r.content[int(r.headers["Inference-Header-Content-Length"]):], np.float32).reshape(3, 10)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_fixed_batch_model_serves_batch_one_only(server):
    a = np.ones((1, 16), np.float32)
    r = requests.post(server.url + "/v2/models/simple_fixed/infer", data=infer_body(simple_inputs(a, a)))
    assert r.status_code == 200
    assert r.json()["outputs"][0]["data"] == [2.0] * 16
    a2 = np.ones((2, 16), np.float32)
    r = requests.post(server.url + "/v2/models/simple_fixed/infer", data=infer_body(simple_inputs(a2, a2)))
    assert r.status_code == 400
    assert "must have shape [1,16]" in r.json()["error"]


def test_request_id_is_echoed_or_made(server):
    r = requests.get(server.url + "/healthz", headers={"X-Request-Id": "trace-42"})
    assert r.headers["X-Request-Id"] == "trace-42"
    r = requests.get(server.url + "/healthz")
    assert len(r.headers["X-Request-Id"]) > 4
    logs = server.logs()
    assert '"request_id":"trace-42"' in logs


def test_metrics_cover_requests_queue_compute_batches_and_model_lifecycle(server):
    a = np.ones((1, 16), np.float32)
    assert requests.post(server.url + "/v2/models/simple/infer", data=infer_body(simple_inputs(a, a))).status_code == 200
    requests.get(server.url + "/v2/models/nope")
    m = server.metrics()
    route = "/v2/models/{model}/infer"
    assert m[f'sightline_http_requests_total{{route="{route}",method="POST",status="200"}}'] >= 1
    assert m['sightline_http_requests_total{route="/v2/models/{model}",method="GET",status="404"}'] >= 1
    assert m[f'sightline_http_request_duration_seconds_count{{route="{route}"}}'] >= 1
    for family in ("queue_duration_seconds", "compute_duration_seconds", "batch_size"):
        assert m[f'sightline_inference_{family}_count{{model="simple"}}'] >= 1, family
    assert m['sightline_inference_pending_requests{model="simple"}'] == 0
    for reason in ("queue_full", "wait_budget", "deadline_exceeded", "cancelled"):
        assert f'sightline_inference_rejected_total{{model="simple",reason="{reason}"}}' in m
    for model in ("simple", "convnet", "slow", "simple_fixed"):
        assert m[f'sightline_model_load_seconds{{model="{model}"}}'] > 0
        assert m[f'sightline_model_warmup_seconds{{model="{model}"}}'] > 0  # warmed before ready
        assert m[f'sightline_model_ready{{model="{model}"}}'] == 1
    logs = server.logs()
    assert '"event":"model_loaded","model":"convnet"' in logs and '"warmup_seconds":' in logs
