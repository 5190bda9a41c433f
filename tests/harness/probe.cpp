#include "harness/probe.h"

#include <cctype>

#include <boost/beast/http.hpp>

namespace qc::test {

std::unique_ptr<raw_ws> ws_from(boost::asio::io_context& io, const std::string& from, int port, const std::string& path) {
  namespace asio = boost::asio;
  auto ws = std::make_unique<raw_ws>(io);
  auto& s = ws->next_layer();
  s.open(asio::ip::tcp::v4());
  s.bind({asio::ip::make_address(from), 0});
  boost::beast::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
  if (ec) return nullptr;
  ws->handshake("127.0.0.1", path, ec);
  if (ec) return nullptr;
  return ws;
}

boost::json::object raw_call(raw_ws& ws, const boost::json::object& req) {
  boost::beast::error_code ec;
  ws.text(true);
  ws.write(boost::asio::buffer(boost::json::serialize(req)), ec);
  if (ec) return {};
  boost::beast::flat_buffer buf;
  ws.read(buf, ec);
  if (ec) return {};
  boost::json::error_code jec;
  auto v = boost::json::parse(boost::beast::buffers_to_string(buf.data()), jec);
  return !jec && v.is_object() ? v.as_object() : boost::json::object{};
}

http_head http_get_head(int port, const std::string& path) {
  namespace http = boost::beast::http;
  boost::asio::io_context io;
  boost::beast::tcp_stream s(io);
  s.expires_after(std::chrono::seconds(2));
  boost::beast::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
  if (ec) return {};
  http::request<http::empty_body> req(http::verb::get, path, 11);
  req.set(http::field::host, "127.0.0.1");
  http::write(s, req, ec);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  if (!ec) http::read(s, buf, res, ec);
  if (ec) return {};
  http_head h;
  h.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    h.headers[name] = std::string(f.value());
  }
  return h;
}

}  // namespace qc::test
