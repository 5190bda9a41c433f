// Runs an io_context in short slices until a condition holds or a time
// limit passes, so that a hang fails a test instead of stalling it.
//
// Owned by: the test thread.
#pragma once

#include <chrono>

#include <boost/asio/io_context.hpp>

namespace qc::test {

/// Runs `io` until `done()` holds or `limit` passes; returns done().
template <typename Pred>
bool run_until(boost::asio::io_context& io, Pred done, std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return done();
}

}  // namespace qc::test
