// libFuzzer target: the client request decoder (docs/PROTOCOL.md). Any bytes
// must decode into a request or a request_error with a protocol error code, never crash,
// and an error reply must always be valid JSON.
#include <boost/json.hpp>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "chat/request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  auto r = qc::chat::decode_request(frame, {});
  if (auto* e = std::get_if<qc::chat::request_error>(&r)) {
    if (e->code != "bad_request" && e->code != "unknown_op" && e->code != "too_large") std::abort();
    boost::json::error_code ec;
    (void)boost::json::parse(qc::chat::reply_error(e->id, e->has_id, e->code, e->message), ec);
    if (ec) std::abort();
  } else {
    auto& rq = std::get<qc::chat::request>(r);
    (void)qc::chat::to_string(rq.kind);
    (void)qc::chat::reply_ok(rq.id, rq.has_id, "{}");
  }
  return 0;
}
