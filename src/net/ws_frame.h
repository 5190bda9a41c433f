// The header of a WebSocket text frame as a server sends it (RFC 6455
// §5.2): FIN set, opcode 1, no mask, the payload length in 7, 7+16 or
// 7+64 bits. A client session writes its replies and events with these
// headers itself, several frames in one system call, where Beast's
// websocket::stream writes one message per call (server.cpp ws_session).
// No extension is ever negotiated (no permessage-deflate), so RSV1-3 are 0.
//
// Owned by: whoever writes the frame (the loop thread's client sessions).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace qc::net {

/// A server-to-client text frame header for a payload of `size` bytes.
struct ws_text_header {
  std::array<std::uint8_t, 10> bytes{};
  std::size_t size = 0;

  explicit ws_text_header(std::uint64_t payload) {
    bytes[0] = 0x81;  // FIN, text
    if (payload < 126) {
      bytes[1] = static_cast<std::uint8_t>(payload);
      size = 2;
    } else if (payload <= 0xffff) {
      bytes[1] = 126;
      bytes[2] = static_cast<std::uint8_t>(payload >> 8);
      bytes[3] = static_cast<std::uint8_t>(payload);
      size = 4;
    } else {
      bytes[1] = 127;
      for (int i = 0; i < 8; ++i) bytes[2 + i] = static_cast<std::uint8_t>(payload >> (56 - 8 * i));
      size = 10;
    }
  }
};

}  // namespace qc::net
