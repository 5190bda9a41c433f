#include "net/push_session.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>

#include "net/session_failure.h"

namespace qc::net {

namespace beast = boost::beast;
namespace websocket = beast::websocket;

push_session::push_session(net::stream stream, push_limits limits) : ws_(std::move(stream)), limits_(limits) {}

void push_session::run(request req, callback open, callback closed) {
  open_ = std::move(open);
  closed_ = std::move(closed);
  websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
  t.keep_alive_pings = true;  // a browser that vanished without a FIN is noticed
  ws_.set_option(t);
  ws_.read_message_max(limits_.max_read_bytes);
  ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
}

void push_session::on_accept(beast::error_code ec) {
  if (ec) return fail(ec, "accept");
  opened_ = true;
  if (open_) open_(shared_from_this());
  do_read();
}

void push_session::fail(beast::error_code ec, const char* what) {
  beast::error_code ignored;
  const auto ep = beast::get_lowest_layer(ws_).socket().remote_endpoint(ignored);
  log_session_failure(ec, what, "events subscriber", ignored ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port()));
  finish();
}

void push_session::do_read() {
  ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void push_session::on_read(beast::error_code ec) {
  if (ec) return fail(ec, "read");
  in_.consume(in_.size());  // the stream is one way: what the reader says is ignored
  do_read();
}

bool push_session::push(std::shared_ptr<const std::string> frame) {
  if (finished_ || closing_ || !opened_) return false;
  if (queue_.size() >= limits_.max_frames || queued_bytes_ + frame->size() > limits_.max_bytes) {
    ++dropped_;
    ++dropped_total_;
    return false;
  }
  queued_bytes_ += frame->size();
  queue_.push_back(std::move(frame));
  if (queue_.size() == 1) do_write();
  return true;
}

void push_session::do_write() {
  ws_.text(true);
  ws_.async_write(boost::asio::buffer(*queue_.front()),
                  [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
}

void push_session::on_write(beast::error_code ec) {
  if (ec) return fail(ec, "write");
  queued_bytes_ -= queue_.front()->size();
  queue_.pop_front();
  if (queue_.empty() && dropped_ > 0 && !closing_) {
    // Caught up after losing frames: say how many, so the page knows its
    // timeline has a gap (progress frames make the bars right again).
    auto note = std::make_shared<const std::string>("{\"type\":\"dropped\",\"count\":" + std::to_string(dropped_) + "}");
    dropped_ = 0;
    queued_bytes_ += note->size();
    queue_.push_back(std::move(note));
  }
  if (!queue_.empty()) do_write();
}

void push_session::close(std::uint16_t code, const std::string& reason) {
  if (closing_ || finished_) return;
  closing_ = true;
  if (!opened_) return finish();
  beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(2));
  ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), reason),
                  [self = shared_from_this()](beast::error_code) { self->finish(); });
}

void push_session::finish() {
  if (finished_) return;
  finished_ = true;
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
  if (opened_ && closed_) closed_(shared_from_this());
}

}  // namespace qc::net
