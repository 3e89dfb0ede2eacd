// RequestParser: how a node reads one HTTP/1.1 request from a client — Beast's parser
// (boost::beast::http::basic_parser) with callbacks of our own, so that every byte a client
// sends is bounded and nothing it sends can throw.
//
// Beast's stock request_parser stores trailer fields in the message without a limit, and its
// field container throws std::length_error for a value over 64 KiB from inside an Asio
// completion handler — where no coroutine can catch it, so it ends io_context::run() and the
// process. Here:
//   - the header is bounded by `header_bytes` (Beast's header limit), the body by `body_bytes`;
//   - a request with a Transfer-Encoding field is refused (411 Length Required): a body comes
//     with a Content-Length or not at all. Every browser and HTTP library sends an in-memory
//     body that way. Beast 1.81's chunk parser asserts on a final chunk that arrives in pieces
//     of 3 or 4 bytes (a release node stopped), and chunk extensions, trailers and the
//     Transfer-Encoding/Content-Length pair are where request smuggling between a proxy and a
//     server lives; none of it is worth keeping for bodies of at most 64 KiB of JSON;
//   - a repeated Content-Length or Host, even with the same value, and an unknown method are
//     refused (RFC 9112 allows a server to; a client that sends them is broken or probing);
//   - every callback catches what it calls and turns it into an error code.
// The read buffer is bounded too (make_read_buffer): the header cannot grow past it.
//
// refusal_for() is the answer to a request that failed to parse: 413 for a limit, 400 (with
// Beast's reason) for malformed bytes; refusal() adds 411 for a transfer coding and 501 for an
// unknown method. The connection is then closed.
//
// Used by gateway/http_server.cc (async, per connection) and by the fuzz target
// gateway/http_request_fuzz.cc (sync, over a test stream): the same parser and the same buffer.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "sessions/errors.h"

namespace minotaur::gateway {

namespace http = boost::beast::http;

struct RequestLimits {
  std::uint32_t header_bytes = 8 * 1024;
  std::uint64_t body_bytes = 64 * 1024;
};

// The buffer a connection reads into: room for a whole header (or trailer block) and one read.
boost::beast::flat_buffer make_read_buffer(const RequestLimits& limits);

// What a client is told when its request could not be read: a code of the table of errors
// (its HTTP status is the table's) and a message.
using ReadRefusal = sessions::SessionError;

class RequestParser final : public http::basic_parser<true> {
 public:
  explicit RequestParser(const RequestLimits& limits);

  // The request, once is_done(); the parser is spent after.
  http::request<http::string_body> release() { return std::move(request_); }
  // What to answer when reading failed with `ec` (see refusal_for).
  ReadRefusal refusal(const boost::beast::error_code& ec) const;

 private:
  void on_request_impl(http::verb method, boost::beast::string_view method_str,
                       boost::beast::string_view target, int version,
                       boost::beast::error_code& ec) override;
  void on_response_impl(int, boost::beast::string_view, int, boost::beast::error_code& ec) override;
  void on_field_impl(http::field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, boost::beast::error_code& ec) override;
  void on_header_impl(boost::beast::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         boost::beast::error_code& ec) override;
  std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view extensions,
                            boost::beast::error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, boost::beast::string_view body,
                                 boost::beast::error_code& ec) override;
  void on_finish_impl(boost::beast::error_code& ec) override;

  RequestLimits limits_;
  http::request<http::string_body> request_;
  bool transfer_coding_ = false;  // a Transfer-Encoding field: answered 411
  bool unknown_method_ = false;   // a well-formed method token outside RFC 9110
};

// What a client is told when its request failed to parse with `ec` (never end-of-stream or a
// time-out: those close without an answer). The caller closes the connection after writing it.
// RequestParser::refusal() adds the cases only the parser knows: 411 for a transfer coding,
// 501 for an unknown method.
ReadRefusal refusal_for(const boost::beast::error_code& ec);

// True for the errors that end a connection without an answer (the peer went, or was too slow).
bool is_disconnect(const boost::beast::error_code& ec);

}  // namespace minotaur::gateway
