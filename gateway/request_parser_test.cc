#include "gateway/request_parser.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/http/read.hpp>
#include <string>
#include <vector>

namespace minotaur::gateway {
namespace {

namespace beast = boost::beast;

// The HTTP status a client is answered with.
http::status status(const ReadRefusal& r) {
  return static_cast<http::status>(sessions::info(r.code).http_status);
}

struct Read {
  std::vector<http::request<http::string_body>> requests;
  beast::error_code ec;                    // what ended the reading
  http::status answer = http::status::ok;  // the refusal's status, when it was no disconnect
};

// Reads requests off `bytes` the way a connection does, `read_size` bytes at a time.
Read read_all(const std::string& bytes, RequestLimits limits = {}, std::size_t read_size = 512) {
  boost::asio::io_context io;
  beast::test::stream stream(io, bytes);
  stream.read_size(read_size);
  stream.close_remote();  // after the bytes, the client is gone: reads then end with eof
  beast::flat_buffer buffer = make_read_buffer(limits);
  Read out;
  for (;;) {
    RequestParser parser(limits);
    http::read(stream, buffer, parser, out.ec);
    if (out.ec) {
      if (!is_disconnect(out.ec)) out.answer = status(parser.refusal(out.ec));
      return out;
    }
    out.requests.push_back(parser.release());
  }
}

TEST(RequestParser, ReadsPipelinedRequestsWithTheirBodies) {
  const Read r = read_all(
      "GET /healthz HTTP/1.1\r\nHost: n\r\n\r\n"
      "POST /api/v1/users HTTP/1.1\r\nHost: n\r\nContent-Length: 2\r\n\r\n{}"
      "POST /api/v1/users HTTP/1.1\r\nHost: n\r\nContent-Length: 5\r\n\r\nhello",
      {}, 7);
  ASSERT_EQ(r.requests.size(), 3u) << r.ec.message();
  EXPECT_EQ(r.ec, http::error::end_of_stream);
  EXPECT_EQ(r.requests[0].target(), "/healthz");
  EXPECT_EQ(r.requests[1].body(), "{}");
  EXPECT_EQ(r.requests[2].body(), "hello");
}

std::string chunked(const std::string& trailer) {
  return "POST /api/v1/users HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n0\r\n" +
         trailer + "\r\n";
}

// A body comes with a Content-Length. A chunked one once stopped a node two ways: a trailer
// field of 65,534 bytes made Beast's field container throw inside a completion handler, and a
// final chunk that arrived in pieces of 3 or 4 bytes failed an assertion in Beast's chunk
// parser. Neither is read now, in pieces of any size.
TEST(RequestParser, ATransferCodingIsRefusedWithLengthRequired) {
  const std::string bodies[] = {
      chunked(""),
      chunked("X: " + std::string(65'534, 'a') + "\r\n"),
      "POST / HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" +
          std::string(300, 'T') + ": t\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: gzip\r\n\r\nxyz",
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nHost: n\r\n\r\n0\r\n\r\n",
  };
  for (const auto& bytes : bodies) {
    for (const std::size_t read_size : {1u, 2u, 3u, 4u, 5u, 512u}) {
      const Read r = read_all(bytes, {}, read_size);
      EXPECT_TRUE(r.requests.empty()) << bytes.substr(0, 80);
      EXPECT_EQ(r.answer, http::status::length_required) << bytes.substr(0, 80) << r.ec.message();
    }
  }
  // Both a length and a transfer coding: the request is malformed (RFC 9112 section 6.3).
  const Read both = read_all(
      "POST / HTTP/1.1\r\nHost: n\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n");
  EXPECT_TRUE(both.requests.empty());
  EXPECT_EQ(both.answer, http::status::bad_request);
}

TEST(RequestParser, RefusesRepeatedLengthsAndHostsAndUnknownMethods) {
  const Read twice_length =
      read_all("POST / HTTP/1.1\r\nHost: n\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_TRUE(twice_length.requests.empty());
  EXPECT_EQ(status(refusal_for(twice_length.ec)), http::status::bad_request);
  EXPECT_TRUE(read_all("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n").requests.empty());
  const Read foo = read_all("FOO /readyz HTTP/1.1\r\nHost: n\r\n\r\n");
  EXPECT_TRUE(foo.requests.empty());
  EXPECT_EQ(foo.answer, http::status::not_implemented);
  // A method that is no token at all is malformed, not unknown.
  EXPECT_EQ(read_all("\x16\x03\x01 garbage\r\n\r\n").answer, http::status::bad_request);
}

TEST(RequestParser, HeaderAndBodyLimitsHold) {
  RequestLimits limits;
  limits.header_bytes = 512;
  limits.body_bytes = 16;
  EXPECT_EQ(read_all("GET / HTTP/1.1\r\nX: " + std::string(600, 'h') + "\r\n\r\n", limits).ec,
            http::error::header_limit);
  EXPECT_EQ(
      read_all("POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n" + std::string(17, 'b'), limits).ec,
      http::error::body_limit);
  EXPECT_EQ(read_all("POST / HTTP/1.1\r\nContent-Length: 16\r\n\r\n" + std::string(16, 'b'), limits)
                .requests.size(),
            1u);
}

}  // namespace
}  // namespace minotaur::gateway
