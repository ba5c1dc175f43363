"""The encoder-decoder captioner layout (issue 12): discovered in the model repository, its encoder
served through the dynamic batcher, its decoder behind a generation scheduler."""
import io

import numpy as np
import requests
import tritonclient.http as httpclient
from PIL import Image

from conftest import infer_body


def png(w=64, h=48):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (30, 140, 200)).save(buf, "PNG")
    return buf.getvalue()


def test_the_captioner_folder_becomes_an_encoder_and_a_decoder(server):
    models = {m["id"]: m for m in requests.get(server.url + "/v1/models").json()["data"]}
    assert "captioner-tiny.encoder" in models and "captioner-tiny.decoder" in models, sorted(models)
    assert models["captioner-tiny.encoder"]["scheduler"] == "batcher"
    assert models["captioner-tiny.decoder"]["scheduler"] == "generation"
    assert models["captioner-tiny.decoder"]["family"] == "captioner-tiny"
    meta = requests.get(server.url + "/v2/models/captioner-tiny.decoder").json()
    names = {i["name"] for i in meta["inputs"]}
    assert {"input_ids", "encoder_hidden_states", "use_cache_branch", "past_key_values.0.key"} <= names
    m = server.metrics()
    assert m['sightline_generation_kv_cache_budget_bytes{model="captioner-tiny.decoder"}'] > 0
    assert m['sightline_generation_active_sequences{model="captioner-tiny.decoder"}'] == 0


def test_the_encoder_takes_images_through_the_batcher(server):
    # preprocessor_config.json (ViT: 224x224, mean/std 0.5) is its image_input: encoded bytes in.
    c = httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    x = httpclient.InferInput("pixel_values", [2], "BYTES")
    x.set_data_from_numpy(np.array([png(), png(300, 100)], dtype=object), binary_data=True)
    states = c.infer("captioner-tiny.encoder", [x]).as_numpy("last_hidden_state")
    assert states.shape == (2, 197, 32)
    assert np.isfinite(states).all()


def test_the_decoder_is_not_a_tensor_inference_model(server):
    r = requests.post(server.url + "/v2/models/captioner-tiny.decoder/infer", data=infer_body(
        [{"name": "input_ids", "shape": [1, 1], "datatype": "INT64", "data": [0]}]))
    assert r.status_code == 400
    assert "generative decoder" in r.json()["error"]
