#!/usr/bin/env python3
"""The reference generation loop Sightline's C++ engine is checked against, token for token: numpy
over onnxruntime, one sequence (or one sequence's beams) at a time, no batching, following Hugging
Face transformers' generate() (generation/utils.py, logits_process.py, beam_search.py):

  processors, in HF's order:  repetition_penalty (on every id in the decoder's sequence so far,
                              start token included: negative scores x p, positive / p),
                              no_repeat_ngram_size (ids completing an n-gram already in the sequence),
                              min_new_tokens (EOS at -inf until that many new tokens);
  sampling warpers:           temperature, top_k (ties with the k-th kept), top_p (ascending sort,
                              drop while the cumulative probability <= 1 - top_p, keep >= 1);
  greedy:                     argmax, the lowest id on ties;
  sampling:                   softmax in float64, one uniform draw u per step from SplitMix64(seed)
                              (u = top 53 bits / 2^53), the first id, in id order, whose cumulative
                              probability exceeds u. (HF's torch.multinomial cannot be reproduced
                              outside torch; this draw is defined so C++ and Python agree.)
  beam search:                BeamSearchScorer: log-softmax, processors, plus the beam's score; top
                              2 x num_beams candidates; EOS candidates ranked >= num_beams ignored;
                              a finished hypothesis scores sum_logprobs / generated_len^length_penalty;
                              early_stopping True / False / "never" as BeamHypotheses.is_done.

Scores are float64 from the float32 logits throughout; sums run in id order, one by one.
"""
import json
import os

import numpy as np

MASK64 = (1 << 64) - 1


class SplitMix64:
    """Steele, Lea, Flood: Fast splittable pseudorandom number generators (OOPSLA 2014)."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * (1.0 / (1 << 53))


def run_step(decoder, feeds, b, past):
    """One decoder run with its pasts (empty [B,H,0,HD] on the first step): the last position's
    logits [B,V] in float64 and the presents, keyed as the next step's past inputs."""
    for n in decoder.past_names:
        feeds[n] = past[n] if past is not None else np.zeros((b, decoder.heads, 0, decoder.head_dim), np.float32)
    outs = decoder.s.run(None, feeds)
    names = [o.name for o in decoder.s.get_outputs()]
    logits = outs[names.index("logits")][:, -1, :].astype(np.float64)
    presents = {n.replace("present.", "past_key_values."): o for n, o in zip(names, outs) if n.startswith("present.")}
    return logits, presents


class MergedDecoder:
    """decoder_model_merged.onnx: the first step with use_cache_branch false and empty pasts."""

    def __init__(self, path):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        self.s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        self.past_names = [i.name for i in self.s.get_inputs() if i.name.startswith("past_key_values.")]
        shape = next(i.shape for i in self.s.get_inputs() if i.name.startswith("past_key_values."))
        self.heads, self.head_dim = shape[1], shape[3]

    def step(self, input_ids, encoder_states, past):
        """input_ids [B,T]; past: dict name -> [B,H,P,HD] or None. Returns last logits [B,V], presents."""
        b = input_ids.shape[0]
        feeds = {"input_ids": input_ids.astype(np.int64), "encoder_hidden_states": encoder_states,
                 "use_cache_branch": np.array([past is not None])}
        return run_step(self, feeds, b, past)


def process(scores, seq, p, prompt_len, eos):
    """The logits processors on one row of scores (float64, modified in place)."""
    rp = p.get("repetition_penalty", 1.0)
    if rp != 1.0:
        for t in set(seq):
            scores[t] = scores[t] * rp if scores[t] < 0 else scores[t] / rp
    n = p.get("no_repeat_ngram_size", 0)
    if n > 0 and len(seq) + 1 >= n:
        prefix = tuple(seq[len(seq) + 1 - n:])
        for i in range(len(seq) - n + 1):
            if tuple(seq[i:i + n - 1]) == prefix:
                scores[seq[i + n - 1]] = -np.inf
    if len(seq) - prompt_len < p.get("min_new_tokens", 0):
        scores[eos_list(eos)] = -np.inf
    return scores


def eos_list(eos):
    """One EOS id or several (generation_config.json may list them)."""
    return list(eos) if isinstance(eos, (list, tuple)) else [eos]


def warp(scores, p):
    t = p.get("temperature", 1.0)
    if t != 1.0:
        scores = scores / t
    k = p.get("top_k", 0)
    if 0 < k < len(scores):
        kth = np.sort(scores)[-k]
        scores = np.where(scores < kth, -np.inf, scores)
    top_p = p.get("top_p", 1.0)
    if top_p < 1.0:
        order = np.argsort(scores, kind="stable")
        probs = softmax(scores[order])
        remove = np.cumsum(probs) <= 1 - top_p
        remove[-1] = False
        scores = scores.copy()
        scores[order[remove]] = -np.inf
    return scores


def total(values):
    """Summed in index order, one by one, as the C++ engine sums (np.sum adds pairwise)."""
    t = 0.0
    for v in values:
        t += float(v)
    return t


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / total(e)


def log_softmax(x):
    m = np.max(x)
    return x - m - np.log(total(np.exp(x - m)))


def draw(scores, rng):
    u = rng.uniform()
    probs = softmax(scores)
    c = 0.0
    for i, q in enumerate(probs):
        c += q
        if c > u:
            return i
    return int(np.flatnonzero(probs > 0)[-1])  # u past the rounding of the total: the last possible id


def generate(decoder, encoder_states, prompt, p, eos):
    """Greedy or sampling for one sequence; returns the new ids (EOS included when generated)."""
    seq = list(prompt)
    rng = SplitMix64(p["seed"]) if p.get("do_sample") else None
    past = None
    ids = np.array([seq])
    for _ in range(p["max_new_tokens"]):
        logits, past = decoder.step(ids, encoder_states, past)
        scores = process(logits[0].copy(), seq, p, len(prompt), eos)
        nxt = draw(warp(scores, p), rng) if rng else int(np.argmax(scores))
        seq.append(nxt)
        if nxt in eos_list(eos):
            break
        ids = np.array([[nxt]])
    return seq[len(prompt):]


class Hypotheses:
    def __init__(self, num_beams, length_penalty, early_stopping, max_new_tokens):
        self.num_beams, self.lp, self.early, self.max_new = num_beams, length_penalty, early_stopping, max_new_tokens
        self.beams, self.worst = [], 1e9

    def add(self, seq, sum_logprobs, generated_len):
        score = sum_logprobs / (generated_len ** self.lp)
        if len(self.beams) < self.num_beams or score > self.worst:
            self.beams.append((score, seq))
            if len(self.beams) > self.num_beams:
                ranked = sorted((s, i) for i, (s, _) in enumerate(self.beams))
                del self.beams[ranked[0][1]]
                self.worst = ranked[1][0]
            else:
                self.worst = min(score, self.worst)

    def is_done(self, best_sum_logprobs, generated_len):
        if len(self.beams) < self.num_beams:
            return False
        if self.early is True:
            return True
        if self.early == "never" and self.lp > 0:
            return self.worst >= best_sum_logprobs / (self.max_new ** self.lp)
        return self.worst >= best_sum_logprobs / (generated_len ** self.lp)


def beam_search(decoder, encoder_states, prompt, p, eos):
    nb = p["num_beams"]
    hyps = Hypotheses(nb, p.get("length_penalty", 1.0), p.get("early_stopping", False), p["max_new_tokens"])
    seqs = [list(prompt) for _ in range(nb)]
    beam_scores = np.array([0.0] + [-1e9] * (nb - 1))
    enc = np.repeat(encoder_states, nb, axis=0)
    past, ids, done = None, np.array(seqs), False
    for step in range(p["max_new_tokens"]):
        logits, past = decoder.step(ids, enc, past)
        v = logits.shape[1]
        cand = np.empty((nb, v))
        for b in range(nb):
            cand[b] = process(log_softmax(logits[b]), seqs[b], p, len(prompt), eos) + beam_scores[b]
        flat = cand.reshape(-1)
        # top 2 x num_beams, best first; ties by lower flat index (stable).
        order = np.argsort(-flat, kind="stable")[:2 * nb]
        generated_len = len(seqs[0]) + 1 - len(prompt)
        next_seqs, next_scores, sources = [], [], []
        for rank, idx in enumerate(order):
            src, tok, score = int(idx // v), int(idx % v), float(flat[idx])
            if tok in eos_list(eos):
                if rank >= nb:
                    continue
                hyps.add(seqs[src] + [tok], score, generated_len)
            else:
                next_seqs.append(seqs[src] + [tok])
                next_scores.append(score)
                sources.append(src)
            if len(next_seqs) == nb:
                break
        done = hyps.is_done(float(flat[order[0]]), generated_len)
        if done:
            break
        seqs, beam_scores = next_seqs, np.array(next_scores)
        past = {k: x[sources] for k, x in past.items()}
        ids = np.array([[s[-1]] for s in seqs])
    if not done:
        for s, sc in zip(seqs, beam_scores):
            hyps.add(s, float(sc), len(s) - len(prompt))
    best = sorted(hyps.beams, key=lambda x: x[0])[-1]  # HF: a stable ascending sort, the last one
    return best[1][len(prompt):]


CASES = [
    {"name": "greedy", "max_new_tokens": 12},
    {"name": "greedy_long", "max_new_tokens": 40},
    {"name": "repetition_penalty", "max_new_tokens": 12, "repetition_penalty": 1.5},
    {"name": "no_repeat_ngram", "max_new_tokens": 16, "no_repeat_ngram_size": 2},
    {"name": "min_new_tokens", "max_new_tokens": 16, "min_new_tokens": 8},
    {"name": "sample", "max_new_tokens": 12, "do_sample": True, "seed": 7, "temperature": 0.8, "top_k": 50,
     "top_p": 0.9},
    {"name": "sample_hot", "max_new_tokens": 12, "do_sample": True, "seed": 1234567, "temperature": 1.5},
    {"name": "beam", "max_new_tokens": 10, "num_beams": 3, "length_penalty": 1.0, "early_stopping": True},
    {"name": "beam_no_early_stop", "max_new_tokens": 10, "num_beams": 4, "length_penalty": 0.6,
     "early_stopping": False, "repetition_penalty": 1.2},
]


def captioner_refs(model_dir, eos, images=4):
    """Generations for seeded pixel tensors, written beside as pixels_<k>.f32 (raw little-endian)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    enc = ort.InferenceSession(os.path.join(model_dir, "onnx", "encoder_model.onnx"), so,
                               providers=["CPUExecutionProvider"])
    dec = MergedDecoder(os.path.join(model_dir, "onnx", "decoder_model_merged.onnx"))
    cases = []
    for k in range(images):
        pixels = np.random.default_rng(100 + k).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
        pixels.tofile(os.path.join(model_dir, f"pixels_{k}.f32"))
        states = enc.run(None, {"pixel_values": pixels})[0]
        for c in CASES:
            p = dict(c)
            run = beam_search if p.get("num_beams", 1) > 1 else generate
            cases.append({"image": k, "params": {x: y for x, y in p.items() if x != "name"}, "name": c["name"],
                          "ids": run(dec, states, [eos], p, eos)})
    return {"start_id": eos, "eos_id": eos, "cases": cases}


class VlmDecoder:
    """A decoder-only VLM (FastVLM layout): embed_tokens.onnx, then decoder_model_merged.onnx with
    attention_mask (all ones: one sequence, no padding) and position_ids (the running count). On the
    first step the image features replace the embedding rows at the image-token positions, in order."""

    def __init__(self, model_dir, image_token):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        path = lambda n: os.path.join(model_dir, "onnx", n)  # noqa: E731
        self.embed = ort.InferenceSession(path("embed_tokens.onnx"), so, providers=["CPUExecutionProvider"])
        self.s = ort.InferenceSession(path("decoder_model_merged.onnx"), so, providers=["CPUExecutionProvider"])
        self.past_names = [i.name for i in self.s.get_inputs() if i.name.startswith("past_key_values.")]
        shape = next(i.shape for i in self.s.get_inputs() if i.name.startswith("past_key_values."))
        self.heads, self.head_dim, self.image_token = shape[1], shape[3], image_token

    def step(self, input_ids, image_features, past):
        b, t = input_ids.shape
        embeds = self.embed.run(None, {"input_ids": input_ids.astype(np.int64)})[0]
        p = 0 if past is None else past[self.past_names[0]].shape[2]
        if past is None:
            for r in range(b):
                rows = np.flatnonzero(input_ids[r] == self.image_token)
                assert len(rows) == image_features.shape[1], "one image token per image feature"
                embeds[r, rows] = image_features[r]
        feeds = {"inputs_embeds": embeds, "attention_mask": np.ones((b, p + t), np.int64),
                 "position_ids": np.tile(np.arange(p, p + t, dtype=np.int64), (b, 1))}
        return run_step(self, feeds, b, past)


def vlm_refs(model_dir, tok, chat_template, template_cases, prompts, image_token, eos, images=3):
    """Template renders, prompt ids and generations for seeded pixel tensors (pixels_<k>.f32)."""
    import jinja2
    import onnxruntime as ort
    env = jinja2.Environment()
    template = env.from_string(chat_template)
    renders = [dict(c, text=template.render(**c)) for c in template_cases]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    enc = ort.InferenceSession(os.path.join(model_dir, "onnx", "vision_encoder.onnx"), so,
                               providers=["CPUExecutionProvider"])
    dec = VlmDecoder(model_dir, image_token)
    shape = enc.get_inputs()[0].shape
    cases, prompt_ids = [], []
    for i, prompt in enumerate(prompts):
        text = template.render(messages=[{"role": "user", "content": "<image>\n" + prompt}], add_generation_prompt=True)
        ids = tok.encode(text, add_special_tokens=False).ids
        features = None
        for k in range(images):
            pixels = np.random.default_rng(200 + k).uniform(0, 1, (1, 3, shape[2], shape[3])).astype(np.float32)
            pixels.tofile(os.path.join(model_dir, f"pixels_{k}.f32"))
            features = enc.run(None, {"pixel_values": pixels})[0]
            expanded = []
            for t in ids:  # one image token per image feature, as llava processors expand it
                expanded += [t] * features.shape[1] if t == image_token else [t]
            if k == 0:
                prompt_ids.append({"prompt": prompt, "text": text, "ids": ids, "expanded": expanded})
            for c in CASES:
                p = dict(c)
                run = beam_search if p.get("num_beams", 1) > 1 else generate
                cases.append({"image": k, "prompt": i, "params": {x: y for x, y in p.items() if x != "name"},
                              "name": c["name"], "ids": run(dec, features, expanded, p, eos)})
    return {"eos_ids": eos_list(eos), "image_token_id": image_token, "image_features": int(features.shape[1]),
            "templates": renders, "prompts": prompt_ids, "cases": cases}


if __name__ == "__main__":
    import sys
    d = sys.argv[1]
    refs = json.load(open(os.path.join(d, "refs.json")))
    for c in refs["cases"]:
        print(c["image"], c["name"], c["ids"])
