#!/usr/bin/env python3
"""A tiny image captioner in the transformers.js / Hugging Face Optimum layout of
vit-gpt2-image-captioning (Xenova/vit-gpt2-image-captioning), with random (seeded) weights and the
real export's file and tensor names, so the real model drops in unchanged:

  <out>/captioner-tiny/config.json                model_type vision-encoder-decoder (vit + gpt2)
  <out>/captioner-tiny/generation_config.json     start/eos/pad ids
  <out>/captioner-tiny/preprocessor_config.json   ViTImageProcessor: 224x224, mean/std 0.5
  <out>/captioner-tiny/tokenizer.json             a byte-level BPE (the gpt2 tokenizer fixture)
  <out>/captioner-tiny/onnx/encoder_model.onnx    pixel_values [B,3,224,224] -> last_hidden_state [B,197,32]
  <out>/captioner-tiny/onnx/decoder_model_merged.onnx
        input_ids [B,T], encoder_hidden_states [B,S,32], past_key_values.{0,1}.{key,value} [B,2,P,16],
        use_cache_branch bool[1] -> logits [B,T,V], present.{0,1}.{key,value} [B,2,P+T,16]
        (an If on use_cache_branch, as Optimum merges: without the cache the past is ignored)
  <out>/captioner-tiny/onnx/decoder_model.onnx            the first step alone (no past inputs)
  <out>/captioner-tiny/onnx/decoder_with_past_model.onnx  later steps alone (no use_cache_branch)
  <out>/captioner-tiny/refs.json   token ids the reference loop (scripts/reference_generate.py, numpy
        over onnxruntime) generates for seeded pixel tensors: greedy, beam, seeded sampling,
        repetition penalty, no-repeat n-grams, min_new_tokens.

The decoder is GPT-2 shaped: token and position embeddings (positions continue from the past's
length: the export has no position_ids and no attention_mask, like the real one), per layer causal
self-attention over past + new keys, cross-attention over the encoder states and an MLP; logits tie
through their own head (a random tied head mostly repeats the current token).

  scripts/gen_captioner_fixture.py --out build/fixtures/models --tokenizer build/fixtures/tokenizers/gpt2/tokenizer.json

`--size bench` writes captioner-bench instead: the same layout at d_model 256, 4 heads, 4 layers
(~3.7 M decoder weights), so a decode step costs real work, for bench/run_caption_bench.py; no refs.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_generate  # noqa: E402

D, HEADS, LAYERS, PATCH, IMAGE = 32, 2, 2, 16, 224
HD = D // HEADS
OPSET = 17


class Graph:
    """Nodes and initializers with unique names; `sub` scopes a subgraph's value names."""

    def __init__(self, prefix=""):
        self.nodes, self.inits, self.prefix, self.n = [], [], prefix, 0

    def name(self, hint):
        self.n += 1
        return f"{self.prefix}{hint}_{self.n}"

    def op(self, op_type, inputs, hint=None, n_out=1, **attrs):
        outs = [self.name(hint or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, value, hint="c", dtype=np.int64):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name


def weights(rng, vocab, eos, eos_drift):
    w = {"wte": rng.standard_normal((vocab, D)) * 0.5, "wpe": rng.standard_normal((256, D)) * 0.1}
    # Random weights alone almost never say EOS; positions drifting toward EOS's embedding end most
    # captions after a handful of tokens, image-dependently, so EOS handling is exercised.
    u = w["wte"][eos] / np.linalg.norm(w["wte"][eos])
    w["wpe"] += eos_drift * np.arange(256)[:, None] * u[None, :]
    for l in range(LAYERS):
        for k in ["q", "k", "v", "o", "cq", "ck", "cv", "co"]:
            w[f"{l}.{k}"] = rng.standard_normal((D, D)) / np.sqrt(D) * (3.0 if k == "co" else 1.0)
        w[f"{l}.fc1"] = rng.standard_normal((D, 4 * D)) / np.sqrt(D)
        w[f"{l}.fc2"] = rng.standard_normal((4 * D, D)) / np.sqrt(4 * D)
        for ln in ["ln1", "ln2", "ln3"]:
            w[f"{l}.{ln}.g"] = 1 + 0.1 * rng.standard_normal(D)
            w[f"{l}.{ln}.b"] = 0.1 * rng.standard_normal(D)
    w["lnf.g"], w["lnf.b"] = np.ones(D), np.zeros(D)
    # Untied from the input embedding: a random tied head mostly repeats the current token.
    w["lm_head"] = rng.standard_normal((D, vocab)) * 0.6
    w["lm_head"][:, eos] = u * np.sqrt(D) * 0.5
    return {k: numpy_helper.from_array(v.astype(np.float32), k) for k, v in w.items()}


def heads(g, x):
    """[B,T,D] -> [B,H,T,HD]"""
    r = g.op("Reshape", [x, g.const([0, 0, HEADS, HD])])
    return g.op("Transpose", [r], perm=[0, 2, 1, 3])


def attend(g, q, k, v, mask=None):
    kt = g.op("Transpose", [k], perm=[0, 1, 3, 2])
    s = g.op("Mul", [g.op("MatMul", [q, kt]), g.const(1 / np.sqrt(HD), dtype=np.float32)])
    if mask is not None:
        s = g.op("Where", [mask, s, g.const(-1e4, dtype=np.float32)])
    a = g.op("MatMul", [g.op("Softmax", [s], axis=-1), v])
    t = g.op("Transpose", [a], perm=[0, 2, 1, 3])
    return g.op("Reshape", [t, g.const([0, 0, D])])


def decoder_body(g, with_past):
    """Nodes computing logits and presents; returns their value names (logits, [(k, v) per layer])."""
    scalar = lambda x, i: g.op("Gather", [g.op("Shape", [x]), g.const(i)], axis=0)  # noqa: E731
    t = scalar("input_ids", 1)
    p = scalar("past_key_values.0.key", 2) if with_past else g.const(0)
    one = g.const(1)
    total = g.op("Add", [p, t])
    pos = g.op("Range", [p, total, one])
    h = g.op("Add", [g.op("Gather", ["wte", "input_ids"], axis=0), g.op("Gather", ["wpe", pos], axis=0)])
    # Causal: query at position p + i sees keys 0 .. p + i.
    kpos = g.op("Unsqueeze", [g.op("Range", [g.const(0), total, one]), g.const([0])])
    qpos = g.op("Unsqueeze", [pos, g.const([1])])
    mask = g.op("Not", [g.op("Greater", [kpos, qpos])])
    presents = []
    for l in range(LAYERS):
        x = g.op("LayerNormalization", [h, f"{l}.ln1.g", f"{l}.ln1.b"], axis=-1)
        q, k, v = (heads(g, g.op("MatMul", [x, f"{l}.{n}"])) for n in "qkv")
        if with_past:
            k = g.op("Concat", [f"past_key_values.{l}.key", k], axis=2)
            v = g.op("Concat", [f"past_key_values.{l}.value", v], axis=2)
        presents.append((k, v))
        h = g.op("Add", [h, g.op("MatMul", [attend(g, q, k, v, mask), f"{l}.o"])])
        x = g.op("LayerNormalization", [h, f"{l}.ln2.g", f"{l}.ln2.b"], axis=-1)
        cq = heads(g, g.op("MatMul", [x, f"{l}.cq"]))
        ck = heads(g, g.op("MatMul", ["encoder_hidden_states", f"{l}.ck"]))
        cv = heads(g, g.op("MatMul", ["encoder_hidden_states", f"{l}.cv"]))
        h = g.op("Add", [h, g.op("MatMul", [attend(g, cq, ck, cv), f"{l}.co"])])  # the image's say
        x = g.op("LayerNormalization", [h, f"{l}.ln3.g", f"{l}.ln3.b"], axis=-1)
        m = g.op("MatMul", [g.op("Tanh", [g.op("MatMul", [x, f"{l}.fc1"])]), f"{l}.fc2"])
        h = g.op("Add", [h, m])
    x = g.op("LayerNormalization", [h, "lnf.g", "lnf.b"], axis=-1)
    logits = g.op("MatMul", [x, "lm_head"])
    return logits, presents


def io(vocab, with_past, merged):
    ins = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "decoder_sequence_length"]),
           helper.make_tensor_value_info("encoder_hidden_states", TensorProto.FLOAT,
                                         ["batch_size", "encoder_sequence_length", D])]
    if with_past:
        for l in range(LAYERS):
            for kv in ["key", "value"]:
                ins.append(helper.make_tensor_value_info(f"past_key_values.{l}.{kv}", TensorProto.FLOAT,
                                                         ["batch_size", HEADS, "past_decoder_sequence_length", HD]))
    if merged:
        ins.append(helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1]))
    outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "decoder_sequence_length", vocab])]
    for l in range(LAYERS):
        for kv in ["key", "value"]:
            outs.append(helper.make_tensor_value_info(f"present.{l}.{kv}", TensorProto.FLOAT,
                                                      ["batch_size", HEADS, "past_decoder_sequence_length + 1", HD]))
    return ins, outs


def branch(vocab, with_past, prefix):
    g = Graph(prefix)
    logits, presents = decoder_body(g, with_past)
    names = [logits] + [x for kv in presents for x in kv]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names]
    return helper.make_graph(g.nodes, prefix.strip("/"), [], outs, g.inits)


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sightline-fixture")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def decoders(w, vocab, out):
    ws = list(w.values())
    # Merged: If(use_cache_branch) over the two bodies, as Optimum's merge_decoders builds it.
    ins, outs = io(vocab, with_past=True, merged=True)
    node = helper.make_node("If", ["use_cache_branch"], [o.name for o in outs],
                            then_branch=branch(vocab, True, "with_past/"), else_branch=branch(vocab, False, "no_past/"))
    save(helper.make_graph([node], "decoder_model_merged", ins, outs, ws), os.path.join(out, "decoder_model_merged.onnx"))
    for name, with_past in [("decoder_model", False), ("decoder_with_past_model", True)]:
        g = Graph()
        logits, presents = decoder_body(g, with_past)
        ins, outs = io(vocab, with_past=with_past, merged=False)
        ids = [helper.make_node("Identity", [logits], ["logits"])]
        for l, (k, v) in enumerate(presents):
            ids += [helper.make_node("Identity", [k], [f"present.{l}.key"]),
                    helper.make_node("Identity", [v], [f"present.{l}.value"])]
        save(helper.make_graph(g.nodes + ids, name, ins, outs, ws + g.inits), os.path.join(out, f"{name}.onnx"))


def encoder(rng, out):
    g = Graph()
    w = [numpy_helper.from_array((rng.standard_normal((D, 3, PATCH, PATCH)) * 0.05).astype(np.float32), "patch.w"),
         numpy_helper.from_array((rng.standard_normal((1, 1, D)) * 0.5).astype(np.float32), "cls"),
         numpy_helper.from_array((rng.standard_normal((197, D)) * 0.1).astype(np.float32), "pos"),
         numpy_helper.from_array(np.ones(D, np.float32), "ln.g"), numpy_helper.from_array(np.zeros(D, np.float32), "ln.b")]
    c = g.op("Conv", ["pixel_values", "patch.w"], strides=[PATCH, PATCH])
    tokens = g.op("Transpose", [g.op("Reshape", [c, g.const([0, D, -1])])], perm=[0, 2, 1])
    batch = g.op("Slice", [g.op("Shape", ["pixel_values"]), g.const([0]), g.const([1])])
    cls = g.op("Expand", ["cls", g.op("Concat", [batch, g.const([1, D])], axis=0)])
    h = g.op("Add", [g.op("Concat", [cls, tokens], axis=1), "pos"])
    g.nodes.append(helper.make_node("LayerNormalization", [h, "ln.g", "ln.b"], ["last_hidden_state"], axis=-1))
    graph = helper.make_graph(
        g.nodes, "encoder_model",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch_size", 3, IMAGE, IMAGE])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", 197, D])], w + g.inits)
    save(graph, os.path.join(out, "encoder_model.onnx"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer", required=True, help="a byte-level BPE tokenizer.json (the gpt2 fixture)")
    ap.add_argument("--eos-drift", type=float, default=1.2)
    ap.add_argument("--size", choices=["tiny", "bench"], default="tiny")
    a = ap.parse_args()
    global D, HEADS, LAYERS, HD
    if a.size == "bench":
        D, HEADS, LAYERS = 256, 4, 4
        HD = D // HEADS
    d = os.path.join(a.out, "captioner-tiny" if a.size == "tiny" else "captioner-bench")
    onnx_dir = os.path.join(d, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    tok = json.load(open(a.tokenizer))
    vocab = len(tok["model"]["vocab"]) + sum(1 for t in tok["added_tokens"] if t["id"] >= len(tok["model"]["vocab"]))
    eos = next(t["id"] for t in tok["added_tokens"] if t["content"] == "<|endoftext|>")
    shutil.copy(a.tokenizer, os.path.join(d, "tokenizer.json"))
    rng = np.random.default_rng(12)
    encoder(rng, onnx_dir)
    decoders(weights(rng, vocab, eos, a.eos_drift), vocab, onnx_dir)
    json.dump({"model_type": "vision-encoder-decoder", "architectures": ["VisionEncoderDecoderModel"],
               "is_encoder_decoder": True, "decoder_start_token_id": eos, "eos_token_id": eos, "pad_token_id": eos,
               "encoder": {"model_type": "vit", "hidden_size": D, "image_size": IMAGE, "patch_size": PATCH,
                           "num_channels": 3},
               "decoder": {"model_type": "gpt2", "n_embd": D, "n_head": HEADS, "n_layer": LAYERS, "n_positions": 256,
                           "vocab_size": vocab, "bos_token_id": eos, "eos_token_id": eos, "add_cross_attention": True,
                           "is_decoder": True}},
              open(os.path.join(d, "config.json"), "w"), indent=2)
    json.dump({"decoder_start_token_id": eos, "bos_token_id": eos, "eos_token_id": eos, "pad_token_id": eos},
              open(os.path.join(d, "generation_config.json"), "w"), indent=2)
    json.dump({"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
               "image_std": [0.5, 0.5, 0.5], "image_processor_type": "ViTImageProcessor", "resample": 2,
               "rescale_factor": 1 / 255, "size": {"height": IMAGE, "width": IMAGE}},
              open(os.path.join(d, "preprocessor_config.json"), "w"), indent=2)
    json.dump({"model_max_length": 256, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>", "tokenizer_class": "GPT2Tokenizer"},
              open(os.path.join(d, "tokenizer_config.json"), "w"), indent=2)
    if a.size == "bench":
        print(f"captioner fixture written to {d}")
        return
    refs = reference_generate.captioner_refs(d, eos)
    json.dump(refs, open(os.path.join(d, "refs.json"), "w"), indent=0)
    print(f"captioner fixture written to {d} ({len(refs['cases'])} reference generations)")


if __name__ == "__main__":
    main()
