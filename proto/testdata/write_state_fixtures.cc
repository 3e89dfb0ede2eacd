// write_state_fixtures DIR: writes the sample game and lobbies of state_sample.h, encoded by
// this build, into DIR (game.bin, lobby_open.bin, lobby_started.bin). Run at each release, by
// the release's own build, into proto/testdata/release-VERSION/ (docs/RELEASING.md); codec_test
// reads every such folder with today's reader.
#include <cstdio>
#include <fstream>
#include <string>

#include "proto/codec.h"
#include "proto/testdata/state_sample.h"

namespace {

bool write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out) std::fprintf(stderr, "write_state_fixtures: cannot write %s\n", path.c_str());
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr,
                 "usage: write_state_fixtures DIR\n"
                 "  writes game.bin, lobby_open.bin and lobby_started.bin into DIR (which must "
                 "exist)\n");
    return 2;
  }
  namespace t = minotaur::proto::testdata;
  const std::string dir = argv[1];
  const bool ok =
      write(dir + "/game.bin", minotaur::proto::encode_game(t::sample_game())) &&
      write(dir + "/lobby_open.bin", minotaur::proto::encode_lobby(t::sample_open_lobby())) &&
      write(dir + "/lobby_started.bin", minotaur::proto::encode_lobby(t::sample_started_lobby()));
  return ok ? 0 : 1;
}
