#include "tooling/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace minotaur::tooling {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;

boost::json::value HttpAnswer::json() const {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  return ec ? boost::json::value() : v;
}

HttpAnswer HttpClient::request(const std::string& method, const std::string& path,
                               const std::string& body, const std::string& token) {
  http::request<http::string_body> req{http::string_to_verb(method), path, 11};
  req.set(http::field::host, host_);
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  for (int attempt = 0; attempt < 2; ++attempt) {
    boost::system::error_code ec;
    const bool reused = stream_.has_value();
    if (!stream_) {
      stream_.emplace(io_);
      stream_->expires_after(std::chrono::seconds(5));
      tcp::resolver resolver(io_);
      const auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
      if (!ec) stream_->connect(endpoints, ec);
      if (ec) {
        stream_.reset();
        return {};
      }
    }
    stream_->expires_after(std::chrono::seconds(30));
    http::write(*stream_, req, ec);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (!ec) http::read(*stream_, buffer, parser, ec);
    if (ec) {
      stream_.reset();
      if (reused) continue;  // the server closed a kept-alive connection: once more, anew
      return {};
    }
    HttpAnswer a{static_cast<int>(parser.get().result_int()), parser.get().body()};
    if (!parser.get().keep_alive()) stream_.reset();
    return a;
  }
  return {};
}

HttpAnswer http_get(std::uint16_t port, const std::string& path) {
  constexpr std::size_t kMaxAnswerBytes = 64 * 1024;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string raw;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      // An HTTP/1.0 answer ends when the server closes; a time-out or the bound ends it too.
      while (raw.size() < kMaxAnswerBytes) {
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        raw.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  close(fd);
  HttpAnswer answer;
  // "HTTP/1.1 200 OK\r\n...": the status is the three digits after the first space.
  if (raw.size() > 12 && raw.rfind("HTTP/1.", 0) == 0) answer.status = std::atoi(raw.c_str() + 9);
  const auto body = raw.find("\r\n\r\n");
  if (body != std::string::npos) answer.body = raw.substr(body + 4);
  return answer;
}

int http_get_status(std::uint16_t port, const std::string& path) {
  return http_get(port, path).status;
}

}  // namespace minotaur::tooling
