#include "gateway/json_fields.h"

#include <fmt/format.h>

namespace minotaur::gateway {

std::optional<std::int64_t> strict_int(const boost::json::value& v, std::int64_t min,
                                       std::int64_t max) {
  std::int64_t n = 0;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    n = static_cast<std::int64_t>(v.get_uint64());
  } else {
    return std::nullopt;
  }
  if (n < min || n > max) return std::nullopt;
  return n;
}

std::string JsonFields::name(std::string_view key) const {
  return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
}

Result<std::optional<std::int64_t>, std::string> JsonFields::optional_int(std::string_view key,
                                                                          std::int64_t min,
                                                                          std::int64_t max) const {
  const boost::json::value* v = object_.if_contains(key);
  if (v == nullptr) return std::optional<std::int64_t>();
  auto n = strict_int(*v, min, max);
  if (!n) return err(fmt::format("{} must be an integer from {} to {}", name(key), min, max));
  return std::optional<std::int64_t>(*n);
}

Result<std::int64_t, std::string> JsonFields::require_int(std::string_view key, std::int64_t min,
                                                          std::int64_t max) const {
  auto n = optional_int(key, min, max);
  if (!n) return err(n.error());
  if (!n.value()) return err(fmt::format("{} is missing", name(key)));
  return *n.value();
}

Result<std::optional<std::string>, std::string> JsonFields::optional_string(
    std::string_view key) const {
  const boost::json::value* v = object_.if_contains(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return err(fmt::format("{} must be a string", name(key)));
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::string, std::string> JsonFields::require_string(std::string_view key) const {
  auto s = optional_string(key);
  if (!s) return err(s.error());
  if (!s.value()) return err(fmt::format("{} is missing", name(key)));
  return std::move(*s.value());
}

Result<const boost::json::object*, std::string> JsonFields::require_object(
    std::string_view key) const {
  const boost::json::value* v = object_.if_contains(key);
  if (v == nullptr) return err(fmt::format("{} is missing", name(key)));
  if (!v->is_object()) return err(fmt::format("{} must be an object", name(key)));
  return &v->get_object();
}

Result<const boost::json::array*, std::string> JsonFields::optional_array(
    std::string_view key) const {
  const boost::json::value* v = object_.if_contains(key);
  if (v == nullptr) return static_cast<const boost::json::array*>(nullptr);
  if (!v->is_array()) return err(fmt::format("{} must be an array", name(key)));
  return &v->get_array();
}

Result<const boost::json::array*, std::string> JsonFields::require_array(
    std::string_view key) const {
  auto a = optional_array(key);
  if (!a) return err(a.error());
  if (a.value() == nullptr) return err(fmt::format("{} is missing", name(key)));
  return a.value();
}

}  // namespace minotaur::gateway
