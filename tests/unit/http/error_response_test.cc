#include "http/error_response.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace sightline::http {
namespace {

std::string HeaderOf(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

TEST(ErrorResponse, MapsEveryCodeToItsStatus) {
  EXPECT_EQ(HttpStatusFor(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(StatusCode::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnsupportedMediaType), 415);
  EXPECT_EQ(HttpStatusFor(StatusCode::kBadGateway), 502);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnauthorized), 401);
  EXPECT_EQ(HttpStatusFor(StatusCode::kForbidden), 403);
  EXPECT_EQ(HttpStatusFor(StatusCode::kOverloaded), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFor(StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(StatusCode::kInternal), 500);
}

TEST(ErrorResponse, V1StyleNestsCodeAndMessage) {
  auto r = ErrorResponse(InvalidArgument("bad \"shape\""), ApiStyle::kV1);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, R"({"error":{"code":"invalid_argument","message":"bad \"shape\""}})");
}

TEST(ErrorResponse, KServeStyleKeepsErrorAString) {
  auto r = ErrorResponse(NotFound("unknown model 'x'"), ApiStyle::kKServe);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":"unknown model 'x'","code":"not_found"})");
}

TEST(ErrorResponse, OverloadCarriesRetryAfter) {
  Status s(StatusCode::kOverloaded, "queue is full");
  s.WithRetryAfter(2.25);
  auto r = ErrorResponse(s, ApiStyle::kV1);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "3");  // whole seconds, rounded up
  const auto body = boost::json::parse(r.body).as_object().at("error").as_object();
  EXPECT_EQ(body.at("code").as_string(), "overloaded");
  EXPECT_EQ(body.at("message").as_string(), "queue is full");
  EXPECT_DOUBLE_EQ(body.at("retry_after_sec").to_number<double>(), 2.25);
  Status tiny(StatusCode::kOverloaded, "x");
  tiny.WithRetryAfter(0.01);
  EXPECT_EQ(HeaderOf(ErrorResponse(tiny, ApiStyle::kKServe), "Retry-After"), "1");
}

TEST(ErrorResponse, KindIsDataBesideTheMessage) {
  auto v1 = ErrorResponse(InvalidImage("images[2] is truncated"), ApiStyle::kV1);
  EXPECT_EQ(v1.status, 400);
  EXPECT_EQ(
      v1.body,
      R"({"error":{"code":"invalid_argument","type":"invalid_image","message":"images[2] is truncated"}})");
  auto k = ErrorResponse(InvalidImage("truncated"), ApiStyle::kKServe);
  EXPECT_EQ(k.body,
            R"({"error":"invalid_image: truncated","code":"invalid_argument","type":"invalid_image"})");
  // An engine fault is the server's problem, never the client's.
  Status fault = Internal("onnxruntime: device lost");
  fault.WithKind(ErrorKind::kEngineFault);
  EXPECT_EQ(ErrorResponse(fault, ApiStyle::kV1).status, 500);
}

}  // namespace
}  // namespace sightline::http
