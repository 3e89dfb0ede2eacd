// The control port of `minotaur local` (its HTTP port minus one, on loopback): the page's
// restart, kill and roll buttons call it, and it turns them into the terminal's commands. What
// it does with one request is decided here, without I/O, from the request's head alone:
//
// - Only the page's own origins (http://127.0.0.1:P and http://localhost:P for the nodes' HTTP
//   ports P) may call it from a browser: a request whose Origin is any other is refused (403)
//   and its answer carries no Access-Control-Allow-Origin, so another web page the user visits
//   can neither act nor read. A request without Origin (curl, a script) is no browser's.
// - Every call needs the cluster's admin token, `Authorization: Bearer TOKEN` (401 without it):
//   the link `minotaur local` prints in its terminal carries it to the page, in the address's
//   fragment, which no server sees. A preflight (OPTIONS) from an allowed origin is answered
//   without it, as browsers send none there.
//
// Weakness: one request a connection, read by local's single thread with a 2 s bound; a process
// of this machine that holds connections open slows the buttons, never the cluster.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace minotaur::app {

struct ControlPolicy {
  std::vector<std::string> allowed_origins;  // e.g. "http://127.0.0.1:8080"
  std::string admin_token;                   // never empty
  int nodes = 0;                             // restart and kill take node 1 to this
};

// The page's origins for nodes listening on these HTTP ports of 127.0.0.1.
std::vector<std::string> page_origins(const std::vector<int>& http_ports);

struct ControlReply {
  int status = 400;
  // The terminal command to run ("restart 2", "kill 1", "roll"); empty: none.
  std::string command;
  std::string error;         // why it was refused (status >= 400), says what to do next
  std::string allow_origin;  // the Access-Control-Allow-Origin to send; empty: none
  bool preflight = false;    // an answered OPTIONS: also the allowed method and header
};

// The longest request head the control port reads; a longer one is refused (431).
inline constexpr std::size_t kControlMaxHeadBytes = 8 * 1024;

// What to do with a request whose head (request line and headers, up to and with the blank
// line; any bytes after it are ignored) is `head`. Never throws, whatever the bytes.
ControlReply decide_control(std::string_view head, const ControlPolicy& policy);

// The HTTP/1.1 answer to send (then close): JSON `{"ok":true}` or `{"ok":false,"error":...}`.
std::string render_control_reply(const ControlReply& reply);

}  // namespace minotaur::app
