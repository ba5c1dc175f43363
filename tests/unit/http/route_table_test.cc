#include "http/route_table.h"

#include <gtest/gtest.h>

namespace sightline::http {
namespace {

TEST(RouteTable, MatchesPatternsAndCapturesParams) {
  RouteTable r;
  Handler h = [](const HttpRequest&, const PathParams&, Responder) {};
  r.Add("POST", "/v2/models/{model}/infer", h);
  r.Add("POST", "/v2/models/{model}/versions/{version}/infer", h);
  r.Add("GET", "/healthz", h, true);
  auto m = r.Match("POST", "/v2/models/simple/versions/3/infer");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("model"), "simple");
  EXPECT_EQ(m.params.at("version"), "3");
  EXPECT_TRUE(r.Match("HEAD", "/healthz").route->public_route);
  auto wrong_method = r.Match("GET", "/v2/models/simple/infer");
  EXPECT_EQ(wrong_method.route, nullptr);
  EXPECT_TRUE(wrong_method.path_matched);
  EXPECT_FALSE(r.Match("GET", "/nope").path_matched);
  EXPECT_EQ(r.Match("POST", "/v2/models//infer").route, nullptr);
}

}  // namespace
}  // namespace sightline::http
