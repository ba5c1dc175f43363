"""The Python captioning service teams write by hand, as the peer for bench/run_caption_bench.py:
FastAPI, the same ONNX captioner on onnxruntime (default session options), and a greedy
generate() loop per request with its KV cache, run on FastAPI's thread pool. POST /caption with
the image as the raw body, ?max_new_tokens=N -> {"text", "completion_tokens"}.

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
enc = ort.InferenceSession(os.path.join(MODEL, "onnx", "encoder_model.onnx"), providers=["CPUExecutionProvider"])
dec = ort.InferenceSession(os.path.join(MODEL, "onnx", "decoder_model_merged.onnx"),
                           providers=["CPUExecutionProvider"])
tok = Tokenizer.from_file(os.path.join(MODEL, "tokenizer.json"))
cfg = json.load(open(os.path.join(MODEL, "config.json")))
START, EOS = cfg["decoder_start_token_id"], cfg["eos_token_id"]
PASTS = [i for i in dec.get_inputs() if i.name.startswith("past_key_values.")]
app = FastAPI()


def preprocess(data):
    img = Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224), Image.BILINEAR)
    x = (np.asarray(img, np.float32) / 255.0 - 0.5) / 0.5
    return x.transpose(2, 0, 1)[None]


def generate(states, max_new_tokens):
    feeds = {"encoder_hidden_states": states, "use_cache_branch": np.array([False]),
             "input_ids": np.array([[START]], np.int64)}
    for p in PASTS:
        feeds[p.name] = np.zeros((1, p.shape[1], 0, p.shape[3]), np.float32)
    names = [o.name for o in dec.get_outputs()]
    ids = []
    for _ in range(max_new_tokens):
        outs = dict(zip(names, dec.run(None, feeds)))
        nxt = int(np.argmax(outs["logits"][0, -1]))
        ids.append(nxt)
        if nxt == EOS:
            break
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
