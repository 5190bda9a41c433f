#include "actors/disk_monitor.h"

#include <boost/asio/post.hpp>

#include "common/overloaded.h"

namespace qc::actors {

disk_monitor::disk_monitor(boost::asio::io_context& io, std::filesystem::path data_dir,
                           std::function<void(db::disk_usage)> on_usage, failure_handler on_failure)
    : io_(io), dir_(std::move(data_dir)), on_usage_(std::move(on_usage)) {
  inbox_ = std::make_unique<thread_mailbox<disk_monitor_message>>(
      "disk monitor",
      [this](std::vector<disk_monitor_message>&& batch) {
        bool measure = false;
        for (auto& m : batch)
          std::visit(overloaded{[&](disk_monitor_msg::measure&) { measure = true; },
                                [&](disk_monitor_msg::chat_free& f) { chat_free_ = f.bytes; }},
                     m);
        if (measure) boost::asio::post(io_, [this, u = db::measure_data_dir(dir_, chat_free_)] { on_usage_(u); });
      },
      std::move(on_failure));
}

}  // namespace qc::actors
