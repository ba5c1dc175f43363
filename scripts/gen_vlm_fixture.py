#!/usr/bin/env python3
"""A tiny decoder-only vision-language model in the layout of onnx-community/FastVLM-0.5B-ONNX
(transformers.js), with random (seeded) weights and the real export's file and tensor names, so the
real model drops in unchanged:

  <out>/vlm-tiny/config.json                  model_type llava_qwen2, image_token_index
  <out>/vlm-tiny/generation_config.json       eos_token_id [<|im_end|>, <|endoftext|>]
  <out>/vlm-tiny/preprocessor_config.json     CLIPImageProcessor: 64x64, mean 0 / std 1
  <out>/vlm-tiny/tokenizer.json               Qwen2-style byte-level BPE (the qwen2 fixture) plus
                                              <|im_start|>, <|im_end|>, <image> as special tokens
  <out>/vlm-tiny/tokenizer_config.json        Qwen2's ChatML chat_template
  <out>/vlm-tiny/onnx/vision_encoder.onnx     pixel_values [B,3,64,64] -> image_features [B,16,D]
  <out>/vlm-tiny/onnx/embed_tokens.onnx       input_ids [B,S] -> inputs_embeds [B,S,D]
  <out>/vlm-tiny/onnx/decoder_model_merged.onnx
        inputs_embeds [B,S,D], attention_mask [B,P+S], position_ids [B,S],
        past_key_values.{i}.{key,value} [B,H,P,HD] -> logits [B,S,V], present.{i}.{key,value}
  <out>/vlm-tiny/refs.json    chat-template renders (jinja2 on the template above), prompt ids
        (`tokenizers`, the image token expanded to one per image feature) and the token ids the
        reference loop (scripts/reference_generate.py over onnxruntime) generates for seeded pixel
        tensors (pixels_<k>.f32): greedy, beam, seeded sampling, repetition penalty, ...

The decoder is Qwen2 shaped where the interface shows: grouped-query attention (fewer key/value
heads than query heads, so the cache is [B, num_key_value_heads, P, head_dim] as in the real
export), per layer causal self-attention over past + new keys under the attention mask (a key is
seen when its mask is 1 and it is not in the future), an MLP, a final norm and an LM head; positions come from position_ids (a learned table stands in
for rotary embeddings: the graph's inputs are the same). The image's features replace the
embedding rows at the image-token positions (as transformers.js does for llava-style models).

  scripts/gen_vlm_fixture.py --out build/fixtures/models --tokenizer build/fixtures/tokenizers/qwen2/tokenizer.json

`--size bench` writes vlm-bench: d_model 512, 8 query / 2 key-value heads, 4 layers, 256x256
images as 256 features (FastVLM-0.5B's count; like its Qwen2, the weights outweigh a position's
cache by far), for bench/run_caption_bench.py (with --eos-drift 0: answers run to
max_new_tokens).
"""
import argparse
import json
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_captioner_fixture as cap  # noqa: E402
import reference_generate  # noqa: E402

D, HEADS, KV_HEADS, LAYERS, PATCH, IMAGE, POSITIONS = 32, 2, 1, 2, 16, 64, 512
HD = D // HEADS
FFN, GATED, VOCAB = 4 * D, False, None  # MLP width; Qwen2's gated SiLU MLP; logits wider than the tokenizer
DT = np.float64  # the tiny and bench fixtures' random streams; the real-size one draws float32 (2 GB)
FEATURES = (IMAGE // PATCH) ** 2

# Qwen2's chat template, verbatim (Qwen/Qwen2-0.5B-Instruct tokenizer_config.json), which FastVLM's
# Qwen2 language model uses.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

# Conversations the C++ renderer must reproduce exactly (jinja2 renders the references).
TEMPLATE_CASES = [
    {"messages": [{"role": "user", "content": "<image>\nDescribe the image."}], "add_generation_prompt": True},
    {"messages": [{"role": "system", "content": "Answer in one word."},
                  {"role": "user", "content": "<image>\nWhat is this?"}], "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "<image>\nWhat is this?"}, {"role": "assistant", "content": "A cat."},
                  {"role": "user", "content": "And its colour?"}], "add_generation_prompt": True},
    {"messages": [{"role": "user", "content": "héllo ✓ {{ not a tag }}"}], "add_generation_prompt": False},
]

PROMPTS = ["Describe the image.", "What is in this picture? Answer briefly, in one sentence."]


def weights(rng, vocab, eos, drift_from, eos_drift, stop, tokens=None):
    w = {"wpe": rng.standard_normal((POSITIONS, D)) * 0.1}
    # Random weights alone almost never say EOS; positions past the prompt drift toward the EOS
    # direction so most answers end after a few tokens, image- and prompt-dependently.
    u = rng.standard_normal(D)
    u /= np.linalg.norm(u)
    w["wpe"] += eos_drift * np.maximum(0, np.arange(POSITIONS) - drift_from)[:, None] * u[None, :]
    for l in range(LAYERS):
        for k in ["q", "o"]:
            w[f"{l}.{k}"] = rng.standard_normal((D, D)) / np.sqrt(D)
        for k in ["k", "v"]:
            w[f"{l}.{k}"] = rng.standard_normal((D, KV_HEADS * HD)) / np.sqrt(D)
        w[f"{l}.fc1"] = rng.standard_normal((D, FFN), DT) / np.sqrt(D)
        if GATED:
            w[f"{l}.gate"] = rng.standard_normal((D, FFN), DT) / np.sqrt(D)
        w[f"{l}.fc2"] = rng.standard_normal((FFN, D), DT) / np.sqrt(FFN)
        for ln in ["ln1", "ln2"]:
            w[f"{l}.{ln}.g"] = 1 + 0.1 * rng.standard_normal(D)
            w[f"{l}.{ln}.b"] = 0.1 * rng.standard_normal(D)
    w["lnf.g"], w["lnf.b"] = np.ones(D), np.zeros(D)
    w["lm_head"] = rng.standard_normal((D, vocab), DT) * 0.6
    if tokens is not None:
        w["lm_head"][:, tokens:] = 0  # ids the tokenizer lacks (Qwen2's padded vocab) stay below the real ones
    w["lm_head"][:, eos] = u * np.sqrt(D) * 0.5
    if eos_drift == 0:  # benchmarks: EOS's logit stays 0, below the best of the random others
        w["lm_head"][:, eos] = 0
        w["lm_head"][:, stop] = 0
    return {k: numpy_helper.from_array(v.astype(np.float32), k) for k, v in w.items()}


def kv_heads(g, x):
    """[B,T,KV_HEADS*HD] -> [B,KV_HEADS,T,HD]"""
    r = g.op("Reshape", [x, g.const([0, 0, KV_HEADS, HD])])
    return g.op("Transpose", [r], perm=[0, 2, 1, 3])


def repeat_kv(g, x):
    """[B,KV_HEADS,P,HD] -> [B,HEADS,P,HD], each key/value head serving HEADS/KV_HEADS query heads."""
    if KV_HEADS == HEADS:
        return x
    t = g.op("Tile", [g.op("Unsqueeze", [x, g.const([2])]), g.const([1, 1, HEADS // KV_HEADS, 1, 1])])
    return g.op("Reshape", [t, g.const([0, HEADS, -1, HD])])


def decoder(w, vocab, out):
    g = cap.Graph()
    scalar = lambda x, i: g.op("Gather", [g.op("Shape", [x]), g.const(i)], axis=0)  # noqa: E731
    one = g.const(1)
    t = scalar("inputs_embeds", 1)
    p = scalar("past_key_values.0.key", 2)
    total = g.op("Add", [p, t])
    h = g.op("Add", ["inputs_embeds", g.op("Gather", ["wpe", "position_ids"], axis=0)])
    # Key j is seen by new query i when j <= p + i (causal) and attention_mask[b, j] is 1.
    kpos = g.op("Unsqueeze", [g.op("Range", [g.const(0), total, one]), g.const([0])])
    qpos = g.op("Unsqueeze", [g.op("Range", [p, total, one]), g.const([1])])
    causal = g.op("Not", [g.op("Greater", [kpos, qpos])])  # [T, P+T]
    seen = g.op("Unsqueeze", [g.op("Cast", ["attention_mask"], to=TensorProto.BOOL), g.const([1, 2])])
    mask = g.op("And", [causal, seen])  # [B, 1, T, P+T]
    presents = []
    for l in range(LAYERS):
        x = g.op("LayerNormalization", [h, f"{l}.ln1.g", f"{l}.ln1.b"], axis=-1)
        q = cap.heads(g, g.op("MatMul", [x, f"{l}.q"]))
        k, v = (kv_heads(g, g.op("MatMul", [x, f"{l}.{n}"])) for n in "kv")
        k = g.op("Concat", [f"past_key_values.{l}.key", k], axis=2)
        v = g.op("Concat", [f"past_key_values.{l}.value", v], axis=2)
        presents.append((k, v))
        h = g.op("Add", [h, g.op("MatMul", [cap.attend(g, q, repeat_kv(g, k), repeat_kv(g, v), mask), f"{l}.o"])])
        x = g.op("LayerNormalization", [h, f"{l}.ln2.g", f"{l}.ln2.b"], axis=-1)
        if GATED:  # Qwen2: down(silu(gate(x)) * up(x))
            gate = g.op("MatMul", [x, f"{l}.gate"])
            act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), g.op("MatMul", [x, f"{l}.fc1"])])
        else:
            act = g.op("Tanh", [g.op("MatMul", [x, f"{l}.fc1"])])
        h = g.op("Add", [h, g.op("MatMul", [act, f"{l}.fc2"])])
    x = g.op("LayerNormalization", [h, "lnf.g", "lnf.b"], axis=-1)
    ids = [helper.make_node("Identity", [g.op("MatMul", [x, "lm_head"])], ["logits"])]
    for l, (k, v) in enumerate(presents):
        ids += [helper.make_node("Identity", [k], [f"present.{l}.key"]),
                helper.make_node("Identity", [v], [f"present.{l}.value"])]
    f = TensorProto.FLOAT
    ins = [helper.make_tensor_value_info("inputs_embeds", f, ["batch_size", "sequence_length", D]),
           helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
           helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"])]
    outs = [helper.make_tensor_value_info("logits", f, ["batch_size", "sequence_length", vocab])]
    for l in range(LAYERS):
        for kv in ["key", "value"]:
            ins.append(helper.make_tensor_value_info(f"past_key_values.{l}.{kv}", f,
                                                     ["batch_size", KV_HEADS, "past_sequence_length", HD]))
            outs.append(helper.make_tensor_value_info(f"present.{l}.{kv}", f,
                                                      ["batch_size", KV_HEADS, "total_sequence_length", HD]))
    save(helper.make_graph(g.nodes + ids, "decoder_model_merged", ins, outs, list(w.values()) + g.inits),
             os.path.join(out, "decoder_model_merged.onnx"))


def save(graph, path):
    """Over protobuf's 2 GB, weights go to `<file>.onnx_data` beside the graph, as Optimum writes them."""
    if sum(t.ByteSize() for t in graph.initializer) < 1 << 30:
        return cap.save(graph, path)
    import onnx
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", cap.OPSET)], producer_name="sightline-fixture")
    model.ir_version = 8
    onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
              location=os.path.basename(path) + "_data")
    onnx.checker.check_model(path)


def embed_tokens(rng, vocab, out):
    wte = numpy_helper.from_array((rng.standard_normal((vocab, D), DT) * 0.5).astype(np.float32), "embed_tokens.weight")
    node = helper.make_node("Gather", ["embed_tokens.weight", "input_ids"], ["inputs_embeds"], axis=0)
    graph = helper.make_graph(
        [node], "embed_tokens",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])],
        [helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch_size", "sequence_length", D])],
        [wte])
    cap.save(graph, os.path.join(out, "embed_tokens.onnx"))


def vision_encoder(rng, out):
    g = cap.Graph()
    w = [numpy_helper.from_array((rng.standard_normal((D, 3, PATCH, PATCH)) * 0.05).astype(np.float32), "patch.w"),
         numpy_helper.from_array((rng.standard_normal((FEATURES, D)) * 0.1).astype(np.float32), "pos"),
         numpy_helper.from_array((rng.standard_normal((D, D)) / np.sqrt(D) * 2).astype(np.float32), "proj"),
         numpy_helper.from_array(np.ones(D, np.float32), "ln.g"), numpy_helper.from_array(np.zeros(D, np.float32), "ln.b")]
    c = g.op("Conv", ["pixel_values", "patch.w"], strides=[PATCH, PATCH])
    tokens = g.op("Transpose", [g.op("Reshape", [c, g.const([0, D, -1])])], perm=[0, 2, 1])
    h = g.op("LayerNormalization", [g.op("Add", [tokens, "pos"]), "ln.g", "ln.b"], axis=-1)
    g.nodes.append(helper.make_node("MatMul", [h, "proj"], ["image_features"]))
    graph = helper.make_graph(
        g.nodes, "vision_encoder",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch_size", 3, IMAGE, IMAGE])],
        [helper.make_tensor_value_info("image_features", TensorProto.FLOAT, ["batch_size", FEATURES, D])], w + g.inits)
    cap.save(graph, os.path.join(out, "vision_encoder.onnx"))


def tokenizer(src, dst):
    from tokenizers import AddedToken, Tokenizer
    tok = Tokenizer.from_file(src)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ["<|im_start|>", "<|im_end|>", "<image>"]])
    tok.save(dst)
    return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokenizer", required=True, help="a byte-level BPE tokenizer.json (the qwen2 fixture)")
    ap.add_argument("--size", choices=["tiny", "bench", "real"], default="tiny")
    ap.add_argument("--eos-drift", type=float, default=0.2)
    a = ap.parse_args()
    global D, HEADS, KV_HEADS, LAYERS, HD, IMAGE, FEATURES, FFN, GATED, VOCAB, DT
    if a.size == "bench":
        D, HEADS, KV_HEADS, LAYERS, IMAGE = 512, 8, 2, 4, 256
        FFN = 4 * D
    if a.size == "real":  # Qwen2-0.5B, FastVLM-0.5B's language model (its config.json)
        D, HEADS, KV_HEADS, LAYERS, IMAGE, FFN, GATED, VOCAB, DT = 896, 14, 2, 24, 256, 4864, True, 151936, np.float32
    if a.size != "tiny":
        HD, FEATURES = D // HEADS, (IMAGE // PATCH) ** 2
        cap.D, cap.HEADS, cap.HD = D, HEADS, HD  # its attention helpers read these
    d = os.path.join(a.out, {"tiny": "vlm-tiny", "bench": "vlm-bench", "real": "vlm-real"}[a.size])
    onnx_dir = os.path.join(d, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    tok = tokenizer(a.tokenizer, os.path.join(d, "tokenizer.json"))
    tokens = tok.get_vocab_size(with_added_tokens=True)
    vocab = VOCAB or tokens
    im_end, endoftext, image = (tok.token_to_id(t) for t in ["<|im_end|>", "<|endoftext|>", "<image>"])
    rng = np.random.default_rng(21)
    vision_encoder(rng, onnx_dir)
    embed_tokens(rng, vocab, onnx_dir)
    # Prompts here are 70 and 101 ids with the image's 16; answers end within 1..40 ids.
    decoder(weights(rng, vocab, im_end, drift_from=96, eos_drift=a.eos_drift, stop=endoftext, tokens=tokens), vocab,
            onnx_dir)
    json.dump({"model_type": "llava_qwen2", "architectures": ["LlavaQwen2ForCausalLM"], "image_token_index": image,
               "hidden_size": D, "num_attention_heads": HEADS, "num_hidden_layers": LAYERS,
               "num_key_value_heads": KV_HEADS, "max_position_embeddings": POSITIONS, "vocab_size": vocab,
               "eos_token_id": im_end, "bos_token_id": endoftext, "mm_vision_tower": "mobileclip_l_1024",
               "mm_hidden_size": D, "tie_word_embeddings": False},
              open(os.path.join(d, "config.json"), "w"), indent=2)
    json.dump({"bos_token_id": endoftext, "eos_token_id": [im_end, endoftext], "pad_token_id": endoftext},
              open(os.path.join(d, "generation_config.json"), "w"), indent=2)
    json.dump({"crop_size": {"height": IMAGE, "width": IMAGE}, "do_center_crop": True, "do_normalize": True,
               "do_rescale": True, "do_resize": True, "image_mean": [0.0, 0.0, 0.0], "image_std": [1.0, 1.0, 1.0],
               "image_processor_type": "CLIPImageProcessor", "resample": 3, "rescale_factor": 1 / 255,
               "size": {"shortest_edge": IMAGE}},
              open(os.path.join(d, "preprocessor_config.json"), "w"), indent=2)
    json.dump({"model_max_length": POSITIONS, "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
               "unk_token": None, "tokenizer_class": "Qwen2Tokenizer", "chat_template": CHAT_TEMPLATE,
               "add_bos_token": False},
              open(os.path.join(d, "tokenizer_config.json"), "w"), indent=2)
    if a.size != "tiny":
        print(f"vlm fixture written to {d}")
        return
    refs = reference_generate.vlm_refs(d, tok, CHAT_TEMPLATE, TEMPLATE_CASES, PROMPTS, image, [im_end, endoftext])
    json.dump(refs, open(os.path.join(d, "refs.json"), "w"), indent=0)
    lengths = [len(c["ids"]) for c in refs["cases"]]
    print(f"vlm fixture written to {d} ({len(lengths)} reference generations, {min(lengths)}..{max(lengths)} ids)")


if __name__ == "__main__":
    main()
