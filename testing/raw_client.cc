#include "testing/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace minotaur::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for the socket to be readable until `end` (at least one look, even when `end` passed);
// false on time-out.
bool readable(int fd, Clock::time_point end) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now());
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, left.count()))) > 0;
}

}  // namespace

RawSocket::RawSocket(const std::string& source, std::uint16_t port, int rcvbuf_bytes) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;
  if (rcvbuf_bytes > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return;
  }
  fd_ = fd;
}

RawSocket::~RawSocket() {
  if (fd_ >= 0) close(fd_);
}

std::size_t RawSocket::send_all(const std::string& bytes) {
  std::size_t sent = 0;
  while (fd_ >= 0 && sent < bytes.size()) {
    const ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  return sent;
}

std::string RawSocket::read_until(const std::string& marker, std::chrono::milliseconds timeout) {
  std::string out;
  const auto end = Clock::now() + timeout;
  char buf[4096];
  while (fd_ >= 0 && (marker.empty() || out.find(marker) == std::string::npos) &&
         readable(fd_, end)) {
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string RawSocket::read_until_close(std::chrono::milliseconds timeout) {
  return read_until("", timeout);
}

bool RawSocket::closed_within(std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  char buf[4096];
  while (fd_ >= 0 && readable(fd_, end)) {
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

std::string RawAnswer::header(const std::string& name) const {
  std::string lower_head = head;
  std::transform(lower_head.begin(), lower_head.end(), lower_head.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string key = "\r\n" + name + ":";
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const auto at = lower_head.find(key);
  if (at == std::string::npos) return "";
  const auto start = head.find_first_not_of(' ', at + key.size());
  return head.substr(start, head.find("\r\n", start) - start);
}

RawAnswer parse_answer(const std::string& raw) {
  RawAnswer a;
  const auto end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return a;
  a.status = std::atoi(raw.c_str() + 9);
  a.head = raw.substr(0, end);
  a.body = raw.substr(end + 4);
  return a;
}

RawAnswer http_from(const std::string& source, std::uint16_t port, const std::string& method,
                    const std::string& path, const std::string& body, const std::string& token) {
  RawSocket s(source, port);
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: node\r\nConnection: close\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  if (!body.empty() || method == "POST") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  s.send_all(req);
  return parse_answer(s.read_until_close(std::chrono::seconds(5)));
}

std::string ws_text_frame(const std::string& text) {
  std::string f;
  f.push_back(static_cast<char>(0x81));
  const std::size_t n = text.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>((n >> 8) & 0xff));
    f.push_back(static_cast<char>(n & 0xff));
  }
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  f.append(mask, 4);
  for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(text[i] ^ mask[i % 4]));
  return f;
}

std::string ws_upgrade_request(const std::string& token) {
  std::string req =
      "GET /api/v1/ws HTTP/1.1\r\nHost: node\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
  return req + "\r\n";
}

}  // namespace minotaur::testing
