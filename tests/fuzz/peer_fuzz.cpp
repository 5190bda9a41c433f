// libFuzzer target: the peer frame decoder (raft messages, admin frames,
// snapshot acks). Any bytes must decode or be refused, never crash; what
// decodes must re-encode and decode to the same frame; and what the direct
// frame reader accepts, the JSON parser must read the same.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "net/peer_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto exact = qc::net::detail::decode_peer_frame_exact(text)) {
    auto general = qc::net::detail::decode_peer_frame_general(text);
    if (!general || *general != *exact) std::abort();
  }
  auto f = qc::net::decode_peer_frame(text);
  if (f) {
    const auto again = qc::net::encode_peer_frame(*f);
    auto g = qc::net::decode_peer_frame(again);
    if (!g || qc::net::encode_peer_frame(*g) != again) std::abort();
  }
  return 0;
}
