// TLS set-up for the node's listener, its peer links and the client tools:
// building OpenSSL contexts from PEM files and preparing a dialing stream
// (SNI and host-name verification). Nothing here throws; failures come back
// as a message naming the file and OpenSSL's reason.
//
// Owned by: main()/node start-up builds the contexts; the loop thread (or
// a tool's own thread) uses them read-only afterwards.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "common/error.h"
#include "net/stream.h"
#include "net/tls_settings.h"

namespace qc::net {

/// A server context presenting cert_file/key_file (TLS 1.2 or newer).
/// With verify_peers it also asks for a client certificate (optional at the
/// TLS level: browsers have none) and checks any it gets against ca_file;
/// peer_cert_verified() then tells whether a /raft dialer proved one.
/// nullptr and `err` on a bad file.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const tls_settings& s, std::string& err);

/// A client context that verifies servers against `ca_file` (or the system
/// store when empty); `verify` false skips verification (tests, demos).
/// With `cert_file`/`key_file` it presents that certificate (a node dialing
/// its peers: mutual TLS).
std::shared_ptr<boost::asio::ssl::context> make_client_context(const std::string& ca_file, bool verify,
                                                               std::string& err, const std::string& cert_file = "",
                                                               const std::string& key_file = "");

/// True when `s` is TLS and the other side presented a certificate that
/// chains to the server context's CA.
bool peer_cert_verified(stream& s);

/// The client context the tools share (ws_client, chatctl, the supervisor's
/// probes) for wss:// and https:// addresses: it verifies against the CA
/// file named by $QC_TLS_CA (the system store if unset), or not at all
/// with QC_TLS_INSECURE=1. Built once per process; nullptr and `err` if the
/// CA file is unusable. Thread-safe.
std::shared_ptr<boost::asio::ssl::context> tool_client_context(std::string& err);

/// Switches a not-yet-connected stream to TLS for dialing `host`: sets SNI
/// and, when the context verifies, checks the certificate names `host`
/// (a DNS name or an IP address).
qc::error start_client_tls(stream& s, boost::asio::ssl::context& ctx, const std::string& host);

/// Splits an address that may carry a scheme: "wss://h:p" or "https://h:p"
/// sets `tls` and strips it; "ws://" and "http://" clear it; a bare "h:p"
/// (as tools learn member addresses from the cluster) uses TLS when the
/// environment has QC_TLS=1. A trailing path is dropped.
std::string strip_scheme(const std::string& address, bool& tls);

}  // namespace qc::net
