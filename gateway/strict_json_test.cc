#include "gateway/strict_json.h"

#include <gtest/gtest.h>

namespace minotaur::gateway {
namespace {

TEST(StrictJson, ParsesWhatBoostJsonParses) {
  auto v = parse_strict_json(R"({"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]})", 8);
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(v.value().at("b").at("a").as_int64(), 2);
}

TEST(StrictJson, RefusesAKeyNamedTwiceInOneObjectAtAnyDepth) {
  for (const char* text : {R"({"type":"move","type":"attack"})", R"({"a":{"x":1,"x":1}})",
                           R"([{"":1,"":2}])", R"({"lo\u006eg":1,"long":2})"}) {
    auto v = parse_strict_json(text, 8);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_NE(v.error().find("twice"), std::string::npos) << v.error();
  }
}

TEST(StrictJson, RefusesDeepNestingAndBrokenText) {
  EXPECT_FALSE(parse_strict_json("[[[[[[[[[[1]]]]]]]]]]", 4).ok());
  EXPECT_FALSE(parse_strict_json(R"({"a":)", 8).ok());
  EXPECT_FALSE(parse_strict_json("", 8).ok());
  EXPECT_FALSE(parse_strict_json("{} {}", 8).ok());
}

}  // namespace
}  // namespace minotaur::gateway
