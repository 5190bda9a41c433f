// The event stream's subscriber socket (net/push_session.h): its send queue
// is bounded, frames past the bound are dropped (not queued), and once the
// queue drains the reader is told how many it lost.
//
// Owned by: the test thread (runs the server side's io_context); a second
// thread is the browser, a blocking WebSocket client.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include "net/push_session.h"

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = boost::asio::ip::tcp;

TEST_CASE("push_session: frames past the queue bound are dropped, then the reader is told how many") {
  boost::asio::io_context io;
  tcp::acceptor acc(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const auto port = acc.local_endpoint().port();
  qc::net::push_limits limits;
  limits.max_frames = 4;
  const std::string big(64 * 1024, 'x');
  int accepted = 0, refused = 0;
  std::uint64_t dropped = 0;
  bool closed = false;
  std::atomic<bool> pushed{false};

  auto buf = std::make_shared<beast::flat_buffer>();
  auto req = std::make_shared<qc::net::push_session::request>();
  std::shared_ptr<qc::net::push_session> session;
  acc.async_accept([&](beast::error_code ec, tcp::socket s) {
    REQUIRE_FALSE(ec);
    auto stream = std::make_shared<qc::net::stream>(std::move(s));
    http::async_read(*stream, *buf, *req, [&, stream](beast::error_code ec2, std::size_t) {
      REQUIRE_FALSE(ec2);
      session = std::make_shared<qc::net::push_session>(std::move(*stream), limits);
      session->run(
          std::move(*req),
          [&](const std::shared_ptr<qc::net::push_session>& x) {
            // 100 frames at once: nothing is written meanwhile, so only the
            // bound (4 frames) gets in.
            for (int i = 0; i < 100; ++i)
              (x->push(std::make_shared<const std::string>(big)) ? accepted : refused)++;
            dropped = x->dropped();
            pushed = true;
          },
          [&](const std::shared_ptr<qc::net::push_session>&) { closed = true; });
    });
  });

  std::vector<std::string> got;
  std::thread browser([&] {
    boost::asio::io_context cio;
    websocket::stream<tcp::socket> ws(cio);
    ws.next_layer().connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    ws.handshake("127.0.0.1", "/events");
    for (int i = 0; i < 2000 && !pushed; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (int i = 0; i < 5; ++i) {
      beast::flat_buffer b;
      ws.read(b);
      got.push_back(beast::buffers_to_string(b.data()));
    }
    ws.close(websocket::close_code::normal);
  });
  io.run_for(std::chrono::seconds(20));
  browser.join();

  CHECK(accepted == 4);
  CHECK(refused == 96);
  CHECK(dropped == 96);
  REQUIRE(got.size() == 5);
  for (int i = 0; i < 4; ++i) CHECK(got[i] == big);
  const auto note = boost::json::parse(got[4]);
  CHECK(note.at("type").as_string() == "dropped");
  CHECK(note.at("count").as_int64() == 96);
  CHECK(closed);
}
