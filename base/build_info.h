// What this build of minotaur is: its semantic version and the git commit it was built from.
//
// The version has one home, the top CMakeLists.txt's project(minotaur VERSION ...); the commit
// is read from git at every build (cmake/BuildInfo.cmake), "unknown" when the source is not a
// git checkout. Both are defined in one generated file that nothing else includes, so a new
// commit recompiles that file alone. `minotaur --version`, GET /api/v1/cluster (each member's
// version), /metrics (minotaur_build_info) and the cluster handshake's log lines show them.
//
// Link minotaur_build_info only where the text is shown (the node, the executable): a library
// below passes the text in (transport::TransportConfig::build), so a new commit does not relink
// every test.
#pragma once

#include <string>
#include <string_view>

namespace minotaur {

std::string_view build_version();  // "0.1.0"
std::string_view build_commit();   // "1a2b3c4d5e6f", or "unknown"

// "0.1.0 (commit 1a2b3c4d5e6f)": what the handshake tells peers and the log lines name.
inline std::string build_description() {
  return std::string(build_version()) + " (commit " + std::string(build_commit()) + ")";
}

}  // namespace minotaur
