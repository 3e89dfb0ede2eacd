// SimDisk: a simulated node's data dir (storage/data_dir.h), kept by the world across the
// node's restarts and crashes. A batch is on it only once its write completed: a node killed
// while a batch is being written loses that batch (and everything after it), as a node killed
// in the middle of a commit does; what was written before stays.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "storage/data_dir.h"

namespace minotaur::sim {

class SimDisk {
 public:
  void apply(const storage::Batch& batch) {
    for (const storage::StoredEntry& e : batch.puts) entries_[e.key] = e;
    for (const std::string& key : batch.removes) entries_.erase(key);
    context_ = batch.context;
  }
  storage::Snapshot snapshot() const {
    storage::Snapshot s;
    for (const auto& [key, e] : entries_) s.entries.push_back(e);
    s.context = context_;
    return s;
  }

 private:
  std::map<std::string, storage::StoredEntry> entries_;
  std::vector<crdt::DotRange> context_;
};

}  // namespace minotaur::sim
