#include "node/cluster_runtime.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <thread>

#include "base/clock.h"
#include "node/node_info.pb.h"
#include "transport/address.h"
#include "transport/identity.h"

namespace minotaur::node {

namespace asio = boost::asio;
using transport::v1::Channel;

namespace {

constexpr std::int64_t kInfoIntervalMs = 1000;
// Seeds that do not resolve at start are asked again this often, with a warning every tenth time.
constexpr std::int64_t kSeedRetryMs = 1000;
constexpr int kSeedRetryLogEvery = 10;

// Seeds as IP:PORT: a DNS name becomes every address it resolves to (A and AAAA records).
std::vector<std::string> resolve_seeds(asio::io_context& io,
                                       const std::vector<std::string>& seeds) {
  std::vector<std::string> out;
  asio::ip::tcp::resolver resolver(io);
  for (const std::string& seed : seeds) {
    if (seed.empty()) continue;
    const auto hp = transport::parse_host_port(seed);
    if (!hp) {
      spdlog::warn("cluster: seed skipped: {}", hp.error());
      continue;
    }
    const std::string& host = hp.value().host;
    const std::string port = std::to_string(hp.value().port);
    boost::system::error_code ec;
    (void)asio::ip::make_address(host, ec);
    if (!ec) {
      out.push_back(seed);
      continue;
    }
    const auto results = resolver.resolve(host, port, ec);
    if (ec) {
      spdlog::warn("cluster: seed '{}' does not resolve ({}); check the name", seed, ec.message());
      continue;
    }
    for (const auto& r : results) {
      const auto ep = r.endpoint();
      out.push_back(ep.address().is_v6()
                        ? fmt::format("[{}]:{}", ep.address().to_string(), ep.port())
                        : fmt::format("{}:{}", ep.address().to_string(), ep.port()));
    }
    spdlog::info("cluster: seed {} resolved to {} address(es)", seed, results.size());
  }
  return out;
}

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

ClusterRuntime::ClusterRuntime(asio::io_context& io, ClusterRuntimeConfig config,
                               std::function<std::uint64_t()> session_count)
    : io_(io),
      config_(std::move(config)),
      session_count_(std::move(session_count)),
      net_(io,
           [&] {
             transport::TransportConfig tc;
             // The incarnation grows across restarts of a name: wall-clock ms at start.
             tc.self = {config_.name, std::max(wall_ms(), config_.min_incarnation), ""};
             tc.listen_address = config_.cluster_address;
             tc.secret = config_.cookie;
             tc.protocol_range = config_.protocol_range;
             tc.build = config_.version.empty()
                            ? std::string()
                            : config_.version + " (commit " + config_.commit + ")";
             return tc;
           }(),
           {}),
      tick_timer_(io) {}

ClusterRuntime::~ClusterRuntime() {
  net_.stop();
}

std::int64_t ClusterRuntime::now_ms() const {
  return steady_now_ms();
}

void ClusterRuntime::on_channel(Channel channel, ChannelHandler handler) {
  handlers_[channel] = std::move(handler);
}

void ClusterRuntime::apply(cluster::Step s) {
  for (const auto& a : s.forget) net_.forget(a);
  for (const auto& a : s.connect) {
    if (auto r = net_.connect(a); !r.ok())
      spdlog::warn("cluster: cannot dial {}: {}", a, r.error());
  }
  for (const auto& m : s.sends) {
    (void)net_.send(m.to, transport::v1::CHANNEL_MEMBERSHIP, cluster::encode_membership(m.message));
  }
  for (const auto& e : s.events) {
    spdlog::info("cluster: member {} (incarnation {}, {}) is {}", e.member.name,
                 e.member.incarnation, e.member.address, cluster::to_string(e.kind));
    if (e.kind == cluster::MemberStatus::kDown) peer_info_.erase(e.member.name);
  }
  hub_.publish(s.events);
}

void ClusterRuntime::send_info(const std::string& peer) {
  v1::NodeInfo info;
  info.set_http_address(config_.http_address);
  info.set_sessions(session_count_());
  info.set_failure_bound_ms(config_.failure_bound_ms);
  info.set_version(config_.version);
  info.set_commit(config_.commit);
  (void)net_.send(peer, transport::v1::CHANNEL_NODE_INFO, info.SerializeAsString());
}

Result<Ok, std::string> ClusterRuntime::start() {
  transport::TransportHandlers h;
  h.on_peer_connected = [this](const transport::NodeIdentity& p) {
    apply(members_->on_peer_connected(p, now_ms()));
    send_info(p.name);
  };
  h.on_peer_disconnected = [this](const transport::NodeIdentity& p) {
    apply(members_->on_peer_disconnected(p, now_ms()));
  };
  h.on_dialed_self = [this](const std::string& a) { apply(members_->on_dialed_self(a, now_ms())); };
  h.on_protocol_refused = [this](const transport::ProtocolRefusal& r) {
    if (on_refused_) on_refused_(r);
  };
  h.on_message = [this](const transport::NodeIdentity& p, Channel ch, std::string_view bytes) {
    if (ch == transport::v1::CHANNEL_MEMBERSHIP) {
      auto m = cluster::decode_membership(bytes);
      if (!m.ok()) {
        spdlog::warn("cluster: dropped a membership message from {}: {}", p.name, m.error());
        return;
      }
      apply(members_->on_message(p, m.value(), now_ms()));
      return;
    }
    if (ch == transport::v1::CHANNEL_NODE_INFO) {
      v1::NodeInfo info;
      if (!info.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
          !transport::valid_address(info.http_address())) {
        spdlog::warn("cluster: dropped a malformed node info from {}", p.name);
        return;
      }
      // A build text that is not printable is shown as unknown, not dropped with the rest.
      const bool build_ok =
          transport::valid_build_text(info.version()) && transport::valid_build_text(info.commit());
      peer_info_[p.name] = PeerInfo{info.http_address(), info.sessions(),
                                    build_ok ? info.version() : "", build_ok ? info.commit() : ""};
      if (members_->fit_peer_failure_bound(info.failure_bound_ms())) {
        tick_ms_ = members_->config().tick_ms();
        spdlog::warn(
            "cluster: {} declares members down after {} ms, this node after {} ms "
            "(--failure-bound-ms): this node's quorum lease is now {} ms and its heartbeat {} ms, "
            "so that it stops taking changes before {} could declare it down. Give every node "
            "the same --failure-bound-ms",
            p.name, info.failure_bound_ms(), config_.failure_bound_ms,
            members_->config().quorum_lease_ms, members_->config().heartbeat_interval_ms, p.name);
      }
      return;
    }
    if (auto it = handlers_.find(ch); it != handlers_.end()) {
      it->second(p, bytes);
    } else {
      spdlog::warn("cluster: {} sent on channel {}, which this version does not know", p.name,
                   static_cast<int>(ch));
    }
  };
  cluster::MembershipConfig mc;
  if (auto bound = mc.set_failure_bound(config_.failure_bound_ms); !bound) {
    return err(bound.error());
  }
  tick_ms_ = mc.tick_ms();
  net_.set_handlers(std::move(h));
  if (auto r = net_.start(); !r.ok()) return err(r.error());

  mc.self = net_.self();
  mc.seeds = resolve_seeds(io_, config_.seeds);
  // Seeds given, none resolved: starting now would form a cluster of one beside the real one (a
  // DNS hiccup at start, a record not yet published), and two clusters would serve the same
  // games. The node waits for a name to resolve instead; the first node of a cluster is started
  // without seeds, or with a name that resolves to itself.
  const bool seeds_given = std::any_of(config_.seeds.begin(), config_.seeds.end(),
                                       [](const std::string& seed) { return !seed.empty(); });
  for (int attempt = 1; mc.seeds.empty() && seeds_given; ++attempt) {
    if (attempt % kSeedRetryLogEvery == 1) {
      spdlog::warn(
          "cluster: no seed resolves yet ({}); a node given seeds does not start a cluster of "
          "its own: trying again every {} ms. Check the names (and the DNS server), or start "
          "the cluster's first node without --seeds",
          fmt::join(config_.seeds, ", "), kSeedRetryMs);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kSeedRetryMs));
    mc.seeds = resolve_seeds(io_, config_.seeds);
  }
  members_.emplace(mc);
  spdlog::info("cluster: {} listening on {} (incarnation {}), {} seed(s)", config_.name,
               net_.self().address, net_.self().incarnation, mc.seeds.size());
  apply(members_->start(now_ms()));
  tick();
  return Ok{};
}

void ClusterRuntime::tick() {
  const std::int64_t now = now_ms();
  apply(members_->tick(now));
  if (now - last_info_ms_ >= kInfoIntervalMs) {
    last_info_ms_ = now;
    for (const auto& p : net_.peers()) send_info(p.name);
  }
  tick_timer_.expires_after(std::chrono::milliseconds(tick_ms_));
  tick_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

bool ClusterRuntime::joined() const {
  return members_ && members_->joined();
}

bool ClusterRuntime::ready() const {
  return members_ && members_->joined() && !members_->self_down() && !leaving_;
}

bool ClusterRuntime::has_quorum() const {
  return members_ && members_->has_quorum(now_ms());
}

bool ClusterRuntime::all_in_touch() const {
  return members_ && members_->all_in_touch(now_ms());
}

bool ClusterRuntime::self_down() const {
  return members_ && members_->self_down();
}

std::vector<cluster::Member> ClusterRuntime::members() const {
  return members_ ? members_->members() : std::vector<cluster::Member>{};
}

std::vector<cluster::Member> ClusterRuntime::serving_members() const {
  return members_ ? members_->serving_members() : std::vector<cluster::Member>{};
}

Result<Ok, cluster::Membership::RemoveRefusal> ClusterRuntime::remove_member(
    const std::string& name, bool force) {
  if (!members_) {
    return err(cluster::Membership::RemoveRefusal{cluster::Membership::RemoveError::kUnknown,
                                                  "this node has not started its membership yet"});
  }
  const cluster::Member* m = members_->find(name);
  const std::uint64_t incarnation = m == nullptr ? 0 : m->incarnation;
  auto step = members_->remove(name, force, now_ms());
  if (!step) return err(step.error());
  spdlog::warn("cluster: an operator removed member {} (incarnation {}){}; {} voter(s) left", name,
               incarnation, force ? " with force, without the quorum" : "",
               members_->voter_count());
  apply(std::move(step).value());
  return Ok{};
}

boost::json::object ClusterRuntime::quorum_json() const {
  if (!members_) return {{"held", false}, {"voters", 0}, {"formed", false}};
  return {{"held", members_->has_quorum(now_ms())},
          {"voters", members_->voter_count()},
          {"formed", members_->formed()}};
}

boost::json::array ClusterRuntime::members_json() const {
  boost::json::array out;
  if (!members_) return out;
  for (const cluster::Member& m : members_->members()) {
    // Tombstones of replaced incarnations would list a name twice; show each name once, newest.
    // A member this node has not heard from within the failure bound is shown as such even
    // while the cluster cannot declare it down (no quorum here): never as up.
    const bool unreachable = members_->unreachable(m.name, now_ms());
    boost::json::object o{{"name", m.name},
                          {"status", unreachable ? "unreachable" : cluster::to_string(m.status)},
                          {"incarnation", m.incarnation},
                          {"voter", members_->votes(m.name)},
                          {"removed", members_->removed(m.name)}};
    const auto text_or_null = [](const std::string& s) -> boost::json::value {
      if (s.empty()) return nullptr;
      return boost::json::string(s);
    };
    o["version"] = nullptr;
    o["commit"] = nullptr;
    if (m.self) {
      o["sessions"] = session_count_();
      o["http"] = config_.http_address;
      o["version"] = text_or_null(config_.version);
      o["commit"] = text_or_null(config_.commit);
    } else if (auto it = peer_info_.find(m.name);
               it != peer_info_.end() && m.status != cluster::MemberStatus::kDown) {
      o["sessions"] = it->second.sessions;
      o["http"] = it->second.http_address;
      o["version"] = text_or_null(it->second.version);
      o["commit"] = text_or_null(it->second.commit);
    } else {
      o["sessions"] = 0;
    }
    bool replaced = false;
    for (auto& prev : out) {
      if (prev.as_object().at("name").as_string() == m.name) {
        if (prev.as_object().at("incarnation").as_uint64() < m.incarnation) prev = o;
        replaced = true;
      }
    }
    if (!replaced) out.push_back(std::move(o));
  }
  return out;
}

void ClusterRuntime::add_metrics(Metrics& registry) const {
  registry.add_gauge("minotaur_cluster_members_up", "members serving, this node included", [this] {
    std::size_t up = 0;
    for (const auto& m : serving_members()) up += m.self ? 0 : 1;
    return up + 1;
  });
  using C = transport::TransportCounters;
  const auto add = [&](const char* name, const char* help, std::uint64_t C::*field,
                       const Metrics::Labels& labels = {}) {
    registry.add_counter(
        name, help, [this, field] { return net_.counters().*field; }, labels);
  };
  add("minotaur_cluster_messages_sent_total", "messages written to other nodes", &C::messages_sent);
  add("minotaur_cluster_messages_received_total", "messages received from other nodes",
      &C::messages_received);
  add("minotaur_cluster_bytes_sent_total", "bytes written to other nodes, handshakes included",
      &C::bytes_sent);
  add("minotaur_cluster_bytes_received_total", "bytes read from other nodes, handshakes included",
      &C::bytes_received);
  add("minotaur_cluster_reconnects_total", "nodes connected again after a lost connection",
      &C::reconnects);
  registry.add_counter("minotaur_cluster_handshake_failures_total",
                       "handshakes refused (wrong secret, malformed, version) or timed out",
                       [this] {
                         const auto& c = net_.counters();
                         return c.handshake_failures + c.handshake_timeouts;
                       });
  add("minotaur_cluster_frames_rejected_total", "oversized or undecodable frames from peers",
      &C::frames_rejected);
  add("minotaur_cluster_protocol_refusals_total",
      "handshakes with nodes that hold the secret but share no protocol version with this one",
      &C::protocol_refusals);
  const char* refused = "cluster connections refused";
  add("minotaur_cluster_connections_refused_total", refused, &C::connections_refused_handshaking,
      {{"reason", "unauthenticated"}});
  add("minotaur_cluster_connections_refused_total", refused, &C::connections_refused_limit,
      {{"reason", "established"}});
}

void ClusterRuntime::announce_leaving() {
  if (leaving_) return;
  leaving_ = true;
  apply(members_->leave(now_ms()));
}

void ClusterRuntime::close(std::int64_t bound_ms, std::function<void()> done) {
  announce_leaving();
  const std::int64_t deadline = now_ms() + bound_ms;
  // Wait for the sockets to take the announcement; re-checked every 2 ms, bounded.
  auto wait = std::make_shared<std::function<void()>>();
  *wait = [this, deadline, done = std::move(done), wait]() mutable {
    if (net_.idle() || now_ms() >= deadline) {
      if (!net_.idle()) spdlog::warn("cluster: leaving with messages still queued");
      tick_timer_.cancel();
      net_.stop();
      auto d = std::move(done);
      *wait = nullptr;  // break the self-reference
      d();
      return;
    }
    auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(2));
    t->async_wait([t, wait](boost::system::error_code) {
      if (*wait) (*wait)();
    });
  };
  (*wait)();
}

}  // namespace minotaur::node
