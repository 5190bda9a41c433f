// Reads that count as having drained the socket when they come back short.
//
// Asio's epoll reactor starts each new read with an immediate attempt
// ("speculative") unless the previous operation of that kind marked the
// socket as drained. A write that moves fewer bytes than it was given
// marks it; a read marks it only at end of stream (Boost 1.81,
// detail/reactive_socket_recv_op.hpp). Under request-reply traffic the
// next read almost always finds nothing: after each client request, and
// after each frame from a peer, the node's next read was a recvmsg that
// failed with EAGAIN before the socket went back to epoll_wait, about one
// such call per acknowledged write across the cluster.
//
// A TCP receive that returns fewer bytes than it asked for took all the
// socket held at that moment. Data arriving after it raises a new
// edge-triggered event, and the reactor re-enables the immediate attempt
// on every event, under the same descriptor lock that disabled it. So a
// short read can be marked as draining exactly as a short write is.
//
// Our plain-TCP reads opt in by handing their buffers to the socket as a
// `short_read_buffers` (qc::net::stream does, for every WebSocket and HTTP
// read of a plain connection). For that type, as Beast's tcp_stream
// passes it on (inside a buffers_prefix_view), Asio's receive operation
// base is specialized below to do so. With any other Boost the
// specialization is left out and the wrapper is only a view: Asio's own
// operation then runs, correct and one system call dearer per read.
//
// Owned by: whoever owns the stream (qc::net::stream); no state.
#pragma once

#include <iterator>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_prefix.hpp>
#include <boost/version.hpp>

namespace qc::net {

/// A mutable buffer sequence as it is, under a type of its own, so that a
/// read given it ends "drained" when it comes back short (see above).
/// Owned by the read operation that carries it.
template <class Buffers>
class short_read_buffers {
 public:
  using const_iterator = decltype(boost::asio::buffer_sequence_begin(std::declval<const Buffers&>()));
  using value_type = typename std::iterator_traits<const_iterator>::value_type;

  explicit short_read_buffers(const Buffers& b) : b_(b) {}
  const_iterator begin() const { return boost::asio::buffer_sequence_begin(b_); }
  const_iterator end() const { return boost::asio::buffer_sequence_end(b_); }

 private:
  Buffers b_;
};

}  // namespace qc::net

#if BOOST_VERSION == 108100
#define QC_SHORT_READ_DRAINS 1

#include <boost/asio/detail/buffer_sequence_adapter.hpp>
#include <boost/asio/detail/reactive_socket_recv_op.hpp>

namespace boost::asio::detail {

/// Asio's receive operation base for a read given short_read_buffers (via
/// Beast's tcp_stream): the same receive, and a short one reports
/// done_and_exhausted, so the reactor waits for the next event before it
/// tries again instead of calling recvmsg into EAGAIN. Owned by the
/// reactor, like the operation it specializes.
template <class Buffers>
class reactive_socket_recv_op_base<boost::beast::buffers_prefix_view<qc::net::short_read_buffers<Buffers>>>
    : public reactor_op {
  using buffers_type = boost::beast::buffers_prefix_view<qc::net::short_read_buffers<Buffers>>;

 public:
  reactive_socket_recv_op_base(const boost::system::error_code& success_ec, socket_type socket,
                               socket_ops::state_type state, const buffers_type& buffers,
                               socket_base::message_flags flags, func_type complete_func)
      : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
        socket_(socket),
        state_(state),
        buffers_(buffers),
        flags_(flags) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<reactive_socket_recv_op_base*>(base);
    buffer_sequence_adapter<boost::asio::mutable_buffer, buffers_type> bufs(o->buffers_);
    const bool stream = (o->state_ & socket_ops::stream_oriented) != 0;
    status result = socket_ops::non_blocking_recv(o->socket_, bufs.buffers(), bufs.count(), o->flags_, stream,
                                                  o->ec_, o->bytes_transferred_)
                        ? done
                        : not_done;
    // End of stream or an error (0 bytes, as Asio marks it), or a short
    // read: drained.
    if (result == done && stream && (o->bytes_transferred_ == 0 || o->bytes_transferred_ < bufs.total_size()))
      result = done_and_exhausted;
    BOOST_ASIO_HANDLER_REACTOR_OPERATION((*o, "non_blocking_recv", o->ec_, o->bytes_transferred_));
    return result;
  }

 private:
  socket_type socket_;
  socket_ops::state_type state_;
  buffers_type buffers_;
  socket_base::message_flags flags_;
};

}  // namespace boost::asio::detail
#endif
