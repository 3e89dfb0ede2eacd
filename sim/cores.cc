// A node's three cores driven as the node's Asio shells drive them: a message that arrives goes
// to its core, and what a core asks for is carried out — sends, member events, the store's
// flushes (a drain's last one, a confirmation, a sync write's), wakes of waiting calls.
#include <fmt/format.h>

#include "base/assert.h"
#include "sim/world_impl.h"

namespace minotaur::sim {

using sessions::NodeCore;

void World::deliver(Node& n, const std::string& from, std::uint64_t from_inc, const Message& m) {
  if (const auto* mm = std::get_if<MembershipMsg>(&m)) {
    const transport::NodeIdentity id{from, from_inc, address_of(from)};
    apply(n, n.membership->on_message(id, mm->message, now_));
  } else if (const auto* sm = std::get_if<StoreMsg>(&m)) {
    if (!n.store->has_peer(from, from_inc)) return;  // not a peer (yet): dropped
    const bool applied = n.store->receive(from, from_inc, sm->message);
    MINOTAUR_ASSERT(applied);
    carry_store(n);
  } else {
    const auto& e = std::get<SessionMsg>(m).envelope;
    if (e.has_transfer()) {
      trace(fmt::format("{} <- transfer {} epoch {} from {}", n.id(), e.transfer().key(),
                        e.transfer().epoch(), from));
      n.core->on_transfer(from, from_inc, e.transfer(), lease(n), now_);
    } else if (e.has_transfer_ack()) {
      trace(fmt::format("{} <- ack {} epoch {} from {}", n.id(), e.transfer_ack().key(),
                        e.transfer_ack().epoch(), from));
      if (n.core->on_ack(from, e.transfer_ack(), lease(n), now_)) {
        ++result_.handoffs;
        trace(fmt::format("{}: {} handed to {} (epoch {})", n.id(), e.transfer_ack().key(), from,
                          e.transfer_ack().epoch()));
      }
    }
    carry_ownership(n);
    check_drained(n);
  }
}

void World::apply(Node& n, cluster::Step step) {
  for (auto& s : step.sends) send(n, s.to, Message{MembershipMsg{std::move(s.message)}});
  for (const cluster::MemberEvent& e : step.events) on_member_event(n, e);
}

void World::on_member_event(Node& n, const cluster::MemberEvent& e) {
  trace(fmt::format("{} sees {}#{} {}", n.id(), e.member.name, e.member.incarnation,
                    cluster::to_string(e.kind)));
  if (!n.alive()) return;  // fenced below by an earlier event of the same step
  n.stale_lease = lease(n);
  // Declared down: fenced at once; the node exits (the membership tick restarts it).
  if (n.core->on_member_event(e, sessions::view_of(*n.membership), n.stale_lease, now_) ==
      NodeCore::MemberOutcome::kFenced) {
    return;
  }
  carry_ownership(n);
  carry_store(n);
}

void World::carry_store(Node& n) {
  for (handoff::StoreCore::Outgoing& o : n.store->take_outbox()) {
    send(n, o.to, Message{StoreMsg{std::move(o.message)}});
  }
  // A sync write waits for the disk: its batch is written now, not at the next interval.
  if (n.store->commit_wanted()) commit(n);
  for (const crdt::FlushDone& done : n.store->take_flushed()) {
    if (n.drain_flush && *n.drain_flush == done.id) {
      n.drain_flush.reset();
      exit_after_drain(n);
      return;
    }
    if (n.core->on_flushed(done)) {
      carry_ownership(n);
      continue;
    }
    auto it = sync_calls_.find(std::make_pair(n.id(), done.id));
    if (it == sync_calls_.end()) continue;
    const std::uint64_t call = it->second;
    sync_calls_.erase(it);
    Call& c = calls_.at(call);
    if (done.acked) {
      acknowledge(c, n);
    } else {
      finish(c, std::string(NodeCore::not_replicated().name()));
    }
  }
}

void World::carry_ownership(Node& n) {
  for (sessions::Ownership::Send& s : n.core->take_sends()) {
    if (s.envelope.has_transfer()) {
      trace(fmt::format("{} -> transfer {} epoch {} to {}", n.id(), s.envelope.transfer().key(),
                        s.envelope.transfer().epoch(), s.to));
    } else if (s.envelope.has_transfer_ack()) {
      trace(fmt::format("{} -> ack {} epoch {} to {}", n.id(), s.envelope.transfer_ack().key(),
                        s.envelope.transfer_ack().epoch(), s.to));
    }
    if (connections_.count(pair_of(n.name, s.to)) == 0) {
      n.core->on_send_failed(s, now_);
      continue;
    }
    send(n, s.to, Message{SessionMsg{std::move(s.envelope)}});
  }
  for (const std::string& key : n.core->take_wakes()) {
    auto [b, e] = waiting_.equal_range(std::make_pair(n.name, key));
    std::vector<std::uint64_t> woken;
    for (auto it = b; it != e; ++it) woken.push_back(it->second);
    waiting_.erase(b, e);
    for (std::uint64_t id : woken) {
      const std::uint64_t gen = ++calls_.at(id).generation;
      after(0, [this, id, gen] {
        Call& c = calls_.at(id);
        if (!c.done && c.generation == gen) attempt(c);
      });
    }
  }
  // What the core asked of the store (peers, confirming flushes) goes out now.
  if (n.alive()) carry_store(n);
}

}  // namespace minotaur::sim
