#include "bench/workload.h"

#include <memory>
#include <random>
#include <set>

#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

namespace qc::bench {

namespace json = boost::json;

namespace {

std::string code_of(const json::object& r) {
  if (auto* ok = r.if_contains("ok"); ok && ok->is_bool() && ok->as_bool()) return "";
  if (auto* e = r.if_contains("error"); e && e->is_object())
    if (auto* c = e->as_object().if_contains("code"); c && c->is_string()) return std::string(c->as_string());
  return "bad_reply";
}

std::uint64_t micros(clock::duration d) {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(d).count()));
}

class runner : public std::enable_shared_from_this<runner> {
 public:
  runner(boost::asio::io_context& io, std::vector<session>& s, const workload_options& o, const workload_hooks& h)
      : io_(io), sessions_(s), o_(o), h_(h), tick_(io), rng_(12345) {
    static const char* letters = "abcdefghijklmnopqrstuvwxyz";
    for (std::size_t i = 0; i < o.body_bytes; ++i) body_ += letters[rng_() % 26];
    const double total = o.w_send + o.w_history + o.w_unread + o.w_login + o.w_hello;
    p_send_ = o.w_send / total;
    p_history_ = (o.w_send + o.w_history) / total;
    p_unread_ = (o.w_send + o.w_history + o.w_unread) / total;
    p_login_ = (o.w_send + o.w_history + o.w_unread + o.w_login) / total;
  }

  run_stats run() {
    start_ = clock::now();
    const bool by_count = o_.ops > 0;
    measure_from_ = by_count ? start_ : start_ + o_.warmup;
    end_ = by_count ? clock::time_point::max() : measure_from_ + o_.duration;
    if (o_.reconnect)
      for (std::size_t i = 0; i < sessions_.size(); ++i) watch(i);
    if (o_.rate > 0) {
      on_tick();
    } else {
      for (std::size_t i = 0; i < sessions_.size(); ++i)
        for (int k = 0; k < o_.inflight; ++k) issue(i, clock::now());
      on_tick();
    }
    run_until(io_, [this] { return stopping_ && outstanding_ == 0; }, 1e9);
    tick_.cancel();
    stats_.elapsed_s = std::chrono::duration<double>(last_done_ - measure_from_).count();
    if (!by_count && last_done_ < end_) stats_.elapsed_s = std::chrono::duration<double>(end_ - measure_from_).count();
    return std::move(stats_);
  }

 private:
  bool issuing_allowed(clock::time_point now) {
    if (stopping_) return false;
    if ((o_.ops > 0 && issued_measured_ >= o_.ops) || now >= end_ || (h_.stop && h_.stop())) {
      stopping_ = true;
      return false;
    }
    return true;
  }

  /// Issues one request on session i (or the next open one), intended at `intended`.
  void issue(std::size_t i, clock::time_point intended) {
    const auto now = clock::now();
    if (!issuing_allowed(now)) return;
    if (!sessions_[i].conn->open()) {
      // Open loop: move the request to another live connection.
      std::size_t j = i;
      for (std::size_t k = 0; k < sessions_.size() && !sessions_[j].conn->open(); ++k) j = (j + 1) % sessions_.size();
      if (!sessions_[j].conn->open()) {
        if (intended >= measure_from_) stats_.record("send", 0, "no_connection");
        return;
      }
      if (o_.rate <= 0) return;  // closed loop: the reconnect refills this slot
      i = j;
    }
    const bool measured = intended >= measure_from_;
    if (measured) ++issued_measured_;
    const double r = std::uniform_real_distribution<double>(0, 1)(rng_);
    const std::size_t peer = (i + 1) % sessions_.size();
    json::object req;
    std::string op;
    if (r < p_send_) {
      op = "send";
      req = {{"op", "send"}, {"to", sessions_[peer].user}, {"body", body_}};
    } else if (r < p_history_) {
      op = "history";
      req = {{"op", "history"}, {"with", sessions_[peer].user}, {"limit", o_.history_limit}, {"consistency", o_.consistency}};
    } else if (r < p_unread_) {
      op = "unread";
      req = {{"op", "unread"}, {"limit", o_.history_limit}, {"consistency", o_.consistency}};
    } else if (r < p_login_) {
      op = "login";
      req = {{"op", "login"}, {"user", sessions_[i].user}, {"password", o_.password}};
    } else {
      op = "hello";
      req = {{"op", "hello"}};
    }
    ++outstanding_;
    auto conn = sessions_[i].conn;
    conn->request(std::move(req), [self = shared_from_this(), i, op, intended, measured, conn](json::object& rep) {
      self->on_reply(i, op, intended, measured, conn, rep);
    });
  }

  void on_reply(std::size_t i, const std::string& op, clock::time_point intended, bool measured,
                const std::shared_ptr<ws_conn>& conn, json::object& rep) {
    --outstanding_;
    const auto now = clock::now();
    const std::string code = code_of(rep);
    if (measured) {
      stats_.record(op, micros(now - intended), code);
      last_done_ = now;
    }
    if (code.empty() && op == "send" && h_.acks) h_.acks->push_back({intended, now});
    if (code == "closed" && o_.reconnect) schedule_reconnect(i, conn);
    if (o_.rate <= 0 && conn == sessions_[i].conn && conn->open()) issue(i, now);
  }

  /// Reconnects session i when its connection drops (failover mode).
  void watch(std::size_t i) {
    std::weak_ptr<runner> w = shared_from_this();
    std::weak_ptr<ws_conn> wc = sessions_[i].conn;
    sessions_[i].conn->on_close([w, wc, i] {
      auto self = w.lock();
      auto c = wc.lock();
      if (self && c && !self->stopping_) self->schedule_reconnect(i, c);
    });
  }

  void schedule_reconnect(std::size_t i, const std::shared_ptr<ws_conn>& dead) {
    if (dead != sessions_[i].conn || reconnecting_.count(i)) return;
    reconnecting_.insert(i);
    ++outstanding_;
    auto t = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(20));
    t->async_wait([self = shared_from_this(), i, t](boost::system::error_code) { self->reconnect(i); });
  }

  void reconnect(std::size_t i) {
    auto& s = sessions_[i];
    const auto& nodes = h_.nodes;
    s.node = (s.node + 1) % nodes.size();
    s.conn = std::make_shared<ws_conn>(io_, nodes[s.node]);
    auto conn = s.conn;
    watch(i);
    conn->connect([self = shared_from_this(), i, conn](const std::string& err) {
      if (!err.empty() || self->stopping_) {
        --self->outstanding_;
        self->reconnecting_.erase(i);
        if (!self->stopping_) {
          ++self->outstanding_;
          self->reconnecting_.insert(i);
          auto t = std::make_shared<boost::asio::steady_timer>(self->io_, std::chrono::milliseconds(20));
          t->async_wait([self, i, t](boost::system::error_code) { self->reconnect(i); });
        }
        return;
      }
      conn->request({{"op", "resume"}, {"token", self->sessions_[i].token}}, [self, i, conn](json::object& r) {
        --self->outstanding_;
        self->reconnecting_.erase(i);
        if (!code_of(r).empty()) {
          conn->close();  // try the next node
          self->schedule_reconnect(i, conn);
          return;
        }
        if (self->o_.rate <= 0)
          for (int k = 0; k < self->o_.inflight; ++k) self->issue(i, clock::now());
      });
    });
  }

  void on_tick() {
    const auto now = clock::now();
    if (!told_measuring_ && now >= measure_from_) {
      told_measuring_ = true;
      if (h_.measuring) h_.measuring();
    }
    if (o_.rate > 0 && issuing_allowed(now)) {
      // Issue every request whose intended time has come.
      const double per = 1.0 / o_.rate;
      while (true) {
        const auto intended =
            start_ + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(per * static_cast<double>(scheduled_)));
        if (intended > now || stopping_) break;
        ++scheduled_;
        issue(rr_++ % sessions_.size(), intended);
      }
    } else {
      issuing_allowed(now);
    }
    if (++ticks_ % 50 == 0)
      for (auto& s : sessions_) s.conn->expire(now, o_.timeout);
    if (stopping_ && outstanding_ == 0) return;
    tick_.expires_after(std::chrono::milliseconds(1));
    tick_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->on_tick();
    });
  }

  boost::asio::io_context& io_;
  std::vector<session>& sessions_;
  workload_options o_;
  workload_hooks h_;
  boost::asio::steady_timer tick_;
  std::mt19937_64 rng_;
  std::string body_;
  double p_send_ = 1, p_history_ = 1, p_unread_ = 1, p_login_ = 1;
  clock::time_point start_, measure_from_, end_, last_done_;
  bool told_measuring_ = false;
  std::uint64_t issued_measured_ = 0, scheduled_ = 0, ticks_ = 0;
  std::size_t rr_ = 0;
  std::int64_t outstanding_ = 0;
  bool stopping_ = false;
  std::set<std::size_t> reconnecting_;
  run_stats stats_;
};

}  // namespace

run_stats run_workload(boost::asio::io_context& io, std::vector<session>& sessions, const workload_options& o,
                       const workload_hooks& hooks) {
  auto r = std::make_shared<runner>(io, sessions, o, hooks);
  return r->run();
}

}  // namespace qc::bench
