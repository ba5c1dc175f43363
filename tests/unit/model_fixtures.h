// Where the generated model fixtures are (scripts/gen_fixtures.py, gen_clip_fixture.py):
// $SIGHTLINE_FIXTURES (scripts/test.sh sets it for every build, the sanitizer one included), else
// the release build's fixtures folder.
#pragma once

#include <cstdlib>
#include <filesystem>

inline std::filesystem::path ModelFixturesDir() {
  const char* env = std::getenv("SIGHTLINE_FIXTURES");
  return env ? env : SIGHTLINE_MODEL_FIXTURES_DIR;
}
