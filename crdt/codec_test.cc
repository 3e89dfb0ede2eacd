#include "crdt/codec.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "crdt/sync.pb.h"

namespace minotaur::crdt {
namespace {

Delta sample_delta() {
  Delta d;
  d.entries.push_back(DeltaEntry{"game_1", std::string("\0\xff bytes", 8), Dot{7, 3}, 123456});
  d.tombstones.push_back(Tombstone{"game_2", {Dot{7, 1}, Dot{9, 4}}});
  d.context = {{7, 1, 3}, {9, 4, 4}};
  return d;
}

std::vector<SyncMessage> samples() {
  Digest digest;
  digest.context = {{1, 1, 100}, {2, 1, 5}};
  digest.bucket_hashes.assign(kBuckets, 0);
  digest.bucket_hashes[3] = 0xdeadbeefcafef00dULL;
  digest.live_replicas = {1, 2};
  digest.want_digest = true;
  Listing listing;
  listing.buckets = {3, 200};
  listing.entries = {ListedEntry{"k", Dot{1, 9}}};
  listing.context = {{1, 1, 100}};
  return {PushBatch{42, sample_delta()},
          PushBatch{43, sample_delta(), /*lazy=*/true},
          PushAck{42},
          digest,
          CatchUp{sample_delta(), true},
          listing};
}

TEST(Codec, EveryMessageRoundTrips) {
  for (const SyncMessage& m : samples()) {
    auto back = decode(encode(m));
    ASSERT_TRUE(back.ok()) << back.error();
    EXPECT_TRUE(back.value() == m) << "message kind " << m.index();
  }
}

TEST(Codec, BadBytesAreErrorsNotCrashes) {
  EXPECT_FALSE(decode("").ok());  // an empty message has no kind
  EXPECT_FALSE(decode("\xff\xff\xff").ok());
  const std::string good = encode(PushBatch{1, sample_delta()});
  for (std::size_t cut = 1; cut < good.size(); ++cut) {
    (void)decode(good.substr(0, cut));  // any result, no crash
  }
  WireLimits tight;
  tight.max_message_bytes = 8;
  EXPECT_FALSE(decode(good, tight).ok());
}

TEST(Codec, InvalidDotsAndRangesAreRefused) {
  v1::SyncMessage m;
  v1::DotRange* r = m.mutable_digest()->add_context();
  r->set_replica(1);
  r->set_first(UINT64_MAX - 1);
  r->set_count(10);  // would overflow
  EXPECT_FALSE(decode(m.SerializeAsString()).ok());
  r->set_first(1);
  r->set_count(0);
  EXPECT_FALSE(decode(m.SerializeAsString()).ok());
  r->set_count(5);
  EXPECT_TRUE(decode(m.SerializeAsString()).ok());
  m.mutable_digest()->add_bucket_hashes(1);  // 1 hash: neither none nor kBuckets
  EXPECT_FALSE(decode(m.SerializeAsString()).ok());

  v1::SyncMessage b;
  v1::Entry* e = b.mutable_push_batch()->mutable_delta()->add_entries();
  e->set_key("k");
  e->set_replica(0);  // no replica 0
  e->set_counter(1);
  EXPECT_FALSE(decode(b.SerializeAsString()).ok());
  v1::SyncMessage l;
  l.mutable_listing()->add_buckets(kBuckets);
  EXPECT_FALSE(decode(l.SerializeAsString()).ok());
}

// proto/EVOLUTION.md rule 3: a reader skips fields it does not know (a newer writer's).
TEST(Codec, UnknownFieldsOfANewerVersionAreSkipped) {
  std::string bytes = encode(PushAck{7});
  // Field 99 of the outer message, varint 1: a field a later version might add.
  bytes += std::string("\x98\x06\x01", 3);
  auto m = decode(bytes);
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(std::get<PushAck>(m.value()).seq, 7u);
}

// Writes the fuzz target's seed inputs from real messages (run by hand, not in the suite):
//   MINOTAUR_CRDT_WRITE_CORPUS=1 crdt_test --gtest_also_run_disabled_tests
//     --gtest_filter=Codec.DISABLED_WriteFuzzCorpus
TEST(Codec, DISABLED_WriteFuzzCorpus) {
  if (std::getenv("MINOTAUR_CRDT_WRITE_CORPUS") == nullptr) GTEST_SKIP();
  const std::filesystem::path dir(MINOTAUR_CRDT_CORPUS);
  std::filesystem::create_directories(dir);
  const char* names[] = {"push_batch.bin", "push_ack.bin", "digest.bin", "catch_up.bin",
                         "listing.bin"};
  std::size_t i = 0;
  for (const SyncMessage& m : samples()) {
    std::ofstream(dir / names[i++], std::ios::binary) << encode(m);
  }
}

TEST(Codec, CorpusSeedsDecode) {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(MINOTAUR_CRDT_CORPUS)) {
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(decode(bytes).ok()) << entry.path();
    ++n;
  }
  EXPECT_GE(n, 5u);
}

}  // namespace
}  // namespace minotaur::crdt
