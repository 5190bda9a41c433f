// "host:port" addresses as the config, the admin ops and the dialers write
// them: one parser, so every place accepts and refuses the same strings.
// An IPv6 host may be bracketed ("[::1]:7001"); the brackets are removed.
//
// Owned by: pure functions, any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qc::common {

/// A parsed address: host without brackets, port as digits (1-65535).
/// A plain value, owned by whoever parsed it.
struct host_port {
  std::string host;
  std::string port;
  unsigned short port_number = 0;
};

/// Splits and validates "host:port": a non-empty host of at most 253
/// characters without spaces, control characters, '/' or '"', and a decimal
/// port 1-65535. nullopt otherwise.
inline std::optional<host_port> parse_host_port(std::string_view a) {
  const auto colon = a.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= a.size()) return std::nullopt;
  std::string_view host = a.substr(0, colon), port = a.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  unsigned p = 0;
  for (char c : port) p = p * 10 + static_cast<unsigned>(c - '0');
  if (p < 1 || p > 65535) return std::nullopt;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host.size() > 253) return std::nullopt;
  for (char c : host)
    if (static_cast<unsigned char>(c) <= ' ' || c == '/' || c == '"' || c == 0x7f) return std::nullopt;
  return host_port{std::string(host), std::string(port), static_cast<unsigned short>(p)};
}

/// True for hosts that can only be reached from this machine: "localhost",
/// 127.0.0.0/8 and ::1 (as parse_host_port returns them, without brackets).
inline bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1") return true;
  if (host.substr(0, 4) != "127.") return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

}  // namespace qc::common
