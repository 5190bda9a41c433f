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
#include "common/wall_clock.h"
#include "db/read_reply.h"

namespace qc::actors {

namespace {

namespace json = boost::json;

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
  if (chat::needs_login(rq.kind) && !session_alive(conn_id, rq)) return;
  using chat::op;
  switch (rq.kind) {
    case op::hello: reply(conn_id, rq, hello_json()); return;
    case op::status: reply(conn_id, rq, status_json()); return;
    case op::create_account: {
      if (!charge_new_account(conn_id, rq)) return;
      // The slow hash runs off the loop; only the hash enters the log.
      auto shared = std::make_shared<chat::request>(std::move(rq));
      const bool queued = submit_hash(conn_id, *shared, [this, conn_id, shared, params = cfg_.password_hash] {
        std::error_code ec;
        std::string hash = chat::hash_password(shared->password, params, ec);
        boost::asio::post(io_, [this, conn_id, shared, hash = std::move(hash), ec]() mutable {
          if (ec) {
            log::error("create_account: cannot hash a password: ", ec.message());
            reply_error(conn_id, *shared, "internal", "cannot hash the password: " + ec.message());
            return;
          }
          chat::cmd_create_account c{shared->user, std::move(hash), 0};
          op_write(conn_id, std::move(*shared), std::move(c));
        });
      });
      if (!queued) {  // the node's fault, not the client's: give the budgets back
        const auto now = std::chrono::steady_clock::now();
        accounts_per_conn_.refund(std::to_string(conn_id), now);
        accounts_per_addr_.refund(cit->second.session->ip(), now);
      }
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
    case op::admin_disk_stall: op_admin(conn_id, std::move(rq)); return;
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
  // delete_account unbound its connections when applied (on_applied:
  // every node does it for its own); logout unbinds only this one.
  if (rq.kind == chat::op::logout) unbind(conn_id);
  reply(conn_id, rq, r.result_json);
}

bool gateway_actor::session_alive(std::uint64_t conn_id, const chat::request& rq) {
  auto& c = conns_.at(conn_id);
  const std::int64_t now = common::wall_clock_ms();
  if (now - c.last_used_ms > cfg_.session_idle_timeout_ms) {
    unbind(conn_id);
    reply_error(conn_id, rq, "unauthenticated", "session expired (idle too long); log in again");
    return false;
  }
  if (c.touching || now - c.last_used_ms < cfg_.session_refresh_ms()) return true;
  // Record this use through the log (the leader fixes the time), at most
  // once per refresh interval: reads stay free of Raft writes otherwise.
  c.touching = true;
  chat::cmd_touch_session t{c.user, c.token_hash, 0};
  submit_write(chat::encode_command(t), 0, [this, conn_id, th = c.token_hash](write_outcome out) {
    auto it = conns_.find(conn_id);
    if (it == conns_.end() || it->second.token_hash != th) return;
    it->second.touching = false;
    if (out.result && out.result->code == db::apply_code::ok) {
      json::error_code ec;
      auto v = json::parse(out.result->result_json, ec);
      if (!ec && v.is_object())
        if (auto* lu = v.as_object().if_contains("last_used"); lu && lu->is_int64())
          it->second.last_used_ms = std::max(it->second.last_used_ms, lu->as_int64());
    } else if (out.result && out.result->code == db::apply_code::not_found) {
      unbind(conn_id);  // logged out elsewhere, or the account is gone
    }
  });
  return true;
}

bool gateway_actor::charge_new_account(std::uint64_t conn_id, const chat::request& rq) {
  const auto now = std::chrono::steady_clock::now();
  const std::string conn_key = std::to_string(conn_id);
  const std::string& ip = conns_.at(conn_id).session->ip();
  if (auto wait = accounts_per_conn_.try_acquire(conn_key, now); wait.count() > 0) {
    reply_rate_limited(conn_id, rq, wait, "too many new accounts from this connection");
    return false;
  }
  if (auto wait = accounts_per_addr_.try_acquire(ip, now); wait.count() > 0) {
    accounts_per_conn_.refund(conn_key, now);
    log::debug("create_account rate limit: address ", ip, " refused for ", wait.count(), " ms");
    reply_rate_limited(conn_id, rq, wait, "too many new accounts from this address");
    return false;
  }
  return true;
}

bool gateway_actor::submit_hash(std::uint64_t conn_id, const chat::request& rq, std::function<void()> job) {
  const auto wait = hash_pool_.try_submit(std::move(job));
  if (wait.count() == 0) return true;
  reply_rate_limited(conn_id, rq, wait, "the node is busy hashing passwords");
  return false;
}

void gateway_actor::reply_rate_limited(std::uint64_t conn_id, const chat::request& rq,
                                       std::chrono::milliseconds wait, std::string_view why) {
  ++metrics_.request_errors;
  const auto secs = (wait.count() + 999) / 1000;
  json::object e;
  e["code"] = "rate_limited";
  e["message"] = std::string(why) + "; retry in " + std::to_string(secs) + " s";
  e["retry_after_ms"] = wait.count();
  json::object o;
  if (rq.has_id) o["id"] = rq.id;
  o["ok"] = false;
  o["error"] = std::move(e);
  send_to(conn_id, std::make_shared<const std::string>(json::serialize(o)));
}

void gateway_actor::check_password(std::uint64_t conn_id, chat::request rq, const char* wrong_message,
                                   std::function<void(chat::request, password_upgrade)> then) {
  const std::string user = rq.user;
  // Charge the attempt before the slow hash, so pipelined guesses count too.
  const auto now = std::chrono::steady_clock::now();
  const std::string conn_key = std::to_string(conn_id);
  if (auto wait = login_per_conn_.try_acquire(conn_key, now); wait.count() > 0) {
    log::debug("login rate limit: connection ", conn_id, " refused for ", wait.count(), " ms");
    ++metrics_.logins_rate_limited;
    reply_rate_limited(conn_id, rq, wait);
    return;
  }
  if (auto wait = login_per_user_.try_acquire(user, now); wait.count() > 0) {
    login_per_conn_.refund(conn_key, now);
    log::debug("login rate limit: user '", user, "' refused for ", wait.count(), " ms");
    ++metrics_.logins_rate_limited;
    reply_rate_limited(conn_id, rq, wait);
    return;
  }
  // Not the client's fault (no leader, hashing busy): give the attempt back.
  auto refund = [this, conn_key, user] {
    const auto t = std::chrono::steady_clock::now();
    login_per_conn_.refund(conn_key, t);
    login_per_user_.refund(user, t);
  };
  submit_read(
      chat::consistency::linearizable,
      [user](db::chat_store& s) { return s.password_hash(user).value_or(std::string()); },
      [this, conn_id, refund, rq = std::move(rq), wrong_message, then = std::move(then)](
          std::optional<std::string> stored, std::string err) mutable {
        if (!stored) {
          refund();
          reply_error(conn_id, rq, err, "no leader within the time bound; safe to retry");
          return;
        }
        if (stored->empty()) {  // no such user: nothing to hash (names are not secret, SECURITY.md)
          reply_error(conn_id, rq, "invalid_credentials", wrong_message);
          return;
        }
        // The slow hash runs off the loop; so does the upgrade of a hash
        // made with other parameters than [security] now asks for.
        auto shared = std::make_shared<chat::request>(std::move(rq));
        auto job = [this, conn_id, shared, stored = std::move(*stored), wrong_message, then = std::move(then),
                    params = cfg_.password_hash]() mutable {
          std::error_code ec;
          const bool ok = chat::verify_password(shared->password, stored, ec);
          password_upgrade up;
          if (ok && chat::needs_rehash(stored, params)) {
            std::error_code hec;
            up.to = chat::hash_password(shared->password, params, hec);
            if (!hec) up.from = stored;
          }
          boost::asio::post(io_, [this, conn_id, shared, ok, ec, up = std::move(up), wrong_message,
                                  then = std::move(then)]() mutable {
            if (ec) log::error("stored password hash of '", shared->user, "' cannot be checked: ", ec.message());
            if (!ok) {
              reply_error(conn_id, *shared, "invalid_credentials", wrong_message);
              return;
            }
            // The right password: both budgets start over.
            login_per_user_.clear(shared->user);
            login_per_conn_.clear(std::to_string(conn_id));
            then(std::move(*shared), std::move(up));
          });
        };
        if (!submit_hash(conn_id, *shared, std::move(job))) refund();
      });
}

bool gateway_actor::refuse_if_disk_refused(std::uint64_t conn_id, const chat::request& rq) {
  if (!alarm_.disk_refused()) return false;
  ++metrics_.writes_storage_full;
  reply_error(conn_id, rq, "storage_full", "this node's disk is full: " + alarm_.disk_error());
  return true;
}

void gateway_actor::op_login(std::uint64_t conn_id, chat::request rq) {
  if (refuse_if_disk_refused(conn_id, rq)) return;  // its session write could not be applied here
  check_password(conn_id, std::move(rq), "wrong user or password", [this, conn_id](chat::request rq, password_upgrade up) {
    const std::string token = chat::new_token();
    if (token.empty()) {
      reply_error(conn_id, rq, "internal", "no random bytes for a session token");
      return;
    }
    const std::string th = chat::token_hash(token);
    chat::cmd_create_session c{rq.user, th, 0, 0, std::move(up.from), std::move(up.to)};
    submit_write(chat::encode_command(c), conn_id, [this, conn_id, rq = std::move(rq), token, th](write_outcome out) {
      if (out.result && out.result->code == db::apply_code::ok) {
        bind(conn_id, rq.user, th, common::wall_clock_ms());
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
        auto session = s.session(th);
        if (!session) return std::string();
        json::object o;
        o["user"] = session->user;
        o["unread"] = s.unread_count(session->user);
        o["last_used"] = session->last_used;
        o["state_index"] = s.applied_index();  // the state this read saw
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
        auto o = json::parse(*res, ec).as_object();
        const std::int64_t last_used = o.at("last_used").as_int64();
        if (common::wall_clock_ms() - last_used > cfg_.session_idle_timeout_ms) {
          reply_error(conn_id, rq, "unauthenticated", "session expired (idle too long); log in again");
          return;
        }
        o.erase("last_used");
        const std::string user(o.at("user").as_string());
        // The read may have seen a state before an account deletion this
        // node has applied since (a linearizable read answered from
        // chat.db's last commit): the session it found is gone.
        const auto seen = o.at("state_index").to_number<std::uint64_t>();
        o.erase("state_index");
        if (auto d = deleted_at_.find(user); d != deleted_at_.end() && d->second > seen) {
          reply_error(conn_id, rq, "invalid_credentials", "unknown or expired token");
          return;
        }
        bind(conn_id, user, th, last_used);
        session_alive(conn_id, rq);  // resuming is a use: record it if due
        reply(conn_id, rq, json::serialize(o));
      });
}

void gateway_actor::op_delete_account(std::uint64_t conn_id, chat::request rq) {
  if (refuse_if_disk_refused(conn_id, rq)) return;
  rq.user = conns_[conn_id].user;
  check_password(conn_id, std::move(rq), "wrong password", [this, conn_id](chat::request rq, password_upgrade) {
    chat::cmd_delete_account c{rq.user};
    op_write(conn_id, std::move(rq), std::move(c));
  });
}

void gateway_actor::op_read(std::uint64_t conn_id, chat::request rq) {
  db::read_query q{.kind = rq.kind,
                   .head = chat::reply_ok_head(rq.id, rq.has_id),
                   .user = conns_[conn_id].user,
                   .with = rq.with.value_or(""),
                   .pattern = rq.pattern,
                   .after = rq.after,
                   .limit = rq.limit,
                   .before = rq.before,
                   .no_such_user = rq.kind == chat::op::history
                                       ? chat::reply_error(rq.id, rq.has_id, "not_found", "user does not exist")
                                       : std::string()};
  submit_read(rq.cons, [q = std::move(q)](db::chat_store& s) { return db::answer_read(s, q); },
              [this, conn_id, rq = std::move(rq)](std::optional<std::string> res, std::string err) {
                if (!res) {
                  reply_error(conn_id, rq, err, "no leader within the time bound; safe to retry");
                  return;
                }
                send_to(conn_id, std::make_shared<const std::string>(std::move(*res)));  // the whole reply
              });
}

}  // namespace qc::actors
