// HttpClient: a blocking HTTP/1.1 client on one keep-alive connection to HOST:PORT (127.0.0.1
// unless told), for the bench's setup and checks (creating users and games, reading games back),
// the test harness and `minotaur ctl`.
// Sends again, once, on a new connection when a kept-alive one turned out closed by the server;
// never when a new connection failed (the request may have been served). Each instance is used
// by one thread. http_get_status() is the cheapest question: is a node up and ready?
// HTTPS, for a node started with --tls-cert: a client given a context from client_tls_context()
// verifies the node's certificate (chain and host name) before it sends anything.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/result.h"

namespace minotaur::tooling {

struct HttpAnswer {
  int status = 0;  // 0: no answer (refused, reset, timed out)
  std::string body;
  boost::json::value json() const;  // null when the body is not JSON
};

// A context that verifies servers against the CA certificates (PEM) in `ca_file`, or the
// system's when it is empty; an error that names the file.
Result<std::shared_ptr<boost::asio::ssl::context>, std::string> client_tls_context(
    const std::string& ca_file);

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port) : port_(port) {}
  // Another host than 127.0.0.1: a name (resolved at each new connection) or an address. With
  // `tls`, HTTPS verified with it; the host is the name the certificate must carry.
  HttpClient(std::string host, std::uint16_t port,
             std::shared_ptr<boost::asio::ssl::context> tls = nullptr)
      : host_(std::move(host)), port_(port), tls_(std::move(tls)) {}
  HttpAnswer request(const std::string& method, const std::string& path,
                     const std::string& body = "", const std::string& token = "");

 private:
  bool connected() const { return stream_.has_value() || tls_stream_.has_value(); }
  bool connect();  // a new connection (TLS: its handshake done); false when it failed
  void disconnect();

  std::string host_ = "127.0.0.1";
  std::uint16_t port_;
  std::shared_ptr<boost::asio::ssl::context> tls_;  // null: plain HTTP
  boost::asio::io_context io_;
  std::optional<boost::beast::tcp_stream> stream_;                                // plain
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_stream_;  // HTTPS
};

// A GET of `path` on 127.0.0.1:port: one HTTP/1.0 request on a plain socket, every read bounded
// by 2 s and the whole answer by 64 KiB, so that whatever listens on the port (it may be no node
// at all) cannot hold the caller. Status 0 when nothing answers in time; the body is what came
// after the head, up to the bound.
HttpAnswer http_get(std::uint16_t port, const std::string& path);
// http_get's status alone, for polling /readyz many times a second.
int http_get_status(std::uint16_t port, const std::string& path);

}  // namespace minotaur::tooling
