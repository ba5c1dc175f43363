// Tokenize time against word length (field report 8): one word of N letters, and the same letters
// as short words, through text::Tokenizer with a given tokenizer.json. Prints one JSON object per
// length: {"letters", "one_word_ms", "short_words_ms", "ids"}. bench/run_tokenize_bench.py runs it
// beside the Hugging Face `tokenizers` package on the same file.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "text/tokenizer.h"

namespace {

std::string Letters(size_t n, bool spaced) {
  std::string s;
  s.reserve(n + n / 6);
  for (size_t i = 0; i < n; ++i) {
    s += static_cast<char>('a' + (i * 7 + i / 13) % 26);
    if (spaced && i % 6 == 5) s += ' ';
  }
  return s;
}

double BestMs(const sightline::text::Tokenizer& tok, const std::string& text, int repeats, size_t* ids) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    *ids = tok.Encode(text).ids.size();
    best = std::min(best,
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string file;
  std::vector<size_t> lengths{1000, 4000, 16000, 64000, 256000};
  int repeats = 3;
  CLI::App app{"tokenize time against word length"};
  app.add_option("--tokenizer", file, "tokenizer.json")->required();
  app.add_option("--lengths", lengths);
  app.add_option("--repeats", repeats);
  CLI11_PARSE(app, argc, argv);
  auto tok = sightline::text::Tokenizer::FromFile(file);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", tok.status().ToString().c_str());
    return 1;
  }
  for (size_t n : lengths) {
    size_t ids = 0, short_ids = 0;
    // The cache would answer repeats of a short word; a long word is never cached.
    const double one = BestMs(**tok, Letters(n, false), repeats, &ids);
    const double many = BestMs(**tok, Letters(n, true), repeats, &short_ids);
    std::printf("{\"letters\": %zu, \"one_word_ms\": %.3f, \"short_words_ms\": %.3f, \"ids\": %zu}\n", n, one,
                many, ids);
  }
  return 0;
}
