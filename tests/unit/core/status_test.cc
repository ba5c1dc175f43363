#include "core/status.h"

#include <gtest/gtest.h>

namespace sightline {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("odd");
  return x / 2;
}

Status UsesAssign(int x, int* out) {
  ASSIGN_OR_RETURN(int h, Half(x));
  *out = h;
  return Status::Ok();
}

TEST(Status, CarriesCodeAndMessage) {
  Status s = InvalidArgument("bad shape");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.ToString(), "invalid_argument: bad shape");
}

TEST(Status, KindIsDataNotAPrefix) {
  Status s = InvalidImage("truncated");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.kind(), ErrorKind::kInvalidImage);
  EXPECT_EQ(s.message(), "truncated");
  EXPECT_EQ(s.ToString(), "invalid_argument (invalid_image): truncated");
  Status p = s.Prefixed("images[3]: ");
  EXPECT_EQ(p.message(), "images[3]: truncated");
  EXPECT_EQ(p.kind(), ErrorKind::kInvalidImage);
}

TEST(Status, AssignOrReturnPropagates) {
  int out = -1;
  EXPECT_TRUE(UsesAssign(4, &out).ok());
  EXPECT_EQ(out, 2);
  Status s = UsesAssign(3, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out, 2);
}

}  // namespace
}  // namespace sightline
