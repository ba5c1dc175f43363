"""The set-up tools that make and choose model variants (issue 11, field report 7), run as a user
runs them, on the fixtures: prepare_model.py quantize-static and choose_variant.py."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import requests
from onnx import helper, numpy_helper

from conftest import FIXTURES, PHOTOS

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


def tool(*args):
    r = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def run(path, x):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return s.run(None, {s.get_inputs()[0].name: x})[0]


def fixture_with_int8(tmp_path, name):
    """A copy of fixture `name` (without other servers' saved graphs) plus its model_int8.onnx."""
    model = tmp_path / name
    shutil.copytree(os.path.join(FIXTURES, name), model, ignore=shutil.ignore_patterns(".sightline-optimized"))
    tool("scripts/prepare_model.py", "quantize-static", str(model / "model.onnx"), str(model / "model_int8.onnx"),
         "--images", PHOTOS)
    return model


def test_quantize_static_makes_a_calibrated_int8_model_the_server_loads(tmp_path, make_server):
    model = fixture_with_int8(tmp_path, "convnet")
    q = onnx.load(str(model / "model_int8.onnx"))
    ops = {n.op_type for n in q.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops, ops
    # Static: every activation range is fixed in the file; nothing is measured per run.
    assert "DynamicQuantizeLinear" not in ops
    weights = [numpy_helper.to_array(i) for i in q.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    assert weights and max(w.size for w in weights) >= 16 * 32 * 9  # the second conv's weights
    rng = np.random.default_rng(0)
    x = rng.random((4, 3, 64, 64), np.float32)
    ref, got = run(model / "model.onnx", x), run(model / "model_int8.onnx", x)
    assert np.max(np.abs(ref - got)) < 0.05 * np.max(np.abs(ref)) + 0.05, (ref, got)
    assert (ref.argmax(1) == got.argmax(1)).all()
    cfg = json.loads((model / "sightline.json").read_text())
    cfg["variant"] = "int8"
    (model / "sightline.json").write_text(json.dumps(cfg))
    s = make_server(repo=str(tmp_path))
    body = {"inputs": [{"name": "input", "shape": [1, 3, 64, 64], "datatype": "FP32", "data": x[:1].ravel().tolist()}]}
    r = requests.post(s.url + "/v2/models/convnet/infer", json=body, timeout=30)
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(np.array(r.json()["outputs"][0]["data"], np.float32), got[0].ravel(), atol=1e-4)


def test_choose_variant_keeps_only_variants_with_the_same_result_and_picks_the_fastest(tmp_path, make_server):
    model = fixture_with_int8(tmp_path, "matte")
    # A fast variant that gets the answer wrong (the mask inverted): it must never be chosen.
    wrong = onnx.load(str(model / "model.onnx"))
    for i, t in enumerate(wrong.graph.initializer):
        if t.name == "gain":
            wrong.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.array(-40.0, np.float32), "gain"))
    onnx.save(wrong, str(model / "model_quint8.onnx"))
    out = tool("scripts/choose_variant.py", "--model", str(model), "--photos", PHOTOS, "--rounds", "6",
               "--threads", "1")
    report = json.loads((model / "variant_choice.json").read_text())
    c = report["candidates"]
    assert set(c) == {"fp32", "quint8", "int8"}, c.keys()
    assert c["quint8"]["same_result"] is False and c["quint8"]["min_mask_iou_vs_fp32"] < 0.5
    assert c["fp32"]["same_result"] is True and c["fp32"]["max_abs_diff_vs_fp32"] == 0
    assert c["int8"]["same_result"] == (c["int8"]["min_mask_iou_vs_fp32"] >= 0.98)
    eligible = {v: k["median_seconds"] for v, k in c.items() if k["same_result"]}
    assert report["chosen"] == min(eligible, key=eligible.get), out
    assert json.loads((model / "sightline.json").read_text())["variant"] == report["chosen"]
    s = make_server(repo=str(tmp_path))
    img = np.full((64, 64, 3), (20, 20, 230), np.uint8)  # bluish background, reddish square
    img[16:48, 16:48] = (230, 20, 20)
    from io import BytesIO
    from PIL import Image
    buf = BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    r = requests.post(s.url + "/v1/remove-background?output=mask", data=buf.getvalue(),
                      headers={"Content-Type": "image/png"}, timeout=30)
    assert r.status_code == 200, r.text
    mask = np.asarray(Image.open(BytesIO(r.content)).convert("L"))
    assert mask[32, 32] > 200 and mask[2, 2] < 50
