// `minotaur node`: its flags, and what it checks of the files and secrets they name before the
// node runs (node/node.h).
#include "app/node_command.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "app/token_keys_command.h"
#include "base/log_format.h"
#include "gateway/server_tls.h"
#include "gateway/token_keys_file.h"
#include "tooling/local_node.h"
#include "transport/cluster_secret.h"
#include "transport/protocol_range.h"

namespace minotaur::app {

std::string read_secret_file(const std::string& path, std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path + "; check the path and its permissions";
    return {};
  }
  std::stringstream s;
  s << in.rdbuf();
  std::string v = s.str();
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.erase(0, 1);
  if (v.empty()) error = path + " is empty; put the secret in it";
  return v;
}

void add_node_command(CLI::App& app, NodeFlags& c) {
  c.cmd = app.add_subcommand("node", "Run one node of a cluster.");
  c.cmd->add_option("--name", c.node.name, "Unique name of this node in the cluster")
      ->envname("MINOTAUR_NAME")
      ->required();
  c.cmd->add_option("--cluster", c.node.cluster_address, "HOST:PORT for other nodes")
      ->envname("MINOTAUR_CLUSTER")
      ->required();
  c.cmd->add_option("--http", c.node.http_address, "HOST:PORT for players' HTTP and WebSocket")
      ->envname("MINOTAUR_HTTP")
      ->required();
  c.cmd
      ->add_option("--seeds", c.node.seeds,
                   "Other members to join: HOST:PORT,... or a DNS name whose records are "
                   "the members")
      ->envname("MINOTAUR_SEEDS")
      ->delimiter(',');
  c.cmd->add_option("--round-time-ms", c.node.round_time_ms, "Length of a round")
      ->envname("MINOTAUR_ROUND_TIME_MS")
      ->check(CLI::Range(static_cast<std::int64_t>(100), static_cast<std::int64_t>(86'400'000)))
      ->default_val(30'000);
  c.cmd
      ->add_option("--concluded-retention-ms", c.node.concluded_retention_ms,
                   "How long a concluded game stays readable after its last round, before "
                   "it is dropped from the cluster (-1: keep it)")
      ->envname("MINOTAUR_CONCLUDED_RETENTION_MS")
      ->check(CLI::Range(static_cast<std::int64_t>(-1), static_cast<std::int64_t>(31'536'000'000)))
      ->default_val(600'000);
  c.cmd
      ->add_option("--lobby-retention-ms", c.node.lobby_retention_ms,
                   "How long a lobby stays after its last change (created, joined, started) "
                   "before it is dropped and its join code is free again (-1: keep it)")
      ->envname("MINOTAUR_LOBBY_RETENTION_MS")
      ->check(CLI::Range(static_cast<std::int64_t>(-1), static_cast<std::int64_t>(31'536'000'000)))
      ->default_val(3'600'000);
  c.cmd
      ->add_option("--cookie-file", c.cookie_file,
                   "File holding the cluster secret (or set MINOTAUR_COOKIE)")
      ->envname("MINOTAUR_COOKIE_FILE");
  c.cmd
      ->add_option("--token-keys-file", c.token_keys_file,
                   "File of the keys that sign and verify players' tokens, the same for every "
                   "node of the cluster; create it with `minotaur token-keys new FILE`")
      ->envname("MINOTAUR_TOKEN_KEYS_FILE");
  c.cmd
      ->add_option("--token-key-overlap-ms", c.node.token_key_overlap_ms,
                   app::token_key_overlap_help())
      ->envname("MINOTAUR_TOKEN_KEY_OVERLAP_MS")
      ->check(CLI::Range(static_cast<std::int64_t>(0), static_cast<std::int64_t>(315'360'000'000)))
      ->default_val(gateway::kTokenLifetimeMs);
  c.cmd
      ->add_option("--admin-token-file", c.admin_token_file,
                   "File holding the admin token (or set MINOTAUR_ADMIN_TOKEN)")
      ->envname("MINOTAUR_ADMIN_TOKEN_FILE");
  c.cmd
      ->add_option("--tls-cert", c.tls_cert_file,
                   "With --tls-key: the API port (--http) speaks HTTPS and WSS only, with this "
                   "certificate (PEM: the node's certificate, then any intermediates). Read at "
                   "start: a renewed certificate takes a restart. The cluster port is not "
                   "encrypted")
      ->envname("MINOTAUR_TLS_CERT");
  c.cmd
      ->add_option("--tls-key", c.tls_key_file,
                   "With --tls-cert: the certificate's private key (PEM, without a passphrase)")
      ->envname("MINOTAUR_TLS_KEY");
  c.cmd
      ->add_option("--replication", c.node.replication,
                   "async: replicate in batches; sync: a change is acknowledged by another "
                   "node before the client sees success")
      ->envname("MINOTAUR_REPLICATION")
      ->check(CLI::IsMember({"async", "sync"}))
      ->default_val("async");
  c.cmd
      ->add_flag("--allow-reset", c.node.allow_reset,
                 "For test clusters: POST /api/v1/admin/reset (admin token) drops every session "
                 "and stash of the cluster, so that tests sharing it never see each other's "
                 "games. Every node needs the flag")
      ->envname("MINOTAUR_ALLOW_RESET");
  c.cmd
      ->add_option("--client-limits", c.node.client_limits,
                   "on: each client address and user has a budget (open connections, requests, "
                   "new users and lobbies, game calls, wrong join codes; docs/SPEC.md section 3 "
                   "lists them) and is answered 429 with Retry-After past it; off: no budgets, "
                   "for benchmarks and tests that drive a node from one address")
      ->envname("MINOTAUR_CLIENT_LIMITS")
      ->check(CLI::IsMember({"on", "off"}))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
      ->default_val("on");
  c.cmd
      ->add_option("--max-connections", c.node.max_connections,
                   "Client connections (HTTP and WebSocket) this node keeps open at once; past "
                   "it, 64 more may still read /healthz, /readyz and /metrics")
      ->envname("MINOTAUR_MAX_CONNECTIONS")
      ->check(CLI::Range(1, 1'000'000))
      ->default_val(10'000);
  c.cmd
      ->add_option("--join-code-letters", c.node.join_code_letters,
                   "Letters in the join codes of the lobbies this node creates. Every node reads "
                   "codes of 4 to 8 letters; builds before 6-letter codes read only 4, so while "
                   "such a build still runs in the cluster (a rolling deploy onto it, or back to "
                   "it), start the new nodes with 4")
      ->envname("MINOTAUR_JOIN_CODE_LETTERS")
      ->check(CLI::Range(4, 8))
      ->default_val(6);

  c.cmd
      ->add_option("--data-dir", c.node.data_dir,
                   "Keep this node's replica of the store in this directory (created if missing; "
                   "one per node), so that its games survive a stop of the whole cluster. With "
                   "--replication async a change is acknowledged before it reaches the disk and "
                   "is written within --commit-interval-ms; a graceful stop (SIGTERM) writes "
                   "everything first. With --replication sync a change is acknowledged only once "
                   "it is on this disk and every peer holds it (on its disk, when the peer has a "
                   "data dir), so that a power cut of every node loses nothing acknowledged. "
                   "Without a data dir a node keeps "
                   "everything in memory: a cluster whose nodes all stop loses its games")
      ->envname("MINOTAUR_DATA_DIR");
  c.cmd
      ->add_option(
          "--database-url", c.node.database_url,
          "Keep the latest state of every game and lobby in this PostgreSQL database "
          "(postgresql://USER:PASSWORD@HOST:PORT/DB; CockroachDB and YugabyteDB speak the same "
          "protocol and SQL), so that a cluster whose nodes all start empty, without data dirs, "
          "resumes every session from it. Each session's owner writes it, coalesced per "
          "session and batched every --commit-interval-ms, fenced by ownership epoch inside the "
          "database. The database is not waited for: under --replication async and sync alike "
          "a change is acknowledged before it is there (what sync promises is about the peers "
          "and data dirs); it is written within --commit-interval-ms while the database "
          "answers, and a graceful stop (SIGTERM) writes everything first. While the database "
          "is away changes queue; past --database-max-queue sessions or --database-max-lag-ms "
          "behind, changes are refused (503 storage_unavailable). The node creates and migrates "
          "its tables (minotaur_schema, minotaur_sessions) itself")
      ->envname("DATABASE_URL");
  c.cmd
      ->add_option("--database-max-queue", c.node.database_max_queue,
                   "With --database-url: sessions whose last change is not yet in the database "
                   "past which changes are refused")
      ->envname("MINOTAUR_DATABASE_MAX_QUEUE")
      ->check(CLI::Range(1, 10'000'000))
      ->default_val(storage::DbQueueLimits{}.max_keys);
  c.cmd
      ->add_option("--database-max-lag-ms", c.node.database_max_lag_ms,
                   "With --database-url: how old the oldest change not yet in the database may "
                   "be before changes are refused")
      ->envname("MINOTAUR_DATABASE_MAX_LAG_MS")
      ->check(CLI::Range(100, 3'600'000))
      ->default_val(storage::DbQueueLimits{}.max_lag_ms);
  c.cmd
      ->add_option("--failure-bound-ms", c.node.failure_bound_ms,
                   "A member not heard from for longer is declared down and its sessions are "
                   "started on the others from the store. The heartbeat (2/15 of it) and the "
                   "quorum lease (2/3: a node cut off from the majority stops taking changes "
                   "before the majority takes its sessions over) follow from it. Lower it on a LAN "
                   "for faster recovery after a crash, if no node ever pauses that long; every "
                   "node of a cluster needs the same value")
      ->envname("MINOTAUR_FAILURE_BOUND_MS")
      ->check(CLI::Range(cluster::MembershipConfig::kMinFailureBoundMs,
                         cluster::MembershipConfig::kMaxFailureBoundMs))
      ->default_val(cluster::MembershipConfig{}.failure_timeout_ms);
  c.cmd
      ->add_option("--commit-interval-ms", c.node.commit_interval_ms,
                   "With --data-dir: how often the changes are written to the disk, in one "
                   "transaction and one fsync (group commit); a sync write does not wait for it. "
                   "With --database-url: how often they are written to the database")
      ->envname("MINOTAUR_COMMIT_INTERVAL_MS")
      ->check(CLI::Range(1, 60'000))
      ->default_val(handoff::StoreCore::kCommitIntervalMs);
  c.cmd
      ->add_option("--log-format", c.log_format,
                   "text: for people (time, level, message); json: one object a line for log "
                   "collectors (time in UTC, level, node, component, message)")
      ->envname("MINOTAUR_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  // For tests only, and hidden from --help: the node states another range of cluster protocol
  // versions in its handshake than the build speaks, to play a build that the cluster must
  // refuse (or one that overlaps it). It changes nothing else: the node still speaks this
  // build's messages, so on a real cluster it is a lie that can only break things.
  c.cmd
      ->add_option("--unsafe-protocol-range", c.unsafe_protocol_range,
                   "TESTING ONLY: state cluster protocol versions MIN-MAX in the handshake "
                   "instead of this build's")
      ->envname("MINOTAUR_UNSAFE_PROTOCOL_RANGE")
      ->group("");
}

int run_node_command(NodeFlags& c) {
  if (c.log_format == "json")
    spdlog::set_formatter(std::make_unique<JsonLogFormatter>(c.node.name));
  std::string error;
  if (!c.cookie_file.empty()) {
    c.node.cookie = read_secret_file(c.cookie_file, error);
  } else if (const char* secret = std::getenv("MINOTAUR_COOKIE")) {
    c.node.cookie = secret;
  }
  if (!error.empty() || c.node.cookie.empty()) {
    spdlog::error("no cluster secret: {}",
                  error.empty() ? "give --cookie-file FILE or set MINOTAUR_COOKIE; make the "
                                  "file once with `head -c 32 /dev/urandom | base64 > cookie`"
                                : error);
    return 2;
  }
  if (auto strong = transport::check_cluster_secret(c.node.cookie); !strong) {
    spdlog::error("refusing to start: {}", strong.error());
    return 2;
  }
  if (c.token_keys_file.empty()) {
    spdlog::error(
        "refusing to start: no token keys; create the file once with `minotaur token-keys new "
        "FILE` and give every node of the cluster the same file with --token-keys-file FILE "
        "(or MINOTAUR_TOKEN_KEYS_FILE)");
    return 2;
  }
  auto keys = gateway::load_token_keys_file(c.token_keys_file);
  if (!keys) {
    spdlog::error("refusing to start: the token-keys file is not usable: {}", keys.error());
    return 2;
  }
  c.node.token_keys = std::move(keys.value());
  if (!c.admin_token_file.empty()) {
    c.node.admin_token = read_secret_file(c.admin_token_file, error);
    if (!error.empty()) {
      spdlog::error("--admin-token-file: {}", error);
      return 2;
    }
  } else if (const char* t = std::getenv("MINOTAUR_ADMIN_TOKEN")) {
    c.node.admin_token = t;
  }
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    spdlog::error(
        "refusing to start: {} {} is given without {}; give both --tls-cert FILE and --tls-key "
        "FILE (or MINOTAUR_TLS_CERT and MINOTAUR_TLS_KEY) for HTTPS, or neither for plain HTTP",
        c.tls_cert_file.empty() ? "--tls-key" : "--tls-cert",
        c.tls_cert_file.empty() ? c.tls_key_file : c.tls_cert_file,
        c.tls_cert_file.empty() ? "--tls-cert" : "--tls-key");
    return 2;
  }
  if (!c.tls_cert_file.empty()) {
    auto tls = gateway::load_server_tls(c.tls_cert_file, c.tls_key_file);
    if (!tls) {
      spdlog::error("refusing to start: --tls-cert/--tls-key: {}", tls.error());
      return 2;
    }
    c.node.tls = std::move(tls).value();
  }
  if (const char* control = std::getenv("MINOTAUR_LOCAL_CONTROL")) c.node.local_control = control;
  if (!c.unsafe_protocol_range.empty()) {
    auto range = transport::parse_protocol_range(c.unsafe_protocol_range);
    if (!range) {
      spdlog::error("--unsafe-protocol-range: {}", range.error());
      return 2;
    }
    c.node.protocol_range = range.value();
    spdlog::warn(
        "--unsafe-protocol-range: stating cluster protocol versions {} instead of this build's "
        "{} (for tests only; never on a real cluster)",
        transport::to_string(c.node.protocol_range),
        transport::to_string(transport::kProtocolRange));
  }
  if (const char* run = std::getenv(tooling::kLocalRunEnv)) c.node.local_run = run;
  return node::run_node(c.node);
}

}  // namespace minotaur::app
