// Fuzz target: bytes from a WebSocket client after the upgrade, through the node's read path —
// Beast's server-side frame reader with the node's message limit, then each message through
// parse_ws_message (ws_message.h). Whatever the bytes: nothing throws or crashes, no message
// over the limit is delivered, and every message is either a command or a refusal.
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstdint>
#include <string_view>

#include "base/assert.h"
#include "gateway/ws_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace websocket = beast::websocket;
  constexpr std::size_t kMaxMessageBytes = 16 * 1024;  // the node's ServerLimits default

  boost::asio::io_context io;
  beast::test::stream client(io);
  websocket::stream<beast::test::stream> ws(io);
  ws.next_layer().connect(client);
  ws.read_message_max(kMaxMessageBytes);

  http::request<http::string_body> upgrade{http::verb::get, "/api/v1/ws", 11};
  upgrade.set(http::field::host, "node");
  upgrade.set(http::field::upgrade, "websocket");
  upgrade.set(http::field::connection, "upgrade");
  upgrade.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  upgrade.set(http::field::sec_websocket_version, "13");
  beast::error_code ec;
  ws.accept(upgrade, ec);
  MINOTAUR_ASSERT(!ec);

  ws.next_layer().append(std::string_view(reinterpret_cast<const char*>(data), size));
  client.close();  // after the fuzzer's bytes, the client is gone
  beast::flat_buffer buffer;
  for (int messages = 0; messages < 256; ++messages) {
    ws.read(buffer, ec);
    if (ec) break;
    MINOTAUR_ASSERT(buffer.size() <= kMaxMessageBytes);
    auto command = minotaur::gateway::parse_ws_message(beast::buffers_to_string(buffer.data()));
    MINOTAUR_ASSERT(command.ok() || !command.error().message.empty());
    buffer.consume(buffer.size());
  }
  return 0;
}
