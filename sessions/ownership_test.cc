// The ownership core on its own, with a map for a host and a map for a store: the rules that
// the simulator (sim/) exercises under faults, one at a time.
#include "sessions/ownership.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "sessions/placement.h"

namespace minotaur::sessions {
namespace {

class MapStates final : public SessionStates {
 public:
  bool hosts(const std::string& key) const override { return epochs.count(key) != 0; }
  std::vector<std::string> keys() const override {
    std::vector<std::string> out;
    for (const auto& [k, e] : epochs) out.push_back(k);
    return out;
  }
  std::uint64_t epoch(const std::string& key) const override {
    auto it = epochs.find(key);
    return it == epochs.end() ? 0 : it->second;
  }
  std::pair<std::string, bool> export_state(const std::string&) const override {
    return {"state", true};
  }
  Result<Ok, std::string> install(const std::string& key, std::string_view, bool,
                                  std::uint64_t epoch) override {
    epochs[key] = epoch;
    return Ok{};
  }
  void remove(const std::string& key) override {
    epochs.erase(key);
    frozen_keys.erase(key);
  }
  void set_frozen(const std::string& key, bool frozen) override {
    if (frozen && hosts(key)) {
      frozen_keys.insert(key);
    } else {
      frozen_keys.erase(key);
    }
  }
  bool frozen(const std::string& key) const override { return frozen_keys.count(key) != 0; }
  std::map<std::string, std::uint64_t> epochs;
  std::set<std::string> frozen_keys;
};

// One peer; caught up unless told otherwise.
class MapStore final : public handoff::StashStore {
 public:
  void stash(const std::string& key, std::string value) override { values[key] = value; }
  void remove(const std::string& key) override { values.erase(key); }
  std::optional<std::string> pickup(std::string_view key) const override {
    auto it = values.find(std::string(key));
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::uint64_t> stashed_epoch(std::string_view key) const override {
    auto v = pickup(key);
    if (!v) return std::nullopt;
    auto s = handoff::decode_stashed(*v);
    if (!s) return std::nullopt;
    return s->epoch;
  }
  std::vector<std::string> keys() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : values) out.push_back(k);
    return out;
  }
  std::size_t peer_count() const override { return 1; }
  bool caught_up() const override { return true; }
  std::uint64_t refresh() override { return 0; }
  bool caught_up_since(std::uint64_t) const override { return fresh; }
  std::map<std::string, std::string> values;
  bool fresh = true;  // false: has not heard from every peer since the last look
};

// The core of node b (incarnation 1).
class OwnershipTest : public ::testing::Test {
 protected:
  static OwnershipOptions options() {
    OwnershipOptions o;
    o.self = "b";
    o.self_id = "b#1";
    return o;
  }
  MapStates states;
  MapStore store;
  Ownership core{options(), states, &store};
};

// A key that placement gives to `owner` of {a, b}.
std::string key_owned_by(const std::string& owner) {
  for (int i = 0;; ++i) {
    std::string key = game_key("g_" + std::to_string(i));
    if (owner_of(key, {"a", "b"}) == owner) return key;
  }
}

v1::Transfer transfer(const std::string& key, std::uint64_t epoch) {
  v1::Transfer t;
  t.set_key(key);
  t.set_epoch(epoch);
  t.set_is_game(true);
  t.set_state("state");
  return t;
}

// After its holder crashed, the session is started from the store at the next epoch. It serves
// reads at once but changes only once a peer holds the stash of that epoch: were this node cut
// off before, the majority would start the session from the older stash at the same epoch.
TEST_F(OwnershipTest, APickedUpSessionTakesChangesOnlyOnceAPeerHoldsItsEpoch) {
  const std::string key = game_key("g_1");
  store.stash(key, handoff::encode_stashed(3, true, "a#1", "state"));
  core.on_membership_changed({"b"}, {{"a", 1, false}, {"b", 1, true}}, "a", 0);

  ASSERT_EQ(states.epoch(key), 4u);  // picked up at the stored epoch + 1
  EXPECT_EQ(store.stashed_epoch(key), 4u);
  EXPECT_EQ(core.take_confirms(), std::vector<std::string>{key});
  EXPECT_EQ(core.decide(key, CallKind::kRead, 10).kind, Decision::Kind::kServe);
  const Decision held = core.decide(key, CallKind::kWrite, 10);
  EXPECT_EQ(held.kind, Decision::Kind::kWait);
  ASSERT_TRUE(held.error.has_value());
  EXPECT_EQ(held.error->code, ErrorCode::kSessionStarting);

  // Not acknowledged in time (or by nobody): asked again at the next tick, still held.
  core.on_confirmed({key}, false);
  EXPECT_TRUE(core.take_confirms().empty());
  EXPECT_EQ(core.decide(key, CallKind::kWrite, 20).kind, Decision::Kind::kWait);
  core.tick(30);
  EXPECT_EQ(core.take_confirms(), std::vector<std::string>{key});

  (void)core.take_wakes();
  core.on_confirmed({key}, true);
  const auto wakes = core.take_wakes();
  EXPECT_NE(std::find(wakes.begin(), wakes.end(), key), wakes.end()) << "the held call is woken";
  EXPECT_EQ(core.decide(key, CallKind::kWrite, 40).kind, Decision::Kind::kServe);
  EXPECT_EQ(core.counters().pickups_confirmed, 1u);
  EXPECT_EQ(core.counters().waits_for_confirm, 2u);
}

// A session created a moment ago waits the same way: a node cut off right after the create must
// not accept changes at epoch 1, which the majority, never having seen the game, could give a
// re-created one.
TEST_F(OwnershipTest, ACreatedSessionTakesChangesOnlyOnceAPeerHoldsItsFirstStash) {
  const std::string key = key_owned_by("b");
  core.on_membership_changed({"a", "b"}, {{"a", 1, true}, {"b", 1, true}}, "", 0);
  EXPECT_EQ(core.decide(key, CallKind::kCreate, 10).kind, Decision::Kind::kServe);
  ASSERT_TRUE(states.install(key, "state", true, 1).ok());
  core.changed(key);
  core.created(key);
  EXPECT_EQ(store.stashed_epoch(key), 1u);
  EXPECT_EQ(core.take_confirms(), std::vector<std::string>{key});
  EXPECT_EQ(core.decide(key, CallKind::kRead, 20).kind, Decision::Kind::kServe);
  EXPECT_EQ(core.decide(key, CallKind::kWrite, 20).kind, Decision::Kind::kWait);
  core.on_confirmed({key}, true);
  EXPECT_EQ(core.decide(key, CallKind::kWrite, 30).kind, Decision::Kind::kServe);
}

// A session handed over (not picked up) takes changes at once: the sender's stash names this
// node as its target, so if it is cut off now, the majority skips this epoch. (Without data dirs:
// see OwnershipDataDirs below.)
TEST_F(OwnershipTest, AHandedOverSessionTakesChangesAtOnce) {
  const std::string key = key_owned_by("b");
  core.on_membership_changed({"a", "b"}, {{"a", 1, true}, {"b", 1, true}}, "", 0);
  core.on_transfer("a", 1, transfer(key, 5), 10);
  ASSERT_EQ(states.epoch(key), 6u);
  EXPECT_TRUE(core.take_confirms().empty());
  EXPECT_EQ(core.decide(key, CallKind::kWrite, 20).kind, Decision::Kind::kServe);
}

// With data dirs it waits like a picked-up one: the sender's stash that names this node may
// not be on any disk yet, and after a power cut of every node the cold start would pick the
// session up at this very epoch.
TEST(OwnershipDataDirs, AHandedOverSessionTakesChangesOnceThePeersHoldItsEpoch) {
  OwnershipOptions o;
  o.self = "b";
  o.self_id = "b#1";
  o.confirm_handoffs = true;
  MapStates states;
  MapStore store;
  Ownership core{o, states, &store};
  const std::string key = key_owned_by("b");
  core.on_membership_changed({"a", "b"}, {{"a", 1, true}, {"b", 1, true}}, "", 0);
  core.on_transfer("a", 1, transfer(key, 5), 10);
  ASSERT_EQ(states.epoch(key), 6u);
  EXPECT_EQ(store.stashed_epoch(key), 6u);
  EXPECT_EQ(core.take_confirms(), std::vector<std::string>{key});
  EXPECT_EQ(core.decide(key, CallKind::kRead, 20).kind, Decision::Kind::kServe);
  EXPECT_EQ(core.decide(key, CallKind::kWrite, 20).kind, Decision::Kind::kWait);
  core.on_confirmed({key}, true);
  EXPECT_EQ(core.decide(key, CallKind::kWrite, 30).kind, Decision::Kind::kServe);
}

// A receiver whose store has not caught up since the membership changed refuses a transfer "for
// now" and, once it has, tells the sender at its next tick, which sends it again at once rather
// than after its retry interval.
TEST_F(OwnershipTest, ATransferRefusedForNowIsAskedForAgainOnceTheReceiverIsReady) {
  const std::string key = key_owned_by("b");
  core.on_membership_changed({"a", "b"}, {{"a", 1, true}, {"b", 1, true}}, "", 0);
  store.fresh = false;
  core.on_transfer("a", 1, transfer(key, 5), 10);
  EXPECT_FALSE(states.hosts(key));
  auto sends = core.take_sends();
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_TRUE(sends[0].envelope.transfer_ack().retry());
  EXPECT_FALSE(sends[0].envelope.transfer_ack().ready());
  core.tick(20);
  EXPECT_TRUE(core.take_sends().empty()) << "ready before its store caught up";
  store.fresh = true;
  core.tick(30);
  sends = core.take_sends();
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0].to, "a");
  EXPECT_EQ(sends[0].envelope.transfer_ack().key(), key);
  EXPECT_TRUE(sends[0].envelope.transfer_ack().ready());
  EXPECT_TRUE(sends[0].envelope.transfer_ack().retry()) << "older nodes read it as 'for now'";
  core.tick(40);
  EXPECT_TRUE(core.take_sends().empty()) << "told once";
}

TEST_F(OwnershipTest, TheSenderSendsAgainAtOnceWhenTheReceiverIsReady) {
  const std::string key = key_owned_by("a");
  core.on_membership_changed({"b"}, {{"b", 1, true}}, "", 0);
  ASSERT_TRUE(states.install(key, "state", true, 5).ok());
  core.on_membership_changed({"a", "b"}, {{"a", 1, true}, {"b", 1, true}}, "", 100);
  auto sends = core.take_sends();
  ASSERT_EQ(sends.size(), 1u);
  ASSERT_TRUE(sends[0].envelope.has_transfer());
  v1::TransferAck later;
  later.set_key(key);
  later.set_retry(true);
  EXPECT_FALSE(core.on_ack("a", later, 110));
  EXPECT_TRUE(core.take_sends().empty()) << "'for now' waits for the retry interval";
  v1::TransferAck ready = later;
  ready.set_ready(true);
  EXPECT_FALSE(core.on_ack("a", ready, 120));
  sends = core.take_sends();
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0].to, "a");
  EXPECT_EQ(sends[0].envelope.transfer().key(), key);
  EXPECT_EQ(sends[0].envelope.transfer().epoch(), 5u);
  EXPECT_FALSE(core.on_ack("a", ready, 130));
  EXPECT_TRUE(core.take_sends().empty()) << "on its way again already: not sent twice";
}

// A hand-off whose target dies makes the session ours again, but only through the store: the
// target may have started it and stashed newer states before it died, its acknowledgement lost.
// Without the quorum (or a store caught up) the store cannot be read yet, and the frozen copy
// stays here until it can — dropped at once, with the store naming this node as the session's
// holder, the session would be hosted nowhere (a later owner waits for this node to hand it
// over). Then it starts from the store at an epoch past the one the target may have used.
TEST_F(OwnershipTest, ASessionWhoseTargetDiedIsTakenBackFromTheStoreOnceItCanBeRead) {
  const std::string key = key_owned_by("a");
  core.on_membership_changed({"b"}, {{"b", 1, true}}, "", 0);
  ASSERT_TRUE(states.install(key, "state", true, 5).ok());
  store.stash(key, handoff::encode_stashed(5, true, "b#1", "state"));
  core.set_quorum(false);  // as when a cut heals: no stash names the target
  core.on_membership_changed({"a", "b"}, {{"a", 1, true}, {"b", 1, true}}, "", 100);
  ASSERT_EQ(core.take_sends().size(), 1u);
  core.on_membership_changed({"b"}, {{"a", 1, false}, {"b", 1, true}}, "a", 200);

  EXPECT_TRUE(states.hosts(key)) << "the only copy was dropped before the store could be read";
  EXPECT_TRUE(states.frozen(key));
  EXPECT_EQ(core.decide(key, CallKind::kWrite, 210).kind, Decision::Kind::kWait);
  core.tick(400);
  EXPECT_TRUE(states.frozen(key)) << "served before the store could be read";

  core.set_quorum(true);
  core.tick(600);
  ASSERT_TRUE(states.hosts(key));
  EXPECT_FALSE(states.frozen(key));
  EXPECT_EQ(states.epoch(key), 7u) << "the target may have started it at epoch 6";
  EXPECT_EQ(store.stashed_epoch(key), 7u);
  EXPECT_EQ(core.counters().picked_up, 1u);
}

// The same, but placement moves on before the store can be read: the frozen copy goes to the new
// owner, which takes the newer of it and the store (and no stash of this older copy is written).
TEST_F(OwnershipTest, ASessionWhoseTargetDiedGoesToTheNextOwnerWhilePlacementMovesOn) {
  const std::string key = key_owned_by("a");
  core.on_membership_changed({"b"}, {{"b", 1, true}}, "", 0);
  ASSERT_TRUE(states.install(key, "state", true, 5).ok());
  store.stash(key, handoff::encode_stashed(5, true, "b#1", "state"));
  core.set_quorum(false);
  core.on_membership_changed({"a", "b"}, {{"a", 1, true}, {"b", 1, true}}, "", 100);
  (void)core.take_sends();
  core.on_membership_changed({"b"}, {{"a", 1, false}, {"b", 1, true}}, "a", 200);
  EXPECT_TRUE(core.take_sends().empty());

  core.on_membership_changed({"a", "b"}, {{"a", 2, true}, {"b", 1, true}}, "", 300);
  core.tick(400);
  const auto sends = core.take_sends();
  ASSERT_EQ(sends.size(), 1u);
  EXPECT_EQ(sends[0].to, "a");
  EXPECT_EQ(sends[0].envelope.transfer().epoch(), 5u);
  const auto stashed = handoff::decode_stashed(*store.pickup(key));
  ASSERT_TRUE(stashed.has_value());
  EXPECT_TRUE(stashed->moving_to.empty()) << "an older copy must not name a later target";

  v1::TransferAck taken;
  taken.set_key(key);
  taken.set_epoch(6);
  EXPECT_TRUE(core.on_ack("a", taken, 410));
  EXPECT_FALSE(states.hosts(key));
}

}  // namespace
}  // namespace minotaur::sessions
