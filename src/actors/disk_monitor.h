// The disk monitor: measures the data directory (db::measure_data_dir) on
// its own thread whenever asked and posts the result to the loop, so the
// storage quota never costs the event loop a stat() call.
//
// Owned by: its worker thread; tell() from the loop thread (the node's
// ticker asks twice a second).
#pragma once

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
}  // namespace disk_monitor_msg

/// Everything the disk monitor accepts.
using disk_monitor_message = std::variant<disk_monitor_msg::measure>;

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
  std::unique_ptr<thread_mailbox<disk_monitor_message>> inbox_;  // last: its thread uses the above
};

}  // namespace qc::actors
