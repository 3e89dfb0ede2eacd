#include "transport/frame.h"

#include "base/assert.h"

namespace minotaur::transport {

const char* to_string(FrameError e) {
  switch (e) {
    case FrameError::kOversized:
      return "frame larger than the allowed maximum";
  }
  return "unknown frame error";
}

Result<std::string, FrameError> encode_frame(std::string_view payload,
                                             std::size_t max_frame_bytes) {
  MINOTAUR_ASSERT(max_frame_bytes <= kMaxMaxFrameBytes);
  if (payload.size() > max_frame_bytes) return err(FrameError::kOversized);
  const auto n = static_cast<std::uint32_t>(payload.size());
  std::string out;
  out.reserve(kFrameHeaderBytes + payload.size());
  out.push_back(static_cast<char>((n >> 24) & 0xffu));
  out.push_back(static_cast<char>((n >> 16) & 0xffu));
  out.push_back(static_cast<char>((n >> 8) & 0xffu));
  out.push_back(static_cast<char>(n & 0xffu));
  out.append(payload);
  return out;
}

FrameDecoder::FrameDecoder(std::size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {
  MINOTAUR_ASSERT(max_frame_bytes_ <= kMaxMaxFrameBytes);
}

void FrameDecoder::set_max_frame_bytes(std::size_t max_frame_bytes) {
  MINOTAUR_ASSERT(max_frame_bytes <= kMaxMaxFrameBytes);
  max_frame_bytes_ = max_frame_bytes;
}

void FrameDecoder::feed(std::string_view bytes) {
  if (failed_) return;
  // The caller drained next(), so what is buffered is less than one whole frame.
  MINOTAUR_ASSERT(buffered_bytes() < kFrameHeaderBytes + kMaxMaxFrameBytes);
  if (read_pos_ > 0 && read_pos_ >= buffer_.size() / 2) {
    buffer_.erase(0, read_pos_);
    read_pos_ = 0;
  }
  buffer_.append(bytes);
  check_invariants();
}

Result<std::optional<std::string>, FrameError> FrameDecoder::next() {
  if (failed_) return err(FrameError::kOversized);
  if (buffered_bytes() < kFrameHeaderBytes) return std::optional<std::string>();
  const auto* p = reinterpret_cast<const unsigned char*>(buffer_.data() + read_pos_);
  const std::size_t length = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) |
                             (std::size_t{p[2]} << 8) | std::size_t{p[3]};
  if (length > max_frame_bytes_) {
    failed_ = true;
    buffer_.clear();
    buffer_.shrink_to_fit();
    read_pos_ = 0;
    return err(FrameError::kOversized);
  }
  if (buffered_bytes() - kFrameHeaderBytes < length) return std::optional<std::string>();
  std::string payload = buffer_.substr(read_pos_ + kFrameHeaderBytes, length);
  read_pos_ += kFrameHeaderBytes + length;
  if (read_pos_ == buffer_.size()) {
    buffer_.clear();
    read_pos_ = 0;
  }
  check_invariants();
  return std::optional<std::string>(std::move(payload));
}

void FrameDecoder::check_invariants() const {
  MINOTAUR_ASSERT(read_pos_ <= buffer_.size());
  MINOTAUR_ASSERT(!failed_ || buffer_.empty());
}

}  // namespace minotaur::transport
