// The disk monitor: measures the data directory (db::measure_data_dir) on
// its own thread whenever asked and posts the result to the loop, so the
// storage quota never costs the event loop a stat() call.
//
// Owned by: its worker thread; tell() from the loop thread (the node's
// ticker asks twice a second).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <variant>

#include <boost/asio/io_context.hpp>

#include "actors/mailbox.h"
#include "db/disk_usage.h"

namespace qc::actors {

namespace disk_monitor_msg {
/// Measure now (asks that queue up meanwhile are served by one measurement).
struct measure {};
/// chat.db's free pages take `bytes` now (the apply actor, which owns
/// chat.db: the monitor never opens it, see db::measure_data_dir).
struct chat_free {
  std::uint64_t bytes = 0;
};
}  // namespace disk_monitor_msg

/// Everything the disk monitor accepts.
using disk_monitor_message = std::variant<disk_monitor_msg::measure, disk_monitor_msg::chat_free>;

/// The actor.
class disk_monitor {
 public:
  /// `on_usage` runs on the loop thread with each measurement.
  disk_monitor(boost::asio::io_context& io, std::filesystem::path data_dir,
               std::function<void(db::disk_usage)> on_usage, failure_handler on_failure);

  /// Queues a message. Any thread.
  void tell(disk_monitor_message m) { inbox_->push(std::move(m)); }

  /// Stops the thread.
  void stop() { inbox_->stop(); }

 private:
  boost::asio::io_context& io_;
  std::filesystem::path dir_;
  std::function<void(db::disk_usage)> on_usage_;
  std::uint64_t chat_free_ = 0;  ///< the latest chat_free (its thread)
  std::unique_ptr<thread_mailbox<disk_monitor_message>> inbox_;  // last: its thread uses the above
};

}  // namespace qc::actors
