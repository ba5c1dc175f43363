#!/usr/bin/env python3
"""Tokenizer parity fixtures: tokenizer.json files plus the ids the Hugging Face `tokenizers`
package produces for a set of hard texts. tests/unit/text checks Sightline's C++ tokenizer
against them, id for id.

  clip/   the real CLIP vocabulary (49408 tokens) from open-clip-torch's
          bpe_simple_vocab_16e6.txt.gz, assembled the way CLIPTokenizerFast does (NFC, \\s+ -> ' ',
          lower-case; CLIP's split pattern; byte-level BPE with '</w>'; <|startoftext|> ...
          <|endoftext|>), truncated to the 77-token context
  gpt2/   a byte-level BPE (GPT-2's pre-tokenizer pattern, no suffix) trained here on a small corpus
  bert/   a WordPiece (BertNormalizer, BertPreTokenizer, [CLS] ... [SEP]) trained here likewise
  clip_hf/  the real CLIP vocabulary laid out as Hugging Face's converter writes it for exports
          (CLIPConverter: the split pattern without the special tokens, then ByteLevel with its
          GPT-2 regex)
  llama3/ a byte-level BPE with Llama-3's split pattern ((?i:...) contractions, \p{N}{1,3},
          look-ahead), ignore_merges, <|begin_of_text|> template, trained here
  qwen2/  the same with Qwen2's pattern (single digits) and an NFC normalizer
  sp_bpe/ a SentencePiece-style BPE (Metaspace-free: Replace ' ' -> '▁', byte_fallback,
          fuse_unk), as Llama-2/Mistral exports lay it out
  pre_tokenizers.json: Split with each behaviour, inverted or not, on the patterns above, and
          the pieces `tokenizers` cuts each text into
  decoders.json: each decoder (ByteLevel, WordPiece, Metaspace, BPEDecoder, Replace, ByteFallback,
          Fuse, Strip, Sequence) and the string it makes of a set of token lists

Each <name>/refs.json also holds decode references: for each text's ids and for seeded random id
sequences (special tokens and split UTF-8 included), `decode` with and without special tokens,
and the chunks `decoders.DecodeStream` emits id by id.

  scripts/gen_tokenizer_refs.py --out build/fixtures/tokenizers
"""
import argparse
import glob
import random
import gzip
import json
import os
import subprocess
import sys
import tempfile
import zipfile

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

OPEN_CLIP = "open_clip_torch==3.3.0"
CLIP_PATTERN = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""

LLAMA3_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                  r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                 r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
CLIP_HF_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

TEXTS = [
    "a photo of a cat",
    "A Photo Of A DOG!!!",
    "",
    "   leading and trailing   spaces   ",
    "tabs\tand\nnew\r\nlines",
    "It's what they've said: we'll see, I'd say, you're right, I'm sure.",
    "numbers 1234567 and 3.14159, 2,000,000 and ½ ⅞ ²³",
    "Café naïve résumé coöperate Ångström Straße",
    "İstanbul ǅemal ΣΊΣΥΦΟΣ",
    "emoji 😀🎉👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️",
    "日本語のテキスト、中文文本，한국어 텍스트",
    "Привет, мир! Γειά σου κόσμε! مرحبا بالعالم שלום עולם",
    "punctuation... ?!?! --- ((brackets)) [x] {y} <z> @#$%^&*_+=|\\/~`",
    "hyphenated-words and under_scores and CamelCaseWords",
    "<|startoftext|>special tokens<|endoftext|> in the text",
    "http://example.com/path?q=1&r=two#frag",
    "zero\u200bwidth\u00a0nbsp\u3000ideographic space",
    "combining: e\u0301 a\u0300 n\u0303 (decomposed)",
    "repeated " * 60 + "end",
    "IT'S DON'T We'LL they'RE",
    "line one\r\n\r\nline two\n\n\n  indented\n\ttabbed  \n",
    "trailing spaces and newline   \n",
    "x" * 300,
    "supercalifragilisticexpialidocious" * 12,
    "ab" * 500,
    "mixed123abc4567def 12345678901",
    " ".join(f"word{i}" for i in range(120)),
]

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "A photo of a cat sitting on a red sofa, 2 cats and 3 dogs.",
    "Vision models turn images into embeddings; text models turn words into vectors.",
    "Zero-shot classification compares an image with prompts like 'a photo of a {}'.",
    "Café, naïve, résumé: accents matter. Straße, Ångström, İstanbul.",
    "日本語のテキスト 中文文本 한국어 Привет мир Γειά σου κόσμε",
    "Numbers: 1234567, 3.14159, 2,000,000; emoji 😀🎉👍🏽 and symbols @#$%^&*.",
] * 20


def clip_files(tmp):
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, OPEN_CLIP], check=True)
    wheel = glob.glob(os.path.join(tmp, "open_clip_torch-*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        return z.read("open_clip/bpe_simple_vocab_16e6.txt.gz")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def build_clip(gz_bytes):
    lines = gzip.decompress(gz_bytes).decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(vocab)}, merges=merges, unk_token="<|endoftext|>",
                               end_of_word_suffix="</w>", continuing_subword_prefix="", fuse_unk=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                           normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CLIP_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    # Positional: (sep, cls, trim_offsets, add_prefix_space); this release takes no keywords.
    tok.post_processor = processors.RobertaProcessing(("<|endoftext|>", 49407), ("<|startoftext|>", 49406), False, False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|startoftext|>", "<|endoftext|>"])
    return tok


def build_gpt2():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def build_bert():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(CORPUS, trainer)
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[
        ("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    return tok


def build_clip_hf(gz_bytes):
    tok = build_clip(gz_bytes)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CLIP_HF_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    return tok


def build_byte_level(pattern, normalizer=None, bos=None, vocab_size=700):
    tok = Tokenizer(models.BPE(ignore_merges=True))
    if normalizer:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    specials = [s for s in ["<|endoftext|>", bos] if s]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    if bos:
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[
            (bos, tok.token_to_id(bos))])
    return tok


def build_sp_bpe():
    # A SentencePiece-converted BPE: spaces become U+2581, a prefix one is prepended, unknown
    # characters fall back to <0xXX> byte tokens.
    tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
    bytes_tokens = [f"<0x{b:02X}>" for b in range(256)]
    trainer = trainers.BpeTrainer(vocab_size=900, special_tokens=["<unk>", "<s>", "</s>"] + bytes_tokens)
    tok.train_from_iterator([t.replace(" ", "\u2581") for t in CORPUS if "😀" not in t], trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    # Llama-2's decoder, as its tokenizer.json has it.
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(" ", 1, 0)])
    return tok


PRE_TOKENIZER_TEXTS = TEXTS[:20] + [
    "IT'S DON'T We'LL", "a\r\n\r\nb  \n c", "   ", "x", "123456789", "!!!???", "a  b   c    ",
    "\u00a0\u2003nbsp", "tab\there", "😀😀 😀",
]


def pre_tokenizer_refs(out):
    specs = []
    for name, pattern in [("gpt2", GPT2_PATTERN), ("llama3", LLAMA3_PATTERN), ("qwen2", QWEN2_PATTERN),
                          ("clip", CLIP_HF_PATTERN), ("digits", r"\d+"), ("spaces", r"\s+"),
                          ("lookahead", r"\s+(?=\S)|x(?!y)"), ("empty", r"a*")]:
        for behavior in ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]:
            for invert in [False, True]:
                specs.append((f"{name}/{behavior}/{invert}",
                              pre_tokenizers.Split(Regex(pattern), behavior=behavior, invert=invert)))
    specs.append(("literal/isolated", pre_tokenizers.Split("--", behavior="isolated")))
    specs.append(("whitespace", pre_tokenizers.Whitespace()))
    specs.append(("byte_level", pre_tokenizers.ByteLevel(add_prefix_space=True)))
    cases = []
    for name, pre in specs:
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre
        spec = json.loads(tok.to_str())["pre_tokenizer"]
        pieces = [[p for p, _ in pre.pre_tokenize_str(t)] for t in PRE_TOKENIZER_TEXTS]
        cases.append({"name": name, "pre_tokenizer": spec, "texts": PRE_TOKENIZER_TEXTS, "pieces": pieces})
    json.dump(cases, open(os.path.join(out, "pre_tokenizers.json"), "w"), ensure_ascii=False, indent=0)


DECODER_TOKENS = [
    [],
    ["\u2581Hey", "\u2581fr\u2581iend", "!"],
    ["\u2581a\u2581b", "c", "\u2581"],
    ["<0xE2>", "<0x96>", "<0x81>", "x", "<0x41>"],
    ["<0xE2>", "<0x96>", "y", "<0xF0>"],
    ["<0x", "<0x4G>", "<0x41>>", "<0X41>"],
    ["hello</w>", "wor", "ld</w>", "</w>"],
    ["hel", "##lo", "world", ".", "do", "not", "##n't", "?", "i", "'m", "it", "'s", "##", ","],
    ["\u0120hello", "\u010a", "\u0120w\u00c3\u00b6rld", "\u00f0\u0141\u013a", "\u0122"],
    ["\u00f0\u0141\u013a\u0122", "<|endoftext|>", "caf\u00c3", "\u00a9"],
    ["  lead", "trail  ", " both ", "   "],
    ["a\tb", "line\nbreak", "\u00e9\u0301"],
]


def decoder_refs(out):
    specs = [
        ("byte_level", decoders.ByteLevel()),
        ("wordpiece", decoders.WordPiece(prefix="##", cleanup=True)),
        ("wordpiece_raw", decoders.WordPiece(prefix="##", cleanup=False)),
        ("bpe_suffix", decoders.BPEDecoder(suffix="</w>")),
        ("replace", decoders.Replace("\u2581", " ")),
        ("replace_regex", decoders.Replace(Regex(r"\s+"), "_")),
        ("byte_fallback", decoders.ByteFallback()),
        ("fuse", decoders.Fuse()),
        ("strip", decoders.Strip(" ", 1, 2)),
        ("llama2", decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                      decoders.Strip(" ", 1, 0)])),
    ]
    for scheme in ["always", "first", "never"]:
        for split in [True, False]:
            specs.append((f"metaspace/{scheme}/{split}", decoders.Metaspace(replacement="\u2581",
                                                                            prepend_scheme=scheme, split=split)))
    cases = []
    for name, dec in specs:
        tok = Tokenizer(models.BPE())
        tok.decoder = dec
        spec = json.loads(tok.to_str())["decoder"]
        cases.append({"name": name, "decoder": spec, "tokens": DECODER_TOKENS,
                      "strings": [dec.decode(t) for t in DECODER_TOKENS]})
    json.dump(cases, open(os.path.join(out, "decoders.json"), "w"), ensure_ascii=False, indent=0)


def decode_ref(tok, ids):
    chunks = []
    for skip in [True, False]:
        # DecodeStream gives up ("invalid prefix") where decoding more ids rewrites text already
        # emitted (WordPiece's clean-up, Strip): the chunks stop there, and the list ends in None.
        stream = decoders.DecodeStream(skip_special_tokens=skip)
        out = []
        for i in ids:
            try:
                out.append(stream.step(tok, i) or "")
            except Exception:
                out.append(None)
                break
        chunks.append(out)
    return {"ids": ids, "text": tok.decode(ids, skip_special_tokens=False),
            "text_skip_special": tok.decode(ids, skip_special_tokens=True),
            "stream_skip_special": chunks[0], "stream": chunks[1]}


def write(out, name, tok, max_length):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"))
    refs = []
    for text in TEXTS:
        full = tok.encode(text).ids
        if max_length:
            tok.enable_truncation(max_length)
        truncated = tok.encode(text).ids
        tok.no_truncation()
        refs.append({"text": text, "ids": full, "ids_truncated": truncated})
    # Generated text is any id sequence: random ones (every id, added tokens included) split
    # multi-byte characters and put special tokens mid-text.
    rng = random.Random(7)
    n = tok.get_vocab_size(with_added_tokens=True)
    decodes = [decode_ref(tok, r["ids"]) for r in refs]
    decodes += [decode_ref(tok, [rng.randrange(n) for _ in range(rng.randrange(1, 40))]) for _ in range(60)]
    json.dump({"max_length": max_length, "refs": refs, "decodes": decodes}, open(os.path.join(d, "refs.json"), "w"), ensure_ascii=False,
              indent=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    out = ap.parse_args().out
    with tempfile.TemporaryDirectory() as tmp:
        gz = clip_files(tmp)
    clip = build_clip(gz)
    assert clip.get_vocab_size() == 49408, clip.get_vocab_size()
    write(out, "clip", clip, 77)
    write(out, "gpt2", build_gpt2(), 32)
    write(out, "bert", build_bert(), 32)
    write(out, "clip_hf", build_clip_hf(gz), 77)
    write(out, "llama3", build_byte_level(LLAMA3_PATTERN, bos="<|begin_of_text|>"), 32)
    write(out, "qwen2", build_byte_level(QWEN2_PATTERN, normalizer=normalizers.NFC()), 32)
    write(out, "sp_bpe", build_sp_bpe(), 32)
    pre_tokenizer_refs(out)
    decoder_refs(out)
    print(f"tokenizer fixtures written to {out}")


if __name__ == "__main__":
    main()
