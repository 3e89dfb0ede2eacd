// Raw TCP clients for attack tests: what an outsider with nothing but a socket can send.
//
// Each client can bind a source address of the loopback range (127.0.0.0/8 is all loopback on
// Linux), so a test can act as several client addresses on one machine. Every call is bounded
// in time. Blocking; one thread each.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace minotaur::testing {

// A connected socket, closed when it goes away.
class RawSocket {
 public:
  // Connects from `source` (e.g. "127.0.0.7") to 127.0.0.1:port; `rcvbuf_bytes` > 0 shrinks the
  // receive buffer first (a client that reads slowly fills it sooner). ok() says whether it did.
  RawSocket(const std::string& source, std::uint16_t port, int rcvbuf_bytes = 0);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }  // for poll() over many sockets at once
  // Sends all of `bytes`, or as much as the peer takes before it closes; the bytes sent.
  std::size_t send_all(const std::string& bytes);
  // Reads until the peer closes or `timeout` passes; what was read.
  std::string read_until_close(std::chrono::milliseconds timeout);
  // Reads until `marker` was seen (or close, or the time-out); what was read.
  std::string read_until(const std::string& marker, std::chrono::milliseconds timeout);
  // True when the peer closed (or reset) the connection within `timeout`; drains what it sent.
  bool closed_within(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

struct RawAnswer {
  int status = 0;  // 0: no status line (closed, or timed out)
  std::string head;
  std::string body;
  std::string header(const std::string& name) const;  // "" when absent
};

// One HTTP/1.1 request with Connection: close from `source`; `token` adds a bearer token.
RawAnswer http_from(const std::string& source, std::uint16_t port, const std::string& method,
                    const std::string& path, const std::string& body = "",
                    const std::string& token = "");
// Parses what a server sent for one request.
RawAnswer parse_answer(const std::string& raw);

// A client's WebSocket frame: masked, FIN, text.
std::string ws_text_frame(const std::string& text);
// The upgrade request of GET /api/v1/ws (with `token` as a bearer token when not empty).
std::string ws_upgrade_request(const std::string& token = "");

}  // namespace minotaur::testing
