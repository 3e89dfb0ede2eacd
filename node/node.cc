#include "node/node.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <random>

#include "base/build_info.h"
#include "gateway/api.h"
#include "gateway/http_server.h"
#include "gateway/tokens.h"
#include "handoff/store.h"
#include "node/cluster_runtime.h"
#include "sessions/host.h"
#include "sessions/router.h"
#include "storage/data_dir.h"
#include "storage/pg_database.h"
#include "transport/address.h"

namespace minotaur::node {

namespace asio = boost::asio;

int run_node(const NodeConfig& config) {
  const auto http_address = transport::parse_host_port(config.http_address);
  if (!http_address) {
    spdlog::error("--http: {}", http_address.error());
    return 2;
  }
  const std::string& http_host = http_address.value().host;
  const std::uint16_t http_port = http_address.value().port;
  // A malformed seed would be skipped at start, and with none left the node would wait for a
  // seed to resolve forever (cluster_runtime.h): refused here instead, naming it.
  for (const std::string& seed : config.seeds) {
    if (seed.empty()) continue;  // "a:1,,b:2": an empty item, skipped at start as before
    if (auto hp = transport::parse_host_port(seed); !hp || hp.value().port == 0) {
      spdlog::error(
          "--seeds: '{}' is not HOST:PORT of another node's cluster port ({}); give "
          "HOST:PORT,... or a DNS name with the port, as name:9080",
          seed, hp ? std::string("port 0") : hp.error());
      return 2;
    }
  }

  asio::io_context io(1);
  const auto wall_clock_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };

  sessions::HostOptions host_options;
  host_options.node_name = config.name;
  host_options.round_time_ms = config.round_time_ms;
  host_options.concluded_retention_ms = config.concluded_retention_ms;
  host_options.lobby_retention_ms = config.lobby_retention_ms;
  host_options.wall_clock_ms = wall_clock_ms;
  host_options.random_seed = std::random_device{}() ^ static_cast<std::uint64_t>(wall_clock_ms());
  sessions::SessionHost host(io.get_executor(), host_options);

  // The data dir first: a node that cannot keep what it acknowledges does not start.
  std::unique_ptr<storage::DataDir> disk;
  storage::Snapshot stored;
  if (!config.data_dir.empty()) {
    auto opened = storage::DataDir::open(
        config.data_dir, {config.name, storage::cluster_fingerprint(config.cookie)});
    if (!opened) {
      spdlog::error("node {}: {}", config.name, opened.error());
      return 2;
    }
    disk = std::move(opened).value();
    auto loaded = disk->load();
    if (!loaded) {
      spdlog::error("node {}: {}", config.name, loaded.error());
      return 2;
    }
    stored = std::move(loaded).value();
  }

  // The database next, for the same reason; its rows join what the data dir holds.
  std::unique_ptr<storage::PgDatabase> database;
  std::size_t rows_loaded = 0;
  if (!config.database_url.empty()) {
    auto opened = storage::PgDatabase::open(config.database_url);
    if (!opened) {
      spdlog::error("node {}: {}", config.name, opened.error());
      return 2;
    }
    database = std::move(opened).value();
    std::size_t skipped = 0;
    auto rows = database->load(&skipped);
    if (!rows) {
      spdlog::error("node {}: database at {}: {}", config.name, database->where(), rows.error());
      return 2;
    }
    rows_loaded = rows.value().size();
    std::size_t invalid = 0;
    handoff::merge_rows(stored, std::move(rows).value(), &invalid);
    skipped += invalid;
    if (skipped != 0) {
      spdlog::error(
          "node {}: database at {}: {} row(s) of minotaur_sessions are not what a node writes "
          "and were skipped; their sessions are not loaded",
          config.name, database->where(), skipped);
    }
  }

  ClusterRuntime cluster(
      io,
      {config.name, config.cluster_address, config.http_address, config.seeds, config.cookie,
       disk ? disk->last_incarnation() + 1 : 0, std::string(build_version()),
       std::string(build_commit()), config.protocol_range, config.failure_bound_ms},
      [&] { return host.game_count() + host.lobby_count(); });
  // The router reaches the other nodes through the cluster's sessions channel.
  struct Link : sessions::ClusterLink {
    explicit Link(ClusterRuntime& c) : cluster(c) {}
    sessions::MembershipView membership() const override {
      const cluster::Membership* m = cluster.membership();
      return m == nullptr ? sessions::MembershipView{} : sessions::view_of(*m);
    }
    sessions::Lease lease() const override {
      return sessions::Lease{cluster.has_quorum(), cluster.all_in_touch()};
    }
    bool send(const std::string& peer, const std::string& bytes) override {
      return cluster.transport().send(peer, transport::v1::CHANNEL_SESSIONS, bytes).ok();
    }
    ClusterRuntime& cluster;
  } link(cluster);
  // The replicated store, before the sessions that stash into it and stopped after them.
  handoff::Store store(
      io, config.name, cluster.transport().self().incarnation,
      [&](const std::string& peer, const std::string& bytes) {
        return cluster.transport().send(peer, transport::v1::CHANNEL_STORE, bytes).ok();
      });
  if (disk) {
    const std::size_t sessions = stored.entries.size();
    if (auto ok = store.core().load(std::move(stored)); !ok) {
      spdlog::error("node {}: data dir {}: {}; move it aside and start with an empty one",
                    config.name, disk->path(), ok.error());
      return 2;
    }
    if (auto ok = disk->record_incarnation(cluster.transport().self().incarnation); !ok) {
      spdlog::error("node {}: {}", config.name, ok.error());
      return 2;
    }
    store.attach_disk(*disk, config.commit_interval_ms);
    spdlog::info(
        "node {}: data dir {}: {} stored session(s) loaded; changes reach the disk within {} ms",
        config.name, disk->path(), sessions, config.commit_interval_ms);
  } else if (database) {
    if (auto ok = store.core().load(std::move(stored), /*for_disk=*/false); !ok) {
      spdlog::error("node {}: database at {}: {}", config.name, database->where(), ok.error());
      return 2;
    }
  }
  if (database) {
    storage::DbQueueLimits limits;
    limits.max_keys = config.database_max_queue;
    limits.max_lag_ms = config.database_max_lag_ms;
    store.core().attach_database(limits);
    store.attach_database(*database, config.commit_interval_ms);
    spdlog::info(
        "node {}: database at {}: {} session(s) loaded; this node's changes are "
        "written there within {} ms",
        config.name, database->where(), rows_loaded, config.commit_interval_ms);
  }
  cluster.on_channel(transport::v1::CHANNEL_STORE,
                     [&](const transport::NodeIdentity& from, std::string_view bytes) {
                       store.on_message(from.name, from.incarnation, bytes);
                     });
  sessions::Router router(io.get_executor(), host, link, config.name,
                          fmt::format("{}#{}", config.name, cluster.transport().self().incarnation),
                          &store, config.replication == "sync");
  router.set_join_code_length(config.join_code_letters);
  router.set_allow_reset(config.allow_reset);
  if (config.allow_reset) {
    spdlog::warn(
        "--allow-reset: the admin token can drop every session of the cluster (for test "
        "clusters only)");
  }
  cluster.on_channel(transport::v1::CHANNEL_SESSIONS,
                     [&](const transport::NodeIdentity& from, std::string_view bytes) {
                       router.on_message(from.name, bytes, from.incarnation);
                     });

  int exit_code = 0;
  cluster.events().subscribe([&](const cluster::MemberEvent& e) {
    // Declared down: the cluster started this node's sessions elsewhere, its copies are stale
    // and the router has fenced them. Stop at once, before anything could move them.
    if (router.on_member_event(e) == sessions::NodeCore::MemberOutcome::kFenced && exit_code == 0) {
      spdlog::error(
          "node {}: the cluster declared this incarnation down (cut off longer than "
          "the failure bound); exiting so that a supervisor restarts it as a new one",
          config.name);
      exit_code = 3;
      io.stop();
    }
  });

  // A node that cannot talk to the cluster it dialed gives up while it is still joining, so that
  // a deploy of an incompatible build stops at its first node. A node that is already a member,
  // or that was dialed (a member that restarts while an incompatible node knocks must not give
  // up), keeps going; the transport logs every refusal, and the choice is the operator's. The
  // peer is authenticated (transport/handshake.h), so a stranger cannot cause the exit.
  cluster.on_protocol_refused([&](const transport::ProtocolRefusal& r) {
    if (!r.we_dialed || cluster.joined() || exit_code != 0) return;
    spdlog::error(
        "node {}: cannot join the cluster: member {} runs {} and speaks cluster protocol "
        "versions {}, and this build ({}) speaks {}. This build can be deployed over builds that "
        "speak one of protocol versions {}; the cluster speaks {}. Deploy a build that speaks "
        "one of {} (`minotaur --version` names a build's protocol versions), or first roll the "
        "cluster onto a build that speaks both; exiting",
        config.name, r.peer.name,
        r.peer_build.empty() ? std::string("a build that does not say its version") : r.peer_build,
        transport::to_string(r.peer_range), build_description(),
        transport::to_string(config.protocol_range), transport::to_string(config.protocol_range),
        transport::to_string(r.peer_range), transport::to_string(r.peer_range));
    exit_code = 4;
    io.stop();
  });

  if (auto started = cluster.start(); !started) {
    spdlog::error("node {}: {}", config.name, started.error());
    return 1;
  }
  store.start();

  const gateway::TokenSigner signer(config.token_keys, config.token_key_overlap_ms);
  spdlog::info("node {}: {} token key(s); key {} signs players' tokens", config.name,
               config.token_keys.size(), signer.signing_key_id());
  // GET /metrics: each part of the node adds its own.
  Metrics registry;
  registry.add_gauge(
      "minotaur_build_info", "The build this node runs: always 1, its labels say which",
      [] { return 1u; },
      {{"version", std::string(build_version())}, {"commit", std::string(build_commit())}});
  gateway::GatewayMetrics metrics(registry);
  host.add_metrics(registry);
  router.add_metrics(registry);
  cluster.add_metrics(registry);
  if (disk) {
    const auto& c = store.counters();
    registry.add_counter("minotaur_store_batches_committed_total",
                         "Batches of changes written to the data dir",
                         [&c] { return c.batches_committed; });
    registry.add_counter("minotaur_store_batch_failures_total",
                         "Batches the data dir could not write (full or failing disk)",
                         [&c] { return c.batch_failures; });
    registry.add_counter("minotaur_store_keys_committed_total",
                         "Session states written or removed in committed batches",
                         [&c] { return c.keys_committed; });
    registry.add_gauge("minotaur_store_disk_ok",
                       "1 while the data dir takes batches; 0 after one failed (changes refused)",
                       [&store] { return store.disk_ok() ? 1u : 0u; });
    registry.add_gauge("minotaur_store_disk_bytes", "Bytes of the data dir's database and WAL",
                       [&disk] { return disk->bytes_on_disk(); });
  }
  if (database) {
    const storage::DbQueue& q = *store.core().database();
    registry.add_gauge("minotaur_database_queue_length",
                       "Sessions whose latest change this node has not yet written to the database",
                       [&q] { return static_cast<std::uint64_t>(q.queue_length()); });
    registry.add_gauge("minotaur_database_lag_ms",
                       "Milliseconds since the oldest change not yet in the database was made",
                       [&store] { return static_cast<std::uint64_t>(store.core().db_lag_ms()); });
    registry.add_counter("minotaur_database_write_errors_total",
                         "Batches the database could not write (retried with a backoff)",
                         [&q] { return q.counters().write_errors; });
    registry.add_counter("minotaur_database_rows_written_total",
                         "Session changes in batches the database committed",
                         [&q] { return q.counters().rows_written; });
    registry.add_counter("minotaur_database_fenced_total",
                         "Writes the database refused because a newer owner had written the row",
                         [&q] { return q.counters().fenced; });
    registry.add_gauge("minotaur_database_ok",
                       "1 while the database takes this node's writes; 0 while they fail",
                       [&q] { return q.failing() ? 0u : 1u; });
  }
  bool serving = false;
  gateway::ApiOptions api_options;
  api_options.node_name = config.name;
  api_options.admin_token = config.admin_token;
  api_options.wall_clock_ms = wall_clock_ms;
  // Ready: serving, in the cluster, and taking changes (a load balancer sends clients only to
  // a node that would not hold their changes; NodeCore::not_ready says which holds count).
  api_options.not_ready = [&]() -> std::string {
    if (!serving) return "starting";
    if (!cluster.joined()) return "joining";
    if (cluster.self_down()) return "fenced";
    if (!cluster.ready()) return "draining";
    if (auto why = router.not_ready()) return std::string(sessions::to_string(*why));
    return "";
  };
  api_options.cluster_view = [&] {
    const auto held = router.changes_held();
    boost::json::object view{{"node", config.name},
                             {"accepts_changes", !held.has_value()},
                             {"members", cluster.members_json()},
                             {"quorum", cluster.quorum_json()}};
    if (held) view["changes_held"] = sessions::to_string(*held);
    if (!config.local_control.empty()) view["local_control"] = config.local_control;
    if (!config.local_run.empty()) view["local_run"] = config.local_run;
    return view;
  };
  api_options.remove_member =
      [&](const std::string& name,
          bool force) -> Result<boost::json::object, sessions::SessionError> {
    using cluster::Membership;
    auto removed = cluster.remove_member(name, force);
    if (removed) return boost::json::object{{"removed", name}, {"quorum", cluster.quorum_json()}};
    using sessions::ErrorCode;
    const Membership::RemoveRefusal& why = removed.error();
    switch (why.error) {
      case Membership::RemoveError::kUnknown:
        return err(sessions::SessionError{ErrorCode::kMemberNotFound, why.message});
      case Membership::RemoveError::kAlive:
        return err(sessions::SessionError{ErrorCode::kMemberAlive, why.message});
      case Membership::RemoveError::kNoQuorum:
        return err(sessions::SessionError{ErrorCode::kRemovalNeedsQuorum, why.message});
      case Membership::RemoveError::kBusy:
        break;
    }
    return err(sessions::SessionError{ErrorCode::kMembershipChanging, why.message});
  };
  bool drain_started = false;
  std::function<void(std::string_view)> start_drain;  // set below, once the server exists
  api_options.drain = [&] {
    const std::size_t sessions = host.keys().size();
    const bool already = drain_started;
    asio::post(io, [&] { start_drain("drain asked for through the API"); });
    return boost::json::object{
        {"node", config.name}, {"draining", true}, {"already", already}, {"sessions", sessions}};
  };
  api_options.sessions = [&] {
    boost::json::array list;
    for (const std::string& key : host.keys()) {
      list.push_back(boost::json::object{{"key", key}, {"epoch", host.epoch(key)}});
    }
    return boost::json::object{{"node", config.name}, {"sessions", std::move(list)}};
  };
  if (config.client_limits == "off") api_options.budgets = gateway::BudgetLimits::off();
  gateway::Api api(router, signer, metrics, registry, api_options);
  gateway::ServerLimits server_limits;
  server_limits.max_connections = config.max_connections;
  gateway::HttpServer server(io, api, router, metrics, server_limits, config.tls.context);
  auto bound = server.listen(http_host, http_port);
  if (!bound) {
    spdlog::error("{}", bound.error());
    return 1;
  }
  serving = true;
  spdlog::info("node {}: serving {} on {}:{} (round time {} ms)", config.name,
               config.tls.context ? fmt::format("HTTPS and WSS ({})", config.tls.cert_file)
                                  : std::string("HTTP"),
               bound.value().address().to_string(), bound.value().port(), config.round_time_ms);

  // The graceful stop, on SIGTERM, SIGINT or POST /api/v1/admin/drain: once.
  start_drain = [&](std::string_view why) {
    if (drain_started) return;
    drain_started = true;
    const auto started = std::chrono::steady_clock::now();
    spdlog::info("node {}: {}; draining", config.name, why);
    // 1. Out of placement everywhere: every member recomputes owners without this node.
    serving = false;
    cluster.announce_leaving();
    // 2. Every session to its new owner, acknowledged; calls that arrive meanwhile wait and are
    //    forwarded. HTTP keeps serving (and forwarding) until the sessions are gone.
    asio::co_spawn(
        io,
        [&, started]() -> asio::awaitable<void> {
          co_await router.drain();
          const auto handed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - started)
                                     .count();
          spdlog::info("node {}: sessions handed off in {} ms", config.name, handed_ms);
          // Calls that other nodes forwarded here (and that now go on to the new owners) are
          // answered before the connections close; each one left unanswered would wait for
          // its sender's forward time-out. Bounded: a peer that keeps sending is not waited for.
          using sessions::NodeCore;
          (void)co_await router.remote_calls_answered(NodeCore::kRemoteCallsBoundMs);
          // The store outlives the sessions: every stash reaches the peers before we leave.
          if (!co_await store.flush(NodeCore::kStoreFlushBoundMs)) {
            spdlog::warn("node {}: the store was not acknowledged by every peer within {} ms",
                         config.name, NodeCore::kStoreFlushBoundMs);
          }
          // With a data dir, everything this replica holds goes to the disk before the exit:
          // the sessions it kept (nobody was left to take them) and what peers sent it.
          if (disk) {
            if (co_await store.write_to_disk(NodeCore::kDiskWriteBoundMs)) {
              spdlog::info("node {}: the store is on the disk ({})", config.name, disk->path());
            } else {
              spdlog::error(
                  "node {}: the store could not be written to {} within {} ms: {}; what the "
                  "peers hold is all that is kept of the last changes",
                  config.name, disk->path(), NodeCore::kDiskWriteBoundMs, store.disk_error());
            }
          }
          // With a database, what this node owes it is written before the exit.
          if (database) {
            if (co_await store.write_to_database(NodeCore::kDiskWriteBoundMs)) {
              spdlog::info("node {}: every change of this node is in the database", config.name);
            } else {
              spdlog::error(
                  "node {}: {} session(s) could not be written to the database at {} within "
                  "{} ms; what the peers hold is all that is kept of their last changes",
                  config.name, store.core().database()->queue_length(), database->where(),
                  NodeCore::kDiskWriteBoundMs);
            }
          }
          // 3. Stop the front door and the sessions, then leave the cluster.
          server.stop();
          router.stop();
          host.stop();
          store.stop();
          cluster.close(1000, [&, started] {
            spdlog::info("node {}: drained in {} ms; exiting", config.name,
                         std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - started)
                             .count());
            io.stop();
          });
        },
        asio::detached);
  };
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    start_drain(signal == SIGTERM ? "SIGTERM received" : "SIGINT received");
  });
  io.run();
  // The node has drained and exits: a SIGTERM or SIGINT from now on must not kill it halfway
  // (Ctrl-C in the terminal of `minotaur local` reaches local and every node, and local then
  // sends each node SIGTERM, late for a node that drained in a few milliseconds). Asio gives a
  // signal its default action, termination, back when the last set holding it goes, so the node
  // lets go of them here and ignores them until it has exited.
  signals.clear();
  std::signal(SIGTERM, SIG_IGN);
  std::signal(SIGINT, SIG_IGN);
  return exit_code;
}

}  // namespace minotaur::node
