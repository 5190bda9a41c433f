#include "bench/ws_conn.h"

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>

#include "common/host_port.h"

namespace qc::bench {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = boost::asio::ip::tcp;

json::object synthetic_error(const char* code) {
  json::object e;
  e["ok"] = false;
  e["error"] = json::object{{"code", code}, {"message", "chatbench: no reply"}};
  return e;
}

ws_conn::ws_conn(boost::asio::io_context& io, std::string address)
    : io_(io), address_(std::move(address)), ws_(io) {}

void ws_conn::connect(std::function<void(const std::string&)> done) {
  const auto hp = common::parse_host_port(address_);
  beast::error_code ec;
  auto ip = boost::asio::ip::make_address(hp ? hp->host : std::string(), ec);
  if (!hp || ec) return done("bad address " + address_ + " (want IP:PORT)");
  tcp::endpoint ep(ip, hp->port_number);
  auto& sock = beast::get_lowest_layer(ws_);
  sock.expires_after(std::chrono::seconds(10));
  sock.async_connect(ep, [self = shared_from_this(), done = std::move(done)](beast::error_code ec2) mutable {
    if (ec2) return done("connect " + self->address_ + ": " + ec2.message());
    beast::get_lowest_layer(self->ws_).expires_never();
    beast::get_lowest_layer(self->ws_).socket().set_option(tcp::no_delay(true));
    self->ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    self->ws_.async_handshake(self->address_, "/ws", [self, done = std::move(done)](beast::error_code ec3) {
      if (ec3) return done("handshake " + self->address_ + ": " + ec3.message());
      self->ws_.text(true);
      self->open_ = true;
      self->do_read();
      done("");
    });
  });
}

void ws_conn::request(json::object req, reply_cb cb) {
  if (!open_) {
    auto e = synthetic_error("closed");
    cb(e);
    return;
  }
  const std::int64_t id = next_id_++;
  req["id"] = id;
  pending_.emplace(id, pending{std::move(cb), clock::now()});
  out_.push_back(json::serialize(req));
  if (out_.size() == 1) do_write();
}

void ws_conn::do_write() {
  ws_.async_write(boost::asio::buffer(out_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->finish();
    self->out_.pop_front();
    if (!self->out_.empty()) self->do_write();
  });
}

void ws_conn::do_read() {
  ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    if (ec) return self->finish();
    json::error_code jec;
    auto v = json::parse(std::string_view(static_cast<const char*>(self->buf_.cdata().data()), self->buf_.size()), jec);
    self->buf_.consume(self->buf_.size());
    if (!jec && v.is_object()) {
      auto& o = v.as_object();
      if (o.contains("event")) {
        if (self->on_event_) self->on_event_(o);
      } else if (auto* id = o.if_contains("id"); id && id->is_int64()) {
        auto it = self->pending_.find(id->as_int64());
        if (it != self->pending_.end()) {
          auto cb = std::move(it->second.cb);
          self->pending_.erase(it);
          cb(o);
        }
      }
    }
    if (self->open_) self->do_read();
  });
}

void ws_conn::expire(clock::time_point now, std::chrono::milliseconds timeout) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now - it->second.sent >= timeout) {
      auto cb = std::move(it->second.cb);
      it = pending_.erase(it);
      auto e = synthetic_error("timeout");
      cb(e);
    } else {
      ++it;
    }
  }
}

void ws_conn::fail_all(const char* code) {
  auto p = std::move(pending_);
  pending_.clear();
  for (auto& [id, pd] : p) {
    auto e = synthetic_error(code);
    pd.cb(e);
  }
}

void ws_conn::finish() {
  if (closed_) return;
  closed_ = true;
  open_ = false;
  beast::error_code ec;
  beast::get_lowest_layer(ws_).socket().close(ec);
  fail_all("closed");
  if (on_close_) on_close_();
}

void ws_conn::close() { finish(); }

}  // namespace qc::bench
