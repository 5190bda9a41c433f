#include "actors/disk_monitor.h"

#include <boost/asio/post.hpp>

namespace qc::actors {

disk_monitor::disk_monitor(boost::asio::io_context& io, std::filesystem::path data_dir,
                           std::function<void(db::disk_usage)> on_usage, failure_handler on_failure)
    : io_(io), dir_(std::move(data_dir)), on_usage_(std::move(on_usage)) {
  inbox_ = std::make_unique<thread_mailbox<disk_monitor_message>>(
      "disk monitor",
      [this](std::vector<disk_monitor_message>&&) {
        boost::asio::post(io_, [this, u = db::measure_data_dir(dir_)] { on_usage_(u); });
      },
      std::move(on_failure));
}

}  // namespace qc::actors
