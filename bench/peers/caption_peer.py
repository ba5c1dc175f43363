"""The Python captioning service teams write by hand, as the peer for bench/run_caption_bench.py:
FastAPI, the same ONNX model on onnxruntime (default session options), and a greedy generate()
loop per request with its KV cache, run on FastAPI's thread pool. POST /caption with the image as
the raw body, ?max_new_tokens=N -> {"text", "completion_tokens"}. Serves an encoder-decoder
captioner (vit-gpt2 layout) or a decoder-only VLM (FastVLM layout: the prompt through the chat
template with jinja2, the image features at the image tokens, attention mask and position ids).

  CAPTION_MODEL=<captioner folder> .venv/bin/uvicorn caption_peer:app --app-dir bench/peers --port 8090
"""
import io
import json
import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from PIL import Image
from tokenizers import Tokenizer

MODEL = os.environ["CAPTION_MODEL"]
VLM = os.path.exists(os.path.join(MODEL, "onnx", "vision_encoder.onnx"))
onnx = lambda n: ort.InferenceSession(os.path.join(MODEL, "onnx", n), providers=["CPUExecutionProvider"])  # noqa
enc = onnx("vision_encoder.onnx" if VLM else "encoder_model.onnx")
dec = onnx("decoder_model_merged.onnx")
tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
cfg = json.load(open(os.path.join(MODEL, "config.json")))
PASTS = [i for i in dec.get_inputs() if i.name.startswith("past_key_values.")]
pre = json.load(open(os.path.join(MODEL, "preprocessor_config.json")))
SIDE = pre.get("crop_size", pre["size"]).get("height", 224)
MEAN, STD = np.array(pre["image_mean"], np.float32), np.array(pre["image_std"], np.float32)
if VLM:
    import jinja2
    embed = onnx("embed_tokens.onnx")
    IMAGE = cfg["image_token_index"]
    EOS = set(json.load(open(os.path.join(MODEL, "generation_config.json")))["eos_token_id"])
    TEMPLATE = jinja2.Environment().from_string(
        json.load(open(os.path.join(MODEL, "tokenizer_config.json")))["chat_template"])
else:
    START, EOS = cfg["decoder_start_token_id"], {cfg["eos_token_id"]}
app = FastAPI()


def preprocess(data):
    img = Image.open(io.BytesIO(data)).convert("RGB").resize((SIDE, SIDE), Image.BILINEAR)
    x = (np.asarray(img, np.float32) / 255.0 - MEAN) / STD
    return x.transpose(2, 0, 1)[None]


def first_feeds(states):
    """The first step's inputs: the captioner's start token, or the VLM's whole prompt."""
    if not VLM:
        return {"encoder_hidden_states": states, "use_cache_branch": np.array([False]),
                "input_ids": np.array([[START]], np.int64)}
    text = TEMPLATE.render(messages=[{"role": "user", "content": "<image>\nDescribe this image."}],
                           add_generation_prompt=True)
    ids = []
    for t in tok.encode(text, add_special_tokens=False).ids:
        ids += [t] * states.shape[1] if t == IMAGE else [t]
    ids = np.array([ids], np.int64)
    e = embed.run(None, {"input_ids": ids})[0]
    e[0, ids[0] == IMAGE] = states[0]
    n = ids.shape[1]
    return {"inputs_embeds": e, "attention_mask": np.ones((1, n), np.int64),
            "position_ids": np.arange(n, dtype=np.int64)[None]}


def generate(states, max_new_tokens):
    feeds = first_feeds(states)
    for p in PASTS:
        feeds[p.name] = np.zeros((1, p.shape[1], 0, p.shape[3]), np.float32)
    names = [o.name for o in dec.get_outputs()]
    ids = []
    for _ in range(max_new_tokens):
        outs = dict(zip(names, dec.run(None, feeds)))
        nxt = int(np.argmax(outs["logits"][0, -1]))
        ids.append(nxt)
        if nxt in EOS:
            break
        if VLM:
            past = feeds["attention_mask"].shape[1]
            feeds["inputs_embeds"] = embed.run(None, {"input_ids": np.array([[nxt]], np.int64)})[0]
            feeds["attention_mask"] = np.ones((1, past + 1), np.int64)
            feeds["position_ids"] = np.array([[past]], np.int64)
        else:
            feeds["input_ids"] = np.array([[nxt]], np.int64)
            feeds["use_cache_branch"] = np.array([True])
        for p in PASTS:
            feeds[p.name] = outs[p.name.replace("past_key_values.", "present.")]
    return ids


def work(data, max_new_tokens):
    states = enc.run(None, {"pixel_values": preprocess(data)})[0]
    ids = generate(states, max_new_tokens)
    return {"text": tok.decode(ids, skip_special_tokens=True), "completion_tokens": len(ids)}


@app.post("/caption")
async def caption(request: Request, max_new_tokens: int = 32):
    return await run_in_threadpool(work, await request.body(), max_new_tokens)


@app.get("/health")
def health():
    return {"ok": True}
