"""CLIP routes against the real binary with the tiny CLIP fixture (scripts/gen_clip_fixture.py:
the real tokenizer, random towers in the transformers.js layout): tokenizer parity through
/v1/tokenize, embeddings against onnxruntime run directly, the official `openai` client,
zero-shot probabilities, label sets, caches, and per-item errors in /v1/embed."""
import base64
import io
import json
import os

import numpy as np
import onnxruntime as ort
import pytest
import requests
from PIL import Image

from conftest import FIXTURES, IMAGES, TOKENIZERS, image_host

CLIP = os.path.join(FIXTURES, "clip-tiny")


def png(color=(200, 30, 30), size=(300, 200)):
    buf = io.BytesIO()
    img = Image.new("RGB", size, color)
    img.paste((20, 200, 60), (size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2))
    img.save(buf, "PNG")
    return buf.getvalue()


def data_uri(b):
    return "data:image/png;base64," + base64.b64encode(b).decode()


def reference_text(texts):
    refs = {r["text"]: r["ids_truncated"] for r in json.load(open(os.path.join(TOKENIZERS, "clip", "refs.json")))["refs"]}
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(CLIP, "tokenizer.json"))
    tok.enable_truncation(77)
    ids = np.full((len(texts), 77), 49407, np.int64)
    for i, t in enumerate(texts):
        e = refs.get(t) or tok.encode(t).ids
        ids[i, :len(e)] = e
    out = ort.InferenceSession(os.path.join(CLIP, "onnx", "text_model.onnx")).run(None, {"input_ids": ids})[0]
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_tokenize_matches_hugging_face(server):
    refs = json.load(open(os.path.join(TOKENIZERS, "clip", "refs.json")))["refs"]
    texts = [r["text"] for r in refs]
    r = requests.post(server.url + "/v1/tokenize", json={"model": "clip-tiny", "input": texts}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["tokens"] == [ref["ids_truncated"] for ref in refs]


def test_tokenize_honours_the_request_deadline(server):
    """A 1 ms budget cannot cover parsing and tokenizing 2048 long texts: 504, not the answer."""
    texts = [("word%d " % i) * 300 for i in range(2048)]
    r = requests.post(server.url + "/v1/tokenize", json={"model": "clip-tiny", "input": texts},
                      headers={"X-Request-Timeout-Ms": "1"}, timeout=60)
    assert r.status_code == 504, r.text[:200]
    assert r.json()["error"]["code"] == "deadline_exceeded"
    r = requests.post(server.url + "/v1/tokenize", json={"model": "clip-tiny", "input": texts[:2]}, timeout=60)
    assert r.status_code == 200
    # Cached embeddings never reach a queue's deadline check: the chunk checks between texts.
    same = ["word " * 2000] * 256
    r = requests.post(server.url + "/v1/embeddings", json={"model": "clip-tiny", "input": same}, timeout=120)
    assert r.status_code == 200, r.text[:200]
    r = requests.post(server.url + "/v1/embeddings", json={"model": "clip-tiny", "input": same},
                      headers={"X-Request-Timeout-Ms": "1"}, timeout=120)
    assert r.status_code == 504, r.text[:200]
    # A label longer than any prompt context is refused before it is tokenized.
    image = base64.b64encode(open(os.path.join(IMAGES, "rgb.png"), "rb").read()).decode()
    r = requests.post(server.url + "/v1/classify", json={"model": "clip-tiny", "image": image,
                                                         "labels": ["a" * 9000, "dog"]}, timeout=60)
    assert r.status_code == 413 and "labels[0] is 9000 bytes" in r.json()["error"]["message"], r.text[:200]
    # One text far past any context (a 60 MB word once tokenized for 30 s after its deadline) is
    # refused up front, on /v1/tokenize and /v1/embeddings alike.
    for route in ("/v1/tokenize", "/v1/embeddings"):
        r = requests.post(server.url + route, json={"model": "clip-tiny", "input": ["ok", "ab" * 600_000]}, timeout=60)
        assert r.status_code == 413, r.text[:200]
        assert "'input'[1] is 1200000 bytes; at most 1048576" in r.json()["error"]["message"]


def test_text_embeddings_match_onnxruntime_and_are_unit_norm(server):
    texts = ["a photo of a cat", "a photo of a dog", "Café naïve résumé"]
    r = requests.post(server.url + "/v1/embeddings", json={"model": "clip-tiny", "input": texts}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and body["model"] == "clip-tiny" and body["usage"]["prompt_tokens"] > 0
    got = np.array([d["embedding"] for d in sorted(body["data"], key=lambda d: d["index"])])
    assert np.allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert np.allclose(got, reference_text(texts), atol=1e-5)


def test_batched_and_single_requests_agree(server):
    texts = [f"a photo of a {w}" for w in ["cat", "dog", "bird", "car", "tree", "house"]]
    together = requests.post(server.url + "/v1/embeddings", json={"input": texts}, timeout=30).json()["data"]
    alone = [requests.post(server.url + "/v1/embeddings", json={"input": t}, timeout=30).json()["data"][0]
             for t in texts]
    for a, b in zip(together, alone):
        assert np.allclose(a["embedding"], b["embedding"], atol=1e-5)


def test_images_as_data_uris_base64_format_and_dimensions(server):
    img = png()
    r = requests.post(server.url + "/v1/embeddings",
                      json={"input": [data_uri(img), "a red square"], "encoding_format": "base64", "dimensions": 8},
                      timeout=30)
    assert r.status_code == 200, r.text
    vecs = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in r.json()["data"]]
    assert [len(v) for v in vecs] == [8, 8]
    assert np.allclose([np.linalg.norm(v) for v in vecs], 1, atol=1e-5)  # truncated, then re-normalised
    full = requests.post(server.url + "/v1/embeddings", json={"input": data_uri(img), "modality": "image"},
                         timeout=30).json()["data"][0]["embedding"]
    head = np.array(full[:8]) / np.linalg.norm(full[:8])
    assert np.allclose(head, vecs[0], atol=1e-5)


def test_openai_client_works_unchanged(server):
    import openai
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
    res = client.embeddings.create(model="clip-tiny", input=["a photo of a cat", "a photo of a dog"])
    assert len(res.data) == 2 and len(res.data[0].embedding) == 32
    assert np.allclose(np.array(res.data[0].embedding), reference_text(["a photo of a cat"])[0], atol=1e-5)


def test_zero_shot_probabilities_sum_to_one_and_follow_similarity(server):
    labels = ["cat", "dog", "red square", "green square", "car"]
    r = requests.post(server.url + "/v1/classify", json={"image": base64.b64encode(png()).decode(), "labels": labels},
                      timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()["labels"]
    assert sorted(o["label"] for o in out) == sorted(labels)
    assert abs(sum(o["probability"] for o in out) - 1) < 1e-6
    sims = [o["similarity"] for o in out]
    assert sims == sorted(sims, reverse=True)  # ranked as the raw similarities are
    # Softmax of 100 x cosine, as CLIP computes it.
    e = np.exp(100 * (np.array(sims) - max(sims)))
    assert np.allclose([o["probability"] for o in out], e / e.sum(), atol=1e-6)
    top = requests.post(server.url + "/v1/classify", files={"file": ("a.png", png())},
                        data={"labels": ",".join(labels), "top_k": "2", "metadata": "true"}, timeout=30).json()
    assert [o["label"] for o in top["labels"]] == [o["label"] for o in out[:2]]
    assert top["metadata"]["format"] == "png" and top["metadata"]["width"] == 300


def test_label_set_from_config_and_caches(server):
    before = server.metrics()
    body = {"image": base64.b64encode(png((10, 10, 240))).decode(), "label_set": "animals", "ensemble": False}
    first = requests.post(server.url + "/v1/classify", json=body, timeout=30)
    assert first.status_code == 200, first.text
    assert sorted(o["label"] for o in first.json()["labels"]) == ["bird", "cat", "dog", "fish", "horse"]
    second = requests.post(server.url + "/v1/classify", json=body, timeout=30)
    assert second.json()["labels"] == first.json()["labels"]
    after = server.metrics()
    hit = lambda cache: after.get(f'sightline_embedding_cache_lookups_total{{cache="{cache}",result="hit"}}', 0) - \
        before.get(f'sightline_embedding_cache_lookups_total{{cache="{cache}",result="hit"}}', 0)
    assert hit("text") >= 10   # the set's prompts were embedded at start-up: every lookup hits
    assert hit("image") >= 1   # the same image the second time
    missing = requests.post(server.url + "/v1/classify", json={**body, "label_set": "plants"}, timeout=30)
    assert missing.status_code == 404
    # The text cache keys on token ids: case and spacing the tokenizer normalises away still hit.
    requests.post(server.url + "/v1/embeddings", json={"input": "A Small   Red CAR"}, timeout=30)
    mid = server.metrics()
    requests.post(server.url + "/v1/embeddings", json={"input": "a small red car"}, timeout=30)
    end = server.metrics()
    key = 'sightline_embedding_cache_lookups_total{cache="text",result="hit"}'
    assert end[key] - mid[key] == 1


def test_embed_many_images_with_per_item_errors(server):
    files = [("files[]", ("a.png", png(), "image/png")), ("files[]", ("bad.jpg", b"not an image", "image/jpeg")),
             ("files[]", ("b.png", png((0, 0, 255)), "image/png"))]
    r = requests.post(server.url + "/v1/embed", files=files, data={"metadata": "true"}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["succeeded"] == 2 and body["failed"] == 1
    items = body["data"]
    assert [i["index"] for i in items] == [0, 1, 2]
    assert "embedding" in items[0] and items[0]["caption"] is None and items[0]["metadata"]["width"] == 300
    assert items[1]["error"]["code"] == "invalid_argument" and "bad.jpg" in items[1]["error"]["message"]
    assert not np.allclose(items[0]["embedding"], items[2]["embedding"])
    # Captions are test_captioner.py's; without a captioner they are refused (also there).


@pytest.mark.parametrize("path, body, status", [
    ("/v1/embeddings", {"input": []}, 400),
    ("/v1/embeddings", {"input": "x", "model": "nope"}, 404),
    ("/v1/embeddings", {"input": "x", "encoding_format": "int8"}, 400),
    ("/v1/embeddings", {"input": "not-a-uri", "modality": "image"}, 400),
    ("/v1/tokenize", {"input": 5}, 400),
    ("/v1/classify", {"image": "aGVsbG8=", "labels": []}, 400),
])
def test_bad_requests_are_4xx(server, path, body, status):
    r = requests.post(server.url + path, json=body, timeout=30)
    assert r.status_code == status, r.text
    assert "message" in r.json()["error"]


def test_embed_a_hundred_urls_some_missing_slow_or_corrupt(make_server):
    # A local image host with 100 URLs: 85 good, 5 missing (404), 5 corrupt, 5 slow (0.3 s).
    import time

    with image_host(good=90, corrupt=5, missing=5, slow=5) as (base, _):
        s = make_server("--fetch-allow-cidr", "127.0.0.1/32")
        urls = [f"{base}/img{i}.png" for i in range(100)]
        t = time.time()
        r = requests.post(s.url + "/v1/embed", json={"image_urls": urls}, timeout=120)
        wall = time.time() - t
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["succeeded"] == 90 and body["failed"] == 10
        items = body["data"]
        assert [it["index"] for it in items] == list(range(100))
        assert all("embedding" in it for it in items[:90])
        assert all(it["error"]["code"] == "invalid_argument" for it in items[90:95])   # corrupt
        assert all(it["error"]["code"] == "bad_gateway" for it in items[95:])          # missing
        timing = body["timing"]
        assert set(timing) >= {"download_ms", "decode_ms", "inference_ms", "total_ms"}
        assert timing["download_ms"] >= 5 * 300 * 0.9   # the slow ones are in the download share
        assert wall < 30  # downloads overlap: 5 slow ones do not serialise the batch
        again = requests.post(s.url + "/v1/embed", json={"image_urls": urls[:10]}, timeout=60).json()
        assert again["cache_hits"] == 10
        assert np.allclose(again["data"][3]["embedding"], items[3]["embedding"])


def solid(color):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize("color, vlm_used, reason, top", [
    ((255, 0, 0), False, "at or above the high threshold", "cat"),    # classifier confident
    ((0, 0, 0), False, "below the low threshold", None),              # classifier clueless: uniform
    ((0, 255, 0), True, "between 0.30 and 0.90", None),                # unsure: CLIP consulted
    ((0, 0, 255), True, "priority label", None),                       # bird is on the priority list
])
def test_confidence_gated_ensemble_follows_the_thresholds(server, color, vlm_used, reason, top):
    r = requests.post(server.url + "/v1/classify", json={"image": solid(color), "label_set": "animals"}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["vlm_used"] is vlm_used, body
    assert reason in body["reason"], body["reason"]
    assert abs(sum(o["probability"] for o in body["labels"]) - 1) < 1e-6
    if top:
        assert body["labels"][0]["label"] == top
    if vlm_used:
        # Confidence-weighted blend of the two sides, label by label.
        cls = {o["label"]: o["probability"] for o in body["classifier"]}
        clip = {o["label"]: o["probability"] for o in body["clip"]}
        wc, wv = max(cls.values()), max(clip.values())
        for o in body["labels"]:
            assert abs(o["probability"] - (wc * cls[o["label"]] + wv * clip[o["label"]]) / (wc + wv)) < 1e-6
    else:
        assert "clip" not in body and body["labels"] == body["classifier"]


def test_ensemble_falls_back_to_the_classifier_when_clip_times_out(make_server):
    # A server whose text tower is held up by a long queue delay: CLIP cannot answer within 1 ms.
    s = make_server()
    body = {"image": solid((0, 255, 0)), "label_set": "animals", "clip_timeout_ms": "1"}
    r = requests.post(s.url + "/v1/classify", json=body, timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["vlm_used"] is False and "CLIP failed" in out["reason"], out
    assert out["labels"] == out["classifier"]
    # ensemble=false: CLIP alone, as for any label set.
    alone = requests.post(s.url + "/v1/classify", json={**body, "ensemble": "false", "clip_timeout_ms": None},
                          timeout=30).json()
    assert "vlm_used" not in alone and len(alone["labels"]) == 5
