#include "core/utf8.h"

#include <gtest/gtest.h>

namespace sightline {
namespace {

TEST(Utf8, WellFormedTextPassesUnchanged) {
  for (const char* s :
       {"", "plain", "caf\xC3\xA9", "\xE6\x97\xA5\xE6\x9C\xAC", "\xF0\x9F\x98\x80", "\xEF\xBF\xBD"}) {
    EXPECT_TRUE(IsValidUtf8(s)) << s;
    EXPECT_EQ(ToValidUtf8(s), s);
  }
}

TEST(Utf8, EachIllFormedSubpartBecomesOneReplacementCharacter) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_FALSE(IsValidUtf8("a\xFF"));
  EXPECT_EQ(ToValidUtf8("a\xFF"
                        "b"),
            "a" + r + "b");
  EXPECT_EQ(ToValidUtf8("\xF0\x9F\x98"), r);  // a truncated 4-byte sequence: one
  EXPECT_EQ(ToValidUtf8("\xF0\x9F\x98"
                        "x"),
            r + "x");
  EXPECT_EQ(ToValidUtf8("\xC0\xAF"), r + r);                  // overlong lead bytes: each alone
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), r + r + r);          // a surrogate: the lead, then two strays
  EXPECT_EQ(ToValidUtf8("\xF4\x90\x80\x80"), r + r + r + r);  // past U+10FFFF
  EXPECT_EQ(ToValidUtf8("\x80\x80"), r + r);
}

}  // namespace
}  // namespace sightline
