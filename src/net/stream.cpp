// The TLS side of qc::net::stream (stream.h), compiled once: each of these
// is the one instance of its SSL operation in the program.
//
// Owned by: whoever owns the stream (the loop thread for the node).
#include "net/stream.h"

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace qc::net {

void stream::tls_read_some(boost::asio::mutable_buffer b, executor_type ex, io_handler h) {
  tls_->async_read_some(b, boost::asio::bind_executor(std::move(ex), std::move(h)));
}

void stream::tls_write(std::vector<boost::asio::const_buffer> b, executor_type ex, io_handler h) {
  // The operation keeps its own copy of `b`.
  boost::asio::async_write(*tls_, b, boost::asio::bind_executor(std::move(ex), std::move(h)));
}

void async_tls_teardown(boost::beast::role_type role, stream& s, stream::executor_type ex,
                        boost::asio::any_completion_handler<void(boost::system::error_code)> h) {
  async_teardown(role, s.tls(), boost::asio::bind_executor(std::move(ex), std::move(h)));
}

void teardown(boost::beast::role_type role, stream& s, boost::beast::error_code& ec) {
  if (s.is_tls()) teardown(role, s.tls(), ec);
  else teardown(role, s.next_layer(), ec);
}

}  // namespace qc::net
