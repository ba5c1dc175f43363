// Where the tokenizer parity fixtures are (scripts/gen_tokenizer_refs.py: tokenizer.json files and
// what the Hugging Face `tokenizers` package made of them), and reading them.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sightline::text {

inline std::string Dir() {
  const char* env = std::getenv("SIGHTLINE_TOKENIZER_FIXTURES");
  return env ? env : SIGHTLINE_TOKENIZER_FIXTURES_DIR;
}

inline boost::json::value ReadJson(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing " << path << ": run scripts/gen_tokenizer_refs.py";
  std::stringstream ss;
  ss << in.rdbuf();
  return boost::json::parse(ss.str());
}

inline boost::json::value Refs(const std::string& name) {
  return ReadJson(Dir() + "/" + name + "/refs.json");
}

inline std::vector<int64_t> Ids(const boost::json::value& v) {
  std::vector<int64_t> out;
  for (const auto& x : v.get_array()) out.push_back(x.to_number<int64_t>());
  return out;
}

}  // namespace sightline::text
