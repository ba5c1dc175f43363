// The reference generations scripts/reference_generate.py writes into a fixture's refs.json:
// reading the file, a case's parameters as GenerationParams, id lists.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "generation/generation_params.h"

namespace sightline::generation {

inline boost::json::value ReadRefs(const std::filesystem::path& dir) {
  std::ifstream in(dir / "refs.json");
  EXPECT_TRUE(in.good()) << dir << "/refs.json is missing: run the fixture's scripts/gen_*_fixture.py";
  std::stringstream ss;
  ss << in.rdbuf();
  return boost::json::parse(ss.str());
}

inline std::vector<int64_t> Ids(const boost::json::value& v) {
  std::vector<int64_t> out;
  for (const auto& x : v.as_array()) out.push_back(x.to_number<int64_t>());
  return out;
}

inline GenerationParams ParamsOf(const boost::json::object& p, std::vector<int64_t> eos) {
  GenerationParams g;
  g.eos_token_ids = std::move(eos);
  auto num = [&](const char* k, double fallback) {
    return p.contains(k) ? p.at(k).to_number<double>() : fallback;
  };
  g.max_new_tokens = static_cast<int>(num("max_new_tokens", 16));
  g.min_new_tokens = static_cast<int>(num("min_new_tokens", 0));
  g.do_sample = p.contains("do_sample") && p.at("do_sample").as_bool();
  g.temperature = num("temperature", 1);
  g.top_k = static_cast<int>(num("top_k", 0));
  g.top_p = num("top_p", 1);
  g.repetition_penalty = num("repetition_penalty", 1);
  g.no_repeat_ngram_size = static_cast<int>(num("no_repeat_ngram_size", 0));
  g.num_beams = static_cast<int>(num("num_beams", 1));
  g.length_penalty = num("length_penalty", 1);
  g.early_stopping = p.contains("early_stopping") && p.at("early_stopping").as_bool() ? EarlyStopping::kTrue
                                                                                      : EarlyStopping::kFalse;
  return g;
}

}  // namespace sightline::generation
