#include "http/content_encoding.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace sightline::http {
namespace {

// `text` compressed with zlib's `window_bits` (15 + 16: gzip, 15: zlib, -15: raw deflate).
std::string Compress(const std::string& text, int window_bits) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, text.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST(ContentEncoding, GzipZlibAndRawDeflateInflate) {
  const std::string text = "{\"inputs\": []} " + std::string(300000, 'x');
  auto gz = InflateBody(Compress(text, 15 + 16), "gzip", 1 << 20);
  ASSERT_TRUE(gz.ok()) << gz.status().ToString();
  EXPECT_EQ(*gz, text);
  auto xgz = InflateBody(Compress(text, 15 + 16), "X-GZIP", 1 << 20);
  ASSERT_TRUE(xgz.ok());
  auto zlib = InflateBody(Compress(text, 15), "deflate", 1 << 20);
  ASSERT_TRUE(zlib.ok()) << zlib.status().ToString();
  EXPECT_EQ(*zlib, text);
  auto raw = InflateBody(Compress(text, -15), "deflate", 1 << 20);
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(*raw, text);
}

TEST(ContentEncoding, BombsStopAtTheLimitAndGarbageIsAClientError) {
  const std::string zeros(50 << 20, '\0');  // 50 MiB of zeros: ~50 KB compressed
  auto bomb = InflateBody(Compress(zeros, 15 + 16), "gzip", 1 << 20);
  ASSERT_FALSE(bomb.ok());
  EXPECT_EQ(bomb.status().code(), StatusCode::kPayloadTooLarge);
  const std::string gz = Compress("hello, world", 15 + 16);
  for (const std::string& bad :
       {std::string("not gzip at all"), gz.substr(0, gz.size() - 6), std::string()}) {
    auto r = InflateBody(bad, "gzip", 1 << 20);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  }
  EXPECT_EQ(InflateBody(gz, "br", 1 << 20).status().code(), StatusCode::kUnsupportedMediaType);
  // Trailing bytes after the stream are refused; further gzip members are part of the body.
  auto trailing = InflateBody(gz + "GARBAGE", "gzip", 1 << 20);
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.status().message().find("after the end"), std::string::npos);
  auto members = InflateBody(Compress("hello, ", 15 + 16) + Compress("world", 15 + 16), "gzip", 1 << 20);
  ASSERT_TRUE(members.ok()) << members.status().ToString();
  EXPECT_EQ(*members, "hello, world");
  EXPECT_FALSE(InflateBody(Compress("x", 15) + "y", "deflate", 1 << 20).ok());
  EXPECT_TRUE(IsInflatableEncoding("Gzip"));
  EXPECT_FALSE(IsInflatableEncoding("identity"));
}

}  // namespace
}  // namespace sightline::http
