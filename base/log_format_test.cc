// JsonLogFormatter: each line one JSON object with the fields a collector indexes, whatever the
// message carries.
#include "base/log_format.h"

#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>

#include <boost/json.hpp>
#include <chrono>
#include <string>

namespace minotaur {
namespace {

boost::json::object line(std::string_view payload, spdlog::level::level_enum level,
                         std::chrono::system_clock::time_point when) {
  spdlog::details::log_msg msg(spdlog::source_loc{}, "minotaur", level, payload);
  msg.time = when;
  spdlog::memory_buf_t out;
  JsonLogFormatter("n1").format(msg, out);
  const std::string text(out.data(), out.size());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line: " << text;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return v.is_object() ? v.as_object() : boost::json::object{};
}

TEST(JsonLogFormatter, GivesTimeLevelNodeComponentAndMessage) {
  // 2026-12-07T13:09:58.133Z
  const auto when = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796648998133));
  const auto o = line("transport: peer n2#7 (127.0.0.1:9081) connected", spdlog::level::info, when);
  EXPECT_EQ(o.at("time"), "2026-12-07T13:09:58.133Z");
  EXPECT_EQ(o.at("level"), "info");
  EXPECT_EQ(o.at("node"), "n1");
  EXPECT_EQ(o.at("component"), "transport");
  EXPECT_EQ(o.at("message"), "transport: peer n2#7 (127.0.0.1:9081) connected");
  EXPECT_EQ(line("session g_1: started here", spdlog::level::warn, when).at("component"),
            "session g_1");
  EXPECT_FALSE(line("no component here", spdlog::level::err, when).contains("component"));
  EXPECT_EQ(line("x", spdlog::level::err, when).at("level"), "error");
}

TEST(JsonLogFormatter, EscapesWhatAMessageCarries) {
  const auto when = std::chrono::system_clock::now();
  const std::string nasty = "a \"quoted\" \\ line\nwith\ttabs, \x01 and \xff\xfe bytes, é";
  const auto o = line(nasty, spdlog::level::info, when);
  EXPECT_EQ(o.at("message"),
            "a \"quoted\" \\ line\nwith\ttabs, \x01 and \xEF\xBF\xBD\xEF\xBF\xBD bytes, é");
}

}  // namespace
}  // namespace minotaur
