// HttpClient: a blocking HTTP/1.1 client on one keep-alive connection to 127.0.0.1:PORT, for the
// bench's setup and checks (creating users and games, reading games back) and the test harness.
// Sends again, once, on a new connection when a kept-alive one turned out closed by the server;
// never when a new connection failed (the request may have been served). Each instance is used
// by one thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace minotaur::bench {

struct HttpAnswer {
  int status = 0;  // 0: no answer (refused, reset, timed out)
  std::string body;
  boost::json::value json() const;  // null when the body is not JSON
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port) : port_(port) {}
  HttpAnswer request(const std::string& method, const std::string& path,
                     const std::string& body = "", const std::string& token = "");

 private:
  std::uint16_t port_;
  boost::asio::io_context io_;
  std::optional<boost::beast::tcp_stream> stream_;
};

}  // namespace minotaur::bench
