#include "base/metrics.h"

#include <algorithm>
#include <string_view>

#include "base/assert.h"

namespace minotaur {
namespace {

bool is_name(std::string_view s, bool colon_allowed) {
  const auto first = [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (colon_allowed && c == ':');
  };
  const auto next = [&](char c) { return first(c) || (c >= '0' && c <= '9'); };
  return !s.empty() && first(s.front()) && std::all_of(s.begin() + 1, s.end(), next);
}

// The text format's escapes: a backslash and a line feed in HELP text, and a double quote too
// in a label value.
std::string escaped(std::string_view s, bool quote) {
  std::string out;
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

std::string rendered(const Metrics::Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    MINOTAUR_ASSERT(is_name(name, false));
    if (out.size() > 1) out += ",";
    out += name + "=\"" + escaped(value, true) + "\"";
  }
  return out + "}";
}

}  // namespace

void Metrics::add_counter(const std::string& name, const std::string& help, Read read,
                          const Labels& labels) {
  add(Type::kCounter, name, help, std::move(read), labels);
}

void Metrics::add_gauge(const std::string& name, const std::string& help, Read read,
                        const Labels& labels) {
  add(Type::kGauge, name, help, std::move(read), labels);
}

Metrics::Value& Metrics::held_counter(const std::string& name, const std::string& help,
                                      const Labels& labels) {
  return held(Type::kCounter, name, help, labels);
}

Metrics::Value& Metrics::held_gauge(const std::string& name, const std::string& help,
                                    const Labels& labels) {
  return held(Type::kGauge, name, help, labels);
}

Metrics::Value& Metrics::held(Type type, const std::string& name, const std::string& help,
                              const Labels& labels) {
  Value& value = held_.emplace_back(0);
  add(
      type, name, help, [&value] { return value; }, labels);
  return value;
}

void Metrics::add(Type type, const std::string& name, const std::string& help, Read read,
                  const Labels& labels) {
  MINOTAUR_ASSERT(is_name(name, true));
  MINOTAUR_ASSERT(type != Type::kCounter || name.ends_with("_total"));
  MINOTAUR_ASSERT(!help.empty());
  MINOTAUR_ASSERT(read);
  auto family = std::find_if(families_.begin(), families_.end(),
                             [&](const Family& f) { return f.name == name; });
  if (family == families_.end()) {
    families_.push_back(Family{name, help, type, {}});
    family = families_.end() - 1;
  }
  MINOTAUR_ASSERT(family->type == type);
  MINOTAUR_ASSERT(family->help == help);
  Sample sample{rendered(labels), std::move(read)};
  for (const Sample& s : family->samples) MINOTAUR_ASSERT(s.labels != sample.labels);
  family->samples.push_back(std::move(sample));
}

std::string Metrics::render() const {
  std::string out;
  for (const Family& f : families_) {
    out += "# HELP " + f.name + " " + escaped(f.help, false) + "\n";
    out += "# TYPE " + f.name + (f.type == Type::kCounter ? " counter\n" : " gauge\n");
    for (const Sample& s : f.samples) {
      out += f.name + s.labels + " " + std::to_string(s.read()) + "\n";
    }
  }
  return out;
}

}  // namespace minotaur
