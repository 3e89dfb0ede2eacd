// `minotaur token-keys new FILE`: creates a cluster's token-keys file with one key, or rotates it
// (a new key first, retired keys dropped), and prints what it did (gateway/token_keys_file.h).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace minotaur::app {

struct TokenKeysCommand {
  CLI::App* command = nullptr;  // `token-keys`
  CLI::App* new_command = nullptr;
  std::string file;
  std::int64_t overlap_ms = 0;
};

// Adds the subcommand and its flags to `app`; `out` receives them once parsed.
void add_token_keys_command(CLI::App& app, TokenKeysCommand& out);

// Runs it: the process exit code.
int run_token_keys_command(const TokenKeysCommand& command);

// The help of --token-key-overlap-ms, which `minotaur node` shares.
std::string token_key_overlap_help();

}  // namespace minotaur::app
