// Writing a whole file so that a crash leaves either the old contents or the new ones: the text
// goes to PATH.new (created with `mode`, never wider for a moment), is flushed to disk and renamed
// over PATH. For small files of secrets and keys (gateway/token_keys_file.h, bench/secrets.h).
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.h"

namespace minotaur {

// An error says which step failed, why, and what to check.
Result<Ok, std::string> write_file_atomically(const std::string& path, const std::string& text,
                                              mode_t mode);

}  // namespace minotaur
