// Result<T, E>: a value or an operating error (docs/DESIGN.md habit 4: operating errors are values,
// bugs crash). Reading the value of an error result, or the error of a good one, is a bug and
// aborts. Use Result<Ok, E> for operations that return nothing on success.
#pragma once

#include <utility>
#include <variant>

#include "base/assert.h"

namespace minotaur {

using Ok = std::monostate;

template <class E>
struct Err {
  E error;
};

template <class E>
Err<E> err(E e) {
  return Err<E>{std::move(e)};
}

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Err<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    MINOTAUR_ASSERT(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    MINOTAUR_ASSERT(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    MINOTAUR_ASSERT(ok());
    return std::get<0>(std::move(v_));
  }
  const E& error() const {
    MINOTAUR_ASSERT(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, E> v_;
};

}  // namespace minotaur
