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

  scripts/gen_tokenizer_refs.py --out build/fixtures/tokenizers
"""
import argparse
import glob
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
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[
        ("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))])
    return tok


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
    json.dump({"max_length": max_length, "refs": refs}, open(os.path.join(d, "refs.json"), "w"), ensure_ascii=False,
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
    print(f"tokenizer fixtures written to {out}")


if __name__ == "__main__":
    main()
