// The [tls] section of the TOML (docs/SECURITY.md, "Turning TLS on").
//
// Owned by: config loading fills it at start-up; read-only afterwards.
#pragma once

#include <string>

namespace qc::net {

/// TLS for the listener and the peer links: off unless cert_file is set.
struct tls_settings {
  std::string cert_file;  ///< PEM certificate chain this node presents (clients and peers)
  std::string key_file;   ///< PEM private key of cert_file
  std::string ca_file;    ///< PEM CA bundle peers' certificates must chain to ("" = system store)
  bool verify_peers = true;      ///< check peer certificates and their host names when dialing
  bool allow_plaintext = false;  ///< also accept plain http:// and ws:// on the listener
  bool enabled() const { return !cert_file.empty(); }
  /// Field by field (config tests). Owned by: config loading, like the rest.
  friend bool operator==(const tls_settings&, const tls_settings&) = default;
};

}  // namespace qc::net
