"""The encoder-decoder captioner layout (issue 12): discovered in the model repository, its encoder
served through the dynamic batcher, its decoder behind a generation scheduler."""
import io
import json
import os

import numpy as np
import requests
import tritonclient.http as httpclient
from PIL import Image

from conftest import FIXTURES, image_host, infer_body, wait_until


def png(w=64, h=48):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (30, 140, 200)).save(buf, "PNG")
    return buf.getvalue()


def colour_png(colour, w=80, h=60):
    buf = io.BytesIO()
    rng = np.random.default_rng(sum(colour))
    arr = np.clip(np.array(colour, np.int16) + rng.integers(-40, 40, (h, w, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(arr).save(buf, "PNG")
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


# ---- /v1/caption: the whole path against the reference loop -------------------------------------

def reference_caption(server, image, params):
    """The expected answer: the encoder's states for `image` as the server computes them (KServe
    on the encoder, the same preprocessing), then scripts/reference_generate.py's loop over the
    fixture's decoder, then the `tokenizers` package's decode."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
    import reference_generate
    from tokenizers import Tokenizer
    d = os.path.join(FIXTURES, "captioner-tiny")
    c = httpclient.InferenceServerClient(f"127.0.0.1:{server.port}")
    x = httpclient.InferInput("pixel_values", [1], "BYTES")
    x.set_data_from_numpy(np.array([image], dtype=object), binary_data=True)
    states = c.infer("captioner-tiny.encoder", [x]).as_numpy("last_hidden_state")
    refs = json.load(open(os.path.join(d, "refs.json")))
    eos = refs["eos_id"]
    dec = reference_generate.MergedDecoder(os.path.join(d, "onnx", "decoder_model_merged.onnx"))
    p = dict(params)
    run = reference_generate.beam_search if p.get("num_beams", 1) > 1 else reference_generate.generate
    ids = run(dec, states, [refs["start_id"]], p, eos)
    return ids, Tokenizer.from_file(os.path.join(d, "tokenizer.json")).decode(ids, skip_special_tokens=True)


def caption(server, images, **fields):
    files = [("file", (f"{i}.png", im, "image/png")) for i, im in enumerate(images)]
    return requests.post(server.url + "/v1/caption", files=files, data={k: str(v) for k, v in fields.items()},
                         timeout=120)


COLOURS = [(30, 140, 200), (220, 40, 40), (10, 10, 10), (250, 250, 250)]


def test_captions_match_the_reference_loop_greedy_and_beam(server):
    images = [png(64 + 9 * i, 48 + 5 * i) if i % 2 else colour_png(c) for i, c in enumerate(COLOURS)]
    r = caption(server, images, max_new_tokens=30)
    assert r.status_code == 200, r.text[:300]
    data = r.json()["data"]
    assert len(data) == 4
    for im, item in zip(images, data):
        ids, text = reference_caption(server, im, {"max_new_tokens": 30})
        assert item["text"] == text
        assert item["usage"]["completion_tokens"] == len(ids)
        assert item["usage"]["prompt_tokens"] == 1
        assert item["finish_reason"] == ("stop" if len(ids) < 30 else "length")
    r = caption(server, images[:1], max_new_tokens=10, num_beams=3, length_penalty=1.0)
    ids, text = reference_caption(server, images[0], {"max_new_tokens": 10, "num_beams": 3, "length_penalty": 1.0,
                                                      "early_stopping": False})
    assert r.json()["data"][0]["text"] == text


def test_a_seed_reproduces_a_sampled_caption(server):
    image = colour_png((90, 200, 60))
    params = {"max_new_tokens": 16, "temperature": 0.9, "top_k": 40, "top_p": 0.95, "seed": 1234}
    a = caption(server, [image], **params).json()["data"][0]["text"]
    b = caption(server, [image], **params).json()["data"][0]["text"]
    assert a == b
    ids, text = reference_caption(server, image, dict(params, do_sample=True))
    assert a == text


def test_every_bad_parameter_is_a_4xx_naming_its_field(server):
    image = colour_png((1, 2, 3))
    for field, value in [("max_new_tokens", 0), ("max_new_tokens", -5), ("max_tokens", 100000), ("top_p", 1.5),
                         ("top_p", "abc"), ("temperature", 0), ("top_k", -1), ("num_beams", 0),
                         ("repetition_penalty", 0), ("seed", -1), ("min_new_tokens", 600)]:
        r = caption(server, [image], **{field: value})
        assert r.status_code == 400, (field, value, r.text)
        assert field in r.json()["error"]["message"], (field, r.text)
    r = caption(server, [image], num_beams=2, do_sample="true")
    assert r.status_code == 400 and "num_beams" in r.json()["error"]["message"]
    r = caption(server, [image], model="nope")
    assert r.status_code == 404 and "captioner-tiny" in r.json()["error"]["message"]
    r = caption(server, [image], prompt="word " * 300, max_new_tokens=10)
    assert r.status_code == 400 and "context" in r.json()["error"]["message"]
    r = caption(server, [image], unknown=1)
    assert r.status_code == 400 and "unknown" in r.json()["error"]["message"]
    # Text fields take text (JSON bodies): a number, boolean or list is not stringified into them.
    b64 = __import__("base64").b64encode(image).decode()
    for field, value in [("prompt", 5), ("prompt", ["a"]), ("prompt", True), ("stop", 5), ("stop", 3.2),
                         ("stop", True), ("stop", ""), ("stop", [""]), ("model", 7)]:
        r = requests.post(server.url + "/v1/caption", json={"image": b64, field: value}, timeout=60)
        assert r.status_code == 400, (field, value, r.text)
        assert field in r.json()["error"]["message"], (field, value, r.text)
    # An image that fails to decode fails alone.
    r = caption(server, [image, b"not an image", image], max_new_tokens=4)
    assert r.status_code == 200
    data = r.json()["data"]
    assert "text" in data[0] and data[1]["error"]["type"] == "invalid_image" and "text" in data[2]
    # A file cut short says so before libvips' own reason ("source: bad seek to 275" alone says neither).
    photo = png(300, 200)
    r = caption(server, [photo[: len(photo) // 2]], max_new_tokens=4)
    error = r.json()["data"][0]["error"]
    assert error["type"] == "invalid_image" and "truncated or corrupt" in error["message"], error


def test_stop_strings_end_the_text_and_a_prompt_is_continued(server):
    image = colour_png((30, 140, 200))
    full = caption(server, [image], max_new_tokens=20).json()["data"][0]
    assert len(full["text"]) > 4
    stop = full["text"][2:4]
    cut = caption(server, [image], max_new_tokens=20, stop=stop).json()["data"][0]
    assert cut["text"] == full["text"][:full["text"].index(stop)]
    assert cut["finish_reason"] == "stop"
    prompted = caption(server, [image], max_new_tokens=5, prompt="a photo of").json()["data"][0]
    assert prompted["usage"]["prompt_tokens"] > 1


def test_generation_metrics_count_what_ran(server):
    before = server.metrics()
    caption(server, [colour_png((5, 5, 5))], max_new_tokens=6)
    after = server.metrics()
    key = 'sightline_generation_tokens_total{model="captioner-tiny.decoder"}'
    assert after.get(key, 0) - before.get(key, 0) >= 1
    assert after['sightline_generation_time_to_first_token_seconds_count{model="captioner-tiny.decoder"}'] >= 1
    wait_until(lambda: server.metrics()['sightline_generation_active_sequences{model="captioner-tiny.decoder"}'] == 0,
               timeout=30, what="no active sequence")


def test_caption_takes_images_every_way_the_image_routes_do(make_server, tmp_path):
    """/v1/caption takes many images by every way the image routes accept — multipart files, a raw
    body, base64 `images`, `image_urls` (through the SSRF-safe fetcher, here allowed to loopback) and
    `image_paths` (under --allow-path) — and one image's caption is the same whichever way it came."""
    import base64
    s = make_server("--allow-path", str(tmp_path), "--fetch-allow-cidr", "127.0.0.1/32")
    with image_host(good=2, corrupt=0, missing=0) as (base, _):
        first = requests.get(f"{base}/img0.png", timeout=10).content
        second = requests.get(f"{base}/img1.png", timeout=10).content
        (tmp_path / "first.png").write_bytes(first)
        want = [item["text"] for item in caption(s, [first, second], max_new_tokens=12).json()["data"]]
        raw = requests.post(s.url + "/v1/caption?max_new_tokens=12", data=first,
                            headers={"Content-Type": "image/png"}, timeout=60)
        assert raw.status_code == 200, raw.text[:300]
        assert [item["text"] for item in raw.json()["data"]] == want[:1]
        r = requests.post(s.url + "/v1/caption", timeout=60, json={
            "images": [base64.b64encode(second).decode()], "image_urls": [f"{base}/img0.png", f"{base}/img1.png"],
            "image_paths": [str(tmp_path / "first.png")], "max_new_tokens": 12})
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["succeeded"] == 4 and body["failed"] == 0
    assert sorted(item["text"] for item in body["data"]) == sorted([want[1], want[0], want[1], want[0]])
    assert all(item["usage"]["completion_tokens"] >= 1 and "first_token_ms" in item["timing"] and
               item["timing"]["total_ms"] > 0 for item in body["data"])


def test_predict_image_answers_the_describers_clients(make_server, tmp_path):
    image = colour_png((30, 140, 200))
    (tmp_path / "photo.png").write_bytes(image)
    s = make_server("--allow-path", str(tmp_path))
    want = caption(s, [image], max_new_tokens=12).json()["data"][0]["text"]
    for body in [{"image": __import__("base64").b64encode(image).decode(), "max_new_tokens": 12},
                 {"image_path": str(tmp_path / "photo.png"), "max_new_tokens": 12}]:
        r = requests.post(s.url + "/predict_image", json=body, timeout=60)
        assert r.status_code == 200, r.text[:300]
        out = r.json()
        assert out["description"] == want and out["model"] == "captioner-tiny"
        assert out["timing"]["total_ms"] > 0 and "first_token_ms" in out["timing"]
    r = requests.post(s.url + "/predict_image", json={"prompt": "describe"}, timeout=60)
    assert r.status_code == 400 and "one image" in r.json()["error"]["message"]
    r = requests.post(s.url + "/predict_image", json={"image": "!!!", "prompt": "describe"}, timeout=60)
    assert r.status_code == 400


def test_embed_captions_each_image_unless_captions_are_off(make_server, tmp_path):
    import shutil
    images = [colour_png((30, 140, 200)), colour_png((220, 40, 40))]
    files = [("file", (f"{i}.png", im, "image/png")) for i, im in enumerate(images)]
    s = make_server()
    want = [d["text"] for d in caption(s, images).json()["data"]]
    r = requests.post(s.url + "/v1/embed", files=files, data={"captions": "true"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    data = r.json()["data"]
    assert [d["caption"] for d in data] == want
    assert all(len(d["embedding"]) == 32 for d in data)
    r = requests.post(s.url + "/v1/embed", files=files, timeout=60)  # not asked: nothing runs
    assert [d["caption"] for d in r.json()["data"]] == [None, None]
    for server in [make_server("--captions", "off"), make_server(env={"DISABLE_CAPTIONS": "1"})]:
        before = server.metrics().get('sightline_generation_tokens_total{model="captioner-tiny.decoder"}', 0)
        r = requests.post(server.url + "/v1/embed", files=files, data={"captions": "true"}, timeout=60)
        assert r.status_code == 200 and [d["caption"] for d in r.json()["data"]] == [None, None]
        assert server.metrics().get('sightline_generation_tokens_total{model="captioner-tiny.decoder"}', 0) == before
    # No captioner in the repository: asking for captions is refused.
    repo = tmp_path / "repo"
    shutil.copytree(os.path.join(FIXTURES, "clip-tiny"), repo / "clip-tiny")
    cfg = json.load(open(repo / "clip-tiny" / "sightline.json"))
    cfg["zero_shot"].pop("ensembles")
    json.dump(cfg, open(repo / "clip-tiny" / "sightline.json", "w"))
    bare = make_server(repo=str(repo))
    r = requests.post(bare.url + "/v1/embed", files=files, data={"captions": "true"}, timeout=60)
    assert r.status_code == 400 and "captioning model" in r.json()["error"]["message"]
    assert requests.post(bare.url + "/v1/caption", files=files, timeout=60).status_code == 404


def test_the_offline_command_captions_files_like_the_route(server, tmp_path):
    import subprocess
    from conftest import BIN
    images = [colour_png((30, 140, 200)), colour_png((220, 40, 40))]
    paths = []
    for i, im in enumerate(images):
        (tmp_path / f"{i}.png").write_bytes(im)
        paths.append(str(tmp_path / f"{i}.png"))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    want = [d["text"] for d in caption(server, images, max_new_tokens=10).json()["data"]]
    out = subprocess.run([BIN, "caption", "-m", FIXTURES, *paths, "--max-new-tokens", "10"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(l) for l in out.stdout.splitlines()]
    assert [l["caption"] for l in lines] == want and [l["file"] for l in lines] == paths
    bad = subprocess.run([BIN, "caption", "-m", FIXTURES, str(tmp_path / "bad.png")], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 1 and "error" in json.loads(bad.stdout)


# ---- /v1/chat/completions with the official openai client ---------------------------------------

def chat_messages(image, text="a photo of"):
    uri = "data:image/png;base64," + __import__("base64").b64encode(image).decode()
    return [{"role": "system", "content": "You describe images."},
            {"role": "user", "content": [{"type": "text", "text": text},
                                         {"type": "image_url", "image_url": {"url": uri}}]}]


def test_chat_completions_with_the_openai_client_streamed_and_not(server):
    import openai
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
    image = colour_png((30, 140, 200))
    want = caption(server, [image], prompt="a photo of", max_new_tokens=12).json()["data"][0]
    r = client.chat.completions.create(model="captioner-tiny", messages=chat_messages(image), max_tokens=12,
                                       temperature=0)
    assert r.choices[0].message.content == want["text"]
    assert r.choices[0].finish_reason == want["finish_reason"]
    assert r.usage.completion_tokens == want["usage"]["completion_tokens"]
    assert r.usage.prompt_tokens == want["usage"]["prompt_tokens"]
    chunks = list(client.chat.completions.create(model="captioner-tiny", messages=chat_messages(image),
                                                 max_tokens=12, temperature=0, stream=True,
                                                 stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == want["text"]
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) >= 2, "text came in pieces"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == want["finish_reason"]
    assert chunks[-1].usage.completion_tokens == want["usage"]["completion_tokens"]
    # n choices are n sequences; sampled with a seed, each as /v1/caption's items with that seed.
    sampled = caption(server, [image, image], prompt="a photo of", max_new_tokens=10, seed=9,
                      temperature=1.2).json()["data"]
    r = client.chat.completions.create(model="captioner-tiny", messages=chat_messages(image), max_tokens=10,
                                       temperature=1.2, seed=9, n=2)
    assert [c.message.content for c in r.choices] == [d["text"] for d in sampled]


def test_chat_completions_refuse_bad_requests_naming_the_field(server):
    import openai
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    image = colour_png((1, 2, 3))
    for kwargs, field in [({"max_tokens": -1}, "max_tokens"), ({"max_tokens": 100000}, "max_tokens"),
                          ({"top_p": 1.5}, "top_p"), ({"temperature": 3}, "temperature"), ({"n": 20}, "n"),
                          ({"seed": -4}, "seed"),
                          # Features that would change the answer and are not implemented: refused, not ignored.
                          ({"logprobs": True}, "logprobs"), ({"top_logprobs": 2}, "top_logprobs"),
                          ({"frequency_penalty": 0.5}, "frequency_penalty"),
                          ({"response_format": {"type": "json_object"}}, "response_format"),
                          ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools")]:
        try:
            client.chat.completions.create(model="captioner-tiny", messages=chat_messages(image), **kwargs)
            raise AssertionError(f"{kwargs} was accepted")
        except openai.BadRequestError as e:
            assert field in str(e), (field, str(e))
    # What changes nothing is accepted: the defaults spelled out, and bookkeeping fields.
    r = client.chat.completions.create(model="captioner-tiny", messages=chat_messages(image), max_tokens=4,
                                       logprobs=False, frequency_penalty=0, response_format={"type": "text"},
                                       user="someone")
    assert r.choices[0].message.content is not None
    try:
        client.chat.completions.create(model="captioner-tiny", messages=[{"role": "user", "content": "hi"}])
        raise AssertionError("no image was accepted")
    except openai.BadRequestError as e:
        assert "image_url" in str(e)
    try:
        client.chat.completions.create(model="nope", messages=chat_messages(image))
        raise AssertionError("an unknown model was accepted")
    except openai.NotFoundError:
        pass
    bad = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]
    try:
        client.chat.completions.create(model="captioner-tiny", messages=bad)
        raise AssertionError("a broken image was accepted")
    except openai.BadRequestError as e:
        assert "image" in str(e)


def test_a_streamed_chat_honours_stop_strings_like_the_whole_answer(server):
    import openai
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
    image = colour_png((220, 40, 40))
    full = client.chat.completions.create(model="captioner-tiny", messages=chat_messages(image), max_tokens=20,
                                          temperature=0).choices[0].message.content
    assert len(full) > 6
    stop = full[3:6]
    whole = client.chat.completions.create(model="captioner-tiny", messages=chat_messages(image), max_tokens=20,
                                           temperature=0, stop=[stop])
    assert whole.choices[0].message.content == full[:full.index(stop)]
    assert whole.choices[0].finish_reason == "stop"
    streamed = client.chat.completions.create(model="captioner-tiny", messages=chat_messages(image), max_tokens=20,
                                              temperature=0, stop=[stop], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == full[:full.index(stop)]
