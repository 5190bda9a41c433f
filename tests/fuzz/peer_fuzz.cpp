// libFuzzer target: the peer frame decoder (raft messages, admin frames,
// snapshot acks). Any bytes must decode or be refused, never crash; what
// decodes must re-encode and decode to the same frame, with data written as
// strings and as JSON objects alike; and what the direct frame reader
// accepts, the JSON parser must read the same (a frame carrying data as
// objects, which the parser refuses, once written with strings).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/peer_data.h"
#include "net/peer_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto exact = qc::net::detail::decode_peer_frame_exact(text)) {
    auto general = qc::net::detail::decode_peer_frame_general(text);
    // Only data written as an object may keep the parser from the text itself.
    if (!general && qc::test::carries_data_as_object(text)) general = qc::net::detail::decode_peer_frame_general(qc::net::encode_peer_frame(*exact));
    if (!general || *general != *exact) std::abort();
  }
  auto f = qc::net::decode_peer_frame(text);
  if (f) {
    for (const bool as_json : {false, true}) {
      const auto again = qc::net::encode_peer_frame(*f, as_json);
      auto g = qc::net::decode_peer_frame(again);
      if (!g || *g != *f || qc::net::encode_peer_frame(*g, as_json) != again) std::abort();
    }
  }
  return 0;
}
