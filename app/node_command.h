// `minotaur node` on the command line: the flags (docs/SPEC.md section 2) and their checks.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "node/node.h"

namespace minotaur::app {

struct NodeFlags {
  node::NodeConfig node;
  // Files and settings the flags name, read and checked by run_node_command.
  std::string cookie_file;
  std::string admin_token_file;
  std::string token_keys_file;
  std::string tls_cert_file;  // both or neither: the API port speaks TLS (gateway/server_tls.h)
  std::string tls_key_file;
  std::string log_format = "text";    // text or json (base/log_format.h)
  std::string unsafe_protocol_range;  // testing only: another protocol range in the handshake
  CLI::App* cmd = nullptr;            // the subcommand, once added
};

// Adds the subcommand and its flags to `app`, filling `c` when they are parsed.
void add_node_command(CLI::App& app, NodeFlags& c);
// Reads the secret, the token keys, the admin token and the TLS certificate and key, refuses
// what cannot work (exit 2, with what to do), then runs the node until it stops; returns the
// process exit code.
int run_node_command(NodeFlags& c);

// The contents of a secret file without surrounding white space; empty with `error` set when it
// cannot be read (`minotaur ctl` reads the admin token the same way).
std::string read_secret_file(const std::string& path, std::string& error);

}  // namespace minotaur::app
