#include "gateway/strict_json.h"

#include <fmt/format.h>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <set>
#include <vector>

namespace minotaur::gateway {
namespace json = boost::json;
namespace {

// Boost.JSON SAX handler that only tracks the keys of every open object.
struct DuplicateKeyCheck {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::vector<std::set<std::string, std::less<>>> open_objects;
  std::string key;        // the key being read, across its parts
  bool repeated = false;  // a key repeats; parsing stops there, `key` names it

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    open_objects.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    open_objects.pop_back();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key.append(s.data(), s.size());
    if (!open_objects.back().insert(key).second) {
      repeated = true;
      ec = json::error::syntax;
      return false;
    }
    key.clear();
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

}  // namespace

Result<json::value, std::string> parse_strict_json(std::string_view text, std::size_t max_depth) {
  json::parse_options opt;
  opt.max_depth = max_depth;
  json::error_code ec;
  json::basic_parser<DuplicateKeyCheck> check(opt);
  check.write_some(false, text.data(), text.size(), ec);
  if (check.handler().repeated) {
    return err(fmt::format("the JSON names a key twice (\"{}\"); send each key once",
                           check.handler().key.substr(0, 64)));
  }
  json::value v = json::parse(text, ec, {}, opt);
  if (ec) return err(fmt::format("the body is not valid JSON ({})", ec.message()));
  return v;
}

}  // namespace minotaur::gateway
