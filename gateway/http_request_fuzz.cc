// Fuzz target: bytes from a client through the node's HTTP read path — RequestParser over the
// bounded read buffer (request_parser.h), read by Beast the way a connection is, in pieces of a
// size the first byte picks. Whatever the bytes: nothing throws or crashes, every request read
// keeps within the limits, and every failure maps to an answer.
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/http/read.hpp>
#include <cstdint>
#include <string_view>

#include "base/assert.h"
#include "gateway/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace minotaur::gateway;
  namespace beast = boost::beast;
  if (size == 0) return 0;
  const std::size_t read_size = 1 + std::size_t{data[0]} % 64 * 16;  // 1 to 1,009 bytes a read
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  RequestLimits limits;  // the node's defaults, smaller trailers and extensions to reach them
  limits.header_bytes = 1024;
  limits.body_bytes = 4096;
  boost::asio::io_context io;
  beast::test::stream stream(io, bytes);
  stream.read_size(read_size);
  stream.close_remote();  // after the bytes, the client is gone: reads then end with eof
  beast::flat_buffer buffer = make_read_buffer(limits);
  for (int requests = 0; requests < 64; ++requests) {
    RequestParser parser(limits);
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    MINOTAUR_ASSERT(buffer.size() <= buffer.max_size());
    if (ec) {
      if (!is_disconnect(ec)) {
        const ReadRefusal why = parser.refusal(ec);
        MINOTAUR_ASSERT(minotaur::sessions::info(why.code).http_status >= 400);
      }
      break;
    }
    MINOTAUR_ASSERT(parser.is_done());
    const auto request = parser.release();
    MINOTAUR_ASSERT(request.body().size() <= limits.body_bytes);
    MINOTAUR_ASSERT(request.method() != http::verb::unknown);
  }
  return 0;
}
