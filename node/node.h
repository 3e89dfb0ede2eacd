// One Minotaur node: wires the layers together, starts them in order, and on SIGTERM/SIGINT
// drains them in reverse order (docs/DESIGN.md, "Layers, bottom up" and "How a hand-off should
// go"; docs/SPEC.md section 2, "Stopping a node").
//
// Start order: the session host, the store and the router are built, then the cluster (transport
// and membership) and the replicated store start, then the HTTP/WebSocket gateway listens. Stop
// order: leave placement, hand every session off, answer the calls other nodes forwarded here,
// flush the store to the peers, then stop HTTP, the sessions and the store and leave the cluster;
// exit 0. The store outlives the sessions, so that every stash reaches the peers (docs/DESIGN.md,
// "Lessons from the systems that came before": flush with acknowledgements).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/membership.h"
#include "gateway/server_tls.h"
#include "gateway/token_keys.h"
#include "handoff/store_core.h"
#include "storage/db_queue.h"
#include "transport/handshake.h"

namespace minotaur::node {

struct NodeConfig {
  std::string name;
  std::string cluster_address;  // HOST:PORT for peers
  std::string http_address;     // HOST:PORT for clients
  gateway::ServerTls tls;       // the API port's certificate and key; no context: plain HTTP
  std::vector<std::string> seeds;
  std::int64_t round_time_ms = 30'000;
  std::int64_t concluded_retention_ms = 10 * 60 * 1000;  // then a concluded game is dropped
  std::int64_t lobby_retention_ms = 60 * 60 * 1000;      // an unchanged lobby is dropped then
  std::string cookie;                                    // the cluster secret
  std::vector<gateway::TokenKey> token_keys;  // players' token keys (gateway/token_keys.h)
  std::int64_t token_key_overlap_ms = gateway::kTokenLifetimeMs;
  std::string admin_token;  // empty: admin calls refused
  std::string replication = "async";
  bool allow_reset = false;          // POST /api/v1/admin/reset drops every session (test clusters)
  std::string client_limits = "on";  // "off": no per-address or per-user budgets
  std::size_t max_connections = 10'000;  // client connections open at once
  std::size_t join_code_letters = 6;     // letters of the join codes this node makes (4-8)
  std::string local_control;  // minotaur local's control URL, shown to the page; empty otherwise
  // Under minotaur local: the run's identity (tooling/local_node.h, NodeIdentity), shown in the
  // cluster view so that local's readiness check knows its own node from another process.
  std::string local_run;
  // Durability (storage/data_dir.h): the node's replica of the store on its disk. Empty: in
  // memory only.
  std::string data_dir;
  // The shared database (storage/pg_database.h): a libpq URL, postgresql://USER@HOST:PORT/DB.
  // Empty: none.
  std::string database_url;
  // Past this many sessions unwritten, or this far behind, the node refuses changes.
  std::size_t database_max_queue = storage::DbQueueLimits{}.max_keys;
  std::int64_t database_max_lag_ms = storage::DbQueueLimits{}.max_lag_ms;
  // Group commit: changes reach the disk (and the database) within this.
  std::int64_t commit_interval_ms = handoff::StoreCore::kCommitIntervalMs;
  // A member silent for longer is down; the heartbeat and the quorum lease follow from it
  // (cluster::MembershipConfig::set_failure_bound).
  std::uint32_t failure_bound_ms = cluster::MembershipConfig{}.failure_timeout_ms;
  // The cluster protocol versions the handshake states. Only tests take another range
  // (--unsafe-protocol-range), to play a build that cannot join.
  transport::ProtocolRange protocol_range = transport::kProtocolRange;
};

// Runs the node until a stop signal; returns the process exit code (0 after a clean drain, 2 for
// a configuration it cannot start with, such as an unusable data dir, 3 when the cluster
// declared it down, 4 when the cluster it tries to join speaks no protocol version it speaks).
int run_node(const NodeConfig& config);

}  // namespace minotaur::node
