// The videos media and task tests read: written by scripts/gen_video_fixtures.py and
// scripts/gen_detector_reference.py (scripts/test.sh runs both first) into
// $SIGHTLINE_VIDEO_FIXTURES, or the build's fixtures/videos.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace sightline::media {

inline std::string VideoFixtureDir() {
  const char* env = std::getenv("SIGHTLINE_VIDEO_FIXTURES");
  return env ? env : SIGHTLINE_VIDEO_FIXTURES_DIR;
}

inline std::string VideoFixturePath(const std::string& name) {
  return VideoFixtureDir() + "/" + name;
}

inline std::string ReadVideoFixture(const std::string& name) {
  std::ifstream in(VideoFixturePath(name), std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fixture " << VideoFixturePath(name)
                         << ": run scripts/gen_video_fixtures.py and scripts/gen_detector_reference.py";
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline boost::json::value ReadVideoJson(const std::string& name) {
  return boost::json::parse(ReadVideoFixture(name));
}

}  // namespace sightline::media
