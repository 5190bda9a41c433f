// Setting up chatbench's logged-in connections: creates users, logs them in
// over K WebSocket connections spread over the nodes (or pinned to one), and
// binds any further connections to those users with `resume` (a token, no
// password hash), which is how capacity mode opens 10k connections cheaply.
//
// Owned by: the chatbench io thread (the calls below run the io_context
// until they are done).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include "bench/ws_conn.h"

namespace qc::bench {

/// One logged-in connection.
struct session {
  std::shared_ptr<ws_conn> conn;
  std::string user;
  std::string token;
  std::size_t node = 0;  ///< index into the node list
};

/// How to set up sessions.
struct session_options {
  std::vector<std::string> nodes;  ///< IP:PORT of each node
  std::size_t connections = 1;     ///< K
  std::size_t users = 0;           ///< distinct users (0 = one per connection)
  int pin = -1;                    ///< node index every connection uses; -1 = round-robin
  std::string prefix;              ///< user name prefix (unique per run)
  std::string password = "bench-pw";
  std::size_t concurrency = 128;   ///< connections being set up at once
};

/// Runs `io` until `done()` holds or `timeout_s` pass; false on timeout.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done, double timeout_s);

/// Sends `req` on `c` and runs `io` until the reply arrives (setup only).
boost::json::object call(boost::asio::io_context& io, ws_conn& c, boost::json::object req, double timeout_s = 30);

/// Creates `users` accounts (conflicts are fine), logs the first `users`
/// connections in with the password and the rest with `resume`. Fills
/// `err` and returns what it managed on failure.
std::vector<session> open_sessions(boost::asio::io_context& io, const session_options& o, std::string& err);

/// Opens `n` more connections to node `node` bound with `resume` to the
/// users of `base` (round-robin). Used by capacity mode.
std::vector<session> open_resumed(boost::asio::io_context& io, const std::vector<session>& base,
                                  const std::string& address, std::size_t node, std::size_t n,
                                  std::size_t concurrency, std::string& err);

/// A random lowercase prefix like "b3k9q2" for user names.
std::string random_prefix();

}  // namespace qc::bench
