#include "http/multipart.h"

#include <gtest/gtest.h>

namespace sightline::http {
namespace {

TEST(Multipart, BoundaryFromContentType) {
  auto plain = MultipartBoundary("multipart/form-data; boundary=abc123");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain.value(), "abc123");
  auto quoted = MultipartBoundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b;c\"");
  ASSERT_TRUE(quoted.ok());
  EXPECT_EQ(quoted.value(), "a b;c");
  EXPECT_FALSE(MultipartBoundary("multipart/form-data").ok());
  EXPECT_FALSE(MultipartBoundary("application/json; boundary=x").ok());
}

TEST(Multipart, FilesAndFieldsWithBinaryBodies) {
  static constexpr char kBin[] = "\x00\xff\r\n--not-the-boundary\r\n";
  const std::string bin(kBin, sizeof kBin - 1);  // NUL byte included, trailing terminator not
  const std::string body =
      "preamble\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
      "Content-Type: image/PNG\r\n\r\n" +
      bin +
      "\r\n--XyZ\r\n"
      "Content-Disposition: form-data; name=\"output\"\r\n\r\n"
      "mask\r\n--XyZ--\r\nepilogue";
  auto parts = ParseMultipart(body, "XyZ");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "file");
  EXPECT_EQ((*parts)[0].filename, "a.png");
  EXPECT_EQ((*parts)[0].content_type, "image/png");
  EXPECT_EQ((*parts)[0].body, bin);
  EXPECT_EQ((*parts)[1].name, "output");
  EXPECT_EQ((*parts)[1].body, "mask");
}

TEST(Multipart, MalformedBodiesAreErrorsNotCrashes) {
  for (const char* body : {"", "--XyZ", "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nunterminated",
                           "--XyZ\r\nno-colon-header\r\n\r\nx\r\n--XyZ--",
                           "--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--", "--XyZjunk"}) {
    auto parts = ParseMultipart(body, "XyZ");
    EXPECT_FALSE(parts.ok()) << body;
    if (!parts.ok()) {
      EXPECT_EQ(parts.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace sightline::http
