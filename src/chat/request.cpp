#include "chat/request.h"

#include <cmath>

#include <boost/json.hpp>

#include "common/host_port.h"
#include "common/utf8_prefix.h"

namespace qc::chat {

namespace json = boost::json;

namespace {

struct op_name {
  const char* name;
  op kind;
};
constexpr op_name op_names[] = {
    {"hello", op::hello},
    {"create_account", op::create_account},
    {"login", op::login},
    {"resume", op::resume},
    {"logout", op::logout},
    {"list_accounts", op::list_accounts},
    {"send", op::send},
    {"history", op::history},
    {"unread", op::unread},
    {"mark_read", op::mark_read},
    {"delete_messages", op::delete_messages},
    {"conversations", op::conversations},
    {"delete_account", op::delete_account},
    {"status", op::status},
    {"admin.add_node", op::admin_add_node},
    {"admin.remove_node", op::admin_remove_node},
    {"admin.transfer_leader", op::admin_transfer_leader},
    {"admin.digest", op::admin_digest},
    {"admin.net_filter", op::admin_net_filter},
    {"admin.pause", op::admin_pause},
    {"admin.disk_stall", op::admin_disk_stall},
};

constexpr std::size_t max_ids = 10'000;
constexpr std::size_t max_nonce = 64;
constexpr std::size_t max_pattern = 64;
constexpr std::size_t max_password = 1024;
constexpr std::size_t max_token = 256;

/// Thrown only inside decode_request and caught there.
struct invalid {
  std::string code;
  std::string message;
};

[[noreturn]] void bad(std::string message) { throw invalid{"bad_request", std::move(message)}; }

const json::value* field(const json::object& o, const char* k) { return o.if_contains(k); }

std::string req_string(const json::object& o, const char* k) {
  auto* v = field(o, k);
  if (!v) bad(std::string("missing field '") + k + "'");
  if (!v->is_string()) bad(std::string("'") + k + "' must be a string");
  return std::string(v->as_string());
}

std::optional<std::string> opt_string(const json::object& o, const char* k) {
  auto* v = field(o, k);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) bad(std::string("'") + k + "' must be a string");
  return std::string(v->as_string());
}

std::string user_field(const json::object& o, const char* k) {
  std::string u = req_string(o, k);
  if (!valid_user_name(u)) bad(std::string("'") + k + "' must be 1-32 characters of [A-Za-z0-9_.-]");
  return u;
}

/// A positive integer that fits in 63 bits (no floats, bools or strings).
std::optional<std::uint64_t> as_positive(const json::value& v) {
  if (v.is_int64() && v.as_int64() > 0) return static_cast<std::uint64_t>(v.as_int64());
  if (v.is_uint64() && v.as_uint64() > 0 && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return v.as_uint64();
  return std::nullopt;
}

std::size_t limit_field(const json::object& o) {
  auto* v = field(o, "limit");
  if (!v || v->is_null()) return 50;
  auto n = as_positive(*v);
  if (!n || *n > 1000) bad("'limit' must be an integer 1..1000");
  return static_cast<std::size_t>(*n);
}

std::vector<std::uint64_t> ids_field(const json::object& o) {
  auto* v = field(o, "ids");
  if (!v->is_array()) bad("'ids' must be an array of message ids");
  const auto& a = v->as_array();
  if (a.size() > max_ids) bad("'ids' may hold at most 10000 ids");
  std::vector<std::uint64_t> ids;
  ids.reserve(a.size());
  for (const auto& e : a) {
    auto n = as_positive(e);
    if (!n) bad("'ids' must be an array of positive integers");
    ids.push_back(*n);
  }
  return ids;
}

bool valid_pattern(std::string_view p) {
  if (p.empty() || p.size() > max_pattern) return false;
  for (char c : p)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' || c == '*' || c == '?'))
      return false;
  return true;
}

void decode_params(const json::object& o, request& r, const request_limits& limits) {
  if (auto c = opt_string(o, "consistency")) {
    if (*c == "linearizable") r.cons = consistency::linearizable;
    else if (*c == "local") r.cons = consistency::local;
    else bad("'consistency' must be \"linearizable\" or \"local\"");
  }
  switch (r.kind) {
    case op::hello:
    case op::status:
    case op::logout:
    case op::conversations:
      break;
    case op::create_account:
    case op::login:
      r.user = user_field(o, "user");
      r.password = req_string(o, "password");
      if (r.password.empty()) bad("'password' must not be empty");
      if (r.password.size() > max_password) bad("'password' is too long");
      break;
    case op::resume:
      r.token = req_string(o, "token");
      if (r.token.empty() || r.token.size() > max_token) bad("'token' is malformed");
      break;
    case op::list_accounts:
      if (auto p = opt_string(o, "pattern")) {
        if (!valid_pattern(*p)) bad("'pattern' must be 1-64 characters of [A-Za-z0-9_.-*?]");
        r.pattern = *p;
      }
      r.limit = limit_field(o);
      if (auto a = opt_string(o, "after")) {
        if (!valid_user_name(*a)) bad("'after' must be a user name");
        r.after = *a;
      }
      break;
    case op::send:
      r.to = user_field(o, "to");
      r.body = req_string(o, "body");
      if (r.body.size() > limits.max_body_bytes)
        throw invalid{"too_large", "'body' of " + std::to_string(r.body.size()) + " bytes exceeds the " +
                                       std::to_string(limits.max_body_bytes) + "-byte limit"};
      r.nonce = opt_string(o, "nonce");
      if (r.nonce && r.nonce->size() > max_nonce) bad("'nonce' must be at most 64 characters");
      break;
    case op::history:
      r.with = user_field(o, "with");
      r.limit = limit_field(o);
      if (auto* b = field(o, "before"); b && !b->is_null()) {
        auto n = as_positive(*b);
        if (!n) bad("'before' must be a positive message id");
        r.before = *n;
      }
      break;
    case op::unread:
      r.limit = limit_field(o);
      break;
    case op::mark_read: {
      const bool has_ids = field(o, "ids") != nullptr, has_with = field(o, "with") != nullptr;
      if (has_ids == has_with) bad("mark_read takes exactly one of 'ids' or 'with'");
      if (has_ids) r.ids = ids_field(o);
      else r.with = user_field(o, "with");
      break;
    }
    case op::delete_messages:
      if (!field(o, "ids")) bad("missing field 'ids'");
      r.ids = ids_field(o);
      break;
    case op::delete_account:
      r.password = req_string(o, "password");
      if (r.password.empty()) bad("'password' must not be empty");
      break;
    case op::admin_add_node:
    case op::admin_remove_node:
    case op::admin_transfer_leader:
    case op::admin_digest:
    case op::admin_net_filter:
    case op::admin_pause:
    case op::admin_disk_stall:
      r.admin_token = req_string(o, "admin_token");
      if (r.kind == op::admin_pause) {
        auto* v = field(o, "seconds");
        if (!v || !v->is_number() || v->to_number<double>() < 0 || v->to_number<double>() > 600)
          bad("'seconds' must be a number 0..600");
        r.pause_ms = static_cast<std::uint64_t>(v->to_number<double>() * 1000);
        break;
      }
      if (r.kind == op::admin_disk_stall) {
        auto* d = field(o, "delay_ms");
        if (!d) bad("missing field 'delay_ms'");
        if (!(d->is_int64() && d->as_int64() == 0)) {
          auto n = as_positive(*d);
          if (!n || *n > 60'000) bad("'delay_ms' must be an integer 0..60000");
          r.delay_ms = *n;
        }
        break;
      }
      if (r.kind == op::admin_net_filter) {
        auto* d = field(o, "drop_from");
        if (!d || !d->is_array()) bad("'drop_from' must be a list of node ids");
        if (d->as_array().size() > 1000) bad("'drop_from' lists too many ids");
        for (const auto& x : d->as_array()) {
          if (!x.is_string() || x.as_string().empty() || x.as_string().size() > 64)
            bad("'drop_from' must hold node ids of 1-64 characters");
          r.drop_from.emplace_back(x.as_string());
        }
        break;
      }
      if (r.kind == op::admin_add_node) {
        r.node_id = req_string(o, "id");
        r.address = req_string(o, "address");
        if (!common::parse_host_port(r.address)) bad("'address' must be host:port");
      } else if (r.kind == op::admin_remove_node) {
        r.node_id = req_string(o, "id");
      } else if (r.kind == op::admin_transfer_leader) {
        r.node_id = req_string(o, "to");
      }
      if (r.kind != op::admin_digest && r.kind != op::admin_net_filter &&
          (r.node_id.empty() || r.node_id.size() > 64 || r.node_id.find_first_of(" \t\r\n\"") != std::string::npos))
        bad("node id must be 1-64 characters without spaces");
      break;
  }
}

void append_id(std::string& out, const json::value& id, bool has_id) {
  if (!has_id) return;
  out += "\"id\":";
  out += json::serialize(id);
  out += ',';
}

}  // namespace

const char* to_string(op o) {
  for (const auto& n : op_names)
    if (n.kind == o) return n.name;
  return "?";
}

bool is_write(op o) {
  switch (o) {
    case op::create_account:
    case op::login:
    case op::logout:
    case op::send:
    case op::mark_read:
    case op::delete_messages:
    case op::delete_account:
      return true;
    default:
      return false;
  }
}

bool needs_login(op o) {
  switch (o) {
    case op::hello:
    case op::status:
    case op::create_account:
    case op::login:
    case op::resume:
    case op::admin_add_node:
    case op::admin_remove_node:
    case op::admin_transfer_leader:
    case op::admin_digest:
    case op::admin_net_filter:
    case op::admin_pause:
    case op::admin_disk_stall:
      return false;
    default:
      return true;
  }
}

bool valid_user_name(std::string_view user) {
  if (user.empty() || user.size() > 32) return false;
  for (char c : user)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  return true;
}

namespace {
/// False if `v` holds a number too large for a double anywhere inside:
/// boost::json reads it as infinity, and would echo it as `Infinity`,
/// which is not JSON.
bool finite_numbers(const json::value& v) {
  if (v.is_double()) return std::isfinite(v.get_double());
  if (v.is_array()) {
    for (const auto& e : v.get_array())
      if (!finite_numbers(e)) return false;
  } else if (v.is_object()) {
    for (const auto& kv : v.get_object())
      if (!finite_numbers(kv.value())) return false;
  }
  return true;
}
}  // namespace

std::variant<request, request_error> decode_request(std::string_view frame, const request_limits& limits) {
  request r;
  json::error_code ec;
  json::parse_options popt;
  popt.max_depth = 32;
  // The parsed tree lives only in this call (r.id is copied into the
  // default storage by assignment): take its memory from the stack.
  unsigned char scratch[4096];
  json::monotonic_resource mr(scratch, sizeof scratch);
  json::value v = json::parse(frame, ec, &mr, popt);
  if (ec) return request_error{nullptr, false, "bad_request", "not valid JSON: " + ec.message()};
  if (!v.is_object()) return request_error{nullptr, false, "bad_request", "a request must be a JSON object"};
  const auto& o = v.as_object();
  if (auto* id = o.if_contains("id")) {
    if (!finite_numbers(*id)) return request_error{nullptr, true, "bad_request", "'id' holds a number out of range"};
    r.id = *id;
    r.has_id = true;
  }
  auto* opv = o.if_contains("op");
  if (!opv) return request_error{r.id, r.has_id, "bad_request", "missing field 'op'"};
  if (!opv->is_string()) return request_error{r.id, r.has_id, "unknown_op", "'op' must be a string naming an op"};
  const std::string_view name(opv->as_string());
  bool found = false;
  for (const auto& n : op_names)
    if (name == n.name) {
      r.kind = n.kind;
      found = true;
    }
  if (!found) {
    const std::string shown(common::utf8_prefix(name, 64));
    return request_error{r.id, r.has_id, "unknown_op", "unknown op '" + shown + "'"};
  }
  try {
    decode_params(o, r, limits);
  } catch (const invalid& e) {
    return request_error{r.id, r.has_id, e.code, e.message};
  } catch (const std::exception& e) {
    return request_error{r.id, r.has_id, "bad_request", e.what()};
  }
  return r;
}

std::string reply_ok_head(const json::value& id, bool has_id) {
  std::string out = "{";
  append_id(out, id, has_id);
  out += "\"ok\":true";
  return out;
}

std::string reply_ok(std::string head, std::string_view result_object_json) {
  // Splice the result object's members in after "ok".
  std::string_view body = result_object_json;
  while (!body.empty() && (body.front() == ' ')) body.remove_prefix(1);
  if (body.size() > 2 && body.front() == '{' && body.back() == '}') {
    auto inner = body.substr(1, body.size() - 2);
    if (inner.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      head.reserve(head.size() + inner.size() + 2);
      head += ',';
      head += inner;
    }
  }
  head += '}';
  return head;
}

std::string reply_ok(const json::value& id, bool has_id, std::string_view result_object_json) {
  return reply_ok(reply_ok_head(id, has_id), result_object_json);
}

std::string reply_error(const json::value& id, bool has_id, std::string_view code, std::string_view message) {
  std::string out = "{";
  append_id(out, id, has_id);
  json::object e;
  e["code"] = code;
  e["message"] = message;
  out += "\"ok\":false,\"error\":";
  out += json::serialize(e);
  out += '}';
  return out;
}

}  // namespace qc::chat
