#include "game/display_name.h"

#include <gtest/gtest.h>

#include <string>

namespace minotaur::game {
namespace {

TEST(DisplayName, TakesNamesInAnyScriptAndMarkupAsText) {
  for (const char* ok : {"Ada", "Zoë", "李小龙", "Ω-7", "<b>bold</b>", "a b",
                         "12345678901234567890123456789012",    // 32 characters
                         "ééééééééééééééééééééééééééééééé"}) {  // 31 two-byte characters
    EXPECT_TRUE(check_display_name(ok).ok()) << ok;
  }
}

TEST(DisplayName, RefusesControlsDirectionChangesAndBrokenUtf8) {
  for (const std::string& bad : {
           std::string(""),
           std::string("123456789012345678901234567890123"),  // 33 characters
           std::string("a\nb"), std::string("a\x7f"), std::string("tab\there"),
           std::string("\xc2\x85"),  // U+0085, a C1 control
           std::string("abc\xe2\x80\xae"
                       "cba"),                    // U+202E right-to-left override
           std::string("x\xe2\x81\xa6y"),         // U+2066 left-to-right isolate
           std::string("zero\xe2\x80\x8bwidth"),  // U+200B
           std::string("\xef\xbb\xbf"
                       "bom"),               // U+FEFF
           std::string("\xc3"),              // truncated
           std::string("\xc0\xaf"),          // overlong '/'
           std::string("\xed\xa0\x80"),      // a surrogate
           std::string("\xf4\x90\x80\x80"),  // past U+10FFFF
           std::string(" lead"),
           std::string("trail\xc2\xa0"),  // no-break space at the end
       }) {
    EXPECT_FALSE(check_display_name(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace minotaur::game
