"""The official tritonclient package, unmodified, against Sightline: JSON and binary tensors."""
import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def client(server):
    return httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")


def test_health_and_metadata(server):
    c = client(server)
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("simple")
    assert c.get_model_metadata("simple")["inputs"][0]["name"] == "INPUT0"
    assert c.get_server_metadata()["name"] == "sightline"


def test_infer_json_and_binary(server):
    c = client(server)
    a = np.random.default_rng(3).standard_normal((4, 16)).astype(np.float32)
    b = np.full((4, 16), 2, np.float32)
    for binary in (False, True):
        i0 = httpclient.InferInput("INPUT0", a.shape, "FP32")
        i0.set_data_from_numpy(a, binary_data=binary)
        i1 = httpclient.InferInput("INPUT1", b.shape, "FP32")
        i1.set_data_from_numpy(b, binary_data=binary)
        outs = [httpclient.InferRequestedOutput("OUTPUT0", binary_data=binary),
                httpclient.InferRequestedOutput("OUTPUT1", binary_data=not binary)]
        r = c.infer("simple", [i0, i1], outputs=outs, request_id="r1")
        np.testing.assert_array_equal(r.as_numpy("OUTPUT0"), a + b)
        np.testing.assert_array_equal(r.as_numpy("OUTPUT1"), a - b)
        assert r.get_response()["id"] == "r1"


def test_infer_bytes_and_fp16(server):
    c = client(server)
    t = np.array([[b"alpha"], ["bêta".encode()]], dtype=object)
    i = httpclient.InferInput("TEXT", t.shape, "BYTES")
    i.set_data_from_numpy(t, binary_data=True)
    np.testing.assert_array_equal(c.infer("strings", [i]).as_numpy("TEXT_OUT"), t)
    arrays = {"U8": np.array([[1, 2, 3, 4]], np.uint8), "I32": np.array([[1, 2, 3, 4]], np.int32),
              "I64": np.array([[1, 2, 3, 4]], np.int64), "F16": np.array([[0.5, 1, 2, 4]], np.float16),
              "F64": np.array([[1, 2, 3, 4]], np.float64), "B": np.array([[True, False, True, False]])}
    dts = {"U8": "UINT8", "I32": "INT32", "I64": "INT64", "F16": "FP16", "F64": "FP64", "B": "BOOL"}
    inputs = []
    for name, arr in arrays.items():
        x = httpclient.InferInput(name, arr.shape, dts[name])
        x.set_data_from_numpy(arr, binary_data=True)
        inputs.append(x)
    r = c.infer("dtypes", inputs)
    np.testing.assert_array_equal(r.as_numpy("F16_TWICE"), arrays["F16"] * 2)
    np.testing.assert_array_equal(r.as_numpy("B_NOT"), ~arrays["B"])


def test_errors_raise_inference_server_exception(server):
    c = client(server)
    x = httpclient.InferInput("INPUT0", [1, 15], "FP32")
    x.set_data_from_numpy(np.zeros((1, 15), np.float32))
    try:
        c.infer("simple", [x])
    except InferenceServerException as e:
        assert "INPUT0" in str(e)
    else:
        raise AssertionError("expected an error")
