// The image fixtures media tests read: written by scripts/gen_image_fixtures.py (scripts/test.sh
// runs it first) into $SIGHTLINE_IMAGE_FIXTURES, or the build's fixtures/images.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace sightline::media {

inline std::vector<uint8_t> Fixture(const std::string& name) {
  const char* env = std::getenv("SIGHTLINE_IMAGE_FIXTURES");
  const std::string dir = env ? env : SIGHTLINE_IMAGE_FIXTURES_DIR;
  std::ifstream in(dir + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << dir << "/" << name
                         << ": run scripts/gen_image_fixtures.py --out " << dir;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace sightline::media
