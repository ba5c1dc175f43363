#!/usr/bin/env python3
"""Tokenize time against word length (issue 11, field report 8): Sightline's C++ tokenizer
(build/bench/tokenize_bench) and the Hugging Face `tokenizers` package, on the same tokenizer.json,
for one word of N letters and for the same letters split into 6-letter words. Prints a table and
the growth of time from the shortest to the longest word (linear: ~length ratio; quadratic: its
square).

  .venv/bin/python bench/run_tokenize_bench.py --tokenizer build/fixtures/tokenizers/gpt2/tokenizer.json
"""
import argparse
import json
import subprocess
import time

from tokenizers import Tokenizer


def letters(n, spaced):
    out = []
    for i in range(n):
        out.append(chr(ord("a") + (i * 7 + i // 13) % 26))
        if spaced and i % 6 == 5:
            out.append(" ")
    return "".join(out)


def best_ms(tok, text, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = len(tok.encode(text).ids)
        best = min(best, (time.perf_counter() - t0) * 1000)
    return best, n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--bench", default="build/bench/tokenize_bench")
    ap.add_argument("--lengths", default="1000,4000,16000,64000,256000")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    lengths = [int(x) for x in a.lengths.split(",")]
    out = subprocess.run([a.bench, "--tokenizer", a.tokenizer, "--repeats", str(a.repeats), "--lengths", *map(str, lengths)],
                         check=True, capture_output=True, text=True).stdout
    ours = [json.loads(line) for line in out.splitlines() if line.strip()]
    hf = Tokenizer.from_file(a.tokenizer)
    print(f"{'letters':>8} {'one word ms':>12} {'hf one word':>12} {'short words':>12} {'hf short':>10} {'ids':>7} {'hf ids':>7}")
    for row in ours:
        n = row["letters"]
        hf_one, hf_ids = best_ms(hf, letters(n, False), a.repeats)
        hf_short, _ = best_ms(hf, letters(n, True), a.repeats)
        print(f"{n:>8} {row['one_word_ms']:>12.2f} {hf_one:>12.2f} {row['short_words_ms']:>12.2f} {hf_short:>10.2f}"
              f" {row['ids']:>7} {hf_ids:>7}")
    first, last = ours[0], ours[-1]
    print(f"growth {first['letters']} -> {last['letters']} letters (x{last['letters'] / first['letters']:.0f}): "
          f"one word x{last['one_word_ms'] / max(first['one_word_ms'], 1e-6):.0f}")


if __name__ == "__main__":
    main()
