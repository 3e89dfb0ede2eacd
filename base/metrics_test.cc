#include "base/metrics.h"

#include <gtest/gtest.h>

namespace minotaur {
namespace {

TEST(MetricsTest, RendersHelpTypeAndSamplesInTheOrderAdded) {
  Metrics m;
  std::uint64_t sent = 7;
  m.add_counter("minotaur_sent_total", "messages sent", [&] { return sent; });
  m.add_gauge("minotaur_open", "connections open now", [] { return 3; });
  sent = 9;  // read at rendering, not when added
  EXPECT_EQ(m.render(),
            "# HELP minotaur_sent_total messages sent\n"
            "# TYPE minotaur_sent_total counter\n"
            "minotaur_sent_total 9\n"
            "# HELP minotaur_open connections open now\n"
            "# TYPE minotaur_open gauge\n"
            "minotaur_open 3\n");
}

TEST(MetricsTest, HeldValuesCountWhereTheyAreKept) {
  Metrics m;
  Metrics::Value& requests = m.held_counter("minotaur_requests_total", "requests");
  Metrics::Value& open = m.held_gauge("minotaur_open", "open");
  for (int i = 0; i < 100; ++i) m.held_gauge("minotaur_other_" + std::to_string(i), "more");
  ++requests;
  ++requests;
  ++open;
  const std::string text = m.render();
  EXPECT_NE(text.find("\nminotaur_requests_total 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nminotaur_open 1\n"), std::string::npos) << text;
}

TEST(MetricsTest, SamplesWithLabelsShareOneHelpAndType) {
  Metrics m;
  m.add_counter("minotaur_refused_total", "connections refused", [] { return 1; },
                {{"reason", "unauthenticated"}});
  m.add_counter("minotaur_refused_total", "connections refused", [] { return 2; },
                {{"reason", "established"}, {"side", "a\"b\\c\nd"}});
  EXPECT_EQ(m.render(),
            "# HELP minotaur_refused_total connections refused\n"
            "# TYPE minotaur_refused_total counter\n"
            "minotaur_refused_total{reason=\"unauthenticated\"} 1\n"
            "minotaur_refused_total{reason=\"established\",side=\"a\\\"b\\\\c\\nd\"} 2\n");
}

TEST(MetricsTest, EscapesHelpText) {
  Metrics m;
  m.add_gauge("minotaur_x", "a \\ and\na line", [] { return 0; });
  EXPECT_EQ(m.render(),
            "# HELP minotaur_x a \\\\ and\\na line\n# TYPE minotaur_x gauge\nminotaur_x 0\n");
}

TEST(MetricsTest, RendersTheFullRangeOfValues) {
  Metrics m;
  m.add_counter("minotaur_bytes_total", "bytes", [] { return ~std::uint64_t{0}; });
  EXPECT_NE(m.render().find("minotaur_bytes_total 18446744073709551615\n"), std::string::npos);
}

}  // namespace
}  // namespace minotaur
