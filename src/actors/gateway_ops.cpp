// The gateway's op handlers: one place that maps each contract op onto the
// write path (a command through the log) or the read path (a query after a
// read point), and decides who may do what. Authorization is here and in
// the state machine's ownership checks, nowhere else.
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "actors/gateway_actor.h"
#include "chat/command.h"
#include "chat/password.h"
#include "common/log.h"

namespace qc::actors {

namespace {

namespace json = boost::json;

std::string message_json(const chat::message& m) {
  json::object o;
  o["id"] = m.id;
  o["from"] = m.from;
  o["to"] = m.to;
  o["body"] = m.body;
  o["ts"] = m.ts;
  o["read"] = m.read;
  return json::serialize(o);
}

std::string messages_result(const std::vector<chat::message>& msgs) {
  std::string out = "{\"messages\":[";
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    if (i) out += ',';
    out += message_json(msgs[i]);
  }
  out += "]}";
  return out;
}

/// Adds `key: value` to a JSON object text.
std::string with_field(std::string_view object_json, std::string_view key, json::value value) {
  json::error_code ec;
  auto v = json::parse(object_json, ec);
  json::object o = (!ec && v.is_object()) ? v.as_object() : json::object{};
  o[key] = std::move(value);
  return json::serialize(o);
}

/// Maps a failed apply onto the protocol's error code and message.
std::pair<const char*, std::string> apply_error(db::apply_code c, chat::op op) {
  switch (c) {
    case db::apply_code::not_found:
      if (op == chat::op::login) return {"invalid_credentials", "wrong user or password"};
      return {"not_found", op == chat::op::send ? "recipient does not exist" : "user does not exist"};
    case db::apply_code::conflict: return {"conflict", "user already exists"};
    case db::apply_code::forbidden: return {"forbidden", "a message id belongs to someone else"};
    case db::apply_code::unauthenticated: return {"unauthenticated", "this account no longer exists"};
    case db::apply_code::bad_entry: return {"internal", "the command could not be applied"};
    default: return {"internal", "unexpected result"};
  }
}

}  // namespace

void gateway_actor::dispatch(std::uint64_t conn_id, chat::request rq) {
  auto cit = conns_.find(conn_id);
  if (cit == conns_.end()) return;
  const std::string user = cit->second.user;
  if (chat::needs_login(rq.kind) && user.empty()) {
    reply_error(conn_id, rq, "unauthenticated", "log in first (login or resume)");
    return;
  }
  using chat::op;
  switch (rq.kind) {
    case op::hello: reply(conn_id, rq, hello_json()); return;
    case op::status: reply(conn_id, rq, status_json()); return;
    case op::create_account: {
      // The slow hash runs off the loop; only the hash enters the log.
      const int iters = cfg_.pbkdf2_iterations;
      boost::asio::post(hash_pool_, [this, conn_id, rq = std::move(rq), iters]() mutable {
        std::string hash = chat::hash_password(rq.password, iters);
        boost::asio::post(io_, [this, conn_id, rq = std::move(rq), hash = std::move(hash)]() mutable {
          chat::cmd_create_account c{rq.user, std::move(hash), 0};
          op_write(conn_id, std::move(rq), std::move(c));
        });
      });
      return;
    }
    case op::login: op_login(conn_id, std::move(rq)); return;
    case op::resume: op_resume(conn_id, std::move(rq)); return;
    case op::logout: {
      chat::cmd_drop_session c{user, cit->second.token_hash};
      op_write(conn_id, std::move(rq), std::move(c));
      return;
    }
    case op::send: {
      chat::cmd_send c{user, rq.to, rq.body, rq.nonce, 0};
      op_write(conn_id, std::move(rq), std::move(c));
      return;
    }
    case op::mark_read: {
      chat::cmd_mark_read c{user, rq.ids, rq.with};
      op_write(conn_id, std::move(rq), std::move(c));
      return;
    }
    case op::delete_messages: {
      chat::cmd_delete_messages c{user, rq.ids};
      op_write(conn_id, std::move(rq), std::move(c));
      return;
    }
    case op::delete_account: op_delete_account(conn_id, std::move(rq)); return;
    case op::list_accounts:
    case op::history:
    case op::unread:
    case op::conversations: op_read(conn_id, std::move(rq)); return;
    case op::admin_add_node:
    case op::admin_remove_node:
    case op::admin_transfer_leader:
    case op::admin_digest:
    case op::admin_net_filter:
    case op::admin_pause: op_admin(conn_id, std::move(rq)); return;
  }
  reply_error(conn_id, rq, "unknown_op", "op not handled");
}

void gateway_actor::op_write(std::uint64_t conn_id, chat::request rq, chat::command cmd) {
  submit_write(chat::encode_command(cmd), conn_id,
               [this, conn_id, rq = std::move(rq)](write_outcome out) { finish_write(conn_id, rq, out); });
}

void gateway_actor::finish_write(std::uint64_t conn_id, const chat::request& rq, const write_outcome& out) {
  if (!out.result) {
    reply_error(conn_id, rq, out.error_code, out.error_message);
    return;
  }
  const auto& r = *out.result;
  if (r.code != db::apply_code::ok) {
    auto [code, message] = apply_error(r.code, rq.kind);
    reply_error(conn_id, rq, code, message);
    return;
  }
  if (rq.kind == chat::op::logout) unbind(conn_id);
  if (rq.kind == chat::op::delete_account) {
    auto u = by_user_.find(rq.user);
    if (u != by_user_.end())
      for (auto cid : std::vector<std::uint64_t>(u->second.begin(), u->second.end())) unbind(cid);
    reply(conn_id, rq, "{}");
    return;
  }
  reply(conn_id, rq, r.result_json);
}

void gateway_actor::reply_rate_limited(std::uint64_t conn_id, const chat::request& rq,
                                       std::chrono::milliseconds wait) {
  ++metrics_.request_errors;
  ++metrics_.logins_rate_limited;
  const auto secs = (wait.count() + 999) / 1000;
  json::object e;
  e["code"] = "rate_limited";
  e["message"] = "too many login attempts; retry in " + std::to_string(secs) + " s";
  e["retry_after_ms"] = wait.count();
  json::object o;
  if (rq.has_id) o["id"] = rq.id;
  o["ok"] = false;
  o["error"] = std::move(e);
  send_to(conn_id, std::make_shared<const std::string>(json::serialize(o)));
}

void gateway_actor::check_password(std::uint64_t conn_id, chat::request rq, const char* wrong_message,
                                   std::function<void(chat::request)> then) {
  const std::string user = rq.user;
  // Charge the attempt before the slow hash, so pipelined guesses count too.
  const auto now = std::chrono::steady_clock::now();
  const std::string conn_key = std::to_string(conn_id);
  if (auto wait = login_per_conn_.try_acquire(conn_key, now); wait.count() > 0) {
    log::debug("login rate limit: connection ", conn_id, " refused for ", wait.count(), " ms");
    reply_rate_limited(conn_id, rq, wait);
    return;
  }
  if (auto wait = login_per_user_.try_acquire(user, now); wait.count() > 0) {
    login_per_conn_.refund(conn_key);
    log::debug("login rate limit: user '", user, "' refused for ", wait.count(), " ms");
    reply_rate_limited(conn_id, rq, wait);
    return;
  }
  submit_read(
      chat::consistency::linearizable,
      [user](db::chat_store& s) { return s.password_hash(user).value_or(std::string()); },
      [this, conn_id, conn_key, rq = std::move(rq), wrong_message, then = std::move(then)](
          std::optional<std::string> stored, std::string err) mutable {
        if (!stored) {
          // Not the client's fault: give the attempt back.
          login_per_conn_.refund(conn_key);
          login_per_user_.refund(rq.user);
          reply_error(conn_id, rq, err, "no leader within the time bound; safe to retry");
          return;
        }
        // The slow hash runs off the loop.
        boost::asio::post(hash_pool_, [this, conn_id, rq = std::move(rq), stored = std::move(*stored), wrong_message,
                                       then = std::move(then)]() mutable {
          const bool ok = !stored.empty() && chat::verify_password(rq.password, stored);
          boost::asio::post(io_, [this, conn_id, rq = std::move(rq), ok, wrong_message, then = std::move(then)]() mutable {
            if (!ok) {
              reply_error(conn_id, rq, "invalid_credentials", wrong_message);
              return;
            }
            // The right password: both budgets start over.
            login_per_user_.clear(rq.user);
            login_per_conn_.clear(std::to_string(conn_id));
            then(std::move(rq));
          });
        });
      });
}

void gateway_actor::op_login(std::uint64_t conn_id, chat::request rq) {
  check_password(conn_id, std::move(rq), "wrong user or password", [this, conn_id](chat::request rq) {
    const std::string token = chat::new_token();
    const std::string th = chat::token_hash(token);
    chat::cmd_create_session c{rq.user, th, 0};
    submit_write(chat::encode_command(c), conn_id, [this, conn_id, rq = std::move(rq), token, th](write_outcome out) {
      if (out.result && out.result->code == db::apply_code::ok) {
        bind(conn_id, rq.user, th);
        reply(conn_id, rq, with_field(out.result->result_json, "token", json::value(token)));
        return;
      }
      finish_write(conn_id, rq, out);
    });
  });
}

void gateway_actor::op_resume(std::uint64_t conn_id, chat::request rq) {
  const std::string th = chat::token_hash(rq.token);
  submit_read(
      rq.cons,
      [th](db::chat_store& s) {
        auto user = s.session_user(th);
        if (!user) return std::string();
        json::object o;
        o["user"] = *user;
        o["unread"] = s.unread_count(*user);
        return json::serialize(o);
      },
      [this, conn_id, rq = std::move(rq), th](std::optional<std::string> res, std::string err) {
        if (!res) {
          reply_error(conn_id, rq, err, "no leader within the time bound; safe to retry");
          return;
        }
        if (res->empty()) {
          reply_error(conn_id, rq, "invalid_credentials", "unknown or expired token");
          return;
        }
        json::error_code ec;
        auto v = json::parse(*res, ec);
        bind(conn_id, std::string(v.at("user").as_string()), th);
        reply(conn_id, rq, *res);
      });
}

void gateway_actor::op_delete_account(std::uint64_t conn_id, chat::request rq) {
  rq.user = conns_[conn_id].user;
  check_password(conn_id, std::move(rq), "wrong password", [this, conn_id](chat::request rq) {
    chat::cmd_delete_account c{rq.user};
    op_write(conn_id, std::move(rq), std::move(c));
  });
}

void gateway_actor::op_read(std::uint64_t conn_id, chat::request rq) {
  const std::string user = conns_[conn_id].user;
  query_fn fn;
  switch (rq.kind) {
    case chat::op::list_accounts:
      fn = [pattern = rq.pattern, limit = rq.limit, after = rq.after](db::chat_store& s) {
        auto page = s.list_accounts(pattern, limit, after);
        json::object o;
        json::array names;
        for (auto& a : page.accounts) names.emplace_back(a);
        o["accounts"] = std::move(names);
        o["next"] = page.next ? json::value(*page.next) : json::value(nullptr);
        return json::serialize(o);
      };
      break;
    case chat::op::history:
      fn = [user, with = rq.with.value_or(""), limit = rq.limit, before = rq.before](db::chat_store& s) {
        return messages_result(s.history(user, with, limit, before));
      };
      break;
    case chat::op::unread:
      fn = [user, limit = rq.limit](db::chat_store& s) { return messages_result(s.unread(user, limit)); };
      break;
    default:  // conversations
      fn = [user](db::chat_store& s) {
        std::string out = "{\"conversations\":[";
        bool first = true;
        for (auto& c : s.conversations(user)) {
          if (!first) out += ',';
          first = false;
          json::object o;
          o["with"] = c.with;
          o["unread"] = c.unread;
          std::string row = json::serialize(o);
          row.pop_back();  // splice the message object in without re-parsing
          out += row + ",\"last\":" + message_json(c.last) + "}";
        }
        return out + "]}";
      };
      break;
  }
  submit_read(rq.cons, std::move(fn),
              [this, conn_id, rq = std::move(rq)](std::optional<std::string> res, std::string err) {
                if (!res) {
                  reply_error(conn_id, rq, err, "no leader within the time bound; safe to retry");
                  return;
                }
                reply(conn_id, rq, *res);
              });
}

}  // namespace qc::actors
