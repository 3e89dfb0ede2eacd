// The files every node of a local cluster shares: the cluster secret, the token keys and the
// admin token. `minotaur local`, the benchmark's NodeProcs and the test harness write them with
// this one helper, so that all three start nodes the way a production cluster must be set up.
#pragma once

#include <string>

#include "base/result.h"

namespace minotaur::tooling {

struct ClusterSecrets {
  std::string cookie_file;       // DIR/cookie: --cookie-file
  std::string token_keys_file;   // DIR/token-keys: --token-keys-file
  std::string admin_token_file;  // DIR/admin-token: --admin-token-file
  std::string admin_token;
  std::string cookie;  // the cluster secret itself (for tests that speak the cluster protocol)
};

// Writes into the existing folder `dir`, each file mode 0600: the cluster secret (32 random
// bytes, base64url), the admin token (`admin_token`, or 16 random bytes when empty), and the
// token-keys file, created with one new key by `minotaur token-keys new`'s code. What a folder
// used before holds is kept — its secret (the nodes' data dirs belong to that cluster), its
// admin token unless one is given, and a valid token-keys file (so that players' tokens outlive
// a restart of `minotaur local`); an invalid token-keys file is an error that names it.
Result<ClusterSecrets, std::string> write_cluster_secrets(const std::string& dir,
                                                          const std::string& admin_token = "");

}  // namespace minotaur::tooling
