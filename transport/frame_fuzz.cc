// Fuzz target: the bytes an unauthenticated peer controls on the cluster port. The input is cut
// into chunks and fed to a FrameDecoder with the handshake bound; every frame goes to a fresh
// acceptor Handshake (as on a real connection, until it fails or completes) and to the
// well-formedness check. Nothing may crash, assert or allocate beyond the bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "transport/frame.h"
#include "transport/handshake.h"
#include "transport/wire.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace minotaur::transport;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const NodeIdentity self{"fuzz-node", 1, "127.0.0.1:7000"};
  Nonce nonce{};
  Handshake acceptor(Role::kAcceptor, "fuzz-secret", self, nonce);
  Handshake dialer(Role::kDialer, "fuzz-secret", self, nonce);
  FrameDecoder decoder(kHandshakeMaxFrameBytes);
  // The first byte picks the chunk size, so the fuzzer explores frame boundaries too.
  const std::size_t chunk =
      input.empty() ? 1 : 1 + std::size_t{static_cast<unsigned char>(input[0])} % 64;
  for (std::size_t at = 0; at < input.size(); at += chunk) {
    decoder.feed(input.substr(at, chunk));
    for (;;) {
      auto frame = decoder.next();
      if (!frame.ok() || !frame.value().has_value()) break;
      const std::string& payload = *frame.value();
      (void)handshake_message_well_formed(payload);
      for (Handshake* h : {&acceptor, &dialer}) {
        if (!h->done() && !h->failed()) (void)h->on_frame(payload);
      }
      v1::Envelope env;  // what an authenticated peer's frames decode to
      (void)env.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
    }
    if (decoder.failed()) break;
  }
  return 0;
}
