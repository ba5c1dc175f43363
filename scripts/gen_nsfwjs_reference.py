#!/usr/bin/env python3
"""The reference for scripts/nsfwjs_onnx.py: nsfwjs's MobileNetV2 run by TF.js itself (its Keras
layers implementation, @tensorflow/tfjs from npm, CPU backend, in node) on the test photos, each
resized with PIL to 224x224 (bilinear) and scaled to [0, 1] as nsfwjs does. Writes the class
probabilities; tests/integration/test_videos.py runs the converted ONNX file on the same tensors
and must match.

  .venv/bin/python scripts/gen_nsfwjs_reference.py --photos build/fixtures/photos \
      --out tests/data/nsfwjs_reference.json

Needs node and npm (set-up has both); TF.js goes into a temporary folder, never into the tree.
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nsfwjs_onnx  # noqa: E402

NSFWJS = "nsfwjs@4.4.0"
TFJS = "@tensorflow/tfjs@4.22.0"
SIZE = 224

PREDICT_JS = r"""
const tf = require('@tensorflow/tfjs');
const fs = require('fs');
const [spec, raw, n, pixels] = process.argv.slice(1);
const {model, weights} = JSON.parse(fs.readFileSync(spec, 'utf8'));
(async () => {
  await tf.setBackend('cpu');
  const data = Buffer.from(weights, 'base64');
  const m = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: model.modelTopology,
    weightSpecs: model.weightsManifest.flatMap(g => g.weights),
    weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length)}));
  const buf = fs.readFileSync(raw);
  const x = tf.tensor4d(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4), [+n, 224, 224, 3]);
  const tensors = Array.from(await m.predict(x).data());
  // nsfwjs's own classify() path on each photo's decoded pixels: toFloat, / 255, then
  // tf.image.resizeBilinear to 224x224 with alignCorners (nsfwjs 4.4.0 src/index.ts).
  const classify = [];
  for (const p of JSON.parse(fs.readFileSync(pixels, 'utf8'))) {
    const b = fs.readFileSync(p.file);
    const img = tf.tensor3d(new Uint8Array(b.buffer, b.byteOffset, b.length), [p.height, p.width, 3], 'int32');
    const x1 = tf.image.resizeBilinear(img.toFloat().div(255), [224, 224], true).expandDims(0);
    classify.push(Array.from(await m.predict(x1).data()));
  }
  process.stdout.write(JSON.stringify({tensors, classify}));
})();
"""


def photo_tensor(path):
    """What the test feeds both models: RGB, PIL bilinear to 224x224, / 255, NHWC float32."""
    im = Image.open(path).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
    return np.asarray(im, dtype=np.float32) / 255.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    photos = sorted(f for f in os.listdir(a.photos) if f.lower().endswith((".png", ".jpg", ".jpeg")))
    x = np.stack([photo_tensor(os.path.join(a.photos, f)) for f in photos])
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", tmp, NSFWJS, TFJS],
                       check=True)
        folder = os.path.join(tmp, "node_modules", "nsfwjs", "dist", "models", "mobilenet_v2")
        model, shards = nsfwjs_onnx.unwrap(folder)
        weights = b"".join(shards[p] for g in model["weightsManifest"] for p in g["paths"])
        spec = os.path.join(tmp, "spec.json")
        with open(spec, "w") as f:
            json.dump({"model": model, "weights": base64.b64encode(weights).decode()}, f)
        raw = os.path.join(tmp, "x.f32")
        x.astype("<f4").tofile(raw)
        pixels = []
        for i, f in enumerate(photos):
            im = np.asarray(Image.open(os.path.join(a.photos, f)).convert("RGB"))
            pixels.append({"file": os.path.join(tmp, f"{i}.rgb"), "height": im.shape[0], "width": im.shape[1]})
            im.tofile(pixels[-1]["file"])
        with open(os.path.join(tmp, "pixels.json"), "w") as fh:
            json.dump(pixels, fh)
        out = subprocess.run(["node", "-e", PREDICT_JS, spec, raw, str(len(photos)), os.path.join(tmp, "pixels.json")],
                             check=True, cwd=tmp,
                             capture_output=True, text=True,
                             env=dict(os.environ, NODE_PATH=os.path.join(tmp, "node_modules"))).stdout
    out = json.loads(out)
    probs = np.array(out["tensors"], dtype=np.float64).reshape(len(photos), len(nsfwjs_onnx.LABELS))
    classify = np.array(out["classify"], dtype=np.float64).reshape(len(photos), len(nsfwjs_onnx.LABELS))
    with open(a.out, "w") as f:
        json.dump({"source": f"{NSFWJS} mobilenet_v2, predicted by {TFJS} (cpu backend)",
                   "input": "RGB, PIL bilinear resize to 224x224, / 255, NHWC",
                   "labels": nsfwjs_onnx.LABELS, "photos": photos,
                   "probabilities": [[round(float(v), 7) for v in row] for row in probs],
                   "classify_input": "nsfwjs classify(): the decoded pixels / 255, tf.image.resizeBilinear to "
                                     "224x224 with alignCorners",
                   "classify_probabilities": [[round(float(v), 7) for v in row] for row in classify]}, f, indent=1)
    for name, row, c in zip(photos, probs, classify):
        print(name, nsfwjs_onnx.LABELS[int(row.argmax())], np.round(row, 3), "classify:", np.round(c, 3))


if __name__ == "__main__":
    main()
