#include "net/ws_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include "common/host_port.h"
#include "net/tls.h"

namespace qc::net {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = boost::asio::ip::tcp;

struct ws_client::impl {
  boost::asio::io_context io;
  std::unique_ptr<websocket::stream<net::stream>> ws;
  beast::flat_buffer buf;
  bool open = false;
  bool reading = false;  ///< an async_read is pending across calls
  std::optional<std::pair<beast::error_code, std::string>> read_done;
  std::deque<json::object> events;
  std::optional<std::uint16_t> close_code;
  std::int64_t next_id = 1;

  /// Runs the loop until `done` or the timeout; false on timeout.
  template <typename Pred>
  bool run_until(Pred done, std::chrono::milliseconds timeout) {
    io.restart();
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= end) return false;
      if (io.run_one_for(end - now) == 0 && !done()) {
        if (io.stopped()) io.restart();
      }
    }
    return true;
  }

  void start_read() {
    if (reading || !open) return;
    reading = true;
    ws->async_read(buf, [this](beast::error_code ec, std::size_t) {
      reading = false;
      std::string s = beast::buffers_to_string(buf.data());
      buf.consume(buf.size());
      read_done.emplace(ec, std::move(s));
    });
  }
};

ws_client::ws_client() : impl_(std::make_unique<impl>()) {}
ws_client::~ws_client() { close(); }

qc::error ws_client::connect(const std::string& address, const std::string& path, std::chrono::milliseconds timeout) {
  close();
  auto& i = *impl_;
  i.io.restart();
  i.ws = std::make_unique<websocket::stream<net::stream>>(i.io);
  bool tls = false;
  const std::string host_port = strip_scheme(address, tls);
  i.read_done.reset();
  i.events.clear();
  i.close_code.reset();
  i.buf.consume(i.buf.size());
  const auto hp = common::parse_host_port(host_port);
  if (!hp) return {std::make_error_code(std::errc::invalid_argument), "expected host:port, got '" + host_port + "'"};
  const std::string& host = hp->host;
  if (tls) {
    std::string why;
    auto ctx = tool_client_context(why);
    if (!ctx) return {std::make_error_code(std::errc::invalid_argument), why};
    if (auto e = start_client_tls(i.ws->next_layer(), *ctx, host)) return e;
  }
  tcp::resolver resolver(i.io);
  beast::error_code ec;
  auto results = resolver.resolve(host, hp->port, ec);
  if (ec) return {ec, host_port + ": " + ec.message()};
  bool done = false;
  beast::get_lowest_layer(*i.ws).expires_after(timeout);
  beast::get_lowest_layer(*i.ws).async_connect(results, [&](beast::error_code e, const tcp::endpoint&) {
    if (e) {
      ec = e;
      done = true;
      return;
    }
    auto upgrade = [&] {
      beast::get_lowest_layer(*i.ws).expires_never();
      i.ws->set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
      i.ws->read_message_max(64 << 20);
      i.ws->async_handshake(host_port, path, [&](beast::error_code e2) {
        ec = e2;
        done = true;
      });
    };
    if (!tls) return upgrade();
    // `upgrade` is a local of this handler: the next one needs its own copy.
    i.ws->next_layer().tls().async_handshake(boost::asio::ssl::stream_base::client, [&, upgrade](beast::error_code e2) {
      if (e2) {
        ec = e2;
        done = true;
        return;
      }
      upgrade();
    });
  });
  if (!i.run_until([&] { return done; }, timeout + std::chrono::milliseconds(200)) || ec) {
    i.ws.reset();
    if (!ec) return {std::make_error_code(std::errc::timed_out), host_port + ": connect timed out"};
    return {ec, host_port + ": " + ec.message()};
  }
  i.open = true;
  return {};
}

bool ws_client::is_open() const { return impl_->open; }

void ws_client::close() {
  auto& i = *impl_;
  if (i.ws) {
    beast::error_code ec;
    beast::get_lowest_layer(*i.ws).socket().close(ec);
    i.io.restart();
    i.io.poll();
  }
  i.open = false;
  i.reading = false;
  i.ws.reset();
}

qc::error ws_client::send_raw(const std::string& frame) {
  auto& i = *impl_;
  if (!i.open) return {std::make_error_code(std::errc::not_connected), "not connected"};
  bool done = false;
  beast::error_code ec;
  i.ws->text(true);
  i.ws->async_write(boost::asio::buffer(frame), [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!i.run_until([&] { return done; }, std::chrono::seconds(10)) || ec) {
    i.open = false;
    if (!ec) return {std::make_error_code(std::errc::timed_out), "write timed out"};
    return {ec, ec.message()};
  }
  return {};
}

json::value ws_client::send(json::object req, std::string& err) {
  if (!req.contains("id")) req["id"] = impl_->next_id++;
  json::value id = req["id"];
  if (auto e = send_raw(json::serialize(req))) err = e.what;
  return id;
}

std::optional<json::value> ws_client::recv(std::chrono::milliseconds timeout, std::string& err) {
  auto& i = *impl_;
  if (!i.open && !i.read_done) {
    err = "not connected";
    return std::nullopt;
  }
  i.start_read();
  if (!i.run_until([&] { return i.read_done.has_value(); }, timeout)) {
    err = "timed out";
    return std::nullopt;
  }
  auto [ec, text] = std::move(*i.read_done);
  i.read_done.reset();
  if (ec) {
    err = ec.message();
    i.open = false;
    if (i.ws && i.ws->reason().code != 0) i.close_code = static_cast<std::uint16_t>(i.ws->reason().code);
    return std::nullopt;
  }
  json::error_code jec;
  auto v = json::parse(text, jec);
  if (jec) {
    err = "server sent invalid JSON";
    return std::nullopt;
  }
  return v;
}

std::optional<json::object> ws_client::request(json::object req, std::string& err, std::chrono::milliseconds timeout) {
  const json::value id = send(std::move(req), err);
  if (!impl_->open) return std::nullopt;
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      err = "timed out waiting for the reply";
      return std::nullopt;
    }
    auto v = recv(left, err);
    if (!v) return std::nullopt;
    if (!v->is_object()) continue;
    auto& o = v->as_object();
    if (o.contains("event")) {
      impl_->events.push_back(std::move(o));
      continue;
    }
    if (auto* rid = o.if_contains("id"); rid && *rid == id) return std::move(o);
  }
}

std::optional<json::object> ws_client::next_event(std::chrono::milliseconds timeout, std::string& err) {
  auto& i = *impl_;
  if (!i.events.empty()) {
    auto e = std::move(i.events.front());
    i.events.pop_front();
    return e;
  }
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      err = "no event";
      return std::nullopt;
    }
    auto v = recv(left, err);
    if (!v) return std::nullopt;
    if (v->is_object() && v->as_object().contains("event")) return std::move(v->as_object());
  }
}

std::optional<std::uint16_t> ws_client::close_code() const { return impl_->close_code; }

}  // namespace qc::net
