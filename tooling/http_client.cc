#include "tooling/http_client.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace minotaur::tooling {

namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using boost::asio::ip::tcp;

namespace {

// One request and its answer on an open connection, plain or TLS.
template <class Stream>
void exchange(Stream& stream, const http::request<http::string_body>& req,
              http::response_parser<http::string_body>& parser, boost::system::error_code& ec) {
  boost::beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
  http::write(stream, req, ec);
  boost::beast::flat_buffer buffer;
  if (!ec) http::read(stream, buffer, parser, ec);
}

}  // namespace

Result<std::shared_ptr<ssl::context>, std::string> client_tls_context(const std::string& ca_file) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  if (ca_file.empty()) {
    context->set_default_verify_paths(ec);
  } else {
    context->load_verify_file(ca_file, ec);
  }
  if (ec) {
    return err(fmt::format(
        "cannot use {} to verify the nodes ({}); give a PEM file of the CA "
        "certificates that signed the nodes' certificates",
        ca_file.empty() ? std::string("the system's CA certificates") : ca_file, ec.message()));
  }
  context->set_verify_mode(ssl::verify_peer);
  return context;
}

bool HttpClient::connect() {
  boost::beast::tcp_stream stream(io_);
  stream.expires_after(std::chrono::seconds(5));
  boost::system::error_code ec;
  tcp::resolver resolver(io_);
  const auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
  if (!ec) stream.connect(endpoints, ec);
  if (ec) return false;
  if (!tls_) {
    stream_.emplace(std::move(stream));
    return true;
  }
  tls_stream_.emplace(std::move(stream), *tls_);
  // The name the node's certificate must carry (an IP address is checked against its IP
  // entries); a name is also sent (SNI) for a server that holds several certificates.
  tls_stream_->set_verify_callback(ssl::host_name_verification(host_));
  boost::asio::ip::make_address(host_, ec);
  if (ec) {
    // SSL_set_tlsext_host_name, without the macro's C cast.
    SSL_ctrl(tls_stream_->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host_.c_str()));
  }
  tls_stream_->handshake(ssl::stream_base::client, ec);
  if (ec) tls_stream_.reset();
  return !ec;
}

void HttpClient::disconnect() {
  stream_.reset();
  tls_stream_.reset();
}

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
    const bool reused = connected();
    if (!connected() && !connect()) return {};
    boost::system::error_code ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    if (tls_stream_) {
      exchange(*tls_stream_, req, parser, ec);
    } else {
      exchange(*stream_, req, parser, ec);
    }
    if (ec) {
      disconnect();
      if (reused) continue;  // the server closed a kept-alive connection: once more, anew
      return {};
    }
    HttpAnswer a{static_cast<int>(parser.get().result_int()), parser.get().body()};
    if (!parser.get().keep_alive()) disconnect();
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
