#!/usr/bin/env python3
"""A tiny CLIP in the transformers.js / Hugging Face layout, with random (seeded) weights and the
real exports' tensor names, so a real model (e.g. Xenova/clip-vit-base-patch32) drops in unchanged:

  <out>/clip-tiny/config.json                 model_type clip, projection_dim, logit_scale
  <out>/clip-tiny/preprocessor_config.json    CLIP's: shortest edge 224, centre crop 224, CLIP mean/std
  <out>/clip-tiny/tokenizer.json              the real CLIP tokenizer (scripts/gen_tokenizer_refs.py)
  <out>/clip-tiny/onnx/vision_model.onnx      pixel_values [N,3,224,224] -> image_embeds [N,32]
  <out>/clip-tiny/onnx/text_model.onnx        input_ids [N,77] (int64) -> text_embeds [N,32]
  <out>/clip-tiny/onnx/*_quantized.onnx       the same graphs again, as the `quantized` variant
  <out>/clip-tiny/sightline.json              batching, an "animals" label set for zero-shot, and its
                                              confidence-gated ensemble with:
  <out>/animals-classifier/                   a colour-rule classifier over the same five labels

The vision tower is a strided conv, ReLU, global pool and projection; the text tower embeds every
token, averages those before the end-of-text token and projects. Embeddings are not normalised (the real exports' are not either).

  scripts/gen_clip_fixture.py --out build/fixtures/models --tokenizer build/fixtures/tokenizers/clip/tokenizer.json
"""
import argparse
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DIM = 32
VOCAB = 49408
CONTEXT = 77


def vision_bench(rng, dim):
    """A vision tower with real work for benchmarks: four strided 3x3 convs (64..512 channels,
    ~1.4 GFLOP per 224x224 image, the order of a ViT-B/32's 4.4), global pool, projection."""
    nodes, inits, prev, cin = [], [], "pixel_values", 3
    for i, cout in enumerate([64, 128, 256, 512]):
        w = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (cin * 9))).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(cout, np.float32), f"b{i}")]
        nodes += [helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], strides=[2, 2], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        prev, cin = f"r{i}", cout
    proj = (rng.standard_normal((512, dim)) * 0.05).astype(np.float32)
    inits.append(numpy_helper.from_array(proj, "proj"))
    nodes += [helper.make_node("GlobalAveragePool", [prev], ["p"]),
              helper.make_node("Flatten", ["p"], ["f"], axis=1),
              helper.make_node("MatMul", ["f", "proj"], ["image_embeds"])]
    return helper.make_graph(nodes, "clip_vision_bench",
                             [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, 224, 224])],
                             [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["batch", dim])], inits)


def vision(rng):
    w = (rng.standard_normal((16, 3, 16, 16)) * 0.05).astype(np.float32)
    b = np.zeros(16, np.float32)
    proj = (rng.standard_normal((16, DIM)) * 0.5).astype(np.float32)
    nodes = [helper.make_node("Conv", ["pixel_values", "w", "b"], ["c"], strides=[16, 16]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"], axis=1),
             helper.make_node("MatMul", ["f", "proj"], ["image_embeds"])]
    inits = [numpy_helper.from_array(a, n) for n, a in [("w", w), ("b", b), ("proj", proj)]]
    return helper.make_graph(nodes, "clip_vision",
                             [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch", 3, 224, 224])],
                             [helper.make_tensor_value_info("image_embeds", TensorProto.FLOAT, ["batch", DIM])], inits)


def text(rng, dim=DIM):
    table = (rng.standard_normal((VOCAB, dim)) * 0.5).astype(np.float32)
    proj = (rng.standard_normal((dim, dim)) * 0.3).astype(np.float32)
    # Mean of the token embeddings before the first end-of-text (id 49407, also the padding), so
    # each prompt gets its own direction; the real model pools at that position after attention.
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["tok"]),                  # [N,L,D]
             helper.make_node("Less", ["input_ids", "eot"], ["keep"]),                       # [N,L]
             helper.make_node("Cast", ["keep"], ["keepf"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["keepf", "axis2"], ["keep3"]),                   # [N,L,1]
             helper.make_node("Mul", ["tok", "keep3"], ["kept"]),
             helper.make_node("ReduceSum", ["kept", "axis1"], ["sum"], keepdims=0),         # [N,D]
             helper.make_node("ReduceSum", ["keep3", "axis1"], ["count"], keepdims=0),      # [N,1]
             helper.make_node("Div", ["sum", "count"], ["pooled"]),
             helper.make_node("MatMul", ["pooled", "proj"], ["text_embeds"])]
    inits = [numpy_helper.from_array(table, "table"), numpy_helper.from_array(proj, "proj"),
             numpy_helper.from_array(np.array(49407, np.int64), "eot"),
             numpy_helper.from_array(np.array([1], np.int64), "axis1"),
             numpy_helper.from_array(np.array([2], np.int64), "axis2")]
    return helper.make_graph(nodes, "clip_text",
                             [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
                             [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["batch", dim])], inits)


def classifier(out):
    """animals-classifier: a "conventional" classifier over the animals label set whose answer
    follows the image's mean colour, so tests choose its confidence: red -> cat (0.999, confident),
    green -> dog (0.53, between the thresholds), blue -> bird (0.999, but a priority label),
    black -> uniform (0.2, below the low threshold)."""
    w = np.zeros((3, 5), np.float32)
    w[0, 0] = 8.0   # red -> cat
    w[1, 1] = 1.5   # green -> dog, unsure
    w[2, 2] = 8.0   # blue -> bird
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"], axis=1),
             helper.make_node("MatMul", ["f", "w"], ["logits"])]
    g = helper.make_graph(nodes, "animals_classifier",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 5])],
                          [numpy_helper.from_array(w, "w")])
    d = os.path.join(out, "animals-classifier")
    os.makedirs(d, exist_ok=True)
    save(g, os.path.join(d, "model.onnx"))
    json.dump({"max_batch_size": 8, "image_input": {"input": "input", "resize": "stretch", "scale": 1 / 255,
                                                    "mean": [0, 0, 0], "std": [1, 1, 1]}},
              open(os.path.join(d, "sightline.json"), "w"), indent=2)


def save(graph, path):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="sightline-fixtures")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer", required=True, help="CLIP tokenizer.json from scripts/gen_tokenizer_refs.py")
    ap.add_argument("--name", default="clip-tiny")
    ap.add_argument("--bench", action="store_true",
                    help="a benchmark-sized vision tower (~1.4 GFLOP/image, 512-d) named clip-bench")
    args = ap.parse_args()
    if args.bench:
        d = os.path.join(args.out, "clip-bench")
        os.makedirs(os.path.join(d, "onnx"), exist_ok=True)
        rng = np.random.default_rng(7)
        save(vision_bench(rng, 512), os.path.join(d, "onnx", "vision_model.onnx"))
        save(text(rng, 512), os.path.join(d, "onnx", "text_model.onnx"))
        json.dump({"model_type": "clip", "projection_dim": 512}, open(os.path.join(d, "config.json"), "w"))
        json.dump({"crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_rescale": True,
                   "do_resize": True, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                   "image_std": [0.26862954, 0.26130258, 0.27577711], "rescale_factor": 1 / 255, "size": 224},
                  open(os.path.join(d, "preprocessor_config.json"), "w"))
        shutil.copy(args.tokenizer, os.path.join(d, "tokenizer.json"))
        json.dump({"max_batch_size": 16, "dynamic_batching": {"max_queue_delay_microseconds": 4000},
                   "zero_shot": {"label_sets": {"objects": [f"object {i}" for i in range(20)]}}},
                  open(os.path.join(d, "sightline.json"), "w"))
        print(f"benchmark CLIP written to {d}")
        return
    d = os.path.join(args.out, args.name)
    os.makedirs(os.path.join(d, "onnx"), exist_ok=True)
    rng = np.random.default_rng(42)
    v, t = vision(rng), text(rng)
    for suffix in ("", "_quantized"):
        save(v, os.path.join(d, "onnx", f"vision_model{suffix}.onnx"))
        save(t, os.path.join(d, "onnx", f"text_model{suffix}.onnx"))
    json.dump({"model_type": "clip", "projection_dim": DIM, "logit_scale_init_value": 2.6592,
               "text_config": {"max_position_embeddings": CONTEXT, "vocab_size": VOCAB, "bos_token_id": 49406,
                               "eos_token_id": 49407},
               "vision_config": {"image_size": 224, "patch_size": 16}},
              open(os.path.join(d, "config.json"), "w"), indent=2)
    json.dump({"crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_normalize": True,
               "do_rescale": True, "do_resize": True, "image_mean": [0.48145466, 0.4578275, 0.40821073],
               "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "rescale_factor": 1 / 255,
               "size": {"shortest_edge": 224}, "feature_extractor_type": "CLIPFeatureExtractor"},
              open(os.path.join(d, "preprocessor_config.json"), "w"), indent=2)
    shutil.copy(args.tokenizer, os.path.join(d, "tokenizer.json"))
    # Sightline's own settings for the family: a label set embedded at start-up, paired with a
    # conventional classifier for the confidence-gated ensemble.
    json.dump({"max_batch_size": 8, "dynamic_batching": {"max_queue_delay_microseconds": 2000},
               "zero_shot": {"logit_scale": 100, "prompt_template": "a photo of a {}",
                             "label_sets": {"animals": ["cat", "dog", "bird", "horse", "fish"]},
                             "ensembles": {"animals": {"classifier": "animals-classifier", "low": 0.3, "high": 0.9,
                                                       "priority_labels": ["bird"], "clip_timeout_ms": 5000}}}},
              open(os.path.join(d, "sightline.json"), "w"), indent=2)
    classifier(args.out)
    print(f"tiny CLIP written to {d}")


if __name__ == "__main__":
    main()
