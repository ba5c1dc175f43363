"""The image-embedding service teams write by hand: FastAPI + onnxruntime + Pillow, written
idiomatically — preprocessing in the request handler's thread pool, a background thread that
gathers concurrent requests into batches (up to 16, waiting at most 4 ms), one ORT session with
the machine's cores. POST /embed with a raw image body (or multipart `file`) -> {"embedding": [...]}.

  uvicorn fastapi_clip:app --app-dir bench/peers --port 8400   (MODEL_DIR=<clip folder>)
"""
import asyncio
import io
import json
import os
import queue
import threading
import time

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, HTTPException, Request
from PIL import Image

MODEL_DIR = os.environ["MODEL_DIR"]
PRE = json.load(open(os.path.join(MODEL_DIR, "preprocessor_config.json")))
SIZE = PRE["crop_size"] if isinstance(PRE["crop_size"], int) else PRE["crop_size"]["height"]
MEAN = np.array(PRE["image_mean"], np.float32).reshape(3, 1, 1)
STD = np.array(PRE["image_std"], np.float32).reshape(3, 1, 1)
MAX_BATCH, MAX_WAIT = 16, 0.004

session = ort.InferenceSession(os.path.join(MODEL_DIR, "onnx", "vision_model.onnx"), providers=["CPUExecutionProvider"])
INPUT = session.get_inputs()[0].name
jobs: "queue.Queue[tuple[np.ndarray, asyncio.Future, asyncio.AbstractEventLoop]]" = queue.Queue()
app = FastAPI()


def preprocess(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    img.draft("RGB", (SIZE, SIZE))
    img = img.convert("RGB")
    s = SIZE / min(img.size)
    img = img.resize((max(SIZE, round(img.width * s)), max(SIZE, round(img.height * s))), Image.BICUBIC)
    left, top = (img.width - SIZE) // 2, (img.height - SIZE) // 2
    img = img.crop((left, top, left + SIZE, top + SIZE))
    x = np.asarray(img, np.float32).transpose(2, 0, 1) / 255.0
    return (x - MEAN) / STD


def batcher():
    while True:
        batch = [jobs.get()]
        deadline = time.monotonic() + MAX_WAIT
        while len(batch) < MAX_BATCH:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(jobs.get(timeout=left))
            except queue.Empty:
                break
        x = np.stack([b[0] for b in batch])
        try:
            out = session.run(None, {INPUT: x})[0]
            out = out / np.linalg.norm(out, axis=1, keepdims=True)
            for (_, fut, loop), row in zip(batch, out):
                loop.call_soon_threadsafe(fut.set_result, row.tolist())
        except Exception as e:  # noqa: BLE001 - every waiter must hear about it
            for _, fut, loop in batch:
                loop.call_soon_threadsafe(fut.set_exception, e)


threading.Thread(target=batcher, daemon=True).start()


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/embed")
async def embed(request: Request):
    data = await request.body()
    if not data:
        raise HTTPException(400, "empty body")
    try:
        x = await asyncio.to_thread(preprocess, data)
    except Exception as e:  # noqa: BLE001
        raise HTTPException(400, f"invalid image: {e}")
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    jobs.put((x, fut, loop))
    return {"embedding": await fut}
