#include "gateway/request_parser.h"

#include <fmt/format.h>

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <exception>

namespace minotaur::gateway {
namespace beast = boost::beast;
using sessions::ErrorCode;
namespace {

// Runs one callback body; whatever it throws (an allocation that fails, a container's limit)
// becomes an error code that ends the read, never an exception in Beast's completion handler.
template <typename F>
auto guarded(beast::error_code& ec, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception&) {
    ec = http::error::bad_alloc;
    return decltype(f())();
  }
}

// A read of up to this much at a time (Beast's own read size), on top of a whole header.
constexpr std::size_t kReadSlackBytes = 16 * 1024;

}  // namespace

beast::flat_buffer make_read_buffer(const RequestLimits& limits) {
  return beast::flat_buffer(limits.header_bytes + kReadSlackBytes);
}

RequestParser::RequestParser(const RequestLimits& limits) : limits_(limits) {
  header_limit(limits_.header_bytes);
  body_limit(limits_.body_bytes);
}

void RequestParser::on_request_impl(http::verb method, beast::string_view method_str,
                                    beast::string_view target, int version, beast::error_code& ec) {
  if (method == http::verb::unknown) {
    unknown_method_ = true;
    ec = http::error::bad_method;
    return;
  }
  guarded(ec, [&] {
    request_.method(method);
    request_.method_string(method_str);  // the known spelling, as the stock parser keeps it
    request_.target(target);
    request_.version(static_cast<unsigned>(version));
  });
}

void RequestParser::on_response_impl(int, beast::string_view, int, beast::error_code& ec) {
  ec = http::error::bad_method;  // a request parser never sees a status line
}

void RequestParser::on_field_impl(http::field name, beast::string_view name_string,
                                  beast::string_view value, beast::error_code& ec) {
  if (name == http::field::transfer_encoding) {
    // Any transfer coding, chunked or not: the body must come with a Content-Length (411).
    transfer_coding_ = true;
    ec = http::error::bad_transfer_encoding;
    return;
  }
  if ((name == http::field::content_length || name == http::field::host) &&
      request_.find(name) != request_.end()) {
    ec = name == http::field::host ? http::error::bad_field : http::error::bad_content_length;
    return;
  }
  guarded(ec, [&] { request_.insert(name, name_string, value); });
}

void RequestParser::on_header_impl(beast::error_code&) {}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      beast::error_code& ec) {
  // Beast has checked the length against the body limit already.
  if (content_length) {
    guarded(ec, [&] { request_.body().reserve(static_cast<std::size_t>(*content_length)); });
  }
}

std::size_t RequestParser::on_body_impl(beast::string_view body, beast::error_code& ec) {
  return guarded(ec, [&] {
    request_.body().append(body.data(), body.size());
    return body.size();
  });
}

// Never called: a request with a Transfer-Encoding is refused at that field, so no body is
// chunked. Refused again here should that ever change.
void RequestParser::on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code& ec) {
  ec = http::error::bad_transfer_encoding;
}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, beast::string_view,
                                              beast::error_code& ec) {
  ec = http::error::bad_transfer_encoding;
  return 0;
}

void RequestParser::on_finish_impl(beast::error_code&) {}

ReadRefusal refusal_for(const beast::error_code& ec) {
  if (ec == http::error::body_limit || ec == http::error::header_limit ||
      ec == http::error::buffer_overflow) {
    return ReadRefusal(ErrorCode::kTooLarge);
  }
  if (ec == http::error::bad_alloc) {
    return ReadRefusal(ErrorCode::kOverloaded);
  }
  return {ErrorCode::kMalformedRequest,
          fmt::format("the request is not valid HTTP/1.1: {}", ec.message())};
}

ReadRefusal RequestParser::refusal(const beast::error_code& ec) const {
  if (unknown_method_) {
    return ReadRefusal(ErrorCode::kUnknownMethod);
  }
  if (transfer_coding_) {
    return ReadRefusal(ErrorCode::kLengthRequired);
  }
  return refusal_for(ec);
}

bool is_disconnect(const beast::error_code& ec) {
  namespace asio = boost::asio;
  return ec == http::error::end_of_stream || ec == beast::error::timeout ||
         ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
         ec == asio::error::eof || ec == asio::error::bad_descriptor ||
         ec == asio::error::broken_pipe;
}

}  // namespace minotaur::gateway
