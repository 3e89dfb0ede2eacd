#include "crdt/codec.h"

#include <fmt/format.h>

#include <climits>
#include <utility>

#include "crdt/causal_context.h"
#include "crdt/sync.pb.h"

namespace minotaur::crdt {
namespace {

namespace pb = ::minotaur::crdt::v1;

// --- encode ---

void to_pb(const DotRange& r, pb::DotRange* out) {
  out->set_replica(r.replica);
  out->set_first(r.first);
  out->set_count(r.count());
}

void to_pb(Delta&& d, pb::Delta* out) {
  out->mutable_entries()->Reserve(static_cast<int>(d.entries.size()));
  for (DeltaEntry& e : d.entries) {
    pb::Entry* pe = out->add_entries();
    pe->set_key(std::move(e.key));
    pe->set_value(std::move(e.value));
    pe->set_replica(e.dot.replica);
    pe->set_counter(e.dot.counter);
    pe->set_hlc(e.hlc);
  }
  for (Tombstone& t : d.tombstones) {
    pb::Tombstone* pt = out->add_tombstones();
    pt->set_key(std::move(t.key));
    for (const Dot& dot : t.dots) {
      pb::Dot* pd = pt->add_dots();
      pd->set_replica(dot.replica);
      pd->set_counter(dot.counter);
    }
  }
  for (const DotRange& r : d.context) to_pb(r, out->add_context());
}

// --- decode ---

using Error = std::string;

Result<DotRange, Error> from_pb(const pb::DotRange& r) {
  if (r.replica() == 0) return err(Error("dot range: replica 0"));
  if (r.first() == 0 || r.count() == 0) return err(Error("dot range: empty or starts at 0"));
  if (r.first() > kMaxCounter || r.count() > kMaxCounter - r.first() + 1) {
    return err(Error("dot range: counter out of range"));
  }
  return DotRange{r.replica(), r.first(), r.first() + r.count() - 1};
}

Result<Ok, Error> ranges_from_pb(const google::protobuf::RepeatedPtrField<pb::DotRange>& in,
                                 std::vector<DotRange>* out) {
  out->reserve(static_cast<std::size_t>(in.size()));
  for (const pb::DotRange& r : in) {
    auto range = from_pb(r);
    if (!range) return err(range.error());
    out->push_back(range.value());
  }
  return Ok{};
}

Result<Dot, Error> dot_from(std::uint64_t replica, std::uint64_t counter) {
  const Dot dot{replica, counter};
  if (!dot.valid()) return err(Error(fmt::format("invalid dot {}:{}", replica, counter)));
  return dot;
}

Result<Ok, Error> check_key(const std::string& key, const WireLimits& limits) {
  if (key.size() > limits.max_key_bytes) return err(Error("key too long"));
  return Ok{};
}

Result<Delta, Error> from_pb(pb::Delta* in, const WireLimits& limits) {
  Delta d;
  d.entries.reserve(static_cast<std::size_t>(in->entries_size()));
  for (pb::Entry& e : *in->mutable_entries()) {
    if (auto k = check_key(e.key(), limits); !k) return err(k.error());
    if (e.value().size() > limits.max_value_bytes) return err(Error("value too large"));
    auto dot = dot_from(e.replica(), e.counter());
    if (!dot) return err(dot.error());
    d.entries.push_back(DeltaEntry{std::move(*e.mutable_key()), std::move(*e.mutable_value()),
                                   dot.value(), e.hlc()});
  }
  for (pb::Tombstone& t : *in->mutable_tombstones()) {
    if (auto k = check_key(t.key(), limits); !k) return err(k.error());
    if (t.dots_size() == 0) return err(Error("tombstone without dots"));
    Tombstone out{std::move(*t.mutable_key()), {}};
    out.dots.reserve(static_cast<std::size_t>(t.dots_size()));
    for (const pb::Dot& pd : t.dots()) {
      auto dot = dot_from(pd.replica(), pd.counter());
      if (!dot) return err(dot.error());
      out.dots.push_back(dot.value());
    }
    d.tombstones.push_back(std::move(out));
  }
  if (auto r = ranges_from_pb(in->context(), &d.context); !r) return err(r.error());
  return d;
}

Result<SyncMessage, Error> from_pb(pb::SyncMessage* m, const WireLimits& limits) {
  switch (m->body_case()) {
    case pb::SyncMessage::kPushBatch: {
      auto delta = from_pb(m->mutable_push_batch()->mutable_delta(), limits);
      if (!delta) return err(delta.error());
      return SyncMessage{
          PushBatch{m->push_batch().seq(), std::move(delta).value(), m->push_batch().lazy()}};
    }
    case pb::SyncMessage::kPushAck:
      return SyncMessage{PushAck{m->push_ack().seq()}};
    case pb::SyncMessage::kDigest: {
      const pb::Digest& in = m->digest();
      Digest d;
      if (auto r = ranges_from_pb(in.context(), &d.context); !r) return err(r.error());
      if (in.bucket_hashes_size() != 0 &&
          static_cast<std::size_t>(in.bucket_hashes_size()) != kBuckets) {
        return err(Error(fmt::format("digest: {} bucket hashes", in.bucket_hashes_size())));
      }
      d.bucket_hashes.assign(in.bucket_hashes().begin(), in.bucket_hashes().end());
      if (static_cast<std::size_t>(in.live_replicas_size()) > limits.max_replicas) {
        return err(Error("digest: too many live replicas"));
      }
      for (const std::uint64_t r : in.live_replicas()) {
        if (r == 0) return err(Error("digest: live replica 0"));
        d.live_replicas.push_back(r);
      }
      d.want_digest = in.want_digest();
      return SyncMessage{std::move(d)};
    }
    case pb::SyncMessage::kCatchUp: {
      auto delta = from_pb(m->mutable_catch_up()->mutable_delta(), limits);
      if (!delta) return err(delta.error());
      return SyncMessage{CatchUp{std::move(delta).value(), m->catch_up().more()}};
    }
    case pb::SyncMessage::kListing: {
      pb::Listing* in = m->mutable_listing();
      Listing l;
      for (const std::uint32_t b : in->buckets()) {
        if (b >= kBuckets) return err(Error(fmt::format("listing: bucket {}", b)));
        l.buckets.push_back(b);
      }
      l.entries.reserve(static_cast<std::size_t>(in->entries_size()));
      for (pb::ListedEntry& e : *in->mutable_entries()) {
        if (auto k = check_key(e.key(), limits); !k) return err(k.error());
        auto dot = dot_from(e.replica(), e.counter());
        if (!dot) return err(dot.error());
        l.entries.push_back(ListedEntry{std::move(*e.mutable_key()), dot.value()});
      }
      if (auto r = ranges_from_pb(in->context(), &l.context); !r) return err(r.error());
      return SyncMessage{std::move(l)};
    }
    case pb::SyncMessage::BODY_NOT_SET:
      break;
  }
  return err(Error("unknown or empty sync message (written by a newer version?)"));
}

}  // namespace

std::string encode(SyncMessage message) {
  pb::SyncMessage m;
  if (auto* b = std::get_if<PushBatch>(&message)) {
    pb::PushBatch* out = m.mutable_push_batch();
    out->set_seq(b->seq);
    to_pb(std::move(b->delta), out->mutable_delta());
    out->set_lazy(b->lazy);
  } else if (auto* a = std::get_if<PushAck>(&message)) {
    m.mutable_push_ack()->set_seq(a->seq);
  } else if (auto* d = std::get_if<Digest>(&message)) {
    pb::Digest* out = m.mutable_digest();
    for (const DotRange& r : d->context) to_pb(r, out->add_context());
    for (const std::uint64_t h : d->bucket_hashes) out->add_bucket_hashes(h);
    for (const ReplicaId r : d->live_replicas) out->add_live_replicas(r);
    out->set_want_digest(d->want_digest);
  } else if (auto* c = std::get_if<CatchUp>(&message)) {
    pb::CatchUp* out = m.mutable_catch_up();
    to_pb(std::move(c->delta), out->mutable_delta());
    out->set_more(c->more);
  } else {
    Listing& l = std::get<Listing>(message);
    pb::Listing* out = m.mutable_listing();
    for (const std::uint32_t bucket : l.buckets) out->add_buckets(bucket);
    for (ListedEntry& e : l.entries) {
      pb::ListedEntry* pe = out->add_entries();
      pe->set_key(std::move(e.key));
      pe->set_replica(e.dot.replica);
      pe->set_counter(e.dot.counter);
    }
    for (const DotRange& r : l.context) to_pb(r, out->add_context());
  }
  std::string out;
  const bool ok = m.SerializeToString(&out);
  MINOTAUR_ASSERT(ok);  // only fails for messages over 2 GiB
  return out;
}

Result<SyncMessage, std::string> decode(std::string_view bytes, const WireLimits& limits) {
  if (bytes.size() > limits.max_message_bytes || bytes.size() > INT_MAX) {
    return err(Error(fmt::format("sync message of {} bytes is over the limit", bytes.size())));
  }
  pb::SyncMessage m;
  if (!m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return err(Error("sync message: not a valid protobuf encoding"));
  }
  return from_pb(&m, limits);
}

}  // namespace minotaur::crdt
