#include "app/token_keys_command.h"

#include <chrono>
#include <cstdio>

#include "gateway/token_keys.h"
#include "gateway/token_keys_file.h"

namespace minotaur::app {

std::string token_key_overlap_help() {
  return "How long tokens signed with a superseded key still verify, from the created time of "
         "the key that superseded it (default: the token lifetime, 30 days, so that no token "
         "dies early because of a rotation; 0: at once)";
}

void add_token_keys_command(CLI::App& app, TokenKeysCommand& out) {
  out.command = app.add_subcommand(
      "token-keys",
      "The keys that sign players' tokens: a text file given to every node of a cluster with "
      "--token-keys-file, one key per line: <key-id> <created-unix-ms> <base64url key>");
  out.command->require_subcommand(1);
  out.new_command = out.command->add_subcommand(
      "new",
      "Create FILE (mode 0600) with one new key (32 bytes from OpenSSL's RAND_bytes), or, when "
      "it exists, put a new key first and drop the keys whose overlap has ended; prints what "
      "it did. The new key signs once the nodes are restarted with the file. The file is "
      "rewritten: comments are not kept");
  out.new_command->add_option("file", out.file, "The token-keys file")->required();
  out.new_command
      ->add_option("--token-key-overlap-ms", out.overlap_ms,
                   token_key_overlap_help() + "; give the nodes' value")
      ->envname("MINOTAUR_TOKEN_KEY_OVERLAP_MS")
      ->check(CLI::Range(static_cast<std::int64_t>(0), static_cast<std::int64_t>(315'360'000'000)))
      ->default_val(gateway::kTokenLifetimeMs);
}

int run_token_keys_command(const TokenKeysCommand& c) {
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  auto done = gateway::new_token_key_in_file(c.file, now_ms, c.overlap_ms);
  if (!done) {
    std::fprintf(stderr, "token-keys new: %s\n", done.error().c_str());
    return 1;
  }
  std::printf("token-keys new: %s\n", done.value().report.c_str());
  return 0;
}

}  // namespace minotaur::app
