#include "bench/sessions.h"

#include <random>

#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

namespace qc::bench {

namespace json = boost::json;

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done, double timeout_s) {
  const auto end = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(timeout_s));
  auto guard = boost::asio::make_work_guard(io);
  while (!done()) {
    if (clock::now() >= end) return false;
    io.restart();
    io.run_one_for(std::chrono::milliseconds(50));
  }
  return true;
}

json::object call(boost::asio::io_context& io, ws_conn& c, json::object req, double timeout_s) {
  std::optional<json::object> reply;
  c.request(std::move(req), [&](json::object& r) { reply = std::move(r); });
  if (!run_until(io, [&] { return reply.has_value(); }, timeout_s)) return synthetic_error("timeout");
  return *reply;
}

std::string random_prefix() {
  std::random_device rd;
  std::mt19937_64 g(rd());
  static const char* a = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string p = "b";
  for (int i = 0; i < 6; ++i) p += a[g() % 36];
  return p;
}

namespace {

std::string error_of(const json::object& r) {
  if (auto* e = r.if_contains("error"); e && e->is_object())
    if (auto* c = e->as_object().if_contains("code"); c && c->is_string()) return std::string(c->as_string());
  return "unknown";
}

/// Sends `req` on `c`; a `rate_limited` reply (login budgets, a full
/// password-hashing queue) is retried after the retry_after_ms the node
/// asked for; any other reply goes to `cb`.
void request_patiently(boost::asio::io_context& io, const std::shared_ptr<ws_conn>& c, json::object req,
                       ws_conn::reply_cb cb) {
  c->request(req, [&io, c, req, cb](json::object& r) {
    if (error_of(r) != "rate_limited") return cb(r);
    std::int64_t ms = 100;
    if (auto* v = r.at("error").as_object().if_contains("retry_after_ms"); v && v->is_int64()) ms = v->as_int64();
    auto t = std::make_shared<boost::asio::steady_timer>(io, std::chrono::milliseconds(std::max<std::int64_t>(1, ms)));
    t->async_wait([&io, c, req, cb, t](boost::system::error_code) { request_patiently(io, c, req, cb); });
  });
}

/// Sets up connections [0, n) with a per-index async chain and bounded concurrency.
struct setup_driver {
  setup_driver(boost::asio::io_context& i, std::size_t count, std::size_t conc) : io(i), n(count), concurrency(conc) {}
  boost::asio::io_context& io;
  std::size_t n;
  std::size_t concurrency;
  /// Starts the chain for index i; it must call finished(i, err) exactly once.
  std::function<void(std::size_t, std::function<void(const std::string&)>)> chain;
  std::size_t next = 0, done = 0, active = 0;
  std::string first_err;

  void launch() {
    while (active < concurrency && next < n) {
      const std::size_t i = next++;
      ++active;
      chain(i, [this](const std::string& err) {
        --active;
        ++done;
        if (!err.empty() && first_err.empty()) first_err = err;
        if (first_err.empty()) launch();
      });
    }
  }
  bool run(double timeout_s) {
    launch();
    return run_until(io, [this] { return done == next && (next == n || !first_err.empty()); }, timeout_s);
  }
};

}  // namespace

std::vector<session> open_sessions(boost::asio::io_context& io, const session_options& o, std::string& err) {
  const std::size_t users = o.users ? std::min(o.users, o.connections) : o.connections;
  std::vector<session> out(o.connections);
  for (std::size_t i = 0; i < o.connections; ++i) {
    out[i].node = o.pin >= 0 ? static_cast<std::size_t>(o.pin) : i % o.nodes.size();
    out[i].user = o.prefix + "_" + std::to_string(i % users);
    out[i].conn = std::make_shared<ws_conn>(io, o.nodes[out[i].node]);
  }
  // Phase 1: one connection per user creates the account and logs in.
  setup_driver p1(io, users, o.concurrency);
  p1.chain = [&](std::size_t i, std::function<void(const std::string&)> fin) {
    auto& s = out[i];
    s.conn->connect([&, i, fin](const std::string& e) {
      if (!e.empty()) return fin(e);
      request_patiently(io, out[i].conn, {{"op", "create_account"}, {"user", out[i].user}, {"password", o.password}},
                           [&, i, fin](json::object& r) {
                             if (!r["ok"].as_bool() && error_of(r) != "conflict")
                               return fin("create_account " + out[i].user + ": " + error_of(r));
                             request_patiently(io, out[i].conn, {{"op", "login"}, {"user", out[i].user}, {"password", o.password}},
                                                  [&, i, fin](json::object& r2) {
                                                    if (!r2["ok"].as_bool())
                                                      return fin("login " + out[i].user + ": " + error_of(r2));
                                                    out[i].token = std::string(r2["token"].as_string());
                                                    fin("");
                                                  });
                           });
    });
  };
  if (!p1.run(600) || !p1.first_err.empty()) {
    err = p1.first_err.empty() ? "setup timed out (login phase)" : p1.first_err;
    return out;
  }
  // Phase 2: the other connections resume those users' sessions.
  setup_driver p2(io, o.connections - users, o.concurrency);
  p2.chain = [&](std::size_t j, std::function<void(const std::string&)> fin) {
    const std::size_t i = users + j;
    out[i].token = out[i % users].token;
    out[i].conn->connect([&, i, fin](const std::string& e) {
      if (!e.empty()) return fin(e);
      out[i].conn->request({{"op", "resume"}, {"token", out[i].token}}, [&, i, fin](json::object& r) {
        if (!r["ok"].as_bool()) return fin("resume " + out[i].user + ": " + error_of(r));
        fin("");
      });
    });
  };
  if (!p2.run(600) || !p2.first_err.empty())
    err = p2.first_err.empty() ? "setup timed out (resume phase)" : p2.first_err;
  return out;
}

std::vector<session> open_resumed(boost::asio::io_context& io, const std::vector<session>& base,
                                  const std::string& address, std::size_t node, std::size_t n,
                                  std::size_t concurrency, std::string& err) {
  std::vector<session> out(n);
  setup_driver d(io, n, concurrency);
  d.chain = [&](std::size_t i, std::function<void(const std::string&)> fin) {
    const auto& b = base[i % base.size()];
    out[i] = session{std::make_shared<ws_conn>(io, address), b.user, b.token, node};
    out[i].conn->connect([&, i, fin](const std::string& e) {
      if (!e.empty()) return fin(e);
      out[i].conn->request({{"op", "resume"}, {"token", out[i].token}}, [&, i, fin](json::object& r) {
        if (!r["ok"].as_bool()) return fin("resume " + out[i].user + ": " + error_of(r));
        fin("");
      });
    });
  };
  if (!d.run(900) || !d.first_err.empty()) err = d.first_err.empty() ? "open_resumed timed out" : d.first_err;
  return out;
}

}  // namespace qc::bench
