#include "media/isobmff.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "image_fixtures.h"
#include "media/image_decoder.h"

namespace sightline::media {
namespace {

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(Isobmff, ACompleteAvifPasses) {
  const auto avif = Fixture("rgb.avif");
  ASSERT_GT(avif.size(), 100u);
  EXPECT_TRUE(CheckIsobmffComplete(avif.data(), avif.size()).ok());
}

// Field report 9: libheif/dav1d leak on truncated AVIFs. Every strict prefix of a real AVIF is
// refused from the container alone (a cut box, or item data past the end), so none reaches them.
TEST(Isobmff, EveryTruncationOfARealAvifIsRefusedBeforeLibheif) {
  const auto avif = Fixture("rgb.avif");
  for (size_t n = 0; n < avif.size(); ++n) {
    const Status s = CheckIsobmffComplete(avif.data(), n);
    if (n == 0) continue;  // empty: nothing to walk (the decoder refuses empty input first)
    ASSERT_FALSE(s.ok()) << "prefix of " << n << " bytes passed";
    EXPECT_EQ(s.kind(), ErrorKind::kInvalidImage);
  }
}

TEST(Isobmff, TheFieldReportFileIsAnInvalidImageWithoutDecoding) {
  const auto bytes = ReadFile(std::string(SIGHTLINE_SOURCE_DIR) + "/tests/data/truncated_avif_leak.avif");
  ASSERT_EQ(bytes.size(), 270u);
  const Status s = CheckIsobmffComplete(bytes.data(), bytes.size());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.message();
  auto img = DecodeImage(bytes.data(), bytes.size());
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().kind(), ErrorKind::kInvalidImage);
}

// Found by fuzz_image_decoder in CI: an AVIF whose only item's extent has length 0 (and whose
// av1C carries no config OBUs) reaches dav1d as an empty buffer, which leaks libheif's wrapper.
TEST(Isobmff, AnItemExtentOfLengthZeroIsRefusedBeforeLibheif) {
  const auto bytes = ReadFile(std::string(SIGHTLINE_SOURCE_DIR) + "/tests/data/empty_extent_avif_leak.avif");
  ASSERT_EQ(bytes.size(), 497u);
  const Status s = CheckIsobmffComplete(bytes.data(), bytes.size());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("length 0"), std::string::npos) << s.message();
  auto img = DecodeImage(bytes.data(), bytes.size());
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().kind(), ErrorKind::kInvalidImage);
}

}  // namespace
}  // namespace sightline::media
