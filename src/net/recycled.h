// Completion handlers whose operation state comes from Asio's per-thread
// recycling cache: every WebSocket read and write otherwise allocates its
// composed operation (Beast's and Asio's layers) with operator new, once
// per frame.
//
// Owned by: plain function; the loop thread's sessions and peer links.
#pragma once

#include <utility>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/recycling_allocator.hpp>

namespace qc::net {

/// `h`, with Asio's recycling allocator as its associated allocator.
template <class Handler>
auto recycled(Handler&& h) {
  return boost::asio::bind_allocator(boost::asio::recycling_allocator<void>(), std::forward<Handler>(h));
}

}  // namespace qc::net
