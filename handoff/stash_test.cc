// The stash layout: what a node writes into the replicated store for each session.
#include "handoff/stash.h"

#include <gtest/gtest.h>

#include <string>

namespace minotaur::handoff {
namespace {

TEST(Stash, HolderAndStateRoundTrip) {
  const std::string v = encode_stashed(7, true, "n1#3", "state bytes");
  const auto s = decode_stashed(v);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->epoch, 7u);
  EXPECT_TRUE(s->is_game);
  EXPECT_EQ(s->holder, "n1#3");
  EXPECT_TRUE(s->moving_to.empty());
  EXPECT_EQ(s->state, "state bytes");
}

TEST(Stash, AHandOffNamesItsTarget) {
  const std::string v = encode_stashed(1ULL << 40, false, "n1#3", std::string("\0x", 2), "n2#9");
  const auto s = decode_stashed(v);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->epoch, 1ULL << 40);
  EXPECT_FALSE(s->is_game);
  EXPECT_EQ(s->holder, "n1#3");
  EXPECT_EQ(s->moving_to, "n2#9");
  EXPECT_EQ(s->state, std::string("\0x", 2));
}

TEST(Stash, TheFirstLayoutIsStillRead) {
  std::string v(8, '\0');
  v[0] = 5;
  v += 'g';
  v += "old state";
  const auto s = decode_stashed(v);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->epoch, 5u);
  EXPECT_TRUE(s->is_game);
  EXPECT_TRUE(s->holder.empty());
  EXPECT_EQ(s->state, "old state");
}

TEST(Stash, TruncatedOrUnknownValuesAreRefused) {
  const std::string moving = encode_stashed(3, true, "holder#1", "s", "target#2");
  // Every cut inside the header (epoch, kind, holder, target) is refused, never read past.
  const std::size_t header = 8 + 1 + 1 + 8 + 1 + 8;
  for (std::size_t n = 0; n < header; ++n) {
    EXPECT_FALSE(decode_stashed(moving.substr(0, n))) << n;
  }
  EXPECT_TRUE(decode_stashed(moving.substr(0, header)));  // an empty state is a state
  std::string unknown = moving;
  unknown[8] = 'X';
  EXPECT_FALSE(decode_stashed(unknown));
  std::string no_target = encode_stashed(3, true, "holder#1", "");
  no_target[8] = 'M';  // says moving, names an empty target
  no_target += '\0';
  EXPECT_FALSE(decode_stashed(no_target));
}

}  // namespace
}  // namespace minotaur::handoff
