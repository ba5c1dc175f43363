#include "http/access_control.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace sightline::http {
namespace {

TEST(AccessControl, CidrAllowlist) {
  auto ac = AccessControl::Create("", {"10.1.0.0/16", "::1/128", "192.168.5.7"});
  ASSERT_TRUE(ac.ok()) << ac.status().ToString();
  EXPECT_TRUE(ac->CheckAddress("10.1.200.3").ok());
  EXPECT_FALSE(ac->CheckAddress("10.2.0.1").ok());
  EXPECT_TRUE(ac->CheckAddress("::1").ok());
  EXPECT_TRUE(ac->CheckAddress("192.168.5.7").ok());
  EXPECT_EQ(ac->CheckAddress("192.168.5.8").code(), StatusCode::kForbidden);
  EXPECT_TRUE(ac->CheckAddress("::ffff:10.1.0.9").ok());  // IPv4-mapped IPv6
  EXPECT_FALSE(AccessControl::Create("", {"10.0.0.0/33"}).ok());
  EXPECT_FALSE(AccessControl::Create("", {"not-an-ip"}).ok());
}

TEST(AccessControl, EmptyAllowlistAllowsAll) {
  AccessControl ac;
  EXPECT_TRUE(ac.CheckAddress("203.0.113.9").ok());
}

TEST(AccessControl, ApiKeysFromFileBearerOrHeader) {
  const std::string path = testing::TempDir() + "/keys.txt";
  std::ofstream(path) << "# comment\n\nsecret-one\n  secret-two  \n";
  auto ac = AccessControl::Create(path, {});
  ASSERT_TRUE(ac.ok());
  HttpRequest req;
  EXPECT_EQ(ac->CheckKey(req).code(), StatusCode::kUnauthorized);
  req.headers = {{"authorization", "Bearer secret-two"}};
  EXPECT_TRUE(ac->CheckKey(req).ok());
  req.headers = {{"x-api-key", "secret-one"}};
  EXPECT_TRUE(ac->CheckKey(req).ok());
  req.headers = {{"x-api-key", "secret-on"}};
  EXPECT_EQ(ac->CheckKey(req).code(), StatusCode::kUnauthorized);
  req.headers = {{"authorization", "Basic c2VjcmV0LW9uZQ=="}};
  EXPECT_EQ(ac->CheckKey(req).code(), StatusCode::kUnauthorized);
  std::remove(path.c_str());
}

TEST(AccessControl, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

}  // namespace
}  // namespace sightline::http
