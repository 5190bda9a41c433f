// Plain reads that come back short leave the socket to epoll
// (net/short_read.h): the receive operation reports a short read as
// draining, a full one as not, and a read over a real connection still
// completes whenever data comes, whether it arrives while the read waits
// or before the read is issued.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "common/run_until.h"
#include "net/stream.h"

namespace asio = boost::asio;
namespace test = qc::test;
using asio::ip::tcp;

namespace {

/// A connected, non-blocking AF_UNIX stream pair, closed on scope exit.
struct socket_pair {
  int fd[2] = {-1, -1};
  socket_pair() {
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fd) == 0);
    for (int f : fd) ::fcntl(f, F_SETFL, ::fcntl(f, F_GETFL) | O_NONBLOCK);
  }
  ~socket_pair() {
    for (int f : fd) ::close(f);
  }
  void put(std::size_t n) const { REQUIRE(::write(fd[0], std::string(n, 'x').data(), n) == static_cast<ssize_t>(n)); }
};

void never_completes(void*, asio::detail::operation*, const boost::system::error_code&, std::size_t) {}

/// Performs one receive of up to `want` bytes on `s` as the reactor would
/// for a plain qc::net::stream read; returns its status and byte count.
template <class Buffers>
std::pair<asio::detail::reactor_op::status, std::size_t> perform(int s, char* data, std::size_t want) {
  using prefix = boost::beast::buffers_prefix_view<Buffers>;
  const Buffers b(asio::mutable_buffer(data, want));
  asio::detail::reactive_socket_recv_op_base<prefix> op(boost::system::error_code(), s,
                                                        asio::detail::socket_ops::stream_oriented,
                                                        boost::beast::buffers_prefix(want, b), 0, &never_completes);
  const auto st = op.perform();
  return {st, op.bytes_transferred_};
}

}  // namespace

#if QC_SHORT_READ_DRAINS
TEST_CASE("a short plain read is reported as draining the socket; a full one is not") {
  using ours = qc::net::short_read_buffers<asio::mutable_buffer>;
  socket_pair p;
  std::array<char, 100> buf{};
  p.put(10);
  auto [st, n] = perform<ours>(p.fd[1], buf.data(), buf.size());
  CHECK(n == 10);
  CHECK(st == asio::detail::reactor_op::done_and_exhausted);

  p.put(100);
  std::tie(st, n) = perform<ours>(p.fd[1], buf.data(), buf.size());
  CHECK(n == 100);
  CHECK(st == asio::detail::reactor_op::done);  // maybe more: the next read tries at once

  std::tie(st, n) = perform<ours>(p.fd[1], buf.data(), buf.size());
  CHECK(st == asio::detail::reactor_op::not_done);  // nothing there: wait for epoll

  // Asio's own operation, for any other buffer type, marks only end of
  // stream: after a short read it would try the next read at once.
  p.put(10);
  std::tie(st, n) = perform<asio::mutable_buffer>(p.fd[1], buf.data(), buf.size());
  CHECK(n == 10);
  CHECK(st == asio::detail::reactor_op::done);
}
#endif

TEST_CASE("plain stream reads complete whether data comes before or after the read is issued") {
  asio::io_context io;
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  tcp::socket writer(io);
  writer.connect(acc.local_endpoint());
  qc::net::stream reader(acc.accept());
  // Outstanding work keeps poll() polling epoll even with no read queued.
  auto work = asio::make_work_guard(io);

  std::array<char, 4096> buf{};
  std::size_t got = 0;
  int reads = 0;
  auto read_once = [&] {
    reader.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, std::size_t n) {
      REQUIRE(!ec);
      got += n;
      ++reads;
    });
  };

  for (int round = 0; round < 200; ++round) {
    const std::string msg(1 + round % 37, 'a');
    if (round % 2 == 0) {
      // The read waits first (after a short read: on epoll), then data comes.
      read_once();
      io.poll();
      io.restart();
      asio::write(writer, asio::buffer(msg));
    } else {
      // Data comes first and its event may be taken while no read is
      // queued; the next read must still find it.
      asio::write(writer, asio::buffer(msg));
      io.poll();
      io.restart();
      read_once();
    }
    const std::size_t before = got;
    REQUIRE(test::run_until(io, [&] { return reads == round + 1; }, std::chrono::seconds(5)));
    CHECK(got - before == msg.size());
  }
}
