// A developer's driver for crdt/bench.h: crdt_bench [KEYS [VALUE_BYTES [LATENCY_SAMPLES]]].
// Prints the benchmark's JSON object on stdout, progress on stderr.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "crdt/bench.h"

int main(int argc, char** argv) {
  minotaur::crdt::CrdtBenchOptions o;
  if (argc > 1) o.keys = std::strtoull(argv[1], nullptr, 10);
  if (argc > 2) o.value_bytes = std::strtoull(argv[2], nullptr, 10);
  if (argc > 3) o.latency_samples = std::strtoull(argv[3], nullptr, 10);
  if (o.keys == 0) {
    std::fprintf(stderr, "usage: crdt_bench [KEYS [VALUE_BYTES [LATENCY_SAMPLES]]]\n");
    return 2;
  }
  const std::string json = minotaur::crdt::run_crdt_bench(o, [](std::string_view line) {
    std::fprintf(stderr, "crdt bench: %.*s\n", static_cast<int>(line.size()), line.data());
  });
  std::printf("%s\n", json.c_str());
  return 0;
}
