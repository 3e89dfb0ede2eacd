#include "transport/address.h"

#include <gtest/gtest.h>

namespace minotaur::transport {
namespace {

TEST(Address, ParsesHostPort) {
  auto hp = parse_host_port("node-1.example:7000");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp.value().host, "node-1.example");
  EXPECT_EQ(hp.value().port, 7000);
  EXPECT_EQ(format_host_port(hp.value()), "node-1.example:7000");
}

TEST(Address, ParsesBracketedIpv6) {
  auto hp = parse_host_port("[::1]:0");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp.value().host, "::1");
  EXPECT_EQ(hp.value().port, 0);
  EXPECT_EQ(format_host_port(hp.value()), "[::1]:0");
}

TEST(Address, RefusesBadInput) {
  for (const char* bad : {"", "host", ":80", "host:", "host:65536", "host:-1", "host:8x", "::1:80",
                          "[::1]80", "a b:1", "[::1"}) {
    SCOPED_TRACE(bad);
    auto hp = parse_host_port(bad);
    ASSERT_FALSE(hp.ok());
    EXPECT_FALSE(hp.error().empty());
  }
}

TEST(Address, ParsesLists) {
  auto l = parse_host_port_list("a:1,,b:2");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l.value().size(), 2u);
  EXPECT_EQ(l.value()[1].host, "b");
  EXPECT_FALSE(parse_host_port_list("a:1,b").ok());
  std::string many;
  for (std::size_t i = 0; i <= kMaxSeedAddresses; ++i) many += "h:1,";
  EXPECT_FALSE(parse_host_port_list(many).ok());
}

}  // namespace
}  // namespace minotaur::transport
