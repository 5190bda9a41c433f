// Client writes held to the end of the loop's turn, so that the frames a
// turn queues for one connection leave in one system call.
//
// A loop turn drains the loop's mailboxes (actors/mailbox.h loop_turn): the
// applied entries of a batch, say, each with a reply for the client that
// asked and events for the recipients. A client session that wrote its
// first frame at once would send the rest one system call each, after the
// first write completes. Inside a turn (open scope) a session queues its
// frames and asks to be flushed; the scope's end flushes every session
// that asked, in order. The reads answered on the loop open a scope of
// their own around their replies (actors/gateway_reads.cpp). Outside a
// scope a session writes at once.
//
// Measured (3 members, 64 clients): 2.2 `sendmsg` per write against 2.6,
// and 0.75 per read against 1.17 when each connection pipelines 8 reads
// (docs/NOTEBOOK.md, 2026-12-07 noon). Holding writes with a posted
// handler instead saved the same calls but cost an `epoll_wait` poll per
// extra generation of handlers.
//
// Owned by: the loop thread (an io_context service: one per loop).
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include <boost/asio/execution_context.hpp>
#include <boost/asio/io_context.hpp>

namespace qc::net {

/// The loop's open write batch, if any.
class write_batch final : public boost::asio::execution_context::service {
 public:
  inline static boost::asio::execution_context::id id;

  explicit write_batch(boost::asio::io_context& io) : boost::asio::execution_context::service(io) {}

  /// True inside a scope: a write may wait for its end.
  bool open() const { return depth_ > 0; }
  /// Runs `flush` when the outermost scope ends. Only while open().
  void at_end(std::function<void()> flush) { flushes_.push_back(std::move(flush)); }

  /// Holds writes from its construction to its destruction (nested scopes
  /// flush at the outermost's end).
  class scope {
   public:
    explicit scope(write_batch& b) : b_(b) { ++b_.depth_; }
    ~scope() {
      if (--b_.depth_ == 0) b_.flush();
    }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

   private:
    write_batch& b_;
  };

 private:
  void shutdown() override { flushes_.clear(); }

  void flush() {
    // The scope is closed by now, so what a flush writes goes out at once
    // and asks for no flush; the index loop stays safe if one ever does.
    for (std::size_t i = 0; i < flushes_.size(); ++i) {
      auto f = std::move(flushes_[i]);
      f();
    }
    flushes_.clear();
  }

  int depth_ = 0;
  std::vector<std::function<void()>> flushes_;
};

}  // namespace qc::net
