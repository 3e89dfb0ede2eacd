// Runs a libFuzzer-style target without libFuzzer: every file of the seed corpus directories
// given on the command line, then MINOTAUR_FUZZ_RUNS (default 5000) inputs made by seeded
// random mutation of those seeds. The seed is printed so a failure can be repeated
// (MINOTAUR_FUZZ_SEED=N). With clang, scripts/fuzz.sh runs the real coverage-guided fuzzer.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : fallback;
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> seeds{std::string()};
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path dir(argv[i]);
    if (!std::filesystem::is_directory(dir)) {
      std::fprintf(stderr, "fuzz: %s is not a directory of seed inputs\n", argv[i]);
      return 2;
    }
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  for (const std::string& s : seeds) run(s);

  const std::uint64_t seed = env_or("MINOTAUR_FUZZ_SEED", std::random_device{}());
  const std::uint64_t runs = env_or("MINOTAUR_FUZZ_RUNS", 5000);
  std::printf("fuzz: %zu seed inputs, %llu mutations, MINOTAUR_FUZZ_SEED=%llu\n", seeds.size(),
              static_cast<unsigned long long>(runs), static_cast<unsigned long long>(seed));
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  for (std::uint64_t i = 0; i < runs; ++i) {
    std::string input = seeds[rng() % seeds.size()];
    const std::uint64_t edits = 1 + rng() % 8;
    for (std::uint64_t e = 0; e < edits; ++e) {
      const std::size_t at = input.empty() ? 0 : rng() % input.size();
      switch (rng() % 4) {
        case 0:  // flip a byte
          if (!input.empty()) input[at] = static_cast<char>(rng());
          break;
        case 1:  // insert a byte
          input.insert(input.begin() + static_cast<std::ptrdiff_t>(at), static_cast<char>(rng()));
          break;
        case 2:  // cut the tail
          input.resize(at);
          break;
        default:  // splice another seed in
          input.insert(at, seeds[rng() % seeds.size()]);
          break;
      }
    }
    run(input);
  }
  std::printf("fuzz: done\n");
  return 0;
}
