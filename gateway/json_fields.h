// Strict readers for fields of a JSON object that came from outside (the HTTP API).
//
// Each returns the value, or an error message that names the field and says what was expected
// ("players[1].coord.q must be an integer from -2147483648 to 2147483647"). Nothing is coerced:
// "3" is not a number, 3.0 is not an integer, null is not a string.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"

namespace minotaur::gateway {

// `path` names the object in messages ("", "players[2]", ...).
class JsonFields {
 public:
  JsonFields(const boost::json::object& object, std::string path)
      : object_(object), path_(std::move(path)) {}

  // A missing field is an error for require_*, nullopt for optional_*.
  Result<std::int64_t, std::string> require_int(std::string_view key, std::int64_t min,
                                                std::int64_t max) const;
  Result<std::optional<std::int64_t>, std::string> optional_int(std::string_view key,
                                                                std::int64_t min,
                                                                std::int64_t max) const;
  Result<std::string, std::string> require_string(std::string_view key) const;
  Result<std::optional<std::string>, std::string> optional_string(std::string_view key) const;
  Result<const boost::json::object*, std::string> require_object(std::string_view key) const;
  Result<const boost::json::array*, std::string> require_array(std::string_view key) const;
  Result<const boost::json::array*, std::string> optional_array(std::string_view key) const;

  // "players[2].coord" for key "coord".
  std::string name(std::string_view key) const;

 private:
  const boost::json::object& object_;
  std::string path_;
};

// Reads an integer JSON value strictly (int64 or uint64 kinds only), within [min, max].
std::optional<std::int64_t> strict_int(const boost::json::value& v, std::int64_t min,
                                       std::int64_t max);

}  // namespace minotaur::gateway
