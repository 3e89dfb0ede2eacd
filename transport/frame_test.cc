#include "transport/frame.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace minotaur::transport {
namespace {

std::vector<std::string> drain(FrameDecoder& d) {
  std::vector<std::string> out;
  for (;;) {
    auto f = d.next();
    EXPECT_TRUE(f.ok());
    if (!f.ok() || !f.value().has_value()) return out;
    out.push_back(*f.value());
  }
}

TEST(Frame, EncodesBigEndianLengthThenPayload) {
  auto f = encode_frame("abc");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.value(), std::string("\0\0\0\x03"
                                   "abc",
                                   7));
}

TEST(Frame, RefusesToEncodeOversizedPayload) {
  auto f = encode_frame(std::string(11, 'x'), 10);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error(), FrameError::kOversized);
}

TEST(Frame, DecodesFramesSplitAtEveryByte) {
  std::string stream;
  const std::vector<std::string> sent = {"hello", "", std::string(1000, 'z'), "end"};
  for (const auto& p : sent) stream += encode_frame(p).value();
  FrameDecoder d(2000);
  std::vector<std::string> got;
  for (char c : stream) {
    d.feed(std::string_view(&c, 1));
    for (auto& f : drain(d)) got.push_back(f);
  }
  EXPECT_EQ(got, sent);
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(Frame, DecodesRandomChunking) {
  const std::uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<std::string> sent;
  std::string stream;
  for (int i = 0; i < 200; ++i) {
    std::string p(rng() % 300, static_cast<char>('a' + i % 26));
    stream += encode_frame(p).value();
    sent.push_back(std::move(p));
  }
  FrameDecoder d(300);
  std::vector<std::string> got;
  std::size_t at = 0;
  while (at < stream.size()) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 700, stream.size() - at);
    d.feed(std::string_view(stream).substr(at, n));
    at += n;
    for (auto& f : drain(d)) got.push_back(f);
  }
  EXPECT_EQ(got, sent);
}

TEST(Frame, OversizedLengthIsAnErrorAndTheDecoderStaysFailed) {
  FrameDecoder d(16);
  d.feed(std::string("\x7f\xff\xff\xff", 4));
  auto f = d.next();
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error(), FrameError::kOversized);
  EXPECT_TRUE(d.failed());
  d.feed(encode_frame("ok").value());
  EXPECT_FALSE(d.next().ok());
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(Frame, LengthAtTheBoundIsAccepted) {
  FrameDecoder d(4);
  d.feed(encode_frame("abcd", 4).value());
  auto f = d.next();
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f.value().has_value());
  EXPECT_EQ(*f.value(), "abcd");
}

TEST(Frame, TruncatedFrameWaitsForMoreBytes) {
  FrameDecoder d;
  const std::string frame = encode_frame("truncated").value();
  d.feed(std::string_view(frame).substr(0, frame.size() - 1));
  auto f = d.next();
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f.value().has_value());
  d.feed(std::string_view(frame).substr(frame.size() - 1));
  EXPECT_EQ(*d.next().value(), "truncated");
}

TEST(Frame, RaisingTheBoundAfterTheHandshake) {
  FrameDecoder d(kHandshakeMaxFrameBytes);
  const std::string big(kHandshakeMaxFrameBytes + 1, 'b');
  d.set_max_frame_bytes(kDefaultMaxFrameBytes);
  d.feed(encode_frame(big).value());
  EXPECT_EQ(*d.next().value(), big);
}

}  // namespace
}  // namespace minotaur::transport
