// Length-prefixed frames: the only framing on the cluster port. Sans-I/O: no sockets here.
//
// A frame is a 4-byte big-endian payload length followed by that many payload bytes. Every frame
// is bounded by a max_frame_bytes the owner chooses (kDefaultMaxFrameBytes for established
// connections, kHandshakeMaxFrameBytes before the peer has proved it holds the cluster secret),
// so an unauthenticated peer can never make a node allocate more than a few kilobytes.
//
// FrameDecoder is fed arbitrary chunks of bytes as they come off a socket and yields whole
// frames. A length above the bound is an operating error (a value, never a crash); after an
// error the decoder stays failed and the connection should be closed.
//
// Ownership and threads: a FrameDecoder belongs to one connection and is used by one thread.
// Weakness: a frame's payload is copied once out of the decoder's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace minotaur::transport {

inline constexpr std::size_t kFrameHeaderBytes = 4;
inline constexpr std::size_t kDefaultMaxFrameBytes = std::size_t{16} << 20;  // 16 MiB
inline constexpr std::size_t kHandshakeMaxFrameBytes = 4096;
// The largest bound a decoder accepts: the length must fit in the 4-byte header.
inline constexpr std::size_t kMaxMaxFrameBytes = std::size_t{1} << 30;  // 1 GiB

enum class FrameError {
  kOversized,  // a frame announced (or a caller tried to send) more than max_frame_bytes
};

const char* to_string(FrameError e);

// Encodes one frame. A payload above max_frame_bytes is refused (the caller chose to send it,
// but the receiver would drop the connection).
Result<std::string, FrameError> encode_frame(std::string_view payload,
                                             std::size_t max_frame_bytes = kDefaultMaxFrameBytes);

class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame_bytes = kDefaultMaxFrameBytes);

  // Appends a chunk of received bytes. The caller drains next() until it yields no frame before
  // feeding again, so at most one partial frame is ever buffered.
  void feed(std::string_view bytes);

  // The next complete frame's payload; nullopt when more bytes are needed; an error when the
  // stream announced an oversized frame (the decoder then stays failed).
  Result<std::optional<std::string>, FrameError> next();

  // Raises or lowers the bound for frames not yet started (e.g. after the handshake).
  void set_max_frame_bytes(std::size_t max_frame_bytes);

  std::size_t max_frame_bytes() const { return max_frame_bytes_; }
  std::size_t buffered_bytes() const { return buffer_.size() - read_pos_; }
  bool failed() const { return failed_; }

 private:
  void check_invariants() const;

  std::size_t max_frame_bytes_;
  std::string buffer_;
  std::size_t read_pos_ = 0;
  bool failed_ = false;
};

}  // namespace minotaur::transport
