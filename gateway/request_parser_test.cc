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

std::string chunked(const std::string& chunk_line_tail, const std::string& trailer) {
  return "POST /api/v1/users HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5" +
         chunk_line_tail + "\r\nhello\r\n0\r\n" + trailer + "\r\n";
}

TEST(RequestParser, ReadsPipelinedRequestsWithTheirBodies) {
  const Read r = read_all(
      "GET /healthz HTTP/1.1\r\nHost: n\r\n\r\n"
      "POST /api/v1/users HTTP/1.1\r\nHost: n\r\nContent-Length: 2\r\n\r\n{}" +
          chunked(";name=value", "X-Checksum: 1\r\n"),
      {}, 7);
  ASSERT_EQ(r.requests.size(), 3u) << r.ec.message();
  EXPECT_EQ(r.ec, http::error::end_of_stream);
  EXPECT_EQ(r.requests[0].target(), "/healthz");
  EXPECT_EQ(r.requests[1].body(), "{}");
  EXPECT_EQ(r.requests[2].body(), "hello");
  EXPECT_EQ(r.requests[2].count("X-Checksum"), 0u);  // trailers are dropped
}

// The request that once ended a node: a trailer field of 65,534 bytes made Beast's field
// container throw inside a completion handler.
TEST(RequestParser, AHugeTrailerFieldIsRefusedNotThrown) {
  const Read r = read_all(chunked("", "X: " + std::string(65'534, 'a') + "\r\n"));
  EXPECT_TRUE(r.requests.empty());
  EXPECT_EQ(status(refusal_for(r.ec)), http::status::payload_too_large) << r.ec.message();
}

TEST(RequestParser, TrailersAndChunkExtensionsAreBounded) {
  RequestLimits limits;
  std::string trailer;
  for (int i = 0; trailer.size() <= limits.trailer_bytes; ++i) {
    trailer += "X-" + std::to_string(i) + ": " + std::string(40, 'v') + "\r\n";
  }
  EXPECT_EQ(status(refusal_for(read_all(chunked("", trailer)).ec)),
            http::status::payload_too_large);
  // Just under the limit passes.
  EXPECT_EQ(read_all(chunked("", "X: " + std::string(limits.trailer_bytes - 10, 'v') + "\r\n"))
                .requests.size(),
            1u);
  // Extensions: one long one, and many short ones over many chunks.
  EXPECT_EQ(read_all(chunked(";x=" + std::string(limits.chunk_extension_bytes, 'e'), "")).ec,
            http::error::bad_chunk_extension);
  std::string many = "POST / HTTP/1.1\r\nHost: n\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 100; ++i) many += "1;abcdefgh\r\nx\r\n";
  many += "0\r\n\r\n";
  EXPECT_EQ(read_all(many).ec, http::error::bad_chunk_extension);
  // A chunk line longer than the read buffer cannot grow it.
  EXPECT_EQ(status(refusal_for(read_all(chunked(";" + std::string(100'000, 'e'), "")).ec)),
            http::status::payload_too_large);
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
  EXPECT_EQ(read_all(chunked("", ""), limits).requests.size(), 1u);
}

}  // namespace
}  // namespace minotaur::gateway
