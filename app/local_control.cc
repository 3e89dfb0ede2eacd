#include "app/local_control.h"

#include <fmt/format.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cctype>

namespace minotaur::app {
namespace {

namespace http = boost::beast::http;

// Compares in time that does not depend on where the strings differ.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

ControlReply refuse(int status, std::string error, std::string allow_origin = {}) {
  ControlReply r;
  r.status = status;
  r.error = std::move(error);
  r.allow_origin = std::move(allow_origin);
  return r;
}

// "restart 2" for "/local/restart?node=2", "roll" for "/local/roll"; empty when it is neither,
// or names no node from 1 to `nodes`.
std::string command_of(std::string_view target, int nodes) {
  if (target == "/local/roll") return "roll";
  for (const std::string_view what : {"restart", "kill"}) {
    const std::string prefix = fmt::format("/local/{}?node=", what);
    if (target.substr(0, prefix.size()) != prefix) continue;
    const std::string_view node = target.substr(prefix.size());
    if (node.empty() || node.size() > 2) return {};
    int number = 0;
    for (const char c : node) {
      if (std::isdigit(static_cast<unsigned char>(c)) == 0) return {};
      number = number * 10 + (c - '0');
    }
    if (number < 1 || number > nodes) return {};
    return fmt::format("{} {}", what, number);
  }
  return {};
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Error";
  }
}

}  // namespace

std::vector<std::string> page_origins(const std::vector<int>& http_ports) {
  std::vector<std::string> out;
  for (const int port : http_ports) {
    out.push_back(fmt::format("http://127.0.0.1:{}", port));
    out.push_back(fmt::format("http://localhost:{}", port));
  }
  return out;
}

ControlReply decide_control(std::string_view head, const ControlPolicy& policy) {
  if (head.size() > kControlMaxHeadBytes) {
    return refuse(431, "the request's head is too long; send the request line and a few headers");
  }
  http::request_parser<http::empty_body> parser;
  parser.eager(false);
  parser.header_limit(static_cast<std::uint32_t>(kControlMaxHeadBytes));
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(head.data(), head.size()), ec);
  if (ec || !parser.is_header_done()) {
    return refuse(400,
                  "not an HTTP request; send POST /local/restart?node=N, /local/kill?node=N "
                  "or /local/roll");
  }
  const auto& req = parser.get();
  const auto origin_field = req.find(http::field::origin);
  std::string origin;
  if (origin_field != req.end()) {
    origin = std::string(origin_field->value());
    bool allowed = false;
    for (const std::string& o : policy.allowed_origins) allowed = allowed || o == origin;
    if (!allowed) {
      return refuse(403, fmt::format("calls from the web page at {} are refused: only the game's "
                                     "own page (the link minotaur local printed) may restart nodes",
                                     origin));
    }
  }
  if (req.method() == http::verb::options) {
    ControlReply r;
    r.status = 204;
    r.allow_origin = origin;
    r.preflight = true;
    return r;
  }
  if (req.method() != http::verb::post) {
    return refuse(405, "use POST", origin);
  }
  const auto auth = req.find(http::field::authorization);
  const std::string_view bearer = "Bearer ";
  const std::string_view given =
      auth == req.end() ? std::string_view() : std::string_view(auth->value());
  if (policy.admin_token.empty() || given.substr(0, bearer.size()) != bearer ||
      !same_secret(given.substr(bearer.size()), policy.admin_token)) {
    return refuse(401,
                  "the control port needs the admin token: open the game through the link "
                  "minotaur local printed (it carries the token), or send Authorization: Bearer "
                  "with the token in the folder's admin-token file",
                  origin);
  }
  const std::string command = command_of(std::string_view(req.target()), policy.nodes);
  if (command.empty()) {
    return refuse(404,
                  fmt::format("unknown call; use POST /local/restart?node=N, /local/kill?node=N "
                              "(N from 1 to {}) or /local/roll",
                              policy.nodes),
                  origin);
  }
  ControlReply r;
  r.status = 200;
  r.command = command;
  r.allow_origin = origin;
  return r;
}

std::string render_control_reply(const ControlReply& reply) {
  std::string body;
  if (reply.status == 200) {
    body = R"({"ok":true})";
  } else if (reply.status != 204) {
    body = boost::json::serialize(boost::json::object{{"ok", false}, {"error", reply.error}});
  }
  std::string head = fmt::format("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
  if (!body.empty()) head += "Content-Type: application/json\r\n";
  if (!reply.allow_origin.empty()) {
    head += fmt::format("Access-Control-Allow-Origin: {}\r\nVary: Origin\r\n", reply.allow_origin);
  }
  if (reply.preflight) {
    head +=
        "Access-Control-Allow-Methods: POST\r\nAccess-Control-Allow-Headers: Authorization\r\n"
        "Access-Control-Max-Age: 600\r\n";
  }
  return fmt::format("{}Content-Length: {}\r\nConnection: close\r\n\r\n{}", head, body.size(),
                     body);
}

}  // namespace minotaur::app
