// Fuzz target: the rows a node reads back from the shared PostgreSQL database when it starts
// (storage/pg_database.h), as merge_rows() adds them to a snapshot and StoreCore::load() starts
// the replica from it. Rows are outside input: whoever can write the table chooses every column.
// Whatever they hold, nothing crashes; the merged snapshot names each key once and its context
// covers every dot it carries; and loading either starts a replica that holds exactly those
// keys or says why it cannot (the node then refuses to start with that message).
//
// The bytes are read as rows: a control byte, then the columns it asks for. Keys, replicas,
// counters and stamps come from small ranges, so that rows collide on keys and dots as a
// hand-edited or corrupted table would; values are raw bytes or well-formed stashes whose epoch
// column may disagree with the value's.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/assert.h"
#include "handoff/stash.h"
#include "handoff/store_core.h"

namespace {

using namespace minotaur;

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return at_ >= bytes_.size(); }
  std::uint8_t byte() { return done() ? 0 : static_cast<std::uint8_t>(bytes_[at_++]); }
  std::string text(std::size_t n) {
    const std::string_view s = bytes_.substr(std::min(at_, bytes_.size()), n);
    at_ += s.size();
    return std::string(s);
  }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

storage::DbRow read_row(Reader& in) {
  const std::uint8_t control = in.byte();
  storage::DbRow row;
  row.entry.key = std::string(control & 0x01 ? "game:g" : "lobby:l") +
                  static_cast<char>('a' + (control >> 1 & 0x03));
  row.epoch = in.byte() % 4;
  if (control & 0x08) {
    const std::uint64_t epoch = control & 0x10 ? row.epoch : row.epoch + 1;
    row.entry.value =
        handoff::encode_stashed(epoch, (control & 0x01) != 0, "n1", in.text(in.byte() % 24));
  } else {
    row.entry.value = in.text(in.byte() % 32);
  }
  row.entry.dot.replica = in.byte() % 3;  // 0 is no replica: an invalid dot
  row.entry.dot.counter = in.byte() % 8;
  row.entry.hlc = in.byte();
  return row;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<storage::DbRow> rows;
  while (!in.done() && rows.size() < 64) rows.push_back(read_row(in));
  const std::size_t row_count = rows.size();

  storage::Snapshot snapshot;  // a node with no data dir starts from the database alone
  std::size_t skipped = 0;
  handoff::merge_rows(snapshot, std::move(rows), &skipped);
  MINOTAUR_ASSERT(skipped <= row_count);
  MINOTAUR_ASSERT(snapshot.entries.size() + skipped <= row_count);
  std::set<std::string> keys;
  const crdt::CausalContext context = crdt::CausalContext::from_ranges(snapshot.context);
  for (const storage::StoredEntry& e : snapshot.entries) {
    MINOTAUR_ASSERT(keys.insert(e.key).second);
    MINOTAUR_ASSERT(context.contains(e.dot));
    MINOTAUR_ASSERT(handoff::decode_stashed(e.value).has_value());
  }

  handoff::StoreCore core("n1", 1, [] { return std::int64_t{0}; });
  if (!core.load(snapshot, /*for_disk=*/false)) return 0;  // refused, with a reason
  for (const std::string& key : keys) {
    MINOTAUR_ASSERT(core.replica().map().find(key) != nullptr);
  }
  return 0;
}
