// Beast's `fail(ec, what)` for the node's sessions: every session that ends
// on an error says so in the log instead of finishing silently. Endings
// that are part of normal life (the other side closed, a timeout fired, the
// node closed the socket itself, a down peer refused a dial) go to debug; anything else (protocol
// violations, TLS errors, resets mid-frame) to info, one line per session.
//
// Owned by: the loop thread (called from session handlers).
#pragma once

#include <string>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/websocket/error.hpp>

#include "common/log.h"

namespace qc::net {

/// True for errors that mean "the connection ended", not "something broke".
inline bool routine_ending(const boost::beast::error_code& ec) {
  namespace asio = boost::asio;
  return ec == asio::error::eof || ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::bad_descriptor || ec == asio::error::not_connected ||
         ec == asio::error::connection_refused || ec == asio::error::host_unreachable ||
         ec == asio::error::network_unreachable || ec == asio::error::timed_out ||
         ec == boost::beast::error::timeout || ec == boost::beast::websocket::error::closed ||
         ec == boost::beast::http::error::end_of_stream || ec == asio::ssl::error::stream_truncated;
}

/// Logs "<kind> <remote>: <what>: <message>" at debug or info (see above).
inline void log_session_failure(const boost::beast::error_code& ec, const char* what, const char* kind,
                                const std::string& remote) {
  if (routine_ending(ec)) log::debug(kind, ' ', remote, ": ", what, ": ", ec.message());
  else log::info(kind, ' ', remote, ": ", what, ": ", ec.message());
}

}  // namespace qc::net
